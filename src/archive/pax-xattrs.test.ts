import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tar from 'tar-stream';
import { decodePaxRecords, installBinaryPaxValues, xattrsFromPax } from './pax-xattrs.ts';

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

test('after installBinaryPaxValues, tar-stream extract yields binary xattrs intact', async () => {
  installBinaryPaxValues();
  // tar-stream's packer writes only UTF-8 values: pack a placeholder of the same byte length, then
  // overwrite it in place (PAX bodies carry no checksum).
  const placeholder = 'Q'.repeat(BINARY.length);
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  })();
  pack.entry({ name: 'f', size: 1, pax: { 'SCHILY.xattr.security.capability': placeholder } }, Buffer.from('x'));
  pack.finalize();
  await done;
  const tarball = Buffer.concat(chunks);
  const at = tarball.indexOf(placeholder);
  assert.ok(at > 0);
  BINARY.copy(tarball, at);
  const extract = tar.extract();
  extract.end(tarball);
  const seen: Map<string, Buffer>[] = [];
  for await (const e of extract) {
    seen.push(xattrsFromPax(e.header.pax as Record<string, string>));
    e.resume();
  }
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0]!.get('security.capability'), BINARY);
});
