// Docker's stream framings and the bridge from the engine's attach frames to a hijacked connection.
// Without a TTY, stdout and stderr are multiplexed: an 8-byte header (stream type, three zero bytes,
// the payload's length as a big-endian u32) before each payload; with a TTY the bytes go raw.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { encodeFrame, FrameDecoder, FrameType, stdinFrames } from '../engine/attach-frames.ts';
import { atLeast } from './versions.ts';

export const STDOUT = 1;
export const STDERR = 2;

export function muxFrame(stream: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8 + payload.length);
  out.writeUInt32BE(0, 0);
  out[0] = stream;
  out.writeUInt32BE(payload.length, 4);
  out.set(payload, 8);
  return out;
}

/** The content type of an attach, exec or logs stream (1.42 named the multiplexed one apart). */
export function streamContentType(version: string, tty: boolean): string {
  return !tty && atLeast(version, '1.42')
    ? 'application/vnd.docker.multiplexed-stream'
    : 'application/vnd.docker.raw-stream';
}

export type BridgeOptions = {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  onExit?: (exitJson: string) => void;
};

/**
 * Carries a hijacked Docker connection over an engine attach stream until either ends: the
 * process's output to the client (framed per `tty`), the client's bytes to stdin (and its
 * half-close as the end of stdin), the shim's EXIT as the end of the connection.
 */
export function bridge(client: Socket, engine: Duplex, o: BridgeOptions, rest: Buffer = Buffer.alloc(0)): void {
  const dec = new FrameDecoder();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    client.end();
    engine.destroy();
  };
  engine.on('data', (chunk: Buffer) => {
    for (const f of dec.push(chunk)) {
      if (f.type === FrameType.Stdout || f.type === FrameType.Stderr) {
        if (f.type === FrameType.Stdout ? !o.stdout : !o.stderr) continue;
        if (client.writable)
          client.write(o.tty ? f.payload : muxFrame(f.type === FrameType.Stdout ? STDOUT : STDERR, f.payload));
      } else if (f.type === FrameType.Exit) {
        o.onExit?.(f.payload.toString('utf8'));
        end();
      }
    }
  });
  engine.once('end', end);
  engine.once('close', end);
  engine.once('error', end);
  const toStdin = (c: Buffer) => {
    if (!o.stdin || engine.destroyed) return;
    for (const f of stdinFrames(c)) engine.write(f);
  };
  if (rest.length) toStdin(rest);
  client.on('data', toStdin);
  client.once('end', () => {
    // The client's half-close is the end of its stdin; the output keeps flowing until EXIT.
    if (o.stdin && !engine.destroyed) engine.write(encodeFrame(FrameType.CloseStdin));
  });
  client.once('close', () => {
    if (!ended) {
      ended = true;
      engine.destroy();
    }
  });
  client.once('error', () => engine.destroy());
  client.resume();
  // The engine hands the stream over paused (its first frame read and put back).
  engine.resume();
}
