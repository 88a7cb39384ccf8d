// berthd crash recovery, as root: kill -9 berthd while containers run, let some exit while it is
// down, restart it, and check that running containers are still running and listed, exits that
// happened meanwhile are recorded, restart policies apply, and nothing leaks.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { busyboxRootfsTar, type Daemon, finish, REPO, startBerthd, tempRoots, until } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;
const cfg = { defaultRuntime: RUNTIME };

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root');
  if (!existsSync(join(REPO, 'native/build/berth-shim')))
    throw new Error('native/build/berth-shim is missing: run scripts/build.sh');
  d = await startBerthd(root, runRoot, ['--no-network'], cfg);
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(() => finish(d, root, runRoot));

test('kill -9 of berthd: containers outlive it; exits while down are recorded; policies apply after restart', async () => {
  const c = d.client;
  const keep = await c.create({
    image: 'busybox',
    name: 'keeper',
    cmd: ['sh', '-c', 'echo up; while true; do sleep 0.1; done'],
  });
  const quits = await c.create({
    image: 'busybox',
    name: 'quitter',
    cmd: ['sh', '-c', 'read x; exit 42'],
    openStdin: true,
  });
  const phoenix = await c.create({ image: 'busybox', name: 'phoenix', cmd: ['sleep', '300'], restart: 'always' });
  for (const x of [keep, quits, phoenix]) await c.start(x.id);
  const before = await c.inspect(keep.id);
  const phoenixPid = (await c.inspect(phoenix.id)).state.pid;

  await d.stop('SIGKILL');
  // While berthd is down: one container exits on its own, one is killed from outside.
  const quitterPid = await (async () => {
    const { readFileSync } = await import('node:fs');
    return Number(readFileSync(join(runRoot, 'shims', quits.id.slice(0, 32), 'container.pid'), 'utf8'));
  })();
  process.kill(quitterPid, 'SIGKILL');
  process.kill(phoenixPid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(existsSync(join(runRoot, 'shims', keep.id.slice(0, 32), 'shim.pid')), 'the keeper shim outlived berthd');

  d = await startBerthd(root, runRoot, ['--no-network'], cfg);
  const k = await d.client.inspect(keep.id);
  assert.equal(k.state.status, 'running');
  assert.equal(k.state.pid, before.state.pid, 'the same process, reconnected');
  assert.ok(
    (await d.client.list()).some((x) => x.id === keep.id),
    'listed as running',
  );
  const q = await d.client.inspect(quits.id);
  assert.equal(q.state.status, 'stopped');
  assert.equal(q.state.exitCode, 137, 'the exit while berthd was down is recorded');
  await until('phoenix restarted by its policy', async () => {
    const s = (await d.client.inspect(phoenix.id)).state;
    return s.status === 'running' && s.pid !== phoenixPid;
  });
  // The reconnected container is fully manageable: logs, exec, stop.
  let up = false;
  for await (const l of d.client.logs(keep.id)) if (l.log === 'up\n') up = true;
  assert.ok(up);
  const { execId } = await d.client.exec(keep.id, { cmd: ['true'] });
  assert.equal((await d.client.execWait(execId)).exitCode, 0);
  await d.client.stop(keep.id, 2);
  assert.equal((await d.client.inspect(keep.id)).state.status, 'stopped');
});

test('berthd SIGTERM leaves containers running; the next berthd finds them', async () => {
  const x = await d.client.create({ image: 'busybox', cmd: ['sleep', '300'] });
  await d.client.start(x.id);
  const pid = (await d.client.inspect(x.id)).state.pid;
  await d.stop('SIGTERM');
  process.kill(pid, 0);
  d = await startBerthd(root, runRoot, ['--no-network'], cfg);
  const i = await d.client.inspect(x.id);
  assert.equal(i.state.status, 'running');
  assert.equal(i.state.pid, pid);
  const w = d.client.wait(x.id);
  await d.client.kill(x.id, 'SIGKILL');
  assert.equal((await w).exitCode, 137);
});
