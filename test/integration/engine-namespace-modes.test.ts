// docker's --pid, --ipc and --uts (docs/engine.md "Namespace modes"): the docker CLI 28 and berth's
// own CLI against a real berthd under temporary roots (no network), busybox imported locally. The
// host's namespaces, a running container's (its processes, its /dev/shm and SysV IPC), dockerd's
// refusals (a container that is not running, a private IPC namespace, a hostname with --uts=host,
// bad values naming the field), what a joiner sees when the container it joined stops, and a
// shareable donor that dies while berthd is down (recovery unmounts its tmpfs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
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
let d: Daemon;
let dockerSocket: string;

const docker = (...args: string[]) => dockerCli(DOCKER, dockerSocket, join(root, 'docker-config'), ...args);
const berth = (...args: string[]) => berthCli(d.socket, ...args);

async function ok(r: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const x = await r;
  assert.equal(x.code, 0, `${x.stdout}\n${x.stderr}`);
  return x.stdout;
}

/** `run -d --name NAME --ipc MODE` whose process writes TEXT to /dev/shm/FILE, once it has. */
async function runWritingShm(name: string, mode: string, file: string, text: string, sleep: string): Promise<void> {
  const script = `echo ${text} > /dev/shm/${file}; exec sleep ${sleep}`;
  await ok(docker('run', '-d', '--name', name, '--ipc', mode, 'busybox', 'sh', '-c', script));
  await until(
    `${name} wrote /dev/shm/${file}`,
    async () => (await docker('exec', name, 'cat', `/dev/shm/${file}`)).stdout === `${text}\n`,
    30_000,
  );
}

const pidOf = async (name: string) => Number((await ok(docker('inspect', '-f', '{{.State.Pid}}', name))).trim());

before(async () => {
  ({ daemon: d, dockerSocket } = await startDockerApiBerthd(root, runRoot, 'the namespace mode tests'));
});

after(() => finish(d, root, runRoot));

test("docker 28: --pid=host sees the host processes, --pid=container:x sees x's; inspect shows the modes", async (t) => {
  t.after(() => docker('rm', '-f', 'pmodes', 'pdonor'));
  const host = await ok(docker('run', '--rm', '--pid', 'host', 'busybox', 'ps', '-o', 'pid'));
  assert.ok(
    host
      .split('\n')
      .map((l) => l.trim())
      .includes(String(d.proc.pid)),
    `berthd's pid in:\n${host}`,
  );
  const own = await ok(docker('run', '--rm', 'busybox', 'ps', '-o', 'pid'));
  assert.ok(
    !own
      .split('\n')
      .map((l) => l.trim())
      .includes(String(d.proc.pid)),
  );

  await ok(docker('run', '-d', '--name', 'pdonor', 'busybox', 'sleep', '301'));
  const seen = await ok(docker('run', '--rm', '--pid', 'container:pdonor', 'busybox', 'ps', '-o', 'pid,args'));
  assert.match(seen, /^\s*1 sleep 301$/m, 'the donor is pid 1 of the namespace joined');
  assert.equal(
    (
      await ok(
        docker('run', '--rm', '--pid', 'container:pdonor', 'busybox', 'busybox', 'readlink', '/proc/self/ns/pid'),
      )
    ).trim(),
    readlinkSync(`/proc/${await pidOf('pdonor')}/ns/pid`),
  );
  await ok(docker('create', '--name', 'pmodes', '--pid', 'container:pdonor', '--ipc', 'none', 'busybox', 'true'));
  assert.equal(
    (
      await ok(
        docker('inspect', '-f', '{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}', 'pmodes'),
      )
    ).trim(),
    'container:pdonor none',
  );
  assert.equal((await ok(docker('inspect', '-f', '{{.HostConfig.IpcMode}}', 'pdonor'))).trim(), 'private');
  await ok(docker('rm', '-f', 'pmodes', 'pdonor'));
});

test("docker 28: --ipc=container:x shares x's /dev/shm and SysV IPC; shareable, host and none", async (t) => {
  t.after(() => docker('rm', '-f', 'idonor', 'ijoiner', 'ihost', 'inone'));
  await runWritingShm('idonor', 'shareable', 'm', 'from-donor', '302');
  assert.equal((await ok(docker('inspect', '-f', '{{.HostConfig.IpcMode}}', 'idonor'))).trim(), 'shareable');
  const donorPid = await pidOf('idonor');
  const donorId = (await ok(docker('inspect', '-f', '{{.Id}}', 'idonor'))).trim();
  const shmDir = join(root, 'containers', donorId, 'ipc', 'shm');
  assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${shmDir} `), 'the shareable tmpfs is mounted');
  assert.equal(statSync(dirname(shmDir)).mode & 0o7777, 0o700, "berthd's group is kept out of the shared /dev/shm");
  // A SysV segment made in the donor's namespace (util-linux's ipcmk, from the host).
  const made = execFileSync('nsenter', [`--ipc=/proc/${donorPid}/ns/ipc`, 'ipcmk', '-M', '4096'], { encoding: 'utf8' });
  const shmid = /(\d+)\s*$/.exec(made.trim())?.[1];
  assert.ok(shmid, made);
  const joined = await ok(
    docker(
      'run',
      '--rm',
      '--ipc',
      'container:idonor',
      'busybox',
      'sh',
      '-c',
      'cat /dev/shm/m; echo from-joiner > /dev/shm/j; busybox readlink /proc/self/ns/ipc; cat /proc/sysvipc/shm',
    ),
  );
  const [line0, line1, ...sysv] = joined.split('\n');
  assert.equal(line0, 'from-donor');
  assert.equal(line1, readlinkSync(`/proc/${donorPid}/ns/ipc`));
  assert.ok(
    sysv.some((l) => l.trim().split(/\s+/)[1] === shmid),
    `segment ${shmid} in the joiner's /proc/sysvipc/shm:\n${joined}`,
  );
  assert.equal(await ok(docker('exec', 'idonor', 'cat', '/dev/shm/j')), 'from-joiner\n');
  const ipcs = execFileSync('nsenter', [`--ipc=/proc/${donorPid}/ns/ipc`, 'ipcs', '-m'], { encoding: 'utf8' });
  assert.match(ipcs, new RegExp(`\\s${shmid}\\s`));
  // A joiner shares what it joined, as dockerd's (its ShmPath is the donor's): a joiner of it gets the same.
  await ok(docker('run', '-d', '--name', 'ijoiner', '--ipc', 'container:idonor', 'busybox', 'sleep', '311'));
  assert.equal(
    await ok(docker('run', '--rm', '--ipc', 'container:ijoiner', 'busybox', 'sh', '-c', 'cat /dev/shm/m /dev/shm/j')),
    'from-donor\nfrom-joiner\n',
  );
  // So does a container on the host's IPC namespace; one with none is refused as a private one.
  await ok(docker('run', '-d', '--name', 'ihost', '--ipc', 'host', 'busybox', 'sleep', '312'));
  assert.equal(
    (
      await ok(docker('run', '--rm', '--ipc', 'container:ihost', 'busybox', 'busybox', 'readlink', '/proc/self/ns/ipc'))
    ).trim(),
    readlinkSync('/proc/self/ns/ipc'),
  );
  await ok(docker('run', '-d', '--name', 'inone', '--ipc', 'none', 'busybox', 'sleep', '313'));
  const noShm = await docker('run', '--rm', '--ipc', 'container:inone', 'busybox', 'true');
  assert.equal(noShm.code, 125, noShm.stderr);
  assert.match(noShm.stderr, /container inone: non-shareable IPC/);

  assert.equal(
    (await ok(docker('run', '--rm', '--ipc', 'host', 'busybox', 'busybox', 'readlink', '/proc/self/ns/ipc'))).trim(),
    readlinkSync('/proc/self/ns/ipc'),
  );
  const none = await docker('run', '--rm', '--ipc', 'none', 'busybox', 'ls', '/dev/shm');
  assert.notEqual(none.code, 0, none.stdout);
  assert.match(none.stderr, /No such file or directory/);
  await ok(docker('rm', '-f', 'idonor', 'ijoiner', 'ihost', 'inone'));
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(shmDir), 'rm unmounted the shareable tmpfs');
});

test('docker 28: --uts=host has the host hostname; -h with it is refused in dockerd words', async (t) => {
  t.after(() => docker('rm', '-f', 'uhost'));
  assert.equal((await ok(docker('run', '--rm', '--uts', 'host', 'busybox', 'hostname'))).trim(), hostname());
  await ok(docker('create', '--name', 'uhost', '--uts', 'host', 'busybox', 'true'));
  assert.equal((await ok(docker('inspect', '-f', '{{.HostConfig.UTSMode}}', 'uhost'))).trim(), 'host');
  await ok(docker('rm', 'uhost'));
  const r = await docker('run', '--rm', '-h', 'name', '--uts', 'host', 'busybox', 'true');
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /conflicting options: hostname and the UTS mode/);
});

test('docker 28: joining a container that is not running, or a private IPC, is refused as dockerd refuses it', async (t) => {
  t.after(() => docker('rm', '-f', 'stopped1', 'private1'));
  const already = (await ok(docker('ps', '-a', '-q', '--no-trunc'))).split('\n').filter(Boolean).sort();
  await ok(docker('create', '--name', 'stopped1', '--ipc', 'shareable', 'busybox', 'sleep', '303'));
  const pid = await docker('run', '--rm', '--pid', 'container:stopped1', 'busybox', 'true');
  assert.equal(pid.code, 125, pid.stderr);
  assert.match(pid.stderr, /failed to join PID namespace: container stopped1 is not running \(pidMode\)/);
  const ipc = await docker('run', '--rm', '--ipc', 'container:stopped1', 'busybox', 'true');
  assert.match(ipc.stderr, /failed to join IPC namespace: container stopped1 is not running \(ipcMode\)/);
  const missing = await docker('run', '--rm', '--pid', 'container:no-such-one', 'busybox', 'true');
  assert.match(missing.stderr, /failed to join PID namespace: No such container: no-such-one/);
  await ok(docker('run', '-d', '--name', 'private1', 'busybox', 'sleep', '304'));
  const priv = await docker('run', '--rm', '--ipc', 'container:private1', 'busybox', 'true');
  assert.equal(priv.code, 125, priv.stderr);
  assert.match(
    priv.stderr,
    /container private1: non-shareable IPC \(hint: use IpcMode:shareable for the donor container\)/,
  );
  // The refused runs were removed (--rm): only the two made here were added.
  const stopped1 = (await ok(docker('inspect', '-f', '{{.Id}}', 'stopped1'))).trim();
  const private1 = (await ok(docker('inspect', '-f', '{{.Id}}', 'private1'))).trim();
  assert.deepEqual(
    (await ok(docker('ps', '-a', '-q', '--no-trunc'))).split('\n').filter(Boolean).sort(),
    [...already, stopped1, private1].sort(),
  );
  // Bad values reach berthd only from a raw request (the CLI checks its own): a 400 naming the field.
  for (const [hc, re] of [
    [{ PidMode: 'bogus' }, /invalid PID mode: bogus \(--pid, pidMode/],
    [{ IpcMode: 'shared' }, /invalid IPC mode: shared \(--ipc, ipcMode/],
    [{ UTSMode: 'container:x' }, /invalid UTS mode: container:x \(--uts, utsMode/],
  ] as const) {
    const res = await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/create', {
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: hc,
    });
    assert.equal(res.status, 400, res.body);
    assert.match(res.body, re);
  }
  await ok(docker('rm', '-f', 'stopped1', 'private1'));
});

test('docker 28: a PID joiner ends with the container it joined; an IPC joiner keeps the shared /dev/shm after it is removed', async (t) => {
  t.after(() => docker('rm', '-f', 'ldonor', 'lpid', 'lipc'));
  await ok(docker('run', '-d', '--name', 'ldonor', '--ipc', 'shareable', 'busybox', 'sleep', '305'));
  await ok(docker('run', '-d', '--name', 'lpid', '--pid', 'container:ldonor', 'busybox', 'sleep', '306'));
  await runWritingShm('lipc', 'container:ldonor', 'k', 'kept', '307');
  await ok(docker('rm', '-f', 'ldonor'));
  // The kernel ends a PID namespace's processes with its init: the joiner's exit is recorded.
  await until(
    'the PID joiner exited',
    async () => (await docker('inspect', '-f', '{{.State.Status}}', 'lpid')).stdout.trim() === 'exited',
    60_000,
  );
  assert.equal((await ok(docker('inspect', '-f', '{{.State.Status}}', 'lipc'))).trim(), 'running');
  assert.equal(await ok(docker('exec', 'lipc', 'cat', '/dev/shm/k')), 'kept\n');
  const again = await docker('start', 'lpid');
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /failed to join PID namespace: No such container: ldonor/);
  await ok(docker('rm', '-f', 'lpid', 'lipc'));
});

test("berth's CLI: --pid, --ipc, --uts reach the container and inspect; bad values name the flag", async (t) => {
  t.after(() => docker('rm', '-f', 'bmodes', 'bdonor'));
  const host = await ok(
    berth('run', '--rm', '--pid', 'host', '--uts', 'host', 'busybox', 'sh', '-c', 'hostname; ps -o pid'),
  );
  const [name, ...pids] = host.split('\n').map((l) => l.trim());
  assert.equal(name, hostname());
  assert.ok(pids.includes(String(d.proc.pid)));
  await ok(berth('run', '-d', '--name', 'bdonor', '--ipc', 'shareable', 'busybox', 'sleep', '308'));
  const seen = await ok(
    berth('run', '--rm', '--pid', 'container:bdonor', '--ipc', 'container:bdonor', 'busybox', 'ps', '-o', 'pid,args'),
  );
  assert.match(seen, /^\s*1 sleep 308$/m);
  await ok(
    berth(
      'create',
      '--name',
      'bmodes',
      '--pid',
      'container:bdonor',
      '--ipc',
      'host',
      '--uts',
      'host',
      'busybox',
      'true',
    ),
  );
  assert.equal(
    (
      await ok(
        berth('inspect', '-f', '{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}', 'bmodes'),
      )
    ).trim(),
    'container:bdonor host host',
  );
  for (const [flag, value, re] of [
    ['--pid', 'bogus', /invalid PID mode: bogus \(--pid, pidMode: expected host, container:<name\|id>\)/],
    ['--ipc', 'shared', /invalid IPC mode: shared \(--ipc, ipcMode/],
    ['--uts', 'private', /invalid UTS mode: private \(--uts, utsMode: expected host\)/],
  ] as const) {
    const r = await berth('run', '--rm', flag, value, 'busybox', 'true');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, re);
  }
  await ok(berth('rm', '-f', 'bmodes', 'bdonor'));
});

test('kill -9 of berthd: a shareable donor that dies meanwhile has its tmpfs unmounted at recovery; its IPC joiner runs on; defaultIpcMode shareable', async (t) => {
  t.after(() => docker('rm', '-f', 'rdonor', 'rjoiner', 'rprivate', 'rshared'));
  await ok(docker('create', '--name', 'rprivate', 'busybox', 'sleep', '314'));
  await ok(docker('run', '-d', '--name', 'rdonor', '--ipc', 'shareable', 'busybox', 'sleep', '309'));
  await runWritingShm('rjoiner', 'container:rdonor', 'r', 'r', '310');
  const donorId = (await ok(docker('inspect', '-f', '{{.Id}}', 'rdonor'))).trim();
  const shmDir = join(root, 'containers', donorId, 'ipc', 'shm');
  const mounted = () => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${shmDir} `);
  assert.ok(mounted());
  const donorPid = await pidOf('rdonor');
  await d.stop('SIGKILL');
  process.kill(donorPid, 'SIGKILL');
  // The next berthd makes shareable the default IPC mode (dockerd's default-ipc-mode).
  d = await startBerthd(
    root,
    runRoot,
    ['--no-network'],
    { defaultIpcMode: 'shareable' },
    {
      DOCKER_CONFIG: join(root, 'berthd-docker-config'),
    },
  );
  await until(
    'recovery recorded the donor exited',
    async () => (await docker('inspect', '-f', '{{.State.Status}}', 'rdonor')).stdout.trim() === 'exited',
    60_000,
  );
  await until('recovery unmounted the donor tmpfs', () => !mounted(), 60_000);
  assert.equal((await ok(docker('inspect', '-f', '{{.State.Status}}', 'rjoiner'))).trim(), 'running');
  assert.equal(await ok(docker('exec', 'rjoiner', 'cat', '/dev/shm/r')), 'r\n');
  const refused = await docker('run', '--rm', '--ipc', 'container:rdonor', 'busybox', 'true');
  assert.equal(refused.code, 125, refused.stderr);
  assert.match(refused.stderr, /failed to join IPC namespace: container rdonor is not running/);
  // The default is recorded at create: what was made before keeps private; a new one is shareable.
  assert.equal((await ok(docker('inspect', '-f', '{{.HostConfig.IpcMode}}', 'rprivate'))).trim(), 'private');
  await ok(docker('run', '-d', '--name', 'rshared', 'busybox', 'sleep', '315'));
  assert.equal((await ok(docker('inspect', '-f', '{{.HostConfig.IpcMode}}', 'rshared'))).trim(), 'shareable');
  await ok(docker('run', '--rm', '--ipc', 'container:rshared', 'busybox', 'true'));
});

test('--shm-size: the size of a private or shareable /dev/shm (docker 28 and berth), shown by inspect; a negative size refused', async (t) => {
  t.after(() => docker('rm', '-f', 'shmsize'));
  // The tmpfs's size option as /proc/mounts shows it (in KiB).
  const sizeOf = (mounts: string) => Number(/^\S+ \/dev\/shm tmpfs \S*size=(\d+)k/m.exec(mounts)?.[1]);
  const kib = async (...args: string[]) =>
    sizeOf(await ok(docker('run', '--rm', ...args, 'busybox', 'cat', '/proc/mounts')));
  assert.equal(await kib(), 65536, "docker's default: 64 MiB");
  assert.equal(await kib('--shm-size', '128m'), 131072);
  assert.equal(await kib('--ipc', 'shareable', '--shm-size', '96m'), 98304);
  const viaBerth = await ok(berth('run', '--rm', '--shm-size', '32m', 'busybox', 'cat', '/proc/mounts'));
  assert.equal(sizeOf(viaBerth), 32768);
  await ok(docker('create', '--name', 'shmsize', '--shm-size', '256m', 'busybox', 'true'));
  assert.equal((await ok(docker('inspect', '-f', '{{.HostConfig.ShmSize}}', 'shmsize'))).trim(), String(256 << 20));
  // docker's CLI refuses a negative size itself: the API request is the engine's to refuse.
  const r = await dockerRequest(dockerSocket, 'POST', '/containers/create', {
    Image: 'busybox',
    HostConfig: { ShmSize: -1 },
  });
  assert.equal(r.status, 400, r.body);
  assert.match(r.body, /SHM size can not be less than 0 \(--shm-size, shmSize/);
});
