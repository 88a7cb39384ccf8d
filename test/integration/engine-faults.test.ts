// Fault injection, as root: berthd SIGKILLs itself at a named point (src/engine/fault-points.ts,
// BERTH_FAULT_POINT) during a loop of run -d, stop, rm and rm -f; a fresh berthd then recovers, and
// the test checks that the container that ran throughout still runs (same pid) and is listed, that
// every exit is recorded, that no mount, network namespace, cgroup, runtime state or shim is left
// for a container that is not running, that the metadata database passes SQLite's integrity and
// foreign-key checks, and that the list agrees with the database, the snapshots and the container
// directories. A second test kills berthd mid-pull from Debian's docker-registry and pulls again.
// CNI networking is on (own bridge and subnet), so network namespaces and attachments are covered.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerSummary } from '../../src/engine/types.ts';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { push } from '../../src/images/push.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { NetworkManager } from '../../src/network/network-manager.ts';
import { startFaultProxy, startRegistry } from '../lib/registry.ts';
import { buildImage, busyboxTar, tarOf } from '../lib/test-images.ts';
import {
  busyboxRootfsTar,
  type Daemon,
  leftovers,
  removeRoots,
  startBerthd,
  tempRoots,
  until as untilHarness,
} from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
const BRIDGE = `btf${process.pid % 100000}`;
// Derived from the pid like the bridge: two runs of this file (or a bridge a crashed run left) must not collide.
const CFG = {
  defaultRuntime: RUNTIME,
  network: {
    defaultNetwork: {
      name: 'berth',
      bridge: BRIDGE,
      subnet: `10.${160 + (process.pid % 40)}.${process.pid % 250}.0/24`,
    },
  },
};
const LOOP_CMD = ['sh', '-c', 'trap "exit 3" TERM; while :; do sleep 0.1; done'];

/**
 * Every point, each reached in the loop below (a point is reached after the step it names). The
 * metadata points with @n pick a later write than the first.
 */
const POINTS = [
  'create.dir-made',
  'create.config-written',
  'create.snapshot-prepared',
  'metadata.insert',
  'create.recorded',
  'start.rootfs-mounted',
  'start.netns-created',
  'network.attached',
  'start.network-attached',
  'start.config-written',
  'runtime.cgroups-made',
  'runtime.init-ready',
  'runtime.state-recorded',
  'shim.init-recorded',
  'shim.started',
  'start.runtime-started',
  'metadata.update@2',
  'start.recorded',
  'stop.marked',
  'stop.signalled',
  'exit.recorded',
  'exit.runtime-deleted',
  'exit.shim-stopped',
  'network.detached',
  'exit.network-released',
  'exit.unmounted',
  'remove.runtime-deleted',
  'metadata.delete',
  'remove.recorded',
  'remove.snapshot-removed',
  'remove.dir-removed',
  'remove.killed',
  'metadata.update@6',
];

let d: Daemon | undefined;
let keeper = { id: '', pid: 0 };
/** How the loop's containers were ended: the exit each must have recorded if it is still listed. */
const expectedExit = new Map<string, number>();
/** Every container id this test ever learned of (its cgroups are the ones it may check). */
const seen = new Set<string>();

/** The harness's until, polling faster (50 ms) and giving up sooner (10 s) than its defaults. */
const until = (what: string, fn: () => Promise<boolean> | boolean, ms = 10_000) => untilHarness(what, fn, ms, 50);

function ls(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** What the host holds for this test's containers, by kind: each entry names a container id (or a path). */
function hostState(): Record<string, string[]> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => mp.startsWith(`${root}/`) || mp.startsWith(`${runRoot}/`))
    // The network library's shared mount of the netns directory itself (as `ip netns` makes one).
    .filter((mp) => mp !== join(runRoot, 'netns'));
  const cgroups: string[] = [];
  for (const h of ls('/sys/fs/cgroup'))
    for (const id of ls(join('/sys/fs/cgroup', h, 'berth'))) if (seen.has(id)) cgroups.push(`${h}/berth/${id}`);
  const shimProcs: string[] = [];
  for (const pid of ls('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('berth-shim') && argv.some((a) => a.startsWith(runRoot)))
        shimProcs.push(argv[argv.indexOf('--id') + 1] ?? `pid ${pid}`);
    } catch {}
  }
  const runtimeState = ls(join(runRoot, 'runtime')).flatMap((rt) => ls(join(runRoot, 'runtime', rt)));
  return {
    mounts: mounts.sort(),
    netns: ls(join(runRoot, 'netns')).sort(),
    cgroups: cgroups.sort(),
    shimDirs: ls(join(runRoot, 'shims')).sort(),
    shimProcs: shimProcs.sort(),
    runtimeState: runtimeState.sort(),
  };
}

/** What the host must hold when exactly `running` run (nothing else of this test's). */
function expectedState(running: ContainerSummary[]): Record<string, string[]> {
  const ids = running.map((c) => c.id);
  const cg: string[] = [];
  for (const h of ls('/sys/fs/cgroup'))
    for (const id of ids) if (existsSync(join('/sys/fs/cgroup', h, 'berth', id))) cg.push(`${h}/berth/${id}`);
  return {
    mounts: ids.flatMap((id) => [join(root, 'containers', id, 'rootfs'), join(runRoot, 'netns', id)]).sort(),
    netns: [...ids].sort(),
    cgroups: cg.sort(),
    shimDirs: ids.map((id) => id.slice(0, 32)).sort(),
    shimProcs: [...ids].sort(),
    runtimeState: [...ids].sort(),
  };
}

function checkDatabase(): {
  id: string;
  status: string;
  exit_code: number | null;
  started_at: string | null;
  pid: number;
  snapshot_key: string;
}[] {
  const db = new DatabaseSync(join(root, 'berthd.db'), { readOnly: true });
  try {
    assert.deepEqual(
      (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]).map((r) => r.integrity_check),
      ['ok'],
      'the metadata database passes integrity_check',
    );
    assert.deepEqual(db.prepare('PRAGMA foreign_key_check').all(), [], 'no dangling network attachment rows');
    return db
      .prepare('SELECT id, status, exit_code, started_at, pid, snapshot_key FROM containers')
      .all() as ReturnType<typeof checkDatabase>;
  } finally {
    db.close();
  }
}

/** The names of the active container snapshots, from the snapshotter's own database. */
function containerSnapshots(): string[] {
  const dir = ['overlay', 'native'].map((n) => join(root, 'snapshots', n, 'metadata.db')).find((p) => existsSync(p));
  assert.ok(dir, 'a snapshotter database exists');
  const db = new DatabaseSync(dir, { readOnly: true });
  try {
    assert.deepEqual(
      (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]).map((r) => r.integrity_check),
      ['ok'],
    );
    return (
      db.prepare("SELECT name FROM snapshots WHERE name LIKE 'berth-container-%' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
  } finally {
    db.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The invariants after a recovery; returns the containers that run. */
async function checkRecovered(point: string): Promise<ContainerSummary[]> {
  const c = d!.client;
  const k = await c.inspect(keeper.id);
  assert.equal(k.state.status, 'running', `${point}: the keeper still runs`);
  assert.equal(k.state.pid, keeper.pid, `${point}: the keeper is the same process, reconnected`);
  // An exit that happened while berthd was down is picked up by recovery or, if the process was
  // still dying then, by the reconnected watch: give it a moment to be recorded.
  await until(`${point}: every row that says running has a live process`, async () => {
    for (const x of await c.list({ all: true })) {
      if (x.status !== 'running') continue;
      const i = await c.inspect(x.id);
      if (!alive(i.state.pid)) return false;
    }
    return true;
  });
  const all = await c.list({ all: true });
  for (const x of all) seen.add(x.id);
  const rows = checkDatabase();
  assert.deepEqual(all.map((x) => x.id).sort(), rows.map((r) => r.id).sort(), `${point}: the list is the database`);
  for (const r of rows) {
    if (r.status === 'stopped' && r.started_at) {
      assert.notEqual(r.exit_code, null, `${point}: the exit of ${r.id} is recorded`);
      // 255 is what recovery records when it lost the task: never the case here.
      assert.equal(
        r.exit_code,
        expectedExit.get(r.id),
        `${point}: ${r.id} exited as it was told to (SIGTERM trap: 3, SIGKILL: 137)`,
      );
    }
    if (r.status === 'running') assert.ok(alive(r.pid), `${point}: ${r.id} runs with pid ${r.pid}`);
    assert.ok(existsSync(join(root, 'containers', r.id, 'config.json')), `${point}: ${r.id} has its bundle`);
  }
  const ids = new Set(rows.map((r) => r.id));
  assert.deepEqual(
    ls(join(root, 'containers')).filter((x) => !ids.has(x)),
    [],
    `${point}: no container directory without a row`,
  );
  assert.deepEqual(
    containerSnapshots(),
    rows.map((r) => r.snapshot_key).sort(),
    `${point}: one container snapshot per row, none without`,
  );
  const running = all.filter((x) => x.status === 'running');
  assert.deepEqual(
    hostState(),
    expectedState(running),
    `${point}: the host holds exactly what the running containers need`,
  );
  return running;
}

async function loopUntilKilled(point: string): Promise<void> {
  const c = d!.client;
  const died = d!.exited.then(() => 'died' as const);
  const step = async <T>(p: Promise<T>): Promise<T> => {
    const r = await Promise.race([p, died]);
    if (r === 'died') throw new Error('berthd died');
    return r as T;
  };
  try {
    for (let i = 0; i < 4; i++) {
      const a = await step(c.create({ image: 'busybox', cmd: LOOP_CMD, name: `loop-${i}-${Date.now()}` }));
      seen.add(a.id);
      await step(c.start(a.id));
      expectedExit.set(a.id, 3);
      await step(c.stop(a.id, 5));
      await step(c.remove(a.id));
      const b = await step(c.create({ image: 'busybox', cmd: ['sleep', '1000'] }));
      seen.add(b.id);
      await step(c.start(b.id));
      expectedExit.set(b.id, 137);
      await step(c.remove(b.id, { force: true }));
    }
  } catch (e) {
    if (d!.proc.exitCode === null && d!.proc.signalCode === null) await Promise.race([d!.exited, sleep(5000)]);
    if (d!.proc.signalCode !== 'SIGKILL')
      throw new Error(
        `${point}: the loop failed but berthd did not die: ${(e as Error).message}\n${d!.stderr().slice(-2000)}`,
      );
    assert.match(
      d!.stderr(),
      new RegExp(`fault point ${point.split('@')[0]!.replace('.', '\\.')}@`),
      `${point}: berthd died at the point`,
    );
    return;
  }
  throw new Error(`${point}: the fault point was never reached in the loop`);
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine fault tests need root (mounts, namespaces, cgroups)');
  if (!existsSync('/usr/lib/cni/bridge'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  d = await startBerthd(root, runRoot, [], CFG);
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  const k = await d.client.create({ image: 'busybox', name: 'keeper', cmd: ['sleep', '100000'] });
  await d.client.start(k.id);
  keeper = { id: k.id, pid: (await d.client.inspect(k.id)).state.pid };
  seen.add(k.id);
  await d.stop();
});

after(async () => {
  try {
    if (d && d.proc.exitCode === null && d.proc.signalCode === null) await d.stop('SIGKILL');
    d = await startBerthd(root, runRoot, [], CFG);
    for (const c of await d.client.list({ all: true }).catch(() => []))
      await d.client.remove(c.id, { force: true }).catch(() => {});
    await d.stop();
    const m = await NetworkManager.open({ root: join(root, 'network'), runDir: runRoot, defaultNetwork: false });
    assert.deepEqual(
      (await m.listAttachments()).map((a) => a.containerId),
      [],
      'every attachment was detached',
    );
    await m.destroy();
    assert.deepEqual(hostState(), expectedState([]), 'nothing of any container is left');
    const left = leftovers(root, runRoot);
    assert.deepEqual(left, [], `left behind: ${left.join('; ')}`);
  } finally {
    await removeRoots(root, runRoot);
  }
});

test(`kill -9 of berthd at ${POINTS.length} points of run -d / stop / rm / rm -f, then recovery`, async (t) => {
  for (const point of POINTS) {
    await t.test(point, async () => {
      try {
        d = await startBerthd(root, runRoot, [], CFG, { BERTH_FAULT_POINT: point });
        await loopUntilKilled(point);
        d = await startBerthd(root, runRoot, [], CFG);
        await checkRecovered(point);
        // The recovered engine manages what it found: remove everything but the keeper.
        for (const x of await d.client.list({ all: true }))
          if (x.id !== keeper.id) await d.client.remove(x.id, { force: true });
        const running = await checkRecovered(`${point} (after rm -f)`);
        assert.deepEqual(
          running.map((x) => x.id),
          [keeper.id],
        );
      } catch (e) {
        throw new Error(`${(e as Error).message}\nberthd's log:\n${d?.stderr().slice(-3000)}`, { cause: e });
      } finally {
        // SIGTERM leaves containers running: the next point starts from what this one left.
        await d?.stop();
      }
    });
  }
});

// Not a kill, but the same kind of race the loop above looks for: 40 creates under way at once drew
// the same generated name from the 256 (bench/engine's 50 parallel runs failed on it).
test('40 concurrent creates with generated names all succeed with distinct names', async () => {
  try {
    d = await startBerthd(root, runRoot, [], CFG);
    const made = await Promise.all(
      Array.from({ length: 40 }, () => d!.client.create({ image: 'busybox', cmd: ['true'] })),
    );
    for (const m of made) seen.add(m.id);
    assert.equal(new Set(made.map((m) => m.name)).size, 40);
    await Promise.all(made.map((m) => d!.client.remove(m.id)));
    await checkRecovered('concurrent creates');
  } finally {
    await d?.stop();
  }
});

/**
 * A second crash while recovering from the first: berthd is killed in the loop at `first`, then the
 * next berthd is killed by `second` while its recovery handles what the first left (the exit that
 * happened meanwhile); a third recovers both.
 */
const DOUBLE_FAULTS: [string, string][] = [
  ['stop.signalled', 'exit.recorded'],
  ['stop.signalled', 'exit.runtime-deleted'],
  ['stop.signalled', 'exit.shim-stopped'],
  ['stop.signalled', 'exit.unmounted'],
  ['remove.killed', 'network.detached'],
];

test(`kill -9 of berthd during its own recovery (${DOUBLE_FAULTS.length} pairs of points)`, async (t) => {
  for (const [first, second] of DOUBLE_FAULTS) {
    await t.test(`${first} then ${second}`, async () => {
      try {
        d = await startBerthd(root, runRoot, [], CFG, { BERTH_FAULT_POINT: first });
        await loopUntilKilled(first);
        // Give the signalled container time to exit while berthd is down.
        await sleep(500);
        const dying = startBerthd(root, runRoot, [], CFG, { BERTH_FAULT_POINT: second });
        await assert.rejects(dying, (e: Error) => {
          assert.match(e.message, /exited with SIGKILL/, 'the recovering berthd died');
          assert.match(
            e.message,
            new RegExp(`fault point ${second.replace('.', '\\.')}@1`),
            `it died at ${second} during recovery`,
          );
          return true;
        });
        d = await startBerthd(root, runRoot, [], CFG);
        await checkRecovered(`${first} then ${second}`);
        for (const x of await d.client.list({ all: true }))
          if (x.id !== keeper.id) await d.client.remove(x.id, { force: true });
        await checkRecovered(`${first} then ${second} (after rm -f)`);
      } catch (e) {
        throw new Error(`${(e as Error).message}\nberthd's log:\n${d?.stderr().slice(-3000)}`, { cause: e });
      } finally {
        await d?.stop();
      }
    });
  }
});

test('kill -9 of berthd as the restart policy restarts a container: the next berthd restarts it', async () => {
  try {
    d = await startBerthd(root, runRoot, [], CFG);
    const x = await d.client.create({
      image: 'busybox',
      name: `phoenix-${Date.now()}`,
      cmd: ['sleep', '1000'],
      restart: 'always',
    });
    seen.add(x.id);
    await d.client.start(x.id);
    const pid1 = (await d.client.inspect(x.id)).state.pid;
    await d.stop();
    // This berthd dies half-way through the policy's restart (rootfs mounted, nothing else yet).
    d = await startBerthd(root, runRoot, [], CFG, { BERTH_FAULT_POINT: 'start.rootfs-mounted' });
    process.kill(pid1, 'SIGKILL');
    await Promise.race([d.exited, sleep(10_000)]);
    assert.equal(d.proc.signalCode, 'SIGKILL', 'berthd died in the restart');
    d = await startBerthd(root, runRoot, [], CFG);
    await until('the policy restarted it after recovery', async () => {
      const s = (await d!.client.inspect(x.id)).state;
      return s.status === 'running' && s.pid !== pid1 && alive(s.pid);
    });
    expectedExit.set(x.id, 137);
    await checkRecovered('restart policy');
    await d.client.remove(x.id, { force: true });
    await checkRecovered('restart policy (after rm -f)');
  } catch (e) {
    throw new Error(`${(e as Error).message}\nberthd's log:\n${d?.stderr().slice(-3000)}`, { cause: e });
  } finally {
    await d?.stop();
  }
});

/** Every committed blob hashes to its name. */
async function blobsSound(contentRoot: string): Promise<number> {
  let n = 0;
  for (const algo of await readdir(join(contentRoot, 'blobs')).catch(() => [] as string[])) {
    for (const hex of await readdir(join(contentRoot, 'blobs', algo))) {
      const data = await readFile(join(contentRoot, 'blobs', algo, hex));
      assert.equal(createHash(algo).update(data).digest('hex'), hex, `blob ${algo}:${hex} is corrupt or partial`);
      n++;
    }
  }
  return n;
}

type Pushed = { ref: (host: string) => string; built: Awaited<ReturnType<typeof buildImage>> };

/** Pushes a busybox image with a 6 MB random layer as berth/faulty:<tag>. */
async function pushFaulty(regHost: string, src: string, tag: string): Promise<Pushed> {
  const content = new LocalContentStore(join(src, 'content'));
  const images = new ImageStore(src);
  const { randomBytes } = await import('node:crypto');
  const big = await tarOf([{ name: 'random.bin', data: randomBytes(6_000_000) }]);
  const built = await buildImage(content, [await busyboxTar(), big], { cmd: ['/bin/sh', '-c', 'echo pulled'] });
  const name = `${regHost}/berth/faulty:${tag}`;
  await images.put(name, built.manifest);
  const client = new RegistryClient({ hosts: { [regHost]: { insecure: true } } });
  await push(name, { content, images, client });
  await client.close();
  return { ref: (host) => `${host}/berth/faulty:${tag}`, built };
}

/** After a killed pull and a restart: pull again, then everything the store holds must be whole. */
async function pullAgainAndCheck(ref: string, built: Pushed['built']): Promise<void> {
  d = await startBerthd(root, runRoot, [], CFG);
  const r = await d.client.pull(ref);
  assert.equal(r.digest, built.manifest.digest);
  await blobsSound(join(root, 'content'));
  for (const desc of [built.manifest, built.config, ...built.layers]) {
    const p = join(root, 'content', 'blobs', 'sha256', desc.digest.slice(7));
    assert.equal(statSync(p).size, desc.size, `${desc.digest} is complete`);
  }
  const ingests = ls(join(root, 'content', 'ingest'));
  const describe = ingests.map((i) => {
    const hex = i.replace(/^fetch-sha256-/, '');
    const which = [built.manifest, built.config, ...built.layers].findIndex((x) => x.digest.endsWith(hex));
    return `${i}: [${ls(join(root, 'content', 'ingest', i)).join(',')}] blob ${existsSync(join(root, 'content', 'blobs', 'sha256', hex)) ? 'exists' : 'missing'}, descriptor #${which}`;
  });
  assert.deepEqual(
    ingests,
    [],
    `no ingest is left after the pull completed: ${describe.join('; ')}\n${d!.stderr().slice(-1500)}`,
  );
  // Leases live in berthd.db (schema v4): none may be left by the killed pulls or the one that completed.
  const db = new DatabaseSync(join(root, 'berthd.db'), { readOnly: true });
  try {
    assert.deepEqual(db.prepare('SELECT id FROM leases').all(), [], 'no pull lease is left');
  } finally {
    db.close();
  }
  // The pulled image is whole: a container runs from it.
  const x = await d.client.create({ image: ref });
  seen.add(x.id);
  const w = d.client.wait(x.id);
  await d.client.start(x.id);
  assert.equal((await w).exitCode, 0);
  const out: string[] = [];
  for await (const l of d.client.logs(x.id)) out.push(l.log);
  assert.deepEqual(out, ['pulled\n']);
  await d.client.remove(x.id);
  await d.client.rmi([ref]);
  await d.stop();
}

test('kill -9 of berthd mid-pull (mid-blob, and as the last blob commits): the pull again completes, no partial blob is visible, the image runs', async () => {
  const reg = await startRegistry();
  const src = await import('node:fs/promises').then((fs) => fs.mkdtemp('/tmp/btf-src-'));
  let proxy: Awaited<ReturnType<typeof startFaultProxy>> | undefined;
  try {
    // 1. Mid-blob, through a throttling proxy: 1 MB of the 6 MB layer is in the ingest.
    const a = await pushFaulty(reg.host, src, '1');
    proxy = await startFaultProxy(reg.url, () => ({ kind: 'throttle', bytesPerSecond: 3_000_000 }));
    d = await startBerthd(root, runRoot, [], CFG);
    const pulling = d.client.pull(a.ref(proxy.host)).catch((e: Error) => e);
    const layer = a.built.layers[1]!;
    const data = join(root, 'content', 'ingest', `fetch-${layer.digest.replace(':', '-')}`, 'data');
    await until(
      '1 MB of the big layer in the ingest',
      () => (existsSync(data) ? statSync(data).size : 0) >= 1_000_000,
      20_000,
    );
    await d.stop('SIGKILL');
    assert.ok((await pulling) instanceof Error, 'the pull was cut by the kill');
    assert.ok(
      !existsSync(join(root, 'content', 'blobs', 'sha256', layer.digest.slice(7))),
      'the partial layer is not committed',
    );
    await blobsSound(join(root, 'content'));
    const before = proxy.seen.length;
    await pullAgainAndCheck(a.ref(proxy.host), a.built);
    assert.ok(
      proxy.seen
        .slice(before)
        .some((x) => x.path.endsWith(layer.digest) && x.range?.startsWith('bytes=') && !x.range.startsWith('bytes=0-')),
      `the second pull resumed the layer with a Range request: ${JSON.stringify(proxy.seen.slice(before))}`,
    );

    // 2. Straight from the registry, killed the moment the big layer's blob is committed: the
    // unpack into snapshots is then under way (or just done): either way, nothing half-made stays.
    const b = await pushFaulty(reg.host, src, '2');
    const blob = join(root, 'content', 'blobs', 'sha256', b.built.layers[1]!.digest.slice(7));
    d = await startBerthd(root, runRoot, [], CFG);
    const pulling2 = d.client.pull(b.ref(reg.host)).catch((e: Error) => e);
    const end = Date.now() + 20_000;
    while (!existsSync(blob) && Date.now() < end) await sleep(2);
    assert.ok(existsSync(blob), 'the big layer was committed');
    await d.stop('SIGKILL');
    await pulling2;
    await blobsSound(join(root, 'content'));
    await pullAgainAndCheck(b.ref(reg.host), b.built);
  } finally {
    await d?.stop();
    await proxy?.stop();
    await reg.stop();
    await removeRoots(src);
  }
});
