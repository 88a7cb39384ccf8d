// stop and kill: a user's signal to a live task. Both mark the container "manually stopped" (its
// restart policy then leaves it stopped) and signal under the container's lock; stop then waits,
// outside the lock, for the exit to be recorded, and SIGKILLs after the timeout.
import { failedPrecondition } from '../errors/errors.ts';
import { canSignal } from '../metadata/container-status.ts';
import type { ContainerContext } from './container-context.ts';
import { faultPoint } from './fault-points.ts';

/** `signal`: the stop signal for this stop only (docker's stop --signal), else the container's own (its --stop-signal, or SIGTERM). */
export async function stopContainer(
  ctx: ContainerContext,
  id: string,
  timeoutSec?: number,
  signal?: string,
): Promise<void> {
  const signalled = await ctx.lock.run(id, async () => {
    const c = ctx.record(id, { manuallyStopped: true });
    faultPoint('stop.marked');
    ctx.cancelRestart(id);
    if (!canSignal(c.status)) {
      // Nothing runs: whoever waits for this container's exit has it already.
      ctx.waiters.exited(id, {
        exitCode: c.exitCode ?? 0,
        signal: null,
        oomKilled: c.oomKilled,
        finishedAt: c.finishedAt ?? '',
      });
      return undefined;
    }
    const req = c.config.request;
    const rt = ctx.runtime(c.runtime);
    const exited = ctx.tasks.get(id) ? ctx.exitRecorded(id) : Promise.resolve();
    if (c.status === 'paused') await rt.resume(id).catch(() => {});
    await rt.kill(id, signal ?? req.stopSignal ?? 'SIGTERM').catch(() => {});
    faultPoint('stop.signalled');
    return { c, rt, exited, timeoutMs: (timeoutSec ?? req.stopTimeout ?? 10) * 1000 };
  });
  if (!signalled) return;
  const { c, rt, exited, timeoutMs } = signalled;
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
  if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
    await rt.kill(id, 'SIGKILL', true).catch(() => {});
    await exited;
  }
  ctx.o.events.publish('container', 'stop', id, ctx.attrs(c));
}

export async function killContainer(ctx: ContainerContext, id: string, signal = 'SIGKILL'): Promise<void> {
  const c = await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    if (!canSignal(c.status)) throw failedPrecondition(`container ${c.name} is not running`);
    ctx.record(id, { manuallyStopped: true });
    await ctx.runtime(c.runtime).kill(id, signal);
    return c;
  });
  ctx.o.events.publish('container', 'kill', id, ctx.attrs(c, { signal }));
}
