// `system df` and the prune verbs (docker's shapes): what the engine's stores hold and what could be
// reclaimed, and removing what nothing uses: stopped containers, user networks without containers,
// unused volumes (only when asked), unused images, then gc of content and snapshots no root holds
// (src/images/image-gc.ts says what a root is). Each step is the owning service's own removal, so
// the usual refusals and crash ordering apply.
// Must never: remove a running or paused container, the default network, or a volume unasked.
import { invalidArgument } from '../errors/errors.ts';
import { untilTime } from '../images/prune-filter.ts';
import { isLive } from '../metadata/container-status.ts';
import { volumeSizes } from './disk-sizes.ts';
import type { Engine } from './engine.ts';
import type { NetworkInfo } from './types.ts';

export type DfRow = { total: number; active: number; size: number; reclaimable: number };
export type SystemDf = {
  images: DfRow;
  containers: DfRow;
  volumes: DfRow;
  /** Raw store counts: blobs in the content store, committed and active snapshots. */
  content: { blobs: number; bytes: number };
  snapshots: { committed: number; active: number };
};

export type SystemPruneResult = {
  containersDeleted: string[];
  networksDeleted: string[];
  volumesDeleted: string[];
  imagesUntagged: string[];
  contentDeleted: string[];
  snapshotsDeleted: string[];
  spaceReclaimed: number;
};

export async function systemDf(e: Engine): Promise<SystemDf> {
  const img = await e.images.diskUsage();
  const vols = e.volumes.list();
  const sizes = await volumeSizes(e);
  let vSize = 0;
  let vIdle = 0;
  for (const v of vols) {
    const n = Math.max(0, sizes.get(v.name) ?? 0);
    vSize += n;
    if (v.usedBy.length === 0) vIdle += n;
  }
  return {
    images: img.images,
    containers: img.containers,
    volumes: {
      total: vols.length,
      active: vols.filter((v) => v.usedBy.length > 0).length,
      size: vSize,
      reclaimable: vIdle,
    },
    content: img.content,
    snapshots: img.snapshots,
  };
}

/** `K` or `K=V` (docker's label filter words) against a label map. */
function hasLabel(labels: Record<string, string>, v: string): boolean {
  const eq = v.indexOf('=');
  return eq < 0 ? Object.hasOwn(labels, v) : labels[v.slice(0, eq)] === v.slice(eq + 1);
}

/**
 * Which stopped containers a prune takes, by docker's prune filters: `until` (created before a time:
 * RFC 3339, seconds since the epoch, or a duration ago such as 10m or 24h), `label` (K or K=V) and
 * `label!` (not K, or not K=V). Keys are all required; values of one key are alternatives (`label!`:
 * none may match).
 */
export function pruneFilter(
  filters: Record<string, string[]> = {},
  now = Date.now(),
): (c: { createdAt: string; labels: Record<string, string> }) => boolean {
  for (const k of Object.keys(filters))
    if (k !== 'until' && k !== 'label' && k !== 'label!')
      throw invalidArgument(`invalid filter '${k}': prune takes until, label and label!`);
  const untils = (filters.until ?? []).map((v) => untilTime(v, now));
  return (c) =>
    untils.every((t) => Date.parse(c.createdAt) < t) &&
    (!filters.label?.length || filters.label.some((v) => hasLabel(c.labels, v))) &&
    !(filters['label!'] ?? []).some((v) => hasLabel(c.labels, v));
}

/**
 * Which user networks `network prune` keeps, by dockerd's filters for it: `until` (one; the forms
 * of image and container prune's, untilTime: a Go duration before now, a date or RFC 3339 time,
 * unix seconds; a network made after it is kept), `label` (every one must match, else kept) and
 * `label!` (a network matching every one is kept). An unknown key or a bad value is refused in
 * dockerd's words before anything is removed.
 */
export function networkPruneKeep(
  filters: Record<string, string[]> = {},
  now = Date.now(),
): (n: NetworkInfo) => boolean {
  for (const k of Object.keys(filters))
    if (k !== 'until' && k !== 'label' && k !== 'label!') throw invalidArgument(`invalid filter '${k}'`);
  const untils = filters.until ?? [];
  if (untils.length > 1) throw invalidArgument('more than one until filter specified');
  const until = untils.length ? untilTime(untils[0]!, now) : undefined;
  const label = filters.label ?? [];
  const notLabel = filters['label!'] ?? [];
  return (n) => {
    const labels = (n.labels as Record<string, string> | undefined) ?? {};
    if (!label.every((v) => hasLabel(labels, v))) return true;
    if (notLabel.length > 0 && notLabel.every((v) => hasLabel(labels, v))) return true;
    // No creation time reads as Go's zero time, which no until is before.
    const created = typeof n.created === 'string' ? Date.parse(n.created) : Number.NaN;
    return until !== undefined && (Number.isNaN(created) ? 0 : created) > until;
  };
}

/** Removes every container that is not running (docker's `container prune`); returns their ids. */
export async function pruneContainers(e: Engine, filters: Record<string, string[]> = {}): Promise<string[]> {
  const out: string[] = [];
  const take = pruneFilter(filters);
  for (const c of e.containers.list({ all: true })) {
    if (isLive(c.status) || !take(c)) continue;
    try {
      await e.containers.remove(c.id);
      out.push(c.id);
    } catch {
      // Started (or removed) meanwhile: not ours to take.
    }
  }
  return out;
}

/** Removes user networks no container is attached to (docker's `network prune`), but those `keep` names (its filters). */
export async function pruneNetworks(e: Engine, keep: (n: NetworkInfo) => boolean = () => false): Promise<string[]> {
  const out: string[] = [];
  for (const n of await e.network.list()) {
    if (n.name === e.network.defaultNetwork || n.name === 'host' || n.name === 'none' || n.isDefault === true) continue;
    if (keep(n)) continue;
    if (n.containers.length > 0 || e.store.containersOnNetwork(n.name).length > 0) continue;
    try {
      await e.network.remove(n.name);
      e.events.publish('network', 'destroy', n.name, {});
      out.push(n.name);
    } catch {
      // Attached meanwhile.
    }
  }
  return out;
}

export async function systemPrune(e: Engine, o: { all?: boolean; volumes?: boolean } = {}): Promise<SystemPruneResult> {
  const containersDeleted = await pruneContainers(e);
  const networksDeleted = await pruneNetworks(e);
  const volumesDeleted = o.volumes ? await e.volumes.prune() : [];
  const before = await e.images.diskUsage();
  const r = await e.images.prune(o.all ? { all: true } : {});
  const after = await e.images.diskUsage();
  return {
    containersDeleted,
    networksDeleted,
    volumesDeleted,
    imagesUntagged: r.untagged,
    contentDeleted: r.removed,
    snapshotsDeleted: r.removedSnapshots,
    spaceReclaimed: Math.max(
      0,
      before.images.size + before.containers.size - after.images.size - after.containers.size,
    ),
  };
}
