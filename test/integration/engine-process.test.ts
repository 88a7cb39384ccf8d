// The process berthd starts in a container, as a docker user expects it (issue 9): HOME from the
// user's passwd entry, a working directory made when missing (inside the image's root, whatever
// its symlinks say), `exec -t` / `run -t` of a command that exits at once still showing its output,
// and a failed exec leaving nothing behind. A real berthd under temp roots, the real berth CLI.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
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
// A host directory that an image's symlink points at from inside its rootfs (relative, climbing out).
const hostDir = mkdtempSync('/tmp/bte-host-');
let d: Daemon;

const berth = (...args: string[]) => berthCli(d.socket, ...args);

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root (mounts, namespaces, cgroups)');
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  d = await startBerthd(root, runRoot, ['--no-network'], { defaultRuntime: RUNTIME });
  // `escape` climbs out of the rootfs on the host (…/containers/<id>/rootfs/../../../../<hostDir>), and
  // inside the container's root it is /tmp/<hostDir's name>, which the image has not.
  const climb = `${'../'.repeat(12)}${hostDir.slice(1)}`;
  await d.client.importRootfs(
    Readable.from([
      await busyboxRootfsTar([
        { name: 'escape', linkname: climb },
        { name: 'up', linkname: '../../../../../../../../../tmp' },
      ]),
    ]),
    'busybox:latest',
  );
});

after(async () => {
  await finish(d, root, runRoot);
  rmSync(hostDir, { recursive: true, force: true });
});

test('HOME: /root for root, the passwd home for -u, / without an entry; the image or -e wins; exec alike', async () => {
  const home = async (...a: string[]) => {
    const r = await berth('run', '--rm', ...a, 'busybox', 'sh', '-c', 'echo "$HOME"');
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(await home(), '/root');
  assert.equal(await home('-u', 'nobody'), '/nonexistent');
  assert.equal(await home('-u', '4321'), '/');
  assert.equal(await home('-u', '65534:0'), '/nonexistent');
  assert.equal(await home('-e', 'HOME=/elsewhere'), '/elsewhere');

  assert.equal((await berth('run', '-d', '--name', 'home', 'busybox', 'sleep', '60')).code, 0);
  const ex = async (...a: string[]) => {
    const r = await berth('exec', ...a, 'home', 'sh', '-c', 'echo "$HOME"');
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(await ex(), '/root');
  assert.equal(await ex('-u', 'nobody'), '/nonexistent');
  assert.equal(await ex('-e', 'HOME=/x'), '/x');
  assert.equal((await berth('rm', '-f', 'home')).code, 0);
});

test('-w makes a missing working directory, owned by the container user, never outside the root', async () => {
  const r = await berth(
    'run',
    '--rm',
    '-u',
    'nobody',
    '-w',
    '/some/new/dir',
    'busybox',
    'sh',
    '-c',
    'pwd; ls -ldn /some/new/dir /some',
  );
  assert.equal(r.code, 0, r.stderr);
  const [pwd, ...ls] = r.stdout.trim().split('\n');
  assert.equal(pwd, '/some/new/dir');
  for (const l of ls) assert.match(l, /^drwxr-xr-x\s+\d+\s+65534\s+65534\s/, `made for the user: ${l}`);
  // An existing directory is left as it is.
  const tmp = await berth('run', '--rm', '-u', 'nobody', '-w', '/tmp', 'busybox', 'sh', '-c', 'ls -ldn /tmp');
  assert.match(tmp.stdout, /^drwxrwxrwt\s+\d+\s+0\s+0\s/, tmp.stdout + tmp.stderr);

  // Through symlinks that climb out of the rootfs on the host: resolved inside the container's root.
  const up = await berth('run', '--rm', '-w', '/up/made-by-berth', 'busybox', 'pwd');
  assert.equal(up.code, 0, up.stderr);
  assert.equal(up.stdout, '/tmp/made-by-berth\n', '/up is /tmp in the container');
  assert.equal(existsSync('/tmp/made-by-berth'), false, 'nothing was made in the host /tmp');
  const esc = await berth('run', '--rm', '-w', '/escape/inner', 'busybox', 'pwd');
  assert.deepEqual(readdirSync(hostDir), [], 'nothing was made in the host directory the link names');
  // The link points at /tmp/<name> in the container's root, which the image lacks: an error that names the workdir.
  assert.notEqual(esc.code, 0);
  assert.match(esc.stderr, /workdir \/escape\/inner/);
  assert.equal((await d.client.list({ all: true })).length, 0);
});

test('exec -t and run -t of a command that exits at once: its output arrives, and the status', async () => {
  assert.equal((await berth('run', '-d', '--name', 'tty', 'busybox', 'sleep', '60')).code, 0);
  for (let i = 0; i < 5; i++) {
    const r = await berth('exec', '-t', 'tty', 'sh', '-c', 'echo quick; exit 4');
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, 'quick\r\n');
    const ri = await berth('exec', '-i', 'tty', 'echo', 'in');
    assert.equal(ri.code, 0, ri.stderr);
    assert.equal(ri.stdout, 'in\n');
  }
  const run = await berth('run', '--rm', '-t', 'busybox', 'sh', '-c', 'echo fast; exit 3');
  assert.equal(run.code, 3, run.stderr);
  assert.equal(run.stdout, 'fast\r\n');
  assert.equal((await berth('rm', '-f', 'tty')).code, 0);
});

test('a failed exec (no such binary) leaves no exec directory behind', async () => {
  assert.equal((await berth('run', '-d', '--name', 'fail', 'busybox', 'sleep', '60')).code, 0);
  const execs = join(runRoot, 'execs');
  const before = new Set(existsSync(execs) ? readdirSync(execs) : []);
  for (const a of [[], ['-t'], ['-u', 'nosuchuser']]) {
    const r = await berth('exec', ...a, 'fail', '/no/such/binary');
    assert.notEqual(r.code, 0, `exec ${a.join(' ')} of a missing binary fails`);
  }
  await until(
    'the failed execs are cleaned up',
    () => (existsSync(execs) ? readdirSync(execs) : []).every((x) => before.has(x)),
    5000,
  );
  assert.equal((await berth('rm', '-f', 'fail')).code, 0);
});

test("the image's USER by name is the container's user, for run and exec, unless -u says otherwise", async () => {
  const ctx = mkdtempSync('/tmp/bte-user-');
  try {
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nUSER nobody:nogroup\n');
    const b = await berth('build', '-q', '-t', 'busybox:nobody', ctx);
    assert.equal(b.code, 0, b.stderr);
    const id = async (...a: string[]) => {
      const r = await berth('run', '--rm', ...a, 'busybox:nobody', 'id');
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.match(await id(), /^uid=65534\(nobody\) gid=65534\(nogroup\)/);
    assert.match(await id('-u', '0'), /^uid=0\(root\) gid=0\(root\)/);
    assert.equal((await berth('run', '-d', '--name', 'imageuser', 'busybox:nobody', 'sleep', '60')).code, 0);
    const ex = await berth('exec', 'imageuser', 'id');
    assert.match(ex.stdout, /^uid=65534\(nobody\)/, ex.stderr);
    assert.equal((await berth('rm', '-f', 'imageuser')).code, 0);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});
