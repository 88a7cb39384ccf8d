// What this host offers, found out at test time: machines of the same kind differ in their disks,
// I/O schedulers, kernel modules and cgroup files, so a test that needs one asks here and, where
// it is absent, asserts berth's clear error (or skips naming the reason) instead of failing.
// Never: changes the host (no modprobe, no scheduler switch).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface BlockDevice {
  name: string;
  major: number;
  minor: number;
}

/**
 * Whole-disk block devices (the kernel's blkio/io limits refuse partitions), from /sys/block's
 * `dev` files; /proc/partitions when /sys is not there. Real disks before loop and zram devices.
 */
export function wholeDisks(): BlockDevice[] {
  const disks: BlockDevice[] = [];
  if (existsSync('/sys/block')) {
    for (const name of readdirSync('/sys/block')) {
      const m = /^(\d+):(\d+)$/.exec(readText(`/sys/block/${name}/dev`));
      if (m) disks.push({ name, major: Number(m[1]), minor: Number(m[2]) });
    }
  } else {
    for (const line of readText('/proc/partitions').split('\n').slice(2)) {
      const [major, minor, , name] = line.trim().split(/\s+/);
      // A partition's name is its disk's plus a number (sda1, nvme0n1p1, vda2).
      if (name && !/(\d+p|[a-z])\d+$/.test(name)) disks.push({ name, major: Number(major), minor: Number(minor) });
    }
  }
  const virtual = (d: BlockDevice) => /^(loop|zram|ram)/.test(d.name);
  return disks.sort((a, b) => Number(virtual(a)) - Number(virtual(b)));
}

/** The mount directory of a cgroup v1 controller, or undefined when it is not mounted on its own. */
export function cgroupV1Dir(controller: string): string | undefined {
  for (const line of readText('/proc/self/mountinfo').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , options = ''] = post.split(' ');
    if (fstype === 'cgroup' && options.split(',').includes(controller)) return pre.split(' ')[4];
  }
  return undefined;
}

/** Whether cgroup v1 accounts swap (memory.memsw.*: a kernel option and the swapaccount boot flag). */
export function memswAccounted(): boolean {
  return existsSync(`${cgroupV1Dir('memory') ?? '/sys/fs/cgroup/memory'}/memory.memsw.limit_in_bytes`);
}

/**
 * Why this host cannot make a `time` or `user` namespace (undefined when it can): the kernel may be
 * built without it (no /proc/self/ns/<name>), or user namespaces may be switched off by sysctl.
 */
export function namespaceMissing(type: 'time' | 'user'): string | undefined {
  if (!existsSync(`/proc/self/ns/${type}`))
    return `this kernel has no ${type} namespaces (/proc/self/ns/${type} is missing)`;
  if (type === 'user' && readText('/proc/sys/user/max_user_namespaces') === '0')
    return 'user namespaces are off (user.max_user_namespaces is 0)';
  return undefined;
}

/** An executable named `name` on PATH (or the standard sbin directories), or undefined. */
export function findCommand(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (d !== '' && existsSync(join(d, name))) return join(d, name);
  }
  return undefined;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
