// Starting a container's task: mount its rootfs, resolve its user, make its network namespace and
// attach it (publishing its ports), write the spec, start a shim (which runs the runtime's create),
// then the runtime's start; recorded running, and watched (its exit goes to container-exit.ts).
// Must never: leave one of those behind on a failed start: each is undone, and the row keeps the
// status it had (created or stopped) with the error.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { failedPrecondition } from '../errors/errors.ts';
import { canStart } from '../metadata/container-status.ts';
import { mountAll, unmountAll } from '../snapshots/mount.ts';
import { isMountPoint } from '../sys/mountinfo.ts';
import type { Container, ContainerContext } from './container-context.ts';
import { ensureDns, stopDns, writeDnsResolvConf } from './container-dns.ts';
import { refreshHosts, releaseNetwork } from './container-network.ts';
import { faultPoint } from './fault-points.ts';
import { joinNamespaces, releaseShm } from './namespace-modes.ts';
import { MODES } from './owned-modes.ts';
import { allocatePorts } from './port-publishing.ts';
import { addDeviceCgroupRules } from './devices.ts';
import { makeMountTargets, prepareProcess } from './process-setup.ts';
import { securityGroups } from './security-options.ts';
import type { TaskHandle } from './task-supervisor.ts';
import { timingSpan } from './timing.ts';

/** start: a created or stopped container, by a user (which clears a stop's "manually stopped"). */
export async function startContainer(
  ctx: ContainerContext,
  id: string,
  beforeStart?: (h: TaskHandle) => Promise<void>,
): Promise<void> {
  await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    if (!canStart(c.status)) throw failedPrecondition(`container ${c.name} is already running`);
    ctx.cancelRestart(c.id);
    ctx.record(c.id, { manuallyStopped: false });
    await startTask(ctx, c, beforeStart);
  });
}

/** Starts the container with a client attached before its process runs: no output is missed. */
export async function startAttached(ctx: ContainerContext, id: string): Promise<Duplex> {
  let stream: Duplex | undefined;
  try {
    await startContainer(ctx, id, async (h) => {
      stream = await h.attach();
    });
  } catch (e) {
    stream?.destroy();
    throw e;
  }
  return stream!;
}

/** Starts the task of `c` (created or stopped); the caller holds the container's lock. */
export async function startTask(
  ctx: ContainerContext,
  c: Container,
  beforeStart?: (h: TaskHandle) => Promise<void>,
): Promise<void> {
  const id = c.id;
  const dir = ctx.dir(id);
  const rootfs = ctx.rootfs(id);
  const req = c.config.request;
  const spec = structuredClone(c.config.spec);
  const rt = ctx.runtime(c.runtime);
  const network = req.network ?? ctx.o.network.defaultNetwork;
  // A pod's container joins the pod's network namespace (req.sandbox): the pod service wired it.
  const useNetns = !req.sandbox && network !== 'host' && network !== 'none' && ctx.o.network.name !== 'none';
  let handle: TaskHandle | undefined;
  let netnsMade = false;
  const attached: string[] = [];
  const span = timingSpan('start', id);
  ctx.startsInFlight++;
  try {
    await mkdir(rootfs, { recursive: true });
    if (!isMountPoint(rootfs)) await mountAll(await ctx.o.images.snapshotter.mounts(c.snapshotKey), rootfs);
    faultPoint('start.rootfs-mounted');
    span.mark('rootfs mounted');
    prepareProcess(rootfs, spec.process!, req.user, securityGroups(req));
    if (req.sandbox?.join.some((j) => j.type === 'user')) makeMountTargets(rootfs, spec);
    addDeviceCgroupRules(spec, req.deviceCgroupRules);
    joinNamespaces(ctx, c, spec);
    if (useNetns) {
      const netns = await ctx.o.network.createNetns(id);
      netnsMade = true;
      faultPoint('start.netns-created');
      spec.linux!.namespaces = (spec.linux!.namespaces ?? []).map((n) =>
        n.type === 'network' ? { type: 'network', path: netns } : n,
      );
      // Every network it is connected to, in the order connected: eth0 (with the published ports
      // and the default route) is the first.
      const endpoints = ctx.store.endpoints(id);
      for (const [i, ep] of endpoints.entries()) {
        const result = await ctx.o.network.attach(id, netns, ep.network, {
          portMappings: i === 0 ? await allocatePorts(ctx, c, req.ports ?? []) : [],
          aliases: [c.name, ...ep.aliases],
          ifName: `eth${i}`,
          ...(ep.ipv4Address ? { ipv4Address: ep.ipv4Address } : {}),
          ...(ep.macAddress ? { macAddress: ep.macAddress } : {}),
          ...(i > 0 ? { defaultRoute: false } : {}),
        });
        attached.push(ep.network);
        ctx.store.putAttachment(id, ep.network, result);
        faultPoint('start.network-attached');
      }
      for (const ep of endpoints) await refreshHosts(ctx, ep.network);
      // On a user network: resolv.conf names 127.0.0.11, answered by berthd inside the namespace.
      await writeDnsResolvConf(ctx, c);
      await ensureDns(ctx, c);
    }
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec, null, 2), { mode: MODES.spec });
    faultPoint('start.config-written');
    span.mark('user, network, config.json');
    await rt.delete(id);
    const stateDir = ctx.stateDir(id);
    await rm(stateDir, { recursive: true, force: true });
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    span.mark('stale runtime state, shim dir');
    handle = await ctx.o.supervisor.start({
      id,
      bundle: dir,
      runtimeBinary: rt.binary,
      runtimeRoot: rt.root,
      stateDir,
      logPath: ctx.logPath(id),
      ...(req.sandbox?.logPath ? { logFormat: 'cri' as const } : {}),
      terminal: req.tty === true,
      openStdin: req.openStdin === true,
      driveCreate: rt.createDriver(id, dir),
    });
    span.mark('shim started (runtime create)');
    if (beforeStart) await beforeStart(handle);
    span.mark('before start (attach)');
    await rt.start(id);
    faultPoint('start.runtime-started');
    span.mark('runtime start');
    const pid = await handle.processPid();
    ctx.tasks.hold(id, handle);
    ctx.record(id, {
      status: 'running',
      pid,
      shimPid: handle.shimPid,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      exitCode: null,
      oomKilled: false,
      error: '',
    });
    faultPoint('start.recorded');
    span.mark('recorded running');
    ctx.tasks.watch(id, handle);
    ctx.health.begin(id, true);
  } catch (e) {
    ctx.log(`start ${id}: ${(e as Error).message}; cleaning up`);
    if (handle) {
      await rt.kill(id, 'SIGKILL', true).catch(() => {});
      await handle.cleanup().catch(() => {});
    }
    await rt.delete(id);
    stopDns(ctx, id);
    await releaseNetwork(ctx, id, attached, netnsMade);
    try {
      unmountAll(rootfs);
    } catch {}
    try {
      releaseShm(ctx, id);
    } catch {}
    // The status it had: a failed start changes nothing but the error.
    ctx.record(id, { pid: 0, shimPid: 0, error: (e as Error).message });
    throw e;
  } finally {
    ctx.startsInFlight--;
  }
  ctx.o.events.publish('container', 'start', id, ctx.attrs(c));
}
