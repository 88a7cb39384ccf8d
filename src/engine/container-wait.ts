// wait (the container's last exit, or its next one) and `wait --condition removed` (its removal).
// A removed container answers from the recent exits for a minute, so `run --rm` learns its status.
import type { Container, ContainerContext } from './container-context.ts';
import type { ExitResult } from './types.ts';

/** Resolves when the container is not running: its last exit, or the next one. */
export function waitExit(ctx: ContainerContext, word: string): Promise<ExitResult> {
  if (ctx.waiters.hasRecent(word)) return Promise.resolve(ctx.waiters.recent(word)!);
  let c: Container;
  try {
    c = ctx.store.findContainer(word);
  } catch (e) {
    const r = ctx.waiters.recent(word);
    if (r) return Promise.resolve(r);
    throw e;
  }
  if (c.status === 'stopped' && !ctx.restartTimers.has(c.id))
    return Promise.resolve({
      exitCode: c.exitCode ?? 0,
      signal: null,
      oomKilled: c.oomKilled,
      finishedAt: c.finishedAt ?? '',
    });
  return ctx.waiters.nextExit(c.id);
}

/**
 * docker's `wait --condition next-exit`: the container's next exit even when it is stopped now
 * (a client that waits and then starts a stopped container must not get the previous exit).
 */
export function waitNextExit(ctx: ContainerContext, word: string): Promise<ExitResult> {
  return ctx.waiters.nextExit(ctx.store.findContainer(word).id);
}

/**
 * Resolves once the container has been removed (its row, snapshot and directory gone), with its
 * last exit: docker's `wait --condition removed`, which `run --rm` waits on instead of polling.
 * A container removed already answers from the recent exits (for a minute), else not found.
 */
export function waitRemoved(ctx: ContainerContext, word: string): Promise<ExitResult> {
  let id: string;
  try {
    id = ctx.store.findContainer(word).id;
  } catch (e) {
    // The row goes before the snapshot and the directory: a removal under way is not done yet.
    const removing = ctx.removing.has(word) ? word : [...ctx.removing].find((r) => r.startsWith(word));
    if (removing === undefined) {
      const recent = ctx.waiters.recent(word);
      if (recent) return Promise.resolve(recent);
      throw e;
    }
    id = removing;
  }
  return ctx.waiters.removal(id);
}
