import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as zlib from 'node:zlib';
import { pack } from 'tar-stream';
import { addArchive, decompressFile, isTarHeader } from './add-archive.ts';

const dir = mkdtempSync(join(tmpdir(), 'add-archive-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function tarBytes(): Promise<Buffer> {
  const p = pack();
  p.entry({ name: 'inner/f.txt' }, 'from-tar\n');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

const file = (name: string, bytes: Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

async function readAll(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c);
  return Buffer.concat(chunks);
}

test('a tar plain, gzip, bzip2, xz or zstd is told by its content (not its name) and decompressed whole', async () => {
  const tar = await tarBytes();
  const cases = {
    none: tar,
    gzip: zlib.gzipSync(tar),
    zstd: zlib.zstdCompressSync(tar),
    bzip2: execFileSync('bzip2', ['-c'], { input: tar }),
    xz: execFileSync('xz', ['-c'], { input: tar }),
  };
  for (const [c, bytes] of Object.entries(cases)) {
    // Misleading names on purpose: the bytes decide.
    const p = file(`archive-${c}.txt`, bytes);
    assert.equal(await addArchive(p, c), c, c);
    assert.deepEqual(await readAll(decompressFile(p, c as 'none', c)), tar, c);
  }
});

test('a compressed file that is not a tar, a text file, a corrupt archive: copied as they are, not extracted', async () => {
  assert.equal(await addArchive(file('notes.gz', zlib.gzipSync('just text\n')), 'gz'), undefined);
  assert.equal(
    await addArchive(file('notes.xz', execFileSync('xz', ['-c'], { input: 'just text\n' })), 'xz'),
    undefined,
  );
  assert.equal(await addArchive(file('plain.tar', Buffer.from('not a tar at all\n'.repeat(64))), 'txt'), undefined);
  assert.equal(await addArchive(file('empty', Buffer.alloc(0)), 'empty'), undefined);
  const bad = file(
    'bad.tar.xz',
    Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(600, 7)]),
  );
  assert.equal(await addArchive(bad, 'bad'), undefined);
  await assert.rejects(readAll(decompressFile(bad, 'xz', 'ADD bad.tar.xz')), /ADD bad\.tar\.xz: not a valid xz file/);
  const badBz = file('bad.tar.bz2', Buffer.concat([Buffer.from('BZh9'), Buffer.alloc(600, 1)]));
  await assert.rejects(readAll(decompressFile(badBz, 'bzip2', 'ADD bad.tar.bz2')), /not a valid bzip2 file/);
});

test('isTarHeader checks the header checksum', async () => {
  const tar = await tarBytes();
  assert.ok(isTarHeader(tar.subarray(0, 512)));
  const broken = Buffer.from(tar.subarray(0, 512));
  broken[0] = broken[0]! ^ 1;
  assert.ok(!isTarHeader(broken));
  assert.ok(!isTarHeader(Buffer.alloc(512)));
});
