// cgroup v1 for real, as root, on a v1 or hybrid host (this CI machine). Every cgroup made here is
// under "berth-test-<random>" in each hierarchy and is removed in finally, as are the processes.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { after, test } from 'node:test';
import { isBerthError } from '../../src/errors/errors.ts';
import type { LinuxResources } from '../../src/oci/runtime-spec.ts';
import { type CgroupManager, defaultDeviceRules, detectCgroupMode, newCgroupManager } from '../../src/cgroups/index.ts';
import { cgroupV1Dir, memswAccounted, wholeDisks } from '../lib/host.ts';

const mode = detectCgroupMode();
const usable = process.getuid?.() === 0 && (mode === 'v1' || mode === 'hybrid');
if (!usable && process.env['CI'] === 'true') {
  throw new Error(`cgroups-v1 tests need root on a cgroup v1 or hybrid host (uid ${process.getuid?.()}, mode ${mode})`);
}
const opts = usable ? {} : { skip: `needs root on a v1/hybrid host (mode ${mode})` };

const PARENT = `berth-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const parents = new Set<string>();
const children = new Set<ChildProcess>();

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // The shared per-run parent in every hierarchy; leaves were removed by each test.
  for (const p of parents) if (existsSync(p)) rmdirSync(p);
});

let n = 0;
async function withCgroup(resources: LinuxResources, fn: (m: CgroupManager) => Promise<void>): Promise<void> {
  const m = newCgroupManager({ id: 'unused', cgroupsPath: `/${PARENT}/c${++n}` });
  for (const dir of Object.values(m.paths())) parents.add(dir.slice(0, dir.lastIndexOf('/')));
  try {
    await m.create(resources);
    await fn(m);
  } finally {
    try {
      await m.killAll();
    } finally {
      await m.destroy();
    }
    for (const dir of Object.values(m.paths())) assert.equal(existsSync(dir), false, `${dir} removed`);
  }
}

const file = (m: CgroupManager, c: string, f: string) => readFileSync(`${m.paths()[c]}/${f}`, 'utf8').trim();

// Starts a shell that joins the cgroup the way berth-init does (writes "0" into each joinFiles()
// entry), then runs `script`.
function startJoined(m: CgroupManager, script: string): ChildProcess {
  const c = spawn('sh', ['-c', `for f; do echo 0 > "$f" || exit 99; done; ${script}`, 'sh', ...m.joinFiles()], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(c);
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await sleep(20);
  }
}

test('paths: every mounted controller under the given absolute path; joinFiles one per directory', opts, () => {
  const m = newCgroupManager({ id: 'x', cgroupsPath: `/${PARENT}/p` });
  const p = m.paths();
  // Where each controller is mounted is the host's choice: asked, not assumed to be /sys/fs/cgroup/<name>.
  for (const c of ['memory', 'pids', 'freezer']) assert.equal(p[c], `${cgroupV1Dir(c)}/${PARENT}/p`);
  if (mode === 'hybrid') assert.equal(p['unified'], `/sys/fs/cgroup/unified/${PARENT}/p`);
  assert.equal(new Set(m.joinFiles()).size, new Set(Object.values(p)).size);
  assert.ok(m.joinFiles().every((f) => f.endsWith('/cgroup.procs')));
  // The native join: `tasks` of every v1 directory, and a clone into the cgroup2 one (hybrid).
  const j = m.join();
  const unified = p['unified'];
  assert.deepEqual(j.cloneInto, unified);
  assert.deepEqual(
    new Set(j.writeZero),
    new Set([...new Set(Object.values(p))].filter((d) => d !== unified).map((d) => `${d}/tasks`)),
  );
});

// What the host offers, asked rather than assumed: its disks (throttled only where blkio is
// mounted: a kernel may lack the controller), and whether swap accounting is on.
const disk = cgroupV1Dir('blkio') === undefined ? undefined : wholeDisks()[0];
const memsw = memswAccounted();
// The first CPU and memory node this host's cpuset offers (CPU 0 may be offline), and a CPU it has not.
const cpusetRoot = cgroupV1Dir('cpuset') ?? '/sys/fs/cgroup/cpuset';
const firstOf = (list: string) => /^\d+/.exec(list)?.[0] ?? '0';
const readOr = (path: string, dflt: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim() : dflt);
const cpu = firstOf(readOr(`${cpusetRoot}/cpuset.effective_cpus`, '0'));
const mem = firstOf(readOr(`${cpusetRoot}/cpuset.effective_mems`, '0'));
const absentCpu = String(Math.max(...readOr(`${cpusetRoot}/cpuset.effective_cpus`, '0').split(/[,-]/).map(Number)) + 1);

test('limits are written and read back; a joined process lands in every hierarchy', opts, async () => {
  const resources: LinuxResources = {
    memory: {
      limit: 64 << 20,
      reservation: 32 << 20,
      ...(memsw ? { swap: 128 << 20 } : {}),
      swappiness: 10,
      kernel: 1 << 20,
    },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: cpu, mems: mem },
    pids: { limit: 16 },
    ...(disk
      ? {
          blockIO: {
            throttleReadBpsDevice: [{ major: disk.major, minor: disk.minor, rate: 1048576 }],
            throttleWriteIOPSDevice: [{ major: disk.major, minor: disk.minor, rate: 100 }],
          },
        }
      : {}),
    devices: [{ allow: false, access: 'rwm' }, ...defaultDeviceRules()],
  };
  await withCgroup(resources, async (m) => {
    assert.equal(file(m, 'memory', 'memory.limit_in_bytes'), String(64 << 20));
    assert.equal(file(m, 'memory', 'memory.soft_limit_in_bytes'), String(32 << 20));
    if (memsw) assert.equal(file(m, 'memory', 'memory.memsw.limit_in_bytes'), String(128 << 20));
    assert.equal(file(m, 'memory', 'memory.swappiness'), '10');
    assert.equal(file(m, 'cpu', 'cpu.shares'), '512');
    assert.equal(file(m, 'cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(file(m, 'cpu', 'cpu.cfs_period_us'), '100000');
    assert.equal(file(m, 'cpuset', 'cpuset.cpus'), cpu);
    assert.equal(file(m, 'pids', 'pids.max'), '16');
    if (disk) {
      assert.equal(file(m, 'blkio', 'blkio.throttle.read_bps_device'), `${disk.major}:${disk.minor} 1048576`);
      assert.equal(file(m, 'blkio', 'blkio.throttle.write_iops_device'), `${disk.major}:${disk.minor} 100`);
    }
    const list = file(m, 'devices', 'devices.list').split('\n');
    assert.ok(list.includes('c 1:3 rwm') && list.includes('c 136:* rwm') && list.includes('b *:* m'), list.join('|'));
    assert.ok(!list.includes('a *:* rwm'), 'deny-all took effect');

    const c = startJoined(m, 'exec sleep 60');
    // joined once its pid is in every hierarchy (the shell writes them one by one)
    await until(() => m.joinFiles().every((f) => readFileSync(f, 'utf8').split('\n').includes(String(c.pid))));
    const own = readFileSync(`/proc/${c.pid}/cgroup`, 'utf8');
    for (const ctrl of ['memory', 'pids', 'cpu', 'cpuset', 'devices', 'freezer', 'blkio'].filter(
      (c) => m.paths()[c] !== undefined,
    )) {
      assert.match(own, new RegExp(`:${ctrl}:/${PARENT}/c\\d+\\n`), `${ctrl} in ${own}`);
    }
    const s = m.stats();
    assert.ok((s.memory?.usage.usage ?? 0) > 0);
    assert.equal(s.memory?.usage.limit, 64 << 20);
    assert.deepEqual(s.pids, { current: 1, limit: 16 });
    assert.ok(s.cpu !== undefined);
  });
});

test('swap limit: written where swap accounting is on, else Unsupported naming the field and why', opts, async () => {
  if (memsw) {
    await withCgroup({ memory: { limit: 64 << 20, swap: 128 << 20 } }, async (m) => {
      assert.equal(file(m, 'memory', 'memory.memsw.limit_in_bytes'), String(128 << 20));
    });
    return;
  }
  const m = newCgroupManager({ id: 'x', cgroupsPath: `/${PARENT}/noswap` });
  await assert.rejects(
    m.create({ memory: { limit: 64 << 20, swap: 128 << 20 } }),
    (e) =>
      isBerthError(e, 'BERTH_ERR_UNSUPPORTED') &&
      e.message.includes('linux.resources.memory.swap') &&
      e.message.includes('swapaccount'),
  );
  for (const dir of Object.values(m.paths())) assert.equal(existsSync(dir), false, `${dir} not left behind`);
  for (const dir of Object.values(m.paths())) parents.add(dir.slice(0, dir.lastIndexOf('/')));
});

test(
  'blockIO.weight: written where a proportional-weight I/O scheduler offers it, else Unsupported naming the field and file',
  opts,
  async () => {
    // CFQ's blkio.weight, or BFQ's blkio.bfq.weight (only below the root): which one, if any, the host
    // has depends on the scheduler of its disks, so a cgroup of our own is asked.
    let weightFile: string | undefined;
    await withCgroup({}, async (m) => {
      weightFile = ['blkio.weight', 'blkio.bfq.weight'].find((f) => existsSync(`${m.paths()['blkio']}/${f}`));
    });
    if (weightFile !== undefined) {
      const f = weightFile;
      await withCgroup({ blockIO: { weight: 300 } }, async (m) => {
        assert.match(file(m, 'blkio', f), /(^|\s)300$/m);
      });
      return;
    }
    const m = newCgroupManager({ id: 'x', cgroupsPath: `/${PARENT}/noweight` });
    await assert.rejects(
      m.create({ blockIO: { weight: 300 } }),
      (e) =>
        isBerthError(e, 'BERTH_ERR_UNSUPPORTED') &&
        e.message.includes('linux.resources.blockIO.weight') &&
        // Without the blkio controller at all, the message names the controller instead.
        (cgroupV1Dir('blkio') === undefined ||
          (e.message.includes('blkio.weight') && e.message.includes('proportional-weight I/O scheduler'))),
    );
    for (const dir of Object.values(m.paths())) assert.equal(existsSync(dir), false, `${dir} not left behind`);
    for (const dir of Object.values(m.paths())) parents.add(dir.slice(0, dir.lastIndexOf('/')));
  },
);

test('devices: deny-all plus the defaults blocks /dev/zero and allows /dev/null', opts, async () => {
  await withCgroup(
    { devices: [{ allow: false, access: 'rwm' }, ...defaultDeviceRules()].filter((r) => r.minor !== 5) },
    async (m) => {
      const r = spawnSync(
        'sh',
        [
          '-c',
          'for f; do echo 0 > "$f"; done; echo x > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok; true',
          'sh',
          ...m.joinFiles(),
        ],
        {
          encoding: 'utf8',
        },
      );
      assert.match(r.stdout, /null-ok/);
      assert.doesNotMatch(r.stdout, /zero-ok/);
      assert.match(r.stderr, /Operation not permitted/);
    },
  );
});

test('pids.max is enforced: a shell cannot fork past the limit', opts, async () => {
  await withCgroup({ pids: { limit: 5 } }, async (m) => {
    const c = startJoined(m, 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 60 & done; sleep 60');
    let stderr = '';
    c.stderr!.on('data', (d) => {
      stderr += d;
    });
    await until(() => /max [1-9]/.test(file(m, 'pids', 'pids.events')) || c.exitCode !== null);
    await sleep(100);
    assert.ok(m.pids().length <= 5, `${m.pids().length} processes`);
    assert.ok(Number(file(m, 'pids', 'pids.current')) <= 5);
    assert.match(file(m, 'pids', 'pids.events'), /max [1-9]/);
    assert.match(stderr, /fork/i);
  });
});

test('freeze and thaw; killAll empties the cgroup; destroy removes it', opts, async () => {
  await withCgroup({}, async (m) => {
    const c = startJoined(m, 'sleep 60 & sleep 60 & exec sleep 60');
    await until(() => m.pids().length === 3);
    await m.freeze();
    assert.equal(m.state(), 'frozen');
    assert.equal(file(m, 'freezer', 'freezer.state'), 'FROZEN');
    assert.match(readFileSync(`/proc/${c.pid}/status`, 'utf8'), /State:\s+[DS]/);
    await m.thaw();
    assert.equal(m.state(), 'thawed');
    // destroy refuses while processes live, naming them.
    await assert.rejects(
      m.destroy(),
      (e) => isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') && e.message.includes(String(c.pid)),
    );
    const exited = new Promise((r) => c.once('exit', (_code, sig) => r(sig)));
    await m.killAll();
    assert.deepEqual(m.pids(), []);
    assert.equal(await exited, 'SIGKILL');
  });
});

const memswOpts =
  memsw || !usable
    ? opts
    : { skip: 'no swap accounting here (memory.memsw.* absent): "swap limit" asserts the Unsupported error' };
test('update raises memory and memsw together (memsw first) and lowers them (limit first)', memswOpts, async () => {
  await withCgroup({ memory: { limit: 64 << 20, swap: 64 << 20 } }, async (m) => {
    await m.update({ memory: { limit: 256 << 20, swap: 512 << 20 } });
    assert.equal(file(m, 'memory', 'memory.limit_in_bytes'), String(256 << 20));
    assert.equal(file(m, 'memory', 'memory.memsw.limit_in_bytes'), String(512 << 20));
    await m.update({ memory: { limit: 32 << 20, swap: 48 << 20 } });
    assert.equal(file(m, 'memory', 'memory.limit_in_bytes'), String(32 << 20));
    assert.equal(file(m, 'memory', 'memory.memsw.limit_in_bytes'), String(48 << 20));
    await m.update({ pids: { limit: 3 } });
    assert.equal(file(m, 'pids', 'pids.max'), '3');
  });
});

test('kernel errors name the field, file and value; nothing is left behind', opts, async () => {
  const m = newCgroupManager({ id: 'x', cgroupsPath: `/${PARENT}/bad` });
  await assert.rejects(
    m.create({ cpu: { cpus: absentCpu } }),
    (e) =>
      isBerthError(e, 'BERTH_ERR_INVALID_ARGUMENT') &&
      e.message.includes('linux.resources.cpu.cpus') &&
      e.message.includes('cpuset.cpus') &&
      e.message.includes(`"${absentCpu}"`),
  );
  for (const dir of Object.values(m.paths())) assert.equal(existsSync(dir), false, `${dir} not left behind`);
  for (const dir of Object.values(m.paths())) parents.add(dir.slice(0, dir.lastIndexOf('/')));
});

test('controllers that are not mounted: Unsupported naming the field and controller', opts, async () => {
  const m = newCgroupManager({ id: 'x', cgroupsPath: `/${PARENT}/unsup` });
  const cases: Array<[LinuxResources, string]> = [];
  if (!m.paths()['hugetlb']) cases.push([{ hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }] }, 'hugetlb']);
  if (!m.paths()['net_cls']) cases.push([{ network: { classID: 1 } }, 'net_cls']);
  cases.push([{ unified: { 'memory.high': '1' } }, 'linux.resources.unified']);
  for (const [r, word] of cases) {
    const err = await m.create(r).then(
      async () => {
        await m.destroy();
        return undefined;
      },
      (e: unknown) => e,
    );
    assert.ok(isBerthError(err, 'BERTH_ERR_UNSUPPORTED') && err.message.includes(word), `${word}: ${err}`);
  }
  for (const dir of Object.values(m.paths())) assert.equal(existsSync(dir), false, `${dir} not left behind`);
  for (const dir of Object.values(m.paths())) parents.add(dir.slice(0, dir.lastIndexOf('/')));
});
