// The public face of src/cgroups: what berth-runtime imports. Everything else is internal.
// Never: logic of its own.

export { type CgroupFs, nodeCgroupFs } from './cgroup-fs.ts';
export { DEFAULT_CGROUP_PARENT, resolveCgroupsPath } from './cgroups-path.ts';
export { deviceFilterProgram } from './device-filter.ts';
export { defaultDeviceRules } from './device-rules.ts';
export { loadCgroupManager, newCgroupManager } from './manager.ts';
export { type CgroupMode, detectCgroupMode } from './mounts.ts';
export { type CgroupWrite, planWrites } from './plan-writes.ts';
export type {
  CgroupManager,
  CgroupManagerOptions,
  CgroupStats,
  DeviceFilterLoader,
  FreezerState,
  SavedCgroup,
} from './types.ts';
