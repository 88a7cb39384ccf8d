// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 and the SPDY/3.1 draft): the frame layout, the
// name/value header blocks and their zlib compression with the SPDY/3 dictionary. Kubernetes'
// streaming clients (the kubelet's proxy, crictl, kubectl) speak remote-command and port-forward over
// SPDY/3.1 by default (moby/spdystream underneath), so berthd's streaming server must too. No
// maintained SPDY library exists for Node (node-spdy is unmaintained and tied to old http
// internals), and the wire format is small, so it is written here.
// Owns bytes only: encoding and incremental decoding; must never touch a socket (spdy-session.ts does).
//
// Header compression: each direction of a session is ONE zlib stream (with the dictionary below),
// each header block ending at a sync flush. Node's zlib has no synchronous streaming context, so:
//  - outgoing blocks are written as stored (uncompressed) deflate blocks after a zlib header that
//    names the dictionary, each ended by a sync flush's empty stored block: a valid continuation of
//    one zlib stream for any peer, and header blocks of a few hundred bytes gain nothing worth an
//    asynchronous compressor;
//  - incoming blocks are inflated raw with the last 32 KiB of the stream's history (dictionary, then
//    everything inflated so far) as the preset dictionary: exactly the window a streaming inflater
//    would hold, since every block starts at a byte boundary after the peer's sync flush.
import { constants, inflateRawSync } from 'node:zlib';

export const SPDY_VERSION = 3;

export const ControlType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
  FrameTooLarge: 11,
} as const;
export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;
export const SettingsId = { MaxConcurrentStreams: 4, InitialWindowSize: 7 } as const;

/** Header names are lower case; a value holding several values separates them with NUL. */
export type SpdyHeaders = Record<string, string>;

export type SpdyFrame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | {
      type: 'syn_stream';
      streamId: number;
      associatedId: number;
      priority: number;
      flags: number;
      headers: SpdyHeaders;
    }
  | { type: 'syn_reply'; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame of a type SPDY/3.1 does not define: the spec says to ignore it. */
  | { type: 'unknown'; controlType: number };

/** The protocol error a peer made: the session answers GOAWAY (or RST_STREAM for `streamId`). */
export class SpdyProtocolError extends Error {
  readonly streamId: number;
  constructor(message: string, streamId = 0) {
    super(`SPDY: ${message}`);
    this.streamId = streamId;
  }
}

// The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1): length-prefixed common
// header names and values, then a run of common status and value text. Built from its parts; the
// unit test holds the result to the spec's 1423 bytes by their SHA-256.
const DICTIONARY_WORDS = [
  'options',
  'head',
  'post',
  'put',
  'delete',
  'trace',
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'connection',
  'content-base',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'pragma',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'server',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'vary',
  'via',
  'warning',
  'www-authenticate',
  'method',
  'get',
  'status',
  '200 OK',
  'version',
  'HTTP/1.1',
  'url',
  'public',
  'set-cookie',
  'keep-alive',
  'origin',
];
const DICTIONARY_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found' +
  '500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ' +
  'Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,' +
  'text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

export const SPDY_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.map((w) => {
    const b = Buffer.alloc(4 + w.length);
    b.writeUInt32BE(w.length, 0);
    b.write(w, 4, 'latin1');
    return b;
  }),
  Buffer.from(DICTIONARY_TAIL, 'latin1'),
]);

function adler32(b: Buffer): number {
  let a = 1;
  let s = 0;
  for (const x of b) {
    a = (a + x) % 65521;
    s = (s + a) % 65521;
  }
  return ((s << 16) | a) >>> 0;
}

const WINDOW = 32 * 1024;
/** An empty non-final stored block: what zlib's Z_SYNC_FLUSH ends with, byte-aligned. */
export const SYNC_FLUSH_MARKER = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
/** A header block may not inflate to more than this (a peer cannot make berthd hold more). */
export const MAX_HEADER_BLOCK = 256 * 1024;
/** The largest frame payload accepted (DATA frames are split below this when sent). */
export const MAX_FRAME_PAYLOAD = 1 << 20;
export const DATA_CHUNK = 64 * 1024;

/** The uncompressed name/value block: u32 count, then u32-length-prefixed names and values. */
export function encodeHeaderBlock(h: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const n = Buffer.alloc(4);
  const entries = Object.entries(h);
  n.writeUInt32BE(entries.length, 0);
  parts.push(n);
  for (const [k, v] of entries) {
    for (const s of [k.toLowerCase(), v]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length, 0);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(b: Buffer, streamId = 0): SpdyHeaders {
  const fail = (what: string) => new SpdyProtocolError(`header block: ${what}`, streamId);
  if (b.length < 4) throw fail('shorter than its pair count');
  const count = b.readUInt32BE(0);
  let off = 4;
  const read = (): string => {
    if (off + 4 > b.length) throw fail('truncated length');
    const len = b.readUInt32BE(off);
    off += 4;
    if (off + len > b.length) throw fail('truncated name or value');
    const s = b.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  const out: SpdyHeaders = {};
  for (let i = 0; i < count; i++) {
    const name = read();
    const value = read();
    if (name === '' || name !== name.toLowerCase())
      throw fail(`header name ${JSON.stringify(name)} (expected non-empty lower case)`);
    if (name in out) throw fail(`header ${name} given twice`);
    out[name] = value;
  }
  return out;
}

/** One direction's compression context: turns header blocks into the bytes of one zlib stream. */
export class HeaderCompressor {
  #started = false;

  compress(h: SpdyHeaders): Buffer {
    const raw = encodeHeaderBlock(h);
    const parts: Buffer[] = [];
    if (!this.#started) {
      // CMF 0x78 (deflate, 32 KiB window), FLG with FDICT set and FCHECK making CMF*256+FLG % 31 == 0, then the dictionary id.
      const flg = 0x20 | (31 - ((0x78 * 256 + 0x20) % 31));
      const hdr = Buffer.from([0x78, flg, 0, 0, 0, 0]);
      hdr.writeUInt32BE(adler32(SPDY_DICTIONARY), 2);
      parts.push(hdr);
      this.#started = true;
    }
    // Stored blocks (BFINAL 0, BTYPE 00) of at most 65535 bytes, then the empty stored block that ends
    // every sync flush (00 00 00 FF FF). The marker is not optional: Go's inflater (under every
    // Kubernetes client) hands out a stored block's bytes only when it reads the next block header,
    // so without it the peer waits for the next frame before it sees this header block.
    for (let off = 0; off < raw.length; off += 0xffff) {
      const chunk = raw.subarray(off, off + 0xffff);
      const h5 = Buffer.alloc(5);
      h5.writeUInt16LE(chunk.length, 1);
      h5.writeUInt16LE(~chunk.length & 0xffff, 3);
      parts.push(h5, chunk);
    }
    parts.push(SYNC_FLUSH_MARKER);
    return Buffer.concat(parts);
  }
}

/** One direction's decompression context. */
export class HeaderDecompressor {
  #history: Buffer = SPDY_DICTIONARY;
  #started = false;

  decompress(block: Buffer, streamId = 0): SpdyHeaders {
    let body = block;
    if (!this.#started) {
      if (block.length < 2 || (block[0]! & 0x0f) !== 8 || ((block[0]! << 8) | block[1]!) % 31 !== 0)
        throw new SpdyProtocolError('header block: not a zlib stream', streamId);
      const fdict = (block[1]! & 0x20) !== 0;
      if (fdict && (block.length < 6 || block.readUInt32BE(2) !== adler32(SPDY_DICTIONARY)))
        throw new SpdyProtocolError("header block: zlib stream names a dictionary other than SPDY/3's", streamId);
      body = block.subarray(fdict ? 6 : 2);
      this.#started = true;
    }
    let out: Buffer;
    try {
      out = inflateRawSync(body, {
        dictionary: this.#history,
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_HEADER_BLOCK,
      });
    } catch (e) {
      throw new SpdyProtocolError(`header block does not inflate: ${(e as Error).message}`, streamId);
    }
    const joined = Buffer.concat([this.#history, out]);
    this.#history = joined.length > WINDOW ? Buffer.from(joined.subarray(joined.length - WINDOW)) : joined;
    return decodeHeaderBlock(out, streamId);
  }
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt32BE(((flags & 0xff) << 24) | (length & 0xffffff), 4);
  return b;
}

/** Encodes frames for one direction of a session (the header compression context is per direction). */
export class FrameEncoder {
  readonly #compressor = new HeaderCompressor();

  encode(f: SpdyFrame): Buffer {
    switch (f.type) {
      case 'data': {
        const b = Buffer.alloc(8);
        b.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        b.writeUInt32BE(((f.flags & 0xff) << 24) | (f.data.length & 0xffffff), 4);
        return Buffer.concat([b, f.data]);
      }
      case 'syn_stream': {
        const hb = this.#compressor.compress(f.headers);
        const p = Buffer.alloc(10);
        p.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        p.writeUInt32BE(f.associatedId & 0x7fffffff, 4);
        p[8] = (f.priority & 7) << 5;
        return Buffer.concat([controlHeader(ControlType.SynStream, f.flags, 10 + hb.length), p, hb]);
      }
      case 'syn_reply':
      case 'headers': {
        const hb = this.#compressor.compress(f.headers);
        const p = Buffer.alloc(4);
        p.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        return Buffer.concat([
          controlHeader(f.type === 'syn_reply' ? ControlType.SynReply : ControlType.Headers, f.flags, 4 + hb.length),
          p,
          hb,
        ]);
      }
      case 'rst_stream':
      case 'goaway':
      case 'window_update': {
        const p = Buffer.alloc(8);
        const [type, a, b] =
          f.type === 'rst_stream'
            ? [ControlType.RstStream, f.streamId, f.status]
            : f.type === 'goaway'
              ? [ControlType.GoAway, f.lastGoodStreamId, f.status]
              : [ControlType.WindowUpdate, f.streamId, f.delta];
        p.writeUInt32BE(a & 0x7fffffff, 0);
        p.writeUInt32BE(f.type === 'window_update' ? b & 0x7fffffff : b >>> 0, 4);
        return Buffer.concat([controlHeader(type, 0, 8), p]);
      }
      case 'settings': {
        const p = Buffer.alloc(4 + 8 * f.entries.length);
        p.writeUInt32BE(f.entries.length, 0);
        f.entries.forEach((e, i) => {
          p.writeUInt32BE((((e.flags & 0xff) << 24) | (e.id & 0xffffff)) >>> 0, 4 + 8 * i);
          p.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
        });
        return Buffer.concat([controlHeader(ControlType.Settings, f.flags, p.length), p]);
      }
      case 'ping': {
        const p = Buffer.alloc(4);
        p.writeUInt32BE(f.id >>> 0, 0);
        return Buffer.concat([controlHeader(ControlType.Ping, 0, 4), p]);
      }
      case 'unknown':
        throw new RangeError('SPDY: an unknown frame cannot be encoded');
    }
  }
}

/** Splits the bytes of one direction of a session into frames; feed it chunks in order. */
export class FrameDecoder {
  readonly #decompressor = new HeaderDecompressor();
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): SpdyFrame[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: SpdyFrame[] = [];
    while (this.#buf.length >= 8) {
      const len = this.#buf.readUInt32BE(4) & 0xffffff;
      if (len > MAX_FRAME_PAYLOAD)
        throw new SpdyProtocolError(`frame of ${len} bytes (at most ${MAX_FRAME_PAYLOAD} accepted)`);
      if (this.#buf.length < 8 + len) break;
      const head = this.#buf.subarray(0, 8);
      const payload = Buffer.from(this.#buf.subarray(8, 8 + len));
      this.#buf = this.#buf.subarray(8 + len);
      out.push(this.#frame(head, payload));
    }
    return out;
  }

  #frame(head: Buffer, p: Buffer): SpdyFrame {
    const flags = head[4]!;
    if ((head[0]! & 0x80) === 0) return { type: 'data', streamId: head.readUInt32BE(0) & 0x7fffffff, flags, data: p };
    const version = head.readUInt16BE(0) & 0x7fff;
    if (version !== SPDY_VERSION)
      throw new SpdyProtocolError(`control frame of version ${version} (expected ${SPDY_VERSION})`);
    const type = head.readUInt16BE(2);
    const need = (n: number, what: string) => {
      if (p.length < n) throw new SpdyProtocolError(`${what} frame of ${p.length} bytes (expected at least ${n})`);
    };
    const id31 = (off: number) => p.readUInt32BE(off) & 0x7fffffff;
    switch (type) {
      case ControlType.SynStream: {
        need(10, 'SYN_STREAM');
        const streamId = id31(0);
        if (streamId === 0) throw new SpdyProtocolError('SYN_STREAM for stream 0');
        return {
          type: 'syn_stream',
          streamId,
          associatedId: id31(4),
          priority: p[8]! >> 5,
          flags,
          headers: this.#decompressor.decompress(p.subarray(10), streamId),
        };
      }
      case ControlType.SynReply:
      case ControlType.Headers: {
        need(4, type === ControlType.SynReply ? 'SYN_REPLY' : 'HEADERS');
        const streamId = id31(0);
        return {
          type: type === ControlType.SynReply ? 'syn_reply' : 'headers',
          streamId,
          flags,
          headers: this.#decompressor.decompress(p.subarray(4), streamId),
        };
      }
      case ControlType.RstStream:
        need(8, 'RST_STREAM');
        return { type: 'rst_stream', streamId: id31(0), status: p.readUInt32BE(4) };
      case ControlType.Settings: {
        need(4, 'SETTINGS');
        const n = p.readUInt32BE(0);
        need(4 + 8 * n, 'SETTINGS');
        const entries = [];
        for (let i = 0; i < n; i++)
          entries.push({
            flags: p[4 + 8 * i]!,
            id: p.readUInt32BE(4 + 8 * i) & 0xffffff,
            value: p.readUInt32BE(8 + 8 * i),
          });
        return { type: 'settings', flags, entries };
      }
      case ControlType.Ping:
        need(4, 'PING');
        return { type: 'ping', id: p.readUInt32BE(0) };
      case ControlType.GoAway:
        // SPDY/3 added the status; a 4-byte GOAWAY (SPDY/2 style) is read as status OK.
        need(4, 'GOAWAY');
        return {
          type: 'goaway',
          lastGoodStreamId: id31(0),
          status: p.length >= 8 ? p.readUInt32BE(4) : GoAwayStatus.Ok,
        };
      case ControlType.WindowUpdate:
        need(8, 'WINDOW_UPDATE');
        return { type: 'window_update', streamId: id31(0), delta: p.readUInt32BE(4) & 0x7fffffff };
      default:
        return { type: 'unknown', controlType: type };
    }
  }
}
