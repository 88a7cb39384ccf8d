import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { detectCgroupMode, parseCgroupMounts, parseProcCgroup, v1Mounts, v2Mount } from './mounts.ts';

// This CI machine's layout: v1 controllers, cpu and cpuacct mounted apart, a near-empty cgroup2.
export const HYBRID = `22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// A classic systemd v1 host: cpu and cpuacct co-mounted, no cgroup2, optional fields present.
export const V1 = `25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
26 25 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
27 26 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
28 26 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
29 26 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
30 26 0:26 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,net_cls,net_prio
31 26 0:27 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,hugetlb
`;

// A pure v2 host (systemd's unified layout).
export const V2 = `25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
26 25 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

test('detectCgroupMode: v1, hybrid and v2 layouts', () => {
  assert.equal(detectCgroupMode(V1), 'v1');
  assert.equal(detectCgroupMode(HYBRID), 'hybrid');
  assert.equal(detectCgroupMode(V2), 'v2');
});

test('detectCgroupMode: only a named v1 hierarchy beside cgroup2 is v2', () => {
  const text = `${V2}27 26 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n`;
  assert.equal(detectCgroupMode(text), 'v2');
});

test('detectCgroupMode: no cgroup mount is an Unavailable error', () => {
  assert.throws(
    () => detectCgroupMode('22 1 254:1 / / rw - ext4 /dev/vda1 rw\n'),
    (e) => isBerthError(e, 'BERTH_ERR_UNAVAILABLE') && /mountinfo/.test(e.message),
  );
});

test('detectCgroupMode reads this host when given nothing', () => {
  assert.match(detectCgroupMode(), /^(v1|v2|hybrid)$/);
});

test('parseCgroupMounts: controllers, roots, escapes', () => {
  const m = v1Mounts(parseCgroupMounts(V1));
  assert.equal(m.get('cpu')?.mountpoint, '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(m.get('cpuacct'), m.get('cpu'));
  assert.equal(m.get('net_prio')?.mountpoint, '/sys/fs/cgroup/net_cls,net_prio');
  assert.equal(m.get('name=systemd')?.mountpoint, '/sys/fs/cgroup/systemd');
  assert.equal(m.has('xattr'), false);
  assert.equal(v2Mount(parseCgroupMounts(V1)), undefined);
  assert.equal(v2Mount(parseCgroupMounts(HYBRID))?.mountpoint, '/sys/fs/cgroup/unified');
  const ns = parseCgroupMounts('40 30 0:38 /ctr /sys/fs/my\\040cg rw - cgroup2 cgroup2 rw\n');
  assert.deepEqual(ns, [{ mountpoint: '/sys/fs/my cg', root: '/ctr', version: 2, controllers: [] }]);
});

test('parseProcCgroup: v1 lines per controller, v2 under ""', () => {
  const m = parseProcCgroup('9:name=systemd:/\n4:cpu,cpuacct:/a/b\n0::/c\n');
  assert.equal(m.get('cpu'), '/a/b');
  assert.equal(m.get('cpuacct'), '/a/b');
  assert.equal(m.get('name=systemd'), '/');
  assert.equal(m.get(''), '/c');
});
