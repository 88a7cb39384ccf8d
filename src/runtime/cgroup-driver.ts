// How the runtime places a container in cgroups: made before the init is cloned (the init joins
// them from stage0, so it is born inside), removed on delete. The runtime sees only this small
// interface; src/cgroups does the work.
import type { ContainerRecord } from './state-store.ts';

export interface CgroupPlacement {
  /** Absolute cgroup directory per hierarchy (v1 controller name, or "" for the v2 unified tree). */
  paths: Record<string, string>;
  /** The cgroup.procs files stage0 writes "0" into before clone. */
  joinFiles: string[];
}

export interface CgroupDriver {
  create(rec: ContainerRecord): Promise<CgroupPlacement>;
  /** The cgroup.procs files a process joins to enter the recorded container's cgroups (exec). */
  joinFiles(rec: ContainerRecord): string[];
  /** Kills whatever is left in the container's cgroups and removes them. Idempotent. */
  destroy(rec: ContainerRecord): Promise<void>;
}

/** For tests of the lifecycle without cgroups: places nothing. */
export const noCgroups: CgroupDriver = {
  create: async () => ({ paths: {}, joinFiles: [] }),
  joinFiles: () => [],
  destroy: async () => {},
};
