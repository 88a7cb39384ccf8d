// The live host's answers to the plan builder's questions (see HostFacts in plan-builder.ts).
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { seccompOp } from '../seccomp/seccomp-op.ts';
import { parseMountInfo } from '../sys/mountinfo.ts';
import type { HostFacts } from './plan-builder.ts';

let lastCap: number | undefined;
let hierarchies: ReturnType<HostFacts['cgroupHierarchies']> | undefined;

/** The cgroup hierarchies mounted directly under /sys/fs/cgroup, from mountinfo text. */
export function parseCgroupHierarchies(mountinfo: string): ReturnType<HostFacts['cgroupHierarchies']> {
  const out: ReturnType<HostFacts['cgroupHierarchies']> = [];
  for (const m of parseMountInfo(mountinfo)) {
    if (m.fsType !== 'cgroup' && m.fsType !== 'cgroup2') continue;
    if (m.mountPoint !== '/sys/fs/cgroup' && !m.mountPoint.startsWith('/sys/fs/cgroup/')) continue;
    const name = m.mountPoint === '/sys/fs/cgroup' ? '' : m.mountPoint.slice('/sys/fs/cgroup/'.length);
    if (name.includes('/')) continue;
    const superOpts = m.superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro');
    out.push({ name, options: superOpts.join(','), fstype: m.fsType });
  }
  return out;
}

/** The facts of this host; `warn` receives what the plan leaves out (skipped seccomp syscalls, mounts without a mount namespace). */
export function linuxHostFacts(warn: (m: string) => void = () => {}): HostFacts {
  return {
    pathKind(path) {
      try {
        return statSync(path).isDirectory() ? 'dir' : 'file';
      } catch {
        return 'missing';
      }
    },
    isSymlink(path) {
      try {
        return lstatSync(path).isSymbolicLink();
      } catch {
        return false;
      }
    },
    cgroupHierarchies() {
      hierarchies ??= parseCgroupHierarchies(readFileSync('/proc/self/mountinfo', 'utf8'));
      return hierarchies;
    },
    mountPointOf(path) {
      let at = '/';
      for (const m of parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
        if (
          (path === m.mountPoint || path.startsWith(m.mountPoint === '/' ? '/' : `${m.mountPoint}/`)) &&
          m.mountPoint.length > at.length
        )
          at = m.mountPoint;
      }
      return at;
    },
    selinuxEnabled() {
      return existsSync('/sys/fs/selinux/enforce');
    },
    warn,
    seccompOp(seccomp) {
      return seccompOp(seccomp, warn);
    },
    capLastCap() {
      lastCap ??= Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
      return lastCap;
    },
  };
}
