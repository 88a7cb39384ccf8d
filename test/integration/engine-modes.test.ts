// Secrets at rest and local access (issue 15, docs/security.md): a container with a secret in its
// env, a label, a bind mount's path and its log; then, as an unprivileged user (nobody), a search of
// berthd's root and run root (the runtime's root is in it) for the secret, and a connection to every
// socket there (the native API's, the CRI's, the shims'): nothing readable, every connection
// refused. The same after a berthd restart, and after an "upgrade" from the modes berth used to
// make (0644 files, 0755 directories), which berthd must repair. A member of the configured group
// (--group) reaches the API sockets and a container's log, and nothing else. berthd refuses to
// start on a directory it owns that others may write.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { busyboxRootfsTar, type Daemon, finish, NODE, REPO, startBerthd, tempRoots, until } from './engine-harness.ts';

const exec = promisify(execFile);
const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
// A gid no one on the host has: only the test's setpriv gives it to a process.
const GROUP = pickFreeGid();
const SECRET = `s3cr3t${Math.random().toString(36).slice(2, 12)}`;
const { root, runRoot } = tempRoots();
const bindDir = mkdtempSync(`/tmp/bind-${SECRET}-`);
let d: Daemon | undefined;
let id = '';

function pickFreeGid(): number {
  const used = new Set(
    readFileSync('/etc/group', 'utf8')
      .split('\n')
      .map((l) => Number(l.split(':')[2])),
  );
  for (let g = 48151; ; g++) if (!used.has(g)) return g;
}

function needs(): void {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root (mounts, namespaces, cgroups)');
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  for (const t of ['runuser', 'setpriv', 'grep', 'find'])
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0)
      throw new Error(`${t} is missing (util-linux, grep, findutils)`);
  if (spawnSync('id', ['nobody']).status !== 0) throw new Error('the host has no user nobody to search as');
}

async function berth(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(NODE, [join(REPO, 'src/cli/berth/main.ts'), '--host', d!.socket, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout, stderr: x.stderr };
  }
}

/** Runs a command as nobody (`runuser`), or as nobody with the configured group as well (`setpriv`). */
function as(who: 'nobody' | 'group member', cmd: string[]): { code: number | null; stdout: string; stderr: string } {
  const argv =
    who === 'nobody'
      ? ['runuser', '-u', 'nobody', '--', ...cmd]
      : ['setpriv', '--reuid=65534', '--regid=65534', `--groups=${GROUP}`, '--', ...cmd];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What connecting to a unix socket gives `who`: "connected" or the error code. */
function connectAs(who: 'nobody' | 'group member', path: string): string {
  const js = `require('net').connect(process.argv[1]).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`;
  return as(who, [NODE, '-e', js, path]).stdout.trim();
}

/** Every unix socket under the roots (found as root). */
function sockets(): string[] {
  const r = spawnSync('find', [root, runRoot, '-xdev', '-type', 's'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

/** berthd's TCP sockets in LISTEN state (none may exist). */
function tcpListeners(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {}
  }
  const out: string[] = [];
  for (const f of ['tcp', 'tcp6']) {
    for (const l of readFileSync(`/proc/${pid}/net/${f}`, 'utf8').split('\n').slice(1)) {
      const c = l.trim().split(/\s+/);
      if (c[3] === '0A' && inodes.has(c[9]!)) out.push(`${f} ${c[1]}`);
    }
  }
  return out;
}

/** The checks of the issue, as they stand now. */
async function assertNothingReadable(when: string): Promise<void> {
  // The control: the secret is on disk (as root), so a search that finds nothing means something.
  const asRoot = spawnSync('grep', ['-rlF', '-D', 'skip', SECRET, root, runRoot], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean);
  assert.ok(
    asRoot.some((p) => p.endsWith('config.json')) &&
      asRoot.some((p) => p.endsWith('-json.log')) &&
      asRoot.some((p) => p.endsWith('berthd.db') || p.endsWith('berthd.db-wal')),
    `${when}: root finds the secret in the spec, the log and the database: ${asRoot.join(' ')}`,
  );

  const grep = as('nobody', ['grep', '-rlF', '-D', 'skip', SECRET, root, runRoot]);
  assert.equal(grep.stdout, '', `${when}: nobody finds the secret in ${grep.stdout}`);
  const readable = as('nobody', ['find', root, runRoot, '-readable']);
  assert.equal(readable.stdout, '', `${when}: nobody can read ${readable.stdout}`);

  const socks = sockets();
  const apiSockets = [join(runRoot, 'berthd.sock'), join(runRoot, 'cri.sock')];
  assert.ok(
    apiSockets.every((a) => socks.includes(a)) && socks.some((s) => s.endsWith('attach.sock')),
    `${when}: the API sockets and a shim's attach socket exist: ${socks.join(' ')}`,
  );
  for (const s of socks) assert.equal(connectAs('nobody', s), 'EACCES', `${when}: nobody connecting to ${s}`);
  for (const a of apiSockets) {
    const st = statSync(a);
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o660, 0, GROUP], `${when}: ${a} is 0660 root:${GROUP}`);
    assert.equal(connectAs('group member', a), 'connected', `${when}: a member of --group reaches ${a}`);
  }

  // The group reads a log whose path it is given (inspect's logPath), and nothing else.
  const info = await d!.client.inspect(id);
  const log = as('group member', ['grep', '-cF', SECRET, info.logPath]);
  assert.equal(log.stdout.trim(), '1', `${when}: the group reads the log: ${log.stderr}`);
  assert.equal(as('nobody', ['cat', info.logPath]).code, 1, `${when}: nobody reads no log`);
  const spec = as('group member', ['cat', join(root, 'containers', id, 'config.json')]);
  assert.match(spec.stderr, /Permission denied/, `${when}: the group reads no spec`);
  assert.deepEqual(
    as('group member', ['grep', '-rlF', '-D', 'skip', SECRET, root, runRoot]).stdout,
    '',
    `${when}: the group lists nothing`,
  );

  assert.deepEqual(tcpListeners(d!.proc.pid!), [], `${when}: berthd listens on no TCP port`);
}

before(async () => {
  needs();
  writeFileSync(join(bindDir, 'f'), 'bound\n');
  chmodSync(bindDir, 0o755);
  // As a root made by `mkdir -p` would be (mkdtemp's 0700 would hide everything whatever berthd did).
  for (const r of [root, runRoot]) chmodSync(r, 0o755);
  d = await startBerthd(root, runRoot, ['--no-network', '--group', String(GROUP)], { defaultRuntime: RUNTIME });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  const r = await berth(
    'run',
    '-d',
    '-e',
    `TOKEN=${SECRET}`,
    '--label',
    `token=${SECRET}`,
    '-v',
    `${bindDir}:/mnt`,
    'busybox',
    'sh',
    '-c',
    'echo "logged $TOKEN"; cat /mnt/f; sleep 1000',
  );
  assert.equal(r.code, 0, r.stderr);
  id = r.stdout.trim();
  await until('the secret in the log', async () => {
    for await (const l of d!.client.logs(id)) if (l.log.includes(SECRET)) return true;
    return false;
  });
  // An exec's process.json holds the env too (and the exec's own).
  const ex = await berth('exec', '-e', `EXEC_TOKEN=${SECRET}`, id, 'sh', '-c', 'echo "$EXEC_TOKEN" | wc -c');
  assert.equal(ex.code, 0, ex.stderr);
});

after(async () => {
  rmSync(bindDir, { recursive: true, force: true });
  await finish(d, root, runRoot);
});

test('nothing berthd keeps is readable by another user; every socket refuses them; the group reaches the API and the logs', async () => {
  await assertNothingReadable('first start');
});

test('containers running as a non-root user still start, read /etc/hosts, exec and use volumes', async () => {
  const w = await berth('run', '--rm', '-v', 'modes-vol:/v', 'busybox', 'sh', '-c', 'echo in-volume > /v/f');
  assert.equal(w.code, 0, w.stderr);
  const r = await berth(
    'run',
    '--rm',
    '-u',
    'nobody',
    '-v',
    'modes-vol:/v',
    'busybox',
    'sh',
    '-c',
    'id -u; cat /etc/hosts /etc/resolv.conf /etc/hostname >/dev/null && ls / >/dev/null && cat /v/f && echo made > /tmp/x && cat /tmp/x',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '65534\nin-volume\nmade\n');
  const ex = await berth('exec', '-u', 'nobody', id, 'sh', '-c', 'id -u; cat /mnt/f');
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout, '65534\nbound\n');
  await berth('volume', 'rm', 'modes-vol');
});

test('after a berthd restart: the same', async () => {
  await d!.stop();
  d = await startBerthd(root, runRoot, ['--no-network', '--group', String(GROUP)], { defaultRuntime: RUNTIME });
  assert.equal((await d.client.inspect(id)).status, 'running');
  await assertNothingReadable('after a restart');
});

/** The modes berth made before issue 15: 0644 files and 0755 directories (mounted rootfs and layer contents left alone). */
function chmodToOldModes(dir: string, dev: number): void {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const st = lstatSync(p);
    if (st.dev !== dev) continue; // a mounted rootfs
    if (st.isDirectory()) {
      // Layer and volume contents keep their own modes (the images' and the containers').
      if (/\/snapshots\/[^/]+\/snapshots$/.test(p) || n === '_data') continue;
      chmodSync(p, 0o755);
      chmodToOldModes(p, dev);
    } else if (st.isFile()) chmodSync(p, 0o644);
  }
}

test('after an upgrade from files written with the old modes, berthd repairs them', async () => {
  await d!.stop();
  for (const r of [root, runRoot]) {
    chmodSync(r, 0o755);
    chmodToOldModes(r, statSync(r).dev);
  }
  const before = as('nobody', ['grep', '-rlF', '-D', 'skip', SECRET, root, runRoot]).stdout;
  assert.match(before, /config\.json/, 'the old modes let nobody read the spec (the control)');
  d = await startBerthd(root, runRoot, ['--no-network', '--group', String(GROUP)], { defaultRuntime: RUNTIME });
  assert.match(d.stderr(), /modes repaired/);
  assert.equal((await d.client.inspect(id)).status, 'running');
  await assertNothingReadable('after an upgrade');
  const r = await berth('run', '--rm', '-u', 'nobody', 'busybox', 'id', '-u');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '65534\n');
});

test('berthd refuses to start where a directory it owns is group- or world-writable, naming it', async () => {
  await d!.stop();
  const cases: [string, number][] = [
    [join(root, 'containers'), 0o2730],
    [join(runRoot, 'shims'), 0o777],
    [join(root, 'containers', id), 0o2712],
  ];
  for (const [dir, mode] of cases) {
    const old = statSync(dir).mode & 0o7777;
    chmodSync(dir, mode);
    try {
      const started = await startBerthd(root, runRoot, ['--no-network', '--group', String(GROUP)], {
        defaultRuntime: RUNTIME,
      }).catch((e: Error) => e);
      if (!(started instanceof Error)) {
        await started.stop();
        assert.fail(`berthd started with ${dir} at mode 0${mode.toString(8)}`);
      }
      assert.match(started.message, /berthd exited with 1/);
      assert.ok(
        started.message.includes(`${dir} is ${mode & 0o020 ? 'group' : 'world'}-writable (mode 0${mode.toString(8)})`),
        started.message,
      );
      assert.equal(statSync(dir).mode & 0o7777, mode, 'left as found, for the administrator to look at');
    } finally {
      chmodSync(dir, old);
    }
  }
  d = await startBerthd(root, runRoot, ['--no-network', '--group', String(GROUP)], { defaultRuntime: RUNTIME });
  assert.equal((await d.client.inspect(id)).status, 'running');
});
