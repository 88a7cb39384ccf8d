// The attach socket's framing (docs/shim.md, "Attach protocol"): u8 type, u32 little-endian
// length, payload. Owns encoding and incremental decoding; must never touch a socket itself.

export const FrameType = {
  Stdin: 0,
  Stdout: 1,
  Stderr: 2,
  Resize: 3,
  CloseStdin: 4,
  Exit: 5,
  Attached: 6,
  ReopenLog: 7,
  LogReopened: 8,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FRAME_HEADER = 5;
/** The largest payload the shim accepts from a client (FRAME_MAX_IN in native/shim/shim.h). */
export const FRAME_MAX_IN = 8192;

export interface Frame {
  type: number;
  payload: Buffer;
}

export function encodeFrame(type: FrameType, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out[0] = type;
  out.writeUInt32LE(payload.length, 1);
  out.set(payload, FRAME_HEADER);
  return out;
}

/** Stdin bytes as frames the shim accepts (each at most FRAME_MAX_IN). */
export function stdinFrames(data: Uint8Array): Buffer[] {
  const frames: Buffer[] = [];
  for (let off = 0; off < data.length; off += FRAME_MAX_IN) {
    frames.push(encodeFrame(FrameType.Stdin, data.subarray(off, off + FRAME_MAX_IN)));
  }
  return frames;
}

export function resizeFrame(rows: number, cols: number): Buffer {
  for (const [name, v] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new RangeError(`resize: ${name} must be an integer from 0 to 65535, got ${v}`);
    }
  }
  const p = Buffer.alloc(4);
  p.writeUInt16LE(rows, 0);
  p.writeUInt16LE(cols, 2);
  return encodeFrame(FrameType.Resize, p);
}

/** Splits a byte stream into frames; feed it chunks in order. */
export class FrameDecoder {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.#buf.length >= FRAME_HEADER) {
      const len = this.#buf.readUInt32LE(1);
      if (this.#buf.length < FRAME_HEADER + len) break;
      frames.push({ type: this.#buf[0]!, payload: this.#buf.subarray(FRAME_HEADER, FRAME_HEADER + len) });
      this.#buf = this.#buf.subarray(FRAME_HEADER + len);
    }
    return frames;
  }

  /** Bytes of an incomplete frame still held. */
  get pending(): number {
    return this.#buf.length;
  }
}
