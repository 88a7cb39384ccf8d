// A process's streams as a wire adapter needs them: the attach connection to its shim (exec or
// container, docs/shim.md) decoded into stdout and stderr bytes, stdin, resize and the exit record,
// so that src/cri (which may not import the shim's framing) can bridge them to its own protocols.
// Must never: decide anything about the process (the caller closes stdin, detaches or kills).
import type { Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import { encodeFrame, FrameDecoder, FrameType, resizeFrame, stdinFrames } from '../shim/frames.ts';
import type { TaskExit } from './task-supervisor.ts';

export interface ProcessStreams {
  /** Bytes for the process's stdin (frames of at most the shim's limit). */
  write(data: Uint8Array): void;
  /** Closes the process's stdin once what was written is delivered (no effect with a terminal). */
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** Leaves the process running and ends this connection. */
  detach(): void;
  /** The exit record, when the process ended while attached; undefined when the connection ended first. */
  readonly done: Promise<TaskExit | undefined>;
}

/**
 * Takes over an attach connection (ContainerService.attach or execAttach): output goes to `stdout` and
 * `stderr` (with a terminal everything is stdout), with their backpressure pausing the connection.
 */
export function processStreams(conn: Duplex, sinks: { stdout?: Writable; stderr?: Writable }): ProcessStreams {
  const decoder = new FrameDecoder();
  let exit: TaskExit | undefined;
  const done = new Promise<TaskExit | undefined>((resolve) => {
    conn.once('close', () => resolve(exit));
  });
  const deliver = (w: Writable | undefined, data: Buffer) => {
    if (!w || w.destroyed || w.writableEnded) return;
    if (!w.write(Buffer.from(data))) {
      conn.pause();
      w.once('drain', () => conn.resume());
    }
  };
  conn.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (f.type === FrameType.Stdout) deliver(sinks.stdout, f.payload);
      else if (f.type === FrameType.Stderr) deliver(sinks.stderr, f.payload);
      else if (f.type === FrameType.Exit) {
        try {
          const x = JSON.parse(f.payload.toString('utf8')) as TaskExit;
          exit = {
            exitCode: x.exitCode,
            signal: x.signal === null || x.signal === undefined ? null : String(x.signal),
            exitedAt: x.exitedAt,
            oomKilled: x.oomKilled === true,
          };
        } catch {
          exit = undefined;
        }
        conn.end();
      }
    }
  });
  conn.on('error', () => {});
  conn.on('end', () => conn.destroy());
  // The supervisor hands the connection over paused (nothing read before a reader is there).
  conn.resume();
  const send = (b: Buffer) => {
    if (!conn.destroyed && !conn.writableEnded) conn.write(b);
  };
  return {
    write: (data) => {
      for (const f of stdinFrames(data)) send(f);
    },
    closeStdin: () => send(encodeFrame(FrameType.CloseStdin)),
    resize: (rows, cols) => send(resizeFrame(Math.min(Math.max(rows, 0), 0xffff), Math.min(Math.max(cols, 0), 0xffff))),
    detach: () => conn.destroy(),
    done,
  };
}
