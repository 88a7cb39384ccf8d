// stats and top: read from a live task through its runtime (cgroup counters, the container's pids)
// and /proc (or, for top with ps options, the host's ps).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { failedPrecondition } from '../errors/errors.ts';
import { canSignal } from '../metadata/container-status.ts';
import { procStat } from '../sys/procfs.ts';
import type { Container, ContainerContext } from './container-context.ts';
import { psTop } from './ps-top.ts';
import type { StatsResult, TopResult } from './types.ts';

function live(ctx: ContainerContext, id: string): Container {
  const c = ctx.store.getContainer(id);
  if (!canSignal(c.status)) throw failedPrecondition(`container ${c.name} is not running`);
  return c;
}

/** The host's CPU time in nanoseconds (/proc/stat's first line, USER_HZ 100): what a container's CPU share is measured against. */
function systemCpuNs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return f.reduce((a, b) => a + b, 0) * 1e7;
  } catch {
    return 0;
  }
}

export async function containerStats(ctx: ContainerContext, id: string): Promise<StatsResult> {
  const c = live(ctx, id);
  const raw = (await ctx.runtime(c.runtime).stats(c.id)) as {
    cpu?: { usage?: { total?: number } };
    memory?: { usage?: { usage?: number; limit?: number } };
    pids?: { current?: number };
  };
  return {
    id: c.id,
    name: c.name,
    read: new Date().toISOString(),
    cpuUsageNs: raw?.cpu?.usage?.total ?? 0,
    systemCpuNs: systemCpuNs(),
    onlineCpus: availableParallelism(),
    memoryUsage: raw?.memory?.usage?.usage ?? 0,
    memoryLimit: raw?.memory?.usage?.limit ?? 0,
    pids: raw?.pids?.current ?? 0,
    raw,
  };
}

/** The container's processes: read from /proc, or with `psArgs` the host's ps's table of them (ps-top.ts). */
export async function containerTop(ctx: ContainerContext, id: string, psArgs?: string[]): Promise<TopResult> {
  const c = live(ctx, id);
  const pids = await ctx.runtime(c.runtime).pids(c.id);
  if (psArgs?.length) return psTop(psArgs, pids);
  const processes: string[][] = [];
  for (const pid of pids) {
    try {
      const stat = procStat(pid);
      if (stat === undefined) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? '?';
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || stat.comm;
      processes.push([uid, String(pid), String(stat.ppid), stat.state, cmd]);
    } catch {
      // The process exited between ps and the read.
    }
  }
  return { titles: ['UID', 'PID', 'PPID', 'STAT', 'CMD'], processes };
}
