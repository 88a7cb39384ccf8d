// Attaching to a shim's container (docs/shim.md, "Attach protocol"): its output to the given
// streams, the given stdin to it, resize. Several clients may attach at once; each gets all output
// from its attach on (earlier output is in the log). Owns the client side of the socket; must
// never read the log or decide anything about the container.
import type { Readable, Writable } from 'node:stream';
import { connect } from 'node:net';
import { join } from 'node:path';
import { unavailable } from '../errors/errors.ts';
import { encodeFrame, FrameDecoder, FrameType, resizeFrame, stdinFrames } from './frames.ts';
import type { ExitStatus } from './shim-state.ts';

export interface AttachOptions {
  stdin?: Readable;
  stdout: Writable;
  /** Default: stdout (with a terminal everything comes as stdout anyway). */
  stderr?: Writable;
  /** When `stdin` ends, close the container's stdin (default true; ignored with a terminal). */
  closeStdinOnEnd?: boolean;
}

export interface Attachment {
  /** Resolves when the shim has accepted this client: output from then on reaches it. */
  ready: Promise<void>;
  /** Sets the pty's size (TIOCSWINSZ on the master; the container's foreground job gets SIGWINCH). */
  resize(rows: number, cols: number): void;
  /** Sends the bytes to the container's stdin (as the stdin stream would). */
  write(data: Uint8Array): void;
  /** Closes the container's stdin (no effect with a terminal: send ^D). */
  closeStdin(): void;
  /** Detaches: the container runs on. */
  close(): void;
  /** Resolves when the connection ends: after the exit frame, or on close(). */
  done: Promise<void>;
  /** The exit record once the shim sent it (the container exited while attached). */
  readonly exit: ExitStatus | undefined;
}

export function attach(stateDir: string, opts: AttachOptions): Attachment {
  const sock = connect(join(stateDir, 'attach.sock'));
  const decoder = new FrameDecoder();
  let exit: ExitStatus | undefined;
  let markReady!: () => void;
  let failReady!: (e: unknown) => void;
  const ready = new Promise<void>((res, rej) => {
    markReady = res;
    failReady = rej;
  });
  ready.catch(() => {}); // reported through done as well
  const stderr = opts.stderr ?? opts.stdout;

  const send = (buf: Buffer) => {
    if (!sock.destroyed && !sock.writableEnded) return sock.write(buf);
    return true;
  };

  const deliver = (w: Writable, data: Buffer) => {
    // Backpressure: a slow writer pauses the socket; the shim queues, then drops us if we lag far.
    if (!w.write(data)) {
      sock.pause();
      w.once('drain', () => sock.resume());
    }
  };

  sock.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (f.type === FrameType.Attached) markReady();
      else if (f.type === FrameType.Stdout) deliver(opts.stdout, Buffer.from(f.payload));
      else if (f.type === FrameType.Stderr) deliver(stderr, Buffer.from(f.payload));
      else if (f.type === FrameType.Exit) {
        try {
          exit = JSON.parse(f.payload.toString('utf8')) as ExitStatus;
        } catch {
          exit = undefined;
        }
        sock.end();
      }
    }
  });

  const stdin = opts.stdin;
  const onStdinData = (chunk: Buffer | string) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let ok = true;
    for (const f of stdinFrames(data)) ok = send(f) && ok;
    if (!ok) {
      stdin?.pause();
      sock.once('drain', () => stdin?.resume());
    }
  };
  const onStdinEnd = () => {
    if (opts.closeStdinOnEnd !== false) send(encodeFrame(FrameType.CloseStdin));
  };
  if (stdin) {
    stdin.on('data', onStdinData);
    stdin.on('end', onStdinEnd);
  }

  const done = new Promise<void>((resolve, reject) => {
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const err =
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? unavailable(
              `attach: no shim listening on ${join(stateDir, 'attach.sock')} (${e.code}): it has exited; see exit.json`,
              e,
            )
          : e;
      failReady(err);
      reject(err);
    });
    sock.on('close', () => {
      if (stdin) {
        stdin.off('data', onStdinData);
        stdin.off('end', onStdinEnd);
      }
      failReady(unavailable('attach: the shim closed the connection before accepting it'));
      resolve();
    });
  });

  return {
    ready,
    done,
    get exit() {
      return exit;
    },
    resize(rows: number, cols: number) {
      send(resizeFrame(rows, cols));
    },
    write(data: Uint8Array) {
      for (const f of stdinFrames(data)) send(f);
    },
    closeStdin() {
      send(encodeFrame(FrameType.CloseStdin));
    },
    close() {
      sock.end();
      sock.destroy();
    },
  };
}
