// Reads the host's cgroup layout from the text of /proc/self/mountinfo and /proc/self/cgroup.
// Owns: deciding which cgroup version is in charge (v1, v2 or hybrid), where each hierarchy is
// mounted, and where the calling process sits in each. Everything here is a pure function of the
// text it is given, so that every layout can be unit-tested on any host; the callers read the files
// (detectCgroupMode reads /proc/self/mountinfo itself only when given no text).
// Never: touches a cgroup.

import { readFileSync } from 'node:fs';
import { unavailable } from '../errors/errors.ts';
import { parseMountInfo } from '../sys/mountinfo.ts';

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

/** One cgroup filesystem mount, from one line of mountinfo. */
export interface CgroupMount {
  /** Where it is mounted, e.g. /sys/fs/cgroup/memory. */
  mountpoint: string;
  /** The hierarchy path that appears at the mountpoint ("/" unless inside a cgroup namespace or a bind). */
  root: string;
  version: 1 | 2;
  /** v1: the controllers of the hierarchy, with named hierarchies as "name=<x>"; v2: empty. */
  controllers: string[];
}

/** The cgroup and cgroup2 mounts in a mountinfo text, in file order. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  const known = new Set<string>(V1_CONTROLLERS);
  for (const m of parseMountInfo(mountinfo)) {
    if (m.fsType === 'cgroup2') mounts.push({ mountpoint: m.mountPoint, root: m.root, version: 2, controllers: [] });
    else if (m.fsType === 'cgroup') {
      // The super options name the controllers: "rw,cpu,cpuacct" or "rw,name=systemd" or "rw,xattr,memory".
      const controllers = m.superOptions.split(',').filter((o) => known.has(o) || o.startsWith('name='));
      mounts.push({ mountpoint: m.mountPoint, root: m.root, version: 1, controllers });
    }
  }
  return mounts;
}

/** Controllers berth knows on v1 (the kernel's names). Named hierarchies are "name=<x>". */
export const V1_CONTROLLERS = [
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'blkio',
  'pids',
  'hugetlb',
  'net_cls',
  'net_prio',
  'perf_event',
  'rdma',
  'misc',
] as const;

/**
 * Which cgroup version governs resources. A host with any v1 hierarchy that carries a real
 * controller is v1 ("hybrid" when a cgroup2 hierarchy is mounted beside it, as systemd's hybrid
 * layout does); resources are then controlled through v1. Only cgroup2 mounted: v2.
 */
export function detectCgroupMode(mountinfo: string = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupMode {
  const mounts = parseCgroupMounts(mountinfo);
  const v1 = mounts.some((m) => m.version === 1 && m.controllers.some((c) => !c.startsWith('name=')));
  const v2 = mounts.some((m) => m.version === 2);
  if (v1) return v2 ? 'hybrid' : 'v1';
  if (v2) return 'v2';
  throw unavailable('no cgroup filesystem is mounted (looked for "cgroup" and "cgroup2" in /proc/self/mountinfo)');
}

/**
 * v1: controller → its mount (first mount of each hierarchy wins; later ones are usually binds).
 * Named hierarchies are keyed "name=<x>".
 */
export function v1Mounts(mounts: CgroupMount[]): Map<string, CgroupMount> {
  const out = new Map<string, CgroupMount>();
  for (const m of mounts) {
    if (m.version !== 1) continue;
    for (const c of m.controllers) if (!out.has(c)) out.set(c, m);
  }
  return out;
}

/** The first cgroup2 mount, if any. */
export function v2Mount(mounts: CgroupMount[]): CgroupMount | undefined {
  return mounts.find((m) => m.version === 2);
}

/**
 * /proc/<pid>/cgroup as hierarchy → path. v1 lines "4:memory:/a" give one entry per controller
 * ("cpu", "cpuacct" for "cpu,cpuacct", "name=systemd"); the v2 line "0::/a" gives key "".
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controllers === '') out.set('', path);
    else for (const c of controllers.split(',')) out.set(c, path);
  }
  return out;
}
