// Which decompressor a layer needs.
//
// A layer's declared media type decides (OCI image-spec: the type says how to read the blob), as
// containerd's applier does: a type berth does not know is refused before any byte is unpacked, and
// bytes that do not match the declared compression are an error, never silently read another way.
// Only where nothing is declared (a tarball given to import or load, a docker-archive's layer.tar)
// do the magic bytes decide.
// Must never: read the stream; it only looks at the bytes it is given.
import { invalidArgument } from '../errors/errors.ts';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC = [0x42, 0x5a, 0x68];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/** What the spec calls each compression, for messages. */
const LAYER_FORMAT: Record<Compression, string> = { gzip: 'tar+gzip', zstd: 'tar+zstd', none: 'tar' };

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

/** The message for a layer whose media type berth cannot unpack; `what` names the image and layer. */
export function unknownLayerTypeMessage(what: string, mediaType: string): string {
  return `${what} has media type ${JSON.stringify(mediaType)}, which is not a layer type berth can unpack (expected an OCI or Docker layer: tar, tar+gzip or tar+zstd, or their nondistributable variants)`;
}

/**
 * Refuses an image whose layers include a media type berth cannot unpack, before anything is
 * unpacked (or downloaded): `image` names it in the message, with the layer's place and digest.
 */
export function checkLayerTypes(image: string, layers: ReadonlyArray<{ mediaType: string; digest: string }>): void {
  layers.forEach((l, i) => {
    if (mediaTypeCompression(l.mediaType) === 'unknown') {
      throw invalidArgument(
        unknownLayerTypeMessage(`image ${image}: layer ${i + 1} of ${layers.length} (${l.digest})`, l.mediaType),
      );
    }
  });
}

/** What the first bytes are, by their magic: a compression berth reads, another one, or (none) a tar. */
function sniff(head: Uint8Array): Compression | 'bzip2' | 'xz' {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd';
  if (startsWith(head, BZIP2_MAGIC)) return 'bzip2';
  if (startsWith(head, XZ_MAGIC)) return 'xz';
  return 'none';
}

/**
 * The compression of a tar given without a declared type (an import or load tarball, a
 * docker-archive's layer), from its first bytes (at least 6 unless it is shorter).
 */
export function sniffCompression(head: Uint8Array, context: string): Compression {
  const found = sniff(head);
  if (found === 'bzip2' || found === 'xz') {
    throw invalidArgument(
      `${context}: the tar is compressed with ${found}; berth reads gzip, zstd and uncompressed tars`,
    );
  }
  return found;
}

/**
 * The compression of a layer declared as `mediaType` whose blob starts with `head`: the declared
 * type's, after checking that the bytes are of that kind.
 */
export function layerCompression(head: Uint8Array, mediaType: string, context: string): Compression {
  const declared = mediaTypeCompression(mediaType);
  if (declared === 'unknown') throw invalidArgument(unknownLayerTypeMessage(context, mediaType));
  const found = sniff(head);
  // An empty blob is an empty tar stream only when nothing is compressed.
  if (found !== declared && !(declared === 'none' && head.length === 0)) {
    const what = found === 'none' ? 'not compressed (or not a known compression)' : `${found}-compressed`;
    throw invalidArgument(
      `${context}: the media type ${JSON.stringify(mediaType)} declares a ${LAYER_FORMAT[declared]} layer, but the blob's bytes are ${what}; the declared type decides how a layer is read`,
    );
  }
  return declared;
}
