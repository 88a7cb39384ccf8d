// berth build end to end, as root: a real berthd under temporary roots, a busybox image imported
// locally, Dockerfiles built through the real `berth build` CLI, the results inspected and run.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { berthCli, busyboxRootfsTar, type Daemon, finish, REPO, startBerthd, tempRoots } from './engine-harness.ts';

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

type Inspect = { config: { config: Record<string, unknown>; history: { created_by: string; empty_layer?: boolean }[]; rootfs: { diff_ids: string[] } }; layers: unknown[] };
async function inspect(ref: string): Promise<Inspect> {
  return (await d.client.imageInspect(ref)) as Inspect;
}

async function build(dir: string, ...flags: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return berth('build', ...flags, dir);
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('build integration tests need root (mounts, namespaces)');
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')]) if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  d = await startBerthd(root, runRoot, ['--no-network'], { defaultRuntime: RUNTIME });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(async () => {
  for (const c of contexts) rmSync(c, { recursive: true, force: true });
  await finish(d, root, runRoot);
});

test('every config instruction, COPY and RUN: the image config, history and files are right, and it runs', async () => {
  const dir = context({
    'Dockerfile': [
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
    'run.sh': '#!/bin/sh\necho "run.sh $* as $(id -u) in $(pwd)"; cat /tmp/run-as /app/made.txt /app/heredoc.txt /etc/app/a.conf /etc/app/inline.conf; ls /etc/app; stat -c %u /srv/data/data.txt 2>/dev/null || ls -n /srv/data\n',
    'conf/a.conf': 'a=1\n',
    'conf/drop.conf': 'gone\n',
    'data.txt': 'data\n',
  });
  const r = await build(dir, '-t', 'built:1', '-t', 'built:alias', '--build-arg', 'GREETING=hi');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /#\d+ \[base\] RUN echo/);
  const img = await inspect('built:1');
  const c = img.config.config;
  assert.deepEqual(c.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'APP_HOME=/app', 'NAME=the app']);
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
  assert.equal(run.stdout, 'run.sh x as 65534 in /app\n65534\nhi from /app\nheredoc-ran\na=1\nkey=/app\na.conf\ninline.conf\n65534\n');
});

test('an unchanged rebuild reuses every step and gives the same image; a changed file or build arg misses from that step on', async () => {
  const dir = context({
    'Dockerfile': 'FROM busybox\nARG V=1\nCOPY a.txt /a.txt\nRUN echo "v=$V" > /v.txt\nCOPY b.txt /b.txt\nCMD ["cat", "/a.txt", "/v.txt", "/b.txt"]\n',
    'a.txt': 'a\n',
    'b.txt': 'b\n',
  });
  const first = await build(dir, '-t', 'cache:1');
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.doesNotMatch(first.stdout, /CACHED/);
  const again = await build(dir, '-t', 'cache:2');
  assert.equal(again.code, 0, again.stderr);
  for (const step of ['COPY a.txt', 'RUN echo', 'COPY b.txt', 'CMD']) assert.match(again.stdout, new RegExp(`${step}.* CACHED\\n`), again.stdout);
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
    'Dockerfile': [
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
  const ext = await build(dir, '-t', 'multi:ext', '--target', 'extended');
  assert.equal(ext.code, 0, ext.stderr);
  assert.match(ext.stdout, /\[builder\] RUN mkdir.* CACHED/);
  const bad = await build(dir, '--target', 'nope');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--target nope: no such stage/);
});

test('.dockerignore: excluded files are not in the context, ! exceptions are; context symlinks stay inside', async () => {
  const dir = context({
    'Dockerfile': 'FROM busybox\nCOPY . /ctx/\nCMD ["sh", "-c", "cd /ctx && find . -type f -o -type l | sort"]\n',
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
  const excluded = context({ 'Dockerfile': 'FROM busybox\nCOPY x.log /\n', '.dockerignore': '*.log\n', 'x.log': 'x' });
  const ex = await build(excluded);
  assert.match(ex.stderr, /not found in the build context \(or excluded by \.dockerignore\)/);
});

test('ADD extracts a local tar and refuses a URL; a failing RUN names the step, line and output and leaves nothing', async () => {
  const { tarOf } = await import('../lib/test-images.ts');
  const dir = context({ 'Dockerfile': 'FROM busybox\nADD files.tar /opt/\nRUN cat /opt/inner/f.txt\n' });
  await writeFile(join(dir, 'files.tar'), await tarOf([{ name: 'inner/' }, { name: 'inner/f.txt', data: Buffer.from('from-tar\n') }]));
  const r = await build(dir, '-t', 'add:1');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /from-tar/);
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nADD http://example.com/x /x\n');
  const url = await build(dir);
  assert.match(url.stderr, /ADD http:\/\/example\.com\/x: fetching URLs is not supported/);

  const before = (await d.client.images()).map((i) => i.name).sort();
  const snapsBefore = readdirSync(join(root, 'snapshots/overlay/snapshots')).length;
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo step-one > /one\nRUN echo "about to fail"; \\\n  exit 7\n');
  const bad = await build(dir, '-t', 'never:1');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Dockerfile:3: step \d+\/\d+ .*RUN echo "about to fail".*returned a non-zero code: 7/s);
  assert.match(bad.stderr, /about to fail/);
  assert.deepEqual((await d.client.list({ all: true })).map((c) => c.name), [], 'no container is left');
  assert.deepEqual((await d.client.images()).map((i) => i.name).sort(), before, 'no image (temporary or half) is left');
  // The layer of the step that succeeded stays (cached, unpacked); nothing else does, and a gc takes it once no image uses it.
  const snapsAfter = readdirSync(join(root, 'snapshots/overlay/snapshots')).length;
  assert.ok(snapsAfter <= snapsBefore + 1, `snapshots: ${snapsBefore} before, ${snapsAfter} after`);
  const bp = await berth('builder', 'prune');
  assert.match(bp.stdout, /Removed \d+ build cache entries/);
  const q = await build(context({ 'Dockerfile': 'FROM busybox\nENV Q=1\n' }), '-q');
  assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
  await mkdir(join(dir, 'unused'), { recursive: true });
});
