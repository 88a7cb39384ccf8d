// Container healthchecks (Config.Healthcheck, docker run --health-*): the docker CLI 28 and berth's
// own CLI against a real berthd (no network), busybox imported and an image built with a HEALTHCHECK.
// Probes run as execs in the container; a pass makes it healthy, `retries` failures unhealthy, a
// timeout is a failure; ps shows and filters it, inspect carries State.Health, events announce it;
// --no-healthcheck turns an image's off; bad values are refused naming the field; the schedule
// ends with the container and resumes after a berthd restart. Intervals are short and every wait
// polls with a generous deadline: nothing here depends on how fast a probe runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dockerCli, dockerRequest } from '../lib/docker-cli.ts';
import {
  berthCli,
  type Daemon,
  finish,
  startBerthd,
  startDockerApiBerthd,
  tempRoots,
  until,
} from './engine-harness.ts';

const DOCKER = '/usr/local/bin/docker';
const { root, runRoot } = tempRoots();
const configDir = join(root, 'docker-config');
const ctxDir = mkdtempSync('/tmp/bth-ctx-');
let d: Daemon;
let dockerSocket: string;

const docker = (...args: string[]) => dockerCli(DOCKER, dockerSocket, configDir, ...args);
const berth = (...args: string[]) => berthCli(d.socket, ...args);

type Health = {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
};

async function health(name: string): Promise<Health | undefined> {
  const r = await docker('inspect', '--format', '{{json .State.Health}}', name);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as Health | null;
  return v ?? undefined;
}

async function untilStatus(name: string, status: string): Promise<Health> {
  const end = Date.now() + 120_000;
  let h: Health | undefined;
  while (Date.now() < end) {
    h = await health(name);
    if (h?.Status === status) return h;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${name} to be ${status} (last: ${JSON.stringify(h)})`);
}

async function run(...args: string[]): Promise<string> {
  const r = await docker('run', '-d', ...args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

before(async () => {
  ({ daemon: d, dockerSocket } = await startDockerApiBerthd(root, runRoot, 'the healthcheck tests'));
});

after(async () => {
  rmSync(ctxDir, { recursive: true, force: true });
  await finish(d, root, runRoot);
});

test('a passing check turns healthy: inspect, ps Status and the health filter, and the event', async () => {
  const since = String(Math.floor(Date.now() / 1000) - 1);
  await run('--name', 'hc-pass', '--health-cmd', 'echo ok', '--health-interval', '300ms', 'busybox', 'sleep', '300');
  const h = await untilStatus('hc-pass', 'healthy');
  assert.equal(h.FailingStreak, 0);
  const last = h.Log.at(-1)!;
  assert.equal(last.ExitCode, 0);
  assert.equal(last.Output, 'ok\n');
  assert.ok(Date.parse(last.End) >= Date.parse(last.Start));
  const cfg = await docker('inspect', '--format', '{{json .Config.Healthcheck}}', 'hc-pass');
  assert.deepEqual(JSON.parse(cfg.stdout), { Test: ['CMD-SHELL', 'echo ok'], Interval: 300_000_000 });

  const ps = await docker('ps', '--filter', 'health=healthy', '--format', '{{.Names}}|{{.Status}}');
  assert.equal(ps.code, 0, ps.stderr);
  const line = ps.stdout.split('\n').find((l) => l.startsWith('hc-pass|'));
  assert.match(line ?? '', /^hc-pass\|Up .* \(healthy\)$/);
  const none = await docker('ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}');
  assert.ok(!none.stdout.split('\n').includes('hc-pass'));
  const bad = await docker('ps', '--filter', 'health=sick');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Unrecognised filter value for health: sick/);

  // The log keeps five results at most.
  await until('five results in the log', async () => (await health('hc-pass'))!.Log.length === 5, 120_000, 200);
  await until('a sixth probe', async () => (await health('hc-pass'))!.Log[0]!.Start !== h.Log[0]!.Start, 120_000, 200);
  assert.equal((await health('hc-pass'))!.Log.length, 5);

  const ev = await docker(
    'events',
    '--since',
    since,
    '--until',
    String(Math.floor(Date.now() / 1000) + 1),
    '--filter',
    'container=hc-pass',
    '--filter',
    'event=health_status',
    '--format',
    '{{.Action}}',
  );
  assert.equal(ev.code, 0, ev.stderr);
  assert.deepEqual(ev.stdout.trim().split('\n'), ['health_status: healthy']);
});

test('a failing check turns unhealthy after Retries failures in a row; a timeout counts as one', async () => {
  await run(
    '--name',
    'hc-fail',
    '--health-cmd',
    'echo bad >&2; exit 3',
    '--health-interval',
    '200ms',
    '--health-retries',
    '2',
    'busybox',
    'sleep',
    '300',
  );
  const h = await untilStatus('hc-fail', 'unhealthy');
  assert.ok(h.FailingStreak >= 2, JSON.stringify(h));
  assert.equal(h.Log.at(-1)!.ExitCode, 3);
  assert.equal(h.Log.at(-1)!.Output, 'bad\n');
  const ps = await docker('ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}|{{.Status}}');
  assert.match(ps.stdout, /^hc-fail\|Up .* \(unhealthy\)$/m);

  await run(
    '--name',
    'hc-slow',
    '--health-cmd',
    'sleep 30',
    '--health-timeout',
    '300ms',
    '--health-interval',
    '200ms',
    '--health-retries',
    '1',
    'busybox',
    'sleep',
    '300',
  );
  const t = await untilStatus('hc-slow', 'unhealthy');
  assert.equal(t.Log.at(-1)!.ExitCode, -1);
  assert.equal(t.Log.at(-1)!.Output, 'Health check exceeded timeout (300ms)');
  // A probe past its timeout is killed and waited for before the next starts: never two at once.
  for (let i = 0; i < 5; i++) {
    const top = await docker('top', 'hc-slow');
    assert.equal(top.code, 0, top.stderr);
    assert.ok(top.stdout.split('\n').filter((l) => /\ssleep 30$/.test(l)).length <= 1, top.stdout);
  }
});

test("an image's HEALTHCHECK is used, merged with the run's flags, and --no-healthcheck turns it off", async () => {
  writeFileSync(
    join(ctxDir, 'Dockerfile'),
    'FROM busybox\nHEALTHCHECK --interval=250ms --retries=4 CMD test -e /tmp/ok || exit 1\n',
  );
  const b = await berth('build', '-t', 'hc-image', ctxDir);
  assert.equal(b.code, 0, b.stderr);
  await run('--name', 'hc-img', 'hc-image', 'sh', '-c', 'touch /tmp/ok; sleep 300');
  await untilStatus('hc-img', 'healthy');
  const cfg = await docker('inspect', '--format', '{{json .Config.Healthcheck}}', 'hc-img');
  assert.deepEqual(JSON.parse(cfg.stdout), {
    Test: ['CMD-SHELL', 'test -e /tmp/ok || exit 1'],
    Interval: 250_000_000,
    Retries: 4,
  });
  // A flag replaces its field only; the image's test stays.
  await run('--name', 'hc-img2', '--health-retries', '1', 'hc-image', 'sleep', '300');
  await untilStatus('hc-img2', 'unhealthy');

  await run('--name', 'hc-off', '--no-healthcheck', 'hc-image', 'sleep', '300');
  const off = await docker('inspect', '--format', '{{json .State.Health}} {{json .Config.Healthcheck.Test}}', 'hc-off');
  assert.equal(off.stdout.trim(), 'null ["NONE"]');
  const ps = await docker('ps', '--filter', 'health=none', '--format', '{{.Names}}|{{.Status}}');
  assert.match(ps.stdout, /^hc-off\|Up [^(]*$/m);
});

test('bad values are refused naming the field, through the Docker API and berth', async () => {
  const small = await docker('run', '-d', '--health-cmd', 'true', '--health-interval', '500us', 'busybox', 'true');
  assert.notEqual(small.code, 0);
  assert.match(small.stderr, /Interval in Healthcheck cannot be less than 1ms/);
  for (const [field, value, msg] of [
    ['Retries', -1, 'Retries in Healthcheck cannot be negative'],
    ['StartPeriod', 10, 'StartPeriod in Healthcheck cannot be less than 1ms'],
    ['Timeout', 999, 'Timeout in Healthcheck cannot be less than 1ms'],
    ['StartInterval', 5, 'StartInterval in Healthcheck cannot be less than 1ms'],
  ] as const) {
    const r = await dockerRequest(dockerSocket, 'POST', '/v1.47/containers/create', {
      Image: 'busybox',
      Healthcheck: { Test: ['CMD', 'true'], [field]: value },
    });
    assert.equal(r.status, 400, r.body);
    assert.match(r.body, new RegExp(msg));
  }
  const unknown = await dockerRequest(dockerSocket, 'POST', '/v1.47/containers/create', {
    Image: 'busybox',
    Healthcheck: { Test: ['HTTP', 'x'] },
  });
  assert.equal(unknown.status, 400, unknown.body);
  assert.match(unknown.body, /Test in Healthcheck/);

  const b1 = await berth('run', '-d', '--health-cmd', 'true', '--health-timeout', '500us', 'busybox', 'true');
  assert.notEqual(b1.code, 0);
  assert.match(b1.stderr, /Timeout in Healthcheck cannot be less than 1ms/);
  const b2 = await berth('run', '-d', '--health-retries', '-1', 'busybox', 'true');
  assert.notEqual(b2.code, 0);
  assert.match(b2.stderr, /health-retries/);
  const b3 = await berth('run', '-d', '--no-healthcheck', '--health-cmd', 'true', 'busybox', 'true');
  assert.notEqual(b3.code, 0);
  assert.match(b3.stderr, /--no-healthcheck conflicts with --health-\* options/);
});

test("berth's CLI: run --health-*, ps and inspect; the schedule ends with the container and begins afresh at its start", async () => {
  const r = await berth(
    'run',
    '-d',
    '--name',
    'hc-berth',
    '--health-cmd',
    'test -e /tmp/up',
    '--health-interval',
    '200ms',
    '--health-retries',
    '1',
    'busybox',
    'sh',
    '-c',
    // Its first run makes the file the check looks for; the next removes it.
    'if [ -e /tmp/ran ]; then rm -f /tmp/up; else touch /tmp/up /tmp/ran; fi; sleep 300',
  );
  assert.equal(r.code, 0, r.stderr);
  await until(
    'berth ps to show (healthy)',
    async () => /\(healthy\)/.test((await berth('ps', '--filter', 'name=hc-berth', '--format', '{{.Status}}')).stdout),
    120_000,
    200,
  );
  const [native] = JSON.parse((await berth('inspect', '--format', 'json', 'hc-berth')).stdout) as {
    state: { health?: { status: string; log: unknown[] } };
  }[];
  assert.equal(native!.state.health!.status, 'healthy');

  assert.equal((await berth('stop', '-t', '1', 'hc-berth')).code, 0);
  // A stopped container keeps its last health (a probe cut by the stop may have been the last).
  const stopped = (await health('hc-berth'))!;
  const lastStart = stopped.Log.at(-1)!.Start;
  // Started again, its file gone: the schedule begins afresh and finds it unhealthy.
  assert.equal((await berth('start', 'hc-berth')).code, 0);
  await untilStatus('hc-berth', 'unhealthy');
  const tpl = await berth('inspect', '-f', '{{.State.Health.Status}} {{json .Config.Healthcheck.Test}}', 'hc-berth');
  assert.equal(tpl.code, 0, tpl.stderr);
  assert.equal(tpl.stdout, 'unhealthy ["CMD-SHELL","test -e /tmp/up"]\n');
  assert.ok((await health('hc-berth'))!.Log.at(-1)!.Start > lastStart);
});

test('the schedule resumes for running containers after berthd restarts, with the recorded health', async () => {
  await run('--name', 'hc-keep', '--health-cmd', 'true', '--health-interval', '300ms', 'busybox', 'sleep', '300');
  await untilStatus('hc-keep', 'healthy');
  await d.stop();
  const restartedAt = new Date().toISOString();
  d = await startBerthd(root, runRoot, ['--no-network'], undefined, {
    DOCKER_CONFIG: join(root, 'berthd-docker-config'),
  });
  const kept = (await health('hc-keep'))!;
  assert.equal(kept.Status, 'healthy');
  await until(
    'a probe after the restart',
    async () => (await health('hc-keep'))!.Log.some((l) => l.Start > restartedAt),
    120_000,
    200,
  );
  assert.equal((await health('hc-keep'))!.Status, 'healthy');
});

test('no probe runs in a paused container; unpause resumes the schedule with the recorded health', async () => {
  await run('--name', 'hc-pause', '--health-cmd', 'true', '--health-interval', '200ms', 'busybox', 'sleep', '300');
  await untilStatus('hc-pause', 'healthy');
  assert.equal((await docker('pause', 'hc-pause')).code, 0);
  assert.equal((await health('hc-pause'))!.Status, 'healthy');
  const ps = await docker('ps', '--filter', 'name=hc-pause', '--format', '{{.Status}}');
  assert.match(ps.stdout, /^Up .* \(Paused\)$/m);
  const unpausedAt = new Date().toISOString();
  assert.equal((await docker('unpause', 'hc-pause')).code, 0);
  await until(
    'a probe after the unpause',
    async () => (await health('hc-pause'))!.Log.some((l) => l.Start > unpausedAt && l.ExitCode === 0),
    120_000,
    200,
  );
  assert.equal((await health('hc-pause'))!.Status, 'healthy');
});
