// berthd's Docker Engine API driven by the real docker clients: the docker CLI 28 at
// /usr/local/bin/docker (API 1.50) and Debian's docker.io 20.10 client at /usr/bin/docker (API
// 1.41), against a real berthd under temporary roots (its --docker-socket), with busybox imported
// through the native API and Debian's docker-registry on loopback for pull. A missing client fails
// the test naming it (scripts/setup.sh installs both).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { push } from '../../src/images/push.ts';
import { dockerCli } from '../lib/docker-cli.ts';
import { cgroupV1Dir, memswAccounted } from '../lib/host.ts';
import { startRegistry, type TestRegistry } from '../lib/registry.ts';
import { busyboxImage } from '../lib/test-images.ts';
import { busyboxRootfsTar, type Daemon, finish, startDockerApiBerthd, tempRoots, until } from './engine-harness.ts';

const CLIENTS = [
  { name: 'docker 28', bin: '/usr/local/bin/docker', api: '1.50' },
  { name: 'docker.io 20.10', bin: '/usr/bin/docker', api: '1.41' },
] as const;

const { root, runRoot } = tempRoots();
let d: Daemon;
let dockerSocket: string;
let serverDockerConfig: string;
let reg: TestRegistry | undefined;

type Run = { code: number; stdout: string; stderr: string };

function docker(bin: string, ...args: string[]): Promise<Run> {
  return dockerCli(bin, dockerSocket, join(root, 'docker-config'), ...args);
}

before(async () => {
  // berthd's own docker config (its stored logins) is private to the test: the Docker API must never write to it.
  ({ daemon: d, dockerSocket, berthdDockerConfig: serverDockerConfig } = await startDockerApiBerthd(root, runRoot));
});

after(async () => {
  await reg?.stop();
  await finish(d, root, runRoot);
});

test('the Docker API socket is made at <run-root>/docker.sock, mode 0660', async () => {
  const { statSync } = await import('node:fs');
  const st = statSync(dockerSocket);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
});

for (const c of CLIENTS) {
  test(`${c.name}: version negotiates the API and names the server's min and max`, async () => {
    const r = await docker(
      c.bin,
      'version',
      '--format',
      '{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${c.api} 1.50 1.41 linux`);
    const info = await docker(
      c.bin,
      'info',
      '--format',
      '{{.OSType}} {{.CgroupDriver}} {{.DefaultRuntime}} {{.Images}} {{.DockerRootDir}}',
    );
    assert.equal(info.code, 0, info.stderr);
    assert.equal(info.stdout.trim(), `linux cgroupfs berth-runtime ${(await d.client.images()).length} ${root}`);
  });

  test(`${c.name}: run --rm prints stdout and stderr apart and exits with the container's code`, async () => {
    const r = await docker(c.bin, 'run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3');
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    const ok = await docker(c.bin, 'run', '--rm', 'busybox', 'echo', 'hello');
    assert.deepEqual([ok.code, ok.stdout], [0, 'hello\n'], ok.stderr);
    assert.deepEqual(await d.client.list({ all: true }), [], '--rm removed the containers');
  });

  test(`${c.name}: run -d, ps --filter --format, logs, inspect --format, exec, top, stop, rm`, async () => {
    const name = `web-${c.api.replace('.', '')}`;
    const r = await docker(
      c.bin,
      'run',
      '-d',
      '--name',
      name,
      '-l',
      'tier=test',
      '-e',
      'GREETING=hi',
      busyboxArg(),
      'sh',
      '-c',
      'echo "$GREETING"; trap "exit 0" TERM; while true; do sleep 0.1; done',
    );
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await docker(
      c.bin,
      'ps',
      '--filter',
      'label=tier=test',
      '--format',
      '{{.ID}} {{.Names}} {{.Image}} {{.State}}',
    );
    assert.equal(ps.stdout.trim(), `${id.slice(0, 12)} ${name} busybox running`, ps.stderr);
    await until('the first log line', async () => (await docker(c.bin, 'logs', name)).stdout === 'hi\n');
    const ins = await docker(
      c.bin,
      'inspect',
      '--format',
      '{{.Name}} {{.State.Status}} {{.State.Running}} {{.Config.Image}} {{index .Config.Labels "tier"}}',
      name,
    );
    assert.equal(ins.stdout.trim(), `/${name} running true busybox test`, ins.stderr);
    const ex = await docker(c.bin, 'exec', name, 'sh', '-c', 'echo in-exec $GREETING; exit 5');
    assert.deepEqual([ex.code, ex.stdout], [5, 'in-exec hi\n'], ex.stderr);
    const top = await docker(c.bin, 'top', name);
    assert.match(top.stdout, /sh -c echo/);
    const stop = await docker(c.bin, 'stop', '-t', '5', name);
    assert.equal(stop.code, 0, stop.stderr);
    const after = await docker(
      c.bin,
      'ps',
      '-a',
      '--filter',
      `name=${name}`,
      '--filter',
      'status=exited',
      '--format',
      '{{.Names}} {{.State}} {{.Status}}',
    );
    assert.match(after.stdout.trim(), new RegExp(`^${name} exited Exited \\(0\\) `));
    assert.equal(
      (await docker(c.bin, 'inspect', '--format', '{{.State.ExitCode}}', name)).stdout.trim(),
      '0',
      'the TERM trap ran',
    );
    const rm = await docker(c.bin, 'rm', name);
    assert.deepEqual([rm.code, rm.stdout.trim()], [0, name], rm.stderr);
    const again = await docker(c.bin, 'rm', name);
    assert.equal(again.code, 1);
    // 20.10 prints "Error: ...", 28 "Error response from daemon: ...": the daemon's words are the same.
    assert.match(again.stderr, new RegExp(`No such container: ${name}\n`));
  });

  test(`${c.name}: exit codes: 127 for a command not found, 125 for a daemon error, the container's own otherwise`, async () => {
    const notFound = await docker(c.bin, 'run', '--rm', 'busybox', 'no-such-command');
    assert.equal(notFound.code, 127, notFound.stderr);
    assert.match(notFound.stderr, /executable file not found/);
    // The CLI reads dockerd's lowercase Go wording ("is a directory", "permission denied") for 126.
    const dir = await docker(c.bin, 'run', '--rm', 'busybox', '/etc');
    assert.equal(dir.code, 126, dir.stderr);
    assert.match(dir.stderr, /exec: "\/etc": (is a directory|permission denied): unknown/);
    const notExecutable = await docker(c.bin, 'run', '--rm', 'busybox', '/etc/passwd');
    assert.equal(notExecutable.code, 126, notExecutable.stderr);
    assert.match(notExecutable.stderr, /exec: "\/etc\/passwd": permission denied/);
    const missing = await docker(c.bin, 'run', '--rm', 'busybox', '/no/such/file');
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /exec: "\/no\/such\/file": no such file or directory: unknown/);
    const badRef = await docker(c.bin, 'run', '--rm', 'busybox', 'sh', '-c', 'exit 42');
    assert.equal(badRef.code, 42);
    const refused = await docker(c.bin, 'run', '--rm', '--userns', 'host', 'busybox', 'true');
    assert.equal(refused.code, 125, refused.stderr);
    assert.match(refused.stderr, /--userns \(HostConfig\.UsernsMode\): not supported by berthd/);
    assert.deepEqual(await d.client.list({ all: true }), [], 'an auto-remove container whose start failed was removed');
  });
}

for (const c of CLIENTS) {
  test(`${c.name}: run --cap-drop, --cap-add, --ulimit, --add-host, --dns, --init, --read-only, --tmpfs, -w, -u, --entrypoint reach the container`, async () => {
    const r = await docker(
      c.bin,
      'run',
      '--rm',
      '--cap-drop',
      'ALL',
      '--cap-add',
      'KILL',
      '--ulimit',
      'nofile=512:1024',
      '--add-host',
      'db.example:192.0.2.7',
      '--init',
      '--read-only',
      '--tmpfs',
      '/scratch',
      '-w',
      '/scratch',
      '-u',
      '65534',
      '--entrypoint',
      'sh',
      'busybox',
      '-c',
      'grep CapEff /proc/self/status; ulimit -n; ulimit -Hn; grep db.example /etc/hosts; cat /proc/1/comm; pwd; id -u; touch /scratch/ok && echo tmpfs-rw; touch /x 2>/dev/null || echo root-ro',
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    // Only CAP_KILL (bit 5) stays, and a non-root user has no effective capabilities at all.
    assert.match(lines[0]!, /^CapEff:\s+0000000000000000$/);
    // PID 1 is the init berthd found on its host (tini, or Debian's docker-init link to it), not sh.
    assert.match(lines[4]!, /^(tini|docker-init)$/);
    assert.deepEqual(
      [...lines.slice(1, 4), ...lines.slice(5)],
      ['512', '1024', '192.0.2.7\tdb.example', '/scratch', '65534', 'tmpfs-rw', 'root-ro'],
    );
    const dns = await docker(
      c.bin,
      'run',
      '--rm',
      '--dns',
      '192.0.2.53',
      '--dns-search',
      'corp.example',
      '--dns-option',
      'ndots:3',
      'busybox',
      'cat',
      '/etc/resolv.conf',
    );
    assert.deepEqual(
      dns.stdout
        .split('\n')
        .filter((l) => /^(nameserver|search|options)/.test(l))
        .sort(),
      ['nameserver 192.0.2.53', 'options ndots:3', 'search corp.example'],
      dns.stderr,
    );
    const ins = await docker(
      c.bin,
      'run',
      '--rm',
      '--cap-drop',
      'ALL',
      '--cap-add',
      'KILL',
      'busybox',
      'grep',
      'CapBnd',
      '/proc/self/status',
    );
    assert.match(ins.stdout, /^CapBnd:\s+0000000000000020$/m, ins.stderr);
  });
}

/** Pushes a busybox image named `name` to the registry from a store of the test's own. */
async function seed(r: TestRegistry, name: string): Promise<void> {
  const dir = await mkdtemp('/tmp/bdk-seed-');
  try {
    const content = new LocalContentStore(join(dir, 'content'));
    const images = new ImageStore(dir);
    await busyboxImage(content, images, name);
    const client = new RegistryClient({ hosts: { [r.host]: { insecure: true } } });
    await push(name, { client, content, images });
    await client.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** busybox by its image ID (docker's: the config digest), which every verb must take as docker does. */
function busyboxArg(): string {
  return 'busybox';
}

test('docker 28: images, image inspect, tag, rmi show docker image IDs (config digests) and RepoTags', async () => {
  const bin = CLIENTS[0].bin;
  const ins = await docker(bin, 'image', 'inspect', '--format', '{{.Id}} {{json .RepoTags}} {{.Os}}', 'busybox');
  assert.equal(ins.code, 0, ins.stderr);
  const configDigest = (await (d.client.imageInspect('busybox') as Promise<{ configDescriptor: { digest: string } }>))
    .configDescriptor.digest;
  assert.equal(ins.stdout.trim(), `${configDigest} ["busybox:latest"] linux`);
  const tag = await docker(bin, 'tag', 'busybox', 'mybox:1');
  assert.equal(tag.code, 0, tag.stderr);
  const ls = await docker(bin, 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}');
  const shortId = configDigest.slice(7, 19);
  assert.deepEqual(ls.stdout.trim().split('\n').sort(), [`busybox:latest ${shortId}`, `mybox:1 ${shortId}`]);
  const byId = await docker(bin, 'run', '--rm', shortId, 'echo', 'by-id');
  assert.deepEqual([byId.code, byId.stdout], [0, 'by-id\n'], byId.stderr);
  // The same ID on every face: the native API, berth's CLI, a container's Image (docker and berth).
  const { berthCli } = await import('./engine-harness.ts');
  assert.equal(((await d.client.imageInspect(shortId)) as { id: string }).id, configDigest);
  const bq = await berthCli(d.socket, 'images', '-q');
  assert.deepEqual([bq.code, bq.stdout], [0, `${shortId}\n`], bq.stderr);
  const made = await docker(bin, 'create', '--name', 'by-short-id', shortId, 'true');
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await docker(bin, 'inspect', '--format', '{{.Image}}', 'by-short-id')).stdout.trim(), configDigest);
  assert.equal((await d.client.inspect('by-short-id')).imageId, configDigest);
  const anc = await berthCli(d.socket, 'ps', '-a', '--filter', `ancestor=${shortId}`, '--format', '{{.Names}}');
  assert.deepEqual([anc.code, anc.stdout], [0, 'by-short-id\n'], anc.stderr);
  assert.equal((await docker(bin, 'rm', 'by-short-id')).code, 0);
  const unknown = await docker(bin, 'rmi', 'fedcba987654');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /No such image: fedcba987654/);
  const rmi = await docker(bin, 'rmi', 'mybox:1');
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.match(rmi.stdout, /Untagged: mybox:1/);
  const missing = await docker(bin, 'image', 'inspect', 'mybox:1');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such image: mybox:1/);
});

for (const c of CLIENTS) {
  test(`${c.name}: pull from a registry on loopback, with the progress stream`, async () => {
    reg ??= await startRegistry();
    const ref = `${reg.host}/pulled/busybox:${c.api}`;
    await seed(reg, ref);
    const pull = await docker(c.bin, 'pull', ref);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /Pull complete|Already exists/);
    assert.match(pull.stdout, /Digest: sha256:[0-9a-f]{64}/);
    const run = await docker(c.bin, 'run', '--rm', ref, '/bin/sh', '-c', 'echo pulled');
    assert.deepEqual([run.code, run.stdout], [0, 'pulled\n'], run.stderr);
    const rmi = await docker(c.bin, 'rmi', ref);
    assert.equal(rmi.code, 0, rmi.stderr);
    // run of an image not here: create answers 404 No such image, the client pulls and creates again.
    const auto = await docker(c.bin, 'run', '--rm', ref, '/bin/sh', '-c', 'echo auto-pulled');
    assert.deepEqual([auto.code, auto.stdout.split('\n').at(-2)], [0, 'auto-pulled'], auto.stderr);
    assert.match(auto.stderr, new RegExp(`Unable to find image '${ref.replace(/[.]/g, '\\.')}' locally`));
    assert.equal((await docker(c.bin, 'rmi', ref)).code, 0);
  });
}

for (const c of CLIENTS) {
  test(`${c.name}: volume create/ls/inspect/rm, a named volume shared by two runs, rename, events`, async () => {
    const since = Math.floor(Date.now() / 1000);
    const vol = `vol${c.api.replace('.', '')}`;
    assert.equal((await docker(c.bin, 'volume', 'create', vol)).stdout.trim(), vol);
    const ls = await docker(c.bin, 'volume', 'ls', '--format', '{{.Driver}} {{.Name}}');
    assert.ok(ls.stdout.split('\n').includes(`local ${vol}`), ls.stdout);
    const mp = await docker(c.bin, 'volume', 'inspect', '--format', '{{.Mountpoint}}', vol);
    assert.ok(mp.stdout.trim().startsWith(root), mp.stdout);
    assert.equal(
      (await docker(c.bin, 'run', '--rm', '-v', `${vol}:/data`, 'busybox', 'sh', '-c', 'echo kept > /data/f')).code,
      0,
    );
    const read = await docker(
      c.bin,
      'run',
      '--rm',
      '--mount',
      `type=volume,source=${vol},target=/data,readonly`,
      'busybox',
      'sh',
      '-c',
      'cat /data/f; touch /data/g',
    );
    assert.equal(read.stdout, 'kept\n');
    assert.notEqual(read.code, 0, 'the read-only mount refused the write');
    assert.equal((await docker(c.bin, 'volume', 'rm', vol)).code, 0);
    const gone = await docker(c.bin, 'volume', 'inspect', vol);
    // 28 prints the daemon's words (get x: no such volume), 20.10 its own (No such volume: x).
    assert.match(gone.stderr, new RegExp(`get ${vol}: no such volume|No such volume: ${vol}`));

    const name = `ren${c.api.replace('.', '')}`;
    const run = await docker(c.bin, 'run', '-d', '--name', name, 'busybox', 'sleep', '100');
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    const ren = await docker(c.bin, 'rename', name, `${name}-new`);
    assert.equal(ren.code, 0, ren.stderr);
    assert.equal(
      (await docker(c.bin, 'inspect', '--format', '{{.Name}}', `${name}-new`)).stdout.trim(),
      `/${name}-new`,
    );
    assert.equal((await docker(c.bin, 'rm', '-f', `${name}-new`)).code, 0);
    const until = Math.floor(Date.now() / 1000) + 1;
    await new Promise((r) => setTimeout(r, 1100));
    const ev = await docker(
      c.bin,
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'type=container',
      '--filter',
      `container=${id}`,
      '--format',
      '{{.Type}} {{.Action}}',
    );
    assert.equal(ev.code, 0, ev.stderr);
    const actions = ev.stdout.trim().split('\n');
    for (const a of ['container create', 'container start', 'container rename', 'container destroy'])
      assert.ok(actions.includes(a), `${a} in ${JSON.stringify(actions)}`);
  });
}

for (const c of CLIENTS) {
  test(`${c.name}: cp both ways (running and stopped), diff, commit --change, export, stats --no-stream, system df`, async () => {
    const name = `files${c.api.replace('.', '')}`;
    const run = await docker(
      c.bin,
      'run',
      '-d',
      '--name',
      name,
      'busybox',
      'sh',
      '-c',
      'echo inside > /tmp/in.txt; mkdir /tmp/d; echo y > /tmp/d/y; sleep 1000',
    );
    assert.equal(run.code, 0, run.stderr);
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/bdk-cp-');
    try {
      await until('the files', async () => (await docker(c.bin, 'exec', name, 'cat', '/tmp/d/y')).stdout === 'y\n');
      assert.equal((await docker(c.bin, 'cp', `${name}:/tmp/in.txt`, dir)).code, 0);
      assert.equal(readFileSync(join(dir, 'in.txt'), 'utf8'), 'inside\n');
      assert.equal((await docker(c.bin, 'cp', `${name}:/tmp/d`, join(dir, 'dd'))).code, 0);
      assert.equal(readFileSync(join(dir, 'dd', 'y'), 'utf8'), 'y\n');
      writeFileSync(join(dir, 'h.txt'), 'from host\n');
      assert.equal((await docker(c.bin, 'cp', join(dir, 'h.txt'), `${name}:/tmp/renamed.txt`)).code, 0);
      assert.equal((await docker(c.bin, 'exec', name, 'cat', '/tmp/renamed.txt')).stdout, 'from host\n');
      const missing = await docker(c.bin, 'cp', `${name}:/no-such-path`, dir);
      assert.equal(missing.code, 1);
      // 28 prints the daemon's words; 20.10 says its own for any 404 of a copy.
      assert.match(
        missing.stderr,
        /Could not find the file \/no-such-path in container|No such container:path: \w+:\/no-such-path/,
      );
      const diff = await docker(c.bin, 'diff', name);
      assert.ok(diff.stdout.split('\n').includes('A /tmp/renamed.txt'), diff.stdout);
      const stats = await docker(c.bin, 'stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', name);
      assert.equal(stats.stdout.trim(), `${name} 1`, stats.stderr);
      const commit = await docker(
        c.bin,
        'commit',
        '-c',
        'CMD ["cat", "/tmp/in.txt"]',
        name,
        `committed${c.api.replace('.', '')}:1`,
      );
      assert.equal(commit.code, 0, commit.stderr);
      assert.match(commit.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
      const fromCommit = await docker(c.bin, 'run', '--rm', `committed${c.api.replace('.', '')}:1`);
      assert.equal(fromCommit.stdout, 'inside\n', fromCommit.stderr);
      assert.equal((await docker(c.bin, 'stop', '-t', '0', name)).code, 0);
      const stopped = await docker(c.bin, 'cp', `${name}:/tmp/in.txt`, join(dir, 'after-stop.txt'));
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(readFileSync(join(dir, 'after-stop.txt'), 'utf8'), 'inside\n');
      const exp = await docker(c.bin, 'export', '-o', join(dir, 'root.tar'), name);
      assert.equal(exp.code, 0, exp.stderr);
      const { execFileSync } = await import('node:child_process');
      const entries = execFileSync('tar', ['tf', join(dir, 'root.tar')], { encoding: 'utf8' }).split('\n');
      assert.ok(entries.includes('tmp/in.txt') && entries.includes('bin/busybox'), entries.slice(0, 20).join(' '));
      const df = await docker(c.bin, 'system', 'df', '--format', '{{.Type}} {{.TotalCount}}');
      assert.match(df.stdout, /^Images \d+$/m, df.stderr);
      assert.match(df.stdout, /^Containers \d+$/m);
      assert.equal((await docker(c.bin, 'rm', name)).code, 0);
      assert.equal((await docker(c.bin, 'rmi', `committed${c.api.replace('.', '')}:1`)).code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('docker 28: container prune takes stopped containers only; image prune -a keeps images in use', async () => {
  const bin = CLIENTS[0].bin;
  const keep = await docker(bin, 'run', '-d', '--name', 'prune-keep', 'busybox', 'sleep', '100');
  assert.equal(keep.code, 0, keep.stderr);
  const gone = await docker(bin, 'run', '--name', 'prune-gone', 'busybox', 'true');
  assert.equal(gone.code, 0, gone.stderr);
  const pr = await docker(bin, 'container', 'prune', '-f');
  assert.equal(pr.code, 0, pr.stderr);
  const names = (await docker(bin, 'ps', '-a', '--format', '{{.Names}}')).stdout.trim().split('\n');
  assert.ok(names.includes('prune-keep') && !names.includes('prune-gone'), names.join(' '));
  const ip = await docker(bin, 'image', 'prune', '-af');
  assert.equal(ip.code, 0, ip.stderr);
  assert.equal(
    (await docker(bin, 'image', 'inspect', '--format', '{{.Id}}', 'busybox')).code,
    0,
    'busybox is used by a container: kept',
  );
  assert.equal((await docker(bin, 'rm', '-f', 'prune-keep')).code, 0);
});

for (const c of CLIENTS) {
  test(`${c.name}: run -i with piped stdin, logs -f/--tail/-t, wait, kill, restart, pause/unpause, inspect of a stopped container`, async () => {
    const piped = await new Promise<Run>((resolve) => {
      const p = execFile(
        c.bin,
        ['-H', `unix://${dockerSocket}`, 'run', '--rm', '-i', 'busybox', 'sh', '-c', 'tr a-z A-Z'],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
      p.stdin!.end('hello stdin\n');
    });
    assert.deepEqual([piped.code, piped.stdout], [0, 'HELLO STDIN\n'], piped.stderr);

    const name = `life${c.api.replace('.', '')}`;
    const run = await docker(
      c.bin,
      'run',
      '-d',
      '--name',
      name,
      'busybox',
      'sh',
      '-c',
      'for i in 1 2 3; do echo line$i; done; echo err >&2; while true; do sleep 0.1; done',
    );
    assert.equal(run.code, 0, run.stderr);
    await until('three lines', async () => (await docker(c.bin, 'logs', name)).stdout === 'line1\nline2\nline3\n');
    // --tail counts the lines of both streams together, as docker's.
    const tail = await docker(c.bin, 'logs', '--tail', '2', name);
    assert.deepEqual([tail.stdout, tail.stderr], ['line3\n', 'err\n']);
    const ts = await docker(c.bin, 'logs', '-t', '--tail', '2', name);
    assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line3\n$/);
    // --since and --until cut by the lines' times (unix seconds or RFC 3339).
    const stamps = (await docker(c.bin, 'logs', '-t', name)).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0]!);
    assert.equal((await docker(c.bin, 'logs', '--until', '2000-01-01T00:00:00Z', name)).stdout, '');
    assert.equal(
      (await docker(c.bin, 'logs', '--since', String(Math.floor(Date.parse(stamps[0]!) / 1000) - 1), name)).stdout,
      'line1\nline2\nline3\n',
    );
    assert.equal((await docker(c.bin, 'logs', '--since', '2999-01-01T00:00:00Z', name)).stdout, '');
    // -f follows until the container stops: the kill ends it.
    const follow = new Promise<Run>((resolve) =>
      execFile(
        c.bin,
        ['-H', `unix://${dockerSocket}`, 'logs', '-f', name],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    assert.equal((await docker(c.bin, 'pause', name)).code, 0);
    assert.equal(
      (await docker(c.bin, 'inspect', '--format', '{{.State.Status}} {{.State.Paused}}', name)).stdout.trim(),
      'paused true',
    );
    assert.equal((await docker(c.bin, 'unpause', name)).code, 0);
    const waiter = docker(c.bin, 'wait', name);
    const kill = await docker(c.bin, 'kill', '-s', 'KILL', name);
    assert.equal(kill.code, 0, kill.stderr);
    assert.equal((await waiter).stdout.trim(), '137');
    assert.equal((await follow).stdout, 'line1\nline2\nline3\n');
    const st = await docker(
      c.bin,
      'inspect',
      '--format',
      '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.Pid}}',
      name,
    );
    assert.equal(st.stdout.trim(), 'exited 137 false 0');
    const again = await docker(c.bin, 'kill', name);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not running/);
    assert.equal((await docker(c.bin, 'restart', '-t', '1', name)).code, 0);
    assert.equal((await docker(c.bin, 'inspect', '--format', '{{.State.Status}}', name)).stdout.trim(), 'running');
    const rmRunning = await docker(c.bin, 'rm', name);
    assert.equal(rmRunning.code, 1);
    assert.match(rmRunning.stderr, /stop the container before removing or force remove/);
    assert.equal((await docker(c.bin, 'rm', '-f', name)).code, 0);
  });
}

for (const c of CLIENTS) {
  test(`${c.name}: run -it and exec -it on a terminal (script(1)'s pty): a tty inside, raw output, the exit code`, async () => {
    if (!existsSync('/usr/bin/script'))
      throw new Error('/usr/bin/script is missing: install the Debian package bsdutils');
    const onTty = (cmd: string) =>
      new Promise<Run>((resolve) => {
        execFile(
          '/usr/bin/script',
          ['-qec', cmd, '/dev/null'],
          { encoding: 'utf8', timeout: 60_000 },
          (err, stdout, stderr) => {
            resolve({
              code: err
                ? typeof (err as { code?: unknown }).code === 'number'
                  ? (err as { code: number }).code
                  : 1
                : 0,
              stdout,
              stderr,
            });
          },
        );
      });
    const run = await onTty(`${c.bin} -H unix://${dockerSocket} run -it --rm busybox sh -c 'tty; echo out; exit 4'`);
    assert.equal(run.code, 4, run.stdout + run.stderr);
    assert.equal(run.stdout, '/dev/pts/0\r\nout\r\n');
    const name = `tty${c.api.replace('.', '')}`;
    assert.equal((await docker(c.bin, 'run', '-d', '--name', name, 'busybox', 'sleep', '100')).code, 0);
    const ex = await onTty(`${c.bin} -H unix://${dockerSocket} exec -it ${name} sh -c 'tty; exit 6'`);
    assert.equal(ex.code, 6, ex.stdout + ex.stderr);
    assert.match(ex.stdout, /^\/dev\/pts\/\d+\r\n$/);
    assert.equal((await docker(c.bin, 'rm', '-f', name)).code, 0);
  });
}

for (const c of CLIENTS) {
  test(`${c.name}: import a rootfs, save, rmi, load, push to a loopback registry and pull it back`, async () => {
    reg ??= await startRegistry();
    const v = c.api.replace('.', '');
    const dir = await mkdtemp('/tmp/bdk-img-');
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'rootfs.tar'), await busyboxRootfsTar());
      const imp = await docker(c.bin, 'import', join(dir, 'rootfs.tar'), `imported${v}:1`);
      assert.equal(imp.code, 0, imp.stderr);
      assert.match(imp.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
      const id = imp.stdout.trim();
      assert.equal(
        (await docker(c.bin, 'image', 'inspect', '--format', '{{.Id}}', `imported${v}:1`)).stdout.trim(),
        id,
        'import prints the image ID',
      );
      const ran = await docker(c.bin, 'run', '--rm', `imported${v}:1`, '/bin/echo', 'from-import');
      assert.equal(ran.stdout, 'from-import\n', ran.stderr);
      // --change sets the config (as commit's), --message the history comment.
      const changed = await docker(
        c.bin,
        'import',
        '--change',
        'CMD ["/bin/echo", "changed"]',
        '--change',
        'ENV MODE=imported',
        '--message',
        'from a tar',
        join(dir, 'rootfs.tar'),
        `imported${v}:changed`,
      );
      assert.equal(changed.code, 0, changed.stderr);
      const cmd = await docker(c.bin, 'run', '--rm', `imported${v}:changed`);
      assert.equal(cmd.stdout, 'changed\n', cmd.stderr);
      const env = await docker(c.bin, 'image', 'inspect', '--format', '{{json .Config.Env}}', `imported${v}:changed`);
      assert.match(env.stdout, /"MODE=imported"/);
      const hist = await docker(c.bin, 'history', '--format', '{{.Comment}}', `imported${v}:changed`);
      assert.equal(hist.stdout.trim(), 'from a tar', hist.stderr);
      const bad = await docker(c.bin, 'import', '--change', 'RUN true', join(dir, 'rootfs.tar'), `imported${v}:bad`);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /Error response from daemon: .*RUN/i);
      assert.equal((await docker(c.bin, 'rmi', `imported${v}:changed`)).code, 0);
      assert.equal((await docker(c.bin, 'save', '-o', join(dir, 'saved.tar'), `imported${v}:1`)).code, 0);
      const rmi = await docker(c.bin, 'rmi', `imported${v}:1`);
      assert.match(rmi.stdout, new RegExp(`Untagged: imported${v}:1\\nDeleted: ${id}`));
      const load = await docker(c.bin, 'load', '-i', join(dir, 'saved.tar'));
      assert.equal(load.stdout.trim(), `Loaded image: imported${v}:1`, load.stderr);
      const remote = `${reg.host}/pushed/imported:${v}`;
      assert.equal((await docker(c.bin, 'tag', `imported${v}:1`, remote)).code, 0);
      const push = await docker(c.bin, 'push', remote);
      assert.equal(push.code, 0, push.stderr);
      assert.match(push.stdout, /Pushed/);
      assert.match(push.stdout, new RegExp(`${v}: digest: sha256:[0-9a-f]{64} size: \\d+`));
      assert.equal((await docker(c.bin, 'rmi', remote, `imported${v}:1`)).code, 0);
      const pull = await docker(c.bin, 'pull', remote);
      assert.equal(pull.code, 0, pull.stderr);
      assert.equal(
        (await docker(c.bin, 'image', 'inspect', '--format', '{{.Id}}', remote)).stdout.trim(),
        id,
        'the same image came back',
      );
      assert.equal((await docker(c.bin, 'rmi', remote)).code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

for (const c of CLIENTS) {
  test(`${c.name}: login only checks (POST /auth); push and pull send the client's credentials (X-Registry-Auth); berthd stores none`, async () => {
    const authReg = await startRegistry({ htpasswd: { alice: 's3cret' } });
    try {
      const ref = `${authReg.host}/private/box:1`;
      assert.equal((await docker(c.bin, 'tag', 'busybox', ref)).code, 0);
      const anon = await docker(c.bin, 'push', ref);
      assert.equal(anon.code, 1, 'no credentials: the registry refuses');
      assert.match(anon.stderr + anon.stdout, /401|unauthorized|authentication required|no basic auth/i);
      const bad = await docker(c.bin, 'login', '-u', 'alice', '-p', 'wrong', authReg.host);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /Error response from daemon: .*(401|unauthorized|credentials)/i);
      const ok = await docker(c.bin, 'login', '-u', 'alice', '-p', 's3cret', authReg.host);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /Login Succeeded/);
      // The client keeps the login (its own DOCKER_CONFIG); berthd keeps nothing.
      assert.match(readFileSync(join(root, 'docker-config', 'config.json'), 'utf8'), new RegExp(authReg.host));
      assert.equal(existsSync(join(serverDockerConfig, 'config.json')), false, 'berthd wrote no credentials');
      const pushed = await docker(c.bin, 'push', ref);
      assert.equal(pushed.code, 0, pushed.stderr + pushed.stdout);
      assert.match(pushed.stdout, /1: digest: sha256:[0-9a-f]{64} size: \d+/);
      assert.equal((await docker(c.bin, 'rmi', ref)).code, 0);
      const pulled = await docker(c.bin, 'pull', ref);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.match(pulled.stdout, /Digest: sha256:/);
      const run = await docker(c.bin, 'run', '--rm', ref, 'echo', 'private');
      assert.deepEqual([run.code, run.stdout], [0, 'private\n'], run.stderr);
      assert.equal((await docker(c.bin, 'rmi', ref)).code, 0);
      assert.equal((await docker(c.bin, 'logout', authReg.host)).code, 0);
      const gone = await docker(c.bin, 'pull', ref);
      assert.equal(gone.code, 1, 'logged out: the pull has no credentials');
      assert.equal(existsSync(join(serverDockerConfig, 'config.json')), false, 'berthd wrote no credentials');
    } finally {
      await authReg.stop();
    }
  });
}

test('docker 28: -v /path makes an anonymous volume; rm -v removes it and keeps a named one; ps filters label (all must match), volume, since, before', async () => {
  const bin = CLIENTS[0].bin;
  const before = new Set((await docker(bin, 'volume', 'ls', '-q')).stdout.split('\n').filter(Boolean));
  const r = await docker(
    bin,
    'run',
    '-d',
    '--name',
    'anon',
    '-l',
    'a=1',
    '-l',
    'b=2',
    '-v',
    '/anon',
    '-v',
    'keepme:/named',
    'busybox',
    'sleep',
    '100',
  );
  assert.equal(r.code, 0, r.stderr);
  const made = (await docker(bin, 'volume', 'ls', '-q')).stdout.split('\n').filter((v) => v && !before.has(v));
  assert.equal(made.length, 2, made.join(' '));
  const anon = made.find((v) => v !== 'keepme')!;
  assert.match(anon, /^[0-9a-f]{64}$/);
  assert.equal(
    (await docker(bin, 'ps', '--filter', 'label=a=1', '--filter', 'label=b=2', '--format', '{{.Names}}')).stdout.trim(),
    'anon',
  );
  assert.equal(
    (await docker(bin, 'ps', '--filter', 'label=a=1', '--filter', 'label=b=3', '--format', '{{.Names}}')).stdout.trim(),
    '',
    'both labels must match',
  );
  assert.equal((await docker(bin, 'ps', '--filter', 'volume=keepme', '--format', '{{.Names}}')).stdout.trim(), 'anon');
  assert.equal((await docker(bin, 'ps', '--filter', 'volume=/anon', '--format', '{{.Names}}')).stdout.trim(), 'anon');
  assert.equal((await docker(bin, 'run', '-d', '--name', 'anon2', 'busybox', 'sleep', '100')).code, 0);
  assert.equal((await docker(bin, 'ps', '--filter', 'since=anon', '--format', '{{.Names}}')).stdout.trim(), 'anon2');
  assert.ok(
    (await docker(bin, 'ps', '--filter', 'before=anon2', '--format', '{{.Names}}')).stdout.split('\n').includes('anon'),
  );
  assert.equal(
    (await docker(bin, 'ps', '--filter', 'volume=nothing-mounted', '--format', '{{.Names}}')).stdout.trim(),
    '',
  );
  assert.equal((await docker(bin, 'rm', '-f', 'anon2')).code, 0);
  assert.equal((await docker(bin, 'rm', '-f', '-v', 'anon')).code, 0);
  const left = (await docker(bin, 'volume', 'ls', '-q')).stdout.split('\n');
  assert.ok(left.includes('keepme') && !left.includes(anon), left.join(' '));
  assert.equal((await docker(bin, 'volume', 'rm', 'keepme')).code, 0);
});

test('docker 28: exec -u/-w/-e, --restart on-failure restarts, --memory/--cpus/--pids-limit reach inspect and stats, and update changes them', async () => {
  const bin = CLIENTS[0].bin;
  assert.equal(
    (
      await docker(
        bin,
        'run',
        '-d',
        '--name',
        'res',
        '--memory',
        '64m',
        '--cpus',
        '0.5',
        '--pids-limit',
        '50',
        'busybox',
        'sleep',
        '100',
      )
    ).code,
    0,
  );
  const hc = await docker(
    bin,
    'inspect',
    '--format',
    '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}',
    'res',
  );
  assert.equal(hc.stdout.trim(), `${64 * 1024 * 1024} 500000000 50`);
  const st = await docker(bin, 'stats', '--no-stream', '--format', '{{.MemUsage}}', 'res');
  assert.match(st.stdout, /\/ 64MiB$/m, 'the cgroup limit the engine reads back');
  const ex = await docker(
    bin,
    'exec',
    '-u',
    '65534',
    '-w',
    '/tmp',
    '-e',
    'X=1',
    'res',
    'sh',
    '-c',
    'echo $(id -u) $(pwd) $X',
  );
  assert.equal(ex.stdout, '65534 /tmp 1\n', ex.stderr);
  const up = await docker(bin, 'update', '--memory', '128m', 'res');
  assert.equal(up.code, 0, up.stderr);
  assert.match(
    (await docker(bin, 'stats', '--no-stream', '--format', '{{.MemUsage}}', 'res')).stdout,
    /\/ 128MiB$/m,
    'update changed the limit the engine reads back',
  );
  assert.equal((await docker(bin, 'rm', '-f', 'res')).code, 0);
  assert.equal(
    (await docker(bin, 'run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3'))
      .code,
    0,
  );
  await until(
    'two restarts',
    async () =>
      (await docker(bin, 'inspect', '--format', '{{.RestartCount}} {{.State.Status}}', 'flaky')).stdout.trim() ===
      '2 exited',
    30_000,
  );
  assert.equal(
    (
      await docker(
        bin,
        'inspect',
        '--format',
        '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.State.ExitCode}}',
        'flaky',
      )
    ).stdout.trim(),
    'on-failure:2 3',
  );
  assert.equal((await docker(bin, 'rm', '-f', 'flaky')).code, 0);
});

test('the wire: /_ping GET and HEAD headers, versions outside 1.41-1.50 refused, errors as {"message"}', async () => {
  const { request } = await import('node:http');
  const call = (method: string, path: string) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
      (resolve, reject) => {
        const r = request({ socketPath: dockerSocket, method, path }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        r.on('error', reject);
        r.end();
      },
    );
  for (const method of ['GET', 'HEAD']) {
    const p = await call(method, '/_ping');
    assert.equal(p.status, 200);
    assert.equal(p.headers['api-version'], '1.50');
    assert.equal(p.headers['docker-experimental'], 'false');
    assert.equal(p.headers.ostype, 'linux');
    assert.equal(p.body, method === 'GET' ? 'OK' : '');
  }
  assert.equal((await call('GET', '/v1.41/_ping')).body, 'OK');
  const old = await call('GET', '/v1.40/version');
  assert.equal(old.status, 400);
  assert.deepEqual(JSON.parse(old.body), {
    message:
      'client version 1.40 is too old. Minimum supported API version is 1.41, please upgrade your client to a newer version',
  });
  const newer = await call('GET', '/v1.51/version');
  assert.equal(newer.status, 400);
  const missing = await call('GET', '/v1.45/containers/no-such-container/json');
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.body), { message: 'No such container: no-such-container' });
  const img = await call('GET', '/images/no-such-image:1/json');
  assert.deepEqual([img.status, JSON.parse(img.body)], [404, { message: 'No such image: no-such-image:1' }]);
  // A shape that changed with the version: VirtualSize went in 1.44.
  const v43 = JSON.parse((await call('GET', '/v1.43/images/json')).body) as Record<string, unknown>[];
  const v44 = JSON.parse((await call('GET', '/v1.44/images/json')).body) as Record<string, unknown>[];
  assert.ok(
    v43.length > 0 && v43.every((i) => typeof i.VirtualSize === 'number') && v44.every((i) => !('VirtualSize' in i)),
  );
});

test('docker 28: events streams as containers come and go; start -a runs a created and an exited container attached', async () => {
  const bin = CLIENTS[0].bin;
  const { spawn } = await import('node:child_process');
  const ev = spawn(bin, [
    '-H',
    `unix://${dockerSocket}`,
    'events',
    '--filter',
    'type=container',
    '--filter',
    'event=start',
    '--filter',
    'event=die',
    '--format',
    '{{.Action}} {{.Actor.Attributes.name}}',
  ]);
  let out = '';
  ev.stdout.on('data', (b: Buffer) => (out += b));
  try {
    await new Promise((r) => setTimeout(r, 500));
    const made = await docker(bin, 'create', '--name', 'evs', 'busybox', 'sh', '-c', 'echo attached; exit 7');
    assert.equal(made.code, 0, made.stderr);
    const start = await docker(bin, 'start', '-a', 'evs');
    assert.deepEqual([start.code, start.stdout], [7, 'attached\n'], start.stderr);
    // An exited container runs attached again (the attach comes before the start, as for a created one).
    const again = await docker(bin, 'start', '-a', 'evs');
    assert.deepEqual([again.code, again.stdout], [7, 'attached\n'], again.stderr);
    await until('start and die streamed', () => out.includes('start evs\n') && out.includes('die evs\n'));
  } finally {
    ev.kill();
    await docker(bin, 'rm', '-f', 'evs');
  }
});

test("docker 28: stop --signal sends that signal first (the container's trap runs), kill -s takes names without SIG", async () => {
  const bin = CLIENTS[0].bin;
  assert.equal(
    (
      await docker(
        bin,
        'run',
        '-d',
        '--name',
        'sig',
        'busybox',
        'sh',
        '-c',
        'trap "echo got-usr1; exit 0" USR1; echo ready; while true; do sleep 0.1; done',
      )
    ).code,
    0,
  );
  await until('ready', async () => (await docker(bin, 'logs', 'sig')).stdout === 'ready\n');
  const stop = await docker(bin, 'stop', '-s', 'USR1', '-t', '5', 'sig');
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((await docker(bin, 'logs', 'sig')).stdout, 'ready\ngot-usr1\n');
  assert.equal((await docker(bin, 'inspect', '--format', '{{.State.ExitCode}}', 'sig')).stdout.trim(), '0');
  assert.equal((await docker(bin, 'start', 'sig')).code, 0);
  await until('ready again', async () => (await docker(bin, 'logs', 'sig')).stdout.endsWith('ready\n'));
  assert.equal((await docker(bin, 'kill', '-s', 'USR1', 'sig')).code, 0);
  await until(
    'the trap ran on kill',
    async () => (await docker(bin, 'inspect', '--format', '{{.State.Status}}', 'sig')).stdout.trim() === 'exited',
  );
  assert.equal((await docker(bin, 'rm', 'sig')).code, 0);
});

test('one engine behind both APIs: a container made by berth is seen and removed by docker, one made by docker by berth', async () => {
  const bin = CLIENTS[0].bin;
  const { berthCli } = await import('./engine-harness.ts');
  const b = await berthCli(d.socket, 'run', '-d', '--name', 'from-berth', 'busybox', 'sleep', '100');
  assert.equal(b.code, 0, b.stderr);
  assert.equal(
    (await docker(bin, 'ps', '--filter', 'name=from-berth', '--format', '{{.Names}} {{.State}}')).stdout.trim(),
    'from-berth running',
  );
  assert.equal((await docker(bin, 'run', '-d', '--name', 'from-docker', 'busybox', 'sleep', '100')).code, 0);
  assert.equal((await d.client.inspect('from-docker')).state.status, 'running');
  assert.equal((await docker(bin, 'rm', '-f', 'from-berth')).code, 0);
  assert.equal((await berthCli(d.socket, 'rm', '-f', 'from-docker')).code, 0);
  assert.deepEqual(
    (await d.client.list({ all: true })).map((c) => c.name),
    [],
  );
});

/** A limit file of the cgroup v1 `controller` that process `pid` is in, or undefined when the controller is not mounted on its own. */
function cgroupLimit(pid: number, controller: string, file: string): string | undefined {
  const root = cgroupV1Dir(controller);
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!root || !line) return undefined;
  return readFileSync(join(root, line.split(':').slice(2).join(':'), file), 'utf8').trim();
}

test('docker 28: update --memory --pids-limit changes the cgroup, inspect shows it, a stop and start keep it; a bad value is a 400 naming the field', async (t) => {
  if (!cgroupV1Dir('memory') || !cgroupV1Dir('pids'))
    return t.skip('this host has no cgroup v1 memory and pids hierarchies to read the limits from');
  const bin = CLIENTS[0].bin;
  const name = `upd-${process.pid}`;
  assert.equal(
    (
      await docker(
        bin,
        'run',
        '-d',
        '--name',
        name,
        'busybox',
        'sh',
        '-c',
        'trap "exit 0" TERM; while true; do sleep 0.1; done',
      )
    ).code,
    0,
  );
  const limits = async () => {
    const pid = Number((await docker(bin, 'inspect', '--format', '{{.State.Pid}}', name)).stdout.trim());
    return [cgroupLimit(pid, 'memory', 'memory.limit_in_bytes'), cgroupLimit(pid, 'pids', 'pids.max')];
  };
  const up = await docker(bin, 'update', '--memory', '64m', '--pids-limit', '50', '--restart', 'on-failure:4', name);
  assert.deepEqual([up.code, up.stdout], [0, `${name}\n`], up.stderr);
  assert.deepEqual(await limits(), [String(64 << 20), '50'], "the running task's cgroup has the new limits");
  const shown = () =>
    docker(
      bin,
      'inspect',
      '--format',
      '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}',
      name,
    );
  assert.equal((await shown()).stdout.trim(), `${64 << 20} 50 on-failure:4`);
  assert.equal((await docker(bin, 'stop', '-t', '2', name)).code, 0);
  assert.equal((await docker(bin, 'start', name)).code, 0);
  assert.deepEqual(await limits(), [String(64 << 20), '50'], 'a stopped and started container keeps them');
  assert.equal((await shown()).stdout.trim(), `${64 << 20} 50 on-failure:4`);

  const { request } = await import('node:http');
  const post = (body: unknown) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = request(
        {
          socketPath: dockerSocket,
          method: 'POST',
          path: `/v1.50/containers/${name}/update`,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
        },
      );
      r.on('error', reject);
      r.end(JSON.stringify(body));
    });
  const bad = await post({ Memory: 1024 });
  assert.equal(bad.status, 400, bad.body);
  assert.match(JSON.parse(bad.body).message, /memory 1024: expected at least 6 MiB/);
  const badSwap = await post({ MemorySwap: 32 << 20 });
  assert.equal(badSwap.status, 400, badSwap.body);
  assert.match(JSON.parse(badSwap.body).message, /memory-swap 33554432: expected at least the memory limit 67108864/);
  const refused = await post({ BlkioWeight: 300 });
  assert.equal(refused.status, 400, refused.body);
  assert.match(JSON.parse(refused.body).message, /--blkio-weight \(BlkioWeight\): not supported by berthd/);
  assert.deepEqual(await limits(), [String(64 << 20), '50'], 'a refused update changes nothing');
  if (memswAccounted()) {
    const swap = await docker(bin, 'update', '--memory-swap', '128m', name);
    assert.equal(swap.code, 0, swap.stderr);
    const pid = Number((await docker(bin, 'inspect', '--format', '{{.State.Pid}}', name)).stdout.trim());
    assert.equal(cgroupLimit(pid, 'memory', 'memory.memsw.limit_in_bytes'), String(128 << 20));
    assert.equal(
      (await docker(bin, 'inspect', '--format', '{{.HostConfig.MemorySwap}}', name)).stdout.trim(),
      String(128 << 20),
    );
  } else t.diagnostic('--memory-swap not checked: this kernel does not account swap (no memory.memsw.limit_in_bytes)');
  assert.equal((await docker(bin, 'rm', '-f', name)).code, 0);
});

/** GET `path` of the Docker API, parsed. */
async function apiGet(path: string): Promise<unknown> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const r = request({ socketPath: dockerSocket, method: 'GET', path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(body))));
    });
    r.on('error', reject);
    r.end();
  });
}

for (const c of CLIENTS) {
  test(`${c.name}: ps --size shows the writable layer and the virtual size; system df -v shows volume sizes and images' shared and unique sizes`, async () => {
    const tag = c.api.replace('.', '');
    const [name, vol, img] = [`sized${tag}`, `sizevol${tag}`, `sized/img:${tag}`];
    const r = await docker(
      c.bin,
      'run',
      '-d',
      '--name',
      name,
      '-v',
      `${vol}:/data`,
      'busybox',
      'sh',
      '-c',
      'dd if=/dev/zero of=/big bs=1024 count=1024 2>/dev/null && dd if=/dev/zero of=/data/v bs=1024 count=2048 2>/dev/null && touch /ready && exec sleep 1000',
    );
    assert.equal(r.code, 0, r.stderr);
    try {
      await until(
        'the files are written',
        async () => (await docker(c.bin, 'exec', name, 'test', '-e', '/ready')).code === 0,
        60_000,
      );
      const [listed] = (await apiGet(
        `/v${c.api}/containers/json?size=1&filters=${encodeURIComponent(JSON.stringify({ name: [name] }))}`,
      )) as {
        SizeRw: number;
        SizeRootFs: number;
      }[];
      assert.ok(listed && listed.SizeRw >= 1 << 20, JSON.stringify(listed));
      assert.ok(listed.SizeRootFs > listed.SizeRw + 500_000, 'the image layers (busybox) are in the virtual size');
      const ps = await docker(c.bin, 'ps', '--size', '--filter', `name=${name}`, '--format', '{{.Size}}');
      assert.match(ps.stdout.trim(), /^1\.\d+MB \(virtual \d+(\.\d+)?MB\)$/, ps.stdout + ps.stderr);
      // A committed image shares busybox's layer: both show it as shared.
      assert.equal((await docker(c.bin, 'commit', name, img)).code, 0);
      const df = (await apiGet(`/v${c.api}/system/df`)) as {
        Images: { RepoTags: string[]; Size: number; SharedSize: number }[];
        Containers: { Names: string[]; SizeRw: number }[];
        Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
      };
      const bb = df.Images.find((i) => i.RepoTags.includes('busybox:latest'));
      const mine = df.Images.find((i) => i.RepoTags.includes(img));
      assert.ok(bb && mine, JSON.stringify(df.Images));
      assert.ok(bb.SharedSize > 0 && bb.SharedSize <= bb.Size, JSON.stringify(bb));
      assert.ok(mine.SharedSize === bb.SharedSize && mine.Size > mine.SharedSize, JSON.stringify(mine));
      assert.ok((df.Containers.find((x) => x.Names[0] === `/${name}`)?.SizeRw ?? 0) >= 1 << 20);
      const v = df.Volumes.find((x) => x.Name === vol);
      assert.ok(v && v.UsageData.Size >= 2 << 20 && v.UsageData.RefCount === 1, JSON.stringify(v));
      const text = await docker(c.bin, 'system', 'df', '-v');
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS/);
      assert.match(text.stdout, new RegExp(`\\n${vol} +1 +2\\.\\d+MB\\n`), text.stdout);
      assert.match(text.stdout, new RegExp(`${name}\\n`));
    } finally {
      await docker(c.bin, 'rm', '-f', name);
      await docker(c.bin, 'rmi', img);
      await docker(c.bin, 'volume', 'rm', vol);
    }
  });
}

/** A loop device over a private file that starts with `text`; detached by the returned function. */
function loopDevice(text: string): { path: string; detach: () => void } {
  const file = join(root, `loop-${text}.img`);
  const buf = Buffer.alloc(1 << 20);
  buf.write(text);
  writeFileSync(file, buf);
  const path = execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
  return { path, detach: () => execFileSync('losetup', ['-d', path]) };
}

for (const c of CLIENTS) {
  test(`${c.name}: run --device makes the host's device in the container, readable through the device cgroup; --device-cgroup-rule allows a node made inside`, async () => {
    const text = `berth-device-${c.api.replace('.', '')}`;
    const loop = loopDevice(text);
    try {
      const { rdev } = statSync(loop.path);
      const [major, minor] = [Math.floor(rdev / 256) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)];
      const read = await docker(
        c.bin,
        'run',
        '--rm',
        '--device',
        `${loop.path}:/dev/xdisk:r`,
        'busybox',
        'head',
        '-c',
        String(text.length),
        '/dev/xdisk',
      );
      assert.deepEqual([read.code, read.stdout], [0, text], read.stderr);
      // Without --device-cgroup-rule a node made inside stays unreadable: block devices get only mknod by default.
      const script = `mknod /dev/yd b ${major} ${minor} && head -c ${text.length} /dev/yd`;
      const denied = await docker(c.bin, 'run', '--rm', 'busybox', 'sh', '-c', script);
      assert.notEqual(denied.code, 0, denied.stdout);
      assert.match(denied.stderr, /Operation not permitted/);
      const ruled = await docker(
        c.bin,
        'run',
        '--rm',
        '--device-cgroup-rule',
        `b ${major}:* rm`,
        'busybox',
        'sh',
        '-c',
        script,
      );
      assert.deepEqual([ruled.code, ruled.stdout], [0, text], ruled.stderr);
      const missing = await docker(c.bin, 'run', '--rm', '--device', '/dev/no-such-device', 'busybox', 'true');
      // Looked up at create: a missing node is a daemon error of run (125) naming the flag and the path.
      assert.equal(missing.code, 125);
      assert.match(
        missing.stderr,
        /--device \(HostConfig.Devices\[0\].PathOnHost\): \/dev\/no-such-device does not exist/,
      );
      const made = await docker(
        c.bin,
        'create',
        '--name',
        `dev${c.api.replace('.', '')}`,
        '--device',
        `${loop.path}:/dev/xdisk:r`,
        'busybox',
        'true',
      );
      assert.equal(made.code, 0, made.stderr);
      const hc = await docker(
        c.bin,
        'inspect',
        '--format',
        '{{json .HostConfig.Devices}}',
        `dev${c.api.replace('.', '')}`,
      );
      assert.deepEqual(JSON.parse(hc.stdout), [
        { PathOnHost: loop.path, PathInContainer: '/dev/xdisk', CgroupPermissions: 'r' },
      ]);
      assert.equal((await docker(c.bin, 'rm', `dev${c.api.replace('.', '')}`)).code, 0);
      if (c === CLIENTS[0]) {
        // berth's own CLI takes the same flag.
        const { berthCli } = await import('./engine-harness.ts');
        const b = await berthCli(
          d.socket,
          'run',
          '--rm',
          '--device',
          `${loop.path}:/dev/bdisk`,
          'busybox',
          'head',
          '-c',
          String(text.length),
          '/dev/bdisk',
        );
        assert.deepEqual([b.code, b.stdout], [0, text], b.stderr);
      }
    } finally {
      loop.detach();
    }
  });
}
