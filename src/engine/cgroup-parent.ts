// Cgroup parents berthd names and no runtime removes. berthd names /berth/<id> in every container's
// spec: berth-runtime removes the /berth parent with its last container, runc and crun leave it. A
// pod's containers sit under the pod's own parent (/berth-pods/<pod id>), which only the pod service
// knows to be empty. Those are removed here, in every cgroup hierarchy mounted (found from
// mountinfo, not assumed under /sys/fs/cgroup): rmdir of a cgroup with children or tasks fails, so
// nothing live is touched.
import { readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CGROUP_PARENT } from '../cgroups/cgroups-path.ts';
import { parseCgroupMounts } from '../cgroups/mounts.ts';

/** Removes each of `paths` (absolute cgroup paths, children before their parents) where it is empty. */
export function removeEmptyCgroups(paths: readonly string[]): void {
  let mountinfo = '';
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  for (const m of parseCgroupMounts(mountinfo)) {
    for (const p of paths) {
      try {
        rmdirSync(join(m.mountpoint, p));
      } catch {
        // Missing, or still in use: both fine.
      }
    }
  }
}

/** The /berth parent of containers, when no container of this berthd runs. */
export function pruneCgroupParent(): void {
  removeEmptyCgroups([DEFAULT_CGROUP_PARENT]);
}
