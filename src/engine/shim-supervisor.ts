// The engine's TaskSupervisor over berth-shim (src/shim, docs/shim.md): one shim per container and
// per exec, found again after a berthd restart from its state dir (shim.pid with the start time,
// exit.json, attach.sock). The attach stream handed out is the raw attach socket: the API passes the
// shim's frames through unchanged.
// Must never: decide what an exit means (the container service does).
import { closeSync, existsSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { unavailable } from '../errors/errors.ts';
import {
  readContainerPid,
  readExit,
  readShimIdentity,
  reopenLog,
  type ShimInfo,
  type StartShimOptions,
  shimAlive,
  shimBinary,
  startShim,
  stopShim,
  waitExit,
} from '../shim/index.ts';
import type { ExitStatus } from '../shim/shim-state.ts';
import * as native from '../sys/native.ts';
import { initBinary } from '../sys/paths.ts';
import { faultPoint } from './fault-points.ts';
import { ShimSpawner, SpawnerUnsupported } from './shim-spawner.ts';
import type { ExecTaskOptions, StartTaskOptions, TaskExit, TaskHandle, TaskSupervisor } from './task-supervisor.ts';

/**
 * How long a container's attached client may take no output before its shim drops it: until then
 * the output waits for it (docker run's attached client loses nothing on a loaded machine, as
 * under dockerd), after it the container runs on (a client that stopped reading cannot stop it;
 * the log has everything).
 */
const CONTAINER_PACE_MS = 10_000;

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  15: 'SIGTERM',
};

function toExit(s: ExitStatus): TaskExit {
  return {
    exitCode: s.exitCode,
    signal: s.signal === null ? null : (SIGNALS[s.signal] ?? `signal ${s.signal}`),
    exitedAt: s.exitedAt,
    oomKilled: s.oomKilled,
  };
}

const ATTACHED = 6;

/**
 * Ends a shim whose task has exited: SIGTERM (it flushes and leaves within a millisecond or two,
 * often it has left already because its last client went), then checks with a back-off from 1 ms;
 * stopShim's fixed 20 ms polling cost every `run --rm` most of 20 ms at this point. A shim still
 * there after `timeoutMs` is handed to stopShim, which SIGKILLs it.
 */
async function endShim(stateDir: string, timeoutMs: number): Promise<void> {
  const id = readShimIdentity(stateDir);
  if (!id || !shimAlive(stateDir)) return;
  try {
    process.kill(id.pid, 'SIGTERM');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    return;
  }
  const until = Date.now() + timeoutMs;
  for (let ms = 1; shimAlive(stateDir); ms = Math.min(ms * 2, 20)) {
    if (Date.now() > until) return stopShim(stateDir, { timeoutMs: 0 });
    await new Promise((r) => setTimeout(r, ms));
  }
}

/** Connects to attach.sock and resolves once the shim sent ATTACHED (the frame is kept in the stream). */
function connectAttach(stateDir: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(join(stateDir, 'attach.sock'));
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      // Output frames may precede nothing: ATTACHED is the first frame the shim sends a client.
      if (buf.length < 5) return;
      const len = buf.readUInt32LE(1);
      if (buf.length < 5 + len) return;
      sock.off('data', onData);
      sock.off('error', reject);
      sock.pause();
      sock.unshift(buf);
      if (buf[0] !== ATTACHED) {
        // An older shim without ATTACHED: the stream is usable all the same.
      }
      resolve(sock);
    };
    sock.on('data', onData);
    sock.once('error', (e: NodeJS.ErrnoException) =>
      reject(unavailable(`attach to ${stateDir}: ${e.code ?? e.message}: the shim is gone`, e)),
    );
  });
}

class ShimHandle implements TaskHandle {
  readonly shimPid: number;
  readonly stateDir: string;
  #pid: number;
  #exit: TaskExit | undefined;
  #waiting: Promise<TaskExit> | undefined;

  constructor(stateDir: string, shimPid: number, pid: number) {
    this.stateDir = stateDir;
    this.shimPid = shimPid;
    this.#pid = pid;
  }

  async processPid(): Promise<number> {
    if (!this.#pid) this.#pid = readContainerPid(this.stateDir) ?? 0;
    return this.#pid;
  }

  waitExit(): Promise<TaskExit> {
    this.#waiting ??= waitExit(this.stateDir).then((s) => {
      this.#exit = toExit(s);
      return this.#exit;
    });
    return this.#waiting;
  }

  exitNow(): TaskExit | undefined {
    if (this.#exit) return this.#exit;
    const s = existsSync(this.stateDir) ? readExit(this.stateDir) : undefined;
    if (s) this.#exit = toExit(s);
    return this.#exit;
  }

  async attach(): Promise<Duplex> {
    return connectAttach(this.stateDir);
  }

  async resize(rows: number, cols: number): Promise<void> {
    const sock = await connectAttach(this.stateDir);
    const p = Buffer.alloc(9);
    p[0] = 3;
    p.writeUInt32LE(4, 1);
    p.writeUInt16LE(rows, 5);
    p.writeUInt16LE(cols, 7);
    await new Promise<void>((r) => sock.end(p, () => r()));
    sock.destroy();
  }

  reopenLog(): Promise<void> {
    return reopenLog(this.stateDir);
  }

  async cleanup(): Promise<void> {
    await endShim(this.stateDir, 3000);
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

export class ShimSupervisor implements TaskSupervisor {
  readonly #shimBinary: string | undefined;
  readonly #spawner: ShimSpawner;

  constructor(opts: { shimBinary?: string } = {}) {
    this.#shimBinary = opts.shimBinary;
    this.#spawner = new ShimSpawner(opts.shimBinary ?? shimBinary());
  }

  /** Through the spawner (no fork of berthd), or by exec'ing the shim when its binary has no spawner mode. */
  async #startShim(o: StartShimOptions): Promise<ShimInfo> {
    if (!this.#spawner.unsupported) {
      try {
        return await this.#spawner.start(o);
      } catch (e) {
        if (!(e instanceof SpawnerUnsupported)) throw e;
      }
    }
    return startShim(o);
  }

  /** Ends the spawner; shims and containers run on. */
  close(): void {
    this.#spawner.close();
  }

  /** What a container's shim and an exec's shim are started with alike. */
  #shimOptions(o: StartTaskOptions | ExecTaskOptions) {
    return {
      id: o.id,
      bundle: o.bundle,
      runtime: o.runtimeBinary,
      runtimeRoot: o.runtimeRoot,
      stateDir: o.stateDir,
      terminal: o.terminal,
      stdin: o.openStdin,
      logPath: o.logPath,
      logFormat: o.logFormat ?? ('json-file' as const),
      ...(this.#shimBinary ? { shimBinary: this.#shimBinary } : {}),
    };
  }

  /**
   * The create of an in-process class (docs/shim.md, "Create through berth-init"): the spawner gets
   * the request with two sockets, the shim spawns berth-init with the first (sync) and waits on the
   * second (control); berthd drives the plan over its end of the sync socket, then sends the shim
   * its verdict ("P<pid>" once state.json has the init, or "E<why>"). A shim binary without spawner
   * mode cannot be handed the sockets: the runtime's create runs as before.
   */
  async #createThroughInit(
    o: StartShimOptions,
    drive: NonNullable<StartTaskOptions['driveCreate']>,
  ): Promise<ShimInfo> {
    const [sync, syncShim] = native.socketpair();
    const [ctl, ctlShim] = native.socketpair();
    let report: Promise<ShimInfo>;
    try {
      report = this.#spawner.start({ ...o, init: initBinary() }, [syncShim, ctlShim]);
    } catch (e) {
      closeSync(sync);
      closeSync(ctl);
      throw e;
    } finally {
      closeSync(syncShim);
      closeSync(ctlShim);
    }
    const reportError = report.then(
      () => undefined,
      (e: unknown) => e,
    );
    const verdict = (line: string) => {
      try {
        writeSync(ctl, `${line.replace(/\n/g, ' ')}\n`);
      } catch {
        // The shim is gone: its report says why.
      } finally {
        closeSync(ctl);
      }
    };
    let pid: number;
    try {
      pid = await drive({ fd: sync, console: o.terminal === true });
    } catch (e) {
      verdict(`E${(e as Error).message}`);
      const shimError = await reportError;
      if (shimError instanceof SpawnerUnsupported) return startShim(o);
      // berth-init gone before it spoke (the shim could not spawn it, say): the shim knows why.
      if (shimError && /exited before it was ready/.test((e as Error).message)) throw shimError;
      throw e;
    }
    if (!o.exec) faultPoint('shim.init-recorded');
    verdict(`P${pid}`);
    return report;
  }

  async start(o: StartTaskOptions): Promise<TaskHandle> {
    // A CRI log is rotated by the kubelet (ReopenContainerLog), never by the shim.
    const opts = {
      ...this.#shimOptions(o),
      ...(o.logFormat === 'cri' ? {} : { logMaxSize: 10 << 20, logMaxFiles: 3 }),
      paceMs: CONTAINER_PACE_MS,
    };
    const info =
      o.driveCreate && !this.#spawner.unsupported
        ? await this.#createThroughInit(opts, o.driveCreate)
        : await this.#startShim(opts);
    faultPoint('shim.started');
    return new ShimHandle(o.stateDir, info.shimPid, info.containerPid);
  }

  async exec(o: ExecTaskOptions): Promise<TaskHandle> {
    const opts = {
      ...this.#shimOptions(o),
      exec: { processJson: o.processPath },
      ...(o.awaitAttachMs ? { awaitAttachMs: o.awaitAttachMs } : {}),
    };
    const info =
      o.driveCreate && !this.#spawner.unsupported
        ? await this.#createThroughInit(opts, o.driveCreate)
        : await this.#startShim(opts);
    return new ShimHandle(o.stateDir, info.shimPid, info.containerPid);
  }

  async reconnect(stateDir: string): Promise<TaskHandle | undefined> {
    if (!existsSync(stateDir)) return undefined;
    const id = readShimIdentity(stateDir);
    const exit = readExit(stateDir);
    if (!id) return undefined;
    // A dead shim that recorded the exit still tells us how the task ended.
    if (!shimAlive(stateDir) && !exit) return undefined;
    return new ShimHandle(stateDir, id.pid, readContainerPid(stateDir) ?? 0);
  }
}
