import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tar from 'tar-stream';
import { decodePaxRecords, keepBinaryXattrs, xattrsFromPax } from './pax-xattrs.ts';

function record(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  // The length prefix counts itself.
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

const BINARY = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0xff, 0xfe, 0x00, 0xc3]);

test('decodePaxRecords keeps xattr bytes and decodes other records as UTF-8', () => {
  const buf = Buffer.concat([
    record('path', Buffer.from('dir/naïve')),
    record('SCHILY.xattr.security.capability', BINARY),
    record('SCHILY.xattr.user.t', Buffer.from('✓')),
    record('mtime', Buffer.from('1.5')),
  ]);
  const pax = decodePaxRecords(buf);
  assert.equal(pax.path, 'dir/naïve');
  assert.equal(pax.mtime, '1.5');
  const x = xattrsFromPax(pax);
  assert.deepEqual(x.get('security.capability'), BINARY);
  assert.equal(x.get('user.t')?.toString('utf8'), '✓');
  assert.equal(x.size, 2);
});

test('decodePaxRecords stops at a malformed record instead of reading past it', () => {
  assert.deepEqual(decodePaxRecords(Buffer.from('99 path=x\n')), {});
  assert.deepEqual(decodePaxRecords(Buffer.from('garbage')), {});
});

/** A tar of one file whose PAX header (per-file or global) carries BINARY as its capability xattr. */
async function tarWithBinaryXattr(global: boolean): Promise<Buffer> {
  // tar-stream's packer writes only UTF-8 values: pack a placeholder of the same byte length, then
  // overwrite it in place (PAX bodies carry no checksum).
  const placeholder = 'Q'.repeat(BINARY.length);
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  })();
  if (global) {
    // A global header's body is PAX records. tar-stream's packer cannot write typeflag 'g': write
    // a file with that body, and retype it below.
    const body = record('SCHILY.xattr.security.capability', Buffer.from(placeholder));
    pack.entry({ name: 'pax_global_header', size: body.length }, body);
  }
  // tar-stream applies a global header only to entries with a PAX header of their own.
  const pax = global ? { mtime: '1.5' } : { 'SCHILY.xattr.security.capability': placeholder };
  pack.entry({ name: 'f', size: 1, pax }, Buffer.from('x'));
  pack.finalize();
  await done;
  const tarball = Buffer.concat(chunks);
  if (global) {
    tarball[156] = 'g'.charCodeAt(0);
    // The header checksum: the sum of its bytes with the checksum field read as spaces.
    tarball.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tarball[i]!;
    tarball.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
  const at = tarball.indexOf(placeholder);
  assert.ok(at > 0);
  BINARY.copy(tarball, at);
  return tarball;
}

async function capabilities(tarball: Buffer, keep: boolean): Promise<(Buffer | undefined)[]> {
  const extract = tar.extract();
  if (keep) keepBinaryXattrs(extract);
  extract.end(tarball);
  const seen: (Buffer | undefined)[] = [];
  for await (const e of extract) {
    seen.push(xattrsFromPax(e.header.pax as Record<string, string>).get('security.capability'));
    e.resume();
  }
  return seen;
}

test('keepBinaryXattrs: that extractor yields binary xattrs intact, from per-file and global PAX headers', async () => {
  assert.deepEqual(await capabilities(await tarWithBinaryXattr(false), true), [BINARY]);
  assert.deepEqual(await capabilities(await tarWithBinaryXattr(true), true), [BINARY]);
});

test('keepBinaryXattrs touches no other extractor (tar-stream alone turns the bytes into U+FFFD)', async () => {
  const tarball = await tarWithBinaryXattr(false);
  assert.deepEqual(await capabilities(tarball, true), [BINARY]);
  const plain = await capabilities(tarball, false);
  assert.equal(plain.length, 1);
  assert.notDeepEqual(plain[0], BINARY);
});
