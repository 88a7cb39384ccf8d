// Starting shims without forking berthd: one `berth-shim --spawner` child, started on first use,
// forks each shim instead (docs/shim.md, "Spawner mode"). berthd is a large process, and every fork
// of it copies its page tables (~4 ms at 120 MB, on the path of every container start); the spawner
// is a small static binary. A request is the shim's flags (shimArgs, as startShim would exec them)
// tagged with a number; the answer is the shim's one report line with the same tag. If the spawner
// cannot run or dies, requests under way fail as unavailable and the next start makes a new one.
// Owns: the spawner process and its framing. Must never: decide anything about the container.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { failedPrecondition, unavailable } from '../errors/errors.ts';
import type { ShimInfo, StartShimOptions } from '../shim/index.ts';
import { shimArgs } from '../shim/start-shim.ts';
import * as native from '../sys/native.ts';

/** Thrown when the shim binary has no spawner mode (an older build): nothing ran; exec it instead. */
export class SpawnerUnsupported extends Error {}

/** The end of a shim's own log (shim.log in its state dir), for an error about a shim that died. */
function logTail(stateDir: string): string {
  let text: string;
  try {
    text = readFileSync(join(stateDir, 'shim.log'), 'utf8');
  } catch {
    return ' (no shim.log)';
  }
  const tail = text.trimEnd().split('\n').slice(-5).join(' | ').slice(-1000);
  return tail ? `; shim.log ends: ${tail}` : ' (shim.log is empty)';
}

type Pending = {
  resolve: (i: ShimInfo) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
  opts: StartShimOptions;
};

export class ShimSpawner {
  readonly #binary: string;
  #proc: ChildProcess | undefined;
  /** The binary answered --spawner with a usage error: every start goes through startShim. */
  unsupported = false;
  #seq = 0;
  readonly #pending = new Map<string, Pending>();

  constructor(binary: string) {
    this.#binary = binary;
  }

  /** berthd's end of the spawner's stdin: a unix socket, so that a request can carry fds (SCM_RIGHTS). */
  #requests = -1;

  #closeRequests(): void {
    if (this.#requests >= 0) closeSync(this.#requests);
    this.#requests = -1;
  }

  #ensure(): ChildProcess {
    if (this.#proc && this.#proc.exitCode === null && this.#proc.signalCode === null) return this.#proc;
    this.#closeRequests();
    const [mine, theirs] = native.socketpair();
    let p: ChildProcess;
    try {
      p = spawn(this.#binary, ['--spawner'], { stdio: [theirs, 'pipe', 'inherit'] });
    } finally {
      closeSync(theirs);
    }
    this.#requests = mine;
    // A buffer per spawner: shims a dead spawner started still hold its stdout and may write there
    // after a new spawner's output began; one shared buffer could splice their lines together and
    // lose a report of the new one.
    let buf = '';
    p.stdout!.setEncoding('utf8');
    p.stdout!.on('data', (c: string) => {
      buf = this.#onData(buf + c);
    });
    const gone = (why: string, unsupported = false) => {
      if (this.#proc === p) {
        this.#proc = undefined;
        this.#closeRequests();
      }
      if (unsupported) this.unsupported = true;
      for (const [tag, w] of this.#pending) {
        this.#pending.delete(tag);
        clearTimeout(w.timer);
        w.reject(
          unsupported
            ? new SpawnerUnsupported(why)
            : unavailable(`berth-shim spawner (${this.#binary}) ${why} while starting the shim of ${w.opts.id}`),
        );
      }
    };
    p.on('error', (e) => gone(`could not run: ${e.message}`));
    // Exit status 2 is the shim's usage error: a binary without spawner mode, which read no request.
    p.on('exit', (code, sig) => gone(`exited (${sig ?? code})`, code === 2));
    // berthd must not wait for the spawner to exit (it dies with berthd: PR_SET_PDEATHSIG).
    p.unref();
    (p.stdout as unknown as { unref?: () => void }).unref?.();
    this.#proc = p;
    return p;
  }

  /** Settles the requests whose report lines `buf` holds; returns what follows the last whole line. */
  #onData(buf: string): string {
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const sp = line.indexOf(' ');
      const w = this.#pending.get(line.slice(0, sp));
      if (sp < 0 || !w) continue; // a request that already timed out
      this.#pending.delete(line.slice(0, sp));
      clearTimeout(w.timer);
      let r: { pid?: number; containerPid?: number; error?: string; exited?: boolean } | undefined;
      try {
        r = JSON.parse(line.slice(sp + 1));
      } catch {
        r = undefined;
      }
      // `exited`: the spawner saw the shim exit with no report before it (native/shim/main.c, reap_spawned).
      if (r?.error !== undefined)
        w.reject(
          failedPrecondition(`berth-shim for ${w.opts.id}: ${r.error}${r.exited ? logTail(w.opts.stateDir) : ''}`),
        );
      else if (r && typeof r.pid === 'number' && typeof r.containerPid === 'number')
        w.resolve({ shimPid: r.pid, containerPid: r.containerPid, stateDir: w.opts.stateDir });
      else
        w.reject(unavailable(`berth-shim for ${w.opts.id}: unexpected report ${JSON.stringify(line.slice(sp + 1))}`));
    }
    return buf;
  }

  /**
   * As startShim (src/shim/start-shim.ts): resolves once the runtime's create (or exec) succeeded.
   * `fds` go with the request (the shim gets them at 3, 4, …: opts.init's sync and control
   * sockets); they stay open here, for the caller to close.
   */
  start(opts: StartShimOptions, fds: readonly number[] = []): Promise<ShimInfo> {
    const args = shimArgs(opts);
    mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    this.#ensure();
    const tag = String(++this.#seq);
    const payload = Buffer.from(`${[tag, ...args].join('\0')}\0`);
    const frame = Buffer.alloc(4 + payload.length);
    frame.writeUInt32LE(payload.length, 0);
    payload.copy(frame, 4);
    return new Promise<ShimInfo>((resolve, reject) => {
      const ms = (opts.timeoutMs ?? 60_000) + 10_000;
      const timer = setTimeout(() => {
        this.#pending.delete(tag);
        reject(unavailable(`berth-shim for ${opts.id}: no report after ${ms} ms`));
      }, ms);
      this.#pending.set(tag, { resolve, reject, timer, opts });
      try {
        // Blocking, and small: the spawner reads requests as they come.
        if (fds.length > 0) native.sendFds(this.#requests, fds, frame);
        else for (let off = 0; off < frame.length; ) off += writeSync(this.#requests, frame, off);
      } catch (e) {
        // The spawner is gone (it could not run, or died): its 'error' or 'exit' is still to come and
        // rejects this request with the reason, which EPIPE does not say.
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
        this.#pending.delete(tag);
        clearTimeout(timer);
        reject(
          unavailable(
            `berth-shim spawner (${this.#binary}): sending the request for ${opts.id}: ${(e as Error).message}`,
            e,
          ),
        );
      }
    });
  }

  /** Ends the spawner (berthd's close; shims it started run on). */
  close(): void {
    this.#closeRequests();
    this.#proc = undefined;
  }
}
