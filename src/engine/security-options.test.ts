import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { CAPABILITIES } from '../oci/runtime-linux-tables.ts';
import { buildSpec, DEFAULT_CAPABILITIES } from './spec-builder.ts';
import { ownBoundingCaps, withGroups } from './security-options.ts';
import type { CreateRequest } from './types.ts';

const spec = (req: Partial<CreateRequest>) =>
  buildSpec({ id: 'a'.repeat(64), request: { image: 'x', cmd: ['true'], ...req }, image: {} });

test('capabilities: docker default set, adds and drops by any spelling, ALL both ways', () => {
  assert.deepEqual(spec({}).process!.capabilities!.bounding, [...DEFAULT_CAPABILITIES]);
  const s = spec({ security: { capAdd: ['net_admin', 'CAP_SYS_TIME'], capDrop: ['KILL'] } }).process!.capabilities!;
  assert.ok(
    s.effective!.includes('CAP_NET_ADMIN') &&
      s.effective!.includes('CAP_SYS_TIME') &&
      !s.effective!.includes('CAP_KILL'),
  );
  assert.deepEqual(spec({ security: { capDrop: ['ALL'], capAdd: ['CHOWN'] } }).process!.capabilities!.permitted, [
    'CAP_CHOWN',
  ]);
  assert.deepEqual(spec({ security: { capAdd: ['ALL'] } }).process!.capabilities!.bounding, [...CAPABILITIES]);
  assert.throws(() => spec({ security: { capAdd: ['NOT_A_CAP'] } }), /capAdd: unknown capability "NOT_A_CAP"/);
  const amb = spec({ security: { ambientCaps: ['NET_RAW'] } }).process!.capabilities!;
  assert.deepEqual([amb.ambient, amb.inheritable], [['CAP_NET_RAW'], ['CAP_NET_RAW']]);
});

test('privileged and ALL are what berthd holds (its bounding set), not more', () => {
  const held = ['CAP_CHOWN', 'CAP_NET_ADMIN'];
  const s = buildSpec({
    id: 'a'.repeat(64),
    request: { image: 'x', cmd: ['true'], security: { privileged: true } },
    image: {},
    boundingCaps: held,
  });
  assert.deepEqual(s.process!.capabilities!.bounding, held);
  const own = ownBoundingCaps();
  assert.ok(own.length > 0 && own.every((c) => CAPABILITIES.includes(c)));
});

test('privileged: every capability, nothing masked or read-only, /sys writable', () => {
  const s = spec({ security: { privileged: true, maskedPaths: ['/proc/kcore'] } });
  assert.deepEqual(s.process!.capabilities!.bounding, [...CAPABILITIES]);
  assert.deepEqual([s.linux!.maskedPaths, s.linux!.readonlyPaths], [[], []]);
  assert.ok(!s.mounts!.find((m) => m.destination === '/sys')!.options!.includes('ro'));
  assert.ok(
    spec({})
      .mounts!.find((m) => m.destination === '/sys')!
      .options!.includes('ro'),
  );
});

test('masked and read-only paths replace the defaults when given; no_new_privileges; sysctls; cpu shares, cpuset, oom score', () => {
  const d = spec({});
  assert.ok(d.linux!.maskedPaths!.includes('/proc/kcore'));
  const s = spec({
    security: {
      maskedPaths: ['/proc/x'],
      readonlyPaths: [],
      noNewPrivileges: true,
      sysctls: { 'net.ipv4.ip_forward': '1' },
    },
    cpuShares: 512,
    cpusetCpus: '0',
    oomScoreAdj: 500,
  });
  assert.deepEqual([s.linux!.maskedPaths, s.linux!.readonlyPaths, s.process!.noNewPrivileges], [['/proc/x'], [], true]);
  assert.deepEqual(s.linux!.sysctl, { 'net.ipv4.ip_forward': '1' });
  assert.deepEqual(s.linux!.resources!.cpu, { shares: 512, cpus: '0' });
  assert.equal(s.process!.oomScoreAdj, 500);
  assert.throws(
    () => spec({ security: { maskedPaths: ['rel'] } }),
    /maskedPaths\[0\]: "rel" \(expected an absolute path\)/,
  );
  assert.throws(() => spec({ cpuShares: 1 }), /cpuShares 1: expected an integer in 2-262144/);
  assert.throws(() => spec({ cpusetCpus: 'x' }), /cpusetCpus "x"/);
  assert.throws(() => spec({ oomScoreAdj: 2000 }), /oomScoreAdj 2000/);
  assert.throws(() => spec({ security: { sysctls: { bad: '1' } } }), /sysctls: "bad"/);
  assert.throws(() => spec({ security: { groups: [-1] } }), /groups: -1/);
});

test("supplementary groups join the user's", () => {
  assert.deepEqual(withGroups([10], [20, 10]), [10, 20]);
  assert.equal(withGroups(undefined, undefined), undefined);
  assert.deepEqual(withGroups(undefined, [5]), [5]);
});

test("seccomp: berth's default (docker's) for the container's capabilities; none when privileged or unconfined; a profile document from a file or inline", () => {
  const names = (s: ReturnType<typeof spec>) =>
    new Set(
      (s.linux!.seccomp?.syscalls ?? [])
        .filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args)
        .flatMap((r) => r.names),
    );
  const d = spec({});
  assert.equal(d.linux!.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
  assert.ok(names(d).has('read') && !names(d).has('mount') && !names(d).has('unshare'));
  const admin = spec({ security: { capAdd: ['SYS_ADMIN'] } });
  assert.ok(names(admin).has('mount') && names(admin).has('unshare'));
  assert.ok(!names(spec({ security: { capDrop: ['SYS_CHROOT'] } })).has('chroot') && names(d).has('chroot'));
  assert.equal(spec({ security: { privileged: true } }).linux!.seccomp, undefined);
  assert.equal(spec({ security: { privileged: true, seccomp: { kind: 'default' } } }).linux!.seccomp, undefined);
  assert.equal(spec({ security: { seccomp: { kind: 'unconfined' } } }).linux!.seccomp, undefined);
  const doc = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_CHOWN'] } }],
  };
  assert.deepEqual(spec({ security: { seccomp: { kind: 'inline', json: JSON.stringify(doc) } } }).linux!.seccomp, {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
  });
  const dir = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
  try {
    writeFileSync(join(dir, 'p.json'), JSON.stringify(doc));
    writeFileSync(join(dir, 'bad.json'), '{"defaultAction": 1');
    assert.equal(
      spec({ security: { seccomp: { kind: 'localhost', path: join(dir, 'p.json') } } }).linux!.seccomp!.syscalls![0]!
        .names[0],
      'mkdir',
    );
    const field = 'config.linux.security_context.seccomp.localhost_ref';
    for (const [path, re] of [
      [join(dir, 'none.json'), /no such file/],
      [join(dir, 'bad.json'), /invalid JSON/],
      [dir, /not a regular file/],
      ['rel.json', /expected the absolute path/],
    ] as const) {
      assert.throws(
        () => spec({ security: { seccomp: { kind: 'localhost', path, field } } }),
        (e: unknown) =>
          isBerthError(e) &&
          e.code === ErrorCode.InvalidArgument &&
          re.test(e.message) &&
          e.message.includes(field) &&
          e.message.includes(path),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
