// A container's root filesystem for the verbs that read or write it from the host (cp, export,
// commit's pause aside): the mounted rootfs of a live container, or, for a created or stopped one,
// its snapshot mounted on the same `rootfs/` for the time of the verb, under the container's lock
// so that no start, exit or removal interleaves (recovery unmounts a leaked rootfs mount of a
// stopped container, so a crash mid-verb leaves nothing recovery cannot finish).
// Must never: mount the snapshot of a live container a second time (two overlays on one upperdir).
import { closeSync, openSync } from 'node:fs';
import { isLive } from '../metadata/container-status.ts';
import { mountAll, unmountAll } from '../snapshots/mount.ts';
import { isMountPoint } from '../sys/mountinfo.ts';
import { constants } from '../sys/native.ts';
import type { ContainerContext } from './container-context.ts';

/**
 * `fn` with an O_PATH fd of the container's root directory (resolve paths in it with openInRoot)
 * and the host path of that root. A live container's verb runs outside the lock: its exit may
 * unmount the root under it, which fails the verb rather than stalling the container's stop.
 */
export async function withContainerRoot<T>(
  ctx: ContainerContext,
  id: string,
  fn: (rootFd: number, rootPath: string, live: boolean) => Promise<T>,
): Promise<T> {
  const rootfs = ctx.rootfs(id);
  const open = () => openSync(rootfs, constants.O_PATH | constants.O_DIRECTORY | constants.O_CLOEXEC);
  const mounted = await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    if (isLive(c.status) && isMountPoint(rootfs)) return { fd: open(), live: true };
    return undefined;
  });
  if (mounted) {
    try {
      return await fn(mounted.fd, rootfs, true);
    } finally {
      closeSync(mounted.fd);
    }
  }
  return ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    // Started between the two lock turns: its rootfs is mounted now; reading it under the lock is still safe.
    const ours = !isMountPoint(rootfs);
    if (ours) await mountAll(await ctx.o.images.snapshotter.mounts(c.snapshotKey), rootfs);
    try {
      const fd = open();
      try {
        return await fn(fd, rootfs, isLive(c.status));
      } finally {
        closeSync(fd);
      }
    } finally {
      // Detached: a walk that a reader abandoned may still hold an fd below it for a moment.
      if (ours) unmountAll(rootfs, { detach: true });
    }
  });
}
