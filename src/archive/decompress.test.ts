import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { detectCompression, mediaTypeCompression } from './decompress.ts';

test('the magic bytes decide the compression', () => {
  const gz = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]);
  const zst = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]);
  const tar = Buffer.from('etc/passwd');
  assert.equal(detectCompression(gz, 'application/vnd.oci.image.layer.v1.tar', 'c'), 'gzip');
  assert.equal(detectCompression(zst, 'application/vnd.oci.image.layer.v1.tar+gzip', 'c'), 'zstd');
  assert.equal(detectCompression(tar, 'application/vnd.oci.image.layer.v1.tar+zstd', 'c'), 'none');
  assert.equal(detectCompression(Buffer.alloc(0), 'application/vnd.oci.image.layer.v1.tar', 'c'), 'none');
});

test('bzip2, xz and unknown media types are refused with the context', () => {
  for (const [head, mt] of [
    [Buffer.from('BZh91AY'), 'application/vnd.docker.image.rootfs.diff.tar'],
    [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 'application/vnd.oci.image.layer.v1.tar'],
    [Buffer.from('plain tar'), 'application/json'],
  ] as const) {
    assert.throws(
      () => detectCompression(head, mt, 'image x layer y'),
      (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && e.message.startsWith('image x layer y: '),
    );
  }
});

test('mediaTypeCompression knows OCI and Docker layer types', () => {
  assert.equal(mediaTypeCompression('application/vnd.oci.image.layer.v1.tar'), 'none');
  assert.equal(mediaTypeCompression('application/vnd.oci.image.layer.v1.tar+gzip'), 'gzip');
  assert.equal(mediaTypeCompression('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  assert.equal(mediaTypeCompression('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'), 'gzip');
  assert.equal(mediaTypeCompression('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  assert.equal(mediaTypeCompression('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'), 'gzip');
  assert.equal(mediaTypeCompression('application/vnd.oci.image.config.v1+json'), 'unknown');
});
