// Root integration tests of seccomp: profiles compiled by src/seccomp (libseccomp through the
// addon), carried by a plan encoded with src/sys/plan.ts, loaded by native/build/berth-init's
// SECCOMP op in a busybox container run in the foreground. Checks that a denied syscall fails with
// the configured errno, that argument conditions select, that the default action (and its errno)
// applies, and where the op may sit in a plan with and without no_new_privs.
// Cleans up: the temp dir is removed; processes die with the foreground init (killed by pid on a
// timeout); mounts die with the mount namespace each plan creates.
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBerthError } from '../../src/errors/errors.ts';
import type { LinuxSeccomp, LinuxSyscall } from '../../src/oci/runtime-spec.ts';
import { seccompOp } from '../../src/seccomp/seccomp-op.ts';
import { launchInit } from '../../src/sys/init-process.ts';
import { encodePlan, int, ints, op, type PlanOp, PlanMode, str, strs } from '../../src/sys/plan.ts';
import { buildRootfs } from '../lib/bundle.ts';
import { dockerDefaultSeccomp } from '../lib/docker-default-seccomp.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const INIT = join(ROOT, 'native/build/berth-init');

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWPID = 0x20000000;
const MS_REC = 0x4000;
const MS_SLAVE = 0x80000;
const MS_BIND = 0x1000;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;
const IN_ROOT_MKDIR = 0x1 | 0x8 | 0x2;

/** Docker's default capability set as a mask (CHOWN … SETFCAP): no CAP_SYS_ADMIN. */
const DOCKER_CAPS = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31].reduce((m, c) => m | (1n << BigInt(c)), 0n);
const ENOSYS = 38;
const EREMOTEIO = 121;
const SIGUSR1 = 10;

let work: string;
let rootfs: string;

/**
 * Docker's default profile with three changes to test against: mkdir is answered with ENOSYS, kill
 * with SIGUSR1 is refused (other signals pass), and the default errno is EREMOTEIO so that "not on
 * the list" is told apart from a capability check's EPERM.
 */
function testProfile(extra: Partial<LinuxSeccomp> = {}): LinuxSeccomp {
  const base = dockerDefaultSeccomp();
  const syscalls: LinuxSyscall[] = (base.syscalls ?? []).map((s) => ({
    ...s,
    names: s.names.filter((n) => !['mkdir', 'mkdirat', 'kill'].includes(n)),
  }));
  syscalls.push({ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  syscalls.push({ names: ['kill'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: SIGUSR1, op: 'SCMP_CMP_NE' }] });
  syscalls.push({ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: SIGUSR1, op: 'SCMP_CMP_EQ' }] });
  return { ...base, defaultErrnoRet: EREMOTEIO, syscalls: syscalls.filter((s) => s.names.length > 0), ...extra };
}

const SCRIPT = [
  'mkdir /tmp/denied 2>&1; echo mkdir=$?',
  'kill -0 $$; echo kill0=$?',
  'kill -USR1 $$ 2>&1; echo usr1=$?',
  'dmesg 2>&1 >/dev/null; echo dmesg=$?',
  'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status',
].join('; ');

/** The plan of a foreground container: new mount and pid namespaces, busybox root, `credentials`, then sh -c SCRIPT. */
function plan(credentials: PlanOp[], script = SCRIPT): Buffer {
  return encodePlan([
    op('MODE', int(PlanMode.foreground)),
    op('CLONE', int(CLONE_NEWNS | CLONE_NEWPID)),
    op('SETSID'),
    op('MOUNT', str(''), str('/'), str(''), int(MS_SLAVE | MS_REC), str(''), int(0)),
    op('MOUNT', str(rootfs), str(rootfs), str(''), int(MS_BIND | MS_REC), str(''), int(0)),
    op('ROOTFS', str(rootfs)),
    op(
      'MOUNT',
      str('proc'),
      str('/proc'),
      str('proc'),
      int(MS_NOSUID | MS_NODEV | MS_NOEXEC),
      str(''),
      int(IN_ROOT_MKDIR),
    ),
    op('PIVOT_ROOT'),
    op('CHDIR', str('/'), int(1)),
    op('CLOSE_FDS', int(3)),
    ...credentials,
    op('READY'),
    op('EXEC', str('/bin/sh'), strs(['sh', '-c', script]), strs(['PATH=/bin'])),
  ]);
}

/** Runs `plan` with berth's own launcher; returns the container's exit status and output. */
async function run(p: Buffer): Promise<{ status: number; out: string }> {
  const outFile = join(work, `out-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const fd = openSync(outFile, 'w');
  try {
    const init = await launchInit({ plan: p, preserveFds: 0, stdio: ['ignore', fd, fd] });
    const timer = setTimeout(() => {
      try {
        process.kill(init.pid, 'SIGKILL');
      } catch {}
    }, 15_000);
    const status = await init.exited;
    clearTimeout(timer);
    return { status, out: readFileSync(outFile, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

const dropCaps = [
  op('CAP_BOUNDING', int(DOCKER_CAPS)),
  op('USER', int(0), int(0), ints([]), int(1)),
  op('CAPS', int(DOCKER_CAPS), int(DOCKER_CAPS), int(DOCKER_CAPS), int(0)),
];

function expectFiltered(r: { status: number; out: string }, nnp: 0 | 1): void {
  assert.equal(r.status, 0, r.out);
  const lines = r.out.trimEnd().split('\n');
  // Denied with the rule's errno (ENOSYS), before the kernel looked at the path.
  assert.match(lines[0]!, /mkdir: can't create directory '\/tmp\/denied': Function not implemented/);
  assert.equal(lines[1], 'mkdir=1');
  // kill: allowed unless the signal is SIGUSR1, which the shell would otherwise die of.
  assert.equal(lines[2], 'kill0=0');
  assert.match(lines[3]!, /Operation not permitted/);
  assert.equal(lines[4], 'usr1=1');
  // syslog(2) is on no list: the default action answers, with defaultErrnoRet.
  assert.match(lines[5]!, /dmesg: klogctl: Remote I\/O error/);
  assert.equal(lines[6], 'dmesg=1');
  assert.deepEqual(
    lines.slice(7).map((l) => l.replace(/\s+/g, ' ')),
    ['NoNewPrivs: 0'.replace('0', String(nnp)), 'Seccomp: 2'],
  );
  assert.ok(!existsSync(join(rootfs, 'tmp/denied')));
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'test/integration/seccomp.test.ts needs root (namespaces, mounts, capabilities)');
  assert.ok(existsSync(INIT), `${INIT} is missing: run scripts/build.sh`);
  assert.equal(process.arch, 'x64', 'the profile and syscalls below are for x86_64 (the CI machine)');
  work = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
  rootfs = join(work, 'rootfs');
  buildRootfs(rootfs);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('seccomp in berth-init (root)', () => {
  it('without no_new_privs, loaded before the capabilities are dropped: rules, argument conditions and the default errno apply', async () => {
    const warnings: string[] = [];
    const r = await run(
      plan([op('CLOSE_FDS', int(3)), seccompOp(testProfile(), (w) => warnings.push(w)), ...dropCaps]),
    );
    expectFiltered(r, 0);
  });

  it('without no_new_privs, loading after the capabilities are dropped is refused (EACCES): the op must come before CAPS', async () => {
    await assert.rejects(run(plan([...dropCaps, seccompOp(testProfile())])), (e: unknown) => {
      assert.ok(isBerthError(e), String(e));
      assert.equal(e.errno, 13, e.message);
      assert.match(e.message, /SECCOMP/);
      return true;
    });
  });

  it('with no_new_privs, loaded after NO_NEW_PRIVS and the capability drop, just before READY', async () => {
    const r = await run(plan([...dropCaps, op('NO_NEW_PRIVS'), seccompOp(testProfile())]));
    expectFiltered(r, 1);
  });

  it('the flags reach seccomp(2): TSYNC, LOG and SPEC_ALLOW load; KILL_PROCESS as the default kills the container', async () => {
    const flagged = testProfile({
      flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
    });
    const r = await run(plan([...dropCaps, op('NO_NEW_PRIVS'), seccompOp(flagged)]));
    expectFiltered(r, 1);

    const killing = testProfile({ defaultAction: 'SCMP_ACT_KILL_PROCESS', defaultErrnoRet: undefined });
    const k = await run(plan([...dropCaps, op('NO_NEW_PRIVS'), seccompOp(killing)], 'echo before; dmesg; echo after'));
    // The shell forks dmesg, whose syslog(2) kills it with SIGSYS; the shell reports it and goes on.
    assert.equal(k.status, 0, k.out);
    assert.equal(k.out, 'before\nBad system call\nafter\n');
  });
});
