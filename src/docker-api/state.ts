// What the Docker API holds that the engine's model has no place for, and that lives only as long
// as berthd: exec instances made but not yet started (Docker creates an exec, then starts it; the
// engine starts one when asked), and attach connections that arrived before their container
// started (`docker run` attaches first, then starts, and must miss no output).
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AttachOptions } from '../engine/types.ts';

export type ExecConfig = {
  Cmd: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Privileged?: boolean;
  DetachKeys?: string;
};

export type DockerExec = {
  id: string;
  containerId: string;
  config: ExecConfig;
  /** The sequence its create named (parsed there, where dockerd refuses a bad one); empty: none named. */
  detachKeys: Uint8Array;
  /** The engine's exec, once started. */
  engineExecId?: string;
  running: boolean;
  exitCode: number | null;
  /** Settles when the exec's exit is known (exitCode set). */
  exited?: Promise<void>;
};

/** An attach waiting for its container's start: the start hands it the stream of the process. */
export type PendingAttach = { socket: Socket; options: AttachOptions; take: (stream: Duplex) => void };

const EXEC_KEEP_MS = 5 * 60_000;

export class DockerState {
  readonly execs = new Map<string, DockerExec>();
  readonly #pending = new Map<string, PendingAttach[]>();
  readonly #timers = new Set<NodeJS.Timeout>();

  addPendingAttach(containerId: string, p: PendingAttach): void {
    const list = this.#pending.get(containerId) ?? [];
    list.push(p);
    this.#pending.set(containerId, list);
    p.socket.once('close', () => {
      const l = this.#pending.get(containerId)?.filter((x) => x !== p) ?? [];
      if (l.length) this.#pending.set(containerId, l);
      else this.#pending.delete(containerId);
    });
  }

  /** The attaches waiting for `containerId`'s start (removed from the waiting list). */
  takePendingAttaches(containerId: string): PendingAttach[] {
    const l = (this.#pending.get(containerId) ?? []).filter((p) => !p.socket.destroyed);
    this.#pending.delete(containerId);
    return l;
  }

  /** Forgets an exec some minutes after its exit (docker keeps them until the container goes). */
  forgetLater(execId: string): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.execs.delete(execId);
    }, EXEC_KEEP_MS);
    t.unref();
    this.#timers.add(t);
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    for (const l of this.#pending.values()) for (const p of l) p.socket.destroy();
    this.#pending.clear();
  }
}
