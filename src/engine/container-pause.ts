// pause and unpause: the runtime freezes or thaws the task's cgroup, and the status is recorded,
// both under the container's lock, so an exit cannot land in between and be written over.
import { failedPrecondition } from '../errors/errors.ts';
import { canPause, canUnpause } from '../metadata/container-status.ts';
import type { ContainerContext } from './container-context.ts';

export async function pauseContainer(ctx: ContainerContext, id: string): Promise<void> {
  const c = await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    if (!canPause(c.status)) throw failedPrecondition(`container ${c.name} is ${c.status}, expected running`);
    // No probe runs in a frozen container (dockerd stops them too); unpause resumes the schedule.
    ctx.health.end(id);
    await ctx.runtime(c.runtime).pause(id);
    return ctx.record(id, { status: 'paused' });
  });
  ctx.o.events.publish('container', 'pause', id, ctx.attrs(c));
}

export async function unpauseContainer(ctx: ContainerContext, id: string): Promise<void> {
  const c = await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    if (!canUnpause(c.status)) throw failedPrecondition(`container ${c.name} is ${c.status}, expected paused`);
    await ctx.runtime(c.runtime).resume(id);
    const after = ctx.record(id, { status: 'running' });
    ctx.health.begin(id, false);
    return after;
  });
  ctx.o.events.publish('container', 'unpause', id, ctx.attrs(c));
}
