import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mkdirAllInRoot, readFileInRoot } from './in-root.ts';

test('reads and makes paths as the container resolves them, never outside the root', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'berth-in-root-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'rootfs');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host\n');
  writeFileSync(join(root, 'secret'), 'inside\n');
  symlinkSync('../outside/secret', join(root, 'etc/passwd'));
  symlinkSync('/../../outside', join(root, 'abs'));
  symlinkSync('../outside', join(root, 'rel'));
  mkdirSync(join(root, 'outside'));

  assert.equal(
    readFileInRoot(root, '/etc/passwd'),
    undefined,
    '../outside/secret from /etc is /outside/secret in the root: missing',
  );
  assert.equal(readFileInRoot(root, 'etc/group'), undefined);
  symlinkSync('../secret', join(root, 'etc/shadow'));
  assert.equal(readFileInRoot(root, '/etc/shadow'), 'inside\n');

  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  assert.deepEqual(mkdirAllInRoot(root, '/abs/a/b', 0o750, { uid, gid }), ['/abs/a', '/abs/a/b']);
  assert.deepEqual(mkdirAllInRoot(root, '/rel/c', 0o755, { uid, gid }), ['/rel/c']);
  assert.deepEqual(readdirSync(outside), ['secret'], 'nothing made on the host side of the links');
  assert.deepEqual(readdirSync(join(root, 'outside')).sort(), ['a', 'c']);
  assert.equal(statSync(join(root, 'outside/a/b')).mode & 0o7777, 0o750, 'mode regardless of the umask');
  assert.deepEqual(mkdirAllInRoot(root, '/abs/a/b', 0o700, { uid, gid }), [], 'existing directories are left alone');
  assert.equal(statSync(join(root, 'outside/a/b')).mode & 0o7777, 0o750);
  assert.ok(lstatSync(join(root, 'abs')).isSymbolicLink());
  writeFileSync(join(root, 'file'), '');
  assert.throws(() => mkdirAllInRoot(root, '/file/x', 0o755, { uid, gid }), /ENOTDIR/);
});
