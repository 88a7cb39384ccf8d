import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import type { LinuxResources } from '../oci/runtime-spec.ts';
import { blkioWeightToIoWeight, planWrites, sharesToWeight, swapToV2 } from './plan-writes.ts';

const brief = (r: LinuxResources, mode: 'v1' | 'v2') =>
  planWrites(r, mode).map((w) => `${w.controller} ${w.file}=${w.value}`);

const FULL: LinuxResources = {
  memory: {
    limit: 104857600,
    reservation: 52428800,
    swap: 209715200,
    kernel: 1,
    kernelTCP: 1,
    swappiness: 10,
    disableOOMKiller: true,
  },
  cpu: {
    shares: 512,
    quota: 50000,
    period: 100000,
    burst: 1000,
    realtimeRuntime: 950,
    realtimePeriod: 1000,
    cpus: '0',
    mems: '0',
    idle: 0,
  },
  pids: { limit: 32 },
  blockIO: {
    weight: 500,
    leafWeight: 300,
    weightDevice: [{ major: 8, minor: 0, weight: 400, leafWeight: 200 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 700 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 80 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 90 }],
  },
  hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
  network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
  rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
  devices: [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
    { allow: true, type: 'b', major: 8, access: 'r' },
  ],
};

test('v1: every resource, in order, kernel memory ignored', () => {
  assert.deepEqual(brief(FULL, 'v1'), [
    'memory memory.limit_in_bytes=104857600',
    'memory memory.memsw.limit_in_bytes=209715200',
    'memory memory.soft_limit_in_bytes=52428800',
    'memory memory.swappiness=10',
    'memory memory.oom_control=1',
    'cpu cpu.shares=512',
    'cpu cpu.cfs_period_us=100000',
    'cpu cpu.cfs_quota_us=50000',
    'cpu cpu.cfs_burst_us=1000',
    'cpu cpu.rt_period_us=1000',
    'cpu cpu.rt_runtime_us=950',
    'cpu cpu.idle=0',
    'cpuset cpuset.cpus=0',
    'cpuset cpuset.mems=0',
    'pids pids.max=32',
    'blkio blkio.weight=500',
    'blkio blkio.leaf_weight=300',
    'blkio blkio.weight_device=8:0 400',
    'blkio blkio.leaf_weight_device=8:0 200',
    'blkio blkio.throttle.read_bps_device=8:0 600',
    'blkio blkio.throttle.write_bps_device=8:0 700',
    'blkio blkio.throttle.read_iops_device=8:16 80',
    'blkio blkio.throttle.write_iops_device=8:16 90',
    'hugetlb hugetlb.2MB.limit_in_bytes=209715200',
    'hugetlb hugetlb.2MB.rsvd.limit_in_bytes=209715200',
    'net_cls net_cls.classid=1048577',
    'net_prio net_prio.ifpriomap=eth0 500',
    'rdma rdma.max=mlx5_1 hca_handle=3 hca_object=10000',
    'devices devices.deny=a',
    'devices devices.allow=c 10:229 rw',
    'devices devices.allow=b 8:* r',
  ]);
  const w = planWrites(FULL, 'v1');
  assert.deepEqual(w.find((x) => x.file === 'blkio.weight')?.fallback, { file: 'blkio.bfq.weight', value: '500' });
  assert.equal(w.find((x) => x.file === 'hugetlb.2MB.rsvd.limit_in_bytes')?.optional, true);
  assert.equal(w.find((x) => x.file === 'memory.swappiness')?.field, 'linux.resources.memory.swappiness');
  assert.equal(w.find((x) => x.value === 'c 10:229 rw')?.field, 'linux.resources.devices[1]');
});

test('hybrid plans as v1', () => {
  assert.deepEqual(planWrites(FULL, 'hybrid'), planWrites(FULL, 'v1'));
});

test('v2: translated names and values; devices are not file writes', () => {
  const r: LinuxResources = {
    ...FULL,
    memory: {
      limit: 104857600,
      reservation: 52428800,
      swap: 209715200,
      kernel: 1,
      disableOOMKiller: false,
      useHierarchy: true,
    },
    cpu: { shares: 1024, quota: 50000, period: 100000, burst: 1000, cpus: '0-1', mems: '0', idle: 1 },
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 400 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 90 }],
    },
    network: undefined,
    unified: { 'memory.high': '90000000', 'io.max': '254:0 rbps=2097152' },
  };
  assert.deepEqual(brief(r, 'v2'), [
    'memory memory.max=104857600',
    'memory memory.swap.max=104857600',
    'memory memory.low=52428800',
    'cpu cpu.weight=39',
    'cpu cpu.max=50000 100000',
    'cpu cpu.max.burst=1000',
    'cpu cpu.idle=1',
    'cpuset cpuset.cpus=0-1',
    'cpuset cpuset.mems=0',
    'pids pids.max=32',
    'io io.bfq.weight=500',
    'io io.bfq.weight=8:0 400',
    'io io.max=8:0 rbps=600',
    'io io.max=8:16 wiops=90',
    'hugetlb hugetlb.2MB.max=209715200',
    'hugetlb hugetlb.2MB.rsvd.max=209715200',
    'rdma rdma.max=mlx5_1 hca_handle=3 hca_object=10000',
    'memory memory.high=90000000',
    'io io.max=254:0 rbps=2097152',
  ]);
  const w = planWrites(r, 'v2');
  assert.deepEqual(w.find((x) => x.value === '500')?.fallback, {
    file: 'io.weight',
    value: String(blkioWeightToIoWeight(500)),
  });
});

test('v2 cpu.max: quota alone, period alone, unlimited', () => {
  assert.deepEqual(brief({ cpu: { quota: 20000 } }, 'v2'), ['cpu cpu.max=20000']);
  assert.deepEqual(brief({ cpu: { period: 50000 } }, 'v2'), ['cpu cpu.max=max 50000']);
  assert.deepEqual(brief({ cpu: { quota: -1, period: 100000 } }, 'v2'), ['cpu cpu.max=max 100000']);
  assert.deepEqual(brief({ memory: { limit: -1 } }, 'v2'), ['memory memory.max=max']);
});

test('conversions: shares → weight, blkio → io weight, swap', () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(blkioWeightToIoWeight(10), 1);
  assert.equal(blkioWeightToIoWeight(1000), 10000);
  assert.equal(swapToV2(100, 300), '200');
  assert.equal(swapToV2(100, -1), 'max');
  assert.equal(swapToV2(100, undefined), undefined);
  assert.throws(() => swapToV2(300, 100), /below/);
  assert.throws(() => swapToV2(undefined, 100), /needs linux.resources.memory.limit/);
});

test('pids: negative is max, 0 leaves it alone', () => {
  assert.deepEqual(brief({ pids: { limit: -1 } }, 'v1'), ['pids pids.max=max']);
  assert.deepEqual(brief({ pids: { limit: 0 } }, 'v2'), []);
});

test('large "unlimited" numbers are printed without an exponent', () => {
  assert.deepEqual(brief({ memory: { limit: JSON.parse('9223372036854775807') } }, 'v1'), [
    'memory memory.limit_in_bytes=9223372036854775808',
  ]);
});

const errs: Array<[string, LinuxResources, 'v1' | 'v2', string, string]> = [
  ['unified on v1', { unified: { 'memory.high': '1' } }, 'v1', 'BERTH_ERR_UNSUPPORTED', 'linux.resources.unified'],
  [
    'swappiness on v2',
    { memory: { swappiness: 1 } },
    'v2',
    'BERTH_ERR_UNSUPPORTED',
    'linux.resources.memory.swappiness',
  ],
  ['oom killer on v2', { memory: { disableOOMKiller: true } }, 'v2', 'BERTH_ERR_UNSUPPORTED', 'disableOOMKiller'],
  ['network on v2', { network: { classID: 1 } }, 'v2', 'BERTH_ERR_UNSUPPORTED', 'linux.resources.network'],
  ['realtime on v2', { cpu: { realtimeRuntime: 5 } }, 'v2', 'BERTH_ERR_UNSUPPORTED', 'realtimeRuntime'],
  ['leaf weight on v2', { blockIO: { leafWeight: 100 } }, 'v2', 'BERTH_ERR_UNSUPPORTED', 'leafWeight'],
  [
    'swappiness range',
    { memory: { swappiness: 101 } },
    'v1',
    'BERTH_ERR_INVALID_ARGUMENT',
    'linux.resources.memory.swappiness',
  ],
  ['bad limit', { memory: { limit: 1.5 } }, 'v1', 'BERTH_ERR_INVALID_ARGUMENT', 'linux.resources.memory.limit'],
  [
    'bad page size',
    { hugepageLimits: [{ pageSize: '2M', limit: 1 }] },
    'v1',
    'BERTH_ERR_INVALID_ARGUMENT',
    'hugepageLimits[0].pageSize',
  ],
  ['blkio weight range', { blockIO: { weight: 5 } }, 'v1', 'BERTH_ERR_INVALID_ARGUMENT', 'blockIO.weight'],
  ['unified with slash', { unified: { '../memory.max': '1' } }, 'v2', 'BERTH_ERR_INVALID_ARGUMENT', 'unified'],
  ['unified with dotdot', { unified: { 'memory..max': '1' } }, 'v2', 'BERTH_ERR_INVALID_ARGUMENT', 'unified'],
  ['unified without dot', { unified: { memory: '1' } }, 'v2', 'BERTH_ERR_INVALID_ARGUMENT', 'unified'],
  [
    'device access',
    { devices: [{ allow: true, access: 'rx' }] },
    'v1',
    'BERTH_ERR_INVALID_ARGUMENT',
    'linux.resources.devices[0].access',
  ],
  [
    'device type',
    { devices: [{ allow: true, type: 'x' as 'a' }] },
    'v1',
    'BERTH_ERR_INVALID_ARGUMENT',
    'linux.resources.devices[0].type',
  ],
  ['rdma empty', { rdma: { mlx: {} } }, 'v1', 'BERTH_ERR_INVALID_ARGUMENT', 'rdma'],
  ['swap below limit v2', { memory: { limit: 200, swap: 100 } }, 'v2', 'BERTH_ERR_INVALID_ARGUMENT', 'memory.swap'],
];
for (const [name, r, mode, code, field] of errs) {
  test(`error: ${name}`, () => {
    assert.throws(
      () => planWrites(r, mode),
      (e) => isBerthError(e) && e.code === code && e.message.includes(field),
    );
  });
}

test('no resources: no writes', () => {
  assert.deepEqual(planWrites(undefined, 'v2'), []);
  assert.deepEqual(planWrites({}, 'v1'), []);
});
