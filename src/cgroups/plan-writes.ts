// The core of berth's cgroup support: linux.resources → the list of cgroup file writes that realise
// it, for v1 or v2. Pure: no host access, so every translation is unit-tested anywhere. The manager
// only executes the list (and owns what needs the host: which controllers are mounted, files that
// exist only on some kernels, the order of memory writes against current values, and the v2
// device program).
// Never: reads or writes a cgroup, and never drops a requested setting silently: a setting with no
// equivalent in the given mode is an error naming the field.

import { invalidArgument, unsupported } from '../errors/errors.ts';
import type { LinuxResources, LinuxThrottleDevice } from '../oci/runtime-spec.ts';
import { v1DeviceWrites } from './device-rules.ts';
import type { CgroupMode } from './mounts.ts';

export interface CgroupWrite {
  /** v1: the controller whose directory holds the file; v2: the controller the file belongs to ("cgroup" for core files). */
  controller: string;
  file: string;
  value: string;
  /** The config field this write realises, for error messages. */
  field: string;
  /** Written instead when `file` does not exist (kernels differ: blkio.weight vs blkio.bfq.weight). */
  fallback?: { file: string; value: string };
  /** Skipped when the file does not exist (an extra the kernel may lack, like hugetlb reservations). */
  optional?: boolean;
}

const R = 'linux.resources';

// JSON integers may exceed 2^53 ("unlimited" markers); BigInt prints them without an exponent.
const fmt = (v: number) => BigInt(v).toString();

function int(v: unknown, field: string, min: number, max = Number.MAX_VALUE): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_VALUE ? `>= ${min}` : `from ${min} to ${max}`;
    throw invalidArgument(`${field}: expected an integer ${range}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** -1 is "unlimited" in the spec's memory fields; v2 spells it "max". */
const v2Limit = (v: number) => (v === -1 ? 'max' : fmt(v));

const HUGEPAGE_SIZE = /^[1-9][0-9]*(KB|MB|GB|TB|PB)$/;

function pageSize(s: unknown, field: string): string {
  if (typeof s !== 'string' || !HUGEPAGE_SIZE.test(s)) {
    throw invalidArgument(`${field}: expected a size like "2MB", "1GB" or "64KB", got ${JSON.stringify(s)}`);
  }
  return s;
}

const dev = (d: { major: number; minor: number }, field: string) =>
  `${int(d.major, `${field}.major`, 0)}:${int(d.minor, `${field}.minor`, 0)}`;

/** cpu.shares (2…262144) → cpu.weight (1…10000), the conversion runc and crun use. */
export function sharesToWeight(shares: number): number {
  const s = Math.min(Math.max(shares, 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** blkio.weight (10…1000) → io.weight (1…10000). */
export function blkioWeightToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** The spec's swap is memory+swap; v2's memory.swap.max is swap alone. undefined = leave it. */
export function swapToV2(limit: number | undefined, swap: number | undefined): string | undefined {
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return 'max';
  if (limit === undefined || limit <= 0) {
    throw invalidArgument(
      `${R}.memory.swap ${swap} needs ${R}.memory.limit: on cgroup v2 swap is set as (swap - limit) and the limit is unset or unlimited`,
    );
  }
  if (swap < limit) {
    throw invalidArgument(`${R}.memory.swap ${swap} is below ${R}.memory.limit ${limit}: swap counts memory plus swap`);
  }
  return fmt(swap - limit);
}

const THROTTLES = [
  ['throttleReadBpsDevice', 'read_bps_device', 'rbps'],
  ['throttleWriteBpsDevice', 'write_bps_device', 'wbps'],
  ['throttleReadIOPSDevice', 'read_iops_device', 'riops'],
  ['throttleWriteIOPSDevice', 'write_iops_device', 'wiops'],
] as const;

export function planWrites(resources: LinuxResources | undefined, mode: CgroupMode): CgroupWrite[] {
  if (resources === undefined) return [];
  return mode === 'v2' ? planV2(resources) : planV1(resources);
}

function planV1(r: LinuxResources): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  const add = (controller: string, file: string, value: string, field: string, extra?: Partial<CgroupWrite>) =>
    w.push({ controller, file, value, field, ...extra });

  const m = r.memory;
  if (m) {
    const f = `${R}.memory`;
    // memory.memsw must never be below memory.limit: on a new cgroup (both unlimited) the limit goes
    // first; the manager reorders for updates that raise the limit.
    if (m.limit !== undefined)
      add('memory', 'memory.limit_in_bytes', fmt(int(m.limit, `${f}.limit`, -1)), `${f}.limit`);
    if (m.swap !== undefined && m.swap !== 0) {
      add('memory', 'memory.memsw.limit_in_bytes', fmt(int(m.swap, `${f}.swap`, -1)), `${f}.swap`);
    }
    if (m.reservation !== undefined) {
      add('memory', 'memory.soft_limit_in_bytes', fmt(int(m.reservation, `${f}.reservation`, -1)), `${f}.reservation`);
    }
    // kernel and kernelTCP are deprecated by the spec and their limits by the kernel: not applied.
    if (m.swappiness !== undefined) {
      add('memory', 'memory.swappiness', String(int(m.swappiness, `${f}.swappiness`, 0, 100)), `${f}.swappiness`);
    }
    if (m.disableOOMKiller !== undefined)
      add('memory', 'memory.oom_control', m.disableOOMKiller ? '1' : '0', `${f}.disableOOMKiller`);
    if (m.useHierarchy !== undefined)
      add('memory', 'memory.use_hierarchy', m.useHierarchy ? '1' : '0', `${f}.useHierarchy`);
  }

  const c = r.cpu;
  if (c) {
    const f = `${R}.cpu`;
    if (c.shares !== undefined && c.shares !== 0)
      add('cpu', 'cpu.shares', fmt(int(c.shares, `${f}.shares`, 2)), `${f}.shares`);
    // The period first: the kernel checks quota against the period in force.
    if (c.period !== undefined && c.period !== 0)
      add('cpu', 'cpu.cfs_period_us', fmt(int(c.period, `${f}.period`, 1)), `${f}.period`);
    if (c.quota !== undefined && c.quota !== 0)
      add('cpu', 'cpu.cfs_quota_us', fmt(int(c.quota, `${f}.quota`, -1)), `${f}.quota`);
    if (c.burst !== undefined) add('cpu', 'cpu.cfs_burst_us', fmt(int(c.burst, `${f}.burst`, 0)), `${f}.burst`);
    if (c.realtimePeriod !== undefined && c.realtimePeriod !== 0) {
      add('cpu', 'cpu.rt_period_us', fmt(int(c.realtimePeriod, `${f}.realtimePeriod`, 1)), `${f}.realtimePeriod`);
    }
    if (c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0) {
      add('cpu', 'cpu.rt_runtime_us', fmt(int(c.realtimeRuntime, `${f}.realtimeRuntime`, -1)), `${f}.realtimeRuntime`);
    }
    if (c.idle !== undefined) add('cpu', 'cpu.idle', String(int(c.idle, `${f}.idle`, 0, 1)), `${f}.idle`);
    // cpus/mems: cpuset. The manager fills new cpuset directories from their parent first, since a
    // v1 cpuset starts empty and a process cannot join an empty cpuset.
    if (c.cpus !== undefined && c.cpus !== '') add('cpuset', 'cpuset.cpus', c.cpus, `${f}.cpus`);
    if (c.mems !== undefined && c.mems !== '') add('cpuset', 'cpuset.mems', c.mems, `${f}.mems`);
  }

  pids(r, w, 'pids.max');

  const b = r.blockIO;
  if (b) {
    const f = `${R}.blockIO`;
    // Kernels without CFQ (all since 5.0) name the proportional weight after BFQ.
    if (b.weight !== undefined && b.weight !== 0) {
      const v = String(int(b.weight, `${f}.weight`, 10, 1000));
      add('blkio', 'blkio.weight', v, `${f}.weight`, { fallback: { file: 'blkio.bfq.weight', value: v } });
    }
    if (b.leafWeight !== undefined && b.leafWeight !== 0) {
      add('blkio', 'blkio.leaf_weight', String(int(b.leafWeight, `${f}.leafWeight`, 10, 1000)), `${f}.leafWeight`);
    }
    (b.weightDevice ?? []).forEach((d, i) => {
      const fd = `${f}.weightDevice[${i}]`;
      if (d.weight === undefined && d.leafWeight === undefined)
        throw invalidArgument(`${fd}: expected weight or leafWeight`);
      if (d.weight !== undefined) {
        const v = `${dev(d, fd)} ${int(d.weight, `${fd}.weight`, 10, 1000)}`;
        add('blkio', 'blkio.weight_device', v, `${fd}.weight`, {
          fallback: { file: 'blkio.bfq.weight_device', value: v },
        });
      }
      if (d.leafWeight !== undefined) {
        add(
          'blkio',
          'blkio.leaf_weight_device',
          `${dev(d, fd)} ${int(d.leafWeight, `${fd}.leafWeight`, 10, 1000)}`,
          `${fd}.leafWeight`,
        );
      }
    });
    for (const [key, file] of THROTTLES) {
      (b[key] ?? []).forEach((d: LinuxThrottleDevice, i: number) => {
        const fd = `${f}.${key}[${i}]`;
        add('blkio', `blkio.throttle.${file}`, `${dev(d, fd)} ${fmt(int(d.rate, `${fd}.rate`, 0))}`, fd);
      });
    }
  }

  (r.hugepageLimits ?? []).forEach((h, i) => {
    const f = `${R}.hugepageLimits[${i}]`;
    const size = pageSize(h.pageSize, `${f}.pageSize`);
    const v = fmt(int(h.limit, `${f}.limit`, 0));
    add('hugetlb', `hugetlb.${size}.limit_in_bytes`, v, f);
    add('hugetlb', `hugetlb.${size}.rsvd.limit_in_bytes`, v, f, { optional: true });
  });

  const n = r.network;
  if (n) {
    const f = `${R}.network`;
    if (n.classID !== undefined)
      add('net_cls', 'net_cls.classid', String(int(n.classID, `${f}.classID`, 0, 0xffffffff)), `${f}.classID`);
    (n.priorities ?? []).forEach((p, i) => {
      const fp = `${f}.priorities[${i}]`;
      if (typeof p.name !== 'string' || p.name === '' || /\s/.test(p.name)) {
        throw invalidArgument(`${fp}.name: expected an interface name, got ${JSON.stringify(p.name)}`);
      }
      add('net_prio', 'net_prio.ifpriomap', `${p.name} ${int(p.priority, `${fp}.priority`, 0, 0xffffffff)}`, fp);
    });
  }

  rdma(r, w);

  for (const d of v1DeviceWrites(r.devices ?? [])) add('devices', d.file, d.value, d.field);

  if (r.unified !== undefined && Object.keys(r.unified).length > 0) {
    throw unsupported(`${R}.unified sets cgroup v2 files, but this host controls resources with cgroup v1`);
  }
  return w;
}

function pids(r: LinuxResources, w: CgroupWrite[], file: string): void {
  if (r.pids === undefined) return;
  const f = `${R}.pids.limit`;
  const limit = int(r.pids.limit, f, Number.MIN_SAFE_INTEGER);
  // As runc: 0 leaves the limit alone, a negative limit means unlimited.
  if (limit !== 0) w.push({ controller: 'pids', file, value: limit > 0 ? fmt(limit) : 'max', field: f });
}

function rdma(r: LinuxResources, w: CgroupWrite[]): void {
  for (const [name, l] of Object.entries(r.rdma ?? {})) {
    const f = `${R}.rdma[${JSON.stringify(name)}]`;
    if (name === '' || /\s/.test(name)) throw invalidArgument(`${f}: expected a device name without spaces`);
    const parts = [name];
    if (l.hcaHandles !== undefined) parts.push(`hca_handle=${int(l.hcaHandles, `${f}.hcaHandles`, 0, 0xffffffff)}`);
    if (l.hcaObjects !== undefined) parts.push(`hca_object=${int(l.hcaObjects, `${f}.hcaObjects`, 0, 0xffffffff)}`);
    if (parts.length === 1) throw invalidArgument(`${f}: expected hcaHandles or hcaObjects`);
    w.push({ controller: 'rdma', file: 'rdma.max', value: parts.join(' '), field: f });
  }
}

/** A unified key must name one file in the cgroup's own directory: "<controller>.<name>". */
const UNIFIED_KEY = /^[a-z][a-z0-9_]*\.[A-Za-z0-9_.]+$/;

function planV2(r: LinuxResources): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  const add = (controller: string, file: string, value: string, field: string, extra?: Partial<CgroupWrite>) =>
    w.push({ controller, file, value, field, ...extra });
  const none = (field: string, why: string) =>
    unsupported(`${field} has no cgroup v2 equivalent (${why}); remove it on this host`);

  const m = r.memory;
  if (m) {
    const f = `${R}.memory`;
    const limit = m.limit === undefined ? undefined : int(m.limit, `${f}.limit`, -1);
    const swap = m.swap === undefined ? undefined : int(m.swap, `${f}.swap`, -1);
    if (limit !== undefined) add('memory', 'memory.max', v2Limit(limit), `${f}.limit`);
    const swapMax = swapToV2(limit, swap);
    if (swapMax !== undefined) add('memory', 'memory.swap.max', swapMax, `${f}.swap`);
    if (m.reservation !== undefined)
      add('memory', 'memory.low', v2Limit(int(m.reservation, `${f}.reservation`, -1)), `${f}.reservation`);
    if (m.swappiness !== undefined) throw none(`${f}.swappiness`, 'v2 has no per-cgroup swappiness');
    if (m.disableOOMKiller === true) throw none(`${f}.disableOOMKiller`, 'v2 cannot disable the OOM killer per cgroup');
    if (m.useHierarchy === false) throw none(`${f}.useHierarchy`, 'v2 accounting is always hierarchical');
  }

  const c = r.cpu;
  if (c) {
    const f = `${R}.cpu`;
    if (c.shares !== undefined && c.shares !== 0)
      add('cpu', 'cpu.weight', String(sharesToWeight(int(c.shares, `${f}.shares`, 2))), `${f}.shares`);
    const quota = c.quota === undefined ? 0 : int(c.quota, `${f}.quota`, -1);
    const period = c.period === undefined ? 0 : int(c.period, `${f}.period`, 0);
    if (quota !== 0 || period !== 0) {
      add(
        'cpu',
        'cpu.max',
        (quota > 0 ? fmt(quota) : 'max') + (period !== 0 ? ` ${fmt(period)}` : ''),
        quota !== 0 ? `${f}.quota` : `${f}.period`,
      );
    }
    if (c.burst !== undefined) add('cpu', 'cpu.max.burst', fmt(int(c.burst, `${f}.burst`, 0)), `${f}.burst`);
    if (c.idle !== undefined) add('cpu', 'cpu.idle', String(int(c.idle, `${f}.idle`, 0, 1)), `${f}.idle`);
    if ((c.realtimeRuntime ?? 0) !== 0) throw none(`${f}.realtimeRuntime`, 'v2 has no realtime group scheduling');
    if ((c.realtimePeriod ?? 0) !== 0) throw none(`${f}.realtimePeriod`, 'v2 has no realtime group scheduling');
    if (c.cpus !== undefined && c.cpus !== '') add('cpuset', 'cpuset.cpus', c.cpus, `${f}.cpus`);
    if (c.mems !== undefined && c.mems !== '') add('cpuset', 'cpuset.mems', c.mems, `${f}.mems`);
  }

  pids(r, w, 'pids.max');

  const b = r.blockIO;
  if (b) {
    const f = `${R}.blockIO`;
    // io.bfq.weight takes the blkio range (10…1000) as is; without BFQ, io.weight (1…10000) is scaled.
    if (b.weight !== undefined && b.weight !== 0) {
      const v = int(b.weight, `${f}.weight`, 10, 1000);
      add('io', 'io.bfq.weight', String(v), `${f}.weight`, {
        fallback: { file: 'io.weight', value: String(blkioWeightToIoWeight(v)) },
      });
    }
    if (b.leafWeight !== undefined && b.leafWeight !== 0) throw none(`${f}.leafWeight`, 'v2 has no leaf weights');
    (b.weightDevice ?? []).forEach((d, i) => {
      const fd = `${f}.weightDevice[${i}]`;
      if (d.leafWeight !== undefined) throw none(`${fd}.leafWeight`, 'v2 has no leaf weights');
      if (d.weight === undefined) throw invalidArgument(`${fd}: expected weight`);
      const v = int(d.weight, `${fd}.weight`, 10, 1000);
      add('io', 'io.bfq.weight', `${dev(d, fd)} ${v}`, `${fd}.weight`, {
        fallback: { file: 'io.weight', value: `${dev(d, fd)} ${blkioWeightToIoWeight(v)}` },
      });
    });
    for (const [key, , name] of THROTTLES) {
      (b[key] ?? []).forEach((d: LinuxThrottleDevice, i: number) => {
        const fd = `${f}.${key}[${i}]`;
        add('io', 'io.max', `${dev(d, fd)} ${name}=${fmt(int(d.rate, `${fd}.rate`, 0))}`, fd);
      });
    }
  }

  (r.hugepageLimits ?? []).forEach((h, i) => {
    const f = `${R}.hugepageLimits[${i}]`;
    const size = pageSize(h.pageSize, `${f}.pageSize`);
    const v = fmt(int(h.limit, `${f}.limit`, 0));
    add('hugetlb', `hugetlb.${size}.max`, v, f);
    add('hugetlb', `hugetlb.${size}.rsvd.max`, v, f, { optional: true });
  });

  if (r.network && (r.network.classID !== undefined || (r.network.priorities ?? []).length > 0)) {
    throw none(`${R}.network`, 'net_cls and net_prio exist only in cgroup v1');
  }

  rdma(r, w);

  // Last, so that a unified value overrides the translated one for the same file.
  for (const [key, value] of Object.entries(r.unified ?? {})) {
    const f = `${R}.unified[${JSON.stringify(key)}]`;
    if (!UNIFIED_KEY.test(key) || key.includes('..')) {
      throw invalidArgument(`${f}: expected a cgroup v2 file name like "memory.high" (no "/" and no "..")`);
    }
    if (typeof value !== 'string') throw invalidArgument(`${f}: expected a string value`);
    add(key.slice(0, key.indexOf('.')), key, value, f);
  }
  return w;
}
