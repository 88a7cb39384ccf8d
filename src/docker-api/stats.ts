// GET /containers/{id}/stats in Docker's JSON (cpu_stats and precpu_stats, memory_stats,
// blkio_stats, pids_stats, networks): one sample with stream=false (one-shot skips the second
// sample docker takes for precpu), else one a second until the client goes or the container stops.
// An unlimited container's memory limit is the host's memory, as dockerd reports it.
import { totalmem } from 'node:os';
import type { Engine } from '../engine/engine.ts';
import type { StatsResult } from '../engine/types.ts';
import { netnsInterfaces } from '../engine/usage.ts';
import { failedPrecondition } from '../errors/errors.ts';
import { orNoSuch } from './errors.ts';
import { flag } from './query.ts';
import { type DockerRouter, STREAMED } from './server.ts';

type BlkioEntry = { major?: number; minor?: number; op?: string; value?: number };
type Raw = {
  cpu?: {
    usage?: { total?: number; percpu?: number[]; kernel?: number; user?: number };
    throttling?: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  memory?: { usage?: { usage?: number; limit?: number; max?: number; failcnt?: number }; raw?: Record<string, number> };
  pids?: { current?: number; limit?: number };
  blkio?: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
};

function cpuStats(s: StatsResult | undefined) {
  if (!s)
    return {
      cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    };
  const raw = (s.raw ?? {}) as Raw;
  return {
    cpu_usage: {
      total_usage: s.cpuUsageNs,
      ...(raw.cpu?.usage?.percpu ? { percpu_usage: raw.cpu.usage.percpu } : {}),
      usage_in_kernelmode: raw.cpu?.usage?.kernel ?? 0,
      usage_in_usermode: raw.cpu?.usage?.user ?? 0,
    },
    system_cpu_usage: s.systemCpuNs,
    online_cpus: s.onlineCpus,
    throttling_data: {
      periods: raw.cpu?.throttling?.periods ?? 0,
      throttled_periods: raw.cpu?.throttling?.throttledPeriods ?? 0,
      throttled_time: raw.cpu?.throttling?.throttledTime ?? 0,
    },
  };
}

const blk = (l: BlkioEntry[] | undefined) =>
  (l ?? []).map((e) => ({ major: e.major ?? 0, minor: e.minor ?? 0, op: e.op ?? '', value: e.value ?? 0 }));

async function dockerStats(s: StatsResult, prev: StatsResult | undefined, pid: number) {
  const raw = (s.raw ?? {}) as Raw;
  const nets = pid ? await netnsInterfaces(pid) : [];
  return {
    read: s.read,
    preread: prev?.read ?? '0001-01-01T00:00:00Z',
    pids_stats: { current: s.pids, ...(raw.pids?.limit ? { limit: raw.pids.limit } : {}) },
    blkio_stats: {
      io_service_bytes_recursive: blk(raw.blkio?.ioServiceBytesRecursive),
      io_serviced_recursive: blk(raw.blkio?.ioServicedRecursive),
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(s),
    precpu_stats: cpuStats(prev),
    memory_stats: {
      usage: s.memoryUsage,
      ...(raw.memory?.usage?.max ? { max_usage: raw.memory.usage.max } : {}),
      stats: raw.memory?.raw ?? {},
      limit: Math.min(s.memoryLimit || totalmem(), totalmem()),
      ...(raw.memory?.usage?.failcnt !== undefined ? { failcnt: raw.memory.usage.failcnt } : {}),
    },
    name: `/${s.name}`,
    id: s.id,
    ...(nets.length
      ? {
          networks: Object.fromEntries(
            nets.map((n) => [
              n.name,
              {
                rx_bytes: n.rxBytes,
                rx_packets: 0,
                rx_errors: n.rxErrors,
                rx_dropped: 0,
                tx_bytes: n.txBytes,
                tx_packets: 0,
                tx_errors: n.txErrors,
                tx_dropped: 0,
              },
            ]),
          ),
        }
      : {}),
  };
}

function live(e: Engine, id: string): boolean {
  try {
    const st = e.containers.inspect(id).state;
    return st.running;
  } catch {
    return false;
  }
}

export function statsRoutes(r: DockerRouter): void {
  r.on('GET', '/containers/{id}/stats', async (c) => {
    const d = await orNoSuch('container', c.params.id!, () => c.engine.containers.inspect(c.params.id!));
    const stream = flag(c.query, 'stream', true);
    const oneShot = flag(c.query, 'one-shot');
    if (!d.state.running) {
      // docker answers a stopped container with zeroed stats; its CLI shows the row as 0.
      if (stream) throw failedPrecondition(`container ${d.id} is not running`);
      return {
        read: '0001-01-01T00:00:00Z',
        preread: '0001-01-01T00:00:00Z',
        pids_stats: {},
        blkio_stats: {},
        num_procs: 0,
        storage_stats: {},
        cpu_stats: cpuStats(undefined),
        precpu_stats: cpuStats(undefined),
        memory_stats: {},
        name: `/${d.name}`,
        id: d.id,
      };
    }
    const first = await c.engine.containers.stats(d.id);
    if (!stream) {
      if (oneShot) return dockerStats(first, undefined, d.state.pid);
      // Without one-shot docker waits a second for precpu, so the CLI can show a CPU %.
      await new Promise((res) => setTimeout(res, 1000));
      return dockerStats(await c.engine.containers.stats(d.id), first, d.state.pid);
    }
    c.res.writeHead(200, { 'content-type': 'application/json' });
    let prev: StatsResult | undefined;
    let cur = first;
    while (!c.signal.aborted && live(c.engine, d.id)) {
      c.res.write(`${JSON.stringify(await dockerStats(cur, prev, d.state.pid))}\n`);
      await new Promise((res) => setTimeout(res, 1000));
      prev = cur;
      try {
        cur = await c.engine.containers.stats(d.id);
      } catch {
        break;
      }
    }
    return STREAMED;
  });
}
