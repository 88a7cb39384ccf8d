// berthd names the cgroup /berth/<id> in every spec. berth-runtime removes the /berth parent with
// its last container; runc and crun leave it. So when no container of this berthd runs, berthd
// removes the empty parent in every cgroup hierarchy: rmdir of a cgroup with children fails, so
// nothing live is touched.
import { readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CGROUP_PARENT } from '../cgroups/cgroups-path.ts';
import { parseCgroupMounts } from '../cgroups/mounts.ts';

export function pruneCgroupParent(): void {
  let mountinfo = '';
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  for (const m of parseCgroupMounts(mountinfo)) {
    try {
      rmdirSync(join(m.mountpoint, DEFAULT_CGROUP_PARENT));
    } catch {
      // Missing, or still in use by a container: both fine.
    }
  }
}
