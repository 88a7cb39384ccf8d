import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkCdiName, checkPermissions, majorMinor, resolveDevices } from './container-devices.ts';

test('permissions: r, w and m each at most once; empty is rwm', () => {
  assert.equal(checkPermissions('', 'p'), 'rwm');
  assert.equal(checkPermissions('mrw', 'p'), 'mrw');
  assert.equal(checkPermissions('w', 'p'), 'w');
  for (const bad of ['rx', 'rr', 'rwmr', ' r'])
    assert.throws(() => checkPermissions(bad, 'config.devices[0].permissions'), /config\.devices\[0\]\.permissions/);
});

test('CDI names: vendor.com/class=name', () => {
  assert.deepEqual(checkCdiName('nvidia.com/gpu=0', 'f'), { kind: 'nvidia.com/gpu', device: '0' });
  assert.deepEqual(checkCdiName('a.b/c-d=all', 'f'), { kind: 'a.b/c-d', device: 'all' });
  for (const bad of ['gpu=0', 'nvidia.com/gpu', 'nvidia.com/gpu/x=0', 'nvidia.com/gpu=', 42])
    assert.throws(() => checkCdiName(bad, 'config.CDI_devices[0].name'), /config\.CDI_devices\[0\]\.name/);
});

test('a host device: its node, numbers and mode from the host, an allow rule with exactly the permissions', async () => {
  const r = await resolveDevices({ devices: [{ hostPath: '/dev/null', containerPath: '/dev/x', permissions: 'r' }] });
  assert.deepEqual(
    r.devices.map(({ uid: _u, gid: _g, ...d }) => d),
    [{ path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 0o666 }],
  );
  assert.deepEqual(r.rules, [{ allow: true, type: 'c', major: 1, minor: 3, access: 'r' }]);
  await assert.rejects(
    resolveDevices({ devices: [{ hostPath: '/etc/hostname' }] }),
    /devices\[0\]\.hostPath: .*not a character or block device/,
  );
  await assert.rejects(resolveDevices({ devices: [{ hostPath: 'dev/null' }] }), /devices\[0\]\.hostPath/);
});

test('CDI: spec-level edits once, device edits, fully specified nodes without a host node, "none" permissions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cdi-'));
  try {
    writeFileSync(
      join(dir, 'a.json'),
      JSON.stringify({
        cdiVersion: '0.7.0',
        kind: 'example.com/x',
        containerEdits: { env: ['A=1'], additionalGids: [0, 44] },
        devices: [
          {
            name: 'one',
            containerEdits: {
              deviceNodes: [{ path: '/dev/one', type: 'c', major: 250, minor: 1, permissions: 'none' }],
            },
          },
          {
            name: 'two',
            containerEdits: { env: ['B=2'], hooks: [{ hookName: 'createContainer', path: '/bin/true' }] },
          },
        ],
      }),
    );
    const r = await resolveDevices({ cdiDevices: ['example.com/x=one', 'example.com/x=two'] }, [dir]);
    assert.deepEqual(r.env, ['A=1', 'B=2']);
    assert.deepEqual(r.additionalGids, [44]);
    assert.deepEqual(r.devices, [{ path: '/dev/one', type: 'c', major: 250, minor: 1 }]);
    assert.deepEqual(r.rules, [], '"none": no access');
    assert.deepEqual(r.hooks, { createContainer: [{ path: '/bin/true' }] });
    await assert.rejects(
      resolveDevices({ cdiDevices: ['example.com/x=three'] }, [dir]),
      /no such device .*kind example\.com\/x has one, two/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("dev_t: glibc's split, also for majors and minors beyond 12 and 20 bits", () => {
  // glibc's makedev: major's low 12 bits at 8, the rest at 44; minor's low 8 bits at 0, the rest at 20.
  const makedev = (ma: bigint, mi: bigint) =>
    ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
  for (const [ma, mi] of [
    [1, 3],
    [7, 0],
    [259, 1048575],
    [0x12345, 0x6789a],
    [0xffffffff, 0xffffffff],
  ] as const)
    assert.deepEqual(majorMinor(makedev(BigInt(ma), BigInt(mi))), { major: ma, minor: mi });
});

test("privileged: the host's device nodes (not its terminals, shared memory or console) and the device cgroup open", async () => {
  const r = await resolveDevices({ security: { privileged: true } });
  const paths = r.devices.map((d) => d.path);
  assert.ok(paths.includes('/dev/null'), 'a device of the host');
  assert.ok(!paths.some((p) => p.startsWith('/dev/pts/') || p.startsWith('/dev/shm/')), paths.join(' '));
  assert.ok(!paths.includes('/dev/console'));
  assert.deepEqual(r.rules, [{ allow: true, access: 'rwm' }]);
  const n = r.devices.find((d) => d.path === '/dev/null')!;
  assert.deepEqual([n.type, n.major, n.minor], ['c', 1, 3]);
  // Not privileged: nothing.
  assert.deepEqual((await resolveDevices({ security: {} })).devices, []);
});
