// Kubelets before 1.26 (grpc-go dialling `unix:///path`) send the socket's path as the HTTP/2
// `:authority` of every request. Node's HTTP/2 server (nghttp2, with its HTTP checks on, which Node
// gives no way to turn off) resets such a stream with PROTOCOL_ERROR before grpc-js sees it: a
// kubelet 1.20 failed its first `Version` call and exited. containerd (grpc-go's server) never looks
// at the value. This module sits between a CRI connection and grpc-js and rewrites the value in the
// client's header blocks; it never touches anything else, and a block it cannot parse passes as it
// came (nghttp2 then says what is wrong with it).
//
// HPACK keeps a dynamic table on both ends, and an entry's size counts its value's length, so a
// rewritten value must not make the two tables drift apart. Two measures:
// - a plain (not Huffman-coded) value keeps its length: each byte an authority may not hold becomes
//   `_` (`/run/x/cri.sock` → `_run_x_cri.sock`);
// - the server's first SETTINGS frame gains SETTINGS_HEADER_TABLE_SIZE = 0, so the client stops
//   using its dynamic table from its next header block on: a Huffman-coded value (decoding it would
//   need RFC 7541's code table) is then replaced by `localhost` without any table to drift. Only a
//   client that sends header blocks before it has read the server's SETTINGS sees one such entry
//   of another size, in a table that the size update empties right after.
import { Duplex } from 'node:stream';

const PREFACE_LENGTH = 24;
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's initial value: a rebuilt header block is cut into frames of at most this. */
const MAX_FRAME = 16384;
/** `:authority` in HPACK's static table. */
const AUTHORITY_INDEX = 1;

/** RFC 3986's authority characters: unreserved, sub-delims, `:`, `@`, `[`, `]`, `%`. */
function authorityByte(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    "-._~!$&'()*+,;=:@[]%".includes(String.fromCharCode(b))
  );
}

/** An HPACK integer with an `n`-bit prefix at `b[i]`: its value and the index after it. */
function readInt(b: Buffer, i: number, n: number): [number, number] {
  if (i >= b.length) throw new RangeError('header block ends inside an integer');
  const max = (1 << n) - 1;
  let v = b[i]! & max;
  i++;
  if (v < max) return [v, i];
  for (let m = 0; ; m += 7) {
    if (i >= b.length || m > 28) throw new RangeError('header block ends inside an integer');
    const byte = b[i++]!;
    v += (byte & 0x7f) * 2 ** m;
    if (!(byte & 0x80)) return [v, i];
  }
}

function writeInt(v: number, n: number, high: number): Buffer {
  const max = (1 << n) - 1;
  if (v < max) return Buffer.from([high | v]);
  const out = [high | max];
  for (v -= max; v >= 0x80; v = Math.floor(v / 0x80)) out.push((v % 0x80) | 0x80);
  out.push(v);
  return Buffer.from(out);
}

/** The header block with every `:authority` value an HTTP/2 server may refuse rewritten; the same Buffer if none. */
export function rewriteAuthority(block: Buffer): Buffer {
  const parts: Buffer[] = [];
  let copied = 0;
  let i = 0;
  while (i < block.length) {
    const c = block[i]!;
    if (c & 0x80) {
      i = readInt(block, i, 7)[1]; // indexed field
      continue;
    }
    if ((c & 0xe0) === 0x20) {
      i = readInt(block, i, 5)[1]; // dynamic table size update
      continue;
    }
    // A literal, with incremental indexing (01), without (0000) or never indexed (0001).
    const [nameIndex, afterName] = readInt(block, i, (c & 0xc0) === 0x40 ? 6 : 4);
    let at = afterName;
    if (nameIndex === 0) {
      const [len, start] = readInt(block, at, 7);
      at = start + len;
    }
    const huffman = (block[at]! & 0x80) !== 0;
    const [len, start] = readInt(block, at, 7);
    const end = start + len;
    if (end > block.length) throw new RangeError('header block ends inside a string');
    if (nameIndex === AUTHORITY_INDEX) {
      const value = block.subarray(start, end);
      if (huffman || !value.every(authorityByte)) {
        const fixed = huffman ? Buffer.from('localhost') : Buffer.from(value.map((b) => (authorityByte(b) ? b : 0x5f)));
        parts.push(block.subarray(copied, at), writeInt(fixed.length, 7, 0), fixed);
        copied = end;
      }
    }
    i = end;
  }
  if (copied === 0) return block;
  parts.push(block.subarray(copied));
  return Buffer.concat(parts);
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(FRAME_HEADER);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/**
 * The client's bytes with the header blocks rewritten: the preface as it came, then frame by
 * frame; a HEADERS frame and its CONTINUATIONs are held until END_HEADERS and go on as one block.
 */
class InboundRewriter {
  #buf: Buffer = Buffer.alloc(0);
  #preface = true;
  #held: Buffer[] = [];
  /** The HEADERS frame's stream, flags and priority bytes while its CONTINUATIONs are awaited. */
  #open: { stream: number; flags: number; priority: Buffer; block: Buffer[] } | undefined;

  push(chunk: Buffer): Buffer[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: Buffer[] = [];
    if (this.#preface) {
      if (this.#buf.length < PREFACE_LENGTH) return out;
      out.push(this.#buf.subarray(0, PREFACE_LENGTH));
      this.#buf = this.#buf.subarray(PREFACE_LENGTH);
      this.#preface = false;
    }
    while (this.#buf.length >= FRAME_HEADER) {
      const len = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < FRAME_HEADER + len) break;
      const f = this.#buf.subarray(0, FRAME_HEADER + len);
      this.#buf = this.#buf.subarray(FRAME_HEADER + len);
      out.push(...this.#frame(f));
    }
    return out;
  }

  #frame(f: Buffer): Buffer[] {
    const type = f[3]!;
    const flags = f[4]!;
    const stream = f.readUInt32BE(5) & 0x7fffffff;
    if (type === HEADERS && !this.#open) {
      let p = f.subarray(FRAME_HEADER);
      let pad = 0;
      if (flags & PADDED) {
        pad = p[0] ?? 0;
        p = p.subarray(1);
      }
      const priority = flags & PRIORITY ? p.subarray(0, 5) : Buffer.alloc(0);
      p = p.subarray(priority.length, Math.max(priority.length, p.length - pad));
      this.#open = { stream, flags, priority, block: [p] };
      this.#held = [f];
    } else if (type === CONTINUATION && this.#open) {
      this.#open.block.push(f.subarray(FRAME_HEADER));
      this.#held.push(f);
    } else {
      return [f];
    }
    if (!(flags & END_HEADERS)) return [];
    const open = this.#open;
    const held = this.#held;
    this.#open = undefined;
    this.#held = [];
    let block: Buffer;
    const whole = Buffer.concat(open.block);
    try {
      block = rewriteAuthority(whole);
    } catch {
      return held; // not HPACK as we know it: nghttp2 will say so
    }
    if (block === whole) return held;
    // One HEADERS frame (padding dropped) and CONTINUATIONs, none above the initial frame size.
    const first = Buffer.concat([open.priority, block]);
    const frames: Buffer[] = [];
    for (let at = 0; at < first.length || at === 0; at += MAX_FRAME) {
      const piece = first.subarray(at, at + MAX_FRAME);
      const last = at + MAX_FRAME >= first.length;
      const endHeaders = last ? END_HEADERS : 0;
      frames.push(
        at === 0
          ? frame(HEADERS, (open.flags & (END_STREAM | PRIORITY)) | endHeaders, open.stream, piece)
          : frame(CONTINUATION, endHeaders, open.stream, piece),
      );
    }
    return frames;
  }
}

/** The server's bytes with SETTINGS_HEADER_TABLE_SIZE = 0 added to its first SETTINGS frame. */
class OutboundRewriter {
  #buf: Buffer | undefined = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    if (!this.#buf) return [chunk];
    this.#buf = Buffer.concat([this.#buf, chunk]);
    if (this.#buf.length < FRAME_HEADER) return [];
    const len = this.#buf.readUIntBE(0, 3);
    if (this.#buf.length < FRAME_HEADER + len) return [];
    const buf = this.#buf;
    this.#buf = undefined;
    if (buf[3] !== SETTINGS || buf[4] !== 0 || buf.readUInt32BE(5) !== 0) return [buf];
    const settings = buf.subarray(FRAME_HEADER, FRAME_HEADER + len);
    const tableSize = Buffer.from([0, 0x1, 0, 0, 0, 0]);
    return [frame(SETTINGS, 0, 0, Buffer.concat([settings, tableSize])), buf.subarray(FRAME_HEADER + len)];
  }
}

/** `socket` as grpc-js should see it: the client's `:authority` made acceptable to Node's HTTP/2 server. */
export function fixAuthority(socket: Duplex): Duplex {
  const inbound = new InboundRewriter();
  const outbound = new OutboundRewriter();
  const wrapped = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      const out = outbound.push(chunk);
      if (out.length === 0) {
        cb();
        return;
      }
      let pending = out.length;
      for (const b of out) socket.write(b, () => --pending === 0 && cb());
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    let ok = true;
    for (const b of inbound.push(chunk)) if (b.length) ok = wrapped.push(b) && ok;
    if (!ok) socket.pause();
  });
  socket.on('end', () => wrapped.push(null));
  socket.on('error', (e) => wrapped.destroy(e));
  socket.on('close', () => wrapped.destroy());
  return wrapped;
}
