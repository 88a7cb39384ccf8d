// Releasing what a task held on the host once it has exited (or is being removed): the runtime's
// state, the rootfs mount, the shim and its directory, the network. A stopped container holds
// nothing but its snapshot, its directory and its row.
import { rm } from 'node:fs/promises';
import { unmountAll } from '../snapshots/mount.ts';
import type { Container, ContainerContext } from './container-context.ts';
import { releaseAllNetworks } from './container-network.ts';
import { faultPoint } from './fault-points.ts';
import type { TaskHandle } from './task-supervisor.ts';
import { releaseShm } from './namespace-modes.ts';
import { timingSpan } from './timing.ts';

/** Releases the host resources of a task that has exited: runtime state, shim, network, rootfs mount. */
export async function releaseTask(
  ctx: ContainerContext,
  c: Container,
  handle: TaskHandle | undefined,
  span = timingSpan('release', c.id),
): Promise<void> {
  // Three independent strands at once (each step is one recovery redoes if berthd dies midway,
  // in any combination: a stopped row's mount, shim state and attachments are each released at
  // start): the runtime's state then the rootfs (processes first, then their root), the shim,
  // and the network.
  const rt = ctx.runtime(c.runtime);
  const runtimeAndRootfs = (async () => {
    await rt.delete(c.id);
    faultPoint('exit.runtime-deleted');
    span.mark('runtime delete');
    try {
      unmountAll(ctx.rootfs(c.id));
    } catch (e) {
      ctx.log(`unmount rootfs of ${c.id}: ${(e as Error).message}`);
    }
    try {
      releaseShm(ctx, c.id);
    } catch (e) {
      ctx.log(`unmount /dev/shm of ${c.id}: ${(e as Error).message}`);
    }
    faultPoint('exit.unmounted');
    span.mark('rootfs unmounted');
  })();
  const shim = (async () => {
    if (handle) await handle.cleanup().catch((e) => ctx.log(`shim cleanup of ${c.id}: ${(e as Error).message}`));
    else await rm(ctx.stateDir(c.id), { recursive: true, force: true });
    faultPoint('exit.shim-stopped');
    span.mark('shim stopped, its dir removed');
  })();
  const network = (async () => {
    await releaseAllNetworks(ctx, c.id);
    faultPoint('exit.network-released');
    span.mark('network released');
  })();
  const failed = (await Promise.allSettled([runtimeAndRootfs, shim, network])).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
