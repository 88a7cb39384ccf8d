// Starting native/berth-init and speaking the sync protocol with it (docs/plan-protocol.md).
// Owns the process plumbing only: which fds the init gets, the frames, and turning an ERROR frame
// into an error. What the plan says and what the hooks do are the caller's business.
// berth-init is started with the addon's posix_spawn and watched by its thread (native.spawnProcess,
// native.watchChild), not node:child_process: forking Node and loading child_process and net cost
// ~6 ms of every create, run and exec.
import { closeSync, writeSync } from 'node:fs';
import { BerthError, ErrorCode } from '../errors/errors.ts';
import * as native from './native.ts';
import { initBinary } from './paths.ts';
import { encodeFrame, Frame, FrameReader } from './plan.ts';

export interface LaunchOptions {
  /** The encoded plan. */
  plan: Buffer;
  /** --preserve-fds: the caller's fds 3 … 3+n-1 are passed through at the same numbers. */
  preserveFds: number;
  /** A connected --console-socket fd of this process; berth-init gets it at fd 3+preserveFds. */
  consoleSocketFd?: number;
  /** Called when the init is paused before pivot_root for the prestart and createRuntime hooks; returns the state JSON for later hooks. */
  onHooks?: (pid: number) => Promise<string>;
  /** The container's stdio (default: this process's). */
  stdio?: [number | 'inherit' | 'ignore', number | 'inherit' | 'ignore', number | 'inherit' | 'ignore'];
}

/** berth-init's first process, which this process spawned and reaps. */
export interface Stage0 {
  readonly pid: number;
  /** Signals it, unless it has been reaped already (its pid may name another process by then). */
  kill(signal: NodeJS.Signals | number): void;
}

export interface LaunchedInit {
  /** Host pid of the container's init. */
  pid: number;
  /** Its start time (/proc/<pid>/stat field 22), read by stage0 before the init could run: with the pid, its identity. */
  startTime: string;
  /** berth-init's stage0 process: in foreground mode it lives as long as the container. */
  stage0: Stage0;
  /** stage0's exit status; in foreground mode, the container's (128+n when killed by signal n). */
  exited: Promise<number>;
}

/** fd number, inside berth-init, of the console socket (when given). */
export function consoleFdInInit(preserveFds: number): number {
  return 3 + preserveFds;
}

/**
 * Spawns berth-init, sends the plan, runs the hook callback when asked, and resolves once the
 * init reports READY. On an ERROR frame, or EOF before READY, rejects with the init's message.
 */
export function launchInit(opts: LaunchOptions): Promise<LaunchedInit> {
  const fds: number[] = (opts.stdio ?? ['inherit', 'inherit', 'inherit']).map((s, i) => (s === 'inherit' ? i : s === 'ignore' ? -1 : s));
  for (let i = 0; i < opts.preserveFds; i++) fds.push(3 + i);
  if (opts.consoleSocketFd !== undefined) fds.push(opts.consoleSocketFd);
  const syncIndex = fds.length;
  const [sync, theirs] = native.socketpair();
  fds.push(theirs);

  // berth-init starts with umask 0, so that the modes in the plan are the modes made (the exec
  // FIFO must be 0622 for a container user to open it); the child sets the container's own umask.
  const umask = process.umask(0);
  let pid0: number;
  try {
    pid0 = native.spawnProcess(initBinary(), ['berth-init', String(syncIndex)], fds);
  } catch (e) {
    closeSync(sync);
    throw new BerthError(ErrorCode.Unavailable, `cannot start ${initBinary()}: ${(e as Error).message} (run scripts/build.sh)`);
  } finally {
    process.umask(umask);
    closeSync(theirs);
  }

  let reaped = false;
  const stage0: Stage0 = {
    pid: pid0,
    kill(signal) {
      if (reaped) return;
      try {
        process.kill(pid0, signal);
      } catch {}
    },
  };
  let exitedResolve!: (status: number) => void;
  const exited = new Promise<number>((resolve) => {
    exitedResolve = resolve;
  });
  let syncOpen = true;
  const send = (frame: Buffer) => {
    if (!syncOpen) return;
    let off = 0;
    try {
      while (off < frame.length) off += writeSync(sync, frame, off);
    } catch {
      // berth-init went away: its EOF and exit status tell the story.
    }
  };

  return new Promise<LaunchedInit>((resolve, reject) => {
    const reader = new FrameReader();
    let pid = 0;
    let startTime = '';
    let done = false;
    let failure: BerthError | undefined;
    const fail = (e: BerthError) => {
      if (done) return;
      done = true;
      failure = e;
      // Both ends of berth-init go, so that the sync socket reaches EOF and the watch ends.
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      stage0.kill('SIGKILL');
      reject(e);
    };
    const onFrames = (chunk: Buffer) => {
      let frames: ReturnType<FrameReader['push']>;
      try {
        frames = reader.push(chunk);
      } catch (e) {
        fail(new BerthError(ErrorCode.Internal, `berth-init: ${(e as Error).message}`));
        return;
      }
      for (const f of frames) {
        switch (f.type) {
          case Frame.PID:
            pid = f.payload.readInt32LE(0);
            startTime = f.payload.subarray(4).toString('ascii');
            break;
          case Frame.HOOKS:
            if (!opts.onHooks) {
              send(encodeFrame(Frame.CONTINUE, Buffer.from('{}')));
              break;
            }
            opts.onHooks(pid).then(
              (state) => send(encodeFrame(Frame.CONTINUE, Buffer.from(state))),
              (e: unknown) => {
                send(encodeFrame(Frame.ABORT));
                fail(e instanceof BerthError ? e : new BerthError(ErrorCode.FailedPrecondition, String((e as Error)?.message ?? e)));
              },
            );
            break;
          case Frame.READY:
            if (!done) {
              done = true;
              resolve({ pid, startTime, stage0, exited });
            }
            break;
          case Frame.ERROR: {
            const errno = f.payload.length >= 4 ? f.payload.readInt32LE(0) : 0;
            const msg = f.payload.subarray(4).toString('utf8');
            fail(new BerthError(ErrorCode.FailedPrecondition, msg, { errno }));
            break;
          }
          default:
            fail(new BerthError(ErrorCode.Internal, `berth-init: unexpected frame type ${f.type}`));
        }
      }
    };
    native.watchChild(pid0, sync, (e) => {
      if (e.kind === 'data') {
        if (!done) onFrames(e.data);
      } else if (e.kind === 'eof') {
        syncOpen = false;
        closeSync(sync);
        if (!done) {
          exited.then((status) =>
            fail(failure ?? new BerthError(ErrorCode.FailedPrecondition, `container init exited before it was ready (status ${status})`)),
          );
        }
      } else {
        reaped = true;
        exitedResolve(e.status);
      }
    });
    send(encodeFrame(Frame.PLAN, opts.plan));
  });
}
