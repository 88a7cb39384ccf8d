// Root integration tests of the addon's privileged calls against the real kernel: mount/umount2
// (tmpfs, remount, bind, propagation), mknod of a character device, and openInRoot against a real
// procfs (magic links). Everything is mounted under a temp dir and unmounted again; the last test
// checks that nothing is left in /proc/self/mountinfo.
import assert from 'node:assert/strict';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { constants, isSyscallError, mknod, mount, openInRoot, umount2 } from '../../src/sys/native.ts';

const { MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_RDONLY, MS_REMOUNT, MS_BIND, MS_PRIVATE, MNT_DETACH } = constants;

if (process.getuid?.() !== 0) {
  throw new Error('native-addon-mount tests need root (mount, umount2, mknod of a device): run them as root');
}

/** Mount points at or below `prefix`, from /proc/self/mountinfo (field 5), with their fstype and options. */
function mountsUnder(prefix: string): { point: string; fstype: string; options: string }[] {
  const out: { point: string; fstype: string; options: string }[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line === '') continue;
    const [left, right] = line.split(' - ') as [string, string];
    const fields = left.split(' ');
    const point = fields[4]!.replace(/\\040/g, ' ');
    if (point === prefix || point.startsWith(prefix + '/')) {
      out.push({ point, fstype: right.split(' ')[0]!, options: fields[5]! });
    }
  }
  return out;
}

function throwsCode(fn: () => unknown, code: string) {
  try {
    fn();
  } catch (e) {
    assert.ok(isSyscallError(e), `expected a syscall error, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

describe('native addon as root', () => {
  let dir: string;
  before(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'berth-native-mount-')));
  });
  after(() => {
    // Unmount anything a failed test left, deepest first, then remove the tree.
    for (const m of mountsUnder(dir).reverse()) {
      try {
        umount2(m.point, MNT_DETACH);
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('tmpfs: mount with flags and data, remount read-only, umount2', () => {
    const target = join(dir, 'tmpfs');
    mkdirSync(target);
    mount('tmpfs', target, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'size=1m,mode=0750');
    try {
      const [m] = mountsUnder(target);
      assert.ok(m, `${target} is in mountinfo`);
      assert.equal(m.fstype, 'tmpfs');
      for (const opt of ['nosuid', 'nodev', 'noexec'])
        assert.ok(m.options.split(',').includes(opt), `${opt} in ${m.options}`);
      assert.equal(statSync(target).mode & 0o777, 0o750);
      writeFileSync(join(target, 'f'), 'on tmpfs');

      mount(null, target, null, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
      assert.ok(mountsUnder(target)[0]!.options.split(',').includes('ro'));
      assert.throws(
        () => writeFileSync(join(target, 'g'), 'x'),
        (e) => (e as NodeJS.ErrnoException).code === 'EROFS',
      );
    } finally {
      umount2(target, 0);
    }
    assert.deepEqual(mountsUnder(target), []);
    assert.throws(
      () => statSync(join(target, 'f')),
      (e) => (e as NodeJS.ErrnoException).code === 'ENOENT',
    );
  });

  test('bind mount and propagation change, detached unmount', () => {
    const src = join(dir, 'bind-src');
    const dst = join(dir, 'bind-dst');
    mkdirSync(src);
    mkdirSync(dst);
    writeFileSync(join(src, 'seen'), 'through the bind');
    mount(src, dst, null, MS_BIND, null);
    try {
      assert.equal(readFileSync(join(dst, 'seen'), 'utf8'), 'through the bind');
      mount(null, dst, null, MS_PRIVATE, null);
      assert.ok(
        !/shared:/.test(
          readFileSync('/proc/self/mountinfo', 'utf8')
            .split('\n')
            .find((l) => l.split(' ')[4] === dst) ?? 'missing',
        ),
      );
    } finally {
      umount2(dst, MNT_DETACH);
    }
    assert.deepEqual(mountsUnder(dst), []);
  });

  test('failures carry code, errno, syscall and the target path', () => {
    const missing = join(dir, 'no-such-dir');
    const e = throwsCode(() => mount('tmpfs', missing, 'tmpfs', 0, null), 'ENOENT');
    assert.equal(e.syscall, 'mount');
    assert.equal(e.errno, 2);
    assert.equal(e.path, missing);
    assert.ok(e.message.includes(missing) && e.message.includes('tmpfs'), e.message);
    const notMounted = join(dir, 'not-mounted');
    mkdirSync(notMounted);
    const u = throwsCode(() => umount2(notMounted, 0), 'EINVAL');
    assert.equal(u.syscall, 'umount2');
    assert.equal(u.path, notMounted);
    throwsCode(() => mount('tmpfs', notMounted, 'no-such-fstype', 0, null), 'ENODEV');
  });

  test('mknod makes a character device (1:3, like /dev/null)', () => {
    const path = join(dir, 'null');
    mknod(path, constants.S_IFCHR | 0o666, 1, 3);
    const st = statSync(path);
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, statSync('/dev/null').rdev);
  });

  test('openInRoot refuses /proc magic links (openat2) or resolves them inside the root (walk)', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'proc'), { recursive: true });
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/hostname'), 'inside');
    mount('proc', join(root, 'proc'), 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
    const rootFd = openSync(root, constants.O_PATH | constants.O_DIRECTORY);
    try {
      // /proc/self/root is the host's "/" for this process: following it would escape.
      const e = throwsCode(() => openInRoot(rootFd, 'proc/self/root/etc/hostname', constants.O_RDONLY), 'ELOOP');
      assert.equal(e.syscall, 'openat2');
      const fd = openInRoot(rootFd, 'proc/self/root/etc/hostname', constants.O_RDONLY, 0, { walk: true });
      try {
        const buf = Buffer.alloc(64);
        assert.equal(buf.subarray(0, readSync(fd, buf, 0, 64, 0)).toString(), 'inside');
      } finally {
        closeSync(fd);
      }
    } finally {
      closeSync(rootFd);
      umount2(join(root, 'proc'), MNT_DETACH);
    }
  });

  test('nothing is left mounted', () => {
    assert.deepEqual(mountsUnder(dir), []);
  });
});
