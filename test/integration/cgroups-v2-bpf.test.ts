// The v2 device filter on the real kernel: the v2 manager drives this host's cgroup2 hierarchy
// (on hybrid hosts /sys/fs/cgroup/unified), and a test-only loader (python3 + ctypes calling bpf(2))
// loads the generated program through the kernel's verifier and attaches it. Then a process in the
// cgroup may use /dev/null but not /dev/zero. berth itself has no BPF loader yet (see v2-manager.ts);
// this test proves the program the runtime will hand to one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { defaultDeviceRules, newCgroupManager } from '../../src/cgroups/index.ts';
import { BPF_CGROUP_DEVICE, BPF_PROG_TYPE_CGROUP_DEVICE, DEVICE_FILTER_LICENSE } from '../../src/cgroups/device-filter.ts';

const v2Line = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .find((l) => l.includes(' - cgroup2 '));
const python = spawnSync('python3', ['-c', 'import ctypes'], { encoding: 'utf8' }).status === 0;
const usable = process.getuid?.() === 0 && v2Line !== undefined && python && process.arch === 'x64';
if (!usable && process.env['CI'] === 'true') {
  throw new Error('cgroups-v2-bpf needs root, a cgroup2 mount, python3 and x86_64 (bpf syscall number)');
}

// bpf(2) from python: BPF_PROG_LOAD (5), then BPF_PROG_ATTACH (8) on the cgroup directory.
const LOADER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
prog = sys.stdin.buffer.read()
cg = sys.argv[1]
insns = ctypes.create_string_buffer(prog, len(prog))
lic = ctypes.create_string_buffer(b"${DEVICE_FILTER_LICENSE}")
log = ctypes.create_string_buffer(65536)
attr = ctypes.create_string_buffer(128)
ctypes.memmove(attr, (ctypes.c_uint32 * 2)(${BPF_PROG_TYPE_CGROUP_DEVICE}, len(prog) // 8), 8)
ctypes.memmove(ctypes.byref(attr, 8), (ctypes.c_uint64 * 2)(ctypes.addressof(insns), ctypes.addressof(lic)), 16)
ctypes.memmove(ctypes.byref(attr, 24), (ctypes.c_uint32 * 2)(1, 65536), 8)
ctypes.memmove(ctypes.byref(attr, 32), (ctypes.c_uint64 * 1)(ctypes.addressof(log)), 8)
fd = libc.syscall(321, 5, attr, 128)
if fd < 0:
    sys.stderr.write("BPF_PROG_LOAD: %s\\n%s\\n" % (os.strerror(ctypes.get_errno()), log.value.decode()))
    sys.exit(1)
cgfd = os.open(cg, os.O_RDONLY | os.O_DIRECTORY)
attr = ctypes.create_string_buffer(128)
ctypes.memmove(attr, (ctypes.c_uint32 * 4)(cgfd, fd, ${BPF_CGROUP_DEVICE}, 2), 16)
if libc.syscall(321, 8, attr, 128) < 0:
    sys.stderr.write("BPF_PROG_ATTACH: %s\\n" % os.strerror(ctypes.get_errno()))
    sys.exit(1)
`;

test('the generated device filter passes the verifier and is enforced by the kernel', usable ? {} : { skip: 'needs root, cgroup2, python3, x86_64' }, async () => {
  const mountpoint = v2Line!.split(' ')[4]!;
  const rootControl = `${mountpoint}/cgroup.subtree_control`;
  const before = readFileSync(rootControl, 'utf8').trim().split(/\s+/).filter(Boolean);
  const parent = `berth-test-bpf-${process.pid}`;
  const m = newCgroupManager({
    id: 'unused',
    cgroupsPath: `/${parent}/c1`,
    mountinfo: `${v2Line}\n`, // only the cgroup2 mount: the v2 manager, whatever the host's mode
    loadDeviceFilter: (dir, program) => {
      const r = spawnSync('python3', ['-c', LOADER, dir], { input: program, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    },
  });
  try {
    const rules = [{ allow: false, access: 'rwm' }, ...defaultDeviceRules()];
    await m.create({ devices: rules });
    const r = spawnSync(
      'sh',
      ['-c', 'echo 0 > "$1" || exit 99; echo x > /dev/null && echo null-ok; head -c1 /dev/zero > /dev/null && echo zero-ok; true', 'sh', m.joinFiles()[0]!],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /null-ok/);
    assert.match(r.stdout, /zero-ok/, '/dev/zero (1:5) is among the defaults');
    // Now without /dev/zero: a second cgroup whose program denies it.
    const m2 = newCgroupManager({ id: 'unused', cgroupsPath: `/${parent}/c2`, mountinfo: `${v2Line}\n`, loadDeviceFilter: (d, p) => {
      const r2 = spawnSync('python3', ['-c', LOADER, d], { input: p, encoding: 'utf8' });
      assert.equal(r2.status, 0, r2.stderr);
    } });
    try {
      await m2.create({ devices: rules.filter((x) => x.minor !== 5) });
      const r3 = spawnSync(
        'sh',
        ['-c', 'echo 0 > "$1" || exit 99; echo x > /dev/null && echo null-ok; head -c1 /dev/zero > /dev/null && echo zero-ok; true', 'sh', m2.joinFiles()[0]!],
        { encoding: 'utf8' },
      );
      assert.match(r3.stdout, /null-ok/);
      assert.doesNotMatch(r3.stdout, /zero-ok/);
      assert.match(r3.stderr, /Operation not permitted/);
    } finally {
      await m2.killAll();
      await m2.destroy();
    }
  } finally {
    await m.killAll();
    await m.destroy();
    if (existsSync(`${mountpoint}/${parent}`)) rmdirSync(`${mountpoint}/${parent}`);
    // Leave the host's root as it was: undo what the manager enabled there.
    const now = readFileSync(rootControl, 'utf8').trim().split(/\s+/).filter(Boolean);
    const extra = now.filter((c) => !before.includes(c));
    if (extra.length > 0) writeFileSync(rootControl, extra.map((c) => `-${c}`).join(' '));
  }
});
