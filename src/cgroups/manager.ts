// Chooses and builds the CgroupManager for a container: reads the host's layout (or the texts a test
// gives), resolves linux.cgroupsPath, and returns the v1 or v2 implementation.
// Owns: the choice. hybrid hosts are driven through v1 (their cgroup2 hierarchy has no controllers).
// Never: touches a cgroup (construction is free; create() does the work).

import { readFileSync } from 'node:fs';
import { invalidArgument, unavailable } from '../errors/errors.ts';
import { nodeCgroupFs } from './cgroup-fs.ts';
import { hierarchyDir, resolveCgroupsPath } from './cgroups-path.ts';
import { detectCgroupMode, parseCgroupMounts, parseProcCgroup, v2Mount } from './mounts.ts';
import type { CgroupManager, CgroupManagerOptions, SavedCgroup } from './types.ts';
import { V1CgroupManager, v1Paths } from './v1-manager.ts';
import { V2CgroupManager } from './v2-manager.ts';

/** The manager for a new container (create, or run). */
export function newCgroupManager(opts: CgroupManagerOptions): CgroupManager {
  const resolved = resolveCgroupsPath(opts.cgroupsPath, opts.id, opts.systemdCgroup ?? false);
  const mountinfo = opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const mode = detectCgroupMode(mountinfo);
  const mounts = parseCgroupMounts(mountinfo);
  // Only relative cgroupsPaths depend on where the runtime itself is.
  const own = resolved.absolute
    ? new Map<string, string>()
    : parseProcCgroup(opts.procSelfCgroup ?? readFileSync('/proc/self/cgroup', 'utf8'));
  const fs = opts.fs ?? nodeCgroupFs;
  if (mode === 'v2') {
    const m = v2Mount(mounts);
    if (m === undefined) throw unavailable('no cgroup2 mount found in mountinfo');
    const base = m.mountpoint.replace(/\/+$/, '');
    const dir = hierarchyDir(m, resolved, own.get(''));
    return new V2CgroupManager(dir, base, fs, opts.loadDeviceFilter);
  }
  return new V1CgroupManager(mode, v1Paths(mounts, resolved, own, mode === 'hybrid'), fs);
}

/**
 * The manager of an existing container, from what berth-runtime saved at create (mode and paths()).
 * Later invocations must not re-resolve a relative cgroupsPath: the runtime may run from another cgroup.
 */
export function loadCgroupManager(
  saved: SavedCgroup,
  opts: Pick<CgroupManagerOptions, 'fs' | 'mountinfo' | 'loadDeviceFilter'> = {},
): CgroupManager {
  const fs = opts.fs ?? nodeCgroupFs;
  for (const [c, p] of Object.entries(saved.paths)) {
    if (typeof p !== 'string' || !p.startsWith('/') || p.split('/').includes('..')) {
      throw invalidArgument(
        `saved cgroup path for "${c}" is ${JSON.stringify(p)}: expected an absolute path without ".."`,
      );
    }
  }
  if (saved.mode === 'v2') {
    const dir = saved.paths['unified'];
    if (dir === undefined) throw invalidArgument('saved cgroup state for v2 has no "unified" path');
    let mountpoint: string | undefined;
    try {
      const m = v2Mount(parseCgroupMounts(opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8')));
      mountpoint = m?.mountpoint;
    } catch {
      mountpoint = undefined;
    }
    return new V2CgroupManager(dir, mountpoint, fs, opts.loadDeviceFilter);
  }
  if (saved.mode !== 'v1' && saved.mode !== 'hybrid') {
    throw invalidArgument(`saved cgroup mode ${JSON.stringify(saved.mode)}: expected "v1", "v2" or "hybrid"`);
  }
  return new V1CgroupManager(saved.mode, saved.paths, fs);
}
