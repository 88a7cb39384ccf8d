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
  const fds: number[] = (opts.stdio ?? ['inherit', 'inherit', 'inherit']).map((s, i) =>
    s === 'inherit' ? i : s === 'ignore' ? -1 : s,
  );
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
    throw new BerthError(
      ErrorCode.Unavailable,
      `cannot start ${initBinary()}: ${(e as Error).message} (run scripts/build.sh)`,
    );
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
  const conv = converse(opts, stage0, exited, (frame) => {
    if (!syncOpen) return;
    let off = 0;
    try {
      while (off < frame.length) off += writeSync(sync, frame, off);
    } catch {
      // berth-init went away: its EOF and exit status tell the story.
    }
  });
  native.watchChild(pid0, sync, (e) => {
    if (e.kind === 'data') conv.data(e.data);
    else if (e.kind === 'eof') {
      syncOpen = false;
      closeSync(sync);
      conv.eof();
    } else {
      reaped = true;
      exitedResolve(e.status);
    }
  });
  return conv.launched;
}

/**
 * The parent side of the sync protocol over `sync`, a socket whose other end berth-init got from
 * another process (berth-shim --init, docs/shim.md): sends the plan, runs the hook callback, and
 * resolves once the init reports READY. stage0 is that process's child, not ours: `stage0.kill`
 * does nothing and `exited` resolves 0 at the socket's EOF. On an ERROR frame, or EOF before
 * READY, the init is SIGKILLed and the promise rejects with its message. `sync` is closed here.
 */
export function driveInit(sync: number, opts: Pick<LaunchOptions, 'plan' | 'onHooks'>): Promise<LaunchedInit> {
  // node:net only here (berthd has it loaded): the CLI's create and exec never pay for loading it.
  const { Socket } = process.getBuiltinModule('node:net') as typeof import('node:net');
  const sock = new Socket({ fd: sync, readable: true, writable: true });
  let exitedResolve!: (status: number) => void;
  const exited = new Promise<number>((resolve) => {
    exitedResolve = resolve;
  });
  const stage0: Stage0 = { pid: 0, kill() {} };
  const conv = converse(opts, stage0, exited, (frame) => {
    if (!sock.destroyed) sock.write(frame);
  });
  sock.on('data', (d: Buffer) => conv.data(d));
  sock.on('error', () => sock.destroy());
  sock.on('close', () => {
    exitedResolve(0);
    conv.eof();
  });
  // EOF from the init: the socket is done both ways (the init no longer reads).
  sock.on('end', () => sock.destroy());
  return conv.launched;
}

/** The frames of one create or exec: what to do with what berth-init sends, whoever spawned it. */
function converse(
  opts: Pick<LaunchOptions, 'plan' | 'onHooks'>,
  stage0: Stage0,
  exited: Promise<number>,
  send: (frame: Buffer) => void,
) {
  let onData!: (chunk: Buffer) => void;
  let onEof!: () => void;
  const launched = new Promise<LaunchedInit>((resolve, reject) => {
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
    onData = (chunk: Buffer) => {
      if (done) return;
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
                fail(
                  e instanceof BerthError
                    ? e
                    : new BerthError(ErrorCode.FailedPrecondition, String((e as Error)?.message ?? e)),
                );
              },
            );
            break;
          case Frame.READY:
            if (!done) {
              done = true;
              resolve({ pid, startTime, stage0, exited });
            }
            break;
          case Frame.ERROR:
          case Frame.EXEC_ERROR: {
            const errno = f.payload.length >= 4 ? f.payload.readInt32LE(0) : 0;
            const msg = f.payload.subarray(4).toString('utf8');
            fail(new BerthError(ErrorCode.FailedPrecondition, msg, { errno, execFailed: f.type === Frame.EXEC_ERROR }));
            break;
          }
          default:
            fail(new BerthError(ErrorCode.Internal, `berth-init: unexpected frame type ${f.type}`));
        }
      }
    };
    onEof = () => {
      if (done) return;
      exited.then((status) =>
        fail(
          failure ??
            new BerthError(
              ErrorCode.FailedPrecondition,
              `container init exited before it was ready (status ${status})`,
            ),
        ),
      );
    };
  });
  send(encodeFrame(Frame.PLAN, opts.plan));
  return { launched, data: (c: Buffer) => onData(c), eof: () => onEof() };
}
