import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { MODES, secureOwnedPaths } from './owned-modes.ts';

const base = mkdtempSync(join(tmpdir(), 'berth-modes-'));
after(() => rmSync(base, { recursive: true, force: true }));
const gid = process.getgid?.() ?? 0;
const modeOf = (p: string) => statSync(p).mode & 0o7777;
let n = 0;
const roots = () => ({ root: join(base, `r${n}`), runRoot: join(base, `rr${n++}`), gid });

test('a first start makes the roots and the stores with their modes, and reports nothing repaired', () => {
  const o = roots();
  assert.deepEqual(secureOwnedPaths(o), []);
  assert.equal(modeOf(o.root), MODES.root);
  assert.equal(modeOf(o.runRoot), MODES.runRoot);
  assert.equal(modeOf(join(o.root, 'containers')), MODES.containers);
  for (const d of ['content', 'images', 'snapshots', 'volumes', 'network', 'pods', 'tmp'])
    assert.equal(modeOf(join(o.root, d)), 0o700, d);
  for (const d of ['shims', 'pod-shims', 'execs', 'runtime', 'netns'])
    assert.equal(modeOf(join(o.runRoot, d)), 0o700, d);
});

test("files of older modes are repaired by kind; a mounted rootfs and a volume's _data are the containers' and left alone", () => {
  const o = roots();
  secureOwnedPaths(o);
  const id = 'a'.repeat(64);
  const c = join(o.root, 'containers', id);
  mkdirSync(join(c, 'rootfs'), { recursive: true });
  const files = {
    'config.json': MODES.spec,
    [`${id}-json.log`]: MODES.log,
    [`${id}-json.log.1`]: MODES.log,
    hosts: MODES.containerVisible,
    'resolv.conf': MODES.containerVisible,
    'other.txt': MODES.spec,
  };
  for (const f of Object.keys(files)) writeFileSync(join(c, f), 'x');
  writeFileSync(join(o.root, 'berthd.db'), '');
  writeFileSync(join(o.root, 'berthd.db-wal'), '');
  const data = join(o.root, 'volumes', 'v1', '_data');
  mkdirSync(data, { recursive: true });
  for (const p of [
    c,
    join(c, 'rootfs'),
    join(o.root, 'volumes', 'v1'),
    ...Object.keys(files).map((f) => join(c, f)),
    join(o.root, 'berthd.db'),
    join(o.root, 'berthd.db-wal'),
  ])
    chmodSync(p, 0o755);
  chmodSync(join(c, 'rootfs'), 0o777); // what a container that made its / 0777 leaves (were it mounted)
  chmodSync(data, 0o777); // a volume a container made writable for all of its users
  const changed = secureOwnedPaths(o);
  assert.ok(changed.includes(join(c, 'config.json')) && changed.includes(c), changed.join(' '));
  assert.equal(modeOf(c), MODES.containerDir);
  for (const [f, m] of Object.entries(files)) assert.equal(modeOf(join(c, f)), m, f);
  assert.equal(statSync(join(c, `${id}-json.log`)).gid, gid);
  assert.equal(modeOf(join(o.root, 'berthd.db')), 0o600);
  assert.equal(modeOf(join(o.root, 'berthd.db-wal')), 0o600);
  assert.equal(modeOf(join(o.root, 'volumes', 'v1')), 0o700);
  assert.equal(modeOf(data), 0o777);
  assert.equal(modeOf(join(c, 'rootfs')), 0o777);
});

test('a symbolic link where a directory berthd owns should be is refused, naming it; its target is not touched', () => {
  const o = roots();
  secureOwnedPaths(o);
  const target = mkdtempSync(join(base, 'elsewhere-'));
  chmodSync(target, 0o755);
  const link = join(o.root, 'containers', 'b'.repeat(64));
  symlinkSync(target, link);
  assert.throws(
    () => secureOwnedPaths(o),
    (e: unknown) =>
      isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') && e.message.includes(`${link} is a symbolic link`),
  );
  assert.equal(modeOf(target), 0o755);
});

test('a system directory as the root or run root is refused before anything is changed', () => {
  assert.throws(
    () => secureOwnedPaths({ root: '/run', runRoot: join(base, 'never'), gid }),
    (e: unknown) =>
      isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') && e.message.startsWith('--root /run: a system directory'),
  );
  assert.throws(
    () => secureOwnedPaths({ root: join(base, 'never2'), runRoot: '/', gid }),
    /--run-root \/: a system directory/,
  );
  assert.notEqual(statSync('/run').mode & 0o777, MODES.root);
});

test('a directory owned by another user is refused, naming it and its owner', {
  skip: process.getuid?.() !== 0 ? 'needs root (chown)' : false,
}, () => {
  const o = roots();
  secureOwnedPaths(o);
  chownSync(join(o.runRoot, 'execs'), 65534, 65534);
  assert.throws(
    () => secureOwnedPaths(o),
    (e: unknown) =>
      isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') &&
      e.message.includes(`${join(o.runRoot, 'execs')} is owned by uid 65534`),
  );
});
