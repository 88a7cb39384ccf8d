// The live host's answers to the plan builder's questions (see HostFacts in plan-builder.ts).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { seccompOp } from '../seccomp/seccomp-op.ts';
import type { HostFacts } from './plan-builder.ts';

let lastCap: number | undefined;
let hierarchies: ReturnType<HostFacts['cgroupHierarchies']> | undefined;

/** Parses /proc/self/mountinfo for the cgroup hierarchies mounted under /sys/fs/cgroup. */
export function parseCgroupHierarchies(mountinfo: string): ReturnType<HostFacts['cgroupHierarchies']> {
  const out: ReturnType<HostFacts['cgroupHierarchies']> = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const fstype = right[0];
    const mountPoint = left[4] ?? '';
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    if (!mountPoint.startsWith('/sys/fs/cgroup')) continue;
    const name = mountPoint === '/sys/fs/cgroup' ? '' : mountPoint.slice('/sys/fs/cgroup/'.length);
    if (name.includes('/')) continue;
    const superOpts = (right[2] ?? '').split(',').filter((o) => o !== 'rw' && o !== 'ro');
    out.push({ name, options: superOpts.join(','), fstype });
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
    cgroupHierarchies() {
      hierarchies ??= parseCgroupHierarchies(readFileSync('/proc/self/mountinfo', 'utf8'));
      return hierarchies;
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
