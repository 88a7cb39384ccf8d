// The OCI → libseccomp translation, without the addon or root: action values and errnos, flags,
// architectures, and the rewrites runc makes (rules equal to the default dropped, several
// comparisons of one argument split into ORed rules).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import type { LinuxSeccomp, LinuxSeccompAction } from '../oci/runtime-spec.ts';
import { libseccompArch, seccompFilterFromSpec } from './seccomp-filter.ts';

const ALLOW = 0x7fff0000;
const errno = (n: number) => 0x00050000 | n;

function rejects(fn: () => unknown, code: string, path: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isBerthError(e), String(e));
    assert.equal(e.code, code);
    assert.match(e.message, path);
    return true;
  });
}

describe('seccompFilterFromSpec', () => {
  test('every action maps to its libseccomp value; errnoRet and defaultErrnoRet default to EPERM', () => {
    const cases: Array<[LinuxSeccompAction, number | undefined, number]> = [
      ['SCMP_ACT_KILL', undefined, 0x00000000],
      ['SCMP_ACT_KILL_THREAD', undefined, 0x00000000],
      ['SCMP_ACT_KILL_PROCESS', undefined, 0x80000000],
      ['SCMP_ACT_TRAP', undefined, 0x00030000],
      ['SCMP_ACT_ERRNO', undefined, errno(1)],
      ['SCMP_ACT_ERRNO', 38, errno(38)],
      ['SCMP_ACT_ERRNO', 0, errno(0)],
      ['SCMP_ACT_TRACE', undefined, 0x7ff00001],
      ['SCMP_ACT_TRACE', 7, 0x7ff00007],
      ['SCMP_ACT_LOG', undefined, 0x7ffc0000],
    ];
    for (const [action, errnoRet, value] of cases) {
      const { filter } = seccompFilterFromSpec({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['getpid'], action, errnoRet }],
      });
      assert.equal(filter.rules[0]?.action, value, `${action} ${errnoRet}`);
      const d = seccompFilterFromSpec({ defaultAction: action, defaultErrnoRet: errnoRet });
      assert.equal(d.filter.defaultAction, value, `default ${action} ${errnoRet}`);
    }
    assert.equal(seccompFilterFromSpec({ defaultAction: 'SCMP_ACT_ALLOW' }).filter.defaultAction, ALLOW);
  });

  test('an errno out of 16 bits is refused, naming the field', () => {
    rejects(
      () => seccompFilterFromSpec({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 70000 }),
      ErrorCode.InvalidArgument,
      /linux\.seccomp\.defaultErrnoRet/,
    );
    rejects(
      () =>
        seccompFilterFromSpec({
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', errnoRet: -1 }],
        }),
      ErrorCode.InvalidArgument,
      /linux\.seccomp\.syscalls\[0\]\.errnoRet/,
    );
  });

  test('SCMP_ACT_NOTIFY is refused as unsupported, naming the rule', () => {
    rejects(
      () =>
        seccompFilterFromSpec({
          defaultAction: 'SCMP_ACT_ALLOW',
          listenerPath: '/run/agent.sock',
          syscalls: [
            { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
            { names: ['mount'], action: 'SCMP_ACT_NOTIFY' },
          ],
        }),
      ErrorCode.Unsupported,
      /linux\.seccomp\.syscalls\[1\]\.action: SCMP_ACT_NOTIFY/,
    );
  });

  test("architectures become libseccomp's names, once each", () => {
    assert.equal(libseccompArch('SCMP_ARCH_X86_64'), 'x86_64');
    assert.equal(libseccompArch('SCMP_ARCH_MIPSEL64N32'), 'mipsel64n32');
    assert.equal(libseccompArch('SCMP_ARCH_PPC64LE'), 'ppc64le');
    const { filter } = seccompFilterFromSpec({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86'],
    });
    assert.deepEqual(filter.arches, ['x86_64', 'x86', 'x32']);
    assert.deepEqual(seccompFilterFromSpec({ defaultAction: 'SCMP_ACT_ALLOW' }).filter.arches, []);
  });

  test('flags: absent means SPEC_ALLOW (as runc), [] means none, WAIT_KILLABLE_RECV without a listener is dropped with a warning', () => {
    assert.equal(seccompFilterFromSpec({ defaultAction: 'SCMP_ACT_ALLOW' }).flags, 0x4);
    assert.equal(seccompFilterFromSpec({ defaultAction: 'SCMP_ACT_ALLOW', flags: [] }).flags, 0);
    assert.equal(
      seccompFilterFromSpec({
        defaultAction: 'SCMP_ACT_ALLOW',
        flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG'],
      }).flags,
      0x3,
    );
    const warnings: string[] = [];
    const t = seccompFilterFromSpec(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      },
      (w) => warnings.push(w),
    );
    assert.equal(t.flags, 0x4);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /flags\[1\]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored/);
    rejects(
      () => seccompFilterFromSpec({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['NOPE' as never] }),
      ErrorCode.InvalidArgument,
      /flags\[0\]/,
    );
  });

  test('a listenerPath without notify rules is ignored with a warning', () => {
    const warnings: string[] = [];
    seccompFilterFromSpec({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/x.sock' }, (w) => warnings.push(w));
    assert.deepEqual(warnings, ['linux.seccomp.listenerPath ignored: no rule uses SCMP_ACT_NOTIFY']);
  });

  test('each name becomes a rule; a rule equal to the default action is left out, a different errno is not', () => {
    const spec: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mount'], action: 'SCMP_ACT_ERRNO' },
        { names: ['umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      ],
    };
    const { filter } = seccompFilterFromSpec(spec);
    assert.deepEqual(filter.rules, [
      { syscall: 'read', action: ALLOW, args: [] },
      { syscall: 'write', action: ALLOW, args: [] },
      { syscall: 'clone3', action: errno(38), args: [] },
    ]);
  });

  test('argument comparisons: operators, bigint data, MASKED_EQ mask and value', () => {
    const { filter } = seccompFilterFromSpec({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        {
          names: ['clone'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 0, value: 0x7e020000, valueTwo: 0x10000000, op: 'SCMP_CMP_MASKED_EQ' },
            { index: 2, value: 5, op: 'SCMP_CMP_GE' },
          ],
        },
      ],
    });
    assert.deepEqual(filter.rules, [
      {
        syscall: 'clone',
        action: errno(1),
        args: [
          { index: 0, op: 7, value: 0x7e020000n, valueTwo: 0x10000000n },
          { index: 2, op: 5, value: 5n, valueTwo: 0n },
        ],
      },
    ]);
    const ops = [
      'SCMP_CMP_NE',
      'SCMP_CMP_LT',
      'SCMP_CMP_LE',
      'SCMP_CMP_EQ',
      'SCMP_CMP_GE',
      'SCMP_CMP_GT',
      'SCMP_CMP_MASKED_EQ',
    ] as const;
    ops.forEach((op, i) => {
      const r = seccompFilterFromSpec({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['x'], action: 'SCMP_ACT_LOG', args: [{ index: 1, value: 1, op }] }],
      });
      assert.equal(r.filter.rules[0]?.args[0]?.op, i + 1, op);
    });
  });

  test('several comparisons of one argument become one rule each (ORed), as runc does', () => {
    const { filter } = seccompFilterFromSpec({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        {
          names: ['personality', 'other'],
          action: 'SCMP_ACT_ALLOW',
          args: [
            { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
            { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
            { index: 1, value: 3, op: 'SCMP_CMP_EQ' },
          ],
        },
      ],
    });
    assert.deepEqual(
      filter.rules.map((r) => [r.syscall, r.args.map((a) => `${a.index}=${a.value}`).join(',')]),
      [
        ['personality', '0=0'],
        ['personality', '0=8'],
        ['personality', '1=3'],
        ['other', '0=0'],
        ['other', '0=8'],
        ['other', '1=3'],
      ],
    );
  });

  test('argument values that JSON cannot carry exactly, and bad indexes, are refused', () => {
    const withArg = (a: object) => () =>
      seccompFilterFromSpec({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['x'], action: 'SCMP_ACT_LOG', args: [a as never] }],
      });
    rejects(
      withArg({ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }),
      ErrorCode.InvalidArgument,
      /syscalls\[0\]\.args\[0\]\.value/,
    );
    rejects(withArg({ index: 0, value: -1, op: 'SCMP_CMP_EQ' }), ErrorCode.InvalidArgument, /args\[0\]\.value/);
    rejects(withArg({ index: 6, value: 1, op: 'SCMP_CMP_EQ' }), ErrorCode.InvalidArgument, /args\[0\]\.index/);
    rejects(withArg({ index: 0, value: 1, op: 'SCMP_CMP_LIKE' }), ErrorCode.InvalidArgument, /args\[0\]\.op/);
    // A bigint (from a parser that keeps 64-bit integers) passes through exactly.
    const r = seccompFilterFromSpec({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        {
          names: ['x'],
          action: 'SCMP_ACT_LOG',
          args: [{ index: 0, value: 0xffff_ffff_ffff_fffen as never, op: 'SCMP_CMP_EQ' }],
        },
      ],
    });
    assert.equal(r.filter.rules[0]?.args[0]?.value, 0xffff_ffff_ffff_fffen);
  });
});
