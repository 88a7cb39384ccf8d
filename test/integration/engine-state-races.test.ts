// berthd's recorded state against the truth, as root: pause, unpause, stop and kill sent over and
// over at containers whose task exits at once, and an unpause that lets a task killed while frozen
// exit before the runtime returns, so that each verb races the exit. Every verb that reads the status, acts and records runs under the container's lock, and
// a status is recorded only when it may follow the recorded one: a pause landing after the exit
// must fail, not write `paused` over `stopped` (a row that then says paused, with no task, which
// neither stop nor wait could ever end). At the end every container's row must say what is true:
// stopped, no pid, no shim; `wait` answers; `rm` succeeds.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { BerthClient } from '../../src/client/client.ts';
import { busyboxRootfsTar, type Daemon, finish, REPO, removeRoots, startBerthd, tempRoots } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;
const RUNC = '/usr/sbin/runc';
/** runc is exec'd for every verb (berth-runtime runs in berthd's process): a wider window for each race. */
const RUNTIMES = [RUNTIME, ...(existsSync(RUNC) && RUNTIME !== 'runc' ? ['runc'] : [])];
/**
 * runc itself, answering pause and resume only after 300 ms more, as a loaded machine may: the task
 * is frozen or thawed when runc is done, and the exit it then makes is reported while the verb that
 * caused it has not returned yet.
 */
// Outside berthd's root: berthd sets the modes of what is there (0600 for a file it does not know).
const binDir = mkdtempSync('/tmp/bts-');
const SLOW_RUNC = join(binDir, 'slow-runc');

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root (mounts, namespaces, cgroups)');
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  writeFileSync(
    SLOW_RUNC,
    `#!/bin/sh\n${RUNC} "$@"\nrc=$?\ncase " $* " in *" pause "*|*" resume "*) sleep 0.3 ;; esac\nexit $rc\n`,
    { mode: 0o755 },
  );
  d = await startBerthd(root, runRoot, ['--no-network'], {
    defaultRuntime: RUNTIME,
    runtimes: { 'slow-runc': SLOW_RUNC },
  });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(() => finish(d, root, runRoot).finally(() => removeRoots(binDir)));

const settle = <T>(p: Promise<T>) =>
  p.then(
    () => undefined,
    () => undefined,
  );

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>(
      (_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)),
    ),
  ]).finally(() => clearTimeout(t));
}

/** After the storm: each container is stopped for good, and its row says so (nothing live, wait answers). */
async function assertSettled(c: BerthClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    await withTimeout(
      c.stop(id, 0).catch(() => {}),
      30_000,
      `stop of ${id.slice(0, 12)}`,
    );
    const exit = await withTimeout(
      c.wait(id),
      10_000,
      `wait for ${id.slice(0, 12)}, recorded as ${JSON.stringify((await c.inspect(id)).state)}`,
    );
    assert.equal(typeof exit.exitCode, 'number');
    const s = (await c.inspect(id)).state;
    assert.deepEqual(
      { status: s.status, running: s.running, paused: s.paused, pid: s.pid, shimPid: s.shimPid },
      { status: 'stopped', running: false, paused: false, pid: 0, shimPid: 0 },
      `${id.slice(0, 12)}: ${JSON.stringify(s)}`,
    );
  }
  assert.deepEqual(await c.list(), [], 'ps lists no container as running');
  assert.deepEqual(
    existsSync(join(runRoot, 'shims')) ? readdirSync(join(runRoot, 'shims')) : [],
    [],
    'no shim directory is left',
  );
}

test('pause, unpause, stop and kill sent again and again at containers that exit at once: the recorded state ends as the task did', async () => {
  const c = d.client;
  const ids: string[] = [];
  for (let round = 0; round < 3; round++) {
    const batch = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        c
          .createAndStart({
            image: 'busybox',
            cmd: ['sh', '-c', `sleep 0.0${i}`],
            runtime: RUNTIMES[i % RUNTIMES.length]!,
          })
          .then((r) => r.id),
      ),
    );
    ids.push(...batch);
    await Promise.all(
      batch.map(async (id, i) => {
        for (let k = 0; k < 12; k++) {
          const verbs = [
            c.pause(id),
            c.unpause(id),
            c.pause(id),
            ...(k % 4 === 3 ? [i % 2 ? c.kill(id, 'SIGKILL') : c.stop(id, 0)] : []),
          ];
          await Promise.all(verbs.map(settle));
        }
      }),
    );
  }
  await assertSettled(c, ids);
  for (const id of ids) await c.remove(id);
});

test('kill while a pause is under way, under a runtime slow to return: the exit is recorded, not written over by paused', async (t) => {
  if (!existsSync(RUNC)) return t.skip(`${RUNC} is missing: this case needs an exec'd runtime to slow down`);
  const c = d.client;
  const ids: string[] = [];
  for (let round = 0; round < 2; round++) {
    const batch = await Promise.all(
      Array.from({ length: 3 }, () =>
        c.createAndStart({ image: 'busybox', cmd: ['sleep', '1000'], runtime: 'slow-runc' }).then((r) => r.id),
      ),
    );
    ids.push(...batch);
    await Promise.all(
      batch.map(async (id) => {
        // The task is frozen while the runtime's pause has not returned; a SIGKILL then ends it
        // (a frozen task still dies of SIGKILL), and its exit is reported meanwhile.
        let done = false;
        const pause = settle(c.pause(id)).finally(() => (done = true));
        while (!done) {
          await settle(c.kill(id, 'SIGKILL'));
          await new Promise((r) => setTimeout(r, 20));
        }
        await pause;
        await Promise.all([c.unpause(id), c.kill(id, 'SIGKILL')].map(settle));
      }),
    );
  }
  await assertSettled(c, ids);
  for (const id of ids) await c.remove(id);
});
