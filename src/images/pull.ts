// pull: resolve a reference, fetch its index/manifest, config and layers into the content store
// (bounded parallel downloads, each resumable and verified), unpack the layers into snapshots named
// by chain ID, and record the name in the image store. Everything a pull fetches is held by a lease
// until the image record exists, so a concurrent gc never collects it. A pull killed at any point
// leaves only verified blobs and resumable ingests; pulling again completes the job.
// It must never mount anything: the snapshotter returns mounts, the applier writes into upperDir.
import { randomBytes } from 'node:crypto';
import type { ContentStore } from '../content/content-store.ts';
import { failedPrecondition, invalidArgument, isBerthError, ErrorCode, notFound } from '../errors/errors.ts';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../oci/image-spec.ts';
import { formatPlatform, hostPlatform, parseJSON, platformMatches, selectPlatform, validateImageConfig } from '../oci/image-validate.ts';
import { formatReference, parseReference, type Reference } from '../distribution/reference.ts';
import type { RegistryClient } from '../distribution/registry-client.ts';
import { chainIds as chainIdsOf } from '../snapshots/chain-id.ts';
import { type BlobProgress, fetchBlobToStore } from './fetch-blob.ts';
import type { ImageStore } from './image-store.ts';
import { mapLimit } from './limit.ts';

/** The part of the unpack helper's Snapshotter that pull uses (src/snapshots/snapshotter.ts). */
export type UnpackSnapshotter = {
  /** How the applier writes into upperDir: 'overlay' (an empty upperdir) or 'plain' (a copy of the parent). */
  readonly applyFormat?: 'overlay' | 'plain';
  prepare(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<unknown>;
  commit(name: string, key: string, opts?: { labels?: Record<string, string> }): Promise<void>;
  remove(key: string): Promise<void>;
  stat(key: string): Promise<unknown>;
  upperDir(key: string): Promise<string>;
};
/** src/archive/apply-layer.ts's applyLayer. */
export type ApplyLayerFn = (
  input: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  opts: { mediaType: string; targetDir: string; format: 'overlay' | 'plain'; context: string },
) => Promise<{ diffId: string; size: number }>;

export type PullEvent =
  | { kind: 'resolved'; ref: string; digest: string }
  /** The platform manifest chosen: lets a progress display list every layer before any byte moves. */
  | { kind: 'manifest'; digest: string; config: Descriptor; layers: Descriptor[] }
  | ({ kind: 'blob'; role: 'manifest' | 'config' | 'layer' } & Parameters<BlobProgress>[0])
  | { kind: 'unpack'; digest: string; chainId: string; state: 'exists' | 'unpacking' | 'done' };

export type PullOptions = {
  client: RegistryClient;
  content: ContentStore;
  images: ImageStore;
  platform?: Platform;
  unpack?: { snapshotter: UnpackSnapshotter; applyLayer: ApplyLayerFn };
  concurrency?: number;
  progress?: (ev: PullEvent) => void;
};

export type PullResult = { name: string; target: Descriptor; manifest: Descriptor; config: ImageConfig; configDigest: string; chainId?: string };

export async function pull(reference: string | Reference, opts: PullOptions): Promise<PullResult> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const name = formatReference(ref);
  const { client, content } = opts;
  const want = opts.platform ?? hostPlatform();
  const leaseId = `pull-${process.pid}-${randomBytes(6).toString('hex')}`;
  await content.createLease(leaseId, { expiresAt: new Date(Date.now() + 6 * 3600 * 1000), labels: { ref: name } });
  try {
    const target = await client.resolve(ref);
    opts.progress?.({ kind: 'resolved', ref: name, digest: target.digest });
    let manifestDesc = target;
    let fetched = await storeManifest(client, content, ref, target, leaseId);
    if (fetched.document.kind === 'index') {
      const chosen = selectPlatform(fetched.document.index.manifests, want);
      if (!chosen) {
        const have = fetched.document.index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : '?')).join(', ');
        throw notFound(`pull ${name}: no manifest for platform ${formatPlatform(want)} (the index has: ${have || 'none'})`);
      }
      manifestDesc = chosen;
      fetched = await storeManifest(client, content, ref, chosen, leaseId);
      if (fetched.document.kind !== 'manifest') throw invalidArgument(`pull ${name}: ${chosen.digest} is a nested index; expected an image manifest`);
    }
    const manifest = (fetched.document as { manifest: ImageManifest }).manifest;
    opts.progress?.({ kind: 'manifest', digest: manifestDesc.digest, config: manifest.config, layers: manifest.layers });
    const blobEvents = (role: 'config' | 'layer'): BlobProgress => (ev) => opts.progress?.({ kind: 'blob', role, ...ev });
    await fetchBlobToStore(client, content, ref, manifest.config, { leaseId, progress: blobEvents('config') });
    const config = validateImageConfig(parseJSON(await content.readAll(manifest.config.digest), `pull ${name}: config`), `pull ${name}: config`);
    if (opts.platform && !platformMatches(want, { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }))
      throw notFound(`pull ${name}: image is ${config.os}/${config.architecture}${config.variant ? `/${config.variant}` : ''}, not ${formatPlatform(want)}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length)
      throw invalidArgument(`pull ${name}: manifest has ${manifest.layers.length} layers but config.rootfs.diff_ids has ${diffIds.length}`);

    await mapLimit(manifest.layers, opts.concurrency ?? 3, (layer) =>
      fetchBlobToStore(client, content, ref, layer, { leaseId, progress: blobEvents('layer') }),
    );

    let chainId: string | undefined;
    if (opts.unpack) chainId = await unpackLayers(name, manifest.layers, diffIds, content, opts.unpack, opts.progress);
    await opts.images.put(name, target);
    const result: PullResult = { name, target, manifest: manifestDesc, config, configDigest: manifest.config.digest };
    if (chainId) result.chainId = chainId;
    return result;
  } finally {
    await content.deleteLease(leaseId).catch(() => {});
  }
}

async function storeManifest(client: RegistryClient, content: ContentStore, ref: Reference, desc: Descriptor, leaseId: string) {
  await content.addResource(leaseId, desc.digest);
  const fetched = await client.fetchManifest(ref, desc);
  if (!(await content.exists(desc.digest))) {
    try {
      const w = await content.writer(`manifest-${desc.digest.replace(':', '-')}`, { digest: desc.digest, size: fetched.bytes.length });
      try {
        if (w.offset > 0) await w.truncate();
        await w.write(fetched.bytes);
        await w.commit();
      } catch (e) {
        await w.abort();
        throw e;
      }
    } catch (e) {
      if (!isBerthError(e, ErrorCode.AlreadyExists)) throw e;
    }
  }
  return fetched;
}

/** Applies layers bottom-up into snapshots named by chain ID; a layer already unpacked is skipped. */
export async function unpackLayers(
  name: string,
  layers: Descriptor[],
  diffIds: string[],
  content: ContentStore,
  unpack: { snapshotter: UnpackSnapshotter; applyLayer: ApplyLayerFn },
  progress?: (ev: PullEvent) => void,
): Promise<string | undefined> {
  const { snapshotter, applyLayer } = unpack;
  const chain = chainIdsOf(diffIds);
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const chainId = chain[i]!;
    const parent = i > 0 ? chain[i - 1] : undefined;
    if (await snapshotter.stat(chainId).then(() => true, () => false)) {
      progress?.({ kind: 'unpack', digest: layer.digest, chainId, state: 'exists' });
      continue;
    }
    progress?.({ kind: 'unpack', digest: layer.digest, chainId, state: 'unpacking' });
    const key = `extract-${randomBytes(6).toString('hex')}-${chainId}`;
    await snapshotter.prepare(key, parent, { labels: { 'berth.io/layer': layer.digest } });
    try {
      const targetDir = await snapshotter.upperDir(key);
      const { diffId } = await applyLayer(await content.read(layer.digest), {
        mediaType: layer.mediaType,
        targetDir,
        format: snapshotter.applyFormat ?? 'overlay',
        context: `image ${name} layer ${layer.digest}`,
      });
      if (diffId !== diffIds[i])
        throw failedPrecondition(`image ${name} layer ${layer.digest}: uncompressed digest ${diffId} does not match config.rootfs.diff_ids[${i}] ${diffIds[i]}`);
      await snapshotter.commit(chainId, key, { labels: { 'berth.io/layer': layer.digest } });
    } catch (e) {
      await snapshotter.remove(key).catch(() => {});
      // Another unpack of the same image may have committed this chain ID meanwhile.
      if (await snapshotter.stat(chainId).then(() => false, () => true)) throw e;
    }
    progress?.({ kind: 'unpack', digest: layer.digest, chainId, state: 'done' });
  }
  return chain.at(-1);
}
