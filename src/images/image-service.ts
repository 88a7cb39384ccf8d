// ImageService: the one object that owns an image root and wires the image libraries together, so
// that every front end (berthd, and the `berth` CLI's image verbs when they run in-process) is a
// thin adapter over it.
//
//   <root>/content/              LocalContentStore (blobs, ingests; leases in files unless the
//                                opener passes `metadata`: berth's is <root>/berthd.db, whose
//                                containers are gc roots too, docs/metadata.md)
//   <root>/images/images.json    ImageStore (names → target descriptors)
//   <root>/snapshots/overlay/    OverlaySnapshotter, or, where overlayfs cannot be mounted there,
//   <root>/snapshots/native/     NativeSnapshotter (copies). The first choice made in a root sticks.
//   <root>/registries.json       { "<host[:port]>": { "mirrors": [...], "insecure": bool, "ca": PEM or file } }
//   <root>/tmp/                  staging for load/import (same filesystem as the stores)
// Credentials come from docker's config.json (DOCKER_CONFIG or ~/.docker/config.json).
//
// Owns: choosing the snapshotter, the registry client's configuration, naming what a user types
// (names, image IDs), and the order of operations that keeps a crash or a refusal harmless: blobs
// are verified and leased before anything names them, and a name is written last.
// Must never: print anything (callers get data and progress events), or parse command lines.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ContentInfo, GcResult, Lease, LeaseBackend, LeaseKind } from '../content/content-store.ts';
import { LocalContentStore } from '../content/local-content-store.ts';
import { selfIdentity } from '../sys/procfs.ts';
import {
  type Credentials,
  defaultDockerConfigPath,
  dockerConfigCredentials,
  login,
  logout,
} from '../distribution/auth-config.ts';
import { DOCKER_HUB, familiarReference, parseReference } from '../distribution/reference.ts';
import type { RegistryClient } from '../distribution/registry-client.ts';
import type { RegistriesConfig, RegistryHostConfig } from '../distribution/registry-hosts.ts';
import { failedPrecondition, invalidArgument, notFound } from '../errors/errors.ts';
import {
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  MediaType,
  type Platform,
} from '../oci/image-spec.ts';
import {
  formatPlatform,
  hostPlatform,
  parseJSON,
  parseManifestDocument,
  parsePlatform,
  validateImageConfig,
} from '../oci/image-validate.ts';
import { chainIds } from '../snapshots/chain-id.ts';
import { mountAll, unmountAll } from '../snapshots/mount.ts';
import { NativeSnapshotter } from '../snapshots/native-snapshotter.ts';
import { OverlaySnapshotter } from '../snapshots/overlay-snapshotter.ts';
import type { SnapshotInfo } from '../snapshots/snapshotter.ts';
import { type ExtraGcRoots, gcImages, type ImageGcResult } from './image-gc.ts';
import { type ImageRecord, ImageStore } from './image-store.ts';
import type { PullEvent, PullResult } from './pull.ts';
import { platformManifest } from './platform-manifest.ts';
import type { PushEvent } from './push.ts';
import { resolveName } from './image-name.ts';
import { imagePruneSelection } from './prune-filter.ts';
import { importUrl, openUrl } from './url-source.ts';

export const DEFAULT_ROOT = '/var/lib/berth';

export type SnapshotterName = 'overlay' | 'native';

/**
 * What the image service needs of the engine's metadata database (src/metadata's MetadataStore has
 * it): durable leases, and the containers, whose images and snapshots gc must keep.
 */
export type ImageMetadata = {
  readonly leases: LeaseBackend;
  listContainers(): { id: string; imageDigest: string; snapshotKey: string; status: string }[];
};

export type ImageServiceOptions = {
  /** Leases and container gc roots; without it, leases are files in the content store and no container is a root. */
  metadata?: ImageMetadata;
  /** Default: BERTH_ROOT_DIR, else /var/lib/berth. */
  root?: string;
  /** Default: DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
  dockerConfigPath?: string;
  /** 'auto' (default) keeps the snapshotter a root already uses, else tries overlayfs. */
  snapshotter?: 'auto' | SnapshotterName;
  /** Told about choices the user should know of (the fallback to copying snapshots). */
  onNotice?: (message: string) => void;
  /** Tests: replaces the overlay mount probe (undefined = overlay works, else why not). */
  overlayProbe?: (dir: string) => Promise<string | undefined>;
};

export type ImageSummary = {
  name: string;
  repository: string;
  tag: string;
  /**
   * The image ID, as docker and containerd's CRI show it: the digest of the config of this host's
   * platform (what IMAGE ID abbreviates); the target digest when no config of this host is stored.
   */
  id: string;
  /** The target's digest (a manifest or an index): what `name@digest` and RepoDigests name. */
  digest: string;
  mediaType: string;
  /** Bytes of content reachable from the target (compressed layers, configs, manifests). */
  size: number;
  /** The image config's `created` (of this host's platform), when it says: what CREATED shows. */
  created?: string;
  /** When the name was stored here (pulled, loaded, tagged). */
  createdAt: string;
  updatedAt: string;
  /** The parent image ID (PARENT_LABEL), when the image was built or committed from a stored one. */
  parent?: string;
};

export type ImageDetails = {
  name: string;
  /** The image ID: the config digest (configDescriptor.digest). */
  id: string;
  target: Descriptor;
  createdAt: string;
  updatedAt: string;
  size: number;
  index?: ImageIndex;
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  configDescriptor: Descriptor;
  config: ImageConfig;
  platform: string;
  layers: { digest: string; mediaType: string; size: number; diffId: string; chainId: string }[];
  chainId?: string;
  unpacked: boolean;
  /** The parent image ID (PARENT_LABEL), when the image was built or committed from a stored one. */
  parent?: string;
};

/**
 * `deletedParents`: the image IDs of parents rmi took with the image (untagged parents nothing else
 * holds, docker's prune of parents; none with `noprune`).
 */
export type RemoveResult = { untagged: string[]; gc: ImageGcResult; deletedParents: string[] };

/**
 * The record label naming an image's parent image ID (the config digest of the image a build's
 * last stage was FROM, or a commit's container was made from), as docker's image store keeps a
 * Parent: an untagged parent stays (dangling) while a child names it, and rmi of the child takes it.
 */
export const PARENT_LABEL = 'berth.parent';
export type PruneResult = ImageGcResult & { removedDirs: string[]; untagged: string[] };
/** `system df`'s rows for images and containers (docker's TYPE/TOTAL/ACTIVE/SIZE/RECLAIMABLE). */
export type DiskUsageRow = { total: number; active: number; size: number; reclaimable: number };
export type ImageDiskUsage = {
  images: DiskUsageRow;
  containers: DiskUsageRow;
  /** What the stores hold, whoever holds it: blobs and committed layer snapshots. */
  content: { blobs: number; bytes: number };
  snapshots: { committed: number; active: number };
};
export type ArchiveFormat = 'docker-archive' | 'oci-archive';
export type LoadResult = { images: { name: string; digest: string }[]; format: 'docker-archive' | 'oci-layout' };

const ID = /^(?:sha256:)?([0-9a-f]{4,64})$/;
/** Images loaded or imported without a name get this repository, with their digest. */
export const UNNAMED_REPOSITORY = 'localhost/unnamed';

export class ImageService {
  readonly root: string;
  readonly content: LocalContentStore;
  readonly images: ImageStore;
  readonly snapshotter: OverlaySnapshotter | NativeSnapshotter;
  readonly snapshotterName: SnapshotterName;
  readonly registries: RegistriesConfig;
  readonly dockerConfigPath: string;
  /** The metadata database, when the opener gave one: leases live there, and its containers are gc roots. */
  readonly metadata: ImageMetadata | undefined;
  #client: RegistryClient | undefined;
  /** Target digest → image ID (config digest), learnt once: a digest's content never changes. */
  readonly #imageIds = new Map<string, string>();

  private constructor(init: {
    root: string;
    metadata: ImageMetadata | undefined;
    snapshotter: OverlaySnapshotter | NativeSnapshotter;
    snapshotterName: SnapshotterName;
    registries: RegistriesConfig;
    dockerConfigPath: string;
  }) {
    this.root = init.root;
    this.metadata = init.metadata;
    this.content = new LocalContentStore(
      join(init.root, 'content'),
      init.metadata ? { leases: init.metadata.leases } : {},
    );
    this.images = new ImageStore(join(init.root, 'images'));
    this.snapshotter = init.snapshotter;
    this.snapshotterName = init.snapshotterName;
    this.registries = init.registries;
    this.dockerConfigPath = init.dockerConfigPath;
  }

  static async open(opts: ImageServiceOptions = {}): Promise<ImageService> {
    const root = resolve(opts.root ?? process.env.BERTH_ROOT_DIR ?? DEFAULT_ROOT);
    await mkdir(root, { recursive: true, mode: 0o711 });
    const registries = await loadRegistries(join(root, 'registries.json'));
    const { snapshotter, name } = await chooseSnapshotter(
      root,
      opts.snapshotter ?? 'auto',
      opts.onNotice ?? (() => {}),
      opts.overlayProbe ?? probeOverlay,
    );
    const metadata = opts.metadata;
    if (metadata) await adoptLeaseFiles(join(root, 'content', 'leases'), metadata.leases);
    return new ImageService({
      root,
      metadata,
      snapshotter,
      snapshotterName: name,
      registries,
      dockerConfigPath: opts.dockerConfigPath ?? defaultDockerConfigPath(),
    });
  }

  /**
   * The registry client, made (and its code loaded) on first use: commands that stay local never
   * build one. The code that moves images in and out (registry client and undici, tar reading and
   * writing, layer unpacking in a worker) is imported by the verb that needs it, so that a daemon
   * that only runs containers never loads it (berthd's idle memory, issue 12).
   */
  async client(): Promise<RegistryClient> {
    if (!this.#client) {
      const { RegistryClient } = await import('../distribution/registry-client.ts');
      this.#client ??= new RegistryClient({
        hosts: this.#hostsWithLoopbackDefaults(),
        credentials: dockerConfigCredentials(this.dockerConfigPath),
      });
    }
    return this.#client;
  }

  // As docker does, registries on the loopback interface speak plain HTTP unless registries.json
  // says otherwise: a local test registry works without configuration, and nothing leaves the host.
  #hostsWithLoopbackDefaults(): RegistriesConfig {
    return new Proxy(this.registries, {
      get: (target, prop) => {
        if (typeof prop !== 'string') return undefined;
        const own = Object.hasOwn(target, prop) ? target[prop] : undefined;
        if (own) return own;
        return isLoopbackHost(prop) ? ({ insecure: true } satisfies RegistryHostConfig) : undefined;
      },
    });
  }

  async close(): Promise<void> {
    await this.#client?.close();
    this.snapshotter.close();
  }

  #containers(): ReturnType<ImageMetadata['listContainers']> {
    return this.metadata?.listContainers() ?? [];
  }

  /** Every container of this root is a gc root, stopped or not: its image's content and its snapshot. */
  readonly containerRoots: ExtraGcRoots = async () => {
    const rows = this.#containers();
    return {
      content: rows.map((c) => c.imageDigest).filter((d) => d.includes(':')),
      snapshots: rows.map((c) => c.snapshotKey),
    };
  };

  /**
   * Docker's refusal: the last name of an image a container was created from goes only with
   * `force`, and then only the name goes (the container keeps its content and layers as gc roots).
   */
  #checkUnused(doomed: Set<string>, all: ImageRecord[]): void {
    const remaining = all.filter((r) => !doomed.has(r.name));
    for (const name of doomed) {
      const digest = all.find((r) => r.name === name)?.target.digest;
      if (!digest || remaining.some((r) => r.target.digest === digest)) continue;
      const user = this.#containers().find((c) => c.imageDigest === digest);
      if (!user) continue;
      const state = user.status === 'running' || user.status === 'paused' ? 'running' : 'stopped';
      throw failedPrecondition(
        `conflict: unable to remove image ${name} (must be forced) - image is being used by ${state} container ${user.id.slice(0, 12)}`,
      );
    }
  }

  // ---------------------------------------------------------------- registry

  /**
   * `credentials`: for this pull only (the CRI's AuthConfig), sent to the reference's registry and
   * nowhere else (its mirrors and other hosts get the stored credentials, as always).
   */
  async pull(
    reference: string,
    opts: { platform?: string; progress?: (ev: PullEvent) => void; credentials?: Credentials } = {},
  ): Promise<PullResult> {
    const ref = parseReference(reference);
    const [{ pull }, { applyLayer }] = await Promise.all([import('./pull.ts'), import('../archive/apply-layer.ts')]);
    const { client, close } = await this.#clientWith(ref.registry, opts.credentials);
    try {
      return await this.#pullWith(pull, applyLayer, ref, client, opts);
    } finally {
      await close();
    }
  }

  /**
   * The shared client, or with `credentials` (one request's own, docker's X-Registry-Auth or the
   * CRI's AuthConfig) a client of its own that sends them to `registry` and nowhere else (other
   * hosts get the stored credentials, as always). They are never written anywhere.
   */
  async #clientWith(
    registry: string,
    credentials: Credentials | undefined,
  ): Promise<{ client: RegistryClient; close: () => Promise<void> }> {
    if (!credentials) return { client: await this.client(), close: async () => {} };
    const { RegistryClient } = await import('../distribution/registry-client.ts');
    const stored = dockerConfigCredentials(this.dockerConfigPath);
    const own = new RegistryClient({
      hosts: this.#hostsWithLoopbackDefaults(),
      credentials: async (host) => (host === registry ? credentials : stored(host)),
    });
    return { client: own, close: () => own.close() };
  }

  /** `docker login`'s check: the registry takes these credentials. Nothing is stored. */
  async checkLogin(registry: string, creds: Credentials): Promise<void> {
    const host = normalizeRegistry(registry);
    const { client, close } = await this.#clientWith(host, creds);
    try {
      await client.ping(host, creds);
    } finally {
      await close();
    }
  }

  async #pullWith(
    pull: typeof import('./pull.ts').pull,
    applyLayer: typeof import('../archive/apply-layer.ts').applyLayer,
    ref: ReturnType<typeof parseReference>,
    client: RegistryClient,
    opts: { platform?: string; progress?: (ev: PullEvent) => void },
  ): Promise<PullResult> {
    return pull(ref, {
      client,
      content: this.content,
      images: this.images,
      ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
      unpack: { snapshotter: this.snapshotter, applyLayer },
      ...(opts.progress ? { progress: opts.progress } : {}),
    });
  }

  /** Pushes the local image `reference` to the registry it names (with `credentials`: this push's own, see #clientWith). */
  async push(
    reference: string,
    opts: {
      progress?: (ev: PushEvent | { kind: 'plan'; blobs: Descriptor[] }) => void;
      credentials?: Credentials;
    } = {},
  ): Promise<{ name: string; target: Descriptor }> {
    const name = resolveName(reference);
    const record = await this.images.get(name);
    if (opts.progress) opts.progress({ kind: 'plan', blobs: await this.#blobsOf(record.target) });
    const { push } = await import('./push.ts');
    const ref = parseReference(name);
    const { client, close } = await this.#clientWith(ref.registry, opts.credentials);
    try {
      const target = await push(ref, {
        client,
        content: this.content,
        images: this.images,
        ...(opts.progress ? { progress: opts.progress } : {}),
      });
      return { name, target };
    } finally {
      await close();
    }
  }

  async login(registry: string, creds: Credentials): Promise<void> {
    const host = normalizeRegistry(registry);
    await login(host, creds, {
      configPath: this.dockerConfigPath,
      verify: async (c) => (await this.client()).ping(host, c),
    });
  }

  async logout(registry: string): Promise<void> {
    await logout(normalizeRegistry(registry), { configPath: this.dockerConfigPath });
  }

  // ---------------------------------------------------------------- local images

  async list(): Promise<ImageSummary[]> {
    const out: ImageSummary[] = [];
    for (const r of await this.images.list()) {
      const usage = await this.content.usage([r.target]).catch(() => ({ size: 0, count: 0 }));
      const ref = parseReference(r.name);
      const fam = familiarReference({ registry: ref.registry, repository: ref.repository });
      const resolved = await this.resolveManifest(r.name, r.target).catch(() => undefined);
      const created = resolved?.config.created;
      out.push({
        name: r.name,
        repository: fam,
        tag: ref.tag ?? '<none>',
        id: resolved?.manifest.config.digest ?? r.target.digest,
        digest: r.target.digest,
        mediaType: r.target.mediaType,
        size: usage.size,
        ...(typeof created === 'string' && Number.isFinite(Date.parse(created)) ? { created } : {}),
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        ...(r.labels[PARENT_LABEL] ? { parent: r.labels[PARENT_LABEL] } : {}),
      });
    }
    return out;
  }

  /**
   * The image ID (config digest of this host's platform) of a target digest, or undefined when its
   * manifest or config is not stored. A digest's config never changes, so answers are kept.
   */
  async imageIdOf(target: Descriptor | string): Promise<string | undefined> {
    const digest = typeof target === 'string' ? target : target.digest;
    const known = this.#imageIds.get(digest);
    if (known) return known;
    let desc: Descriptor;
    if (typeof target === 'string') {
      // Only the digest is known (a container's row): the document says what it is.
      const bytes = await this.content.readAll(digest).catch(() => undefined);
      if (!bytes) return undefined;
      let mediaType: unknown;
      try {
        const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
        mediaType = doc.mediaType ?? (Array.isArray(doc.manifests) ? MediaType.ImageIndex : MediaType.ImageManifest);
      } catch {
        return undefined;
      }
      if (typeof mediaType !== 'string') return undefined;
      desc = { mediaType, digest, size: bytes.length };
    } else desc = target;
    const resolved = await this.resolveManifest(digest, desc).catch(() => undefined);
    const id = resolved?.manifest.config.digest;
    if (id) this.#imageIds.set(digest, id);
    return id;
  }

  /**
   * The records a user's word names: a name (busybox, localhost:5000/x:1), or an image ID (a
   * prefix of at least 4 hex digits of the target digest, with or without "sha256:"), which may
   * match several names. NotFound when nothing matches.
   */
  async find(word: string): Promise<ImageRecord[]> {
    let parsedName: string | undefined;
    try {
      parsedName = resolveName(word);
    } catch {
      // Not a name; perhaps an ID.
    }
    const all = await this.images.list();
    if (parsedName) {
      const r = all.find((x) => x.name === parsedName);
      if (r) return [r];
      // repository@digest also names an image pulled by tag (docker's RepoDigests, the CRI's
      // repo_digests: a kubelet asks for the image by what ImageStatus answered).
      const ref = parseReference(parsedName);
      if (ref.digest) {
        const sameRepo = (n: string) => {
          const o = parseReference(n);
          return o.registry === ref.registry && o.repository === ref.repository;
        };
        const hits = all.filter((x) => x.target.digest === ref.digest && sameRepo(x.name));
        if (hits.length > 0) return hits;
      }
    }
    const id = ID.exec(word);
    if (id) {
      // The image ID (config digest) first, as docker; a manifest digest prefix still names its image.
      const prefix = `sha256:${id[1]}`;
      const byId: ImageRecord[] = [];
      for (const r of all) if ((await this.imageIdOf(r.target))?.startsWith(prefix)) byId.push(r);
      if (byId.length > 0) return byId;
      const hits = all.filter((r) => r.target.digest.startsWith(prefix));
      if (hits.length > 0) return hits;
    }
    throw notFound(`image ${JSON.stringify(word)}: no such image (not a local name${id ? ' or image ID' : ''})`);
  }

  async #one(word: string): Promise<ImageRecord> {
    const hits = await this.find(word);
    const ids = new Set<string>();
    for (const h of hits) ids.add((await this.imageIdOf(h.target)) ?? h.target.digest);
    if (ids.size > 1)
      throw invalidArgument(
        `image ID ${JSON.stringify(word)} is ambiguous: it matches ${[...ids].map((d) => d.slice(7, 19)).join(', ')}; give more of the ID or a name`,
      );
    return hits[0]!;
  }

  async inspect(word: string): Promise<ImageDetails> {
    const r = await this.#one(word);
    const resolved = await this.resolveManifest(r.name, r.target);
    const diffIds = resolved.config.rootfs.diff_ids;
    const chain = chainIds(diffIds);
    const chainId = chain.at(-1);
    const unpacked =
      chainId === undefined
        ? true
        : await this.snapshotter.stat(chainId).then(
            () => true,
            () => false,
          );
    const usage = await this.content.usage([r.target]).catch(() => ({ size: 0, count: 0 }));
    const d: ImageDetails = {
      name: r.name,
      id: resolved.manifest.config.digest,
      target: r.target,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      size: usage.size,
      manifestDescriptor: resolved.manifestDescriptor,
      manifest: resolved.manifest,
      configDescriptor: resolved.manifest.config,
      config: resolved.config,
      platform: formatPlatform({
        os: resolved.config.os,
        architecture: resolved.config.architecture,
        ...(resolved.config.variant ? { variant: resolved.config.variant } : {}),
      }),
      layers: resolved.manifest.layers.map((l, i) => ({
        digest: l.digest,
        mediaType: l.mediaType,
        size: l.size,
        diffId: diffIds[i] ?? '',
        chainId: chain[i] ?? '',
      })),
      unpacked,
    };
    if (resolved.index) d.index = resolved.index;
    if (chainId) d.chainId = chainId;
    if (r.labels[PARENT_LABEL]) d.parent = r.labels[PARENT_LABEL];
    return d;
  }

  /** The image manifest of `target` for `platform` (default: this host's), from the content store. */
  async resolveManifest(
    name: string,
    target: Descriptor,
    platform: Platform = hostPlatform(),
  ): Promise<{ index?: ImageIndex; manifestDescriptor: Descriptor; manifest: ImageManifest; config: ImageConfig }> {
    const what = `image ${name}`;
    const open = async (d: Descriptor) =>
      parseManifestDocument(await this.#mustRead(d.digest, what), d.mediaType, `${what}: ${d.digest}`);
    const doc = await open(target);
    let index: ImageIndex | undefined;
    let desc = target;
    let manifest: ImageManifest;
    if (doc.kind === 'index') {
      index = doc.index;
      // Only what is stored: an index keeps naming the platforms that were not pulled.
      const chosen = await platformManifest(doc.index, target.digest, platform, what, {
        open,
        available: (d) => this.content.exists(d.digest),
      });
      desc = chosen.descriptor;
      manifest = chosen.manifest;
    } else {
      manifest = doc.manifest;
    }
    const config = validateImageConfig(
      parseJSON(await this.#mustRead(manifest.config.digest, what), `${what}: config`),
      `${what}: config`,
    );
    return { ...(index ? { index } : {}), manifestDescriptor: desc, manifest, config };
  }

  async #mustRead(digest: string, what: string): Promise<Buffer> {
    try {
      return await this.content.readAll(digest);
    } catch (e) {
      throw failedPrecondition(`${what}: ${digest} is missing from the content store (${(e as Error).message})`, e);
    }
  }

  async #blobsOf(target: Descriptor): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    const walk = async (d: Descriptor) => {
      const bytes = await this.content.readAll(d.digest).catch(() => undefined);
      if (!bytes) return;
      const doc = parseManifestDocument(bytes, d.mediaType);
      if (doc.kind === 'index') for (const c of doc.index.manifests) await walk(c);
      else out.push(doc.manifest.config, ...doc.manifest.layers);
    };
    await walk(target);
    return out;
  }

  async tag(source: string, target: string): Promise<ImageRecord> {
    const src = await this.#one(source);
    return this.images.put(resolveName(target), src.target, src.labels);
  }

  /**
   * Removes names, then collects what no name holds any more (as docker's rmi frees the space).
   * An image ID that several names share needs `force`; with `force`, a word that names nothing is
   * skipped rather than an error.
   */
  async remove(words: string[], opts: { force?: boolean; noprune?: boolean } = {}): Promise<RemoveResult> {
    const doomed = new Set<string>();
    const byId = new Set<string>();
    for (const w of words) {
      let hits: ImageRecord[];
      try {
        hits = await this.find(w);
      } catch (e) {
        if (opts.force) continue;
        throw e;
      }
      const named = hits.length === 1 && hits[0]!.name === tryResolve(w);
      if (!named && hits.length > 1 && !opts.force)
        throw failedPrecondition(
          `image ${JSON.stringify(w)} is referenced by ${hits.length} names (${hits.map((h) => h.name).join(', ')}): remove them by name, or use -f`,
        );
      for (const h of hits) {
        doomed.add(h.name);
        if (!named) byId.add(h.name);
      }
    }
    const all = await this.images.list();
    if (!opts.force) this.#checkUnused(doomed, all);
    const idOf = new Map<string, string>();
    for (const r of all) idOf.set(r.name, (await this.imageIdOf(r.target)) ?? r.target.digest);
    const id = (r: ImageRecord) => idOf.get(r.name)!;
    let remaining = all.filter((r) => !doomed.has(r.name));
    const hasChildren = (imageId: string) =>
      remaining.some((r) => r.labels[PARENT_LABEL] === imageId && id(r) !== imageId);
    // docker's hard conflict: an image a child names goes only by untagging its names.
    for (const r of all)
      if (doomed.has(r.name) && (byId.has(r.name) || isDangling(r.name)) && hasChildren(id(r)))
        throw failedPrecondition(
          `conflict: unable to delete ${id(r)
            .replace(/^sha256:/, '')
            .slice(0, 12)} (cannot be forced) - image has dependent child images`,
        );
    const untagged: string[] = [];
    for (const r of all) {
      if (!doomed.has(r.name)) continue;
      // The last name of a parent: the image stays, dangling, for its children (put before the delete, so a crash loses nothing).
      if (hasChildren(id(r)) && !remaining.some((o) => id(o) === id(r))) {
        const keep = { ...r, name: `${UNNAMED_REPOSITORY}@${r.target.digest}` };
        await this.images.put(keep.name, r.target, r.labels);
        idOf.set(keep.name, id(r));
        remaining.push(keep);
      }
      await this.images.delete(r.name);
      untagged.push(r.name);
    }
    // docker's prune of parents: each image now gone takes its parent when that is dangling, no
    // other child names it and no container was made from it; and so on up.
    const deletedParents: string[] = [];
    const used = new Set(this.#containers().map((c) => c.imageDigest));
    const gone = all.filter((r) => doomed.has(r.name) && !remaining.some((o) => id(o) === id(r)));
    for (let i = 0; i < gone.length && !opts.noprune; i++) {
      const parent = gone[i]!.labels[PARENT_LABEL];
      if (!parent || deletedParents.includes(parent)) continue;
      const recs = remaining.filter((r) => id(r) === parent);
      if (recs.length === 0 || !recs.every((r) => isDangling(r.name)) || hasChildren(parent)) continue;
      if (recs.some((r) => used.has(r.target.digest))) continue;
      for (const r of recs) await this.images.delete(r.name);
      remaining = remaining.filter((r) => id(r) !== parent);
      deletedParents.push(parent);
      gone.push(...recs);
    }
    return { untagged, gc: await this.gc(), deletedParents };
  }

  /** Removes content and snapshots no image needs. `deep` also clears stale ingests, orphaned snapshot directories and staging leftovers. */
  async gc(opts: { deep?: boolean } = {}): Promise<ImageGcResult & { removedDirs: string[] }> {
    const result = await gcImages({
      images: this.images,
      content: this.content,
      snapshotter: this.snapshotter,
      extraRoots: this.containerRoots,
    });
    const removedDirs: string[] = [];
    if (opts.deep) {
      removedDirs.push(
        ...(await this.snapshotter.cleanup()).map((d) => `snapshots/${this.snapshotterName}/snapshots/${d}`),
      );
      const tmp = join(this.root, 'tmp');
      // A load or import under way stages there (and holds a lease while it does).
      const staging = (await this.content.listLeases()).some(
        (l) => (l.kind === 'load' || l.kind === 'import') && (!l.expiresAt || Date.parse(l.expiresAt) > Date.now()),
      );
      if (existsSync(tmp) && !staging) {
        await rm(tmp, { recursive: true, force: true });
        removedDirs.push('tmp');
      }
    }
    return { ...result, removedDirs };
  }

  /**
   * `image prune`: removes the names of dangling images (loaded or imported without a name), or with
   * `all` of every image no container was created from, then collects what nothing holds any more.
   * `filters` are docker's (dangling, until, label, label!: prune-filter.ts); a dangling filter
   * overrides `all`.
   */
  async prune(opts: { all?: boolean; deep?: boolean; filters?: Record<string, string[]> } = {}): Promise<PruneResult> {
    // Refuses a bad filter before anything is removed.
    const sel = imagePruneSelection(opts.filters);
    const all = sel.danglingOnly === undefined ? opts.all === true : !sel.danglingOnly;
    const used = new Set(this.#containers().map((c) => c.imageDigest));
    const untagged: string[] = [];
    const records = await this.images.list();
    // As dockerd's prune: an image a child names as its parent stays (rmi of the child takes it).
    const parents = new Set(records.map((r) => r.labels[PARENT_LABEL]).filter(Boolean));
    for (const r of records) {
      const dangling = isDangling(r.name);
      if (!(all || dangling) || used.has(r.target.digest)) continue;
      if (parents.size && parents.has((await this.imageIdOf(r.target)) ?? r.target.digest)) continue;
      if (sel.readsConfig) {
        // An image whose config cannot be read is kept: a prune never guesses.
        const config = await this.resolveManifest(r.name, r.target).then(
          (m) => m.config,
          () => undefined,
        );
        if (!config || !sel.matches({ created: config.created, labels: config.config?.Labels ?? {} })) continue;
      }
      await this.images.delete(r.name);
      untagged.push(r.name);
    }
    return { ...(await this.gc(opts.deep ? { deep: true } : {})), untagged };
  }

  /**
   * Holds `digests` (and what they reach) against gc until the returned function is called: for an
   * operation that resolved an image and has not yet recorded what it made from it (container create).
   * The lease is a row in the metadata database; one left by a crash expires (and berthd releases the
   * leases of dead processes at start).
   */
  async lease(what: LeaseKind, digests: string[], ttlMs = 3600_000): Promise<() => Promise<void>> {
    const id = `${what}-${process.pid}-${randomBytes(6).toString('hex')}`;
    await this.content.createLease(id, {
      expiresAt: new Date(Date.now() + ttlMs),
      labels: { what },
      resources: digests,
      kind: what,
      owner: selfIdentity(),
    });
    return () => this.content.deleteLease(id).catch(() => {});
  }

  /** Images and container layers for `system df`. Sizes in bytes: blobs as stored, snapshots as du counts them. */
  async diskUsage(): Promise<ImageDiskUsage> {
    const records = await this.images.list();
    const containers = this.#containers();
    const used = new Set(containers.map((c) => c.imageDigest));
    const blobs = await this.content.list();
    const blobSize = new Map(blobs.map((b) => [b.digest, b.size]));
    const snaps = await this.snapshotter.list();
    const byName = new Map(snaps.map((s) => [s.name, s]));
    const snapSize = new Map<string, number>();
    for (const s of snaps) snapSize.set(s.name, (await this.snapshotter.usage(s.name).catch(() => ({ size: 0 }))).size);
    let size = 0;
    for (const b of blobs) size += b.size;
    for (const s of snaps) if (s.kind === 'committed') size += snapSize.get(s.name) ?? 0;
    // In use: the content of the images containers were made from, and the layer chains under their snapshots.
    let active = 0;
    for (const d of await this.content.reachable([...used].filter((d) => blobSize.has(d))))
      active += blobSize.get(d) ?? 0;
    const chain = new Set<string>();
    for (const c of containers)
      for (let p = byName.get(c.snapshotKey)?.parent; p && !chain.has(p); p = byName.get(p)?.parent) chain.add(p);
    for (const p of chain) active += snapSize.get(p) ?? 0;
    const digests = new Set(records.map((r) => r.target.digest));
    const running = (c: (typeof containers)[number]) => c.status === 'running' || c.status === 'paused';
    let cSize = 0;
    let cIdle = 0;
    for (const c of containers) {
      const n = snapSize.get(c.snapshotKey) ?? 0;
      cSize += n;
      if (!running(c)) cIdle += n;
    }
    return {
      images: {
        total: digests.size,
        active: [...digests].filter((d) => used.has(d)).length,
        size,
        reclaimable: Math.max(0, size - active),
      },
      containers: {
        total: containers.length,
        active: containers.filter(running).length,
        size: cSize,
        reclaimable: cIdle,
      },
      content: { blobs: blobs.length, bytes: blobs.reduce((a, b) => a + b.size, 0) },
      snapshots: {
        committed: snaps.filter((s) => s.kind === 'committed').length,
        active: snaps.filter((s) => s.kind !== 'committed').length,
      },
    };
  }

  /**
   * `system df -v`'s image sizes, per image ID: the bytes of content it reaches (as `images` counts
   * them) and how many of those it shares with another image ID (docker's SharedSize).
   */
  async imageSizes(): Promise<Map<string, { size: number; shared: number }>> {
    const targets = new Map<string, Descriptor[]>();
    for (const r of await this.images.list()) {
      const id = (await this.imageIdOf(r.target)) ?? r.target.digest;
      targets.set(id, [...(targets.get(id) ?? []), r.target]);
    }
    const blobSize = new Map((await this.content.list()).map((b) => [b.digest, b.size]));
    const reach = new Map<string, Set<string>>();
    const users = new Map<string, number>();
    for (const [id, roots] of targets) {
      const set = await this.content.reachable(roots);
      reach.set(id, set);
      for (const d of set) users.set(d, (users.get(d) ?? 0) + 1);
    }
    const out = new Map<string, { size: number; shared: number }>();
    for (const [id, set] of reach) {
      let size = 0;
      let shared = 0;
      for (const d of set) {
        const n = blobSize.get(d) ?? 0;
        size += n;
        if ((users.get(d) ?? 0) > 1) shared += n;
      }
      out.set(id, { size, shared });
    }
    return out;
  }

  async listContent(): Promise<ContentInfo[]> {
    return this.content.list();
  }

  async readContent(digest: string): Promise<NodeJS.ReadableStream> {
    return this.content.read(digest);
  }

  async listSnapshots(): Promise<(SnapshotInfo & { snapshotter: SnapshotterName })[]> {
    return (await this.snapshotter.list()).map((s) => ({ ...s, snapshotter: this.snapshotterName }));
  }

  // ---------------------------------------------------------------- archives

  /** Writes `words` to `out` as a docker-archive (docker save) or an OCI image layout tar. */
  async save(words: string[], out: Writable, opts: { format?: ArchiveFormat } = {}): Promise<void> {
    if (words.length === 0) throw invalidArgument('save: name at least one image');
    const items: { name: string; target: Descriptor }[] = [];
    for (const w of words) {
      const r = await this.#one(w);
      items.push({ name: r.name, target: r.target });
    }
    const [{ TarWriter }, { writeDockerArchive }, { writeOciLayout }] = await Promise.all([
      import('./tar-writer.ts'),
      import('./docker-archive.ts'),
      import('./oci-layout.ts'),
    ]);
    const tar = new TarWriter(out);
    try {
      if ((opts.format ?? 'docker-archive') === 'docker-archive') {
        const resolved = [];
        for (const it of items) {
          const m = await this.resolveManifest(it.name, it.target);
          resolved.push({ name: it.name, manifest: m.manifest, config: m.config });
        }
        await writeDockerArchive(tar, this.content, resolved);
      } else {
        const exported = [];
        for (const it of items)
          exported.push({ name: it.name, target: await this.#exportableTarget(it.name, it.target) });
        await writeOciLayout(tar, this.content, exported);
      }
      await tar.finish();
    } catch (e) {
      tar.destroy(e as Error);
      throw e;
    }
  }

  // An index whose other platforms were never pulled cannot be exported whole: export the
  // manifest this host uses instead, so that the layout is complete.
  async #exportableTarget(name: string, target: Descriptor): Promise<Descriptor> {
    const reachable = await this.content.reachable([target]);
    const blobs = await this.#blobsOf(target);
    const doc = parseManifestDocument(await this.#mustRead(target.digest, `image ${name}`), target.mediaType);
    const complete = doc.kind === 'manifest' || doc.index.manifests.every((m) => reachable.has(m.digest));
    if (complete && blobs.every((b) => reachable.has(b.digest))) return target;
    const m = await this.resolveManifest(name, target);
    for (const b of [m.manifest.config, ...m.manifest.layers])
      if (!reachable.has(b.digest))
        throw failedPrecondition(`save ${name}: blob ${b.digest} is missing from the content store`);
    return m.manifestDescriptor;
  }

  /**
   * Loads a docker-archive or an OCI image layout (a tar, a tar.gz, or a directory; '-' or a
   * stream for stdin). Every blob is verified and leased, each image is unpacked for this host,
   * and names are written last, so a refused archive leaves the stores as they were (apart from
   * verified, unnamed blobs that gc collects).
   */
  async load(input: string | Readable, opts: { label?: string } = {}): Promise<LoadResult> {
    const label = opts.label ?? (typeof input === 'string' ? input : 'stdin');
    const [{ ArchiveSource }, { readDockerArchive }, { isOciLayout, readOciLayout }] = await Promise.all([
      import('./archive-source.ts'),
      import('./docker-archive.ts'),
      import('./oci-layout.ts'),
    ]);
    return this.#withStaging('load', async (staging, leaseId) => {
      const src = await ArchiveSource.open(input, { label, content: this.content, stagingDir: staging, leaseId });
      let loaded: { names: string[]; target: Descriptor }[];
      let format: LoadResult['format'];
      if (await isOciLayout(src)) {
        format = 'oci-layout';
        loaded = await readOciLayout(src, this.content, leaseId);
      } else if (await src.has('manifest.json')) {
        format = 'docker-archive';
        loaded = await readDockerArchive(src, this.content, leaseId);
      } else {
        throw invalidArgument(
          `load ${label}: neither a docker-archive (no manifest.json) nor an OCI image layout (no oci-layout and index.json)`,
        );
      }
      for (const l of loaded) await this.#unpackForHost(l.names[0] ?? l.target.digest, l.target);
      const images: LoadResult['images'] = [];
      for (const l of loaded) {
        const names = l.names.length > 0 ? l.names : [`${UNNAMED_REPOSITORY}@${l.target.digest}`];
        for (const n of names) {
          await this.images.put(n, l.target);
          images.push({ name: n, digest: l.target.digest });
        }
      }
      return { images, format };
    });
  }

  /** A rootfs tarball (plain or gzip'd; a path, '-' or a stream) → a one-layer image named `reference`. */
  async importRootfs(
    input: string | Readable,
    reference?: string,
    opts: { platform?: string; comment?: string; configure?: (config: ImageConfig) => void; label?: string } = {},
  ): Promise<{ name: string; target: Descriptor }> {
    const name = reference ? resolveName(reference) : undefined;
    const label = opts.label ?? (typeof input === 'string' ? input : 'stdin');
    return this.#withStaging('import', async (staging, leaseId) => {
      const platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
      const { importRootfs } = await import('./rootfs-import.ts');
      const { target } = await importRootfs(input, {
        content: this.content,
        stagingDir: staging,
        leaseId,
        label,
        platform,
        ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
        ...(opts.configure ? { configure: opts.configure } : {}),
      });
      await this.#unpackForHost(name ?? label, target, platform);
      const finalName = name ?? `${UNNAMED_REPOSITORY}@${target.digest}`;
      await this.images.put(finalName, target);
      return { name: finalName, target };
    });
  }

  /**
   * import from an http or https URL (docker's `import URL`): its body, a rootfs tar (plain or
   * compressed), imported as importRootfs does. The URL is opened before anything else happens
   * (`onOpen` is told then, with the Content-Length if any); a refused connection, a failed
   * status, a body larger than `maxBytes` (default: the free space of the image root) or one that
   * is not a tar fail the import with nothing named, so the images stay as they were.
   */
  async importRootfsFromUrl(
    src: string,
    reference?: string,
    opts: {
      platform?: string;
      comment?: string;
      configure?: (config: ImageConfig) => void;
      maxBytes?: number;
      onOpen?: (url: string, total: number | undefined) => void;
      onProgress?: (current: number, total: number | undefined) => void;
      signal?: AbortSignal;
    } = {},
  ): Promise<{ name: string; target: Descriptor }> {
    const url = importUrl(src);
    if (reference) resolveName(reference); // a bad name is refused before the URL is fetched
    const maxBytes = opts.maxBytes ?? (await freeBytes(this.root));
    const { stream, total } = await openUrl(url, {
      maxBytes,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    try {
      opts.onOpen?.(url.href, total);
      return await this.importRootfs(stream, reference, {
        label: url.href,
        ...(opts.platform ? { platform: opts.platform } : {}),
        ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
        ...(opts.configure ? { configure: opts.configure } : {}),
      });
    } finally {
      stream.destroy();
    }
  }

  async #unpackForHost(name: string, target: Descriptor, platform: Platform = hostPlatform()): Promise<void> {
    let m: Awaited<ReturnType<ImageService['resolveManifest']>>;
    try {
      m = await this.resolveManifest(name, target, platform);
    } catch {
      // No manifest for this host (a foreign-platform image): stored, not unpacked, as pull --platform does.
      return;
    }
    if (m.config.rootfs.diff_ids.length !== m.manifest.layers.length)
      throw invalidArgument(
        `image ${name}: manifest has ${m.manifest.layers.length} layers but config.rootfs.diff_ids has ${m.config.rootfs.diff_ids.length}`,
      );
    const [{ unpackStored }, { applyLayer }] = await Promise.all([
      import('./unpack-stored.ts'),
      import('../archive/apply-layer.ts'),
    ]);
    await unpackStored(name, m.manifest.layers, m.config.rootfs.diff_ids, this.content, {
      snapshotter: this.snapshotter,
      applyLayer,
    });
  }

  async #withStaging<T>(what: 'load' | 'import', fn: (staging: string, leaseId: string) => Promise<T>): Promise<T> {
    const tmp = join(this.root, 'tmp');
    await mkdir(tmp, { recursive: true, mode: 0o700 });
    const staging = await mkdtemp(join(tmp, `${what}-`));
    const leaseId = `${what}-${process.pid}-${randomBytes(6).toString('hex')}`;
    await this.content.createLease(leaseId, {
      expiresAt: new Date(Date.now() + 6 * 3600 * 1000),
      labels: { what },
      kind: what,
      owner: selfIdentity(),
    });
    try {
      return await fn(staging, leaseId);
    } finally {
      await this.content.deleteLease(leaseId).catch(() => {});
      await rm(staging, { recursive: true, force: true });
    }
  }
}

/** A name that only holds an image (loaded, imported, built or committed without one; an untagged parent). */
function isDangling(name: string): boolean {
  return name.startsWith(`${UNNAMED_REPOSITORY}@`);
}

/** Bytes an unprivileged writer may still put on the filesystem of `dir`. */
async function freeBytes(dir: string): Promise<number> {
  const { statfs } = await import('node:fs/promises');
  const st = await statfs(dir);
  return st.bavail * st.bsize;
}

/**
 * Leases kept as files by an older berth (content/leases/<id>.json) move into the metadata database
 * once, so gc sees them; each file goes only after its row committed.
 */
async function adoptLeaseFiles(dir: string, leases: LeaseBackend): Promise<void> {
  const { readdir, unlink } = await import('node:fs/promises');
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.endsWith('.json')) continue;
    try {
      const l = JSON.parse(await readFile(join(dir, f), 'utf8')) as Lease;
      if (!leases.list().some((x) => x.id === l.id)) {
        leases.create(l.id, {
          ...(l.expiresAt ? { expiresAt: new Date(l.expiresAt) } : {}),
          labels: l.labels ?? {},
          ...(l.kind ? { kind: l.kind } : {}),
          ...(l.owner ? { owner: l.owner } : {}),
        });
        for (const r of l.resources ?? []) leases.addResource(l.id, r);
      }
    } catch {
      // Unreadable: a lease half-written by a crash protected nothing yet.
    }
    await unlink(join(dir, f)).catch(() => {});
  }
}

function tryResolve(word: string): string | undefined {
  try {
    return resolveName(word);
  } catch {
    return undefined;
  }
}

/** `https://reg.example:5000/` → reg.example:5000; docker's Hub spellings → docker.io. */
export function normalizeRegistry(input: string): string {
  const host = input.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (!host || !/^[A-Za-z0-9.[\]:-]+$/.test(host))
    throw invalidArgument(`registry ${JSON.stringify(input)}: expected host[:port]`);
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return DOCKER_HUB;
  return host;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

async function loadRegistries(path: string): Promise<RegistriesConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  const v = parseJSON(text, path);
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw invalidArgument(`${path}: expected an object of host → { mirrors, insecure, ca }`);
  const out: RegistriesConfig = {};
  for (const [host, raw] of Object.entries(v as Record<string, unknown>)) {
    const where = `${path}: ${JSON.stringify(host)}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw invalidArgument(`${where}: expected an object`);
    const o = raw as Record<string, unknown>;
    const cfg: RegistryHostConfig = {};
    if (o.mirrors !== undefined) {
      if (!Array.isArray(o.mirrors) || o.mirrors.some((m) => typeof m !== 'string'))
        throw invalidArgument(`${where}.mirrors: expected an array of URLs or host[:port]`);
      cfg.mirrors = o.mirrors as string[];
    }
    if (o.insecure !== undefined) {
      if (typeof o.insecure !== 'boolean') throw invalidArgument(`${where}.insecure: expected true or false`);
      cfg.insecure = o.insecure;
    }
    if (o.ca !== undefined) {
      if (typeof o.ca !== 'string') throw invalidArgument(`${where}.ca: expected PEM text or the path of a PEM file`);
      if (o.ca.includes('-----BEGIN')) cfg.ca = o.ca;
      else {
        const caPath = isAbsolute(o.ca) ? o.ca : join(path, '..', o.ca);
        try {
          cfg.ca = await readFile(caPath, 'utf8');
        } catch (e) {
          throw invalidArgument(`${where}.ca: cannot read ${caPath}: ${(e as Error).message}`);
        }
      }
    }
    out[host] = cfg;
  }
  return out;
}

async function chooseSnapshotter(
  root: string,
  mode: 'auto' | SnapshotterName,
  notice: (m: string) => void,
  probe: (dir: string) => Promise<string | undefined>,
): Promise<{ snapshotter: OverlaySnapshotter | NativeSnapshotter; name: SnapshotterName }> {
  const base = join(root, 'snapshots');
  const overlayRoot = join(base, 'overlay');
  const nativeRoot = join(base, 'native');
  if (mode === 'overlay') return { snapshotter: new OverlaySnapshotter(overlayRoot), name: 'overlay' };
  if (mode === 'native') return { snapshotter: new NativeSnapshotter(nativeRoot), name: 'native' };
  // The snapshots a root already holds decide: switching would strand them.
  if (existsSync(join(overlayRoot, 'metadata.db')))
    return { snapshotter: new OverlaySnapshotter(overlayRoot), name: 'overlay' };
  if (existsSync(join(nativeRoot, 'metadata.db')))
    return { snapshotter: new NativeSnapshotter(nativeRoot), name: 'native' };
  const why = await probe(base);
  if (why === undefined) return { snapshotter: new OverlaySnapshotter(overlayRoot), name: 'overlay' };
  notice(
    `overlayfs cannot be mounted under ${base} (${why}); using the copying snapshotter in ${nativeRoot} (slower, uses more disk)`,
  );
  return { snapshotter: new NativeSnapshotter(nativeRoot), name: 'native' };
}

/** Mounts a tiny overlay where the snapshots will live; undefined when it works, else why not. */
export async function probeOverlay(dir: string): Promise<string | undefined> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const probe = await mkdtemp(join(dir, 'probe-'));
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(probe, d)) as [
    string,
    string,
    string,
    string,
  ];
  try {
    for (const d of [lower, upper, work, merged]) await mkdir(d);
    await writeFile(join(lower, 'probe'), 'berth');
    try {
      await mountAll(
        [
          {
            type: 'overlay',
            source: 'overlay',
            options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`],
          },
        ],
        merged,
      );
    } catch (e) {
      return (e as Error).message;
    }
    try {
      if (!existsSync(join(merged, 'probe'))) return 'the mounted overlay does not show its lower layer';
    } finally {
      unmountAll(merged, { detach: true });
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

export type { GcResult, PullEvent, PushEvent };
