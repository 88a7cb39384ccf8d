// The runtime's cgroup driver over src/cgroups (the cgroupfs driver; v1, hybrid or v2 as the host
// mounts them). The cgroup is made and limited before the init is cloned; stage0 joins it, so the
// container never runs a single instruction outside its limits. Later commands drive exactly the
// directories recorded at create (a relative cgroupsPath is never resolved twice).
import { DEVICE_FILTER_LICENSE } from '../cgroups/device-filter.ts';
import { type DeviceFilterLoader, defaultDeviceRules, loadCgroupManager, newCgroupManager } from '../cgroups/index.ts';
import type { CgroupMode } from '../cgroups/mounts.ts';
import * as native from '../sys/native.ts';
import type { CgroupDriver } from './cgroup-driver.ts';

// cgroup v2's device rules are an eBPF program; the addon loads it (and replaces it on update).
const loadDeviceFilter: DeviceFilterLoader = (dir, program) =>
  native.bpfAttachDeviceFilter(dir, program, DEVICE_FILTER_LICENSE);

/** `procSelfCgroup`: the cgroup a relative cgroupsPath is under (default: this process's; the plan server gives its caller's). */
export function cgroupfsDriver(procSelfCgroup?: string): CgroupDriver {
  return {
    async create(rec, record) {
      const m = newCgroupManager({
        id: rec.id,
        cgroupsPath: rec.config.linux?.cgroupsPath,
        loadDeviceFilter,
        ...(procSelfCgroup === undefined ? {} : { procSelfCgroup }),
      });
      rec.cgroupMode = m.mode;
      rec.cgroupPaths = m.paths();
      record();
      // The devices the runtime supplies (the spec's defaults and linux.devices) must be usable even
      // when the config's own rules start with deny-all: their allow rules go last, as runc does.
      const resources = { ...(rec.config.linux?.resources ?? {}) };
      resources.devices = [...(resources.devices ?? []), ...defaultDeviceRules(rec.config.linux?.devices)];
      await m.create(resources);
      return { paths: m.paths(), join: m.join() };
    },
    load(rec) {
      if (!rec.cgroupMode || Object.keys(rec.cgroupPaths).length === 0) return undefined;
      return loadCgroupManager({ mode: rec.cgroupMode as CgroupMode, paths: rec.cgroupPaths }, { loadDeviceFilter });
    },
  };
}
