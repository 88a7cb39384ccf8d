// Unit tests of the test bundle builder and scripts/make-bundle.ts (no root needed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { busyboxApplets, bundleSpec, makeBundle, TEST_USER } from './bundle.ts';
import { capMask, DEFAULT_CAPS, defaultSpec } from './spec.ts';

const tmp = mkdtempSync('/tmp/berth-bundle-unit-');
after(() => rmSync(tmp, { recursive: true, force: true }));

test('makeBundle writes a busybox rootfs with applet links, users, groups and /tmp', () => {
  const b = makeBundle(join(tmp, 'b1'), { args: ['echo', 'hi'] });
  assert.ok(statSync(join(b.rootfs, 'bin/busybox')).isFile());
  assert.equal(readlinkSync(join(b.rootfs, 'bin/sh')), 'busybox');
  const applets = busyboxApplets();
  assert.ok(applets.includes('sh') && applets.includes('ls') && applets.includes('true'));
  for (const a of applets) assert.ok(existsSync(join(b.rootfs, 'bin', a)), `bin/${a}`);
  assert.equal(statSync(join(b.rootfs, 'tmp')).mode & 0o7777, 0o1777);
  const passwd = readFileSync(join(b.rootfs, 'etc/passwd'), 'utf8');
  assert.match(passwd, /^root:x:0:0:/m);
  assert.match(passwd, /^nobody:x:65534:65534:/m);
  assert.match(passwd, new RegExp(`^${TEST_USER.name}:x:${TEST_USER.uid}:${TEST_USER.gid}:`, 'm'));
  const group = readFileSync(join(b.rootfs, 'etc/group'), 'utf8');
  for (const g of TEST_USER.groups) assert.match(group, new RegExp(`^\\w+:x:${g}:.*\\btest\\b`, 'm'));
  const config = JSON.parse(readFileSync(b.configPath, 'utf8'));
  assert.deepEqual(config.process.args, ['echo', 'hi']);
  assert.equal(config.process.terminal, false);
});

test('bundleSpec: defaults like runc spec, options override, minimal is minimal', () => {
  const d = bundleSpec();
  assert.deepEqual(d, defaultSpec());
  assert.equal(d.root.readonly, true);
  assert.equal(capMask(d.process.capabilities!.bounding!), capMask(DEFAULT_CAPS));
  const o = bundleSpec({
    cwd: '/tmp',
    user: { uid: 1000, gid: 1000, additionalGids: [100] },
    readonlyRoot: false,
    capabilities: ['CAP_KILL'],
    rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }],
    maskedPaths: ['/x'],
    readonlyPaths: [],
    extraMounts: [{ destination: '/m', type: 'tmpfs', source: 'tmpfs' }],
    hooks: { prestart: [{ path: '/bin/true' }] },
    annotations: { a: 'b' },
  });
  assert.equal(o.process.cwd, '/tmp');
  assert.deepEqual(o.process.user.additionalGids, [100]);
  assert.equal(o.root.readonly, false);
  assert.deepEqual(o.process.capabilities?.ambient, ['CAP_KILL']);
  assert.deepEqual(o.process.capabilities?.inheritable, ['CAP_KILL']);
  assert.equal(o.process.rlimits?.[0]?.soft, 10);
  assert.deepEqual(o.linux.maskedPaths, ['/x']);
  assert.equal(o.mounts.at(-1)?.destination, '/m');
  assert.equal(o.mounts.length, defaultSpec().mounts.length + 1);
  assert.equal(o.hooks?.prestart?.[0]?.path, '/bin/true');
  // No uts namespace of its own: no hostname (runtimes refuse one).
  const noUts = bundleSpec({ namespaces: [{ type: 'pid' }, { type: 'mount' }] });
  assert.equal(noUts.hostname, undefined);
  const m = bundleSpec({ runtimeSpec: 'minimal' });
  assert.deepEqual(
    m.linux.namespaces.map((n) => n.type),
    ['pid', 'mount'],
  );
  assert.equal(m.root.readonly, false);
});

test('scripts/make-bundle.ts builds a bundle and refuses a non-empty directory', () => {
  const script = join(import.meta.dirname, '../../scripts/make-bundle.ts');
  const dir = join(tmp, 'cli');
  const r = spawnSync(process.execPath, [script, dir, '--runtime-spec', 'minimal', '--', 'sh', '-c', 'echo hi'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), dir);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(config.process.args, ['sh', '-c', 'echo hi']);
  assert.deepEqual(
    config.linux.namespaces.map((n: { type: string }) => n.type),
    ['pid', 'mount'],
  );
  const again = spawnSync(process.execPath, [script, dir], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /not empty/);
  const bad = spawnSync(process.execPath, [script, join(tmp, 'bad'), '--runtime-spec', 'huge'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--runtime-spec/);
});
