// Starting native/berth-init and speaking the sync protocol with it (docs/plan-protocol.md).
// Owns the process plumbing only: which fds the init gets, the frames, and turning an ERROR frame
// into an error. What the plan says and what the hooks do are the caller's business.
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { BerthError, ErrorCode } from '../errors/errors.ts';
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

export interface LaunchedInit {
  /** Host pid of the container's init. */
  pid: number;
  /** Its start time (/proc/<pid>/stat field 22), read by stage0 before the init could run: with the pid, its identity. */
  startTime: string;
  /** berth-init's stage0 process: in foreground mode it lives as long as the container. */
  stage0: ChildProcess;
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
  const stdio: StdioOptions = [...(opts.stdio ?? ['inherit', 'inherit', 'inherit'])];
  for (let i = 0; i < opts.preserveFds; i++) stdio.push(3 + i);
  if (opts.consoleSocketFd !== undefined) stdio.push(opts.consoleSocketFd);
  const syncIndex = stdio.length;
  stdio.push('pipe');

  // berth-init starts with umask 0, so that the modes in the plan are the modes made (the exec
  // FIFO must be 0622 for a container user to open it); the child sets the container's own umask.
  const umask = process.umask(0);
  let stage0: ChildProcess;
  try {
    stage0 = spawn(initBinary(), [String(syncIndex)], { stdio, argv0: 'berth-init' });
  } finally {
    process.umask(umask);
  }
  const exited = new Promise<number>((resolve) => {
    stage0.on('exit', (code, signal) => resolve(code ?? 128 + signalNumberOf(signal)));
    stage0.on('error', () => resolve(127));
  });
  const sock = stage0.stdio[syncIndex] as Socket;

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
      sock.destroy();
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      reject(e);
    };
    stage0.on('error', (e) => fail(new BerthError(ErrorCode.Unavailable, `cannot start ${initBinary()}: ${e.message} (run scripts/build.sh)`)));
    sock.on('error', () => {});
    sock.on('data', (chunk: Buffer) => {
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
              sock.write(encodeFrame(Frame.CONTINUE, Buffer.from('{}')));
              break;
            }
            opts.onHooks(pid).then(
              (state) => sock.write(encodeFrame(Frame.CONTINUE, Buffer.from(state))),
              (e: unknown) => {
                sock.write(encodeFrame(Frame.ABORT));
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
            const e = new BerthError(ErrorCode.FailedPrecondition, msg, { errno });
            fail(e);
            break;
          }
          default:
            fail(new BerthError(ErrorCode.Internal, `berth-init: unexpected frame type ${f.type}`));
        }
      }
    });
    sock.on('close', () => {
      if (!done) {
        exited.then((status) =>
          fail(failure ?? new BerthError(ErrorCode.FailedPrecondition, `container init exited before it was ready (status ${status})`)),
        );
      }
    });
    sock.write(encodeFrame(Frame.PLAN, opts.plan));
  });
}

function signalNumberOf(signal: NodeJS.Signals | null): number {
  return signal ? ((osConstants.signals as Record<string, number>)[signal] ?? 0) : 0;
}
