// Restarts by policy (always, unless-stopped, on-failure): scheduled after an exit with docker's
// back-off, run under the container's lock, and given up on (waiters told) when a restart fails
// and the policy says no more.
import { canStart } from '../metadata/container-status.ts';
import type { Container, ContainerContext } from './container-context.ts';
import { startTask } from './container-start.ts';
import { restartDelay, shouldRestart } from './restart-policy.ts';

export function scheduleRestart(ctx: ContainerContext, c: Container): void {
  const t = setTimeout(() => {
    ctx.restartTimers.delete(c.id);
    void ctx.lock
      .run(c.id, async () => {
        const cur = ctx.store.getContainer(c.id);
        if (!canStart(cur.status) || cur.manuallyStopped || ctx.removing.has(c.id) || ctx.closed) return;
        ctx.record(c.id, { restartCount: cur.restartCount + 1 });
        await startTask(ctx, ctx.store.getContainer(c.id));
        ctx.o.events.publish('container', 'restart', c.id, ctx.attrs(cur));
      })
      .catch((e) =>
        // A failed start left the row as it was (stopped, with the error): try again by the policy,
        // or give up and tell the waiters; under the lock, as every record of the container is.
        ctx.lock.run(c.id, async () => {
          ctx.log(`restart of ${c.id} failed: ${(e as Error).message}`);
          let cur: Container;
          try {
            cur = ctx.store.getContainer(c.id);
          } catch {
            return;
          }
          if (shouldRestart(cur) && !ctx.removing.has(c.id) && !ctx.closed) {
            scheduleRestart(ctx, ctx.record(c.id, { restartCount: cur.restartCount + 1 }));
          } else
            ctx.waiters.exited(c.id, {
              exitCode: cur.exitCode ?? 255,
              signal: null,
              oomKilled: false,
              finishedAt: cur.finishedAt ?? '',
            });
        }),
      )
      .catch((e) => ctx.log(`restart of ${c.id}: ${(e as Error).message}`));
  }, restartDelay(c));
  ctx.restartTimers.set(c.id, t);
}
