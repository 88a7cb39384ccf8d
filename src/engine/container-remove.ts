// Removing a container: a live one (with force) is killed and its exit recorded first; then, under
// the container's lock, what its task held is released, the row goes, then its snapshot and its
// directory. Waiters for its exit and for its removal are settled.
import { rm } from 'node:fs/promises';
import { failedPrecondition, isBerthError } from '../errors/errors.ts';
import { canRemove, isLive } from '../metadata/container-status.ts';
import { unmountAll } from '../snapshots/mount.ts';
import type { ContainerContext } from './container-context.ts';
import { releaseAllNetworks } from './container-network.ts';
import { faultPoint } from './fault-points.ts';
import { releaseShm } from './namespace-modes.ts';
import { releaseTask } from './task-release.ts';
import { timingSpan } from './timing.ts';

export async function removeContainer(
  ctx: ContainerContext,
  id: string,
  opts: { force?: boolean; volumes?: boolean; anonymousVolumes?: boolean } = {},
): Promise<void> {
  const c0 = ctx.store.getContainer(id);
  if (!canRemove(c0.status, opts.force === true))
    throw failedPrecondition(`container ${c0.name} is ${c0.status}: stop it first, or remove it with -f`);
  ctx.removing.add(id);
  const span = timingSpan('remove', id);
  try {
    ctx.cancelRestart(id);
    await killForRemoval(ctx, id);
    await ctx.lock.run(id, async () => {
      span.mark('locked');
      const c = ctx.store.getContainer(id);
      const handle = ctx.tasks.get(id);
      if (handle) {
        // The exit did not arrive in time: release by force.
        ctx.tasks.delete(id);
        await releaseTask(ctx, c, handle);
      } else {
        await ctx.runtime(c.runtime).delete(id);
        faultPoint('remove.runtime-deleted');
        try {
          unmountAll(ctx.rootfs(id));
        } catch {}
        try {
          releaseShm(ctx, id);
        } catch {}
        await releaseAllNetworks(ctx, id);
        await rm(ctx.stateDir(id), { recursive: true, force: true });
      }
      span.mark('task released');
      // The row goes first: a crash after it leaves only a snapshot and a directory without a row,
      // which recovery removes; the other order left a row whose rootfs was gone.
      ctx.store.deleteContainer(id);
      faultPoint('remove.recorded');
      // From here `wait` no longer finds the row: it answers from the recent exits (for a minute).
      if (!ctx.waiters.hasRecent(id) && c.status === 'stopped')
        ctx.waiters.remember(id, {
          exitCode: c.exitCode ?? 0,
          signal: null,
          oomKilled: c.oomKilled,
          finishedAt: c.finishedAt ?? '',
        });
      span.mark('row deleted');
      // The snapshot and the directory are independent (the rootfs is unmounted): both at once,
      // each an orphan without a row that recovery removes if berthd dies first.
      const snapshot = ctx.o.images.snapshotter
        .remove(c.snapshotKey)
        .catch((e) => {
          if (!isBerthError(e, 'BERTH_ERR_NOT_FOUND'))
            ctx.log(`remove snapshot ${c.snapshotKey}: ${(e as Error).message}; recovery will retry`);
        })
        .then(() => {
          faultPoint('remove.snapshot-removed');
          span.mark('snapshot removed');
        });
      // Retried (ENOTEMPTY): a file a late writer puts back while the walk runs is removed too.
      const dir = rm(ctx.dir(id), { recursive: true, force: true, maxRetries: 3 }).then(() => {
        faultPoint('remove.dir-removed');
        span.mark('dir removed');
      });
      const [, dirDone] = await Promise.allSettled([snapshot, dir]);
      if (dirDone.status === 'rejected') throw dirDone.reason;
      ctx.o.events.publish('container', 'destroy', id, ctx.attrs(c));
      // rm -v removes the container's volumes; an auto-removal (--rm) its anonymous ones, as docker's.
      for (const m of c.config.request.mounts ?? [])
        if (m.type === 'volume' && m.source && (opts.volumes || (opts.anonymousVolumes && m.anonymous)))
          await ctx.o.volumes.remove(m.source).catch(() => {});
    });
    const last = ctx.waiters.recent(id) ?? { exitCode: 0, signal: null, oomKilled: false, finishedAt: '' };
    ctx.waiters.exited(id, last);
    ctx.waiters.removed(id, last);
  } catch (e) {
    ctx.waiters.removalFailed(id, e);
    throw e;
  } finally {
    ctx.removing.delete(id);
  }
}

/**
 * A live container's task is killed (thawed first if paused) under the lock, and its exit awaited
 * outside it (the exit is recorded under it); without a shim to report it, the exit is reported
 * here. A task that does not report within 15 s is released by force afterwards.
 */
async function killForRemoval(ctx: ContainerContext, id: string): Promise<void> {
  const waited = await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    if (!isLive(c.status)) return undefined;
    const exited = ctx.exitRecorded(id);
    const rt = ctx.runtime(c.runtime);
    if (c.status === 'paused') await rt.resume(id).catch(() => {});
    await rt.kill(id, 'SIGKILL', true).catch(() => {});
    faultPoint('remove.killed');
    return { exited, shim: ctx.tasks.get(id) !== undefined };
  });
  if (!waited) return;
  if (waited.shim) await Promise.race([waited.exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
  else
    await ctx.tasks.report(id, undefined, {
      exitCode: 137,
      signal: 'SIGKILL',
      exitedAt: new Date().toISOString(),
      oomKilled: false,
    });
}
