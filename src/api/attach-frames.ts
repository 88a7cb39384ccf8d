// The frames an attach connection carries after the 101 (the shim's attach protocol, passed through
// unchanged; docs/shim.md): u8 type, u32 little-endian length, payload. The API's own copy of the
// codec, so the client needs no engine or shim code; a test checks it against the shim's encoder.
// Detached (9) is berthd's, not the shim's: the last frame of a client that typed its detach keys.
export const AttachFrame = {
  Stdin: 0,
  Stdout: 1,
  Stderr: 2,
  Resize: 3,
  CloseStdin: 4,
  Exit: 5,
  Attached: 6,
  Detached: 9,
} as const;

export function frame(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = type;
  out.writeUInt32LE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** Stdin bytes as frames of at most 8192 bytes (the shim's FRAME_MAX_IN). */
export function stdinFrames(data: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += 8192) out.push(frame(AttachFrame.Stdin, data.subarray(i, i + 8192)));
  return out;
}

export function resizeFrame(rows: number, cols: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16LE(rows, 0);
  p.writeUInt16LE(cols, 2);
  return frame(AttachFrame.Resize, p);
}

export class AttachDecoder {
  #buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): { type: number; payload: Buffer }[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: { type: number; payload: Buffer }[] = [];
    while (this.#buf.length >= 5) {
      const len = this.#buf.readUInt32LE(1);
      if (this.#buf.length < 5 + len) break;
      out.push({ type: this.#buf[0]!, payload: this.#buf.subarray(5, 5 + len) });
      this.#buf = this.#buf.subarray(5 + len);
    }
    return out;
  }
}
