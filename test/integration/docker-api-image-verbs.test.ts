// The image verbs and top that dockerd serves beyond the basics, driven by the real clients (the
// docker CLI 28 at /usr/local/bin/docker, API 1.50, and Debian's docker.io 20.10, API 1.41) and by
// berth's own CLI, against a real berthd under temporary roots: image prune's until and label
// filters (images built with the classic builder, LABEL steps only), top with ps options, and
// import from a URL served by a loopback HTTP server of the test's own; rmi's pruning of untagged
// parents (and --no-prune) compared with a dockerd peer's (Debian's 20.10, on temporary roots).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type CliRun, DOCKER_CLIENTS, dockerCli } from '../lib/docker-cli.ts';
import { BUSYBOX_REF } from '../lib/interop/busybox-archive.ts';
import { DockerdPeer } from '../lib/interop/dockerd.ts';
import { interopRuntime } from '../lib/interop/harness.ts';
import { berthCli, busyboxRootfsTar, type Daemon, finish, startDockerApiBerthd, tempRoots } from './engine-harness.ts';

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
  ({ daemon: d, dockerSocket } = await startDockerApiBerthd(root, runRoot));
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

/** A loopback HTTP server of rootfs tars and failures, on a port the kernel chose. */
async function tarServer(tar: Buffer): Promise<{ base: string; close: () => Promise<void> }> {
  const gz = gzipSync(tar);
  const server = createServer((req, res) => {
    const send = (type: string, body: Buffer) => {
      res.writeHead(200, { 'content-type': type, 'content-length': body.length });
      res.end(body);
    };
    if (req.url === '/rootfs.tar') send('application/x-tar', tar);
    else if (req.url === '/rootfs.tar.gz') send('application/gzip', gz);
    else if (req.url === '/page.html') send('text/html', Buffer.from('<html><body>not a tar</body></html>\n'));
    else if (req.url === '/huge.tar') {
      // More than any disk here: refused from its Content-Length, before the body is read.
      res.writeHead(200, { 'content-type': 'application/x-tar', 'content-length': String(2 ** 52) });
      res.write(tar.subarray(0, 512));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such file\n');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A loopback port nothing listens on: one the kernel gave and that was closed again. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

for (const [i, c] of CLIENTS.entries()) {
  test(`${c.name}: import from a URL (tar and gzip) with --change and -m; a 404, a refused connection, a page that is no tar and an over-size body fail naming the URL, and the image named before stays`, async () => {
    const srv = await tarServer(await busyboxRootfsTar());
    try {
      const ref = `bdiv-url-${i}:1`;
      const out = await ok(
        docker(
          c.bin,
          'import',
          '-m',
          'from the web',
          '--change',
          'CMD ["echo", "imported"]',
          `${srv.base}/rootfs.tar`,
          ref,
        ),
      );
      const lines = out.split('\n').filter(Boolean);
      assert.equal(lines[0], `Downloading from ${srv.base}/rootfs.tar`);
      const id = lines[lines.length - 1]!;
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      assert.equal(
        (await ok(docker(c.bin, 'image', 'inspect', '-f', '{{.Id}} {{json .Config.Cmd}}', ref))).trim(),
        `${id} ["echo","imported"]`,
      );
      assert.match(
        await ok(docker(c.bin, 'history', '--no-trunc', '--format', '{{.Comment}}', ref)),
        /^from the web$/m,
      );
      assert.equal(await ok(docker(c.bin, 'run', '--rm', ref)), 'imported\n');

      const gz = await ok(docker(c.bin, 'import', `${srv.base}/rootfs.tar.gz`, `bdiv-url-${i}:gz`));
      assert.match(gz, /sha256:[0-9a-f]{64}\n$/);
      await ok(docker(c.bin, 'run', '--rm', `bdiv-url-${i}:gz`, 'true'));

      const missing = await docker(c.bin, 'import', `${srv.base}/missing.tar`, ref);
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        new RegExp(
          `Error response from daemon: import from ${srv.base}/missing.tar: the server answered 404 Not Found \\(expected 200 with a rootfs tar\\)`,
        ),
      );
      const port = await closedPort();
      const refused = await docker(c.bin, 'import', `http://127.0.0.1:${port}/rootfs.tar`, ref);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`import from http://127.0.0.1:${port}/rootfs.tar: .*ECONNREFUSED`));
      const page = await docker(c.bin, 'import', `${srv.base}/page.html`, ref);
      assert.equal(page.code, 1);
      assert.match(page.stderr, new RegExp(`import ${srv.base}/page.html: not a tar archive`));
      const huge = await docker(c.bin, 'import', `${srv.base}/huge.tar`, ref);
      assert.equal(huge.code, 1);
      assert.match(
        huge.stderr,
        new RegExp(
          `import from ${srv.base}/huge.tar: the body is ${2 ** 52} bytes, more than the \\d+ bytes an import may take`,
        ),
      );
      // Nothing failed over the name: it is the image imported first.
      assert.equal((await ok(docker(c.bin, 'image', 'inspect', '-f', '{{.Id}}', ref))).trim(), id);

      if (i === 0) {
        const b = await berthCli(d.socket, 'import', `${srv.base}/rootfs.tar.gz`, 'bdiv-url-berth:1');
        assert.equal(b.code, 0, b.stderr);
        await ok(docker(c.bin, 'run', '--rm', 'bdiv-url-berth:1', 'true'));
        const bm = await berthCli(d.socket, 'import', `${srv.base}/missing.tar`, 'bdiv-url-berth:2');
        assert.notEqual(bm.code, 0);
        assert.match(bm.stderr, /the server answered 404 Not Found/);
        await ok(docker(c.bin, 'rmi', 'bdiv-url-berth:1'));
      }
      await ok(docker(c.bin, 'rmi', ref, `bdiv-url-${i}:gz`));
    } finally {
      await srv.close();
    }
  });
}

/**
 * rmi of a child built FROM a local parent that was untagged meanwhile, with and without
 * --no-prune, through `run` (one docker CLI against one daemon): what rmi printed and what
 * `images -a` lists after each step, with image IDs replaced by the image's role.
 */
async function parentScenario(run: (...args: string[]) => Promise<Run>, base: string, tag: string): Promise<string[]> {
  const seen: string[] = [];
  const ids = new Map<string, string>();
  const named = (s: string) => [...ids].reduce((t, [id, role]) => t.replaceAll(id, role), s);
  const step = async (...args: string[]) => {
    const r = await run(...args);
    seen.push(`$ ${args[0] === 'build' ? `build ${args[3]}` : named(args.join(' '))} → ${r.code}`);
    if (args[0] !== 'build') seen.push(...named(r.stdout).split('\n').filter(Boolean));
    return r;
  };
  const images = async () => {
    for (const all of [['-a'], []]) {
      const out = (await run('images', ...all, '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}')).stdout;
      const mine = named(out)
        .split('\n')
        .filter((l) => /PARENT|CHILD|bdiv-np/.test(l));
      seen.push(`images ${all.join('')}: ${mine.sort().join(', ')}`);
    }
  };
  for (const noPrune of [true, false]) {
    const ctx = (text: string) => {
      const dir = mkdtempSync('/tmp/bdiv-ctx-');
      dirs.push(dir);
      writeFileSync(join(dir, 'Dockerfile'), text);
      return dir;
    };
    await step('build', '-q', '-t', `${tag}-par`, ctx(`FROM ${base}\nLABEL role=parent-${noPrune}\n`));
    await step('build', '-q', '-t', `${tag}-chi`, ctx(`FROM ${tag}-par\nLABEL role=child-${noPrune}\n`));
    const inspect = async (ref: string) =>
      (await run('image', 'inspect', '-f', '{{.Id}} {{.Parent}}', ref)).stdout.trim().split(' ');
    const [parId] = await inspect(`${tag}-par`);
    const [chiId, chiParent] = await inspect(`${tag}-chi`);
    ids.set(parId!, 'PARENT').set(chiId!, 'CHILD');
    seen.push(`child's Parent: ${named(chiParent ?? '')}`);
    await step('rmi', `${tag}-par`);
    await images();
    // By ID, a parent with a child is docker's hard conflict.
    const conflict = await run('rmi', parId!);
    seen.push(
      `rmi PARENT → ${conflict.code} ${named(conflict.stderr.trim()).replace(/unable to delete \w+/, 'unable to delete PARENT-SHORT')}`,
    );
    await step('rmi', ...(noPrune ? ['--no-prune'] : []), `${tag}-chi`);
    await images();
    if (noPrune) {
      await step('rmi', parId!);
      await images();
    }
  }
  return seen;
}

test("rmi --no-prune keeps the untagged parent a build stood on, as dockerd's does; without it the parent goes with the child (berthd and a dockerd peer compared)", async () => {
  const bin = CLIENTS[1].bin;
  const mine = await parentScenario((...args) => docker(bin, ...args), 'busybox', 'bdiv-np');
  // A commit's parent is the image its container was made from, as dockerd records it.
  await ok(docker(bin, 'run', '--name', 'bdiv-np-commit', 'busybox', 'true'));
  await ok(docker(bin, 'commit', 'bdiv-np-commit', 'bdiv-np-committed'));
  const busyboxId = (await ok(docker(bin, 'image', 'inspect', '-f', '{{.Id}}', 'busybox'))).trim();
  assert.equal((await ok(docker(bin, 'image', 'inspect', '-f', '{{.Parent}}', 'bdiv-np-committed'))).trim(), busyboxId);
  await ok(docker(bin, 'rm', 'bdiv-np-commit'));
  await ok(docker(bin, 'rmi', 'bdiv-np-committed'));
  assert.ok((await tags(bin)).includes('busybox:latest'), 'a tagged parent is never pruned');
  const peer = await DockerdPeer.start(interopRuntime());
  let theirs: string[];
  try {
    await peer.loadBusybox(BUSYBOX_REF);
    theirs = await parentScenario(
      async (...args) => {
        const r = peer.docker(args);
        return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
      },
      BUSYBOX_REF,
      'bdiv-np',
    );
  } finally {
    await peer.stop();
  }
  assert.deepEqual(mine, theirs);
  // And what that is, spelled out once.
  assert.ok(mine.includes("child's Parent: PARENT"), mine.join('\n'));
  assert.ok(mine.includes('images -a: <none>:<none> PARENT, bdiv-np-chi:latest CHILD'), mine.join('\n'));
  assert.ok(mine.includes('images : bdiv-np-chi:latest CHILD'), mine.join('\n'));
});
