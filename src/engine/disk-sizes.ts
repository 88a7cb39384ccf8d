// The sizes docker shows per object when asked (`ps --size`, `system df -v`): a container's
// writable layer and its whole root filesystem (the writable layer and the image layers under it,
// as unpacked), and each volume's contents. Each walks directories, so only the verbs that ask
// call it. Sizes are du(1)'s (allocated blocks), as the snapshotter's usage counts them.
// Must never: write anything.
import { diskUsage } from '../snapshots/disk-usage.ts';
import type { Engine } from './engine.ts';

export type ContainerSize = { rw: number; rootFs: number };

/** SizeRw and SizeRootFs of each container in `ids` (a container whose snapshot is gone: 0 and 0). */
export async function containerSizes(e: Engine, ids: readonly string[]): Promise<Map<string, ContainerSize>> {
  const snaps = await e.images.snapshotter.list();
  const parentOf = new Map(snaps.map((s) => [s.name, s.parent]));
  const usage = new Map<string, number>();
  const sizeOf = async (name: string) => {
    let n = usage.get(name);
    if (n === undefined) {
      n = (await e.images.snapshotter.usage(name).catch(() => ({ size: 0 }))).size;
      usage.set(name, n);
    }
    return n;
  };
  const out = new Map<string, ContainerSize>();
  for (const id of ids) {
    const key = e.store.getContainer(id).snapshotKey;
    if (!parentOf.has(key)) {
      out.set(id, { rw: 0, rootFs: 0 });
      continue;
    }
    const rw = await sizeOf(key);
    let rootFs = rw;
    const seen = new Set<string>([key]);
    for (let p = parentOf.get(key); p && !seen.has(p); p = parentOf.get(p)) {
      seen.add(p);
      rootFs += await sizeOf(p);
    }
    out.set(id, { rw, rootFs });
  }
  return out;
}

/** The bytes under each volume's mountpoint (-1 where it cannot be read, docker's "not computed"). */
export async function volumeSizes(e: Engine): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of e.volumes.list()) out.set(v.name, (await diskUsage(v.mountpoint).catch(() => ({ size: -1 }))).size);
  return out;
}
