// The berth CLI typed with docker's habits (issue 11, "berth's own CLI speaks docker too"): the real
// berth binary against a real berthd under temporary roots (no network), busybox imported locally.
// `--format` Go templates on every listing and inspecting verb, docker's exit codes, and the verbs
// and flags docker users expect. Checks that nothing is left under the test's roots.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { cgroupV1Dir } from '../lib/host.ts';
import {
  berthCli,
  busyboxRootfsTar,
  type Daemon,
  finish,
  REPO,
  startBerthd,
  tempRoots,
  until,
} from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;

const berth = (...args: string[]) => berthCli(d.socket, ...args);

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root (mounts, namespaces, cgroups)');
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  d = await startBerthd(root, runRoot, ['--no-network'], { defaultRuntime: RUNTIME });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(() => finish(d, root, runRoot));

test('--format Go templates on ps, inspect, images, image inspect, volume and network ls, info, stats, events', async () => {
  const r = await berth('run', '-d', '--name', 'fmt1', '--label', 'tier=web', 'busybox', 'sleep', '300');
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();

  const ps = await berth('ps', '--format', '{{.ID}} {{.Names}} {{.State}} {{.Label "tier"}} {{.Command}}');
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(ps.stdout, `${id.slice(0, 12)} fmt1 running web "sleep 300"\n`);
  const table = await berth('ps', '--format', 'table {{.Names}}\t{{.Image}}');
  assert.equal(table.stdout, 'NAMES     IMAGE\nfmt1      busybox\n');
  const js = await berth('ps', '--format', '{{json .Names}}');
  assert.equal(js.stdout, '"fmt1"\n');

  const ins = await berth(
    'inspect',
    '--format',
    '{{.State.Status}} {{.Name}} {{.Config.Image}} {{index .Config.Labels "tier"}} {{.HostConfig.Privileged}}',
    'fmt1',
  );
  assert.equal(ins.code, 0, ins.stderr);
  assert.equal(ins.stdout, 'running /fmt1 busybox web false\n');
  const rng = await berth('inspect', '-f', '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}', 'fmt1');
  assert.equal(rng.stdout, 'tier=web\n');
  // Without a template, docker's shape as JSON; --format json, berth's own details.
  const [docker] = JSON.parse((await berth('inspect', 'fmt1')).stdout) as {
    Id: string;
    Name: string;
    State: { Status: string; Pid: number };
    HostConfig: { NetworkMode: string };
    Config: { Cmd: string[] };
  }[];
  assert.deepEqual(
    [docker!.Id, docker!.Name, docker!.State.Status, docker!.Config.Cmd],
    [id, '/fmt1', 'running', ['sleep', '300']],
  );
  assert.ok(docker!.State.Pid > 0);
  const [native] = JSON.parse((await berth('inspect', '--format', 'json', 'fmt1')).stdout) as {
    id: string;
    state: { status: string };
  }[];
  assert.deepEqual([native!.id, native!.state.status], [id, 'running']);

  const img = await berth('images', '--format', '{{.Repository}}:{{.Tag}} {{len .ID}}');
  assert.equal(img.stdout, 'busybox:latest 12\n');
  const imgTable = await berth('images', '--format', 'table {{.Repository}}\t{{.Tag}}');
  assert.equal(imgTable.stdout, 'REPOSITORY   TAG\nbusybox      latest\n');
  const ii = await berth('image', 'inspect', '--format', '{{.Os}} {{.RepoTags}}', 'busybox');
  assert.equal(ii.code, 0, ii.stderr);
  assert.match(ii.stdout, /^linux \[.*busybox:latest\]\n$/);

  assert.equal((await berth('volume', 'create', '--label', 'k=v', 'fmtvol')).code, 0);
  assert.equal(
    (await berth('volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Label "k"}}')).stdout,
    'fmtvol local v\n',
  );
  assert.equal(
    (await berth('volume', 'inspect', '--format', '{{.Name}} {{.Labels.k}}', 'fmtvol')).stdout,
    'fmtvol v\n',
  );
  const nets = await berth('network', 'ls', '--format', '{{.Name}}|{{.Driver}}');
  assert.equal(nets.code, 0, nets.stderr);
  const netNames = (await berth('network', 'ls', '-q')).stdout;
  assert.equal(
    nets.stdout
      .split('\n')
      .map((l) => l.split('|')[0])
      .join('\n'),
    netNames,
  );

  const info = await berth('info', '--format', '{{.ContainersRunning}} {{.Images}} {{.DefaultRuntime}}');
  assert.equal(info.stdout, `1 1 ${RUNTIME}\n`);

  const stats = await berth('stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'fmt1');
  assert.equal(stats.stdout, 'fmt1 1\n');

  const ev = await berth(
    'events',
    '--since',
    '0',
    '--until',
    String(Math.ceil(Date.now() / 1000)),
    '--filter',
    'event=start',
    '--format',
    '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
  );
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(ev.stdout, /^container start fmt1$/m);

  const df = await berth('system', 'df', '--format', 'table {{.Type}}\t{{.TotalCount}}');
  assert.equal(df.code, 0, df.stderr);
  assert.match(df.stdout, /^TYPE\s+TOTAL\nImages\s+1\nContainers\s+1\nLocal Volumes\s+1\n$/);
  // A verb that prints no list refuses a template rather than ignore it (before the container: what
  // follows it is ps's options, as with docker top).
  const top = await berth('top', '--format', '{{.PID}}', 'fmt1');
  assert.notEqual(top.code, 0);
  assert.match(top.stderr, /this verb takes no template/);

  assert.equal((await berth('rm', '-f', 'fmt1')).code, 0);
  assert.equal((await berth('volume', 'rm', 'fmtvol')).code, 0);
});

test('an unsupported or wrong template is an error, never ignored', async () => {
  for (const args of [
    ['ps', '--format', '{{.Nope}}'],
    ['ps', '-a', '--format', '{{.ID'],
    ['images', '--format', '{{.Nope}}'],
    ['image', 'inspect', '--format', '{{.Nope}}', 'busybox'],
    ['inspect', '--format', '{{.Nope}}', 'busybox'],
    ['info', '--format', '{{nosuchfunc .}}'],
    ['volume', 'ls', '--format', '{{template "x"}}'],
  ]) {
    // ps over no container renders no row: the template is parsed, but a missing field only fails on a row.
    const r = await berth(...args);
    if (args[0] === 'ps' && args[2] === '{{.Nope}}') continue;
    assert.notEqual(r.code, 0, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /template: /, args.join(' '));
  }
});

test('images REPO:TAG, -q, --no-trunc, --filter; volume ls and network ls --filter', async () => {
  const q = await berth('images', '-q', 'busybox:latest');
  assert.match(q.stdout, /^[0-9a-f]{12}\n$/);
  assert.equal((await berth('images', '-q', 'busybox:nope')).stdout, '');
  const full = await berth('images', '-q', '--no-trunc', 'busybox');
  assert.match(full.stdout, /^sha256:[0-9a-f]{64}\n$/);
  assert.equal(
    (await berth('images', '--filter', 'reference=busy*', '--format', '{{.Repository}}')).stdout,
    'busybox\n',
  );
  assert.equal((await berth('images', '--filter', 'reference=nomatch*', '-q')).stdout, '');
  assert.equal((await berth('images', '--filter', 'dangling=true', '-q')).stdout, '');
  const bad = await berth('images', '--filter', 'colour=red');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid filter 'colour'/);

  for (const v of ['fa', 'fb'])
    assert.equal((await berth('volume', 'create', '--label', `team=${v}`, `flt-${v}`)).code, 0);
  assert.equal((await berth('volume', 'ls', '-q', '--filter', 'label=team=fb')).stdout, 'flt-fb\n');
  assert.equal(
    (await berth('volume', 'ls', '-q', '--filter', 'name=flt-', '--filter', 'dangling=true')).stdout,
    'flt-fa\nflt-fb\n',
  );
  assert.match((await berth('volume', 'ls', '--filter', 'bogus=1')).stderr, /invalid filter 'bogus'/);
  for (const v of ['fa', 'fb']) await berth('volume', 'rm', `flt-${v}`);
  const nl = await berth('network', 'ls', '-q', '--filter', 'name=no-such-network');
  assert.equal(nl.code, 0, nl.stderr);
  assert.equal(nl.stdout, '');
});

test('version prints the client and berthd; history shows the image config; rename', async () => {
  const v = await berth('version', '--format', '{{.Client.Version}} {{.Server.ApiVersion}}');
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^\S+ \S+\n$/);
  assert.match((await berth('version')).stdout, /Client:[\s\S]*Server: berthd/);

  const h = await berth('history', '--format', '{{.ID}}|{{.Size}}', 'busybox');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^[0-9a-f]{12}\|\S+\n$/);
  assert.match(
    (await berth('image', 'history', 'busybox')).stdout,
    /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n[0-9a-f]{12}/,
  );
  assert.match((await berth('history', 'nosuch:image')).stderr, /nosuch/);

  assert.equal((await berth('create', '--name', 'ren1', 'busybox', 'true')).code, 0);
  const r = await berth('rename', 'ren1', 'ren2');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await berth('ps', '-a', '--filter', 'name=ren2', '--format', '{{.Names}}')).stdout, 'ren2\n');
  assert.equal((await berth('create', '--name', 'ren3', 'busybox', 'true')).code, 0);
  const taken = await berth('rename', 'ren3', 'ren2');
  assert.notEqual(taken.code, 0);
  assert.match(taken.stderr, /already in use/);
  assert.match((await berth('rename', 'ren3', 'bad/name')).stderr, /invalid container name/);
  await berth('rm', 'ren2', 'ren3');
});

test('update --memory --pids-limit --restart: a created container starts with them, a running one gets them in its cgroup; inspect shows them; a bad value names the field', async (t) => {
  const memRoot = cgroupV1Dir('memory');
  const pidsRoot = cgroupV1Dir('pids');
  if (!memRoot || !pidsRoot)
    return t.skip('this host has no cgroup v1 memory and pids hierarchies to read the limits from');
  const file = (pid: number, controller: string, root: string, name: string) => {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.split(':')[1]?.split(',').includes(controller))!;
    return readFileSync(join(root, line.split(':').slice(2).join(':'), name), 'utf8').trim();
  };
  const limits = async (c: string) => {
    const pid = (await d.client.inspect(c)).state.pid;
    return [file(pid, 'memory', memRoot, 'memory.limit_in_bytes'), file(pid, 'pids', pidsRoot, 'pids.max')];
  };
  assert.equal((await berth('create', '--name', 'upd1', 'busybox', 'sleep', '300')).code, 0);
  const created = await berth('update', '--memory', '64m', '--pids-limit', '50', 'upd1');
  assert.deepEqual([created.code, created.stdout], [0, 'upd1\n'], created.stderr);
  assert.equal((await berth('start', 'upd1')).code, 0);
  assert.deepEqual(await limits('upd1'), [String(64 << 20), '50'], 'the start used the recorded limits');
  const running = await berth('update', '--memory', '96m', '--pids-limit', '40', '--restart', 'always', 'upd1');
  assert.equal(running.code, 0, running.stderr);
  assert.deepEqual(await limits('upd1'), [String(96 << 20), '40']);
  const req = (await d.client.inspect('upd1')).request;
  assert.deepEqual([req.memory, req.pidsLimit, req.restart], [96 << 20, 40, 'always']);
  assert.equal((await d.client.inspect('upd1')).restartPolicy.name, 'always');
  const bad = await berth('update', '--memory', '1k', 'upd1');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /memory 1024: expected at least 6 MiB/);
  const none = await berth('update', 'upd1');
  assert.match(none.stderr, /one or more flags/);
  assert.deepEqual(await limits('upd1'), [String(96 << 20), '40'], 'a refused update changes nothing');
  await berth('rm', '-f', 'upd1');
});

test('cp both ways, with a running and with a stopped container; a symlink never leads out of the root', async () => {
  const { mkdtempSync, writeFileSync, readFileSync, mkdirSync, existsSync: exists } = await import('node:fs');
  const host = mkdtempSync('/tmp/berth-cp-');
  try {
    writeFileSync(join(host, 'a.txt'), 'alpha\n');
    mkdirSync(join(host, 'dir'));
    writeFileSync(join(host, 'dir', 'b.txt'), 'beta\n');
    assert.equal(
      (
        await berth(
          'run',
          '-d',
          '--name',
          'cp1',
          'busybox',
          'sh',
          '-c',
          'ln -s / /tmp/escape; ln -s /etc /tmp/etclink; sleep 300',
        )
      ).code,
      0,
    );
    // Into a running container: a file into a directory, a directory, a file to a new name.
    for (const [s, d] of [
      [join(host, 'a.txt'), 'cp1:/tmp/'],
      [join(host, 'dir'), 'cp1:/tmp'],
      [join(host, 'a.txt'), 'cp1:/tmp/renamed.txt'],
    ] as const) {
      const r = await berth('cp', s, d);
      assert.equal(r.code, 0, `${s} ${d}: ${r.stderr}`);
    }
    const ex = await berth('exec', 'cp1', 'cat', '/tmp/a.txt', '/tmp/dir/b.txt', '/tmp/renamed.txt');
    assert.equal(ex.stdout, 'alpha\nbeta\nalpha\n');
    // Out of it: a file to a new host name, a directory into a host directory, its contents (/.).
    assert.equal((await berth('cp', 'cp1:/tmp/dir/b.txt', join(host, 'b-copy'))).code, 0);
    assert.equal(readFileSync(join(host, 'b-copy'), 'utf8'), 'beta\n');
    mkdirSync(join(host, 'out'));
    assert.equal((await berth('cp', 'cp1:/tmp/dir', join(host, 'out'))).code, 0);
    assert.equal(readFileSync(join(host, 'out', 'dir', 'b.txt'), 'utf8'), 'beta\n');
    assert.equal((await berth('cp', 'cp1:/tmp/dir/.', join(host, 'flat'))).code, 0);
    assert.equal(readFileSync(join(host, 'flat', 'b.txt'), 'utf8'), 'beta\n');
    // A symlink to / in the container is the container's /, not the host's.
    const hostname = await berth('cp', 'cp1:/tmp/escape/etc/passwd', join(host, 'passwd'));
    assert.equal(hostname.code, 0, hostname.stderr);
    assert.match(readFileSync(join(host, 'passwd'), 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh\nnobody/);
    // Writing through the container's /etc symlink lands in the container's /etc.
    assert.equal((await berth('cp', join(host, 'a.txt'), 'cp1:/tmp/etclink')).code, 0);
    assert.equal((await berth('exec', 'cp1', 'cat', '/etc/a.txt')).stdout, 'alpha\n');
    assert.equal(exists('/etc/a.txt') && readFileSync('/etc/a.txt', 'utf8') === 'alpha\n', false);
    // Owners as docker's cp: root's in the container, the caller's on the host; -a keeps them.
    const { chownSync, statSync } = await import('node:fs');
    writeFileSync(join(host, 'owned'), 'o\n');
    chownSync(join(host, 'owned'), 1234, 1234);
    assert.equal((await berth('cp', join(host, 'owned'), 'cp1:/tmp/owned-root')).code, 0);
    assert.equal((await berth('cp', '-a', join(host, 'owned'), 'cp1:/tmp/owned-kept')).code, 0);
    assert.equal(
      (await berth('exec', 'cp1', 'sh', '-c', 'stat -c %u /tmp/owned-root /tmp/owned-kept; chown 4321 /tmp/owned-kept'))
        .stdout,
      '0\n1234\n',
    );
    assert.equal((await berth('cp', 'cp1:/tmp/owned-kept', join(host, 'out-mine'))).code, 0);
    assert.equal((await berth('cp', '-a', 'cp1:/tmp/owned-kept', join(host, 'out-kept'))).code, 0);
    assert.deepEqual(
      [statSync(join(host, 'out-mine')).uid, statSync(join(host, 'out-kept')).uid],
      [process.getuid!(), 4321],
    );
    // A missing source: not found, nothing written.
    const miss = await berth('cp', 'cp1:/no/such', join(host, 'x'));
    assert.notEqual(miss.code, 0);
    assert.match(miss.stderr, /no such file or directory in the container: \/no\/such/);

    // A stopped container: its snapshot is mounted for the copy, and unmounted after.
    assert.equal((await berth('stop', '-t', '1', 'cp1')).code, 0);
    assert.equal((await berth('cp', join(host, 'dir', 'b.txt'), 'cp1:/root/')).code, 0);
    assert.equal((await berth('cp', 'cp1:/root/b.txt', join(host, 'from-stopped'))).code, 0);
    assert.equal(readFileSync(join(host, 'from-stopped'), 'utf8'), 'beta\n');
    const tar = await berth('cp', 'cp1:/tmp/a.txt', '-');
    assert.match(tar.stdout, /^a\.txt\0/);
    assert.equal((await berth('start', 'cp1')).code, 0);
    assert.equal((await berth('exec', 'cp1', 'cat', '/root/b.txt')).stdout, 'beta\n');
  } finally {
    await berth('rm', '-f', 'cp1');
    const { rmSync } = await import('node:fs');
    rmSync(host, { recursive: true, force: true });
  }
});

test('diff lists the changes against the image; export is the filesystem as a tar; commit makes a runnable image', async () => {
  assert.equal(
    (
      await berth(
        'run',
        '--name',
        'dc1',
        'busybox',
        'sh',
        '-c',
        'echo new > /root/new.txt; rm /bin/wc; echo changed >> /etc/group; mkdir -p /opt/x',
      )
    ).code,
    0,
  );
  const diff = await berth('diff', 'dc1');
  assert.equal(diff.code, 0, diff.stderr);
  const lines = diff.stdout.trim().split('\n');
  for (const want of [
    'C /root',
    'A /root/new.txt',
    'C /bin',
    'D /bin/wc',
    'C /etc',
    'C /etc/group',
    'A /opt',
    'A /opt/x',
  ])
    assert.ok(lines.includes(want), `${want} in ${diff.stdout}`);
  assert.ok(
    !lines.some((l) => /\/(proc|dev|sys)$|\/etc\/(hosts|hostname|resolv\.conf)$/.test(l)),
    `no runtime mount point in ${diff.stdout}`,
  );
  assert.equal(
    (await berth('diff', '--format', '{{.Type}}:{{.Path}}', 'dc1')).stdout.includes('A:/root/new.txt\n'),
    true,
  );

  const { mkdtempSync, readFileSync: read } = await import('node:fs');
  const dir = mkdtempSync('/tmp/berth-export-');
  try {
    const file = join(dir, 'fs.tar');
    const ex = await berth('export', '-o', file, 'dc1');
    assert.equal(ex.code, 0, ex.stderr);
    const listing = (await import('node:child_process'))
      .execFileSync('tar', ['-tf', file], { encoding: 'utf8' })
      .split('\n');
    for (const want of ['root/new.txt', 'bin/busybox', 'etc/group', 'opt/x/'])
      assert.ok(listing.includes(want), `${want} in the export`);
    assert.ok(!listing.includes('bin/wc'), 'a deleted file is not exported');
    assert.ok(read(file).length > 512);
  } finally {
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  }

  const cm = await berth(
    'commit',
    '-a',
    'tester',
    '-m',
    'a message',
    '-c',
    'ENV COMMITTED=yes',
    '-c',
    'LABEL team=core',
    '-c',
    'CMD ["cat", "/root/new.txt"]',
    'dc1',
    'committed:1',
  );
  assert.equal(cm.code, 0, cm.stderr);
  assert.match(cm.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const run = await berth('run', '--rm', 'committed:1');
  assert.equal(run.stdout, 'new\n');
  assert.equal(
    (await berth('run', '--rm', 'committed:1', 'sh', '-c', 'echo $COMMITTED; ls /bin/wc 2>&1 || true')).stdout.split(
      '\n',
    )[0],
    'yes',
  );
  const hist = await berth('history', '--format', '{{.CreatedBy}}|{{.Comment}}', 'committed:1');
  assert.match(hist.stdout.split('\n')[0]!, /echo new.*\|a message$/);
  const img = await berth('image', 'inspect', '--format', '{{.Author}} {{json .Config.Env}}', 'committed:1');
  assert.match(img.stdout, /^tester .*"COMMITTED=yes"/);
  assert.equal(
    (await berth('images', '--filter', 'label=team=core', '--format', '{{.Repository}}:{{.Tag}}')).stdout,
    'committed:1\n',
  );
  assert.equal((await berth('images', '--filter', 'label=team', '--filter', 'reference=busy*', '-q')).stdout, '');
  const bad = await berth('commit', '-c', 'RUN echo no', 'dc1', 'committed:2');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /RUN cannot be applied by commit/);

  // A running container is paused for the commit, and running again after it.
  assert.equal(
    (await berth('run', '-d', '--name', 'dc2', 'busybox', 'sh', '-c', 'echo live > /tmp/live; sleep 300')).code,
    0,
  );
  assert.equal((await berth('commit', 'dc2', 'committed:live')).code, 0);
  assert.equal((await berth('inspect', '-f', '{{.State.Status}}', 'dc2')).stdout, 'running\n');
  assert.equal((await berth('run', '--rm', 'committed:live', 'cat', '/tmp/live')).stdout, 'live\n');
  await berth('rm', '-f', 'dc1', 'dc2');
  await berth('rmi', 'committed:1', 'committed:live');
});

test("docker's exit codes: 125 for a flag or daemon error of run, 126 not executable, 127 not found, the container's own otherwise", async () => {
  const unknown = await berth('run', '--no-such-flag', 'busybox', 'true');
  assert.equal(unknown.code, 125, unknown.stderr);
  assert.equal(unknown.stderr, "berth: unknown flag: --no-such-flag\nSee 'berth run --help'.\n");
  const short = await berth('ps', '-Z');
  assert.equal(short.code, 125);
  assert.match(short.stderr, /unknown shorthand flag: 'Z' in -Z/);
  for (const detach of [[], ['-d']]) {
    const nf = await berth('run', '--rm', ...detach, 'busybox', 'no-such-command');
    assert.equal(nf.code, 127, `${detach}: ${nf.stderr}`);
    const nx = await berth('run', '--rm', ...detach, 'busybox', '/etc/passwd');
    assert.equal(nx.code, 126, `${detach}: ${nx.stderr}`);
  }
  const noImage = await berth('run', '--rm', 'no-such-image-here.invalid/x:1', 'true');
  assert.equal(noImage.code, 125, noImage.stderr);
  const bad = await berth('create', '--memory', 'lots', 'busybox');
  assert.equal(bad.code, 125);
  assert.equal((await berth('run', '--rm', 'busybox', 'sh', '-c', 'exit 7')).code, 7);
  // exec: 127 and 126 as well; another failure (no such container) stays 1.
  assert.equal((await berth('run', '-d', '--name', 'ex1', 'busybox', 'sleep', '300')).code, 0);
  assert.equal((await berth('exec', 'ex1', 'no-such-command')).code, 127);
  assert.equal((await berth('exec', 'ex1', '/etc/passwd')).code, 126);
  assert.equal((await berth('exec', 'ex1', 'sh', '-c', 'exit 9')).code, 9);
  assert.equal((await berth('exec', 'no-such-container', 'true')).code, 1);
  await berth('rm', '-f', 'ex1');
  // A verb other than run keeps status 1 for a daemon error, as docker's.
  assert.equal((await berth('stop', 'no-such-container')).code, 1);
});

test('start -a attaches and exits with the container status; container prune --filter', async () => {
  assert.equal(
    (await berth('create', '--name', 'sa1', '--label', 'keep=yes', 'busybox', 'sh', '-c', 'echo attached; exit 4'))
      .code,
    0,
  );
  const s = await berth('start', '-a', 'sa1');
  assert.equal(s.code, 4, s.stderr);
  assert.equal(s.stdout, 'attached\n');
  // An exited container runs attached again.
  const again = await berth('start', '-a', 'sa1');
  assert.deepEqual([again.code, again.stdout], [4, 'attached\n'], again.stderr);
  assert.equal((await berth('create', '--name', 'sa2', 'busybox', 'true')).code, 0);
  const p = await berth('container', 'prune', '-f', '--filter', 'label!=keep=yes');
  assert.equal(p.code, 0, p.stderr);
  const left = (await berth('ps', '-a', '--format', '{{.Names}}')).stdout.split('\n').filter(Boolean).sort();
  assert.ok(left.includes('sa1') && !left.includes('sa2'), left.join(','));
  assert.equal((await berth('container', 'prune', '-f', '--filter', 'until=1h')).code, 0);
  assert.ok(
    (await berth('ps', '-a', '--format', '{{.Names}}')).stdout.includes('sa1'),
    'created under an hour ago: kept',
  );
  assert.match((await berth('container', 'prune', '-f', '--filter', 'colour=red')).stderr, /invalid filter 'colour'/);
  assert.equal((await berth('container', 'prune', '-f', '--filter', 'label=keep=yes')).code, 0);
  assert.ok(!(await berth('ps', '-a', '--format', '{{.Names}}')).stdout.includes('sa1'));
});

test('run flags: --add-host, --hostname, --cap-add/--cap-drop, --privileged, --ulimit, --mount, -v /path, --env-file, --init', async () => {
  const { mkdtempSync, writeFileSync, rmSync, existsSync: exists } = await import('node:fs');
  const dir = mkdtempSync('/tmp/berth-runflags-');
  try {
    writeFileSync(join(dir, 'envs'), '# a comment\nFROM_FILE=yes\nBOTH=file\n');
    writeFileSync(join(dir, 'bound.txt'), 'bound\n');
    const r = await berth(
      'run',
      '--rm',
      '--add-host',
      'db.example:10.1.2.3',
      '--hostname',
      'myhost',
      '--ulimit',
      'nofile=321:654',
      '--env-file',
      join(dir, 'envs'),
      '-e',
      'BOTH=flag',
      '--mount',
      `type=bind,source=${dir},target=/hostdir,readonly`,
      '--mount',
      'type=tmpfs,target=/scratch,tmpfs-size=1m',
      'busybox',
      'sh',
      '-c',
      'grep db.example /etc/hosts; hostname; ulimit -n; ulimit -Hn; echo $FROM_FILE $BOTH; cat /hostdir/bound.txt; touch /hostdir/x 2>/dev/null || echo ro; grep " /scratch " /proc/mounts | grep -c size=1024k',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '10.1.2.3\tdb.example\nmyhost\n321\n654\nyes flag\nbound\nro\n1\n');

    // Capabilities: docker's default set has CHOWN and not NET_ADMIN; --privileged has them all.
    const caps = async (...flags: string[]) =>
      (await berth('run', '--rm', ...flags, 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status')).stdout
        .trim()
        .split(/\s+/)[1]!;
    const def = BigInt(`0x${await caps()}`);
    const CHOWN = 1n << 0n;
    const NET_ADMIN = 1n << 12n;
    assert.equal(def & CHOWN, CHOWN);
    assert.equal(def & NET_ADMIN, 0n);
    const changed = BigInt(`0x${await caps('--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN')}`);
    assert.equal(changed & NET_ADMIN, NET_ADMIN);
    assert.equal(changed & CHOWN, 0n);
    const priv = BigInt(`0x${await caps('--privileged')}`);
    assert.ok(priv > def && (priv & NET_ADMIN) === NET_ADMIN);

    // -v /path: an anonymous volume, listed while the container exists, removed with it under --rm.
    assert.equal((await berth('run', '-d', '--name', 'anon1', '-v', '/data', 'busybox', 'sleep', '300')).code, 0);
    const vols = (await berth('inspect', '-f', '{{range .Mounts}}{{.Name}} {{.Destination}}{{end}}', 'anon1')).stdout
      .trim()
      .split(' ');
    assert.equal(vols[1], '/data');
    assert.match(vols[0]!, /^[0-9a-f]{64}$/);
    assert.equal((await berth('volume', 'ls', '-q', '--filter', `name=${vols[0]}`)).stdout, `${vols[0]}\n`);
    assert.equal((await berth('rm', '-f', '-v', 'anon1')).code, 0);
    assert.equal((await berth('volume', 'ls', '-q', '--filter', `name=${vols[0]}`)).stdout, '');
    const once = await berth(
      'run',
      '--rm',
      '-v',
      '/data',
      '--label',
      'anon=rm',
      'busybox',
      'sh',
      '-c',
      'echo hi > /data/f; cat /data/f',
    );
    assert.equal(once.stdout, 'hi\n');
    const lsAfter = (await berth('volume', 'ls', '--format', '{{.Name}}')).stdout
      .split('\n')
      .filter((n) => /^[0-9a-f]{64}$/.test(n));
    assert.deepEqual(lsAfter, [], '--rm removed its anonymous volume');

    // --init: a static tini from berthd's host as PID 1, when the host has one; berth's clear error otherwise.
    const init = await berth('run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "');
    if (
      [
        '/usr/bin/docker-init',
        '/usr/libexec/docker/docker-init',
        '/usr/local/bin/docker-init',
        '/usr/bin/tini-static',
        '/usr/local/bin/tini-static',
      ].some((p) => exists(p))
    ) {
      assert.equal(init.code, 0, init.stderr);
      assert.equal(init.stdout, '/sbin/docker-init -- sh -c cat /proc/1/cmdline | tr "\\0" " " ');
    } else {
      assert.equal(init.code, 125);
      assert.match(init.stderr, /--init: no statically linked init on berthd's host/);
    }

    const bad = await berth('run', '--rm', '--add-host', 'nocolon', 'busybox', 'true');
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /extra host "nocolon": expected HOST:IP/);
    assert.match(
      (await berth('run', '--rm', '--ulimit', 'bogus=1', 'busybox', 'true')).stderr,
      /ulimit "bogus": expected one of/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reader that abandons a copy from a stopped container leaves it startable and unmounted', async () => {
  assert.equal(
    (await berth('run', '--name', 'ab1', 'busybox', 'sh', '-c', 'head -c 50000000 /dev/zero > /root/big; echo done'))
      .code,
    0,
  );
  const { tar } = await d.client.archive('ab1', '/root');
  await new Promise<void>((resolve) => {
    tar.once('data', () => {
      tar.destroy();
      resolve();
    });
  });
  // The copy held the container's lock and mounted its snapshot: both must be released.
  const s = await berth('start', '-a', 'ab1');
  assert.equal(s.code, 0, `${s.stderr}\nberthd: ${d.stderr().slice(-2000)}`);
  assert.equal(s.stdout, 'done\n');
  const info = await d.client.inspect('ab1');
  // start -a returns at the exit; the release (the unmount) follows it: wait for it, by a deadline.
  const mounted = () => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${info.rootfs} `);
  await until('the stopped container unmounted', () => !mounted(), 60_000).catch(() => undefined);
  assert.ok(!mounted(), 'the rootfs of the stopped container is not mounted');
  assert.equal((await berth('rm', 'ab1')).code, 0);
});
