// docker-archive: the tarball `docker save` writes and `docker load` reads.
//   manifest.json   [{ "Config": "<hex>.json", "RepoTags": ["busybox:latest"], "Layers": ["<hex>.tar", …] }]
//   <hex>.json      the image config, named by its sha256
//   <hex>.tar       each layer as an uncompressed tar, named by its DiffID (as skopeo writes them)
//   repositories    the legacy { repository: { tag: top layer } } map
// berth writes layers uncompressed, as docker does: the tar header needs each layer's size before
// its bytes, so a compressed layer is decompressed twice (once to measure and check its DiffID,
// once to write); nothing is spooled to disk or held in memory.
// Reading accepts what docker, skopeo and berth write: any paths (docker's <id>/layer.tar, docker
// 25's blobs/sha256/<hex>), symlinked layers, and gzip'd or zstd'd layers; each layer's DiffID is
// computed and checked against the config's rootfs.diff_ids before anything is named.
// Must never: trust a path in manifest.json (ArchiveSource refuses ones that leave the archive).
import type { ContentStore } from '../content/content-store.ts';
import { writeBlob } from '../content/write-blob.ts';
import { familiarReference, formatReference, parseReference } from '../distribution/reference.ts';
import { invalidArgument } from '../errors/errors.ts';
import { type Descriptor, type ImageConfig, type ImageManifest, MediaType } from '../oci/image-spec.ts';
import { digestOf, parseDigest, parseJSON, validateImageConfig } from '../oci/image-validate.ts';
import type { ArchiveSource } from './archive-source.ts';
import { decompressed, digestStream } from './layer-stream.ts';
import type { LoadedImage } from './oci-layout.ts';
import type { TarWriter } from './tar-writer.ts';

export type DockerManifestEntry = { Config: string; RepoTags: string[] | null; Layers: string[] };

const hexOf = (digest: string) => parseDigest(digest).encoded;

/** Writes a docker-archive of images (already resolved to one platform manifest each). */
export async function writeDockerArchive(
  tar: TarWriter,
  content: ContentStore,
  images: { name: string; manifest: ImageManifest; config: ImageConfig }[],
): Promise<void> {
  const written = new Set<string>();
  const entries: DockerManifestEntry[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const img of images) {
    const what = `save ${img.name}`;
    const cfgName = `${hexOf(img.manifest.config.digest)}.json`;
    if (!written.has(cfgName)) {
      await tar.addBuffer(cfgName, await content.readAll(img.manifest.config.digest));
      written.add(cfgName);
    }
    const diffIds = img.config.rootfs.diff_ids;
    if (diffIds.length !== img.manifest.layers.length)
      throw invalidArgument(
        `${what}: manifest has ${img.manifest.layers.length} layers but config.rootfs.diff_ids has ${diffIds.length}`,
      );
    const layers: string[] = [];
    for (const [i, layer] of img.manifest.layers.entries()) {
      const name = `${hexOf(diffIds[i]!)}.tar`;
      layers.push(name);
      if (written.has(name)) continue;
      const context = `${what}: layer ${layer.digest}`;
      // First pass: the uncompressed size (needed in the tar header) and a check of the DiffID.
      const first = await decompressed(await content.read(layer.digest), layer.mediaType, context);
      const measured = await digestStream(first.stream);
      if (measured.digest !== diffIds[i])
        throw invalidArgument(
          `${context}: uncompressed digest ${measured.digest} does not match config.rootfs.diff_ids[${i}] ${diffIds[i]}`,
        );
      const second = await decompressed(await content.read(layer.digest), layer.mediaType, context);
      await tar.addStream(name, measured.size, second.stream);
      written.add(name);
    }
    const ref = parseReference(img.name);
    const repoTags = ref.digest ? [] : [familiarReference(ref)];
    entries.push({ Config: cfgName, RepoTags: repoTags, Layers: layers });
    if (!ref.digest && ref.tag && layers.length > 0) {
      const repo = familiarReference({ registry: ref.registry, repository: ref.repository });
      repositories[repo] = { ...(repositories[repo] ?? {}), [ref.tag]: layers.at(-1)!.replace(/\.tar$/, '') };
    }
  }
  await tar.addBuffer('manifest.json', JSON.stringify(entries));
  await tar.addBuffer('repositories', JSON.stringify(repositories));
}

function parseManifestJson(bytes: Buffer, what: string): DockerManifestEntry[] {
  const v = parseJSON(bytes, `${what}: manifest.json`);
  if (!Array.isArray(v) || v.length === 0)
    throw invalidArgument(`${what}: manifest.json: expected a non-empty array of images`);
  return v.map((e, i) => {
    const at = `${what}: manifest.json[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw invalidArgument(`${at}: expected an object`);
    const o = e as Record<string, unknown>;
    if (typeof o.Config !== 'string') throw invalidArgument(`${at}.Config: expected a path`);
    if (!Array.isArray(o.Layers) || o.Layers.some((l) => typeof l !== 'string'))
      throw invalidArgument(`${at}.Layers: expected an array of paths`);
    if (
      o.RepoTags !== undefined &&
      o.RepoTags !== null &&
      (!Array.isArray(o.RepoTags) || o.RepoTags.some((t) => typeof t !== 'string'))
    )
      throw invalidArgument(`${at}.RepoTags: expected an array of names`);
    return {
      Config: o.Config,
      RepoTags: (o.RepoTags as string[] | null | undefined) ?? null,
      Layers: o.Layers as string[],
    };
  });
}

/** Reads a docker-archive: verifies each layer's DiffID, stores layers, config and a generated Docker schema 2 manifest. */
export async function readDockerArchive(
  src: ArchiveSource,
  content: ContentStore,
  leaseId: string,
): Promise<LoadedImage[]> {
  const what = `load ${src.label}`;
  const entries = parseManifestJson(await src.readSmall('manifest.json', 'manifest.json'), what);
  const out: LoadedImage[] = [];
  for (const [i, e] of entries.entries()) {
    const at = `manifest.json[${i}]`;
    const cfgBytes = await src.readSmall(e.Config, `${at}.Config`);
    const cfgDigest = digestOf(cfgBytes);
    const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(e.Config);
    if (named && `sha256:${named[1]}` !== cfgDigest)
      throw invalidArgument(
        `${what}: ${at}.Config ${JSON.stringify(e.Config)}: content does not match its name (sha256 is ${cfgDigest})`,
      );
    const config = validateImageConfig(parseJSON(cfgBytes, `${what}: ${e.Config}`), `${what}: ${e.Config}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== e.Layers.length)
      throw invalidArgument(
        `${what}: ${at}.Layers has ${e.Layers.length} layers but ${e.Config} rootfs.diff_ids has ${diffIds.length}`,
      );
    const layers: Descriptor[] = [];
    let oci = false;
    for (const [j, path] of e.Layers.entries()) {
      const role = `${at}.Layers[${j}]`;
      const blob = await src.digest(path, role);
      const un = await decompressed(await src.open(path, role), undefined, `${what}: ${path}`);
      let diff = blob.digest;
      if (un.compression === 'none') un.stream.destroy();
      else diff = (await digestStream(un.stream)).digest;
      if (diff !== diffIds[j])
        throw invalidArgument(
          `${what}: ${role} ${JSON.stringify(path)}: uncompressed digest ${diff} does not match ${e.Config} rootfs.diff_ids[${j}] ${diffIds[j]}`,
        );
      await src.ingest(path, role, blob);
      let mediaType: string = MediaType.DockerLayer;
      if (un.compression === 'gzip') mediaType = MediaType.DockerLayerGzip;
      if (un.compression === 'zstd') {
        mediaType = MediaType.LayerZstd;
        oci = true;
      }
      layers.push({ mediaType, digest: blob.digest, size: blob.size });
    }
    const cfg = await writeBlob(content, cfgBytes);
    await content.addResource(leaseId, cfg.digest);
    // Docker schema 2 has no zstd layer type: such an image gets an OCI manifest.
    const manifest: ImageManifest = oci
      ? {
          schemaVersion: 2,
          mediaType: MediaType.ImageManifest,
          config: { mediaType: MediaType.ImageConfig, ...cfg },
          layers: layers.map((l) => ({ ...l, mediaType: ociLayerType(l.mediaType) })),
        }
      : {
          schemaVersion: 2,
          mediaType: MediaType.DockerManifest,
          config: { mediaType: MediaType.DockerConfig, ...cfg },
          layers,
        };
    const bytes = JSON.stringify(manifest);
    await content.addResource(leaseId, digestOf(bytes));
    const m = await writeBlob(content, bytes);
    const names = (e.RepoTags ?? []).map((t, k) => {
      try {
        return formatReference(parseReference(t));
      } catch (err) {
        throw invalidArgument(`${what}: ${at}.RepoTags[${k}]: ${(err as Error).message}`);
      }
    });
    out.push({ names, target: { mediaType: manifest.mediaType!, ...m } });
  }
  return out;
}

function ociLayerType(docker: string): string {
  if (docker === MediaType.DockerLayerGzip) return MediaType.LayerGzip;
  if (docker === MediaType.DockerLayer) return MediaType.Layer;
  return docker;
}
