// After berthd (re)starts: reconnect to every shim, record exits that happened while it was down,
// apply restart policies, and release what crashed operations left (mounts, netns, snapshots,
// directories, shim state of containers that no longer exist: the orphan sweep).
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isLive } from '../metadata/container-status.ts';
import { unmountAll } from '../snapshots/mount.ts';
import { isMountPoint } from '../sys/mountinfo.ts';
import { type Container, type ContainerContext, SNAPSHOT_PREFIX } from './container-context.ts';
import { reconcileEndpoints } from './container-connect.ts';
import { ensureDns } from './container-dns.ts';
import { releaseAllNetworks } from './container-network.ts';
import { removeContainer } from './container-remove.ts';
import { releaseShm, shmPath } from './namespace-modes.ts';
import { scheduleRestart } from './container-restart.ts';
import { lostExit } from './task-monitor.ts';

export type RecoveryReport = { reconnected: string[]; exited: string[]; restarted: string[]; cleaned: string[] };

/** `otherNetnsOwners`: ids (pods) whose network namespaces and attachments are not leftovers. */
export async function recoverContainers(
  ctx: ContainerContext,
  otherNetnsOwners: Iterable<string> = [],
): Promise<RecoveryReport> {
  const out: RecoveryReport = { reconnected: [], exited: [], restarted: [], cleaned: [] };
  const def = ctx.o.network.defaultNetwork;
  ctx.store.nameDefaultEndpoints(ctx.o.network.name === 'none' || def === 'none' ? undefined : def);
  const rows = ctx.store.listContainers();
  for (const c of rows) {
    if (isLive(c.status)) await recoverLive(ctx, c, out);
    else await recoverStopped(ctx, c, out);
  }
  await sweepOrphans(ctx, new Set(rows.map((r) => r.id)), out);
  // Pods own network namespaces and attachments too (the pod service recovered them first).
  const live = new Set([
    ...ctx.store
      .listContainers()
      .filter((c) => isLive(c.status))
      .map((c) => c.id),
    ...otherNetnsOwners,
  ]);
  await ctx.o.network.recover(live).catch((e) => ctx.log(`network recovery: ${(e as Error).message}`));
  return out;
}

/** A row that says running: its shim still supervises it, or its exit (known or lost) is recorded now. */
async function recoverLive(ctx: ContainerContext, c: Container, out: RecoveryReport): Promise<void> {
  const handle = await ctx.o.supervisor.reconnect(ctx.stateDir(c.id)).catch(() => undefined);
  const exit = handle?.exitNow();
  if (handle && !exit) {
    ctx.tasks.watch(c.id, handle);
    out.reconnected.push(c.id);
    // A connect or disconnect that a crash cut between its row and its CNI ADD or DEL.
    out.cleaned.push(...(await reconcileEndpoints(ctx, c)));
    // Its embedded DNS server went with the previous berthd: made again (new ports, new redirect).
    await ensureDns(ctx, c);
    return;
  }
  out.exited.push(c.id);
  if (!handle)
    await ctx
      .runtime(c.runtime)
      .kill(c.id, 'SIGKILL', true)
      .catch(() => {});
  if (handle) ctx.tasks.hold(c.id, handle);
  await ctx.tasks.report(
    c.id,
    handle,
    exit ?? lostExit(),
    exit ? '' : 'the task was lost while berthd was down (no shim and no exit status)',
  );
  if (ctx.restartTimers.has(c.id)) out.restarted.push(c.id);
}

/** A stopped container holds nothing on the host; a crash mid-start or mid-exit may have left some. */
async function recoverStopped(ctx: ContainerContext, c: Container, out: RecoveryReport): Promise<void> {
  const rootfs = ctx.rootfs(c.id);
  if (isMountPoint(rootfs)) {
    unmountAll(rootfs, { detach: true });
    out.cleaned.push(`mount ${rootfs}`);
  }
  if (isMountPoint(shmPath(ctx, c.id))) {
    releaseShm(ctx, c.id, true);
    out.cleaned.push(`mount ${shmPath(ctx, c.id)}`);
  }
  if (existsSync(ctx.stateDir(c.id))) {
    await ctx.runtime(c.runtime).delete(c.id);
    const h = await ctx.o.supervisor.reconnect(ctx.stateDir(c.id)).catch(() => undefined);
    if (h) await h.cleanup().catch(() => {});
    await rm(ctx.stateDir(c.id), { recursive: true, force: true });
    out.cleaned.push(`shim state ${c.id}`);
  }
  await releaseAllNetworks(ctx, c.id);
  if (c.config.request.autoRemove && c.status === 'stopped') {
    await removeContainer(ctx, c.id, { force: true }).catch(() => {});
    return;
  }
  // The machine rebooted (or the shim died with the host): honour always / unless-stopped.
  if (
    c.status === 'stopped' &&
    c.startedAt &&
    (c.restartPolicy === 'always' || c.restartPolicy === 'unless-stopped') &&
    !c.manuallyStopped
  ) {
    scheduleRestart(ctx, c);
    out.restarted.push(c.id);
  }
}

/** Leftovers of creates and removes that crashed half-way, and shims and execs nobody knows. */
async function sweepOrphans(ctx: ContainerContext, ids: Set<string>, out: RecoveryReport): Promise<void> {
  const snaps = await ctx.o.images.snapshotter.list().catch(() => []);
  for (const s of snaps) {
    if (!s.name.startsWith(SNAPSHOT_PREFIX) || ids.has(s.name.slice(SNAPSHOT_PREFIX.length))) continue;
    const orphan = s.name.slice(SNAPSHOT_PREFIX.length);
    try {
      unmountAll(ctx.rootfs(orphan), { detach: true });
    } catch {}
    await ctx.o.images.snapshotter.remove(s.name).catch(() => {});
    out.cleaned.push(`snapshot ${s.name}`);
  }
  for (const d of await readdir(join(ctx.o.root, 'containers')).catch(() => [] as string[])) {
    if (ids.has(d)) continue;
    try {
      unmountAll(ctx.rootfs(d), { detach: true });
    } catch {}
    try {
      releaseShm(ctx, d, true);
    } catch {}
    await rm(ctx.dir(d), { recursive: true, force: true });
    out.cleaned.push(`directory ${d}`);
  }
  const shortIds = new Set([...ids].map((i) => i.slice(0, 32)));
  for (const d of await readdir(join(ctx.o.runRoot, 'shims')).catch(() => [] as string[])) {
    if (shortIds.has(d)) continue;
    const h = await ctx.o.supervisor.reconnect(join(ctx.o.runRoot, 'shims', d)).catch(() => undefined);
    if (h) await h.cleanup().catch(() => {});
    await rm(join(ctx.o.runRoot, 'shims', d), { recursive: true, force: true });
    out.cleaned.push(`shim ${d}`);
  }
  for (const d of await readdir(join(ctx.o.runRoot, 'execs')).catch(() => [] as string[])) {
    // Exec records live in memory: after a restart nobody can ask for these any more.
    const h = await ctx.o.supervisor.reconnect(join(ctx.o.runRoot, 'execs', d)).catch(() => undefined);
    if (h) await h.cleanup().catch(() => {});
    await rm(join(ctx.o.runRoot, 'execs', d), { recursive: true, force: true });
  }
}
