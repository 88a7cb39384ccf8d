// xattrs.ts over the addon: round trips of user.* xattrs (no root needed), ENODATA as undefined,
// symlinks never followed, and failures as XattrError with the errno name.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { XattrError, lgetxattr, llistxattr, lsetxattr } from './xattrs.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-xattrs-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('xattrs', () => {
  test('set, get and list round-trip any bytes, including an empty value', async () => {
    const f = join(dir, 'file');
    writeFileSync(f, '');
    const bytes = Buffer.from([0, 1, 0xff, 0x7f, 0]);
    await lsetxattr(f, 'user.bin', bytes);
    await lsetxattr(f, 'user.empty', Buffer.alloc(0));
    assert.deepEqual(await lgetxattr(f, 'user.bin'), bytes);
    assert.deepEqual(await lgetxattr(f, 'user.empty'), Buffer.alloc(0));
    assert.deepEqual((await llistxattr(f)).filter((n) => n.startsWith('user.')).sort(), ['user.bin', 'user.empty']);
  });

  test('a missing attribute reads as undefined', async () => {
    const f = join(dir, 'plain');
    writeFileSync(f, '');
    assert.equal(await lgetxattr(f, 'user.none'), undefined);
  });

  test("a symlink is not followed: its target's xattrs are not seen through it", async () => {
    const target = join(dir, 'target');
    writeFileSync(target, '');
    await lsetxattr(target, 'user.t', Buffer.from('x'));
    const link = join(dir, 'link');
    symlinkSync(target, link);
    assert.equal(await lgetxattr(link, 'user.t'), undefined);
    assert.ok(!(await llistxattr(link)).includes('user.t'));
    // Linux allows no user.* xattrs on a symlink itself.
    await assert.rejects(
      lsetxattr(link, 'user.t', Buffer.from('y')),
      (e: unknown) => e instanceof XattrError && e.code === 'EPERM',
    );
    assert.deepEqual(await lgetxattr(target, 'user.t'), Buffer.from('x'));
  });

  test('failures are XattrErrors naming the file, the attribute and the errno', async () => {
    const missing = join(dir, 'missing');
    await assert.rejects(lsetxattr(missing, 'user.a', Buffer.from('1')), (e: unknown) => {
      assert.ok(e instanceof XattrError);
      assert.equal(e.code, 'ENOENT');
      assert.match(e.message, /setting xattr user\.a on .*missing: ENOENT/);
      return true;
    });
    await assert.rejects(lgetxattr(missing, 'user.a'), (e: unknown) => e instanceof XattrError && e.code === 'ENOENT');
    await assert.rejects(llistxattr(missing), (e: unknown) => e instanceof XattrError && e.code === 'ENOENT');
  });
});
