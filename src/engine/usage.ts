// Resource usage in the shapes a kubelet reasons with (the CRI's stats): a container's CPU time,
// memory working set (usage minus inactive file pages, as the kubelet evicts by), RSS and page
// faults from its runtime's stats (`events --stats`: cgroup v1 or v2 counters), and a pod's network
// counters read from its network namespace. Pure but for the /proc read.
// Must never: write anything, or guess a value it cannot read (absent stays undefined).
import { readFile } from 'node:fs/promises';
import type { StatsResult } from './types.ts';

export type ContainerUsage = {
  cpuNs: number;
  memoryUsage: number;
  workingSet: number;
  rss?: number;
  pageFaults?: number;
  majorPageFaults?: number;
  pids: number;
};
export type InterfaceUsage = { name: string; rxBytes: number; rxErrors: number; txBytes: number; txErrors: number };

export function containerUsage(s: StatsResult): ContainerUsage {
  const raw = (s.raw as { memory?: { raw?: Record<string, number> } } | undefined)?.memory?.raw ?? {};
  // cgroup v1 names the hierarchy's totals total_*, v2 has only the plain names.
  const pick = (...names: string[]) => names.map((n) => raw[n]).find((v) => typeof v === 'number');
  const inactive = pick('total_inactive_file', 'inactive_file') ?? 0;
  const out: ContainerUsage = {
    cpuNs: s.cpuUsageNs,
    memoryUsage: s.memoryUsage,
    workingSet: Math.max(0, s.memoryUsage - inactive),
    pids: s.pids,
  };
  const rss = pick('total_rss', 'anon');
  const faults = pick('total_pgfault', 'pgfault');
  const major = pick('total_pgmajfault', 'pgmajfault');
  if (rss !== undefined) out.rss = rss;
  if (faults !== undefined) out.pageFaults = faults;
  if (major !== undefined) out.majorPageFaults = major;
  return out;
}

/** The interfaces of the network namespace `pid` is in (/proc/<pid>/net/dev), loopback left out. */
export async function netnsInterfaces(pid: number): Promise<InterfaceUsage[]> {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => '');
  const out: InterfaceUsage[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs …
    out.push({ name: m[1]!, rxBytes: f[0] ?? 0, rxErrors: f[2] ?? 0, txBytes: f[8] ?? 0, txErrors: f[10] ?? 0 });
  }
  return out;
}
