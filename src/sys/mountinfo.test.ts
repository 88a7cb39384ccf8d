import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { isMountPoint, parseMountInfo, readMountInfo } from './mountinfo.ts';

describe('mountinfo', () => {
  it('parses a line with no optional fields', () => {
    assert.deepEqual(parseMountInfo('22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw,errors=remount-ro\n'), [
      {
        mountId: 22,
        parentId: 1,
        device: '254:1',
        root: '/',
        mountPoint: '/',
        mountOptions: 'rw,relatime',
        optionalFields: [],
        fsType: 'ext4',
        source: '/dev/vda1',
        superOptions: 'rw,errors=remount-ro',
      },
    ]);
  });

  it('parses several optional fields and keeps them apart from the fixed ones', () => {
    const [m] = parseMountInfo(
      '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 unbindable - ext3 /dev/root rw,errors=continue',
    );
    assert.deepEqual(m?.optionalFields, ['master:1', 'shared:7', 'unbindable']);
    assert.equal(m?.fsType, 'ext3');
    assert.equal(m?.source, '/dev/root');
    assert.equal(m?.superOptions, 'rw,errors=continue');
    assert.equal(m?.root, '/mnt1');
    assert.equal(m?.mountPoint, '/mnt2');
  });

  it("undoes the kernel's octal escapes of space, tab, newline and backslash", () => {
    const [m] = parseMountInfo('40 30 0:38 /a\\134b /run/my\\040dir\\011x\\012y rw shared:3 - tmpfs my\\040src rw\n');
    assert.equal(m?.root, '/a\\b');
    assert.equal(m?.mountPoint, '/run/my dir\tx\ny');
    assert.equal(m?.source, 'my src');
    assert.equal(
      isMountPoint('/run/my dir\tx\ny', parseMountInfo('40 30 0:38 / /run/my\\040dir\\011x\\012y rw - tmpfs t rw')),
      true,
    );
    assert.equal(
      isMountPoint(
        '/run/my\\040dir\\011x\\012y',
        parseMountInfo('40 30 0:38 / /run/my\\040dir\\011x\\012y rw - tmpfs t rw'),
      ),
      false,
    );
  });

  it('a " - " inside a path cannot be mistaken for the separator: the kernel escapes its spaces', () => {
    const [m] = parseMountInfo('41 30 0:39 / /srv/a\\040-\\040b rw - tmpfs tmpfs rw');
    assert.equal(m?.mountPoint, '/srv/a - b');
    assert.equal(m?.fsType, 'tmpfs');
  });

  it('refuses a line that is not mountinfo, naming its line number', () => {
    for (const bad of [
      '22 1 254:1 / / rw ext4 /dev/vda1 rw',
      '22 1 254:1 / - ext4 /dev/vda1 rw',
      '22 1 254:1 / / rw - ext4',
    ]) {
      assert.throws(
        () => parseMountInfo(`22 1 254:1 / / rw - ext4 /dev/vda1 rw\n${bad}\n`),
        (e) => isBerthError(e, ErrorCode.InvalidArgument) && /mountinfo line 2/.test(e.message),
        bad,
      );
    }
  });

  it('reads this process\'s mounts: "/" is among them', () => {
    const mine = readMountInfo();
    assert.ok(mine.length > 0);
    assert.equal(isMountPoint('/'), true);
    assert.equal(isMountPoint('/this/is/not/a/mount/point'), false);
  });
});
