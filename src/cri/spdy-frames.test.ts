// SPDY/3.1 framing both ways: every frame type through the encoder and the decoder (fed in pieces),
// header blocks compressed by a real streaming zlib compressor with the dictionary (as Go's framer,
// moby/spdystream, sends them: one zlib stream, a sync flush per block), our blocks inflated by a
// real streaming inflater, the dictionary held to the spec's bytes, and hostile input refused.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { constants, createDeflate, createInflate } from 'node:zlib';
import { test } from 'node:test';
import {
  FLAG_FIN,
  FrameDecoder,
  FrameEncoder,
  HeaderCompressor,
  HeaderDecompressor,
  encodeHeaderBlock,
  SPDY_DICTIONARY,
  type SpdyFrame,
  type SpdyHeaders,
  SpdyProtocolError,
} from './spdy-frames.ts';

test("the SPDY/3 dictionary is the spec's 1423 bytes", () => {
  assert.equal(SPDY_DICTIONARY.length, 1423);
  assert.equal(
    createHash('sha256').update(SPDY_DICTIONARY).digest('hex'),
    '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02',
  );
});

const frames: SpdyFrame[] = [
  { type: 'syn_stream', streamId: 1, associatedId: 0, priority: 0, flags: 0, headers: { streamtype: 'error' } },
  {
    type: 'syn_stream',
    streamId: 3,
    associatedId: 0,
    priority: 7,
    flags: FLAG_FIN,
    headers: { streamtype: 'data', port: '8080', requestid: '0' },
  },
  { type: 'syn_reply', streamId: 1, flags: 0, headers: {} },
  { type: 'headers', streamId: 1, flags: FLAG_FIN, headers: { a: 'b\0c' } },
  { type: 'data', streamId: 3, flags: 0, data: Buffer.from('hello') },
  { type: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.alloc(0) },
  { type: 'rst_stream', streamId: 5, status: 5 },
  {
    type: 'settings',
    flags: 0,
    entries: [
      { flags: 0, id: 7, value: 65536 },
      { flags: 1, id: 4, value: 100 },
    ],
  },
  { type: 'ping', id: 0xfffffffe },
  { type: 'goaway', lastGoodStreamId: 7, status: 0 },
  { type: 'window_update', streamId: 0, delta: 0x7fffffff },
];

test('every frame type round-trips through the encoder and a decoder fed byte by byte', () => {
  const enc = new FrameEncoder();
  const bytes = Buffer.concat(frames.map((f) => enc.encode(f)));
  const dec = new FrameDecoder();
  const out: SpdyFrame[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(...dec.push(bytes.subarray(i, i + 1)));
  assert.deepEqual(out, frames);
});

test('the wire layout of a control frame and a data frame', () => {
  const enc = new FrameEncoder();
  assert.deepEqual([...enc.encode({ type: 'ping', id: 1 })], [0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
  assert.deepEqual(
    [...enc.encode({ type: 'data', streamId: 2, flags: FLAG_FIN, data: Buffer.from('x') })],
    [0, 0, 0, 2, 1, 0, 0, 1, 0x78],
  );
  assert.deepEqual(
    [...enc.encode({ type: 'rst_stream', streamId: 3, status: 5 })],
    [0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 5],
  );
});

/** Compresses blocks as one zlib stream with the dictionary and a sync flush after each (Go's framer). */
async function goLikeBlocks(blocks: Buffer[]): Promise<Buffer[]> {
  const d = createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 });
  const out: Buffer[] = [];
  for (const b of blocks) {
    const parts: Buffer[] = [];
    const onData = (c: Buffer) => parts.push(c);
    d.on('data', onData);
    d.write(b);
    await new Promise<void>((r) => d.flush(constants.Z_SYNC_FLUSH, () => r()));
    await new Promise((r) => setImmediate(r));
    d.off('data', onData);
    out.push(Buffer.concat(parts));
  }
  d.destroy();
  return out;
}

test('header blocks compressed by a streaming zlib compressor (one context, sync flushes) decode in order', async () => {
  const headers: SpdyHeaders[] = [
    { streamtype: 'error' },
    { streamtype: 'stdin' },
    { streamtype: 'stdout' },
    { streamtype: 'data', port: '80', requestid: '12' },
    { streamtype: 'stdin' },
    { 'x-long': 'v'.repeat(70_000) },
    { streamtype: 'error', port: '8080' },
  ];
  const compressed = await goLikeBlocks(headers.map(encodeHeaderBlock));
  assert.ok(
    compressed[4]!.length < 12,
    'a repeated block refers back into the shared window (it is not self-contained)',
  );
  const dec = new HeaderDecompressor();
  assert.deepEqual(
    compressed.map((b) => dec.decompress(b)),
    headers,
  );
});

test("our header blocks inflate as one zlib stream with the dictionary (what a peer's framer does)", async () => {
  const c = new HeaderCompressor();
  const headers: SpdyHeaders[] = [{ streamtype: 'error' }, { 'x-big': 'y'.repeat(100_000) }, {}, { a: '1', b: '2' }];
  const inf = createInflate({ dictionary: SPDY_DICTIONARY });
  const parts: Buffer[] = [];
  inf.on('data', (b: Buffer) => parts.push(b));
  for (const h of headers) {
    const block = c.compress(h);
    // Every block ends at a sync flush (Go's inflater releases a block's bytes only at the next block header).
    assert.deepEqual([...block.subarray(-5)], [0, 0, 0, 0xff, 0xff]);
    inf.write(block);
  }
  await new Promise<void>((r) => inf.flush(constants.Z_SYNC_FLUSH, () => r()));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(Buffer.concat(parts), Buffer.concat(headers.map(encodeHeaderBlock)));
});

test('hostile input is a protocol error naming what was wrong', async () => {
  const err = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof SpdyProtocolError && re.test(e.message));
  err(() => new FrameDecoder().push(Buffer.from([0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1])), /version 2 \(expected 3\)/);
  err(() => new FrameDecoder().push(Buffer.from([0x80, 3, 0, 6, 0, 0xff, 0xff, 0xff])), /frame of 16777215 bytes/);
  err(
    () => new FrameDecoder().push(Buffer.from([0x80, 3, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1])),
    /RST_STREAM frame of 4 bytes/,
  );
  err(() => new HeaderDecompressor().decompress(Buffer.from('not zlib')), /not a zlib stream/);
  const [upper] = await goLikeBlocks([encodeHeaderBlock({ ok: '1' }).fill(0x4b, 8, 10)]);
  err(() => new HeaderDecompressor().decompress(upper!), /lower case/);
  const dup = Buffer.concat([
    Buffer.from([0, 0, 0, 2]),
    encodeHeaderBlock({ a: '1' }).subarray(4),
    encodeHeaderBlock({ a: '2' }).subarray(4),
  ]);
  const [dupZ] = await goLikeBlocks([dup]);
  err(() => new HeaderDecompressor().decompress(dupZ!), /header a given twice/);
  const [truncated] = await goLikeBlocks([Buffer.from([0, 0, 0, 3, 0, 0, 0, 9, 0x61])]);
  err(() => new HeaderDecompressor().decompress(truncated!), /truncated/);
  const [bomb] = await goLikeBlocks([Buffer.alloc(1 << 20)]);
  err(() => new HeaderDecompressor().decompress(bomb!), /does not inflate/);
});
