// Garbage collection across the image stores (containerd's model). The roots are:
//   - every image record (a name → a target),
//   - every container of the root's engine, even a stopped one: the image it was created from (its
//     content, by digest) and its snapshot (active, so never collected; its parents, the image's
//     layer chain, are kept because a snapshot with children is never removed),
//   - every unexpired lease: content an operation under way (pull, load, import, create) holds.
// Content reachable from no root is removed, then committed layer snapshots (named by chain ID)
// whose chain no root's manifest needs and on which no other snapshot builds.
// Ordering is what makes this safe against operations running at the same time: leases are read
// before image records (an operation names its image before dropping its lease), and the snapshots
// are listed before the roots that decide their fate (a pull leases its manifest before it unpacks).
// Must never remove a snapshot with children, an active snapshot, or content a lease names.
import type { ContentStore, GcResult, GcRoot } from '../content/content-store.ts';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { parseJSON, parseManifestDocument, validateImageConfig } from '../oci/image-validate.ts';
import { chainIds as chainIdsOf } from '../snapshots/chain-id.ts';
import type { ImageStore } from './image-store.ts';

export type GcSnapshotter = {
  list(): Promise<{ name: string; parent?: string; kind: string }[]>;
  remove(key: string): Promise<void>;
};

/** Roots held outside the image store: the engine's containers (image digests, snapshot keys). */
export type ExtraGcRoots = () => Promise<{ content: GcRoot[]; snapshots: string[] }>;

export type ImageGcResult = GcResult & { removedSnapshots: string[] };

export async function gcImages(opts: {
  images: ImageStore;
  content: ContentStore;
  snapshotter?: GcSnapshotter;
  extraRoots?: ExtraGcRoots;
}): Promise<ImageGcResult> {
  const roots = async (): Promise<GcRoot[]> => {
    const extra = opts.extraRoots ? (await opts.extraRoots()).content : [];
    return [...(await opts.images.list()).map((r) => r.target), ...extra];
  };
  const result = await opts.content.gc(roots);
  const removedSnapshots: string[] = [];
  if (opts.snapshotter) {
    // Children first: repeat until no removable leaf is left.
    for (;;) {
      const snaps = await opts.snapshotter.list();
      const keep = await keptChains(opts.content, roots);
      if (opts.extraRoots) for (const s of (await opts.extraRoots()).snapshots) keep.add(s);
      const parents = new Set(snaps.map((s) => s.parent).filter((p): p is string => p !== undefined));
      const victims = snaps.filter(
        (s) => s.kind === 'committed' && s.name.startsWith('sha256:') && !keep.has(s.name) && !parents.has(s.name),
      );
      if (victims.length === 0) break;
      for (const v of victims) {
        try {
          await opts.snapshotter.remove(v.name);
          removedSnapshots.push(v.name);
        } catch (e) {
          // Another gc at the same time (crictl rmi removes images in parallel) took it first.
          if (!isBerthError(e, ErrorCode.NotFound)) throw e;
        }
      }
    }
  }
  return { ...result, removedSnapshots };
}

/** Chain IDs of every image manifest reachable from the roots and from the unexpired leases. */
async function keptChains(content: ContentStore, roots: () => Promise<GcRoot[]>): Promise<Set<string>> {
  const now = Date.now();
  const leased = (await content.listLeases())
    .filter((l) => !l.expiresAt || Date.parse(l.expiresAt) > now)
    .flatMap((l) => l.resources);
  const keep = new Set<string>();
  for (const digest of await content.reachable([...leased, ...(await roots())])) {
    // Layers are never manifests: only small blobs are read.
    const info = await content.info(digest).catch(() => undefined);
    if (!info || info.size > 4 * 1024 * 1024) continue;
    const bytes = await content.readAll(digest).catch(() => undefined);
    if (bytes?.[0] !== 0x7b) continue;
    try {
      const doc = parseManifestDocument(bytes);
      if (doc.kind !== 'manifest') continue;
      const cfg = validateImageConfig(parseJSON(await content.readAll(doc.manifest.config.digest), 'config'));
      for (const c of chainIdsOf(cfg.rootfs.diff_ids)) keep.add(c);
    } catch {
      // Not a manifest (a config or a JSON layer), or its config is not there yet: nothing to keep.
    }
  }
  return keep;
}
