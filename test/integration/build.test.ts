// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text, whose ${VAR} is the subject
// berth build end to end, as root: a real berthd under temporary roots, a busybox image imported
// locally, Dockerfiles built through the real `berth build` CLI, the results inspected and run.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  berthCli,
  busyboxRootfsTar,
  type Daemon,
  finish,
  NODE,
  REPO,
  startBerthd,
  tempRoots,
} from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;
const contexts: string[] = [];

const berth = (...args: string[]) => berthCli(d.socket, ...args);

/** A context directory with `files` (path → content). */
function context(files: Record<string, string>): string {
  const dir = mkdtempSync('/tmp/btb-ctx-');
  contexts.push(dir);
  for (const [p, text] of Object.entries(files)) {
    const abs = join(dir, p);
    mkdirSync(join(abs, '..'), { recursive: true });
    writeFileSync(abs, text);
  }
  return dir;
}

type Inspect = {
  config: {
    config: Record<string, unknown>;
    history: { created_by: string; empty_layer?: boolean }[];
    rootfs: { diff_ids: string[] };
  };
  layers: unknown[];
};
async function inspect(ref: string): Promise<Inspect> {
  return (await d.client.imageInspect(ref)) as Inspect;
}

async function build(dir: string, ...flags: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return berth('build', ...flags, dir);
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('build integration tests need root (mounts, namespaces)');
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  d = await startBerthd(root, runRoot, ['--no-network'], { defaultRuntime: RUNTIME });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(async () => {
  for (const c of contexts) rmSync(c, { recursive: true, force: true });
  await finish(d, root, runRoot);
});

test('every config instruction, COPY and RUN: the image config, history and files are right, and it runs', async () => {
  const dir = context({
    Dockerfile: [
      '# syntax=docker/dockerfile:1',
      'ARG BASE=busybox',
      'FROM $BASE AS base',
      'ARG GREETING=hello',
      'ENV APP_HOME=/app NAME="the app"',
      'LABEL org.example.name="$NAME" version=1',
      'WORKDIR $APP_HOME',
      'COPY --chmod=755 run.sh ./',
      'COPY conf/ /etc/app/',
      'COPY --chown=65534:65534 data.txt /srv/data/',
      'RUN echo "$GREETING from $(pwd)" > made.txt && rm -f /etc/app/drop.conf && \\',
      '    mkdir -p /var/x && touch /var/x/y',
      'RUN <<EOF',
      'echo heredoc-ran > /app/heredoc.txt',
      'EOF',
      'COPY <<-CONF /etc/app/inline.conf',
      '\tkey=$APP_HOME',
      'CONF',
      'EXPOSE 8080 53/udp',
      'VOLUME /data',
      'USER nobody',
      'RUN id -u > /tmp/run-as',
      'USER 65534:65534',
      'STOPSIGNAL SIGINT',
      'HEALTHCHECK --interval=30s --retries=2 CMD true',
      'SHELL ["/bin/sh", "-ec"]',
      'ENTRYPOINT ["/app/run.sh"]',
      'CMD ["arg1"]',
      '',
    ].join('\n'),
    'run.sh':
      '#!/bin/sh\necho "run.sh $* as $(id -u) in $(pwd)"; cat /tmp/run-as /app/made.txt /app/heredoc.txt /etc/app/a.conf /etc/app/inline.conf; ls /etc/app; stat -c %u /srv/data/data.txt 2>/dev/null || ls -n /srv/data\n',
    'conf/a.conf': 'a=1\n',
    'conf/drop.conf': 'gone\n',
    'data.txt': 'data\n',
  });
  const r = await build(dir, '-t', 'built:1', '-t', 'built:alias', '--build-arg', 'GREETING=hi');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /#\d+ \[base\] RUN echo/);
  const img = await inspect('built:1');
  const c = img.config.config;
  assert.deepEqual(c.Env, [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'APP_HOME=/app',
    'NAME=the app',
  ]);
  assert.deepEqual(c.Labels, { 'org.example.name': 'the app', version: '1' });
  assert.equal(c.WorkingDir, '/app');
  assert.equal(c.User, '65534:65534');
  assert.equal(c.StopSignal, 'SIGINT');
  assert.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '53/udp': {} });
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.deepEqual(c.Entrypoint, ['/app/run.sh']);
  assert.deepEqual(c.Cmd, ['arg1']);
  assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Retries: 2 });
  assert.deepEqual(c.Shell, ['/bin/sh', '-ec']);
  // busybox's one layer + 3 COPY + 2 RUN + 1 COPY here-document + the RUN as nobody.
  assert.equal(img.config.rootfs.diff_ids.length, 8);
  const hist = img.config.history.filter((h) => !h.created_by.startsWith('berth import'));
  assert.deepEqual(
    hist.map((h) => [h.created_by.split(' ')[0], h.empty_layer === true]),
    [
      ['ENV', true],
      ['LABEL', true],
      ['WORKDIR', true],
      ['COPY', false],
      ['COPY', false],
      ['COPY', false],
      ['RUN', false],
      ['RUN', false],
      ['COPY', false],
      ['EXPOSE', true],
      ['VOLUME', true],
      ['USER', true],
      ['RUN', false],
      ['USER', true],
      ['STOPSIGNAL', true],
      ['HEALTHCHECK', true],
      ['SHELL', true],
      ['ENTRYPOINT', true],
      ['CMD', true],
    ],
  );
  assert.match(hist[6]!.created_by, /^RUN \|1 GREETING=hi \/bin\/sh -c echo/);
  assert.equal((await inspect('built:alias')).config.rootfs.diff_ids.length, 8, 'every -t names the image');
  // The image runs: files from COPY (modes, owners), from RUN (and RUN's deletion as a whiteout).
  const run = await berth('run', '--rm', 'built:1', 'x');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    'run.sh x as 65534 in /app\n65534\nhi from /app\nheredoc-ran\na=1\nkey=/app\na.conf\ninline.conf\n65534\n',
  );
});

test('an unchanged rebuild reuses every step and gives the same image; a changed file or build arg misses from that step on', async () => {
  const dir = context({
    Dockerfile:
      'FROM busybox\nARG V=1\nCOPY a.txt /a.txt\nRUN echo "v=$V" > /v.txt\nCOPY b.txt /b.txt\nCMD ["cat", "/a.txt", "/v.txt", "/b.txt"]\n',
    'a.txt': 'a\n',
    'b.txt': 'b\n',
  });
  const first = await build(dir, '-t', 'cache:1');
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.doesNotMatch(first.stdout, /CACHED/);
  const again = await build(dir, '-t', 'cache:2');
  assert.equal(again.code, 0, again.stderr);
  for (const step of ['COPY a.txt', 'RUN echo', 'COPY b.txt', 'CMD'])
    assert.match(again.stdout, new RegExp(`${step}.* CACHED\\n`), again.stdout);
  assert.equal(again.stdout.trim().split('\n').at(-1), first.stdout.trim().split('\n').at(-1), 'the same image id');
  // A touched file (same content, new mtime) still hits: keys take content, never mtimes.
  const t = new Date(Date.now() + 10_000);
  utimesSync(join(dir, 'a.txt'), t, t);
  const touched = await build(dir);
  assert.match(touched.stdout, /COPY a\.txt.* CACHED/);
  // A changed file: its COPY and everything after miss.
  writeFileSync(join(dir, 'b.txt'), 'B\n');
  const changed = await build(dir, '-t', 'cache:3');
  assert.match(changed.stdout, /COPY a\.txt.* CACHED/);
  assert.match(changed.stdout, /RUN echo.* CACHED/);
  assert.match(changed.stdout, /COPY b\.txt \/b\.txt\n/);
  // A changed build arg: the RUN that sees it misses.
  const arg = await build(dir, '-t', 'cache:4', '--build-arg', 'V=2');
  assert.match(arg.stdout, /COPY a\.txt.* CACHED/);
  assert.match(arg.stdout, /RUN echo "v=\$V" > \/v\.txt\n/);
  const out = await berth('run', '--rm', 'cache:4');
  assert.equal(out.stdout, 'a\nv=2\nB\n');
  const nc = await build(dir, '--no-cache');
  assert.doesNotMatch(nc.stdout, /CACHED/);
});

test('multi-stage: COPY --from a stage, --target skips unneeded stages, FROM an earlier stage', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox AS builder',
      'RUN mkdir /out && echo built > /out/artifact',
      'FROM busybox AS unused',
      'RUN echo unused-stage-ran && false',
      'FROM scratch AS final',
      'COPY --from=builder /out/artifact /artifact',
      'COPY --from=builder /bin/busybox /bin/busybox',
      'FROM builder AS extended',
      'RUN cat /out/artifact',
      '',
    ].join('\n'),
  });
  const r = await build(dir, '-t', 'multi:final', '--target', 'final');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.doesNotMatch(r.stdout, /unused-stage-ran|\[unused\]|\[extended\]/);
  const run = await berth('run', '--rm', '--entrypoint', '/bin/busybox', 'multi:final', 'cat', '/artifact');
  assert.equal(run.stdout, 'built\n', run.stderr);
  // The COPY's snapshot hard-links the stage's file (the same inode) instead of copying it.
  const snaps = join(root, 'snapshots/overlay/snapshots');
  const inodes = (rel: string) =>
    readdirSync(snaps)
      .map((id) => join(snaps, id, 'fs', rel))
      .filter((p) => existsSync(p))
      .map((p) => statSync(p).ino);
  assert.ok(
    inodes('artifact').some((i) => inodes('out/artifact').includes(i)),
    'COPY --from links the file',
  );
  const ext = await build(dir, '-t', 'multi:ext', '--target', 'extended');
  assert.equal(ext.code, 0, ext.stderr);
  assert.match(ext.stdout, /\[builder\] RUN mkdir.* CACHED/);
  const bad = await build(dir, '--target', 'nope');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--target nope: no such stage/);
});

test('.dockerignore: excluded files are not in the context, ! exceptions are; context symlinks stay inside', async () => {
  const dir = context({
    Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCMD ["sh", "-c", "cd /ctx && find . -type f -o -type l | sort"]\n',
    '.dockerignore': '*.log\nsecret/\n!keep.log\n',
    'a.txt': 'a',
    'x.log': 'x',
    'keep.log': 'k',
    'secret/s.txt': 's',
  });
  symlinkSync('/etc/shadow', join(dir, 'abs-link'));
  const r = await build(dir, '-t', 'ignore:1');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const run = await berth('run', '--rm', 'ignore:1');
  assert.equal(run.stdout, './.dockerignore\n./Dockerfile\n./a.txt\n./abs-link\n./keep.log\n');
  // COPY of a symlink that points out of the context resolves inside it (there is no /etc/shadow in the context).
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY abs-link /x\n');
  const out = await build(dir);
  assert.notEqual(out.code, 0);
  assert.match(out.stderr, /Dockerfile:2: COPY abs-link: "abs-link" not found in the build context/);
  const excluded = context({ Dockerfile: 'FROM busybox\nCOPY x.log /\n', '.dockerignore': '*.log\n', 'x.log': 'x' });
  const ex = await build(excluded);
  assert.match(ex.stderr, /not found in the build context \(or excluded by \.dockerignore\)/);
});

test('ADD extracts a local tar and refuses a URL; a failing RUN names the step, line and output and leaves nothing', async () => {
  const { tarOf } = await import('../lib/test-images.ts');
  const dir = context({ Dockerfile: 'FROM busybox\nADD files.tar /opt/\nRUN cat /opt/inner/f.txt\n' });
  await writeFile(
    join(dir, 'files.tar'),
    await tarOf([{ name: 'inner/' }, { name: 'inner/f.txt', data: Buffer.from('from-tar\n') }]),
  );
  const r = await build(dir, '-t', 'add:1');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /from-tar/);
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nADD http://example.com/x /x\n');
  const url = await build(dir);
  assert.match(url.stderr, /ADD http:\/\/example\.com\/x: fetching URLs is not supported/);

  const before = (await d.client.images()).map((i) => i.name).sort();
  const snapsBefore = readdirSync(join(root, 'snapshots/overlay/snapshots')).length;
  writeFileSync(
    join(dir, 'Dockerfile'),
    'FROM busybox\nRUN echo step-one > /one\nRUN echo "about to fail"; \\\n  exit 7\n',
  );
  const bad = await build(dir, '-t', 'never:1');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Dockerfile:3: step \d+\/\d+ .*RUN echo "about to fail".*returned a non-zero code: 7/s);
  assert.match(bad.stderr, /about to fail/);
  assert.deepEqual(
    (await d.client.list({ all: true })).map((c) => c.name),
    [],
    'no container is left',
  );
  assert.deepEqual((await d.client.images()).map((i) => i.name).sort(), before, 'no image (temporary or half) is left');
  // The layer of the step that succeeded stays (cached, unpacked); nothing else does, and a gc takes it once no image uses it.
  const snapsAfter = readdirSync(join(root, 'snapshots/overlay/snapshots')).length;
  assert.ok(snapsAfter <= snapsBefore + 1, `snapshots: ${snapsBefore} before, ${snapsAfter} after`);
  const bp = await berth('builder', 'prune');
  assert.match(bp.stdout, /Removed \d+ build cache entries/);
  const q = await build(context({ Dockerfile: 'FROM busybox\nENV Q=1\n' }), '-q');
  assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
  await mkdir(join(dir, 'unused'), { recursive: true });
});

test('a tar stream as the context (the API face); ONBUILD triggers run in the next build; --iidfile and --output', async () => {
  const { tarOf } = await import('../lib/test-images.ts');
  const body = await tarOf([
    {
      name: 'Dockerfile',
      data: Buffer.from(
        'FROM busybox\nCOPY . /in/\nONBUILD COPY hello.txt /hello-from-onbuild\nONBUILD RUN echo trigger-ran\n',
      ),
    },
    { name: '.dockerignore', data: Buffer.from('skip.txt\n') },
    { name: 'hello.txt', data: Buffer.from('hello\n') },
    { name: 'skip.txt', data: Buffer.from('skip\n') },
  ]);
  const events: string[] = [];
  const r = await d.client.build({
    context: Readable.from([body]),
    tags: ['onbuild-base:1'],
    onEvent: (e) => void (e.kind === 'step' && events.push(e.instruction)),
  });
  assert.deepEqual(events, [
    'FROM busybox',
    'COPY . /in/',
    'ONBUILD COPY hello.txt /hello-from-onbuild',
    'ONBUILD RUN echo trigger-ran',
  ]);
  assert.match(r.id, /^sha256:/);
  const base = await inspect('onbuild-base:1');
  assert.deepEqual(base.config.config.OnBuild, ['COPY hello.txt /hello-from-onbuild', 'RUN echo trigger-ran']);
  const ls = await berth('run', '--rm', 'onbuild-base:1', 'ls', '-A', '/in');
  assert.equal(ls.stdout, '.dockerignore\nDockerfile\nhello.txt\n');

  const dir = context({
    Dockerfile: 'FROM onbuild-base:1\nRUN cat /hello-from-onbuild\n',
    'hello.txt': 'child hello\n',
  });
  const iid = join(dir, '..', `${dir.split('/').at(-1)}.iid`);
  const archive = `${iid}.tar`;
  contexts.push(iid, archive);
  const child = await build(dir, '-t', 'onbuild-child:1', '--iidfile', iid, '--output', `type=oci,dest=${archive}`);
  assert.equal(child.code, 0, child.stderr + child.stdout);
  assert.match(child.stdout, /trigger-ran/);
  assert.match(child.stdout, /child hello/);
  assert.equal(readFileSync(iid, 'utf8'), child.stdout.trim().split('\n').at(-1));
  assert.equal(
    (await inspect('onbuild-child:1')).config.config.OnBuild ?? null,
    null,
    'triggers are not inherited further',
  );
  const { execFileSync } = await import('node:child_process');
  assert.match(execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }), /index\.json/);
});

test('a context of 2,000 files: built, and rebuilt from the cache', async () => {
  const files: Record<string, string> = {
    Dockerfile: 'FROM busybox\nCOPY src/ /src/\nRUN ls /src/*/ | wc -l > /count\nCMD ["cat", "/count"]\n',
  };
  for (let i = 0; i < 2000; i++) files[`src/d${i % 20}/f${i}.txt`] = `file ${i}\n`;
  const dir = context(files);
  const r = await build(dir, '-t', 'many:1');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const again = await build(dir, '-t', 'many:1');
  assert.match(again.stdout, /COPY src\/ \/src\/ CACHED/);
  assert.match(again.stdout, /RUN ls .* CACHED/);
  const run = await berth('run', '--rm', 'many:1');
  // `ls dir/ dir/…` prints a header and a blank line per directory besides the names.
  assert.equal(Number(run.stdout.trim()), 2000 + 20 * 2 - 1, run.stderr);
});

test('berthd killed in the middle of a RUN: at its next start no build container or temporary image is left', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nRUN echo started; sleep 1000\n' });
  let output = '';
  const building = d.client
    .build({
      context: dir,
      onEvent: (e) => {
        if (e.kind === 'output') output += e.text;
      },
    })
    .catch((e: Error) => e);
  const deadline = Date.now() + 30_000;
  while (!output.includes('started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(output, /started/);
  assert.equal((await d.client.images()).filter((i) => i.name.startsWith('localhost/berth-build-tmp:')).length, 1);
  await d.stop('SIGKILL');
  await building;
  d = await startBerthd(root, runRoot, ['--no-network'], { defaultRuntime: RUNTIME });
  assert.deepEqual(
    (await d.client.list({ all: true })).map((c) => c.name),
    [],
  );
  assert.deepEqual(
    (await d.client.images()).filter((i) => i.name.startsWith('localhost/berth-build-tmp:')),
    [],
  );
  assert.match(
    d.stderr(),
    /removed what interrupted builds left: container [0-9a-f]{12}, image name localhost\/berth-build-tmp:/,
  );
});

test("independent stages build at once: a stage whose RUN waits for another stage's RUN finishes", async () => {
  // Both RUNs share the host's network: `b` serves a line once, `a` connects until it gets it.
  // Built one after the other, `a` would retry for ever (and the test time out); built at once,
  // each finishes. (The client's stdin stays open a moment: busybox nc ends at its stdin's end.)
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dir = context({
    Dockerfile: [
      'FROM busybox AS a',
      `RUN --network=host sh -c 'until sleep 1 | nc 127.0.0.1 ${port} > /got && test -s /got; do sleep 0.2; done'`,
      'FROM busybox AS b',
      `RUN --network=host sh -c 'echo hello-from-b | nc -l -p ${port}'`,
      'FROM busybox',
      'COPY --from=a /got /got',
      'COPY --from=b /bin/busybox /b-was-built',
      'CMD ["cat", "/got"]',
      '',
    ].join('\n'),
  });
  const r = await build(dir, '-t', 'parallel:1', '--no-cache');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const run = await berth('run', '--rm', 'parallel:1');
  assert.equal(run.stdout, 'hello-from-b\n', run.stderr);
});

test('RUN --mount: a cache directory outlives builds, a bind shows the context read-only, a tmpfs; none is in the layer', async () => {
  const dir = context({
    Dockerfile: [
      'FROM busybox',
      'RUN --mount=type=cache,target=/cache sh -c "echo run >> /cache/runs; wc -l < /cache/runs > /count"',
      'RUN --mount=type=bind,source=data,target=/ctx sh -c "cat /ctx/d.txt > /copied; touch /ctx/x 2>/dev/null || echo read-only > /bind-ro"',
      'RUN --mount=type=tmpfs,target=/scratch sh -c "grep -q \' /scratch tmpfs \' /proc/mounts && echo tmpfs > /tmpfs-ok"',
      'CMD ["sh", "-c", "cat /count /copied /bind-ro /tmpfs-ok; ls -A /cache /ctx /scratch 2>/dev/null | wc -w"]',
      '',
    ].join('\n'),
    'data/d.txt': 'from-context\n',
  });
  const first = await build(dir, '-t', 'mounts:1');
  assert.equal(first.code, 0, first.stderr + first.stdout);
  const second = await build(dir, '-t', 'mounts:2', '--no-cache');
  assert.equal(second.code, 0, second.stderr + second.stdout);
  const run = await berth('run', '--rm', 'mounts:2');
  assert.equal(run.stdout, '2\nfrom-context\nread-only\ntmpfs\n0\n', run.stderr);
  // A changed file under the bind's source misses the step that binds it.
  writeFileSync(join(dir, 'data/d.txt'), 'changed\n');
  const changed = await build(dir);
  assert.match(changed.stdout, /RUN --mount=type=cache.* CACHED/);
  assert.doesNotMatch(changed.stdout, /RUN --mount=type=bind.* CACHED/);
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nRUN --mount=type=secret,id=x true\n');
  const secret = await build(dir);
  assert.match(secret.stderr, /secret mounts are not supported/);
});

test('-f - (the Dockerfile on stdin), -f outside the context, --label, and a build arg not consumed warns', async () => {
  const { spawnSync } = await import('node:child_process');
  const dir = context({ 'data.txt': 'data\n', 'other.Dockerfile.dockerignore': 'data.txt\n' });
  const r = spawnSync(
    process.execPath,
    [
      join(REPO, 'src/cli/berth/main.ts'),
      '--host',
      d.socket,
      'build',
      '-f',
      '-',
      '-t',
      'stdin:1',
      '--label',
      'made.by=test',
      '--build-arg',
      'UNUSED=1',
      dir,
    ],
    {
      input: 'FROM busybox\nCOPY data.txt /\n',
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /build args were not consumed: UNUSED/);
  assert.deepEqual((await inspect('stdin:1')).config.config.Labels, { 'made.by': 'test' });
  // A Dockerfile outside the context; <name>.dockerignore beside it in the context wins over .dockerignore.
  const outside = join(mkdtempSync('/tmp/btb-df-'), 'other.Dockerfile');
  contexts.push(join(outside, '..'));
  writeFileSync(outside, 'FROM busybox\nCOPY data.txt /\n');
  const o = await build(dir, '-f', outside);
  assert.notEqual(o.code, 0);
  assert.match(
    o.stderr,
    /other\.Dockerfile:2: COPY data\.txt: "data\.txt" not found in the build context \(or excluded by \.dockerignore\)/,
  );
});

test('SHELL changes how later RUN and shell-form CMD run; globs, relative WORKDIRs, ENV in COPY, a global ARG redeclared, MAINTAINER', async () => {
  const dir = context({
    Dockerfile: [
      'ARG WHERE=/opt',
      'FROM busybox',
      'ARG WHERE',
      'MAINTAINER someone@example.com',
      'ENV SUB sub dir',
      'WORKDIR $WHERE',
      'WORKDIR app',
      'COPY *.txt ./texts/',
      'ADD plain.bin "./${SUB}/"',
      'SHELL ["/bin/sh", "-xc"]',
      'RUN echo traced',
      'CMD echo "cmd via $0"',
      '',
    ].join('\n'),
    'a.txt': 'a',
    'b.txt': 'b',
    'c.md': 'c',
    'plain.bin': 'p',
  });
  const r = await build(dir, '-t', 'shell:1');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /\+ echo traced\ntraced\n/);
  const img = await inspect('shell:1');
  assert.equal(img.config.config.WorkingDir, '/opt/app');
  assert.deepEqual(img.config.config.Cmd, ['/bin/sh', '-xc', 'echo "cmd via $0"']);
  assert.equal((img.config as unknown as { author: string }).author, 'someone@example.com');
  const ls = await berth('run', '--rm', 'shell:1', 'sh', '-c', 'ls texts "sub dir"');
  assert.equal(ls.stdout, 'sub dir:\nplain.bin\n\ntexts:\na.txt\nb.txt\n', ls.stderr);
  const run = await berth('run', '--rm', 'shell:1');
  assert.equal(run.stdout, 'cmd via /bin/sh\n');
});

/** Pushes `ref`, made by `fill` in an image store of its own (so that berthd has never seen it), to its registry. */
async function pushFromOwnStore(
  ref: string,
  fill: (pusher: import('../../src/images/image-service.ts').ImageService) => Promise<unknown>,
): Promise<void> {
  const { ImageService } = await import('../../src/images/image-service.ts');
  const pusherRoot = mkdtempSync('/tmp/btb-push-');
  contexts.push(pusherRoot);
  const pusher = await ImageService.open({ root: pusherRoot, snapshotter: 'native' });
  try {
    await fill(pusher);
    await pusher.push(ref);
  } finally {
    await pusher.close();
  }
}

test('FROM an image not stored here pulls it (from a registry on loopback); --pull pulls again', async () => {
  const { startRegistry } = await import('../lib/registry.ts');
  const reg = await startRegistry();
  try {
    const ref = `${reg.host}/build-base:1`;
    await pushFromOwnStore(ref, async (pusher) => {
      await pusher.importRootfs(Readable.from([await busyboxRootfsTar()]), ref);
    });
    const dir = context({ Dockerfile: `FROM ${ref}\nRUN echo on-pulled-base\n` });
    const r = await build(dir, '-t', 'from-registry:1');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`pulling ${ref.replace(/[.]/g, '\\.')}\\n`));
    assert.match(r.stdout, /on-pulled-base/);
    assert.ok(
      (await d.client.images()).some((i) => i.name === ref),
      'the base is stored under its name',
    );
    const again = await build(dir, '--pull');
    assert.match(again.stdout, /pulling /);
    assert.match(again.stdout, /RUN echo on-pulled-base CACHED/, 'the same base digest: the cache still serves');
    const missing = await build(context({ Dockerfile: `FROM ${reg.host}/nothing:here\n` }));
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /Dockerfile:1: FROM .*nothing:here: not stored here, and pulling it failed/);
  } finally {
    await reg.stop();
  }
});

/** `berth build` on a terminal: script(1) gives it a pty; its output and exit code. */
async function buildOnTerminal(dir: string, ...flags: string[]): Promise<{ code: number; raw: string }> {
  if (!existsSync('/usr/bin/script'))
    throw new Error('/usr/bin/script is missing: install the Debian package bsdutils');
  const { spawn } = await import('node:child_process');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [NODE, join(REPO, 'src/cli/berth/main.ts'), '--host', d.socket, 'build', ...flags, dir].map(q).join(' ');
  return new Promise((resolve, reject) => {
    const c = spawn('/usr/bin/script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.stderr.on('data', (b: Buffer) => out.push(b));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, raw: Buffer.concat(out).toString() }));
  });
}

test('--progress tty on a terminal: steps redrawn in place, RUN output folded below, CACHED, a final summary; ERROR on a failure', async () => {
  const { terminalScreen } = await import('../lib/terminal-screen.ts');
  const dir = context({
    Dockerfile: 'FROM busybox\nENV X=1\nRUN for i in 1 2 3 4 5 6 7 8; do echo tty-line-$i; done\nCOPY f /f\n',
    f: 'x',
  });
  const first = await buildOnTerminal(dir, '--progress', 'tty', '-t', 'tty:1');
  assert.equal(first.code, 0, first.raw);
  assert.match(first.raw, /\x1b\[\d+A/, 'moves up to redraw');
  // Every output event is drawn: the RUN's lines were shown folded under it while it ran.
  assert.match(first.raw, / => => # tty-line-8/);
  let s = terminalScreen(first.raw);
  const header = s.findIndex((l) => /^\[\+\] Building \d+\.\ds \(4\/4\) FINISHED$/.test(l));
  assert.ok(header >= 0, s.join('\n'));
  assert.match(s[header + 3]!, /^ => \[0\] RUN for i in .* +\d+\.\ds$/);
  assert.ok(!s.some((l) => l.startsWith(' => => #')), `a finished step folds its output away:\n${s.join('\n')}`);
  assert.match(s.at(-1)!, /^sha256:[0-9a-f]{64}$/);

  // auto on a terminal is tty; the rebuild is served by the cache.
  const again = await buildOnTerminal(dir, '--progress', 'auto');
  assert.equal(again.code, 0, again.raw);
  s = terminalScreen(again.raw);
  assert.ok(
    s.some((l) => /^ => CACHED \[0\] RUN for i in .* 0\.0s$/.test(l)),
    s.join('\n'),
  );
  assert.ok(s.some((l) => /^ => CACHED \[0\] COPY f \/f +0\.0s$/.test(l)));

  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo going-wrong; exit 3\n');
  const bad = await buildOnTerminal(dir, '--progress=tty');
  assert.notEqual(bad.code, 0);
  s = terminalScreen(bad.raw);
  assert.ok(
    s.some((l) => /^\[\+\] Building \d+\.\ds \(\d\/\d\) ERROR$/.test(l)),
    s.join('\n'),
  );
  const err = s.findIndex((l) => /^ => ERROR \[0\] RUN echo going-wrong/.test(l));
  assert.ok(err >= 0, s.join('\n'));
  assert.equal(s[err + 1], ' => => # going-wrong');
  assert.ok(s.some((l) => /Dockerfile:2: step 2\/2 .*returned a non-zero code: 3/.test(l)));

  // Off a terminal, auto is plain: no escapes.
  const plain = await build(dir, '--progress', 'auto');
  assert.ok(!plain.stdout.includes('\x1b') && !plain.stderr.includes('\x1b'));
  assert.match(plain.stdout, /^#1 \[0\] FROM busybox\n/);
});

test('ADD extracts local tars by their content (plain, gzip, bzip2, xz, zstd) and copies other files; ADD --checksum on a local file is refused as BuildKit does', async () => {
  const { tarOf } = await import('../lib/test-images.ts');
  const { execFileSync } = await import('node:child_process');
  const zlib = await import('node:zlib');
  const tar = (tag: string) =>
    tarOf([{ name: `${tag}/` }, { name: `${tag}/f.txt`, data: Buffer.from(`from-${tag}\n`) }]);
  const dir = context({
    Dockerfile: [
      'FROM busybox',
      'ADD a.tar b.tar.gz c.tar.bz2 d.tar.xz e.tar.zst /opt/',
      'ADD notes.gz /notes.gz',
      'ADD mislabelled.txt /m/',
      'RUN cat /opt/a/f.txt /opt/b/f.txt /opt/c/f.txt /opt/d/f.txt /opt/e/f.txt /m/x/f.txt && gunzip -c /notes.gz',
      '',
    ].join('\n'),
  });
  await writeFile(join(dir, 'a.tar'), await tar('a'));
  await writeFile(join(dir, 'b.tar.gz'), zlib.gzipSync(await tar('b')));
  await writeFile(join(dir, 'c.tar.bz2'), execFileSync('bzip2', ['-c'], { input: await tar('c') }));
  await writeFile(join(dir, 'd.tar.xz'), execFileSync('xz', ['-c'], { input: await tar('d') }));
  await writeFile(join(dir, 'e.tar.zst'), zlib.zstdCompressSync(await tar('e')));
  // A gzip that is no tar is copied as it is; an xz tar named .txt is extracted (the bytes decide).
  await writeFile(join(dir, 'notes.gz'), zlib.gzipSync('plain notes\n'));
  await writeFile(join(dir, 'mislabelled.txt'), execFileSync('xz', ['-c'], { input: await tar('x') }));
  const r = await build(dir, '-t', 'add-kinds:1');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /from-a\nfrom-b\nfrom-c\nfrom-d\nfrom-e\nfrom-x\nplain notes\n/);

  const refused = async (df: string, re: RegExp) => {
    writeFileSync(join(dir, 'Dockerfile'), df);
    const x = await build(dir);
    assert.notEqual(x.code, 0, df);
    assert.match(x.stderr, re, x.stderr);
  };
  const sum = `sha256:${'a'.repeat(64)}`;
  await refused(
    `FROM busybox\nADD --checksum=${sum} a.tar /opt/\n`,
    /Dockerfile:2: ADD --checksum a\.tar: checksum requires HTTP\(S\) or Git sources/,
  );
  await refused(
    `FROM busybox\nADD --checksum=${sum} a.tar b.tar.gz /opt/\n`,
    /Dockerfile:2: ADD --checksum: checksum can't be specified for multiple sources/,
  );
  await refused(
    'FROM busybox\nADD --checksum=sha256:abc a.tar /opt/\n',
    /Dockerfile:2: ADD --checksum=sha256:abc: invalid checksum digest format/,
  );
  // A corrupt archive whose head still reads as a tar fails, naming the file.
  const big = await tarOf([{ name: 'big.bin', data: randomBytesOf(300_000) }]);
  const xz = execFileSync('xz', ['-c'], { input: big });
  xz.fill(0x55, Math.floor(xz.length / 2), Math.floor(xz.length / 2) + 64);
  await writeFile(join(dir, 'broken.tar.xz'), xz);
  await refused('FROM busybox\nADD broken.tar.xz /opt/\n', /Dockerfile:2: ADD broken\.tar\.xz/);
});

const randomBytesOf = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * i * 7919 + (i >> 3)) % 251));

test('FROM --platform takes that manifest of an index; a foreign stage may COPY but not RUN; --platform sets the default, the config and $TARGETARCH', async () => {
  const { startRegistry } = await import('../lib/registry.ts');
  const { multiArchImage } = await import('../lib/test-images.ts');
  const { parsePlatform } = await import('../../src/oci/image-validate.ts');
  const reg = await startRegistry();
  try {
    const ref = `${reg.host}/multi-build:1`;
    await pushFromOwnStore(ref, async (pusher) => {
      const platforms = [parsePlatform('linux/amd64'), parsePlatform('linux/arm64'), parsePlatform('linux/s390x')];
      await multiArchImage(pusher.content, pusher.images, ref, platforms);
    });
    const dir = context({
      Dockerfile: [
        `FROM --platform=linux/arm64 ${ref} AS foreign`,
        'COPY f /from-context',
        'FROM busybox',
        'COPY --from=foreign /etc/arch /arch-of-foreign',
        'COPY --from=foreign /from-context /fc',
        'RUN cat /arch-of-foreign /fc',
        '',
      ].join('\n'),
      f: 'context-file\n',
    });
    const r = await build(dir, '-t', 'plat-copy:1');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`pulling ${ref.replace(/[.]/g, '\\.')} for linux/arm64\\n`));
    assert.match(r.stdout, /\narm64\ncontext-file\n/);
    const host = (await inspect('plat-copy:1')) as unknown as { config: { architecture: string } };
    assert.equal(
      host.config.architecture,
      process.arch === 'x64' ? 'amd64' : process.arch,
      'the final stage is the host',
    );

    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM busybox\nFROM --platform=linux/s390x ${ref} AS foreign\nRUN echo never\n`,
    );
    const run = await build(dir);
    assert.notEqual(run.code, 0);
    assert.match(
      run.stderr,
      /Dockerfile:3: RUN in stage foreign, whose platform is linux\/s390x: this host runs linux\/\w+ programs and berth does not emulate other architectures/,
    );
    assert.doesNotMatch(run.stdout, /never/);

    writeFileSync(join(dir, 'Dockerfile'), `FROM ${ref}\nARG TARGETARCH\nCOPY f /f\nLABEL arch=$TARGETARCH\n`);
    const arm = await build(dir, '--platform', 'linux/arm64', '-t', 'plat-arm:1');
    assert.equal(arm.code, 0, arm.stderr + arm.stdout);
    const img = (await inspect('plat-arm:1')) as unknown as {
      config: { architecture: string; os: string; config: { Labels: Record<string, string> } };
      platform: string;
    };
    assert.equal(`${img.config.os}/${img.config.architecture}`, 'linux/arm64');
    assert.equal(img.config.config.Labels.arch, 'arm64');

    // $BUILDPLATFORM: a stage that runs on this host inside a build for another platform.
    writeFileSync(
      join(dir, 'Dockerfile'),
      'FROM --platform=$BUILDPLATFORM busybox AS tools\nARG TARGETARCH\nRUN echo built-for-$TARGETARCH\nFROM scratch\nCOPY --from=tools /bin/busybox /tool\n',
    );
    const mixed = await build(dir, '--platform', 'linux/arm64', '-t', 'plat-mixed:1');
    assert.equal(mixed.code, 0, mixed.stderr + mixed.stdout);
    assert.match(mixed.stdout, /\nbuilt-for-arm64\n/);
    const m = (await inspect('plat-mixed:1')) as unknown as { config: { architecture: string } };
    assert.equal(m.config.architecture, 'arm64');
    const bad = await build(dir, '--platform', 'linux');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--platform linux: .*malformed/);
  } finally {
    await reg.stop();
  }
});
