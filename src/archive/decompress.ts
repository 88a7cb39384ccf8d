// Which decompressor a layer needs, from its first bytes and its media type.
//
// The magic bytes decide: registries and old tools mislabel layers (a gzip blob typed as plain tar,
// "application/vnd.docker.image.rootfs.diff.tar" that is gzipped), and docker and containerd both
// trust the bytes. The media type is only checked for a compression berth cannot read (bzip2, xz:
// allowed by old docker, never by OCI), so that it fails with a clear message rather than as a
// corrupt tar.
// Must never: read the stream; it only looks at the bytes it is given.
import { invalidArgument } from '../errors/errors.ts';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC = [0x42, 0x5a, 0x68];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

function startsWith(head: Uint8Array, magic: number[]): boolean {
  if (head.length < magic.length) return false;
  return magic.every((b, i) => head[i] === b);
}

/** Media types of layers berth can apply (OCI, Docker schema 2, and the nondistributable variants). */
export function mediaTypeCompression(mediaType: string): Compression | 'unknown' {
  const mt = mediaType.trim().toLowerCase();
  if (mt === 'application/vnd.docker.image.rootfs.diff.tar.gzip') return 'gzip';
  if (mt === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip') return 'gzip';
  if (mt === 'application/vnd.docker.image.rootfs.diff.tar') return 'none';
  const oci = /^application\/vnd\.oci\.image\.layer(?:\.nondistributable)?\.v1\.tar(?:\+(gzip|zstd))?$/.exec(mt);
  if (oci) return (oci[1] as Compression | undefined) ?? 'none';
  return 'unknown';
}

/** The compression of a layer whose blob starts with `head` (at least 6 bytes unless shorter). */
export function detectCompression(head: Uint8Array, mediaType: string, context: string): Compression {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd';
  if (startsWith(head, BZIP2_MAGIC) || startsWith(head, XZ_MAGIC)) {
    throw invalidArgument(`${context}: the layer is compressed with bzip2 or xz; berth reads gzip, zstd and uncompressed layers`);
  }
  if (mediaTypeCompression(mediaType) === 'unknown') {
    throw invalidArgument(
      `${context}: unsupported layer media type ${JSON.stringify(mediaType)}; expected an OCI or Docker layer type (tar, tar+gzip, tar+zstd)`,
    );
  }
  return 'none';
}
