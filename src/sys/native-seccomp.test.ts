// The addon's seccompCompile at its own level (no root; nothing is loaded): argument checks, and
// libseccomp's refusals passed through as system errors that name the call and the syscall.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { constants, seccompCompile } from './native.ts';

const ALLOW = constants.SCMP_ACT_ALLOW;
const EPERM_ACTION = constants.SCMP_ACT_ERRNO | 1;

function throwsCode(fn: () => unknown, code: string, syscall?: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    const err = e as { code?: string; syscall?: string; message: string };
    assert.equal(err.code, code, err.message);
    if (syscall !== undefined) assert.equal(err.syscall, syscall);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('seccompCompile (addon)', () => {
  test('a minimal filter is a whole number of sock_filter instructions ending in a return', () => {
    const { program, skipped } = seccompCompile({ defaultAction: ALLOW, arches: [], rules: [] });
    assert.deepEqual(skipped, []);
    assert.ok(program.length >= 8 && program.length % 8 === 0);
    // The last instruction is BPF_RET|BPF_K.
    assert.equal(program.readUInt16LE(program.length - 8) & 0x07, 0x06);
  });

  test('bad input is a TypeError naming the field', () => {
    const bad = [
      [{ defaultAction: -1, arches: [], rules: [] }, /profile\.defaultAction/],
      [{ defaultAction: ALLOW, arches: 'x86_64', rules: [] }, /profile\.arches/],
      [
        {
          defaultAction: ALLOW,
          arches: [],
          rules: [{ syscall: 'read', action: EPERM_ACTION, args: [{ index: 6, op: 4, value: 0n, valueTwo: 0n }] }],
        },
        /arg\.index/,
      ],
      [
        {
          defaultAction: ALLOW,
          arches: [],
          rules: [{ syscall: 'read', action: EPERM_ACTION, args: [{ index: 0, op: 8, value: 0n, valueTwo: 0n }] }],
        },
        /arg\.op/,
      ],
      [
        {
          defaultAction: ALLOW,
          arches: [],
          rules: [{ syscall: 'read', action: EPERM_ACTION, args: [{ index: 0, op: 4, value: 1, valueTwo: 0n }] }],
        },
        /arg\.value/,
      ],
      [
        {
          defaultAction: ALLOW,
          arches: [],
          rules: [{ syscall: 'read', action: EPERM_ACTION, args: [{ index: 0, op: 4, value: -1n, valueTwo: 0n }] }],
        },
        /arg\.value/,
      ],
    ] as const;
    for (const [input, field] of bad)
      throwsCode(() => seccompCompile(input as never), 'ERR_INVALID_ARG_TYPE', undefined, field);
  });

  test("libseccomp's refusals pass through: a rule equal to the default (EACCES), two comparisons of one argument (EINVAL), an unknown arch", () => {
    throwsCode(
      () =>
        seccompCompile({ defaultAction: ALLOW, arches: [], rules: [{ syscall: 'mkdir', action: ALLOW, args: [] }] }),
      'EACCES',
      'seccomp_rule_add',
      /'mkdir'/,
    );
    const twice = [
      { index: 0, op: constants.SCMP_CMP_EQ, value: 1n, valueTwo: 0n },
      { index: 0, op: constants.SCMP_CMP_EQ, value: 2n, valueTwo: 0n },
    ];
    throwsCode(
      () =>
        seccompCompile({
          defaultAction: ALLOW,
          arches: [],
          rules: [{ syscall: 'personality', action: EPERM_ACTION, args: twice }],
        }),
      'EINVAL',
      'seccomp_rule_add',
    );
    throwsCode(
      () => seccompCompile({ defaultAction: ALLOW, arches: ['z80'], rules: [] }),
      'EINVAL',
      'seccomp_arch_resolve_name',
      /'z80'/,
    );
  });

  test('the native architecture may be listed again; unknown syscall names are returned, not fatal', () => {
    const native = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
    const { skipped } = seccompCompile({
      defaultAction: ALLOW,
      arches: [native],
      rules: [
        { syscall: 'no_such_syscall', action: EPERM_ACTION, args: [] },
        { syscall: 'mkdir', action: EPERM_ACTION, args: [] },
      ],
    });
    assert.deepEqual(skipped, ['no_such_syscall']);
  });
});
