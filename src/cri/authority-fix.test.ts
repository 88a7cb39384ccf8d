import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rewriteAuthority } from './authority-fix.ts';

// HPACK pieces (RFC 7541): 0x82 is the indexed field `:method: GET`; 0x41 a literal with incremental
// indexing whose name is static entry 1, `:authority`; a string's first byte is H and a 7-bit length.
const raw = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);

test('a plain :authority value keeps its length, each byte an authority may not hold made _', () => {
  const block = Buffer.concat([Buffer.from([0x82, 0x41]), raw('/run/berth/cri.sock'), Buffer.from([0x87])]);
  const out = rewriteAuthority(block);
  assert.deepEqual(out, Buffer.concat([Buffer.from([0x82, 0x41]), raw('_run_berth_cri.sock'), Buffer.from([0x87])]));
});

test('a Huffman-coded :authority value becomes localhost; a never-indexed one too', () => {
  const huff = Buffer.from([0x41, 0x83, 0xaa, 0xbb, 0xcc]);
  assert.deepEqual(rewriteAuthority(huff), Buffer.concat([Buffer.from([0x41]), raw('localhost')]));
  const never = Buffer.from([0x11, 0x82, 0xaa, 0xbb]);
  assert.deepEqual(rewriteAuthority(never), Buffer.concat([Buffer.from([0x11]), raw('localhost')]));
});

test('a valid authority, other fields and a table size update pass as the same buffer', () => {
  const block = Buffer.concat([
    Buffer.from([0x20, 0x82, 0x41]),
    raw('localhost:10250'),
    Buffer.from([0x40]),
    raw('te'),
    raw('trailers'),
  ]);
  assert.equal(rewriteAuthority(block), block);
});

test('a truncated block throws (the caller passes it on unchanged)', () => {
  assert.throws(() => rewriteAuthority(Buffer.from([0x41, 0x0a, 0x2f])), RangeError);
  assert.throws(() => rewriteAuthority(Buffer.from([0xff])), RangeError);
});
