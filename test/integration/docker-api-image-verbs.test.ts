// The image verbs and top that dockerd serves beyond the basics, driven by the real clients (the
// docker CLI 28 at /usr/local/bin/docker, API 1.50, and Debian's docker.io 20.10, API 1.41) and by
// berth's own CLI, against a real berthd under temporary roots: image prune's until and label
// filters (images built with the classic builder, LABEL steps only), and top with ps options.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { type CliRun, DOCKER_CLIENTS, dockerCli } from '../lib/docker-cli.ts';
import { berthCli, busyboxRootfsTar, type Daemon, finish, REPO, startBerthd, tempRoots } from './engine-harness.ts';

const CLIENTS = DOCKER_CLIENTS;
// The classic builder's protocol: there is no buildx plugin here.
process.env.DOCKER_BUILDKIT = '0';

const { root, runRoot } = tempRoots();
let d: Daemon;
let dockerSocket: string;
const dirs: string[] = [];

type Run = CliRun;

function docker(bin: string, ...args: string[]): Promise<Run> {
  return dockerCli(bin, dockerSocket, join(root, 'docker-config'), ...args);
}

async function ok(r: Promise<Run>): Promise<string> {
  const x = await r;
  assert.equal(x.code, 0, `${x.stderr}${x.stdout}`);
  return x.stdout;
}

/** Builds `tag` from busybox with these labels (a LABEL step: no container runs). */
async function build(bin: string, tag: string, labels: Record<string, string>): Promise<void> {
  const dir = mkdtempSync('/tmp/bdiv-ctx-');
  dirs.push(dir);
  const line = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  writeFileSync(join(dir, 'Dockerfile'), `FROM busybox\nLABEL ${line}\n`);
  await ok(docker(bin, 'build', '-q', '-t', tag, dir));
}

async function tags(bin: string): Promise<string[]> {
  const out = await ok(docker(bin, 'images', '--format', '{{.Repository}}:{{.Tag}}'));
  return out.split('\n').filter(Boolean).sort();
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the Docker API tests need root (mounts, namespaces, cgroups)');
  for (const c of CLIENTS) if (!existsSync(c.bin)) throw new Error(`${c.bin} is missing: run scripts/setup.sh`);
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  d = await startBerthd(root, runRoot, ['--no-network'], undefined, {
    DOCKER_CONFIG: join(root, 'berthd-docker-config'),
  });
  dockerSocket = join(runRoot, 'docker.sock');
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await finish(d, root, runRoot);
});

for (const [i, c] of CLIENTS.entries()) {
  test(`${c.name}: image prune -a takes the images its until, label and label! filters match, and refuses a bad filter in dockerd's words`, async () => {
    const web = `bdiv-web-${i}:latest`;
    const db = `bdiv-db-${i}:latest`;
    await build(c.bin, web, { client: String(i), tier: 'web', keep: 'yes' });
    await build(c.bin, db, { client: String(i), tier: 'db' });
    const mine = async () => (await tags(c.bin)).filter((t) => t === web || t === db);

    // Built just now: an until in the past takes neither.
    await ok(
      docker(c.bin, 'image', 'prune', '-a', '-f', '--filter', `label=client=${i}`, '--filter', 'until=2000-01-02'),
    );
    await ok(docker(c.bin, 'image', 'prune', '-a', '-f', '--filter', `label=client=${i}`, '--filter', 'until=1h30m'));
    assert.deepEqual(await mine(), [db, web]);
    // label! keeps what matches all of its labels.
    const p = await ok(
      docker(c.bin, 'image', 'prune', '-a', '-f', '--filter', `label=client=${i}`, '--filter', 'label!=tier=db'),
    );
    assert.match(p, new RegExp(`untagged: ${web}`));
    assert.deepEqual(await mine(), [db]);
    // Without -a only dangling images are taken: a tagged one stays.
    await ok(docker(c.bin, 'image', 'prune', '-f', '--filter', `label=client=${i}`));
    assert.deepEqual(await mine(), [db]);
    // A duration after now (a negative one) takes what was created before it.
    const q = await ok(
      docker(c.bin, 'image', 'prune', '-a', '-f', '--filter', `label=client=${i}`, '--filter', 'until=-1h'),
    );
    assert.match(q, new RegExp(`untagged: ${db}`));
    assert.deepEqual(await mine(), []);
    assert.ok((await tags(c.bin)).includes('busybox:latest'));

    const bad = await docker(c.bin, 'image', 'prune', '-f', '--filter', 'foo=bar');
    assert.deepEqual([bad.code, bad.stderr.trim()], [1, "Error response from daemon: invalid filter 'foo'"]);
    const badUntil = await docker(c.bin, 'image', 'prune', '-f', '--filter', 'until=xyz');
    assert.deepEqual(
      [badUntil.code, badUntil.stderr.trim()],
      [1, 'Error response from daemon: failed to parse value as time or duration: "xyz"'],
    );
  });
}

test('berth image prune --filter: the same filters through the native API', async () => {
  const bin = CLIENTS[0].bin;
  await build(bin, 'bdiv-berth-a:latest', { client: 'berth', tier: 'web' });
  await build(bin, 'bdiv-berth-b:latest', { client: 'berth', tier: 'db' });
  const prune = async (...filters: string[]) => {
    const r = await berthCli(d.socket, 'image', 'prune', '-a', '-f', ...filters.flatMap((f) => ['--filter', f]));
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  await prune('label=client=berth', 'until=2000-01-01T00:00:00Z');
  assert.match(await prune('label=client=berth', 'label=tier=web'), /untagged: .*bdiv-berth-a:latest/);
  const left = (await tags(bin)).filter((t) => t.startsWith('bdiv-berth-'));
  assert.deepEqual(left, ['bdiv-berth-b:latest']);
  const bad = await berthCli(d.socket, 'image', 'prune', '-f', '--filter', 'until=soon');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /failed to parse value as time or duration: "soon"/);
  assert.equal((await berthCli(d.socket, 'rmi', 'bdiv-berth-b')).code, 0);
});

for (const [i, c] of CLIENTS.entries()) {
  test(`${c.name}: top with ps options runs the host's ps for the container's processes only, and relays its refusals`, async () => {
    const name = `bdiv-top-${i}`;
    await ok(docker(c.bin, 'run', '-d', '--name', name, 'busybox', 'sleep', '300'));
    try {
      // berthd's own listing (no options, or -ef): the container's pids.
      const own = (await ok(docker(c.bin, 'top', name))).split('\n').filter(Boolean);
      const at = own[0]!.split(/\s+/).indexOf('PID');
      assert.ok(at >= 0, own[0]);
      const pids = own.slice(1).map((l) => l.split(/\s+/)[at]);
      assert.ok(pids.length >= 1, own.join('\n'));

      const aux = (await ok(docker(c.bin, 'top', name, 'aux'))).split('\n').filter(Boolean);
      assert.match(aux[0]!, /^USER\s+PID\s+%CPU\s+%MEM\s+VSZ\s+RSS\s+TTY\s+STAT\s+START\s+TIME\s+COMMAND$/);
      assert.deepEqual(
        aux
          .slice(1)
          .map((l) => l.split(/\s+/)[1])
          .sort(),
        [...pids].sort(),
      );
      assert.ok(
        aux.some((l) => l.endsWith(' sleep 300')),
        aux.join('\n'),
      );

      const o = (await ok(docker(c.bin, 'top', name, '-o', 'pid,comm'))).split('\n').filter(Boolean);
      assert.match(o[0]!, /^PID\s+COMMAND$/);
      assert.ok(
        o.slice(1).some((l) => /^\d+\s+sleep$/.test(l)),
        o.join('\n'),
      );
      assert.deepEqual(
        o
          .slice(1)
          .map((l) => l.split(/\s+/)[0])
          .sort(),
        [...pids].sort(),
      );

      const noPid = await docker(c.bin, 'top', name, '-o', 'comm');
      assert.deepEqual(
        [noPid.code, noPid.stderr.trim()],
        [1, "Error response from daemon: Couldn't find PID field in ps output"],
      );
      const bad = await docker(c.bin, 'top', name, '--bogus');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^Error response from daemon: ps --bogus: error: unknown gnu long option\n/);

      if (i === 0) {
        const b = await berthCli(d.socket, 'top', name, '-o', 'pid,comm');
        assert.equal(b.code, 0, b.stderr);
        assert.match(b.stdout, /^PID\s+COMMAND\n/);
        assert.match(b.stdout, /\n\d+\s+sleep\n/);
        const bb = await berthCli(d.socket, 'top', name, '-o', 'comm');
        assert.notEqual(bb.code, 0);
        assert.match(bb.stderr, /Couldn't find PID field in ps output/);
      }
    } finally {
      await docker(c.bin, 'rm', '-f', name);
    }
  });
}
