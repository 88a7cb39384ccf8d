// POST /build (the classic builder's protocol) driven by the real clients: the docker CLI 28 at
// /usr/local/bin/docker and Debian's docker.io 20.10 at /usr/bin/docker, both with
// DOCKER_BUILDKIT=0 (there is no buildx plugin here), and Debian's docker-compose 1.29 (`build:`),
// against a real berthd under temporary roots with busybox imported through the native API. A
// missing client fails the test naming it (scripts/setup.sh installs them).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { push } from '../../src/images/push.ts';
import { DOCKER_CLIENTS } from '../lib/docker-cli.ts';
import { startRegistry } from '../lib/registry.ts';
import { busyboxImage } from '../lib/test-images.ts';
import { type Daemon, finish, startDockerApiBerthd, tempRoots } from './engine-harness.ts';

const CLIENTS = DOCKER_CLIENTS;
const COMPOSE = '/usr/bin/docker-compose';

const { root, runRoot } = tempRoots();
let d: Daemon;
let dockerSocket: string;
const dirs: string[] = [];

type Run = { code: number; stdout: string; stderr: string };

function run(bin: string, args: string[], cwd?: string, o: { stdin?: string; buildkitEnv?: false } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DOCKER_HOST: `unix://${dockerSocket}`,
      DOCKER_BUILDKIT: '0',
      DOCKER_CONFIG: join(root, 'docker-config'),
    };
    if (o.buildkitEnv === false) delete env.DOCKER_BUILDKIT;
    const child = execFile(
      bin,
      args,
      { encoding: 'utf8', timeout: 180_000, env, ...(cwd ? { cwd } : {}) },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(o.stdin ?? '');
  });
}

function context(files: Record<string, string>): string {
  const dir = mkdtempSync('/tmp/bdk-build-');
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

before(async () => {
  ({ daemon: d, dockerSocket } = await startDockerApiBerthd(root, runRoot, 'the Docker API build tests'));
});

after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await finish(d, root, runRoot);
});

const DOCKERFILE = `FROM busybox
RUN echo built > /built.txt && echo run-output-$((6*7))
COPY hello.txt /hello.txt
CMD ["sh", "-c", "cat /built.txt /hello.txt"]
`;

for (const [i, c] of CLIENTS.entries()) {
  const tag = `bdk-build-${i}`;

  test(`${c.name}: DOCKER_BUILDKIT=0 build -t prints the classic steps and RUN output, and run of the image prints what it built`, async () => {
    const ctx = context({ Dockerfile: DOCKERFILE, 'hello.txt': `hello from ${c.name}\n` });
    const b = await run(c.bin, ['build', '-t', tag, ctx]);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    assert.match(b.stdout, /Step 1\/4 : FROM busybox\n/);
    assert.match(b.stdout, /Step 2\/4 : RUN echo built > \/built.txt && echo run-output-\$\(\(6\*7\)\)\n/);
    assert.match(b.stdout, /^run-output-42$/m);
    const id = /Successfully built ([0-9a-f]{12})\n/.exec(b.stdout)?.[1];
    assert.ok(id, b.stdout);
    assert.match(b.stdout, new RegExp(`Successfully tagged ${tag}:latest\n`));
    const inspect = await run(c.bin, ['image', 'inspect', '-f', '{{.Id}}', tag]);
    assert.equal(
      inspect.stdout
        .trim()
        .replace(/^sha256:/, '')
        .slice(0, 12),
      id,
      inspect.stderr,
    );
    const r = await run(c.bin, ['run', '--rm', tag]);
    assert.deepEqual([r.code, r.stdout], [0, `built\nhello from ${c.name}\n`], r.stderr);

    // The same context again: every step is served by the cache, and the image is the same.
    const again = await run(c.bin, ['build', '-t', tag, ctx]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.match(/ ---> Using cache\n/g)?.length, 3, again.stdout);
    assert.doesNotMatch(again.stdout, /run-output-42/);
    assert.match(again.stdout, new RegExp(`Successfully built ${id}\n`));
  });

  test(`${c.name}: build -q prints only the image ID; --compress -f sends a gzip context with another Dockerfile name`, async () => {
    const ctx = context({ 'other.Dockerfile': 'FROM busybox\nLABEL quiet=yes\nCMD ["echo", "quiet"]\n' });
    const q = await run(c.bin, [
      'build',
      '-q',
      '--compress',
      '-f',
      join(ctx, 'other.Dockerfile'),
      '-t',
      `${tag}-q`,
      ctx,
    ]);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const inspect = await run(c.bin, [
      'image',
      'inspect',
      '-f',
      '{{.Id}} {{index .Config.Labels "quiet"}}',
      `${tag}-q`,
    ]);
    assert.equal(inspect.stdout, `${q.stdout.trim()} yes\n`, inspect.stderr);
  });

  test(`${c.name}: a failing RUN exits non-zero with the step and the command's code; a refused option is named`, async () => {
    const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo about-to-fail && exit 7\n' });
    const b = await run(c.bin, ['build', '-t', `${tag}-bad`, ctx]);
    assert.notEqual(b.code, 0);
    assert.match(b.stdout, /^about-to-fail$/m);
    assert.match(b.stderr, /Dockerfile:2: step 2\/2 .*the command returned a non-zero code: 7/);
    // Quiet: the held-back steps and output come before the error, so the failure is still explained.
    const q = await run(c.bin, ['build', '-q', ctx]);
    assert.notEqual(q.code, 0);
    assert.equal(q.stdout, '');
    assert.match(
      q.stderr,
      /Step 2\/2 : RUN echo about-to-fail && exit 7\n[\s\S]*about-to-fail\n[\s\S]*non-zero code: 7/,
    );
    const none = await run(c.bin, ['image', 'inspect', `${tag}-bad`]);
    assert.notEqual(none.code, 0, 'no image was tagged');

    // --platform sets the platform of the stages: a COPY-only one is built, its config says so; a RUN in it is refused.
    const foreign = context({ Dockerfile: 'FROM scratch\nCOPY f /f\n', f: 'x' });
    const s390x = await run(c.bin, ['build', '--platform', 'linux/s390x', '-t', `${tag}-s390x`, foreign]);
    assert.equal(s390x.code, 0, s390x.stderr);
    const arch = await run(c.bin, ['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', `${tag}-s390x`]);
    assert.equal(arch.stdout.trim(), 'linux/s390x');
    writeFileSync(join(foreign, 'Dockerfile'), 'FROM scratch\nCOPY f /f\nRUN echo never\n');
    const arm = await run(c.bin, ['build', '--platform', 'linux/s390x', foreign]);
    assert.notEqual(arm.code, 0);
    assert.match(
      arm.stderr,
      /Dockerfile:3: RUN in stage 0, whose platform is linux\/s390x: this host runs linux\/[a-z0-9]+ programs/,
    );
  });

  test(`${c.name}: builder prune -f forgets the cache (the next build runs RUN again)`, async () => {
    const ctx = context({ Dockerfile: `FROM busybox\nRUN echo pruned-${i}\n` });
    assert.equal((await run(c.bin, ['build', ctx])).code, 0);
    const p = await run(c.bin, ['builder', 'prune', '-f']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /Total reclaimed space/);
    const b = await run(c.bin, ['build', ctx]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, new RegExp(`^pruned-${i}$`, 'm'));
    assert.doesNotMatch(b.stdout, /Using cache/);
  });
}

test('docker.io 20.10 without DOCKER_BUILDKIT (the daemon names no BuildKit) builds a Dockerfile from stdin; --iidfile gets the aux ID', async () => {
  const dir = context({});
  const iid = join(dir, 'iid');
  const b = await run(CLIENTS[1].bin, ['build', '--iidfile', iid, '-t', 'bdk-build-stdin', '-'], dir, {
    stdin: 'FROM busybox\nENV FROM_STDIN=yes\nCMD ["sh", "-c", "echo $FROM_STDIN"]\n',
    buildkitEnv: false,
  });
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /Step 1\/3 : FROM busybox\n/);
  const { readFileSync } = await import('node:fs');
  const inspect = await run(CLIENTS[1].bin, ['image', 'inspect', '-f', '{{.Id}}', 'bdk-build-stdin']);
  assert.equal(readFileSync(iid, 'utf8'), inspect.stdout.trim());
  const r = await run(CLIENTS[1].bin, ['run', '--rm', 'bdk-build-stdin']);
  assert.deepEqual([r.code, r.stdout], [0, 'yes\n'], r.stderr);
});

test('docker 28: --target, --build-arg and --label reach the builder (a multi-stage Dockerfile built to its first stage)', async () => {
  const ctx = context({
    Dockerfile:
      'FROM busybox AS base\nARG WHO=nobody\nRUN echo "hi $WHO" > /who\nCMD ["cat", "/who"]\nFROM base AS final\nRUN false\n',
  });
  const b = await run(CLIENTS[0].bin, [
    'build',
    '--target',
    'base',
    '--build-arg',
    'WHO=target',
    '--label',
    'made.by=bdk',
    '-t',
    'bdk-build-target',
    ctx,
  ]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  const r = await run(CLIENTS[0].bin, ['run', '--rm', 'bdk-build-target']);
  assert.deepEqual([r.code, r.stdout], [0, 'hi target\n'], r.stderr);
  const l = await run(CLIENTS[0].bin, [
    'image',
    'inspect',
    '-f',
    '{{index .Config.Labels "made.by"}}',
    'bdk-build-target',
  ]);
  assert.equal(l.stdout, 'bdk\n', l.stderr);
});

test('a client that goes away mid-build does not take berthd with it: the build goes on, and the next one is served', async () => {
  const { request } = await import('node:http');
  const { execFileSync } = await import('node:child_process');
  const ctx = context({
    Dockerfile: 'FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8 9 10; do echo tick-$i; sleep 0.2; done\n',
  });
  const tar = execFileSync('tar', ['-C', ctx, '-c', '.']);
  await new Promise<void>((resolve, reject) => {
    const req = request(
      {
        socketPath: dockerSocket,
        method: 'POST',
        path: '/v1.41/build?t=bdk-build-gone',
        headers: { 'content-type': 'application/x-tar' },
      },
      (res) => {
        let seen = '';
        res.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          if (/tick-\d/.test(seen)) {
            req.destroy();
            resolve();
          }
        });
        res.on('end', () => reject(new Error(`the build ended before the client went away: ${seen}`)));
      },
    );
    req.on('error', () => {});
    req.end(tar);
  });
  const b = await run(CLIENTS[0].bin, ['build', '-t', 'bdk-build-gone2', ctx]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /Successfully tagged bdk-build-gone2:latest/);
  const v = await run(CLIENTS[0].bin, ['version', '--format', '{{.Server.APIVersion}}']);
  assert.equal(v.stdout.trim(), '1.50', v.stderr);
});

test('docker 28: build --network host runs RUN steps in the host network namespace, the default does not; other modes are refused', async () => {
  const { readlinkSync } = await import('node:fs');
  const hostNs = readlinkSync('/proc/self/ns/net');
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo "netns=$(readlink /proc/self/ns/net)"\n' });
  const host = await run(CLIENTS[0].bin, ['build', '--network', 'host', ctx]);
  assert.equal(host.code, 0, host.stderr);
  assert.match(host.stdout, new RegExp(`^netns=${hostNs.replace(/[[\]]/g, '\\$&')}$`, 'm'));
  const dflt = await run(CLIENTS[0].bin, ['build', ctx]);
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.match(dflt.stdout, /^netns=net:\[\d+\]$/m);
  assert.doesNotMatch(dflt.stdout, /Using cache/, "the network is part of the step's cache key");
  assert.ok(!dflt.stdout.includes(`netns=${hostNs}\n`), dflt.stdout);
  const bad = await run(CLIENTS[0].bin, ['build', '--network', 'container:x', ctx]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /networkmode container:x: not supported by berthd/);
});

test('docker 28: builds of the same steps at once (two terminals, compose build --parallel) all succeed: one writes a shared layer, the others find it', async () => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN sleep 0.3; echo same\n' });
  for (let round = 0; round < 2; round++) {
    const rs = await Promise.all([0, 1, 2].map(() => run(CLIENTS[0].bin, ['build', '--no-cache', ctx])));
    for (const r of rs) assert.equal(r.code, 0, r.stderr + r.stdout);
  }
});

test("Debian's docker-compose 1.29: build of a service's build: context (with args) through POST /build; the image runs", async () => {
  if (!existsSync(COMPOSE))
    throw new Error(`${COMPOSE} is missing: install the Debian package docker-compose (scripts/setup.sh)`);
  const project = `bdkb${process.pid % 100000}`;
  const ctx = context({
    Dockerfile: 'FROM busybox\nARG GREETING=unset\nRUN echo "$GREETING" > /greeting\nCMD ["cat", "/greeting"]\n',
    'docker-compose.yml': `version: "2.4"\nservices:\n  app:\n    build:\n      context: .\n      args:\n        GREETING: hello-compose\n    image: ${project}-app\n`,
  });
  try {
    const b = await run(COMPOSE, ['-p', project, 'build'], ctx);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    assert.match(b.stdout + b.stderr, /Successfully tagged /);
    // compose up would need a network (this berthd runs without CNI): the built image is run by the docker CLI.
    const r = await run(CLIENTS[0].bin, ['run', '--rm', `${project}-app`]);
    assert.deepEqual([r.code, r.stdout], [0, 'hello-compose\n'], r.stderr);
  } finally {
    await run(CLIENTS[0].bin, ['rmi', `${project}-app`]);
  }
});

test("both clients: FROM an image of a registry that needs a login pulls with the client's credentials (X-Registry-Config); without them the pull is refused", async () => {
  const creds = { username: 'alice', password: 's3cret' };
  const reg = await startRegistry({ htpasswd: { [creds.username]: creds.password } });
  const clientConfig = join(root, 'docker-config', 'config.json');
  try {
    const ref = `${reg.host}/private/busybox:1`;
    const seedDir = await mkdtemp('/tmp/bdk-seed-');
    try {
      const content = new LocalContentStore(join(seedDir, 'content'));
      const images = new ImageStore(seedDir);
      await busyboxImage(content, images, ref);
      const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } }, credentials: async () => creds });
      await push(ref, { client, content, images });
      await client.close();
    } finally {
      await rm(seedDir, { recursive: true, force: true });
    }
    const ctx = context({ Dockerfile: `FROM ${ref}\nRUN echo from-private\n` });
    const anon = await run(CLIENTS[0].bin, ['build', ctx]);
    assert.notEqual(anon.code, 0, anon.stdout);
    assert.match(anon.stderr, /401|unauthorized|authentication/i);

    mkdirSync(join(root, 'docker-config'), { recursive: true });
    writeFileSync(
      clientConfig,
      JSON.stringify({
        auths: { [reg.host]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } },
      }),
    );
    for (const c of CLIENTS) {
      // --pull: each client's build pulls again, with the credentials it sends.
      const b = await run(c.bin, ['build', '--pull', ctx]);
      assert.equal(b.code, 0, `${c.name}: ${b.stderr}${b.stdout}`);
      assert.match(b.stdout, /Successfully built /);
    }
  } finally {
    await rm(clientConfig, { force: true });
    await reg.stop();
  }
});
