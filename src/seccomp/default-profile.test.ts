// berth's default seccomp profile against the independent oracle of docker's
// (test/lib/docker-default-seccomp.ts): for each capability set and architecture the same syscalls
// are allowed unconditionally, the same are allowed only with the same argument checks, and the
// same answer with the same errno. Also the rendering rules of docker's profile format.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DOCKER_DEFAULT_CAPABILITIES, dockerDefaultSeccomp } from '../../test/lib/docker-default-seccomp.ts';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import type { LinuxSeccomp } from '../oci/runtime-spec.ts';
import { compileSeccomp } from './compile-seccomp.ts';
import { defaultSeccomp } from './default-profile.ts';
import { parseSeccompProfile, renderSeccompProfile } from './seccomp-profile.ts';

/** What a profile decides, independent of how its rules are grouped. */
function facts(p: LinuxSeccomp): { allowed: string[]; conditional: string[]; other: string[]; head: unknown } {
  const allowed = new Set<string>();
  const conditional = new Set<string>();
  const other = new Set<string>();
  for (const s of p.syscalls ?? []) {
    for (const n of s.names) {
      if (s.action === 'SCMP_ACT_ALLOW' && !s.args?.length) allowed.add(n);
      else if (s.action === 'SCMP_ACT_ALLOW')
        conditional.add(`${n} ${JSON.stringify((s.args ?? []).map((a) => [a.index, a.op, a.value, a.valueTwo ?? 0]))}`);
      else other.add(`${n} ${s.action} ${s.errnoRet}`);
    }
  }
  const sorted = (x: Set<string>) => [...x].sort();
  return {
    allowed: sorted(allowed),
    conditional: sorted(conditional),
    other: sorted(other),
    head: [p.defaultAction, p.defaultErrnoRet, p.architectures],
  };
}

const CAP_SETS: Record<string, string[]> = {
  "docker's default set": DOCKER_DEFAULT_CAPABILITIES,
  none: [],
  'default + SYS_ADMIN': [...DOCKER_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'],
  'default + SYS_PTRACE, SYS_TIME, SYS_NICE, DAC_READ_SEARCH, SYSLOG': [
    ...DOCKER_DEFAULT_CAPABILITIES,
    'CAP_SYS_PTRACE',
    'CAP_SYS_TIME',
    'CAP_SYS_NICE',
    'CAP_DAC_READ_SEARCH',
    'CAP_SYSLOG',
  ],
  'default + BOOT, MODULE, PACCT, RAWIO, TTY_CONFIG, BPF, PERFMON': [
    ...DOCKER_DEFAULT_CAPABILITIES,
    'CAP_SYS_BOOT',
    'CAP_SYS_MODULE',
    'CAP_SYS_PACCT',
    'CAP_SYS_RAWIO',
    'CAP_SYS_TTY_CONFIG',
    'CAP_BPF',
    'CAP_PERFMON',
  ],
};

describe('default seccomp profile', () => {
  for (const [label, caps] of Object.entries(CAP_SETS)) {
    for (const [nodeArch, goArch] of [
      ['x64', 'amd64'],
      ['arm64', 'arm64'],
    ] as const) {
      test(`same syscall sets as docker's, ${label}, ${goArch}`, () => {
        const mine = defaultSeccomp(caps, { arch: goArch, capabilities: caps, kernel: '6.1.0-18-amd64' });
        const oracle = dockerDefaultSeccomp({ arch: nodeArch, capabilities: caps });
        assert.deepEqual(facts(mine), facts(oracle));
      });
    }
  }

  test('CAP_SYS_ADMIN unlocks mount, unshare and namespace-making clone; without it clone3 is ENOSYS', () => {
    const host = { arch: 'amd64', kernel: '6.1.0' };
    const plain = facts(defaultSeccomp(DOCKER_DEFAULT_CAPABILITIES, { ...host, capabilities: [] }));
    const admin = facts(
      defaultSeccomp([...DOCKER_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], { ...host, capabilities: [] }),
    );
    for (const n of ['mount', 'unshare', 'setns', 'clone', 'clone3']) {
      assert.ok(!plain.allowed.includes(n), n);
      assert.ok(admin.allowed.includes(n), n);
    }
    assert.deepEqual(plain.other, ['clone3 SCMP_ACT_ERRNO 38']);
    assert.ok(plain.conditional.some((c) => c.startsWith('clone ')));
    assert.ok(!admin.conditional.some((c) => c.startsWith('clone ')));
  });

  test('ptrace without CAP_SYS_PTRACE only from kernel 4.8 (seccomp after ptrace); the x86 family from archMap', () => {
    const old = defaultSeccomp([], { arch: 'amd64', capabilities: [], kernel: '4.4.0' });
    assert.ok(!facts(old).allowed.includes('ptrace'));
    const cur = defaultSeccomp([], { arch: 'amd64', capabilities: [], kernel: '5.10.0' });
    assert.ok(facts(cur).allowed.includes('ptrace'));
    assert.deepEqual(cur.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.equal(cur.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(cur.defaultErrnoRet, 1);
  });

  test('compiles with libseccomp for this host', {
    skip: process.arch !== 'x64' && process.arch !== 'arm64' && 'x64/arm64 only',
  }, () => {
    const c = compileSeccomp(defaultSeccomp(DOCKER_DEFAULT_CAPABILITIES));
    assert.ok(c.program.length > 0 && c.program.length % 8 === 0);
  });
});

describe('seccomp profile documents', () => {
  const host = { arch: 'amd64', capabilities: ['CAP_CHOWN'], kernel: '6.1.0' };
  const refused = (text: string, re: RegExp) =>
    assert.throws(
      () => renderSeccompProfile(parseSeccompProfile(text, '/p.json'), host, '/p.json'),
      (e: unknown) =>
        isBerthError(e) && e.code === ErrorCode.InvalidArgument && re.test(e.message) && e.message.includes('/p.json'),
    );

  test('an OCI linux.seccomp object passes through unchanged', () => {
    const oci: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    };
    assert.deepEqual(renderSeccompProfile(parseSeccompProfile(JSON.stringify(oci), 'x'), host, 'x'), oci);
  });

  test("docker's name, includes and excludes are decided on the container's capabilities and arch", () => {
    const doc = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { name: 'chown', action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_CHOWN'] } },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
        { names: ['set_tls'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['read'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_CHOWN'] } },
      ],
    };
    assert.deepEqual(renderSeccompProfile(parseSeccompProfile(JSON.stringify(doc), 'x'), host, 'x').syscalls, [
      { names: ['chown'], action: 'SCMP_ACT_ALLOW' },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW' },
    ]);
  });

  test('bad documents are refused naming the source and what was expected', () => {
    refused('{not json', /invalid JSON/);
    refused('[]', /expected a JSON object/);
    refused('{"syscalls": []}', /defaultAction is missing/);
    refused('{"defaultAction": "SCMP_ACT_NOPE"}', /defaultAction/);
    refused('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}}', /syscalls must be an array/);
    refused(
      '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": "CAP_X"}}]}',
      /syscalls\[0\]\.includes\.caps/,
    );
    refused(
      '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "x", "names": ["y"], "action": "SCMP_ACT_ALLOW"}]}',
      /both name and names/,
    );
    refused(
      '{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}',
      /both architectures and archMap/,
    );
    refused('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [null]}', /syscalls\[0\]/);
  });
});
