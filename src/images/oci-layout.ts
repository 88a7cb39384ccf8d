// The OCI image layout (image-spec image-layout.md), as a tar (save --format oci-archive) and read
// back from a tar or a directory (load): an `oci-layout` file, `index.json` whose descriptors name
// images with annotations, and every blob under blobs/<algorithm>/<hex>.
//
// Names: each index.json entry carries `org.opencontainers.image.ref.name` (the tag, as containerd
// and docker write it, which is what `skopeo … oci-archive:FILE:TAG` selects) and
// `io.containerd.image.name` (the full name). On load the full name wins; a ref.name that is itself
// a full reference (has a '/') is used as one; a bare ref.name (a tag) becomes a tag of
// localhost/unnamed, since a tag alone names no repository.
// Must never: trust a blob without verifying it (ArchiveSource.ingest does), or read outside the archive.
import type { ContentStore } from '../content/content-store.ts';
import { invalidArgument } from '../errors/errors.ts';
import { formatReference, parseReference } from '../distribution/reference.ts';
import {
  type Descriptor,
  type ImageIndex,
  isIndexMediaType,
  isManifestMediaType,
  MediaType,
} from '../oci/image-spec.ts';
import { parseDigest, parseJSON, parseManifestDocument, validateIndex } from '../oci/image-validate.ts';
import type { ArchiveSource } from './archive-source.ts';
import type { TarWriter } from './tar-writer.ts';

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';
export const LAYOUT_VERSION = '1.0.0';

export type LoadedImage = { names: string[]; target: Descriptor };

export function blobPath(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `blobs/${algorithm}/${encoded}`;
}

export async function isOciLayout(src: ArchiveSource): Promise<boolean> {
  return (await src.has('oci-layout')) && (await src.has('index.json'));
}

/** Writes an OCI image layout of `items` (each a name and the descriptor it points at) into `tar`. */
export async function writeOciLayout(
  tar: TarWriter,
  content: ContentStore,
  items: { name: string; target: Descriptor }[],
): Promise<void> {
  const manifests: Descriptor[] = items.map((it) => {
    const ref = parseReference(it.name);
    const annotations: Record<string, string> = { [CONTAINERD_NAME]: formatReference(ref) };
    if (ref.tag && !ref.digest) annotations[REF_NAME] = ref.tag;
    return { mediaType: it.target.mediaType, digest: it.target.digest, size: it.target.size, annotations };
  });
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests };
  await tar.addBuffer('oci-layout', JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
  await tar.addBuffer('index.json', JSON.stringify(index));
  await tar.addDirectory('blobs');
  const dirs = new Set<string>();
  const written = new Set<string>();
  // Walk order (manifests before their blobs) is not required by the spec but reads naturally.
  const blobs = await content.reachable(items.map((i) => i.target));
  for (const digest of blobs) {
    if (written.has(digest)) continue;
    written.add(digest);
    const path = blobPath(digest);
    const dir = path.slice(0, path.lastIndexOf('/'));
    if (!dirs.has(dir)) {
      await tar.addDirectory(dir);
      dirs.add(dir);
    }
    const info = await content.info(digest);
    await tar.addStream(path, info.size, await content.read(digest));
  }
}

function namesOf(desc: Descriptor, where: string): string[] {
  const full = desc.annotations?.[CONTAINERD_NAME];
  const refName = desc.annotations?.[REF_NAME];
  const parse = (s: string, field: string) => {
    try {
      return formatReference(parseReference(s));
    } catch (e) {
      throw invalidArgument(`${where}.annotations["${field}"]: ${(e as Error).message}`);
    }
  };
  if (full) return [parse(full, CONTAINERD_NAME)];
  if (!refName) return [];
  if (refName.includes('/')) return [parse(refName, REF_NAME)];
  return [parse(`localhost/unnamed:${refName}`, REF_NAME)];
}

/** Reads an OCI layout: verifies and stores every blob each index.json entry needs; returns names and targets. */
export async function readOciLayout(
  src: ArchiveSource,
  content: ContentStore,
  _leaseId: string,
): Promise<LoadedImage[]> {
  const what = `load ${src.label}`;
  const layout = parseJSON(await src.readSmall('oci-layout', 'the oci-layout file'), `${what}: oci-layout`) as {
    imageLayoutVersion?: unknown;
  };
  if (typeof layout !== 'object' || layout === null || layout.imageLayoutVersion !== LAYOUT_VERSION)
    throw invalidArgument(`${what}: oci-layout: expected {"imageLayoutVersion": "${LAYOUT_VERSION}"}`);
  const index = validateIndex(
    parseJSON(await src.readSmall('index.json', 'index.json'), `${what}: index.json`),
    `${what}: index.json`,
  );
  if (index.manifests.length === 0) throw invalidArgument(`${what}: index.json lists no images`);

  const done = new Set<string>();
  const ingestTree = async (desc: Descriptor, role: string, depth: number): Promise<void> => {
    if (depth > 4) throw invalidArgument(`${what}: ${role}: indexes nested too deeply`);
    const path = blobPath(desc.digest);
    if (!done.has(desc.digest)) {
      await src.ingest(path, role, { digest: desc.digest, size: desc.size });
      done.add(desc.digest);
    }
    if (!isIndexMediaType(desc.mediaType) && !isManifestMediaType(desc.mediaType)) return;
    const doc = parseManifestDocument(await content.readAll(desc.digest), desc.mediaType, `${what}: ${path}`);
    if (doc.kind === 'index') {
      for (const [i, m] of doc.index.manifests.entries())
        await ingestTree(m, `manifests[${i}] of index ${desc.digest}`, depth + 1);
      return;
    }
    await ingestTree(doc.manifest.config, `config of manifest ${desc.digest}`, depth + 1);
    for (const [i, l] of doc.manifest.layers.entries())
      await ingestTree(l, `layers[${i}] of manifest ${desc.digest}`, depth + 1);
  };

  const out: LoadedImage[] = [];
  for (const [i, m] of index.manifests.entries()) {
    const where = `${what}: index.json manifests[${i}]`;
    if (!isIndexMediaType(m.mediaType) && !isManifestMediaType(m.mediaType))
      throw invalidArgument(`${where}: media type ${m.mediaType} is not an image manifest or index`);
    await ingestTree(m, `index.json manifests[${i}]`, 0);
    out.push({ names: namesOf(m, where), target: { mediaType: m.mediaType, digest: m.digest, size: m.size } });
  }
  return out;
}
