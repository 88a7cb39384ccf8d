// Where a container's exit is handled, whoever learned of it (its shim, a removal, recovery; all
// through the task monitor): under the container's lock, record it (stopped, with its status),
// release what the task held, tell the waiters, then what comes next: a restart by policy, the
// removal of a --rm container, or, when nothing of this berthd runs any more, the cgroup parent.
import { isLive } from '../metadata/container-status.ts';
import { pruneCgroupParent } from './cgroup-parent.ts';
import type { Container, ContainerContext } from './container-context.ts';
import { removeContainer } from './container-remove.ts';
import { scheduleRestart } from './container-restart.ts';
import { faultPoint } from './fault-points.ts';
import { shouldRestart } from './restart-policy.ts';
import { releaseTask } from './task-release.ts';
import type { TaskExit, TaskHandle } from './task-supervisor.ts';
import { timingOn, timingSpan } from './timing.ts';
import type { ExitResult } from './types.ts';

/** The task monitor's listener (container-service.ts installs it). */
export function handleExit(
  ctx: ContainerContext,
  id: string,
  handle: TaskHandle | undefined,
  exit: TaskExit,
  error: string,
): Promise<void> {
  const span = timingSpan('exit', id);
  if (timingOn) span.mark(`noticed ${(Date.now() - Date.parse(exit.exitedAt)).toFixed(0)}ms after the shim's exitedAt`);
  return ctx.lock.run(id, async () => {
    if (ctx.closed) return;
    // An exit of a task the container no longer has (a restart replaced it, a removal released it).
    if (handle && ctx.tasks.get(id) !== handle) return;
    ctx.tasks.delete(id);
    ctx.health.end(id);
    let c: Container;
    try {
      c = ctx.store.getContainer(id);
    } catch {
      return;
    }
    // Recorded before anything is released: releasing removes the shim's exit.json, and a crash
    // after that but before the record would leave recovery only "lost, 255". A stopped row whose
    // resources are still held is what recovery already releases.
    c = ctx.record(id, {
      status: 'stopped',
      pid: 0,
      shimPid: 0,
      exitCode: exit.exitCode,
      oomKilled: exit.oomKilled,
      finishedAt: exit.exitedAt,
      error,
    });
    faultPoint('exit.recorded');
    span.mark('recorded stopped');
    await releaseTask(ctx, c, handle, span);
    span.mark('released');
    ctx.o.events.publish('container', 'die', id, ctx.attrs(c, { exitCode: String(exit.exitCode) }));
    if (exit.oomKilled) ctx.o.events.publish('container', 'oom', id, ctx.attrs(c));
    const result: ExitResult = {
      exitCode: exit.exitCode,
      signal: exit.signal,
      oomKilled: exit.oomKilled,
      finishedAt: exit.exitedAt,
    };
    const req = c.config.request;
    const removing = ctx.removing.has(id);
    const willRestart = !removing && !req.autoRemove && shouldRestart(c);
    if (!willRestart) ctx.waiters.exited(id, result);
    if (req.autoRemove && !removing) {
      ctx.waiters.remember(id, result);
      void autoRemove(ctx, id);
      return;
    }
    if (willRestart) scheduleRestart(ctx, c);
    else if (ctx.startsInFlight === 0 && !ctx.store.listContainers().some((x) => isLive(x.status))) {
      // A start under way is not yet 'running', but its runtime may have made the parent already.
      pruneCgroupParent();
    }
  });
}

async function autoRemove(ctx: ContainerContext, id: string): Promise<void> {
  // Let followers of the log (run without -d) read the last lines before the directory goes.
  for (let i = 0; i < 100 && (ctx.readers.get(id) ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  await removeContainer(ctx, id, { force: true, anonymousVolumes: true }).catch((e) => {
    ctx.log(`auto-remove of ${id}: ${(e as Error).message}`);
    // The client waiting for the removal (run --rm) must not wait forever: it learns why.
    ctx.waiters.removalFailed(id, e);
  });
}
