// A container's streams: its log (read, or followed while it runs or is about to restart), attach
// to its task's stdio, and resizing its terminal.
import type { Duplex } from 'node:stream';
import { failedPrecondition } from '../errors/errors.ts';
import { isLive } from '../metadata/container-status.ts';
import type { ContainerContext } from './container-context.ts';
import { readLogs } from './container-logs.ts';
import type { TaskHandle } from './task-supervisor.ts';
import type { LogLine, LogOptions } from './types.ts';

export async function* containerLogs(
  ctx: ContainerContext,
  id: string,
  opts: LogOptions,
  signal?: AbortSignal,
): AsyncGenerator<LogLine> {
  ctx.readers.set(id, (ctx.readers.get(id) ?? 0) + 1);
  try {
    const running = () => {
      try {
        return isLive(ctx.store.getContainer(id).status) || ctx.restartTimers.has(id);
      } catch {
        return false;
      }
    };
    yield* readLogs(ctx.logPath(id), opts, running, signal);
  } finally {
    const left = (ctx.readers.get(id) ?? 1) - 1;
    // No entry per container that was ever read: the map holds only readers under way.
    if (left > 0) ctx.readers.set(id, left);
    else ctx.readers.delete(id);
  }
}

/** The container's task, or a failed precondition when none runs. */
export function liveTask(ctx: ContainerContext, id: string): TaskHandle {
  const h = ctx.tasks.get(id);
  if (!h) throw failedPrecondition(`container ${ctx.store.getContainer(id).name} is not running`);
  return h;
}

export function attachContainer(ctx: ContainerContext, id: string): Promise<Duplex> {
  return liveTask(ctx, id).attach();
}

/**
 * Whether an attached client's end of input is to close the container's stdin: with stdinOnce, as
 * containerd's CRI does; never with a terminal (kubectl#1077: a terminal's client ends its input
 * with ^D, and its stdin stream may end early). Once closed, later attaches' input goes nowhere.
 */
export function stdinEndsWithClient(ctx: ContainerContext, id: string): boolean {
  const req = ctx.store.getContainer(id).config.request;
  return req.openStdin === true && req.stdinOnce === true && req.tty !== true;
}

export function resizeContainer(ctx: ContainerContext, id: string, rows: number, cols: number): Promise<void> {
  return liveTask(ctx, id).resize(rows, cols);
}
