// compileSeccomp through the addon and libseccomp (no root: nothing is loaded). The programs are
// run in a classic-BPF interpreter (test/lib/seccomp-bpf.ts) to check what they answer, including
// for Docker's default profile.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dockerDefaultSeccomp } from '../../test/lib/docker-default-seccomp.ts';
import { AUDIT_ARCH, runSeccompBpf, X32_SYSCALL_BIT } from '../../test/lib/seccomp-bpf.ts';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { Op } from '../sys/plan.ts';
import { compileSeccomp, MAX_BPF_INSTRUCTIONS } from './compile-seccomp.ts';
import { seccompOp } from './seccomp-op.ts';

const ALLOW = 0x7fff0000;
const KILL_THREAD = 0;
const errno = (n: number) => 0x00050000 | n;

// x86_64 and i386 syscall numbers (asm/unistd_64.h, asm/unistd_32.h).
const X64 = {
  mkdir: 83,
  mount: 165,
  clone: 56,
  clone3: 435,
  personality: 135,
  socket: 41,
  reboot: 169,
  getrandom: 318,
  io_uring_setup: 425,
  getpid: 39,
  chroot: 161,
  read: 0,
};
const I386 = { mkdir: 39, mount: 21, getpid: 20 };
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNET = 0x40000000;
const SIGCHLD = 17;
const CLONE_THREAD_FLAGS = 0x3d0f00; // what pthread_create passes

const onX64 = process.arch === 'x64';

function verdict(
  program: Uint8Array,
  nr: number,
  args: Array<number | bigint> = [],
  arch: number = AUDIT_ARCH.x86_64,
): number {
  return runSeccompBpf(program, { nr, arch, args }) >>> 0;
}

describe('compileSeccomp', { skip: !onX64 && 'syscall numbers below are x86_64 (the CI machine)' }, () => {
  test("Docker's default profile compiles to a loadable program that answers as Docker's does", () => {
    const warnings: string[] = [];
    const c = compileSeccomp(dockerDefaultSeccomp({ arch: 'x64' }), (w) => warnings.push(w));
    assert.ok(c.program.length > 0 && c.program.length % 8 === 0, `length ${c.program.length}`);
    assert.ok(c.program.length / 8 <= MAX_BPF_INSTRUCTIONS);
    assert.equal(c.flags, 0x4, 'no flags in the profile: SPEC_ALLOW, as runc');
    // Names this libseccomp does not know are left out and reported, never common ones. Debian 12's
    // 2.5.4 predates e.g. cachestat (Linux 6.5), which the profile allows.
    for (const name of c.skipped)
      assert.ok(!['read', 'clone', 'mkdir', 'socket', 'personality', 'getrandom'].includes(name), name);
    assert.equal(warnings.length, c.skipped.length > 0 ? 1 : 0);

    const p = c.program;
    assert.equal(verdict(p, X64.read), ALLOW);
    assert.equal(verdict(p, X64.mkdir), ALLOW);
    assert.equal(verdict(p, X64.getpid), ALLOW);
    assert.equal(verdict(p, X64.chroot), ALLOW, 'CAP_SYS_CHROOT is in the default set');
    assert.equal(verdict(p, X64.mount), errno(1), 'mount needs CAP_SYS_ADMIN');
    assert.equal(verdict(p, X64.reboot), errno(1));
    // clone: threads and forks yes, new namespaces no; clone3 pretends not to exist.
    assert.equal(verdict(p, X64.clone, [SIGCHLD]), ALLOW);
    assert.equal(verdict(p, X64.clone, [CLONE_THREAD_FLAGS]), ALLOW);
    assert.equal(verdict(p, X64.clone, [CLONE_NEWUSER | SIGCHLD]), errno(1));
    assert.equal(verdict(p, X64.clone, [CLONE_NEWNET]), errno(1));
    assert.equal(verdict(p, X64.clone3), errno(38));
    // personality: only the listed domains; socket: anything but AF_VSOCK.
    assert.equal(verdict(p, X64.personality, [0]), ALLOW);
    assert.equal(verdict(p, X64.personality, [0xffffffff]), ALLOW);
    assert.equal(verdict(p, X64.personality, [0x0040000]), errno(1));
    assert.equal(verdict(p, X64.socket, [2]), ALLOW);
    assert.equal(verdict(p, X64.socket, [39]), ALLOW);
    assert.equal(verdict(p, X64.socket, [41]), ALLOW);
    assert.equal(verdict(p, X64.socket, [38]), errno(1));
    assert.equal(verdict(p, X64.socket, [40]), errno(1));
    assert.equal(verdict(p, X64.getrandom), ALLOW);
    assert.equal(verdict(p, X64.io_uring_setup), errno(1));
    // The 32-bit ABIs listed in the profile are filtered too, each with its own numbers.
    assert.equal(verdict(p, I386.mkdir, [], AUDIT_ARCH.i386), ALLOW);
    assert.equal(verdict(p, I386.mount, [], AUDIT_ARCH.i386), errno(1));
    assert.equal(verdict(p, X32_SYSCALL_BIT | X64.mkdir), ALLOW);
    assert.equal(verdict(p, X32_SYSCALL_BIT | X64.mount), errno(1));
    // An architecture the profile does not name is killed (libseccomp's bad-arch action).
    assert.equal(verdict(p, 83, [], AUDIT_ARCH.aarch64), KILL_THREAD);
  });

  test('with CAP_SYS_ADMIN the profile allows mount and any clone, and has no clone3 rule', () => {
    const c = compileSeccomp(dockerDefaultSeccomp({ arch: 'x64', capabilities: ['CAP_SYS_ADMIN'] }));
    assert.equal(verdict(c.program, X64.mount), ALLOW);
    assert.equal(verdict(c.program, X64.clone, [CLONE_NEWUSER]), ALLOW);
    assert.equal(verdict(c.program, X64.clone3), ALLOW);
    assert.equal(verdict(c.program, X64.chroot), errno(1), 'no CAP_SYS_CHROOT here');
  });

  test('argument comparisons: ORed rules on one argument, 64-bit values, masked equality', () => {
    const c = compileSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: [],
      syscalls: [
        {
          names: ['personality'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 22,
          args: [
            { index: 0, value: 1, op: 'SCMP_CMP_EQ' },
            { index: 0, value: 2, op: 'SCMP_CMP_EQ' },
          ],
        },
        {
          names: ['mkdir'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 13,
          args: [{ index: 1, value: 0o700, op: 'SCMP_CMP_GT' }],
        },
        {
          names: ['clone'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 1,
          args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }],
        },
        {
          names: ['socket'],
          action: 'SCMP_ACT_KILL_PROCESS',
          args: [{ index: 2, value: 0x1_0000_0001, op: 'SCMP_CMP_EQ' }],
        },
      ],
    });
    assert.equal(c.flags, 0);
    assert.equal(verdict(c.program, X64.personality, [1]), errno(22));
    assert.equal(verdict(c.program, X64.personality, [2]), errno(22));
    assert.equal(verdict(c.program, X64.personality, [3]), ALLOW);
    assert.equal(verdict(c.program, X64.mkdir, [0, 0o755]), errno(13));
    assert.equal(verdict(c.program, X64.mkdir, [0, 0o700]), ALLOW);
    assert.equal(verdict(c.program, X64.clone, [CLONE_NEWUSER | SIGCHLD]), errno(1));
    assert.equal(verdict(c.program, X64.clone, [SIGCHLD]), ALLOW);
    // The high half counts: 0x1_0000_0001 is not 0x1.
    assert.equal(verdict(c.program, X64.socket, [2, 1, 0x1_0000_0001n]), 0x80000000);
    assert.equal(verdict(c.program, X64.socket, [2, 1, 1]), ALLOW);
  });

  test('every action reaches the program with its data', () => {
    const actions = [
      ['SCMP_ACT_TRAP', undefined, 0x00030000],
      ['SCMP_ACT_TRACE', 9, 0x7ff00009],
      ['SCMP_ACT_LOG', undefined, 0x7ffc0000],
      ['SCMP_ACT_KILL', undefined, 0],
      ['SCMP_ACT_KILL_PROCESS', undefined, 0x80000000],
      ['SCMP_ACT_ERRNO', 95, errno(95)],
    ] as const;
    for (const [action, errnoRet, value] of actions) {
      const c = compileSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['getpid'], action, errnoRet }],
      });
      assert.equal(verdict(c.program, X64.getpid), value >>> 0, action);
      assert.equal(verdict(c.program, X64.mkdir), ALLOW, action);
    }
    const d = compileSeccomp({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW' }],
    });
    assert.equal(verdict(d.program, X64.mkdir), errno(38));
    assert.equal(verdict(d.program, X64.getpid), ALLOW);
  });

  test('unknown syscall names are left out and reported once', () => {
    const warnings: string[] = [];
    const c = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['no_such_call', 'mkdir'], action: 'SCMP_ACT_ERRNO' },
          { names: ['no_such_call'], action: 'SCMP_ACT_LOG' },
        ],
      },
      (w) => warnings.push(w),
    );
    assert.deepEqual(c.skipped, ['no_such_call']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /no_such_call/);
    assert.equal(verdict(c.program, X64.mkdir), errno(1));
  });

  test('an architecture libseccomp does not know is Unsupported, naming the field', () => {
    assert.throws(
      () => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_SHEB'] }),
      (e: unknown) =>
        isBerthError(e, ErrorCode.Unsupported) && /linux\.seccomp\.architectures: .*'sheb'/.test(e.message),
    );
  });

  test('the same profile compiles to the same bytes; seccompOp wraps them as the SECCOMP op', () => {
    const spec = dockerDefaultSeccomp({ arch: 'x64' });
    const a = compileSeccomp(spec);
    const o = seccompOp(spec);
    assert.equal(o.op, 'SECCOMP');
    assert.equal(Op[o.op], 0x031c);
    assert.deepEqual(o.values[0], { t: 'int', v: 0x4 });
    const prog = o.values[1];
    assert.ok(prog?.t === 'bytes');
    assert.deepEqual(Buffer.from(prog.v), Buffer.from(a.program));
  });

  test('a profile compiled again comes from the cache: its warnings are heard again, and another profile is compiled afresh', () => {
    const profile = (name: string) => ({
      defaultAction: 'SCMP_ACT_ALLOW' as const,
      syscalls: [{ names: ['mkdir', name], action: 'SCMP_ACT_ERRNO' as const, errnoRet: 1 }],
    });
    const heard: string[][] = [[], [], []];
    const a = compileSeccomp(profile('no_such_call_a'), (w) => heard[0]!.push(w));
    const b = compileSeccomp(profile('no_such_call_a'), (w) => heard[1]!.push(w));
    const c = compileSeccomp(profile('no_such_call_b'), (w) => heard[2]!.push(w));
    assert.deepEqual(Buffer.from(b.program), Buffer.from(a.program));
    assert.deepEqual(heard[1], heard[0]);
    assert.match(heard[0]![0]!, /no_such_call_a/);
    assert.deepEqual(c.skipped, ['no_such_call_b']);
    assert.match(heard[2]![0]!, /no_such_call_b/);
    assert.equal(verdict(c.program, X64.mkdir), errno(1));
    // A caller cannot change what the next one gets.
    assert.throws(() => (b.skipped as string[]).push('x'));
  });
});
