import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { hierarchyDir, resolveCgroupsPath } from './cgroups-path.ts';
import type { CgroupMount } from './mounts.ts';

const mem: CgroupMount = { mountpoint: '/sys/fs/cgroup/memory', root: '/', version: 1, controllers: ['memory'] };

test('absent cgroupsPath: <id> below the runtime own cgroup, as runc does', () => {
  const r = resolveCgroupsPath(undefined, 'c1');
  assert.deepEqual(r, { absolute: false, path: 'c1' });
  assert.equal(hierarchyDir(mem, r, '/somewhere/else'), '/sys/fs/cgroup/memory/somewhere/else/c1');
  assert.equal(hierarchyDir(mem, r, '/'), '/sys/fs/cgroup/memory/c1');
});

test('absolute cgroupsPath: relative to the mount point, cleaned', () => {
  const r = resolveCgroupsPath('//a/./b/', 'c1');
  assert.deepEqual(r, { absolute: true, path: '/a/b' });
  assert.equal(hierarchyDir(mem, r, '/own'), '/sys/fs/cgroup/memory/a/b');
  // Inside a cgroup namespace the mount root is not "/": still counted from the mountpoint.
  assert.equal(hierarchyDir({ ...mem, root: '/ctr' }, r, '/ctr'), '/sys/fs/cgroup/memory/a/b');
});

test('relative cgroupsPath: below the runtime own cgroup in that hierarchy', () => {
  const r = resolveCgroupsPath('pod/c1', 'c1');
  assert.deepEqual(r, { absolute: false, path: 'pod/c1' });
  assert.equal(hierarchyDir(mem, r, '/process_api/x'), '/sys/fs/cgroup/memory/process_api/x/pod/c1');
  assert.equal(hierarchyDir(mem, r, '/'), '/sys/fs/cgroup/memory/pod/c1');
  assert.equal(hierarchyDir({ ...mem, root: '/ctr' }, r, '/ctr/sub'), '/sys/fs/cgroup/memory/sub/pod/c1');
  // Own cgroup outside the mount's root (cgroup namespace): from the mountpoint.
  assert.equal(hierarchyDir({ ...mem, root: '/ctr' }, r, '/other'), '/sys/fs/cgroup/memory/pod/c1');
});

test('systemd driver is refused, naming the flag', () => {
  assert.throws(
    () => resolveCgroupsPath('/a', 'c1', true),
    (e) => isBerthError(e, 'BERTH_ERR_UNSUPPORTED') && e.message.includes('--systemd-cgroup'),
  );
  assert.throws(
    () => resolveCgroupsPath('system.slice:docker:abc', 'c1'),
    (e) =>
      isBerthError(e, 'BERTH_ERR_UNSUPPORTED') &&
      e.message.includes('--systemd-cgroup') &&
      e.message.includes('system.slice:docker:abc'),
  );
});

test('invalid cgroupsPaths are InvalidArgument errors naming the field', () => {
  for (const p of ['/a/../../etc', '..', '/', 'a/../..']) {
    assert.throws(
      () => resolveCgroupsPath(p, 'c1'),
      (e) => isBerthError(e, 'BERTH_ERR_INVALID_ARGUMENT') && e.message.includes('linux.cgroupsPath'),
      p,
    );
  }
  assert.throws(
    () => resolveCgroupsPath(undefined, 'a/b'),
    (e) => isBerthError(e, 'BERTH_ERR_INVALID_ARGUMENT'),
  );
});
