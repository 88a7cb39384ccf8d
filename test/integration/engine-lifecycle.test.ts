// berthd end to end, as root: a real berthd under temporary roots, the real berth-shim, the runtime
// (berth-runtime; BERTH_TEST_RUNTIME=runc to use runc while berth-runtime is broken), a busybox
// image imported locally, driven through the typed client and the berth CLI. Checks that nothing
// (mounts, shims, daemons) is left under the test's roots.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once as onceEvent } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { isBerthError } from '../../src/errors/errors.ts';
import {
  berthCli,
  busyboxRootfsTar,
  type Daemon,
  finish,
  NODE,
  REPO,
  startBerthd,
  tempRoots,
  until,
} from './engine-harness.ts';

const exec = promisify(execFile);
const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;

function needs(): void {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root (mounts, namespaces, cgroups)');
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
}

const berth = (...args: string[]) => berthCli(d.socket, ...args);

before(async () => {
  needs();
  d = await startBerthd(root, runRoot, ['--no-network'], { defaultRuntime: RUNTIME });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(() => finish(d, root, runRoot));

test('run --rm prints from inside and exits with the container status', async () => {
  const r = await berth('run', '--rm', 'busybox', 'sh', '-c', 'echo "hello from $(hostname)"; echo oops >&2; exit 3');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^hello from [0-9a-f]{12}\n$/);
  assert.equal(r.stderr, 'oops\n');
  assert.deepEqual((await d.client.list({ all: true })).length, 0, '--rm removed the container');
});

test('run -d, logs, exec, top, stats, pause/unpause, stop, rm', async () => {
  const r = await berth(
    'run',
    '-d',
    '--name',
    'web',
    '-e',
    'GREETING=hi',
    '-w',
    '/tmp',
    '--label',
    'tier=test',
    'busybox',
    'sh',
    '-c',
    'echo "$GREETING from $(pwd)"; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done',
  );
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  await until('the first log line', async () => {
    for await (const l of d.client.logs('web')) if (l.log === 'hi from /tmp\n') return true;
    return false;
  });
  const ps = JSON.parse((await berth('ps', '--format', 'json', '--filter', 'label=tier=test')).stdout) as {
    name: string;
    status: string;
  }[];
  assert.deepEqual(
    ps.map((c) => [c.name, c.status]),
    [['web', 'running']],
  );
  const ex = await berth('exec', 'web', 'sh', '-c', 'echo in-exec; echo to-stderr >&2; exit 5');
  assert.equal(ex.code, 5);
  assert.equal(ex.stdout, 'in-exec\n', 'stdout alone on stdout');
  assert.equal(ex.stderr, 'to-stderr\n', 'stderr alone on stderr');
  const top = await d.client.top('web');
  assert.ok(
    top.processes.some((p) => p.at(-1)!.startsWith('sh -c')),
    JSON.stringify(top),
  );
  const st = await d.client.stats('web');
  assert.ok(st.pids >= 1 && st.memoryUsage > 0, JSON.stringify(st));
  const once = JSON.parse((await berth('stats', '--no-stream', '--format', 'json', 'web')).stdout) as {
    pids: number;
  }[];
  assert.ok(once.length === 1 && once[0]!.pids >= 1, JSON.stringify(once));
  // Without --no-stream, stats keeps sampling (once a second) until interrupted; the second table has a CPU %.
  // Read until the second sample arrives (a deadline, not a window: a loaded machine starts the CLI slowly).
  const child = spawn(NODE, [join(REPO, 'src/cli/berth/main.ts'), '--host', d.socket, 'stats', 'web'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let streamed = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    streamed += s;
  });
  const twoSamples = () => streamed.split('CONTAINER ID').length - 1 >= 2 && /\d+\.\d+%/.test(streamed);
  await until('two samples of berth stats', twoSamples, 60_000).catch(() => undefined);
  child.kill('SIGINT');
  await onceEvent(child, 'close');
  const tables = streamed.split('CONTAINER ID').length - 1;
  assert.ok(tables >= 2, `stats streams: ${tables} tables in ${JSON.stringify(streamed)}`);
  assert.match(streamed, /\d+\.\d+%/, 'a CPU % from the second sample on');
  await d.client.pause('web');
  assert.equal((await d.client.inspect('web')).state.status, 'paused');
  await d.client.unpause('web');
  const stop = await berth('stop', '-t', '5', 'web');
  assert.equal(stop.code, 0, stop.stderr);
  const i = await d.client.inspect('web');
  assert.equal(i.state.status, 'stopped');
  assert.equal(i.state.exitCode, 0, 'the TERM trap ran: stopped by SIGTERM, not SIGKILL');
  const logs = await berth('logs', '--tail', '1', 'web');
  assert.equal(logs.stdout, 'bye\n');
  assert.equal((await berth('rm', 'web')).code, 0);
  await assert.rejects(d.client.inspect('web'), (e) => isBerthError(e, 'BERTH_ERR_NOT_FOUND'));
});

test('berth-runtime class: berthd drives the create itself, the shim spawns berth-init, and the runtime CLI sees the container', async (t) => {
  if (RUNTIME !== 'berth-runtime')
    return t.skip(`BERTH_TEST_RUNTIME=${RUNTIME}: the runtime's create is exec'd by the shim`);
  const r = await berth('run', '-d', '-t', 'busybox', 'sh', '-c', 'tty; sleep 1000');
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  try {
    const pid = (await d.client.inspect(id)).state.pid;
    const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    const shim = readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0');
    assert.ok(shim[0]!.endsWith('berth-shim'), `the init's parent is its shim: ${shim.join(' ')}`);
    assert.equal(
      shim[shim.indexOf('--init') + 1],
      join(REPO, 'native/build/berth-init'),
      'the shim spawned berth-init (no berth-runtime create)',
    );
    const rtRoot = join(runRoot, 'runtime', 'berth-runtime');
    const rtCli = (...a: string[]) => exec(join(REPO, 'dist/bin/berth-runtime'), ['--root', rtRoot, ...a]);
    const state = JSON.parse((await rtCli('state', id)).stdout) as { status: string; pid: number };
    assert.deepEqual(
      [state.status, state.pid],
      ['running', pid],
      "berth-runtime's CLI reads the state.json berthd wrote",
    );
    assert.ok(JSON.parse((await rtCli('list', '--format', 'json')).stdout).some((c: { id: string }) => c.id === id));
    await until('the tty line', async () => {
      for await (const l of d.client.logs(id)) if (/^\/dev\/pts\/\d+/.test(l.log)) return true;
      return false;
    });
    // An exec goes the same way: its shim spawns berth-init, berthd drives the exec plan.
    const ex = berth(
      'exec',
      id,
      'sh',
      '-c',
      'while [ ! -e /tmp/go ]; do sleep 0.05; done; echo "exec as $(id -u) in $(cat /proc/1/comm)"',
    );
    let execShim: string[] | undefined;
    await until("the exec's shim", () => {
      for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
        try {
          const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          if (argv[0]!.endsWith('berth-shim') && argv.includes('--exec') && argv.includes(id)) execShim = argv;
        } catch {}
      }
      return execShim !== undefined;
    });
    assert.equal(
      execShim![execShim!.indexOf('--init') + 1],
      join(REPO, 'native/build/berth-init'),
      "the exec's shim spawned berth-init",
    );
    const go = await berth('exec', id, 'sh', '-c', ': > /tmp/go');
    assert.equal(go.code, 0, go.stderr);
    const done = await ex;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(
      done.stdout,
      'exec as 0 in sleep\n',
      "in the container's pid namespace: its pid 1 is the init (sh exec'd sleep)",
    );
  } finally {
    await d.client.remove(id, { force: true });
  }
});

test('errors name what was wrong: unknown image, name in use, rm of a running container', async () => {
  const miss = await berth('create', 'nosuchimage:1', 'true');
  assert.notEqual(miss.code, 0);
  assert.match(miss.stderr, /nosuchimage/);
  await d.client.create({ image: 'busybox', name: 'dup', cmd: ['sleep', '30'] });
  await assert.rejects(
    d.client.create({ image: 'busybox', name: 'dup', cmd: ['true'] }),
    (e) => isBerthError(e, 'BERTH_ERR_ALREADY_EXISTS') && /dup/.test(e.message),
  );
  await d.client.start('dup');
  const rm = await berth('rm', 'dup');
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, /running: stop it first, or remove it with -f/);
  assert.equal((await berth('rm', '-f', 'dup')).code, 0);
});

test('volumes outlive their containers; bind mounts and read-only roots', async () => {
  assert.equal((await berth('run', '--rm', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f')).code, 0);
  const r = await berth(
    'run',
    '--rm',
    '-v',
    'data:/data:ro',
    'busybox',
    'sh',
    '-c',
    'cat /data/f; echo x > /data/g 2>/dev/null || echo read-only',
  );
  assert.equal(r.stdout, 'kept\nread-only\n');
  const v = JSON.parse((await berth('volume', 'inspect', 'data')).stdout) as { mountpoint: string }[];
  assert.equal(readFileSync(join(v[0]!.mountpoint, 'f'), 'utf8'), 'kept\n');
  const hostDir = join(root, 'bind-src');
  await exec('mkdir', ['-p', hostDir]);
  writeFileSync(join(hostDir, 'h'), 'from host\n');
  const b = await berth(
    'run',
    '--rm',
    '--read-only',
    '-v',
    `${hostDir}:/mnt`,
    'busybox',
    'sh',
    '-c',
    'cat /mnt/h; touch /x 2>/dev/null || echo rootfs-ro',
  );
  assert.equal(b.stdout, 'from host\nrootfs-ro\n');
  assert.equal((await berth('volume', 'rm', 'data')).code, 0);
  assert.equal(existsSync(v[0]!.mountpoint), false);
});

test('resource limits reach the cgroup: --memory, --pids-limit', async () => {
  const { id } = await d.client.create({
    image: 'busybox',
    cmd: ['sleep', '30'],
    memory: 64 * 1024 * 1024,
    pidsLimit: 20,
  });
  try {
    await d.client.start(id);
    const st = await d.client.stats(id);
    assert.equal(st.memoryLimit, 64 * 1024 * 1024, JSON.stringify(st.raw));
  } finally {
    await d.client.remove(id, { force: true });
  }
});

test('restart policy: on-failure restarts a container killed from outside; stop is final', async () => {
  const { id } = await d.client.create({
    image: 'busybox',
    name: 'phoenix',
    cmd: ['sleep', '300'],
    restart: 'on-failure:3',
  });
  await d.client.start(id);
  const pid1 = (await d.client.inspect(id)).state.pid;
  assert.ok(pid1 > 0);
  process.kill(pid1, 'SIGKILL');
  await until('a restart with a new pid', async () => {
    const s = (await d.client.inspect(id)).state;
    return s.status === 'running' && s.pid !== pid1 && s.pid > 0;
  });
  assert.equal((await d.client.inspect(id)).restartCount, 1);
  await d.client.stop(id, 1);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await d.client.inspect(id)).state.status, 'stopped', 'a user stop is not undone by the policy');
  await d.client.remove(id);
});

test('events stream with filters', async () => {
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    try {
      for await (const e of d.client.events(
        { filters: { type: ['container'], event: ['create', 'start', 'die', 'destroy'] } },
        ac.signal,
      )) {
        seen.push(e.action);
        if (e.action === 'destroy') break;
      }
    } catch {}
  })();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await berth('run', '--rm', 'busybox', 'true')).code, 0);
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  ac.abort();
  assert.deepEqual(seen, ['create', 'start', 'die', 'destroy']);
});

test('wait: not-running answers a stopped container with its last exit; next-exit waits for the next one', async () => {
  const { id } = await d.client.create({
    image: 'busybox',
    cmd: ['sh', '-c', 'test -f /ran && exec sleep 60; touch /ran; exit 3'],
  });
  const first = d.client.wait(id, 'next-exit');
  await d.client.start(id);
  assert.equal((await first).exitCode, 3);
  assert.equal((await d.client.wait(id)).exitCode, 3, 'a stopped container answers not-running with its last exit');
  const next = d.client.wait(id, 'next-exit');
  let settled: number | undefined;
  void next.then((r) => {
    settled = r.exitCode;
  });
  await d.client.start(id);
  await until('the second run', async () => (await d.client.inspect(id)).status === 'running');
  assert.equal(settled, undefined, 'next-exit did not answer with the previous exit');
  await d.client.kill(id, 'KILL');
  assert.equal((await next).exitCode, 137);
  await d.client.remove(id);
});
