// The spec's linux.cgroupsPath semantics (config-linux.md, "Cgroups path"), for the cgroupfs driver.
// Owns: turning cgroupsPath + container id into one directory per hierarchy.
//   - absolute ("/a/b"): relative to each hierarchy's mount point, as the spec requires
//     (a mount whose root is not "/", as inside a cgroup namespace, still counts from the mountpoint);
//   - relative ("a/b"): the spec leaves the base to the runtime; like runc, berth takes it relative
//     to the cgroup the runtime itself is in, per hierarchy (/proc/self/cgroup);
//   - absent: "<id>" relative, as runc does: the container nests under the cgroup the runtime was
//     started in, so a runtime run inside a constrained cgroup cannot put a container beyond its
//     limits. berthd names its own parent explicitly ("/berth/<id>", DEFAULT_CGROUP_PARENT).
// The systemd driver ("--systemd-cgroup", or a "slice:prefix:name" cgroupsPath) is refused.
// Never: creates anything.

import { invalidArgument, unsupported } from '../errors/errors.ts';
import type { CgroupMount } from './mounts.ts';

/** The parent berthd names for its containers ("/berth/<id>"); removed with its last container. */
export const DEFAULT_CGROUP_PARENT = '/berth';

export interface ResolvedCgroupsPath {
  absolute: boolean;
  /** Cleaned path without a trailing slash; absolute ones start with "/", relative ones don't. */
  path: string;
}

// runc's systemd driver takes "<slice>:<prefix>:<name>"; recognising it lets berth say why it fails.
const SYSTEMD_FORM = /^[^/:]*:[^/:]*:[^/:]+$/;

export function resolveCgroupsPath(
  cgroupsPath: string | undefined,
  id: string,
  systemdCgroup = false,
): ResolvedCgroupsPath {
  if (systemdCgroup) {
    throw unsupported(
      'the systemd cgroup driver (--systemd-cgroup) is not supported by berth-runtime: use the cgroupfs driver (omit --systemd-cgroup)',
    );
  }
  if (cgroupsPath === undefined || cgroupsPath === '') {
    if (id === '' || id.includes('/') || id === '.' || id === '..') {
      throw invalidArgument(
        `container id ${JSON.stringify(id)} cannot name a cgroup: expected a non-empty name without "/"`,
      );
    }
    return { absolute: false, path: id };
  }
  if (SYSTEMD_FORM.test(cgroupsPath)) {
    throw unsupported(
      `linux.cgroupsPath ${JSON.stringify(cgroupsPath)} is in the systemd driver's "slice:prefix:name" form, ` +
        'which needs --systemd-cgroup; berth-runtime supports only the cgroupfs driver: expected a path like "/berth/<id>"',
    );
  }
  if (cgroupsPath.includes('\0')) throw invalidArgument('linux.cgroupsPath contains a NUL byte');
  const absolute = cgroupsPath.startsWith('/');
  const parts = cgroupsPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw invalidArgument(
      `linux.cgroupsPath ${JSON.stringify(cgroupsPath)} contains "..": expected a path that stays inside the cgroup hierarchy`,
    );
  }
  if (parts.length === 0) {
    throw invalidArgument(
      `linux.cgroupsPath ${JSON.stringify(cgroupsPath)} names the hierarchy root itself: expected a path to a cgroup below it`,
    );
  }
  return { absolute, path: (absolute ? '/' : '') + parts.join('/') };
}

/**
 * The directory for one hierarchy. `ownPath` is the runtime's own cgroup in that hierarchy (from
 * /proc/self/cgroup); only relative cgroupsPaths use it.
 */
export function hierarchyDir(mount: CgroupMount, resolved: ResolvedCgroupsPath, ownPath: string | undefined): string {
  const mp = mount.mountpoint.replace(/\/+$/, '');
  if (resolved.absolute) return mp + resolved.path;
  let base = '';
  if (ownPath !== undefined) {
    const root = mount.root === '/' ? '' : mount.root.replace(/\/+$/, '');
    // In a cgroup namespace the own path may lie above the mount's root ("/.."): fall back to the mountpoint.
    if (ownPath === root || ownPath.startsWith(`${root}/`)) base = ownPath.slice(root.length).replace(/\/+$/, '');
  }
  return `${mp}${base}/${resolved.path}`;
}
