// The v2 device filter on the real kernel: the v2 manager drives this host's cgroup2 hierarchy
// (on hybrid hosts /sys/fs/cgroup/unified) with the loader berth-runtime uses (the addon's
// bpfAttachDeviceFilter), so the generated program goes through the kernel's verifier and is
// attached for real. Then a process in the cgroup may use /dev/null but not /dev/zero; an update
// replaces the program rather than stacking a second one; a refused program is reported with the
// verifier's log and leaves the filter in place.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEVICE_FILTER_LICENSE, deviceFilterProgram, encodeInstructions, OP } from '../../src/cgroups/device-filter.ts';
import {
  type CgroupManager,
  type DeviceFilterLoader,
  defaultDeviceRules,
  loadCgroupManager,
  newCgroupManager,
} from '../../src/cgroups/index.ts';
import type { LinuxDeviceCgroup } from '../../src/oci/runtime-spec.ts';
import { type BpfError, bpfAttachDeviceFilter, bpfDeviceFilters, isSyscallError } from '../../src/sys/native.ts';

const v2Line = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .find((l) => l.includes(' - cgroup2 '));
const usable = process.getuid?.() === 0 && v2Line !== undefined;
if (!usable && process.env['CI'] === 'true') {
  throw new Error('cgroups-v2-bpf needs root (CAP_BPF, CAP_NET_ADMIN) and a cgroup2 mount in /proc/self/mountinfo');
}

// Exactly what src/runtime/cgroups.ts passes.
const loader: DeviceFilterLoader = (dir, program) => bpfAttachDeviceFilter(dir, program, DEVICE_FILTER_LICENSE);

/** Runs sh in the cgroup (it joins by writing to cgroup.procs) and reports which devices it could open. */
function probe(m: CgroupManager): { nullOk: boolean; zeroOk: boolean; stderr: string } {
  const r = spawnSync(
    'sh',
    [
      '-c',
      'echo 0 > "$1" || exit 99; echo x > /dev/null && echo null-ok; head -c1 /dev/zero > /dev/null && echo zero-ok; true',
      'sh',
      m.joinFiles()[0]!,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `joining ${m.joinFiles()[0]}: ${r.stderr}`);
  return { nullOk: r.stdout.includes('null-ok'), zeroOk: r.stdout.includes('zero-ok'), stderr: r.stderr };
}

function attached(m: CgroupManager): Array<{ id: number; name: string; berth: boolean }> {
  return bpfDeviceFilters(m.paths()['unified']!);
}

describe('cgroup v2 device filter', usable ? {} : { skip: 'needs root and a cgroup2 mount' }, () => {
  const mountpoint = v2Line?.split(' ')[4] ?? '';
  const rootControl = `${mountpoint}/cgroup.subtree_control`;
  const parent = `berth-test-bpf-${process.pid}`;
  let rootControllers: string[] = [];
  const made: CgroupManager[] = [];
  const withDevices = [{ allow: false, access: 'rwm' }, ...defaultDeviceRules()] satisfies LinuxDeviceCgroup[];
  const withoutZero = withDevices.filter((x) => x.minor !== 5);

  function manager(name: string): CgroupManager {
    const m = newCgroupManager({
      id: 'unused',
      cgroupsPath: `/${parent}/${name}`,
      mountinfo: `${v2Line}\n`, // only the cgroup2 mount: the v2 manager, whatever the host's mode
      loadDeviceFilter: loader,
    });
    made.push(m);
    return m;
  }

  before(() => {
    rootControllers = readFileSync(rootControl, 'utf8').trim().split(/\s+/).filter(Boolean);
  });

  after(async () => {
    for (const m of made) {
      await m.killAll();
      await m.destroy();
    }
    if (existsSync(`${mountpoint}/${parent}`)) rmdirSync(`${mountpoint}/${parent}`);
    // Leave the host's root as it was: undo what the manager enabled there.
    const now = readFileSync(rootControl, 'utf8').trim().split(/\s+/).filter(Boolean);
    const extra = now.filter((c) => !rootControllers.includes(c));
    if (extra.length > 0) writeFileSync(rootControl, extra.map((c) => `-${c}`).join(' '));
  });

  test('the generated filter passes the verifier and is enforced; an update replaces it', async () => {
    const m = manager('c1');
    await m.create({ devices: withDevices });
    assert.deepEqual(
      probe(m),
      { nullOk: true, zeroOk: true, stderr: '' },
      '/dev/null and /dev/zero (1:5) are among the defaults',
    );
    const first = attached(m);
    assert.equal(first.length, 1, JSON.stringify(first));
    assert.equal(first[0]!.berth, true);

    // `update` runs in another berth-runtime process: it finds the cgroup from the saved paths.
    const again = loadCgroupManager({ mode: m.mode, paths: m.paths() }, { loadDeviceFilter: loader });
    await again.update({ devices: withoutZero });
    const denied = probe(m);
    assert.equal(denied.nullOk, true);
    assert.equal(denied.zeroOk, false, 'the new program denies /dev/zero');
    assert.match(denied.stderr, /Operation not permitted/);
    const second = attached(m);
    assert.equal(second.length, 1, `the old program is detached: ${JSON.stringify(second)}`);
    assert.notEqual(second[0]!.id, first[0]!.id);

    // Attached programs must all allow an access, so /dev/zero works again only if the denying one is gone.
    await again.update({ devices: withDevices });
    assert.equal(probe(m).zeroOk, true, 'the program that denied /dev/zero was detached');
    assert.equal(attached(m).length, 1);
  });

  test('a program the verifier refuses is reported with its log, and the filter in place stays', async () => {
    const m = manager('c2');
    await m.create({ devices: withoutZero });
    const kept = attached(m);
    assert.equal(kept.length, 1);
    // "exit" with r0 never written: well formed, but the verifier refuses to return an unset register.
    const bad = encodeInstructions([{ code: OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 }]);
    assert.throws(
      () => loader(m.paths()['unified']!, bad),
      (e: unknown) => {
        assert.ok(isSyscallError(e), String(e));
        const err = e as BpfError;
        assert.equal(err.syscall, 'bpf');
        assert.equal(err.bpfCommand, 'BPF_PROG_LOAD');
        assert.equal(err.code, 'EACCES', err.message);
        assert.equal(err.path, m.paths()['unified']);
        assert.match(err.verifierLog ?? '', /R0 !read_ok/);
        assert.ok(err.message.includes(err.verifierLog!), err.message);
        assert.match(
          err.message,
          /BPF_PROG_LOAD '.*berth-test-bpf-\d+\/c2' \(BPF_PROG_TYPE_CGROUP_DEVICE, 1 instruction, license 'Apache'\)/,
        );
        return true;
      },
    );
    assert.deepEqual(attached(m), kept, 'the refused program replaced nothing');
    assert.equal(probe(m).zeroOk, false, 'and the filter still denies /dev/zero');
  });

  test('a directory outside cgroup2 is EBADF naming the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-bpf-test-'));
    try {
      assert.throws(
        () => loader(dir, deviceFilterProgram(withDevices)),
        (e: unknown) =>
          isSyscallError(e, 'EBADF') &&
          (e as BpfError).bpfCommand === 'BPF_PROG_QUERY' &&
          e.path === dir &&
          /not a cgroup v2 directory/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
