// pull: resolve a reference, fetch its index/manifest and config, then its layers into the content
// store (bounded parallel downloads, each resumable and verified) while unpacking them into
// snapshots named by chain ID, and record the name in the image store. Everything a pull fetches is
// held by a lease until the image record exists, so a concurrent gc never collects it.
//
// Unpacking while downloading: each layer's bytes are teed (layer-tee.ts) into the content store's
// writer and into applyLayer. A layer's snapshot is committed only once both its blob digest is
// verified (the store's commit) and its DiffID matches config.rootfs.diff_ids[i] — which is why the
// config is fetched before any layer. Snapshots are committed in order, each on the previous chain.
// - 'overlay' snapshotters: a layer's upperdir does not depend on its parent's content, so every
//   layer is extracted at once (bounded) into a snapshot prepared without a parent, and committed
//   onto its parent chain afterwards (commit's `parent` option).
// - 'plain' (copying) snapshotters: layer i needs the committed copy of 0..i-1, so layers are
//   applied one after another from the store, while later layers still download.
// A pull killed at any point leaves only verified blobs, resumable ingests and uncommitted active
// snapshots (extract-<pid>-*, swept by the next pull once that pid is gone), never a committed
// snapshot that was not verified; pulling again completes the job.
// It must never mount anything: the snapshotter returns mounts, the applier writes into upperDir.
import { checkLayerTypes } from '../archive/decompress.ts';
import { relocateImplicitDirs } from '../archive/lower-symlinks.ts';
import { pidAlive, selfIdentity } from '../sys/procfs.ts';
import { randomBytes } from 'node:crypto';
import type { ContentStore } from '../content/content-store.ts';
import { writeBlob } from '../content/write-blob.ts';
import { failedPrecondition, invalidArgument, isBerthError, ErrorCode, notFound } from '../errors/errors.ts';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../oci/image-spec.ts';
import {
  type DigestAlgorithm,
  formatPlatform,
  hostPlatform,
  parseDigest,
  parseJSON,
  platformMatches,
  validateImageConfig,
} from '../oci/image-validate.ts';
import { formatReference, parseReference, type Reference } from '../distribution/reference.ts';
import type { RegistryClient } from '../distribution/registry-client.ts';
import { chainIds as chainIdsOf } from '../snapshots/chain-id.ts';
import { type BlobProgress, fetchBlobToStore } from './fetch-blob.ts';
import type { ImageStore } from './image-store.ts';
import { LayerTee, deferred } from './layer-tee.ts';
import { mapLimit } from './limit.ts';
import { platformManifest } from './platform-manifest.ts';

/** The part of the unpack helper's Snapshotter that pull uses (src/snapshots/snapshotter.ts). */
export type UnpackSnapshotter = {
  /** How the applier writes into upperDir: 'overlay' (an empty upperdir) or 'plain' (a copy of the parent). */
  readonly applyFormat?: 'overlay' | 'plain';
  prepare(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<unknown>;
  /** `parent`: commit onto it a snapshot prepared without one (overlay format only). */
  commit(name: string, key: string, opts?: { labels?: Record<string, string>; parent?: string }): Promise<void>;
  remove(key: string): Promise<void>;
  stat(key: string): Promise<unknown>;
  upperDir(key: string): Promise<string>;
  /**
   * Overlay format: the layer directories of committed `name` and its ancestors, nearest first, so
   * that a layer's directories over a lower symlink can be moved where it points (lower-symlinks.ts).
   */
  lowerDirs?(name: string): Promise<string[]>;
  /** When present, pull removes the extract snapshots of pulls that were killed. */
  list?(): Promise<{ name: string; kind: string }[]>;
};
/** src/archive/apply-layer.ts's applyLayer. */
export type ApplyLayerFn = (
  input: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  opts: { mediaType: string; targetDir: string; format: 'overlay' | 'plain'; context: string },
) => Promise<{ diffId: string; size: number; implicitDirs?: string[] }>;

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

export type PullResult = {
  name: string;
  target: Descriptor;
  manifest: Descriptor;
  config: ImageConfig;
  configDigest: string;
  chainId?: string;
};

export async function pull(reference: string | Reference, opts: PullOptions): Promise<PullResult> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const name = formatReference(ref);
  const { client, content } = opts;
  const want = opts.platform ?? hostPlatform();
  const leaseId = `pull-${process.pid}-${randomBytes(6).toString('hex')}`;
  await content.createLease(leaseId, {
    expiresAt: new Date(Date.now() + 6 * 3600 * 1000),
    labels: { ref: name },
    kind: 'pull',
    owner: selfIdentity(),
  });
  try {
    const target = await client.resolve(ref);
    opts.progress?.({ kind: 'resolved', ref: name, digest: target.digest });
    let manifestDesc = target;
    const top = (await storeManifest(client, content, ref, target, leaseId)).document;
    let manifest: ImageManifest;
    if (top.kind === 'index') {
      const open = async (d: Descriptor) => (await storeManifest(client, content, ref, d, leaseId)).document;
      const chosen = await platformManifest(top.index, target.digest, want, `pull ${name}`, { open });
      manifestDesc = chosen.descriptor;
      manifest = chosen.manifest;
    } else {
      manifest = top.manifest;
    }
    opts.progress?.({
      kind: 'manifest',
      digest: manifestDesc.digest,
      config: manifest.config,
      layers: manifest.layers,
    });
    const blobEvents =
      (role: 'config' | 'layer'): BlobProgress =>
      (ev) =>
        opts.progress?.({ kind: 'blob', role, ...ev });
    await fetchBlobToStore(client, content, ref, manifest.config, {
      leaseId,
      progress: blobEvents('config'),
      what: `pull ${name}: the config ${manifest.config.digest}`,
    });
    // Refused before any layer is fetched or unpacked: the declared type decides how a layer is read.
    if (opts.unpack) checkLayerTypes(name, manifest.layers);
    const config = validateImageConfig(
      parseJSON(await content.readAll(manifest.config.digest), `pull ${name}: config`),
      `pull ${name}: config`,
    );
    if (
      opts.platform &&
      !platformMatches(want, {
        os: config.os,
        architecture: config.architecture,
        ...(config.variant ? { variant: config.variant } : {}),
      })
    )
      throw notFound(
        `pull ${name}: image is ${config.os}/${config.architecture}${config.variant ? `/${config.variant}` : ''}, not ${formatPlatform(want)}`,
      );
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length)
      throw invalidArgument(
        `pull ${name}: manifest has ${manifest.layers.length} layers but config.rootfs.diff_ids has ${diffIds.length}`,
      );

    const concurrency = opts.concurrency ?? 3;
    const n = manifest.layers.length;
    const fetchLayer = (i: number, onBytes?: (chunk: Buffer, offset: number) => Promise<void>) => {
      const layer = manifest.layers[i]!;
      const what = `pull ${name}: layer ${i + 1} of ${n} (${layer.digest})`;
      return fetchBlobToStore(client, content, ref, layer, {
        leaseId,
        progress: blobEvents('layer'),
        what,
        ...(onBytes ? { onBytes } : {}),
      });
    };
    let chainId: string | undefined;
    if (!opts.unpack || manifest.layers.length === 0) {
      await mapLimit(manifest.layers, concurrency, (_layer, i) => fetchLayer(i));
    } else {
      const job: UnpackJob = {
        name,
        layers: manifest.layers,
        diffIds,
        content,
        unpack: opts.unpack,
        concurrency,
        fetchLayer,
      };
      if (opts.progress) job.progress = opts.progress;
      chainId =
        (opts.unpack.snapshotter.applyFormat ?? 'overlay') === 'overlay'
          ? await unpackSideBySide(job)
          : await unpackInOrder(job);
    }
    await opts.images.put(name, target);
    const result: PullResult = { name, target, manifest: manifestDesc, config, configDigest: manifest.config.digest };
    if (chainId) result.chainId = chainId;
    return result;
  } finally {
    await content.deleteLease(leaseId).catch(() => {});
  }
}

async function storeManifest(
  client: RegistryClient,
  content: ContentStore,
  ref: Reference,
  desc: Descriptor,
  leaseId: string,
) {
  await content.addResource(leaseId, desc.digest);
  const fetched = await client.fetchManifest(ref, desc);
  // fetchManifest verified the bytes against desc.digest, so writeBlob's digest is the same one.
  await writeBlob(content, fetched.bytes, parseDigest(desc.digest).algorithm as DigestAlgorithm);
  return fetched;
}

type UnpackJob = {
  name: string;
  layers: Descriptor[];
  diffIds: string[];
  content: ContentStore;
  unpack: { snapshotter: UnpackSnapshotter; applyLayer: ApplyLayerFn };
  concurrency: number;
  fetchLayer: (i: number, onBytes?: (chunk: Buffer, offset: number) => Promise<void>) => Promise<void>;
  progress?: (ev: PullEvent) => void;
};

const exists = (sn: UnpackSnapshotter, key: string) =>
  sn.stat(key).then(
    () => true,
    () => false,
  );

/** How many bottom layers are already unpacked (a committed chain implies its parents). */
async function unpackedPrefix(sn: UnpackSnapshotter, chain: string[]): Promise<number> {
  for (let i = chain.length - 1; i >= 0; i--) if (await exists(sn, chain[i]!)) return i + 1;
  return 0;
}

function checkDiffId(job: UnpackJob, i: number, diffId: string): void {
  if (diffId !== job.diffIds[i])
    throw failedPrecondition(
      `image ${job.name} layer ${job.layers[i]!.digest}: uncompressed digest ${diffId} does not match config.rootfs.diff_ids[${i}] ${job.diffIds[i]}`,
    );
}

function applyOptions(job: UnpackJob, i: number, targetDir: string) {
  const layer = job.layers[i]!;
  return {
    mediaType: layer.mediaType,
    targetDir,
    format: job.unpack.snapshotter.applyFormat ?? 'overlay',
    context: `image ${job.name} layer ${layer.digest}`,
  } as const;
}

/**
 * Downloads layer i into the store and applies it into `targetDir` at the same time; resolves once
 * the blob is committed (digest verified) and the DiffID matches. Returns the directories the
 * layer made only as parents (see relocateImplicitDirs).
 */
async function fetchAndApply(job: UnpackJob, i: number, targetDir: string): Promise<string[]> {
  const layer = job.layers[i]!;
  const tee = new LayerTee();
  const fetching = job
    .fetchLayer(i, (chunk, offset) => tee.offer(chunk, offset))
    .then(
      () => tee.end(),
      (e: unknown) => {
        tee.fail(e);
        throw e;
      },
    );
  const applying = job.unpack.applyLayer(
    tee.input(() => job.content.read(layer.digest)),
    applyOptions(job, i, targetDir),
  );
  applying.catch((e: unknown) =>
    tee.cancel(`unpacking ${layer.digest} failed: ${e instanceof Error ? e.message : String(e)}`),
  );
  const [fetched, applied] = await Promise.allSettled([fetching, applying]);
  // A download error explains an applier that ran out of input; an applier error (a hostile
  // entry) explains a download that was stopped.
  if (
    fetched.status === 'rejected' &&
    (applied.status === 'fulfilled' || !isBerthError(fetched.reason, ErrorCode.FailedPrecondition))
  )
    throw fetched.reason;
  if (applied.status === 'rejected') throw applied.reason;
  if (fetched.status === 'rejected') throw fetched.reason;
  checkDiffId(job, i, applied.value.diffId);
  return applied.value.implicitDirs ?? [];
}

/**
 * Overlay format, before layer i is committed onto chain[i-1]: its directories made in passing
 * where a lower layer has a symlink move to where the symlink points (lower-symlinks.ts).
 */
async function relocateOverLowers(
  job: UnpackJob,
  chain: string[],
  i: number,
  key: string,
  implicitDirs: string[],
): Promise<void> {
  const { snapshotter } = job.unpack;
  if (i === 0 || implicitDirs.length === 0 || !snapshotter.lowerDirs) return;
  await relocateImplicitDirs(
    await snapshotter.upperDir(key),
    implicitDirs,
    await snapshotter.lowerDirs(chain[i - 1]!),
    applyOptions(job, i, '').context,
  );
}

/** Commits `key` as chain[i]; a chain ID another pull committed meanwhile is as good. */
async function commitLayer(
  job: UnpackJob,
  chain: string[],
  i: number,
  key: string,
  parent: string | undefined,
): Promise<void> {
  const { snapshotter } = job.unpack;
  const labels = { 'berth.io/layer': job.layers[i]!.digest };
  try {
    await snapshotter.commit(chain[i]!, key, parent === undefined ? { labels } : { labels, parent });
  } catch (e) {
    await snapshotter.remove(key).catch(() => {});
    if (!(await exists(snapshotter, chain[i]!))) throw e;
  }
  job.progress?.({ kind: 'unpack', digest: job.layers[i]!.digest, chainId: chain[i]!, state: 'done' });
}

const extractKey = (chainId: string) => `extract-${process.pid}-${randomBytes(6).toString('hex')}-${chainId}`;

/**
 * Removes the active extract snapshots that a killed pull left (their pid is gone), so they do not
 * pile up. A live pid, even a reused one, keeps its snapshots: sweeping too little is safe.
 */
async function sweepDeadExtracts(sn: UnpackSnapshotter): Promise<void> {
  if (!sn.list) return;
  for (const s of await sn.list()) {
    const m = /^extract-(\d+)-/.exec(s.name);
    if (s.kind !== 'active' || !m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !pidAlive(pid)) await sn.remove(s.name).catch(() => {});
  }
}

/** Overlay: every layer downloads and extracts at once into a parentless snapshot; commits go in order. */
async function unpackSideBySide(job: UnpackJob): Promise<string | undefined> {
  const { snapshotter } = job.unpack;
  const chain = chainIdsOf(job.diffIds);
  await sweepDeadExtracts(snapshotter);
  const have = await unpackedPrefix(snapshotter, chain);
  const n = job.layers.length;
  const ready = job.layers.map(() => deferred<{ key: string; implicitDirs: string[] } | undefined>());
  // Keys extracted and verified but not yet committed: removed if the pull fails.
  const uncommitted = new Set<string>();
  const work = mapLimit(job.layers, job.concurrency, async (layer, i) => {
    try {
      if (i < have) {
        await job.fetchLayer(i);
        return ready[i]!.resolve(undefined);
      }
      job.progress?.({ kind: 'unpack', digest: layer.digest, chainId: chain[i]!, state: 'unpacking' });
      const key = extractKey(chain[i]!);
      await snapshotter.prepare(key, undefined, { labels: { 'berth.io/layer': layer.digest } });
      let implicitDirs: string[];
      try {
        implicitDirs = await fetchAndApply(job, i, await snapshotter.upperDir(key));
      } catch (e) {
        await snapshotter.remove(key).catch(() => {});
        throw e;
      }
      uncommitted.add(key);
      ready[i]!.resolve({ key, implicitDirs });
    } catch (e) {
      ready[i]!.reject(e);
      throw e;
    }
  });
  const committing = (async () => {
    for (let i = 0; i < n; i++) {
      const extracted = await ready[i]!.promise;
      if (extracted === undefined) {
        job.progress?.({ kind: 'unpack', digest: job.layers[i]!.digest, chainId: chain[i]!, state: 'exists' });
        continue;
      }
      const { key } = extracted;
      // The lower layers are all committed now: what this layer put under their symlinks can move.
      await relocateOverLowers(job, chain, i, key, extracted.implicitDirs);
      uncommitted.delete(key);
      await commitLayer(job, chain, i, key, i > 0 ? chain[i - 1] : undefined);
    }
  })();
  committing.catch(() => {});
  try {
    await work;
  } catch (e) {
    // Layers that were never started leave the committer waiting: release it.
    for (const r of ready) r.reject(e);
    await committing.catch(() => {});
    for (const key of uncommitted) await snapshotter.remove(key).catch(() => {});
    throw e;
  }
  try {
    await committing;
  } catch (e) {
    for (const key of uncommitted) await snapshotter.remove(key).catch(() => {});
    throw e;
  }
  return chain.at(-1);
}

/** Plain (copying): layer i is prepared on the committed chain 0..i-1 and applied from the store. */
async function unpackInOrder(job: UnpackJob): Promise<string | undefined> {
  const { snapshotter, applyLayer } = job.unpack;
  const chain = chainIdsOf(job.diffIds);
  await sweepDeadExtracts(snapshotter);
  const fetched = job.layers.map(() => deferred<void>());
  const work = mapLimit(job.layers, job.concurrency, (_layer, i) =>
    job.fetchLayer(i).then(
      () => fetched[i]!.resolve(),
      (e: unknown) => {
        fetched[i]!.reject(e);
        throw e;
      },
    ),
  );
  work.catch((e: unknown) => {
    for (const f of fetched) f.reject(e);
  });
  try {
    for (let i = 0; i < job.layers.length; i++) {
      const layer = job.layers[i]!;
      const chainId = chain[i]!;
      await fetched[i]!.promise;
      if (await exists(snapshotter, chainId)) {
        job.progress?.({ kind: 'unpack', digest: layer.digest, chainId, state: 'exists' });
        continue;
      }
      job.progress?.({ kind: 'unpack', digest: layer.digest, chainId, state: 'unpacking' });
      const key = extractKey(chainId);
      await snapshotter.prepare(key, i > 0 ? chain[i - 1] : undefined, { labels: { 'berth.io/layer': layer.digest } });
      try {
        const { diffId } = await applyLayer(
          await job.content.read(layer.digest),
          applyOptions(job, i, await snapshotter.upperDir(key)),
        );
        checkDiffId(job, i, diffId);
      } catch (e) {
        await snapshotter.remove(key).catch(() => {});
        throw e;
      }
      await commitLayer(job, chain, i, key, undefined);
    }
  } finally {
    // No download keeps writing after the pull returns or fails.
    await work.catch(() => {});
  }
  await work;
  return chain.at(-1);
}
