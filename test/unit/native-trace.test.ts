// Runs plans through native/build/berth-init-trace (the executor over the recording fake of its
// syscall layer) and compares the exact syscall log: the executor's meaning of each op, tested
// end to end without root. Plans are encoded from docs/plan-protocol.md by test/lib/plan-wire.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  B,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUSER,
  encodePlan,
  encodePlanRaw,
  encodeValue,
  HOW_MKDIR,
  HOW_MKFILE,
  I,
  II,
  IN_ROOT,
  MS_BIND,
  MS_REC,
  MS_SLAVE,
  OP,
  rawOp,
  S,
  SS,
  type WireOp,
} from '../lib/plan-wire.ts';

const TRACE = join(resolve(import.meta.dirname, '../..'), 'native/build/berth-init-trace');
let dir: string;
let n = 0;

/** `fs` describes the fake tree's exceptions (BERTH_TRACE_FS, see native/sys-trace.c). */
function trace(plan: Buffer, fs = ''): { status: number | null; log: string; stderr: string } {
  const file = join(dir, `plan-${n++}.bin`);
  writeFileSync(file, plan);
  const r = spawnSync(TRACE, [file], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, BERTH_TRACE_FS: fs },
  });
  return { status: r.status, log: r.stdout, stderr: r.stderr };
}

function lines(s: string): string {
  return `${s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('\n')}\n`;
}

before(() => {
  assert.ok(existsSync(TRACE), `${TRACE} is missing: run make -C native (scripts/build.sh does)`);
  dir = mkdtempSync(join(tmpdir(), 'berth-native-trace-'));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('berth-init-trace', () => {
  it('runs a create plan in order: pre-clone, clone, parent, PID, child', () => {
    const ops: WireOp[] = [
      [OP.MODE, I(0)],
      [OP.JOIN_NS, I(0x40000000), S('/run/netns/x')],
      [OP.MKFIFO, S('/run/b/exec.fifo'), I(0o622)],
      [OP.WRITE_FILE, S('/sys/fs/cgroup/berth/cgroup.procs'), S('0')],
      [OP.CLONE, I(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)],
      [OP.SETGROUPS, S('deny')],
      [OP.UID_MAP, S('0 100000 65536\n')],
      [OP.GID_MAP, S('0 100000 65536\n')],
      [OP.PRLIMIT, I(7), I(1024), I(-1)],
      [OP.OOM_SCORE_ADJ, I(-500)],
      [OP.SETSID],
      [OP.SETRESID, I(0), I(0)],
      [OP.UMASK, I(0)],
      [OP.MOUNT, S(''), S('/'), S(''), I(MS_SLAVE | MS_REC), S(''), I(0)],
      [OP.MOUNT, S('/r'), S('/r'), S(''), I(MS_BIND | MS_REC), S(''), I(0)],
      [OP.ROOTFS, S('/r')],
      [OP.MOUNT, S('proc'), S('/proc'), S('proc'), I(0xe), S(''), I(IN_ROOT | HOW_MKDIR)],
      [OP.MOUNT, S('/dev/null'), S('/dev/null'), S(''), I(MS_BIND), S(''), I(IN_ROOT | HOW_MKFILE)],
      [OP.MOUNT, S('/data'), S('/mnt'), S(''), I(MS_BIND), S(''), I(IN_ROOT | 0x10)],
      [OP.MKDIR, S('/dev/pts'), I(0o755)],
      [OP.MKNOD, S('/dev/zero'), I(0o20666), I(1), I(5), I(0), I(0)],
      [OP.SYMLINK, S('/proc/self/fd'), S('/dev/fd')],
      [OP.HOOK_SYNC],
      [OP.RUN_HOOK, S('/bin/hook'), SS(['hook', 'a']), SS(['X=1']), I(3)],
      [OP.PIVOT_ROOT],
      [OP.HOSTNAME, S('h')],
      [OP.DOMAINNAME, S('d')],
      [OP.SYSCTL, S('net/ipv4/ip_forward'), S('1')],
      [OP.CONSOLE, I(5), I(24), I(80)],
      [OP.READONLY_PATH, S('/proc/sys')],
      [OP.MASK_PATH, S('/proc/kcore')],
      [OP.PERSONALITY, I(8)],
      [OP.CLOSE_FDS, I(3)],
      // Keep caps 2..39: drop 0, 1 and 40 (the fake kernel's last).
      [OP.CAP_BOUNDING, I((1n << 40n) - 4n)],
      [OP.USER, I(1000), I(1000), II([100, 1001]), I(1)],
      [OP.CHDIR, S('/home'), I(1)],
      [OP.CAPS, I(5), I(5), I(5), I(4)],
      [OP.NO_NEW_PRIVS],
      [OP.SETRLIMIT, I(7), I(10), I(20)],
      [OP.READY],
      [OP.WAIT_FIFO],
      [OP.SECCOMP, I(0), B(Buffer.alloc(16))],
      [OP.UMASK, I(0o22)],
      [OP.EXEC, S('sh'), SS(['sh', '-c', 'echo hi']), SS(['PATH=/bin:/usr/bin'])],
    ];
    const r = trace(encodePlan(ops));
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.equal(
      r.log,
      lines(`
        open("/run/netns/x", O_RDONLY|O_CLOEXEC) = 100
        setns(100, CLONE_NEWNET) = 0
        close(100) = 0
        mkfifo("/run/b/exec.fifo", 0622) = 0
        open("/run/b/exec.fifo", O_PATH|O_CLOEXEC) = 101
        write_file("/sys/fs/cgroup/berth/cgroup.procs", "0") = 0
        clone(CLONE_NEWNS|CLONE_NEWUSER|CLONE_NEWPID|SIGCHLD) = 4242
        write_file("/proc/4242/setgroups", "deny") = 0
        write_file("/proc/4242/uid_map", "0 100000 65536\\n") = 0
        write_file("/proc/4242/gid_map", "0 100000 65536\\n") = 0
        prlimit(4242, 7, 1024, -1) = 0
        write_file("/proc/4242/oom_score_adj", "-500") = 0
        read_file_at(99, "4242/stat") = 87
        send_frame(3, PID, 4242, "424242") = 0
        setsid() = 0
        setresgid(0, 0, 0) = 0
        setresuid(0, 0, 0) = 0
        umask(0) = 022
        mount(NULL, "/", NULL, 0x84000, NULL) = 0
        mount("/r", "/r", NULL, 0x5000, NULL) = 0
        open("/r", O_PATH|O_DIRECTORY|O_CLOEXEC) = 102
        openat2(102, "/proc", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 103
        mount("proc", "/proc/self/fd/103", "proc", 0xe, NULL) = 0
        close(103) = 0
        openat2(102, "/dev/null", O_PATH|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 104
        mount("/dev/null", "/proc/self/fd/104", NULL, 0x1000, NULL) = 0
        close(104) = 0
        openat2(102, "/data", O_PATH|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 105
        openat2(102, "/mnt", O_PATH|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 106
        mount("/proc/self/fd/105", "/proc/self/fd/106", NULL, 0x1000, NULL) = 0
        close(105) = 0
        close(106) = 0
        openat2(102, "/dev/pts", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 107
        close(107) = 0
        openat2(102, "/dev", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 108
        mknodat(108, "zero", 020666, makedev(1, 5)) = 0
        fchownat(108, "zero", 0, 0, 0x100) = 0
        close(108) = 0
        openat2(102, "/dev", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 109
        symlinkat("/proc/self/fd", 109, "fd") = 0
        close(109) = 0
        send_frame(3, HOOKS) = 0
        recv_frame(3) = CONTINUE, 0 bytes
        run_hook("/bin/hook", ["hook", "a"], ["X=1"], stdin=0 bytes, timeout=3) = 0
        open("/", O_RDONLY|O_DIRECTORY|O_CLOEXEC) = 110
        fchdir(102) = 0
        pivot_root(".", ".") = 0
        fchdir(110) = 0
        close(110) = 0
        mount(NULL, ".", NULL, 0x84000, NULL) = 0
        umount2(".", 0x2) = 0
        chdir("/") = 0
        sethostname("h") = 0
        setdomainname("d") = 0
        write_file("/proc/sys/net/ipv4/ip_forward", "1") = 0
        open("/dev/pts/ptmx", O_RDWR|O_NOCTTY|O_CLOEXEC) = 111
        ioctl(111, TIOCSPTLCK, 0) = 0
        ioctl(111, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC) = 112
        ioctl(111, TIOCGPTN) = 0 {0}
        ioctl(112, TIOCSWINSZ, {rows=24, cols=80}) = 0
        sendmsg(5, SCM_RIGHTS [111], "/dev/pts/0") = 0
        close(111) = 0
        ioctl(112, TIOCSCTTY, 0) = 0
        dup2(112, 0) = 0
        dup2(112, 1) = 1
        dup2(112, 2) = 2
        close(112) = 0
        mount("/proc/sys", "/proc/sys", NULL, 0x5000, NULL) = 0
        statfs("/proc/sys") = 0
        mount(NULL, "/proc/sys", NULL, 0x1021, NULL) = 0
        mount("/dev/null", "/proc/kcore", NULL, 0x1000, NULL) = 0
        personality(0x8) = 0
        close_range(3, 0xffffffff, CLOSE_RANGE_CLOEXEC) = 0
        prctl(PR_CAPBSET_DROP, 0, 0) = 0
        prctl(PR_CAPBSET_DROP, 1, 0) = 0
        prctl(PR_CAPBSET_DROP, 40, 0) = 0
        prctl(PR_SET_KEEPCAPS, 1, 0) = 0
        setgroups(2, [100, 1001]) = 0
        setresgid(1000, 1000, 1000) = 0
        setresuid(1000, 1000, 1000) = 0
        prctl(PR_SET_KEEPCAPS, 0, 0) = 0
        chdir("/home") = 0
        getcwd("/home") = 0
        capset(v3, effective=0x5, permitted=0x5, inheritable=0x5) = 0
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 2) = 0
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0) = 0
        setrlimit(7, 10, 20) = 0
        send_frame(3, READY) = 0
        close(3) = 0
        prctl(PR_SET_DUMPABLE, 1, 0) = 0
        open("/proc/self/fd/101", O_WRONLY|O_CLOEXEC) = 113
        prctl(PR_SET_DUMPABLE, 0, 0) = 0
        write(113, "\\x00", 1) = 1
        seccomp(SECCOMP_SET_MODE_FILTER, 0x0, {len=2}) = 0
        umask(022) = 022
        execve("/bin/sh", ["sh", "-c", "echo hi"], ["PATH=/bin:/usr/bin"])
      `),
    );
  });

  it('CHROOT instead of PIVOT_ROOT moves the rootfs onto / (--no-pivot)', () => {
    const r = trace(
      encodePlan([
        [OP.CLONE, I(CLONE_NEWNS)],
        [OP.ROOTFS, S('/r')],
        [OP.CHROOT, I(1)],
        [OP.EXEC, S('/bin/true'), SS(['true']), SS([])],
      ]),
    );
    assert.equal(r.status, 0);
    assert.equal(
      r.log,
      lines(`
        clone(CLONE_NEWNS|SIGCHLD) = 4242
        read_file_at(99, "4242/stat") = 87
        send_frame(3, PID, 4242, "424242") = 0
        open("/r", O_PATH|O_DIRECTORY|O_CLOEXEC) = 100
        fchdir(100) = 0
        mount(".", "/", NULL, 0x2000, NULL) = 0
        chroot(".") = 0
        chdir("/") = 0
        execve("/bin/true", ["true"], [])
      `),
    );
  });

  it('PID carries the start time: field 22 of /proc/<pid>/stat, counted after the last ")" of comm', () => {
    // The fake's stat line has comm "sh (x) y" (spaces and parentheses) and start time 424242.
    const r = trace(encodePlan([[OP.CLONE, I(0)]]));
    assert.equal(r.status, 0);
    assert.match(
      r.log,
      /^clone\(SIGCHLD\) = 4242\nread_file_at\(99, "4242\/stat"\) = \d+\nsend_frame\(3, PID, 4242, "424242"\) = 0\n/,
    );
  });

  it('in-root creation follows a dangling symlink inside the root, creating what its target lacks', () => {
    // rootfs/evil-bind -> /tmp/x/bind-target (absolute: from the root), rootfs/tmp/x missing;
    // rootfs/a/rel -> ../r (relative: from a/); rootfs/evil-file -> /tmp/x/f.
    const fs = '/evil-bind>/tmp/x/bind-target;-/tmp/x;/a/rel>../r;-/a/../r;/evil-file>/tmp/x/f';
    const bind = (target: string, how: number): WireOp => [
      OP.MOUNT,
      S('/src'),
      S(target),
      S(''),
      I(MS_BIND),
      S(''),
      I(IN_ROOT | how),
    ];
    const r = trace(
      encodePlan([
        [OP.CLONE, I(0)],
        [OP.ROOTFS, S('/r')],
        bind('/evil-bind', HOW_MKDIR),
        bind('/a/rel', HOW_MKDIR),
        bind('/evil-file', HOW_MKFILE),
      ]),
      fs,
    );
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.equal(
      r.log.split('\n').slice(3).join('\n'),
      lines(`
        open("/r", O_PATH|O_DIRECTORY|O_CLOEXEC) = 100
        openat2(100, "/evil-bind", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = -1 ENOENT
        openat2(100, "/", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 101
        openat2(100, "/evil-bind", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = -1 ENOENT
        readlinkat(101, "evil-bind") = "/tmp/x/bind-target"
        close(101) = 0
        openat2(100, "/", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 102
        openat2(100, "/tmp", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 103
        close(102) = 0
        openat2(100, "/tmp/x", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = -1 ENOENT
        readlinkat(103, "x") = -1 ENOENT
        mkdirat(103, "x", 0755) = 0
        openat2(100, "/tmp/x", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 104
        close(103) = 0
        openat2(100, "/tmp/x/bind-target", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = -1 ENOENT
        readlinkat(104, "bind-target") = -1 ENOENT
        mkdirat(104, "bind-target", 0755) = 0
        openat2(100, "/tmp/x/bind-target", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 105
        close(104) = 0
        mount("/src", "/proc/self/fd/105", NULL, 0x1000, NULL) = 0
        close(105) = 0
        openat2(100, "/a/rel", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = -1 ENOENT
        openat2(100, "/", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 106
        openat2(100, "/a", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 107
        close(106) = 0
        openat2(100, "/a/rel", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = -1 ENOENT
        readlinkat(107, "rel") = "../r"
        close(107) = 0
        openat2(100, "/", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 108
        openat2(100, "/a", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 109
        close(108) = 0
        openat2(100, "/a/..", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 110
        close(109) = 0
        openat2(100, "/a/../r", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = -1 ENOENT
        readlinkat(110, "r") = -1 ENOENT
        mkdirat(110, "r", 0755) = 0
        openat2(100, "/a/../r", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 111
        close(110) = 0
        mount("/src", "/proc/self/fd/111", NULL, 0x1000, NULL) = 0
        close(111) = 0
        openat2(100, "/evil-file", O_PATH|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = -1 ENOENT
        openat2(100, "/", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 112
        readlinkat(112, "evil-file") = "/tmp/x/f"
        close(112) = 0
        openat2(100, "/tmp/x", O_PATH|O_DIRECTORY|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 113
        readlinkat(113, "f") = -1 ENOENT
        mknodat(113, "f", 0100644, makedev(0, 0)) = 0
        close(113) = 0
        openat2(100, "/tmp/x/f", O_PATH|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) = 114
        mount("/src", "/proc/self/fd/114", NULL, 0x1000, NULL) = 0
        close(114) = 0
        exit(0)
      `),
    );
  });

  it('in-root creation gives up with ELOOP after 40 symlinks', () => {
    const r = trace(
      encodePlan([
        [OP.CLONE, I(0)],
        [OP.ROOTFS, S('/r')],
        [OP.MKDIR, S('/l1/x'), I(0o755)],
      ]),
      '/l1>/l2;/l2>/l1',
    );
    assert.equal(r.status, 1);
    assert.equal((r.log.match(/readlinkat/g) ?? []).length, 41);
    assert.match(
      r.log,
      /send_frame\(3, ERROR, 40, "MKDIR \/l1\/x \(in root \/r\): Too many levels of symbolic links"\) = 0\nexit\(1\)\n$/,
    );
  });

  it('MKFIFO keeps an O_PATH fd of the FIFO for WAIT_FIFO; an OPEN_FIFO replaces it', () => {
    const r = trace(
      encodePlan([
        [OP.MKFIFO, S('/run/b/exec.fifo'), I(0o600)],
        [OP.CLONE, I(0)],
        [OP.WAIT_FIFO],
        [OP.OPEN_FIFO, S('/run/b/other.fifo')],
        [OP.WAIT_FIFO],
      ]),
    );
    assert.equal(r.status, 0);
    assert.equal(
      r.log
        .split('\n')
        .filter((l) => !/^(clone|read_file_at|send_frame)/.test(l))
        .join('\n'),
      lines(`
        mkfifo("/run/b/exec.fifo", 0600) = 0
        open("/run/b/exec.fifo", O_PATH|O_CLOEXEC) = 100
        prctl(PR_SET_DUMPABLE, 1, 0) = 0
        open("/proc/self/fd/100", O_WRONLY|O_CLOEXEC) = 101
        prctl(PR_SET_DUMPABLE, 0, 0) = 0
        write(101, "\\x00", 1) = 1
        close(100) = 0
        open("/run/b/other.fifo", O_PATH|O_CLOEXEC) = 102
        prctl(PR_SET_DUMPABLE, 1, 0) = 0
        open("/proc/self/fd/102", O_WRONLY|O_CLOEXEC) = 103
        prctl(PR_SET_DUMPABLE, 0, 0) = 0
        write(103, "\\x00", 1) = 1
        exit(0)
      `),
    );
  });

  it("RESOLVE_EXEC searches the EXEC env's PATH now (regular, executable files only); EXEC runs exactly what it found", () => {
    const plan = (name: string, env: string[] = ['PATH=/usr/local/bin:/bin']): Buffer =>
      encodePlan([[OP.CLONE, I(0)], [OP.RESOLVE_EXEC], [OP.READY], [OP.EXEC, S(name), SS([name]), SS(env)]]);
    const childLog = (log: string): string =>
      log
        .split('\n')
        .filter((l) => !/^(clone|read_file_at|send_frame\(3, PID)/.test(l))
        .join('\n');
    // A directory and a missing file are skipped; the search stops at the first executable.
    const found = trace(plan('sh'), '+/usr/local/bin/sh');
    assert.equal(found.status, 0);
    assert.equal(
      childLog(found.log),
      lines(`
        faccessat(AT_FDCWD, "/usr/local/bin/sh", X_OK, 0) = 0
        fstatat(AT_FDCWD, "/usr/local/bin/sh", 0x0) = 0 {S_IFDIR}
        faccessat(AT_FDCWD, "/bin/sh", X_OK, 0) = 0
        fstatat(AT_FDCWD, "/bin/sh", 0x0) = 0 {S_IFREG}
        send_frame(3, READY) = 0
        close(3) = 0
        execve("/bin/sh", ["sh"], ["PATH=/usr/local/bin:/bin"])
      `),
    );
    // No PATH in the env: the default one.
    const dflt = trace(plan('true', []), '-/usr/local/sbin/true;-/usr/local/bin/true;-/usr/sbin/true');
    assert.match(dflt.log, /execve\("\/usr\/bin\/true", \["true"\], \[\]\)\n$/);
    // Missing everywhere: create fails, before READY.
    const missing = trace(plan('nope'), '-/usr/local/bin/nope;-/bin/nope');
    assert.equal(missing.status, 1);
    assert.match(
      missing.log,
      /faccessat\(AT_FDCWD, "\/bin\/nope", X_OK, 0\) = -1 ENOENT\nsend_frame\(3, EXEC_ERROR, 2, "RESOLVE_EXEC \\"nope\\": executable file not found in \$PATH"\) = 0\nexit\(1\)\n$/,
    );
    // Found but not executable, and nothing better later: EACCES naming it.
    const denied = trace(plan('tool'), '!/usr/local/bin/tool;-/bin/tool');
    assert.equal(denied.status, 1);
    assert.match(
      denied.log,
      /send_frame\(3, EXEC_ERROR, 13, "RESOLVE_EXEC \\"tool\\": \/usr\/local\/bin\/tool: Permission denied"\) = 0\nexit\(1\)\n$/,
    );
    // A path with a slash is checked as it is, never searched.
    const direct = trace(plan('./bin/x'), '-./bin/x');
    assert.equal(direct.status, 1);
    assert.match(
      direct.log,
      /faccessat\(AT_FDCWD, ".\/bin\/x", X_OK, 0\) = -1 ENOENT\nsend_frame\(3, EXEC_ERROR, 2, "RESOLVE_EXEC \\".\/bin\/x\\": No such file or directory"\) = 0\n/,
    );
  });

  it('UNSHARE(CLONE_NEWTIME) in stage0, then the offsets, then CLONE: the child is born in the time namespace', () => {
    const offsets = 'monotonic 0 0\nboottime 864000000 0\n';
    const r = trace(
      encodePlan([
        [OP.UNSHARE, I(CLONE_NEWTIME)],
        [OP.WRITE_FILE, S('/proc/self/timens_offsets'), S(offsets)],
        [OP.CLONE, I(CLONE_NEWNS)],
      ]),
    );
    assert.equal(r.status, 0);
    assert.match(
      r.log,
      /^unshare\(CLONE_NEWTIME\) = 0\nwrite_file\("\/proc\/self\/timens_offsets", "monotonic 0 0\\nboottime 864000000 0\\n"\) = 0\nclone\(CLONE_NEWNS\|SIGCHLD\) = 4242\n/,
    );
  });

  it('a plan without EXEC ends with exit(0) after its last op', () => {
    const r = trace(
      encodePlan([
        [OP.CLONE, I(0)],
        [OP.HOSTNAME, S('x')],
      ]),
    );
    assert.equal(r.status, 0);
    assert.equal(
      r.log,
      lines(
        'clone(SIGCHLD) = 4242\nread_file_at(99, "4242/stat") = 87\nsend_frame(3, PID, 4242, "424242") = 0\nsethostname("x") = 0\nexit(0)',
      ),
    );
  });

  it('rejects a malformed plan before running anything', () => {
    const cases: Array<[Buffer, string]> = [
      [encodePlanRaw([], 'BRTHPLAX'), 'plan: bad magic (expected \\"BRTHPLAN\\")'],
      [encodePlanRaw([rawOp(0x0142, Buffer.alloc(0))]), 'plan: op 0: unknown op code 0x142'],
      [
        encodePlanRaw([rawOp(OP.CLONE, encodeValue(S('0')))]),
        'plan: op 0 (CLONE): value 0 (flags): expected int (tag 1), got str (tag 2)',
      ],
      [encodePlanRaw([rawOp(OP.CLONE, encodeValue(I(0)), 1)]), 'plan: op 0 (CLONE): reserved field is not 0'],
      [
        encodePlan([
          [OP.CLONE, I(0)],
          [OP.CLONE, I(0)],
        ]),
        'plan: op 1 (CLONE): a second CLONE (exactly one per plan)',
      ],
      [encodePlan([[OP.SETSID], [OP.CLONE, I(0)]]), 'plan: op 0 (SETSID): child op before CLONE'],
      [
        encodePlan([
          [OP.CGROUP_INTO, S('/a')],
          [OP.CGROUP_INTO, S('/b')],
          [OP.CLONE, I(0)],
        ]),
        'plan: op 1 (CGROUP_INTO): a second CGROUP_INTO (a process is cloned into one cgroup2 directory)',
      ],
      [
        encodePlan([
          [OP.CLONE, I(0)],
          [OP.CGROUP_INTO, S('/a')],
        ]),
        'plan: op 1 (CGROUP_INTO): pre-clone op after CLONE',
      ],
      [encodePlan([[OP.CLONE, I(0x100)]]), 'plan: op 0 (CLONE): value 0 (flags): only CLONE_NEW* flags are allowed'],
      [
        encodePlan([[OP.CLONE, I(CLONE_NEWNS | CLONE_NEWTIME)]]),
        'plan: op 0 (CLONE): value 0 (flags): CLONE_NEWTIME (0x80) cannot be given to clone: UNSHARE it before CLONE',
      ],
      [
        encodePlan([
          [OP.UNSHARE, I(0x100)],
          [OP.CLONE, I(0)],
        ]),
        'plan: op 0 (UNSHARE): value 0 (flags): expected CLONE_NEW* flags (at least one)',
      ],
      [
        encodePlan([
          [OP.UNSHARE, I(0)],
          [OP.CLONE, I(0)],
        ]),
        'plan: op 0 (UNSHARE): value 0 (flags): expected CLONE_NEW* flags (at least one)',
      ],
      [
        encodePlan([
          [OP.CLONE, I(0)],
          [OP.UNSHARE, I(CLONE_NEWTIME)],
        ]),
        'plan: op 1 (UNSHARE): pre-clone op after CLONE',
      ],
      [
        encodePlan([
          [OP.CLONE, I(0)],
          [OP.MKDIR, S('/x'), I(0o755)],
        ]),
        'plan: op 1 (MKDIR): needs a ROOTFS op before it',
      ],
      [
        encodePlan([
          [OP.CLONE, I(0)],
          [OP.ROOTFS, S('/r')],
          [OP.MOUNT, S('a'), S('/b'), S(''), I(0), S(''), I(0x1)],
        ]),
        'plan: op 2 (MOUNT): value 5 (how): 0x1 (in-root) needs 0x8 (mount via the resolved fd)',
      ],
      [
        encodePlan([[OP.CLONE, I(0)], [OP.RESOLVE_EXEC], [OP.HOSTNAME, S('x')]]),
        'plan: op 1 (RESOLVE_EXEC): needs an EXEC op after it',
      ],
      [encodePlan([[OP.CLONE, I(0)], [OP.RESOLVE_EXEC]]), 'plan: op 1 (RESOLVE_EXEC): needs an EXEC op after it'],
      [
        encodePlan([[OP.CLONE, I(0)], [OP.WAIT_FIFO]]),
        'plan: op 1 (WAIT_FIFO): WAIT_FIFO without a MKFIFO or OPEN_FIFO before it',
      ],
      [
        encodePlan([
          [OP.CLONE, I(0)],
          [OP.SECCOMP, I(0), B(Buffer.alloc(12))],
        ]),
        'plan: op 1 (SECCOMP): value 1 (program): expected 1..4096 struct sock_filter (8 bytes each)',
      ],
      [
        encodePlanRaw([
          rawOp(OP.CLONE, Buffer.concat([Buffer.from([2]), Buffer.from([3, 0, 0, 0]), Buffer.from('a\0b\0')])),
        ]),
        'plan: op 0 (CLONE): value 0 (flags): expected int (tag 1), got str (tag 2)',
      ],
      [
        encodePlanRaw([
          rawOp(OP.CLONE, encodeValue(I(0))),
          rawOp(OP.HOSTNAME, Buffer.concat([Buffer.from([2, 3, 0, 0, 0]), Buffer.from('a\0b\0')])),
        ]),
        'plan: op 1 (HOSTNAME): value 0 (name): string contains a 0 byte',
      ],
    ];
    for (const [plan, message] of cases) {
      const r = trace(plan);
      assert.equal(r.status, 1, message);
      assert.equal(r.log, `send_frame(3, ERROR, 22, "${message}") = 0\nexit(1)\n`);
    }
  });
});
