import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { layerCompression, mediaTypeCompression, sniffCompression } from './decompress.ts';

const gz = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]);
const zst = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]);
const tar = Buffer.from('etc/passwd');
const OCI = 'application/vnd.oci.image.layer.v1.tar';

test('a declared layer type decides the compression when the bytes agree', () => {
  assert.equal(layerCompression(gz, `${OCI}+gzip`, 'c'), 'gzip');
  assert.equal(layerCompression(zst, `${OCI}+zstd`, 'c'), 'zstd');
  assert.equal(layerCompression(tar, OCI, 'c'), 'none');
  assert.equal(layerCompression(gz, 'application/vnd.docker.image.rootfs.diff.tar.gzip', 'c'), 'gzip');
  assert.equal(layerCompression(tar, 'application/vnd.docker.image.rootfs.diff.tar', 'c'), 'none');
  assert.equal(layerCompression(zst, 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'c'), 'zstd');
  assert.equal(layerCompression(Buffer.alloc(0), OCI, 'c'), 'none');
});

test('bytes that do not match the declared type are refused, naming both', () => {
  for (const [head, mt, found] of [
    [gz, OCI, 'gzip-compressed'],
    [zst, `${OCI}+gzip`, 'zstd-compressed'],
    [tar, `${OCI}+zstd`, 'not compressed'],
    [gz, 'application/vnd.docker.image.rootfs.diff.tar', 'gzip-compressed'],
    [Buffer.alloc(0), `${OCI}+gzip`, 'not compressed'],
  ] as const) {
    assert.throws(
      () => layerCompression(head, mt, 'image x layer y'),
      (e: unknown) =>
        isBerthError(e, ErrorCode.InvalidArgument) &&
        e.message.startsWith('image x layer y: ') &&
        e.message.includes(JSON.stringify(mt)) &&
        e.message.includes(found),
      `${mt} / ${found}`,
    );
  }
});

test('an unknown layer media type is refused whatever its bytes, naming the type', () => {
  for (const head of [gz, tar]) {
    assert.throws(
      () => layerCompression(head, 'application/vnd.example.layer+gzip', 'image x layer sha256:ab'),
      (e: unknown) =>
        isBerthError(e, ErrorCode.InvalidArgument) &&
        e.message.startsWith(
          'image x layer sha256:ab has media type "application/vnd.example.layer+gzip", which is not a layer type',
        ),
    );
  }
});

test('without a declared type the magic bytes decide; bzip2 and xz are refused', () => {
  assert.equal(sniffCompression(gz, 'c'), 'gzip');
  assert.equal(sniffCompression(zst, 'c'), 'zstd');
  assert.equal(sniffCompression(tar, 'c'), 'none');
  for (const head of [Buffer.from('BZh91AY'), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])]) {
    assert.throws(
      () => sniffCompression(head, 'load x'),
      (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && e.message.startsWith('load x: '),
    );
  }
});

test('mediaTypeCompression knows OCI and Docker layer types', () => {
  assert.equal(mediaTypeCompression(OCI), 'none');
  assert.equal(mediaTypeCompression(`${OCI}+gzip`), 'gzip');
  assert.equal(mediaTypeCompression(`${OCI}+zstd`), 'zstd');
  assert.equal(mediaTypeCompression('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'), 'gzip');
  assert.equal(mediaTypeCompression('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  assert.equal(mediaTypeCompression('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'), 'gzip');
  assert.equal(mediaTypeCompression('application/vnd.oci.image.config.v1+json'), 'unknown');
});
