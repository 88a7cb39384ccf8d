// The v2 manager against a fixture tree with cgroup2's layout (fixture-cgroup-fs.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, beforeEach, test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { makeV2Fixture, type V2Fixture } from './fixture-cgroup-fs.ts';
import { loadCgroupManager, newCgroupManager } from './manager.ts';

let tmp: string;
let fx: V2Fixture;
beforeEach(() => {
  tmp = mkdtempSync(`${tmpdir()}/berth-cg2-`);
  fx = makeV2Fixture(`${tmp}/cgroup`, ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma']);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const read = (rel: string) => readFileSync(`${fx.root}${rel}`, 'utf8').trim();
// berthd's path for its containers: /berth/<id>.
const mgr = (extra: Record<string, unknown> = {}) =>
  newCgroupManager({
    id: 'c1',
    cgroupsPath: '/berth/c1',
    mountinfo: fx.mountinfo,
    procSelfCgroup: '0::/user.slice/x\n',
    fs: fx.fs,
    ...extra,
  });

test('/berth/<id>: controllers enabled along the path, limits written', async () => {
  const m = mgr();
  assert.equal(m.mode, 'v2');
  assert.deepEqual(m.paths(), { unified: `${fx.root}/berth/c1` });
  assert.deepEqual(m.joinFiles(), [`${fx.root}/berth/c1/cgroup.procs`]);
  assert.deepEqual(m.join(), { writeZero: [], cloneInto: `${fx.root}/berth/c1` });
  await m.create({
    memory: { limit: 104857600, swap: 209715200, reservation: 1000 },
    cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0', mems: '0' },
    pids: { limit: 20 },
    blockIO: {
      weight: 500,
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 700 }],
    },
    hugepageLimits: [
      { pageSize: '2MB', limit: 4194304 },
      { pageSize: '1GB', limit: 1073741824 },
    ],
    unified: { 'memory.high': '90000000' },
  });
  const all = 'cpuset cpu io memory hugetlb pids rdma';
  assert.equal(read('/cgroup.subtree_control'), all);
  assert.equal(read('/berth/cgroup.subtree_control'), all);
  assert.equal(read('/berth/c1/cgroup.subtree_control'), '', 'the leaf delegates nothing');
  assert.equal(read('/berth/c1/memory.max'), '104857600');
  assert.equal(read('/berth/c1/memory.swap.max'), '104857600');
  assert.equal(read('/berth/c1/memory.low'), '1000');
  assert.equal(read('/berth/c1/memory.high'), '90000000');
  assert.equal(read('/berth/c1/cpu.weight'), '39');
  assert.equal(read('/berth/c1/cpu.max'), '50000 100000');
  assert.equal(read('/berth/c1/cpuset.cpus'), '0');
  assert.equal(read('/berth/c1/pids.max'), '20');
  // No io.bfq.weight in the fixture: the scaled io.weight is the fallback.
  assert.equal(read('/berth/c1/io.weight'), 'default 4950');
  assert.equal(read('/berth/c1/io.max'), '8:0 rbps=600 wbps=700');
  assert.equal(read('/berth/c1/hugetlb.2MB.max'), '4194304');
  assert.equal(read('/berth/c1/hugetlb.2MB.rsvd.max'), '4194304');
  assert.equal(read('/berth/c1/hugetlb.1GB.max'), '1073741824', 'no 1GB rsvd file: skipped, not an error');
});

test('relative cgroupsPath is below the runtime own v2 cgroup', () => {
  const m = mgr({ cgroupsPath: 'pod1/c1' });
  assert.deepEqual(m.paths(), { unified: `${fx.root}/user.slice/x/pod1/c1` });
  // No cgroupsPath: <id> below it, as runc does.
  assert.deepEqual(mgr({ cgroupsPath: undefined }).paths(), { unified: `${fx.root}/user.slice/x/c1` });
});

test('a controller the host lacks is an Unsupported error naming field and file; nothing left behind', async () => {
  fx = makeV2Fixture(`${tmp}/small`, ['cpu', 'memory']);
  await assert.rejects(
    mgr().create({ pids: { limit: 5 } }),
    (e) =>
      isBerthError(e, 'BERTH_ERR_UNSUPPORTED') &&
      e.message.includes('linux.resources.pids.limit') &&
      e.message.includes('cgroup.controllers'),
  );
  assert.equal(existsSync(`${fx.root}/berth`), false);
});

test('a controller that refuses enabling is tolerated unless needed', async () => {
  fx.refuse.add('rdma');
  await mgr().create({ memory: { limit: 1000000 } });
  assert.equal(read('/berth/c1/memory.max'), '1000000');
  assert.doesNotMatch(read('/cgroup.subtree_control'), /rdma/);
  await assert.rejects(
    mgr({ id: 'c2' }).create({ rdma: { mlx5_0: { hcaHandles: 1 } } }),
    (e) =>
      isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') &&
      e.message.includes('cgroup.subtree_control') &&
      e.message.includes('rdma'),
  );
});

test('EINVAL from the kernel names the field, the file and the value', async () => {
  await assert.rejects(
    mgr().create({ unified: { 'memory.max': 'lots' } }),
    (e) =>
      isBerthError(e, 'BERTH_ERR_INVALID_ARGUMENT') &&
      e.message.includes('linux.resources.unified["memory.max"]') &&
      e.message.includes('"lots"') &&
      e.message.includes('/berth/c1/memory.max') &&
      e.message.includes('EINVAL'),
  );
  assert.equal(existsSync(`${fx.root}/berth`), false, 'dirs made by a failed create are removed');
});

test('unified key for a controller that is not available is refused', async () => {
  await assert.rejects(
    mgr().create({ unified: { 'misc.max': 'x 1' } }),
    (e) => isBerthError(e, 'BERTH_ERR_UNSUPPORTED') && e.message.includes('"misc"'),
  );
});

test('device rules: refused without a loader, handed to the loader as a BPF program', async () => {
  const rules = [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c' as const, major: 1, minor: 3, access: 'rwm' },
  ];
  await assert.rejects(
    mgr().create({ devices: rules }),
    (e) => isBerthError(e, 'BERTH_ERR_UNSUPPORTED') && e.message.includes('linux.resources.devices'),
  );
  const loaded: Array<[string, number]> = [];
  const m = mgr({ loadDeviceFilter: (dir: string, prog: Uint8Array) => void loaded.push([dir, prog.length]) });
  await m.create({ devices: rules });
  assert.equal(loaded.length, 1);
  assert.equal(loaded[0]![0], `${fx.root}/berth/c1`);
  assert.ok(loaded[0]![1] > 8 && loaded[0]![1] % 8 === 0);
});

test('apply, pids, freeze/thaw, killAll via cgroup.kill, destroy', async () => {
  const m = mgr();
  await m.create({});
  await m.apply(4242);
  fx.fs.mkdir(`${fx.root}/berth/c1/sub`);
  fx.fs.write(`${fx.root}/berth/c1/sub/cgroup.procs`, '4343');
  assert.deepEqual(m.pids(), [4242, 4343], 'descendant cgroups included');
  assert.equal(m.state(), 'thawed');
  await m.freeze();
  assert.equal(m.state(), 'frozen');
  await m.thaw();
  assert.equal(m.state(), 'thawed');
  await assert.rejects(
    m.destroy(),
    (e) => isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') && e.message.includes('4343'),
  );
  await m.killAll();
  assert.deepEqual(m.pids(), []);
  await m.destroy();
  assert.equal(existsSync(`${fx.root}/berth/c1`), false);
  assert.equal(existsSync(`${fx.root}/berth`), true, 'the shared parent stays');
  await m.destroy(); // idempotent
});

test('loadCgroupManager finds the same cgroup; update with checkBeforeUpdate', async () => {
  const m = mgr();
  await m.create({ memory: { limit: 100000000 } });
  const again = loadCgroupManager({ mode: m.mode, paths: m.paths() }, { fs: fx.fs, mountinfo: fx.mountinfo });
  await again.update({ memory: { limit: 50000000 }, pids: { limit: 7 } });
  assert.equal(read('/berth/c1/memory.max'), '50000000');
  assert.equal(read('/berth/c1/pids.max'), '7');
  fx.fs.write(`${fx.root}/berth/c1/memory.current`, '60000000');
  await assert.rejects(
    again.update({ memory: { limit: 40000000, checkBeforeUpdate: true } }),
    (e) => isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') && e.message.includes('60000000'),
  );
  assert.equal(read('/berth/c1/memory.max'), '50000000');
  const s = again.stats();
  assert.equal(s.memory?.usage.usage, 60000000);
  assert.equal(s.memory?.usage.limit, 50000000);
  assert.equal(s.pids?.limit, 7);
  assert.throws(
    () => loadCgroupManager({ mode: 'v2', paths: { unified: '/sys/../etc' } }),
    (e) => isBerthError(e, 'BERTH_ERR_INVALID_ARGUMENT'),
  );
});

test('systemd driver refused through the factory', () => {
  assert.throws(
    () => mgr({ systemdCgroup: true }),
    (e) => isBerthError(e, 'BERTH_ERR_UNSUPPORTED') && e.message.includes('--systemd-cgroup'),
  );
});
