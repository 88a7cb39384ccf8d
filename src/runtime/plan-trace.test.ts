// Plan building tested end to end without root: the real plan builder's output, encoded by the real
// encoder, executed by native/build/berth-init-trace (berth-init over a recording fake of its
// syscall layer, docs/plan-protocol.md "Testing without root"). The assertions are on the syscalls
// the kernel would see, in order.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultSpec } from '../oci/runtime-default-spec.ts';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';
import { berthRoot } from '../sys/paths.ts';
import { bytes, encodePlan, int, op } from '../sys/plan.ts';
import { buildCreatePlan, buildExecPlan, type HostFacts, type PlanOptions } from './plan-builder.ts';

const TRACE = join(berthRoot(), 'native/build/berth-init-trace');
let dir: string;

const host: HostFacts = {
  isSymlink: () => false,
  pathKind: (p) => (p.endsWith('.conf') ? 'file' : 'dir'),
  cgroupHierarchies: () => [{ name: 'memory', options: 'memory', fstype: 'cgroup' }],
  capLastCap: () => 40,
  mountPointOf: () => '/',
  seccompOp: () => op('SECCOMP', int(1), bytes(new Uint8Array(16))),
  selinuxEnabled: () => false,
  warn: () => {},
};

const opts: PlanOptions = {
  id: 'c1',
  bundle: '/b',
  mode: 'create',
  fifoPath: '/run/r/c1/exec.fifo',
  preserveFds: 0,
  noPivot: false,
  cgroupJoin: { writeZero: ['/sys/fs/cgroup/memory/berth/c1/tasks'], cloneInto: '/sys/fs/cgroup/unified/berth/c1' },
  cgroupPaths: { memory: '/sys/fs/cgroup/memory/berth/c1' },
};

function spec(mut: (c: RuntimeConfig) => void = () => {}): RuntimeConfig {
  const c = defaultSpec();
  c.process!.terminal = false;
  c.process!.args = ['sh', '-c', 'true'];
  mut(c);
  return c;
}

function trace(plan: Buffer): string[] {
  const file = join(dir, `plan-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(file, plan);
  const r = spawnSync(TRACE, [file], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `berth-init-trace failed: ${r.stderr}\n${r.stdout}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** Asserts that `want` (regexps) match lines of `log` in this order (other lines may come between). */
function inOrder(log: string[], want: RegExp[]): void {
  let i = 0;
  for (const re of want) {
    while (i < log.length && !re.test(log[i]!)) i++;
    assert.ok(i < log.length, `no line matching ${re} after the previous ones in:\n${log.join('\n')}`);
    i++;
  }
}

before(() => {
  assert.ok(existsSync(TRACE), `${TRACE} is missing: run scripts/build.sh`);
  dir = mkdtempSync(join(tmpdir(), 'berth-plan-trace-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('plan builder through berth-init-trace', () => {
  it('a default container: cgroup joined before clone, mounts through fds in root, pivot_root, credentials, then the FIFO and execve', () => {
    const log = trace(encodePlan(buildCreatePlan(spec(), opts, host)));
    inOrder(log, [
      /^mkfifo\("\/run\/r\/c1\/exec\.fifo", 0622\)/,
      /^write_file\("\/sys\/fs\/cgroup\/memory\/berth\/c1\/tasks", "0"\)/,
      /^open\("\/sys\/fs\/cgroup\/unified\/berth\/c1", O_RDONLY\|O_DIRECTORY\|O_CLOEXEC/,
      /^clone3\(CLONE_NEWNS\|CLONE_NEWUTS\|CLONE_NEWIPC\|CLONE_NEWPID\|CLONE_NEWNET\|CLONE_INTO_CGROUP cgroup=\d+, SIGCHLD\)/,
      /^send_frame\(3, PID, 4242, "424242"\)/,
      /^mount\(NULL, "\/", NULL, 0x84000, NULL\)/,
      /^mount\("\/b\/rootfs", "\/b\/rootfs", NULL, 0x5000, NULL\)/,
      /^openat2\(\d+, "\/proc", O_PATH\|O_DIRECTORY\|O_CLOEXEC, RESOLVE_IN_ROOT\|RESOLVE_NO_MAGICLINKS\) = (\d+)/,
      /^mount\("proc", "\/proc\/self\/fd\/\d+", "proc"/,
      /^mount\("\/sys\/fs\/cgroup\/memory\/berth\/c1", "\/proc\/self\/fd\/\d+", NULL, 0x1000/,
      /^mknodat\(\d+, "null", 020666, makedev\(1, 3\)\)/,
      /^pivot_root\(/,
      /^sethostname\(/,
      /^mount\("\/dev\/null", "\/proc\/kcore", NULL, 0x1000/,
      /^close_range\(3, /,
      /^prctl\(PR_CAPBSET_DROP, 0, 0\)/,
      /^setresuid\(0, 0, 0\)/,
      /^chdir\("\/"\)/,
      /^getcwd\(/,
      /^capset\(v3, effective=0x20000420, permitted=0x20000420/,
      /^prctl\(PR_SET_NO_NEW_PRIVS, 1/,
      /^faccessat\(AT_FDCWD, "[^"]*\/sh", X_OK, 0\)/,
      /^send_frame\(3, READY\)/,
      /^open\("\/proc\/self\/fd\/\d+", O_WRONLY\|O_CLOEXEC\)/,
      /^execve\("[^"]*\/sh", \["sh", "-c", "true"\]/,
    ]);
    assert.ok(!log.some((l) => /^mount\("cgroup"/.test(l)), 'no fresh cgroup mount without a cgroup namespace');
  });

  it('rro: the bind, its read-only remount, then mount_setattr(AT_RECURSIVE) on the mount resolved in root again', () => {
    const log = trace(
      encodePlan(
        buildCreatePlan(
          spec((c) =>
            c.mounts!.push({ destination: '/data', type: 'bind', source: '/srv/d', options: ['rbind', 'ro', 'rro'] }),
          ),
          opts,
          host,
        ),
      ),
    );
    inOrder(log, [
      /^mount\("\/srv\/d", "\/proc\/self\/fd\/\d+", NULL, 0x5000, NULL\)/,
      /^mount\(NULL, "\/proc\/self\/fd\/\d+", NULL, 0x1021, NULL\)/,
      /^openat2\(\d+, "\/data", O_PATH\|O_CLOEXEC, RESOLVE_IN_ROOT\|RESOLVE_NO_MAGICLINKS\) = (\d+)/,
      /^mount_setattr\(\d+, "", AT_EMPTY_PATH\|AT_RECURSIVE, \{attr_set=0x1, attr_clr=0x0\}\)/,
      /^pivot_root\(/,
    ]);
  });

  it("a joined user namespace (a pod's): joined after the network namespace, right before clone; bind sources opened before the child becomes its root", () => {
    const log = trace(
      encodePlan(
        buildCreatePlan(
          spec((c) => {
            c.linux!.namespaces = [
              { type: 'network', path: '/proc/9/ns/net' },
              { type: 'user', path: '/proc/9/ns/user' },
              { type: 'ipc', path: '/proc/9/ns/ipc' },
              { type: 'uts', path: '/proc/9/ns/uts' },
              { type: 'mount' },
              { type: 'pid' },
            ];
            c.mounts!.push({
              destination: '/etc/hosts',
              type: 'bind',
              source: '/srv/pods/p1/hosts',
              options: ['rbind'],
            });
          }),
          opts,
          host,
        ),
      ),
    );
    inOrder(log, [
      /^setns\(\d+, CLONE_NEWNET\)/,
      /^write_file\("\/sys\/fs\/cgroup\/memory\/berth\/c1\/tasks", "0"\)/,
      /^setns\(\d+, CLONE_NEWUSER\)/,
      /^clone3\(CLONE_NEWNS\|CLONE_NEWPID/,
      /^open\("\/srv\/pods\/p1\/hosts", O_PATH\|O_CLOEXEC/,
      /^dup2\(\d+, 256\)/,
      /^setresgid\(0, 0, 0\)/,
      /^setresuid\(0, 0, 0\)/,
      /^mount\("\/proc\/self\/fd\/256", "\/proc\/self\/fd\/\d+", NULL, 0x5000, NULL\)/,
    ]);
  });

  it('a user namespace: maps written by the parent after clone, devices bound from the host, never mknod', () => {
    const log = trace(
      encodePlan(
        buildCreatePlan(
          spec((c) => {
            c.linux!.namespaces!.push({ type: 'user' });
            c.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
            c.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
          }),
          opts,
          host,
        ),
      ),
    );
    inOrder(log, [
      /^clone3?\(.*CLONE_NEWUSER/,
      /uid_map", "0 100000 65536\\n"\)/,
      /gid_map", "0 100000 65536\\n"\)/,
      /^setresgid\(0/,
      /^mount\("\/dev\/null", "\/proc\/self\/fd\/\d+", NULL, 0x1000/,
    ]);
    assert.ok(!log.some((l) => l.startsWith('mknodat(')), 'no mknod in a user namespace');
  });

  it('seccomp without no_new_privs: the cwd is checked, then the filter loads while capabilities remain', () => {
    const log = trace(
      encodePlan(
        buildCreatePlan(
          spec((c) => {
            c.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' };
            c.process!.noNewPrivileges = false;
          }),
          opts,
          host,
        ),
      ),
    );
    inOrder(log, [/^chdir\("\/"\)/, /^getcwd\(/, /^seccomp\(/, /^prctl\(PR_CAPBSET_DROP/, /^capset\(/, /^execve\(/]);
  });

  it('exec: joins the cgroup, then the namespaces of the init (mount last), forks, and execs', () => {
    const c = spec();
    const log = trace(
      encodePlan(
        buildExecPlan(
          c,
          { ...c.process!, args: ['id'] },
          {
            initPid: 77,
            mode: 'foreground',
            preserveFds: 0,
            cgroupJoin: { writeZero: ['/cg/tasks'], cloneInto: '/cg2' },
          },
          host,
        ),
      ),
    );
    inOrder(log, [
      /^write_file\("\/cg\/tasks", "0"\)/,
      /^open\("\/cg2", O_RDONLY\|O_DIRECTORY/,
      /^open\("\/proc\/77\/ns\/ipc"/,
      /^setns\(/,
      /^open\("\/proc\/77\/ns\/mnt"/,
      /^setns\(/,
      /^clone3\(CLONE_INTO_CGROUP cgroup=\d+, SIGCHLD\)/,
      /^execve\("[^"]*\/id", \["id"\]/,
    ]);
  });
});
