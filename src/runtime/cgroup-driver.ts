// How the runtime places a container in cgroups: made before the init is cloned (the init joins
// them from stage0, so it is born inside), removed on delete. The runtime sees only this small
// interface; src/cgroups does the work.
import { rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DEFAULT_CGROUP_PARENT } from '../cgroups/cgroups-path.ts';
import type { CgroupJoin, CgroupManager } from '../cgroups/types.ts';
import type { ContainerRecord } from './state-store.ts';

export interface CgroupPlacement {
  /** Absolute cgroup directory per hierarchy (v1 controller name, or "unified" for cgroup2). */
  paths: Record<string, string>;
  /** How stage0 puts the init in (see CgroupJoin). */
  join: CgroupJoin;
}

export interface CgroupDriver {
  /**
   * Makes and limits the container's cgroups. Their mode and paths are put in `rec` first, and
   * `record()` is called before any directory exists, so that a create cut short can be cleaned up.
   */
  create(rec: ContainerRecord, record: () => void): Promise<CgroupPlacement>;
  /** The manager of a recorded container's cgroups, or undefined when it has none. */
  load(rec: ContainerRecord): CgroupManager | undefined;
}

/** Kills whatever is left in the container's cgroups and removes them. Idempotent. */
export async function destroyCgroups(driver: CgroupDriver, rec: ContainerRecord): Promise<void> {
  const m = driver.load(rec);
  if (!m) return;
  await m.killAll('SIGKILL');
  await m.destroy();
  for (const dir of parentsToPrune(rec, m.paths())) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty (another container), or already gone.
    }
  }
}

/**
 * The parent directories that delete tries to remove once the container's own are gone. berth's
 * parent (/berth, which berthd names as /berth/<id>) is removed when its last container goes, so
 * that an idle host keeps no berth cgroups. Any other parent belongs to whoever named it, and
 * without a cgroupsPath the parent is the cgroup the runtime was started in: the caller's.
 */
export function parentsToPrune(rec: ContainerRecord, paths: Record<string, string>): string[] {
  const named = rec.config.linux?.cgroupsPath;
  if (!named?.startsWith('/') || dirname(named.replace(/\/+/g, '/')) !== DEFAULT_CGROUP_PARENT) return [];
  return [...new Set(Object.values(paths).map((dir) => dirname(dir)))];
}

/** For tests of the lifecycle without cgroups: places nothing. */
export const noCgroups: CgroupDriver = {
  create: async (_rec, record) => {
    record();
    return { paths: {}, join: { writeZero: [] } };
  },
  load: () => undefined,
};
