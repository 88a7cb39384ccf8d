// What a container's (or an exec's) process needs from the image's root before it runs, as docker
// (with runc) provides it: a user name resolved in /etc/passwd and /etc/group, HOME from the user's
// passwd entry, and the working directory made when it is missing (owned by the process's user).
// The rootfs is read and written only through openInRoot (src/sys/in-root.ts): an image's symlinks
// stay inside it.
// Must never: follow a path of the image out of its root, or touch a directory that exists.
import { invalidArgument } from '../errors/errors.ts';
import type { Process } from '../oci/runtime-spec.ts';
import { existsSync, statSync } from 'node:fs';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';
import { mkdirAllInRoot, readFileInRoot, touchInRoot } from '../sys/in-root.ts';
import { withGroups } from './security-options.ts';
import { numericUser, resolveUser, withHome } from './spec-builder.ts';
import type { GroupsPolicy } from './types.ts';

function readOrEmpty(rootfs: string, path: string): string {
  try {
    return readFileInRoot(rootfs, path) ?? '';
  } catch {
    // A /etc/passwd that cannot be read (a directory, a dangling link) is an image without one.
    return '';
  }
}

/**
 * Completes `proc` in place for the mounted `rootfs`: `user` (uid[:gid] or name[:group]; undefined
 * keeps proc.user), its supplementary groups with the requested `groups`, HOME, and with `makeCwd`
 * the working directory.
 *
 * With a `groupsPolicy` (the CRI's supplemental_groups_policy) the groups are the Kubernetes way, as
 * containerd makes them: the primary gid first, then under `merge` every group of the image's
 * /etc/group that lists the user (found by name, or by uid through /etc/passwd), then `groups`;
 * under `strict` the image's /etc/group adds nothing. A numeric uid without a group takes its
 * primary gid from the image's /etc/passwd. Without a policy (docker's way) a numeric user gets no
 * image groups and `groups` are added to what proc.user has.
 */
export function prepareProcess(
  rootfs: string,
  proc: Process,
  user: string | undefined,
  o: { makeCwd?: boolean; groups?: number[]; groupsPolicy?: GroupsPolicy } = {},
): void {
  const passwd = readOrEmpty(rootfs, 'etc/passwd');
  if (o.groupsPolicy) {
    const u = resolveUser(user || `${proc.user.uid}:${proc.user.gid}`, passwd, readOrEmpty(rootfs, 'etc/group'));
    const imageGroups = o.groupsPolicy === 'merge' ? u.additionalGids : [];
    proc.user = { uid: u.uid, gid: u.gid, additionalGids: [...new Set([u.gid, ...imageGroups, ...(o.groups ?? [])])] };
  } else {
    if (user) {
      const n = numericUser(user);
      if (n) proc.user = n;
      else {
        const u = resolveUser(user, passwd, readOrEmpty(rootfs, 'etc/group'));
        proc.user = {
          uid: u.uid,
          gid: u.gid,
          ...(u.additionalGids.length ? { additionalGids: u.additionalGids } : {}),
        };
      }
    }
    const groups = withGroups(proc.user.additionalGids, o.groups);
    if (groups) proc.user.additionalGids = groups;
  }
  proc.env = withHome(proc.env ?? [], proc.user.uid, passwd);
  if (o.makeCwd === false || proc.cwd === '/') return;
  try {
    mkdirAllInRoot(rootfs, proc.cwd, 0o755, proc.user);
  } catch (e) {
    throw invalidArgument(
      `workdir ${proc.cwd}: cannot create it in the image's root: ${(e as Error).message} (expected a path whose existing parts are directories)`,
      e,
    );
  }
}

/**
 * For a container that joins a user namespace: its mount targets are made in the image's root now,
 * by berthd as the host's root. The runtime creates a missing target as root of the user namespace,
 * which the image's directories (owned by the host's root, not idmapped) do not let write. What lies
 * under /proc, /sys and /dev is the runtime's to make (in its own mounts there).
 */
export function makeMountTargets(rootfs: string, spec: RuntimeConfig): void {
  for (const m of spec.mounts ?? []) {
    const dest = m.destination;
    if (['/proc/', '/sys/', '/dev/'].some((k) => dest.startsWith(k))) continue;
    const isBind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
    if (isBind && (!m.source || !existsSync(m.source))) continue;
    if (isBind && !statSync(m.source!).isDirectory()) touchInRoot(rootfs, dest);
    else mkdirAllInRoot(rootfs, dest, 0o755, { uid: 0, gid: 0 });
  }
}
