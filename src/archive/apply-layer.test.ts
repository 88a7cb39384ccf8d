// applyLayer without root: plain files only (no devices, owners or trusted.* xattrs). The full
// matrix runs as root in test/integration/unpack-*.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { ErrorCode, isBerthError, unavailable } from '../errors/errors.ts';
import { applyLayer } from './apply-layer.ts';

async function smallTar(): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  })();
  pack.entry({ name: 'dir/file', size: 5, mode: 0o640 }, Buffer.from('hello'));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

test('the DiffID is the sha256 of the uncompressed tar, trailing padding included', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
  try {
    // Extra zero blocks after the end-of-archive marker are part of the blob and of its DiffID.
    const t = Buffer.concat([await smallTar(), Buffer.alloc(10240)]);
    const gz = gzipSync(t);
    const r = await applyLayer((async function* () {
      yield gz;
    })(), {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      targetDir: dir,
      format: 'overlay',
      context: 'unit',
    });
    assert.equal(r.diffId, `sha256:${createHash('sha256').update(t).digest('hex')}`);
    assert.equal(r.size, t.length);
    assert.equal(await fs.readFile(join(dir, 'dir/file'), 'utf8'), 'hello');
    assert.equal((await fs.stat(join(dir, 'dir/file'))).mode & 0o777, 0o640);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('an error of the source (a digest mismatch in the content store, say) comes out unchanged', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
  try {
    const t = gzipSync(await smallTar());
    const mismatch = unavailable('blob sha256:abc: digest mismatch');
    async function* source() {
      yield t.subarray(0, 20);
      throw mismatch;
    }
    await assert.rejects(
      applyLayer(source(), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', targetDir: dir, format: 'overlay', context: 'unit' }),
      (e: unknown) => e === mismatch,
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a target that is not a directory is refused', async () => {
  await assert.rejects(
    applyLayer((async function* () {})(), {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      targetDir: '/nonexistent/berth',
      format: 'plain',
      context: 'unit',
    }),
    (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && /^unit: target directory/.test(e.message),
  );
});
