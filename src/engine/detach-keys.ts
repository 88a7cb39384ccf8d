// Detaching an attached client on a key sequence typed into its stdin (docker's ctrl-p,ctrl-q): the
// engine watches the stdin frames a client writes to its attach stream, and on the full sequence
// ends that client's stream with a DETACHED frame; the process and other clients run on. The
// sequence is plain bytes given by the wire adapter (which parses its own syntax and applies its own
// default); bytes of a partial match are held back, and forwarded unchanged when the match breaks.
// Must never: interpret the process's output, or touch other clients' connections.
import { Duplex } from 'node:stream';
import { invalidArgument } from '../errors/errors.ts';
import { encodeFrame, FRAME_HEADER, FrameDecoder, FrameType, stdinFrames } from '../shim/frames.ts';
import type { AttachOptions } from './types.ts';

/**
 * The frame the engine ends a detached client's attach stream with (after it, nothing more comes).
 * The shim never sends it: its numbers stop at LOG_REOPENED (docs/shim.md).
 */
export const DETACHED_FRAME = 9;

/** The most bytes a detach sequence may have (docker's are a few keys). */
export const DETACH_KEYS_MAX = 64;

/** How long a detached client's last stdin may take to reach the shim before its connection is cut. */
const DETACH_FLUSH_MS = 5_000;

/** Finds a byte sequence in a stream of chunks; what cannot start or continue a match is forwarded. */
export class DetachMatcher {
  readonly #keys: Uint8Array;
  /** How many bytes of the sequence the input ends with (held back, not yet forwarded). */
  #held = 0;

  constructor(keys: Uint8Array) {
    if (keys.length === 0) throw new RangeError('detach keys: the sequence is empty');
    this.#keys = keys;
  }

  /**
   * Feeds `chunk`: the bytes to forward now, and whether the sequence is complete (then what
   * followed it in the chunk is dropped, as a detached client's input goes nowhere).
   */
  push(chunk: Uint8Array): { forward: Buffer; detached: boolean } {
    const keys = this.#keys;
    const out: number[] = [];
    for (const b of chunk) {
      if (b === keys[this.#held]) {
        this.#held++;
        if (this.#held === keys.length) {
          this.#held = 0;
          return { forward: Buffer.from(out), detached: true };
        }
        continue;
      }
      // The match broke: keep the longest tail of (held bytes + b) that still begins the sequence,
      // forward the rest unchanged.
      const tail = [...keys.subarray(0, this.#held), b];
      let from = 0;
      while (from < tail.length && !this.#begins(tail, from)) from++;
      for (let i = 0; i < from; i++) out.push(tail[i]!);
      this.#held = tail.length - from;
    }
    return { forward: Buffer.from(out), detached: false };
  }

  /** The held bytes of a partial match, given up (the input ended): they go to the process. */
  flush(): Buffer {
    const held = Buffer.from(this.#keys.subarray(0, this.#held));
    this.#held = 0;
    return held;
  }

  #begins(bytes: number[], from: number): boolean {
    for (let i = from; i < bytes.length; i++) if (bytes[i] !== this.#keys[i - from]) return false;
    return true;
  }
}

/**
 * An attach stream (the shim's frames, as TaskHandle.attach gives it) whose client detaches on
 * `keys`: the client's stdin frames go through a DetachMatcher, and on a full match the stream
 * passes what output it has whole, then a DETACHED frame, and ends; the shim connection is closed
 * (the shim keeps the process and its other clients). Output is passed on in whole frames only, so
 * that the DETACHED frame never lands inside one.
 */
export function detachOnKeys(conn: Duplex, keys: Uint8Array): Duplex {
  return new DetachableAttach(conn, keys);
}

/** `conn` as the client asked for it: detaching on its keys when it gave some. */
export function withDetachKeys(conn: Duplex, o: AttachOptions): Duplex {
  const keys = o.detachKeys;
  if (!keys?.length) return conn;
  if (keys.length > DETACH_KEYS_MAX) {
    conn.destroy();
    throw invalidArgument(`detachKeys: ${keys.length} bytes, expected at most ${DETACH_KEYS_MAX}`);
  }
  return detachOnKeys(conn, keys);
}

class DetachableAttach extends Duplex {
  readonly #conn: Duplex;
  readonly #matcher: DetachMatcher;
  readonly #input = new FrameDecoder();
  /** The start of an output frame not yet complete. */
  #partial: Buffer = Buffer.alloc(0);
  #eof = false;
  #detached = false;

  constructor(conn: Duplex, keys: Uint8Array) {
    super({ allowHalfOpen: false });
    this.#conn = conn;
    this.#matcher = new DetachMatcher(keys);
    conn.on('data', (chunk: Buffer) => this.#output(chunk));
    conn.once('end', () => this.#end());
    conn.once('close', () => this.#end());
    conn.once('error', (e) => this.destroy(e));
  }

  #output(chunk: Buffer): void {
    if (this.#eof) return;
    const buf = this.#partial.length ? Buffer.concat([this.#partial, chunk]) : chunk;
    let whole = 0;
    while (buf.length - whole >= FRAME_HEADER) {
      const size = FRAME_HEADER + buf.readUInt32LE(whole + 1);
      if (buf.length - whole < size) break;
      whole += size;
    }
    this.#partial = buf.subarray(whole);
    if (whole > 0 && !this.push(buf.subarray(0, whole))) this.#conn.pause();
  }

  #end(): void {
    if (this.#eof) return;
    this.#eof = true;
    this.push(null);
  }

  override _read(): void {
    this.#conn.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.#detached) {
      cb();
      return;
    }
    for (const f of this.#input.push(chunk)) {
      if (f.type === FrameType.Stdin) {
        const { forward, detached } = this.#matcher.push(f.payload);
        this.#send(...stdinFrames(forward));
        if (detached) {
          this.#detach();
          cb();
          return;
        }
      } else {
        if (f.type === FrameType.CloseStdin) this.#send(...stdinFrames(this.#matcher.flush()));
        this.#send(encodeFrame(f.type as FrameType, f.payload));
      }
    }
    const conn = this.#conn;
    if (!conn.writableNeedDrain || conn.destroyed) {
      cb();
      return;
    }
    const done = () => {
      conn.off('drain', done);
      conn.off('close', done);
      cb();
    };
    conn.on('drain', done);
    conn.on('close', done);
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.#detached) {
      this.#send(...stdinFrames(this.#matcher.flush()));
      if (!this.#conn.destroyed) this.#conn.end();
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // A detached client's connection closes itself once its last stdin is delivered.
    if (!this.#detached) this.#conn.destroy();
    cb(err);
  }

  #send(...frames: Buffer[]): void {
    for (const f of frames) if (!this.#conn.destroyed && !this.#conn.writableEnded) this.#conn.write(f);
  }

  #detach(): void {
    this.#detached = true;
    if (!this.#eof) {
      this.#eof = true;
      this.push(encodeFrame(DETACHED_FRAME as FrameType));
      this.push(null);
    }
    // The stdin before the sequence is delivered first (a destroy would drop what is still queued);
    // a shim that does not take it soon (its stdin pipe full) loses it with the connection.
    const conn = this.#conn;
    const timer = setTimeout(() => conn.destroy(), DETACH_FLUSH_MS).unref();
    conn.once('close', () => clearTimeout(timer));
    conn.once('finish', () => conn.destroy());
    conn.resume();
    conn.end();
  }
}
