// Root integration tests of native/build/berth-init against the real kernel: plans encoded here
// from docs/plan-protocol.md (test/lib/plan-wire.ts), run as berth would run them (spawn with the
// sync socket as fd 3). Each test cleans up: temp dirs removed, leftover processes killed by pid;
// mounts die with the mount namespaces the plans create.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { recvFds, socketpair } from '../../src/sys/native.ts';
import { buildRootfs } from '../lib/bundle.ts';
import { namespaceMissing } from '../lib/host.ts';
import {
  B,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  encodePlan,
  encodePlanRaw,
  encodeValue,
  FRAME,
  frame,
  I,
  IN_ROOT,
  HOW_MKDIR,
  HOW_MKFILE,
  HOW_NO_SYMLINK,
  II,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_REC,
  MS_SLAVE,
  OP,
  rawOp,
  S,
  SS,
  splitFrames,
  type WireFrame,
  type WireOp,
} from '../lib/plan-wire.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const INIT = join(ROOT, 'native/build/berth-init');
const PATH_ENV = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  frames: WireFrame[];
}

interface RunOptions {
  /** Extra stdio entries after the sync socket (fd 4, 5, …), or before it when `syncFd` moves it. */
  stdio?: Array<'ignore' | 'pipe' | number>;
  /** Position of the sync socket in stdio (default 3). */
  syncFd?: number;
  /** Called for every frame with the running process and its sync socket. */
  onFrame?: (f: WireFrame, child: ChildProcess, sync: Duplex) => void;
  /** Resolve when stage0 exits instead of waiting for every stdio pipe to close (create mode). */
  untilExit?: boolean;
  timeoutMs?: number;
}

const started = new Set<number>();

/** Runs berth-init with `plan`, returns its exit and what it said. */
function runInit(plan: Buffer, opts: RunOptions = {}): Promise<Result> {
  const syncFd = opts.syncFd ?? 3;
  const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe'];
  const extra = opts.stdio ?? [];
  for (let fd = 3, k = 0; fd <= 3 + extra.length; fd++) stdio.push(fd === syncFd ? 'pipe' : (extra[k++] ?? 'ignore'));
  const child = spawn(INIT, [String(syncFd)], { stdio });
  if (child.pid) started.add(child.pid);
  const sync = child.stdio[syncFd] as Duplex;
  const res: Result = { code: null, signal: null, stdout: '', stderr: '', frames: [] };
  child.stdout!.on('data', (d: Buffer) => {
    res.stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    res.stderr += d.toString();
  });
  let pending: Buffer = Buffer.alloc(0);
  sync.on('data', (d: Buffer) => {
    const { frames, rest } = splitFrames(Buffer.concat([pending, d]));
    pending = rest;
    for (const f of frames) {
      res.frames.push(f);
      if (f.type === FRAME.PID) started.add(f.payload.readInt32LE(0));
      opts.onFrame?.(f, child, sync);
    }
  });
  sync.on('error', () => {});
  sync.write(frame(FRAME.PLAN, plan));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`berth-init did not finish in time; so far: ${JSON.stringify(res)}`));
    }, opts.timeoutMs ?? 15_000);
    child.on(opts.untilExit ? 'exit' : 'close', (code, signal) => {
      clearTimeout(timer);
      res.code = code;
      res.signal = signal;
      // Let the last frames arrive.
      setImmediate(() => done(res));
    });
  });
}

function errorOf(r: Result): { errno: number; message: string } | undefined {
  const f = r.frames.find((x) => x.type === FRAME.ERROR || x.type === FRAME.EXEC_ERROR);
  return f && { errno: f.payload.readInt32LE(0), message: f.payload.subarray(4).toString() };
}

// Where the host cannot make the namespace (see test/lib/host.ts), the op that asks for it fails
// with the kernel's errno (EINVAL: not built in; ENOSPC: switched off) in an error frame naming it.
const noUserns = namespaceMissing('user');
function assertNsRefused(r: Result, op: string, why: string): void {
  const e = errorOf(r);
  assert.ok(
    e && [22, 28].includes(e.errno) && e.message.startsWith(op),
    `${why}: expected ${op} to fail with EINVAL or ENOSPC, got ${JSON.stringify(r)}`,
  );
}

function pidOf(r: Result): number {
  const f = r.frames.find((x) => x.type === FRAME.PID);
  assert.ok(f, `no PID frame: ${JSON.stringify(r)}`);
  return f.payload.readInt32LE(0);
}

/** The start time the PID frame carries after the pid (ASCII decimal clock ticks). */
function startTimeOf(r: Result): string {
  const f = r.frames.find((x) => x.type === FRAME.PID);
  assert.ok(f, `no PID frame: ${JSON.stringify(r)}`);
  return f.payload.subarray(4).toString('ascii');
}

/** Field 22 of /proc/<pid>/stat, counted after the last ')' (comm may hold spaces and parens). */
function procStartTime(pid: number | 'self'): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

/** `start`: opens the exec FIFO for reading without blocking the test (a waiter that died would
 * never open its end), and returns what the waiter wrote once it did, within `ms`. */
async function releaseFifo(fifo: string, ms = 3000): Promise<number[]> {
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(16);
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((ok) => setTimeout(ok, 10))) {
      try {
        const n = readSync(fd, buf);
        if (n > 0) return [...buf.subarray(0, n)];
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
    }
    return [];
  } finally {
    closeSync(fd);
  }
}

let work: string;
let rootfs: string;

/** Child ops that make `rootfs` the container's root: private propagation, bind, pivot. */
function enterRootfs(extra: WireOp[] = [], opts: { proc?: boolean } = {}): WireOp[] {
  return [
    [OP.MOUNT, S(''), S('/'), S(''), I(MS_SLAVE | MS_REC), S(''), I(0)],
    [OP.MOUNT, S(rootfs), S(rootfs), S(''), I(MS_BIND | MS_REC), S(''), I(0)],
    [OP.ROOTFS, S(rootfs)],
    ...(opts.proc === false
      ? []
      : ([
          [
            OP.MOUNT,
            S('proc'),
            S('/proc'),
            S('proc'),
            I(MS_NOSUID | MS_NODEV | MS_NOEXEC),
            S(''),
            I(IN_ROOT | HOW_MKDIR),
          ],
        ] as WireOp[])),
    ...extra,
    [OP.PIVOT_ROOT],
    [OP.CHDIR, S('/'), I(1)],
  ];
}

function shell(script: string): WireOp {
  return [OP.EXEC, S('/bin/sh'), SS(['sh', '-c', script]), SS(['PATH=/bin'])];
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'these tests need root (they create namespaces and mounts)');
  assert.ok(existsSync(INIT), `${INIT} is missing: run make -C native (scripts/build.sh does)`);
  work = mkdtempSync(join(tmpdir(), 'berth-native-init-'));
  // Traversable by the mapped root of a user namespace (mkdtemp makes it 0700).
  chmodSync(work, 0o755);
  rootfs = join(work, 'rootfs');
  buildRootfs(rootfs);
});

after(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('berth-init (root)', () => {
  it('clones into new pid, mount and uts namespaces, pivots into a busybox rootfs and execs in the foreground', async () => {
    const plan = encodePlan([
      [OP.MODE, I(1)],
      [OP.CLONE, I(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS)],
      [OP.SETSID],
      ...enterRootfs([[OP.HOSTNAME, S('berth-test')]]),
      [OP.CLOSE_FDS, I(3)],
      [OP.READY],
      // A bare name: looked up in the container's PATH.
      [OP.EXEC, S('sh'), SS(['sh', '-c', 'hostname; echo $$; cat /ROOTFS_MARKER']), SS(['PATH=/bin'])],
    ]);
    const r = await runInit(plan);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal(r.stdout, 'berth-test\n1\ninside\n');
    assert.deepEqual(
      r.frames.map((f) => f.type),
      [FRAME.PID, FRAME.READY],
    );
    assert.ok(pidOf(r) > 1);
  });

  it('create mode: stage0 exits 0 after PID, the process waits on the exec FIFO until it is opened; HOOK_SYNC and RUN_HOOK pass the state', async () => {
    const fifo = join(work, 'exec.fifo');
    const hookOut = join(work, 'hook-out');
    const stateJson = '{"ociVersion":"1.2.0","id":"native-init","status":"creating"}';
    let continued = false;
    const plan = encodePlan([
      [OP.MODE, I(0)],
      [OP.MKFIFO, S(fifo), I(0o600)],
      [OP.CLONE, I(CLONE_NEWPID | CLONE_NEWNS)],
      [OP.SETSID],
      [OP.MOUNT, S(''), S('/'), S(''), I(MS_SLAVE | MS_REC), S(''), I(0)],
      [OP.HOOK_SYNC],
      // Runs before pivot_root, so host paths work: the hook copies its stdin out.
      [OP.RUN_HOOK, S('/bin/busybox'), SS(['sh', '-c', `cat > ${hookOut}`]), SS([PATH_ENV]), I(5)],
      [OP.OPEN_FIFO, S(fifo)],
      ...enterRootfs().slice(1),
      [OP.CLOSE_FDS, I(3)],
      [OP.READY],
      [OP.WAIT_FIFO],
      shell('echo started'),
    ]);
    const r = await runInit(plan, {
      untilExit: true,
      onFrame: (f, _child, sync) => {
        if (f.type === FRAME.HOOKS) {
          continued = true;
          sync.write(frame(FRAME.CONTINUE, Buffer.from(stateJson)));
        }
      },
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    // HOOKS and READY come from the process, after stage0 exited.
    const pid = pidOf(r);
    for (let i = 0; i < 300 && !r.frames.some((f) => f.type === FRAME.READY); i++)
      await new Promise((ok) => setTimeout(ok, 10));
    assert.ok(continued, `no HOOKS frame: ${JSON.stringify(r)}`);
    assert.deepEqual(
      r.frames.map((f) => f.type),
      [FRAME.PID, FRAME.HOOKS, FRAME.READY],
    );
    assert.equal(readFileSync(hookOut, 'utf8'), stateJson);
    // Still waiting: nothing printed, the process alive.
    await new Promise((ok) => setTimeout(ok, 100));
    assert.equal(r.stdout, '');
    process.kill(pid, 0);
    // `start`: open the FIFO for reading releases it.
    const got = readFileSync(fifo);
    assert.deepEqual([...got], [0]);
    for (let i = 0; i < 200 && r.stdout === ''; i++) await new Promise((ok) => setTimeout(ok, 10));
    assert.equal(r.stdout, 'started\n');
  });

  it('PID carries the init start time, read before GO: equal to /proc/<pid>/stat, even for a process that exits at once', async () => {
    const fifo = join(work, 'start-time.fifo');
    const waiting = await runInit(
      encodePlan([
        [OP.MODE, I(0)],
        [OP.MKFIFO, S(fifo), I(0o600)],
        [OP.CLONE, I(CLONE_NEWNS)],
        [OP.READY],
        [OP.WAIT_FIFO],
        [OP.EXEC, S('/bin/busybox'), SS(['true']), SS([])],
      ]),
      { untilExit: true },
    );
    assert.equal(waiting.code, 0, JSON.stringify(waiting));
    const pid = pidOf(waiting);
    try {
      assert.match(startTimeOf(waiting), /^\d+$/);
      assert.equal(startTimeOf(waiting), procStartTime(pid));
    } finally {
      process.kill(pid, 'SIGKILL');
    }
    // Foreground `true`: gone before anyone could read its /proc, yet the frame has its start time.
    const quick = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(0)],
        [OP.EXEC, S('/bin/true'), SS(['true']), SS([])],
      ]),
    );
    assert.equal(quick.code, 0, JSON.stringify(quick));
    assert.equal(quick.frames[0]?.payload.length, 4 + startTimeOf(quick).length);
    assert.match(startTimeOf(quick), /^\d+$/);
    assert.ok(Number(startTimeOf(quick)) >= Number(procStartTime('self')), 'started before this test process');
  });

  it('RESOLVE_EXEC: a missing or non-executable program fails create before READY; a found one runs', async () => {
    writeFileSync(join(rootfs, 'tmp/not-executable'), '#!/bin/sh\necho no\n', { mode: 0o644 });
    const fifo = join(work, 'resolve.fifo');
    const create = (name: string) =>
      runInit(
        encodePlan([
          [OP.MODE, I(0)],
          [OP.MKFIFO, S(fifo), I(0o600)],
          [OP.CLONE, I(CLONE_NEWNS | CLONE_NEWPID)],
          ...enterRootfs(),
          [OP.RESOLVE_EXEC],
          [OP.CLOSE_FDS, I(3)],
          [OP.READY],
          [OP.WAIT_FIFO],
          [OP.EXEC, S(name), SS([name]), SS(['PATH=/tmp:/bin'])],
        ]),
      );
    const missing = await create('no-such-program');
    rmSync(fifo);
    assert.deepEqual(
      missing.frames.map((f) => f.type),
      [FRAME.PID, FRAME.EXEC_ERROR],
    );
    assert.deepEqual(errorOf(missing), {
      errno: 2,
      message: 'RESOLVE_EXEC "no-such-program": executable file not found in $PATH',
    });
    const denied = await create('not-executable');
    rmSync(fifo);
    assert.equal(
      denied.frames.at(-1)?.type,
      FRAME.EXEC_ERROR,
      "the command's own failure is told apart from any other op's",
    );
    assert.deepEqual(errorOf(denied), {
      errno: 13,
      message: 'RESOLVE_EXEC "not-executable": /tmp/not-executable: Permission denied',
    });
    const ok = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS | CLONE_NEWPID)],
        ...enterRootfs(),
        [OP.RESOLVE_EXEC],
        [OP.EXEC, S('sh'), SS(['sh', '-c', 'echo resolved']), SS(['PATH=/tmp:/bin'])],
      ]),
    );
    assert.equal(ok.code, 0, JSON.stringify(ok));
    assert.equal(ok.stdout, 'resolved\n');
  });

  it('propagates the exit status: exit 3 gives 3', async () => {
    const r = await runInit(
      encodePlan([[OP.MODE, I(1)], [OP.CLONE, I(CLONE_NEWNS)], ...enterRootfs([], { proc: false }), shell('exit 3')]),
    );
    assert.equal(r.code, 3, JSON.stringify(r));
  });

  it('a process killed by SIGKILL gives 128+9 = 137', async () => {
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        ...enterRootfs([], { proc: false }),
        shell('kill -9 $$'),
      ]),
    );
    assert.equal(r.code, 137, JSON.stringify(r));
  });

  it('forwards SIGTERM from stage0 to the process (143)', async () => {
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        ...enterRootfs([], { proc: false }),
        [OP.READY],
        [OP.EXEC, S('/bin/sleep'), SS(['sleep', '30']), SS([])],
      ]),
      {
        onFrame: (f, child) => {
          // After READY the process is about to exec sleep; give it a moment, then signal stage0.
          if (f.type === FRAME.READY) setTimeout(() => child.kill('SIGTERM'), 200);
        },
      },
    );
    assert.equal(r.code, 143, JSON.stringify(r));
  });

  it('rejects malformed plans with an ERROR frame naming the problem, and exits 1', async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['bad magic', encodePlanRaw([], 'NOTAPLAN'), /^plan: bad magic \(expected "BRTHPLAN"\)$/],
      ['bad version', encodePlanRaw([], 'BRTHPLAN', 9), /^plan: version 9 is not supported \(expected 1\)$/],
      ['unknown op', encodePlanRaw([rawOp(0x0399, Buffer.alloc(0))]), /^plan: op 0: unknown op code 0x399$/],
      [
        'wrong tag',
        encodePlanRaw([rawOp(OP.CLONE, encodeValue(I(0))), rawOp(OP.HOSTNAME, encodeValue(I(7)))]),
        /^plan: op 1 \(HOSTNAME\): value 0 \(name\): expected str \(tag 2\), got int \(tag 1\)$/,
      ],
      ['no CLONE', encodePlan([[OP.MODE, I(1)]]), /^plan: no CLONE op \(exactly one per plan\)$/],
      [
        'bad grouping',
        encodePlan([[OP.CLONE, I(0)], [OP.SETSID], [OP.UID_MAP, S('0 0 1\n')]]),
        /^plan: op 2 \(UID_MAP\): parent op after child ops$/,
      ],
      [
        'trailing bytes',
        encodePlanRaw([rawOp(OP.CLONE, Buffer.concat([encodeValue(I(0)), Buffer.from([1])]))]),
        /^plan: op 0 \(CLONE\): 1 bytes after its 1 value$/,
      ],
      [
        'EXEC not last',
        encodePlan([[OP.CLONE, I(0)], shell('true'), [OP.SETSID]]),
        /^plan: op 1 \(EXEC\): EXEC must be the last op$/,
      ],
    ];
    for (const [name, plan, want] of cases) {
      const r = await runInit(plan);
      assert.equal(r.code, 1, `${name}: ${JSON.stringify(r)}`);
      const e = errorOf(r);
      assert.ok(e, `${name}: no ERROR frame`);
      assert.equal(e.errno, 22, name);
      assert.match(e.message, want, name);
      assert.deepEqual(
        r.frames.map((f) => f.type),
        [FRAME.ERROR],
        name,
      );
    }
  });

  it('reports a failing op with its errno and a message naming it', async () => {
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        [OP.MOUNT, S(''), S('/'), S(''), I(MS_SLAVE | MS_REC), S(''), I(0)],
        [OP.ROOTFS, S(rootfs)],
        [OP.MOUNT, S('nothing'), S('/proc'), S('no-such-fs'), I(0), S(''), I(IN_ROOT)],
        shell('true'),
      ]),
    );
    assert.equal(r.code, 1);
    const e = errorOf(r);
    assert.ok(e, JSON.stringify(r));
    assert.equal(e.errno, 19); // ENODEV
    assert.equal(e.message, `MOUNT nothing on /proc (in root ${rootfs}): No such device`);
  });

  it('MOUNT with no-symlink (proc, sysfs): a target that is a symlink, even reached through another, fails before mounting', async () => {
    const linked = join(work, 'proc-link-rootfs');
    mkdirSync(join(linked, 'x'), { recursive: true });
    symlinkSync('/x', join(linked, 'deep'));
    symlinkSync('/', join(linked, 'x/proc'));
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        [OP.MOUNT, S(''), S('/'), S(''), I(MS_SLAVE | MS_REC), S(''), I(0)],
        [OP.ROOTFS, S(linked)],
        [
          OP.MOUNT,
          S('proc'),
          S('/deep/proc'),
          S('proc'),
          I(MS_NOSUID | MS_NODEV | MS_NOEXEC),
          S(''),
          I(IN_ROOT | HOW_MKDIR | HOW_NO_SYMLINK),
        ],
        shell('true'),
      ]),
    );
    assert.equal(r.code, 1, JSON.stringify(r));
    assert.deepEqual(errorOf(r), {
      errno: 40,
      message: `MOUNT proc on /deep/proc (in root ${linked}): must be mounted on an ordinary directory, not a symlink: Too many levels of symbolic links`,
    });
  });

  it('resolves mount targets inside the rootfs: rootfs/evil -> /etc never reaches the host /etc', async () => {
    const evilRoot = join(work, 'evil-rootfs');
    mkdirSync(join(evilRoot, 'etc'), { recursive: true });
    symlinkSync('/etc', join(evilRoot, 'evil'));
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        [OP.MOUNT, S(''), S('/'), S(''), I(MS_SLAVE | MS_REC), S(''), I(0)],
        [OP.ROOTFS, S(evilRoot)],
        // Created through the symlink, component by component in root: rootfs/etc/berth-sub.
        [OP.MOUNT, S('tmpfs'), S('/evil/berth-sub/dir'), S('tmpfs'), I(0), S(''), I(IN_ROOT | HOW_MKDIR)],
        [OP.MOUNT, S('tmpfs'), S('/evil'), S('tmpfs'), I(0), S(''), I(IN_ROOT)],
        // Still in the host's root, in the new mount namespace: the tmpfs is on rootfs/etc, and
        // the host's /etc is untouched.
        [
          OP.EXEC,
          S('/bin/busybox'),
          SS([
            'sh',
            '-c',
            `stat -f -c %T ${evilRoot}/etc; stat -f -c %T /etc; touch ${evilRoot}/etc/berth-escape; ls /etc/berth-escape 2>&1 || echo host-clean`,
          ]),
          SS([PATH_ENV]),
        ],
      ]),
    );
    const hostSub = existsSync('/etc/berth-sub');
    if (hostSub) rmSync('/etc/berth-sub', { recursive: true, force: true });
    assert.ok(!hostSub, 'MKDIR followed the symlink out of the rootfs');
    assert.ok(existsSync(join(evilRoot, 'etc/berth-sub/dir')), 'the directories were made inside the rootfs');
    assert.equal(r.code, 0, JSON.stringify(r));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'tmpfs');
    assert.notEqual(lines[1], 'tmpfs');
    assert.equal(lines.at(-1), 'host-clean');
    assert.ok(!existsSync('/etc/berth-escape'));
    assert.ok(!existsSync(join(evilRoot, 'etc/berth-escape')), 'the file went to the tmpfs, gone with the namespace');
  });

  it('follows dangling symlinks inside the rootfs when creating mount targets: evil-bind -> /tmp/x/bind-target lands in the rootfs', async () => {
    const root = join(work, 'dangling-rootfs');
    mkdirSync(join(root, 'tmp'), { recursive: true });
    mkdirSync(join(root, 'a'));
    symlinkSync('/tmp/x/bind-target', join(root, 'evil-bind')); // absolute: from the root
    symlinkSync('/tmp/x/file-target', join(root, 'evil-file'));
    symlinkSync('../tmp/rel/target', join(root, 'a/rel-bind')); // relative: from a/
    symlinkSync('/loop2', join(root, 'loop1'));
    symlinkSync('/loop1', join(root, 'loop2'));
    const src = join(work, 'bind-source');
    mkdirSync(src, { recursive: true });
    const hostBefore = ['/tmp/x/bind-target', '/tmp/x/file-target', '/tmp/rel/target'].filter((p) => existsSync(p));
    const mount = (target: string, how: number): WireOp => [
      OP.MOUNT,
      S(src),
      S(target),
      S(''),
      I(MS_BIND),
      S(''),
      I(IN_ROOT | how),
    ];
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        [OP.MOUNT, S(''), S('/'), S(''), I(MS_SLAVE | MS_REC), S(''), I(0)],
        [OP.ROOTFS, S(root)],
        mount('/evil-bind', HOW_MKDIR),
        mount('/a/rel-bind/sub', HOW_MKDIR),
        [OP.MOUNT, S('/dev/null'), S('/evil-file'), S(''), I(MS_BIND), S(''), I(IN_ROOT | HOW_MKFILE)],
        // Still in the host's root, in the new mount namespace: where did the mounts land?
        [
          OP.EXEC,
          S('/bin/busybox'),
          SS([
            'sh',
            '-c',
            `cd ${root}; for p in tmp/x/bind-target tmp/rel/target/sub; do mountpoint -q $p && echo "mounted $p"; done; stat -c %t:%T tmp/x/file-target`,
          ]),
          SS([PATH_ENV]),
        ],
      ]),
    );
    const hostAfter = ['/tmp/x/bind-target', '/tmp/x/file-target', '/tmp/rel/target'].filter(
      (p) => existsSync(p) && !hostBefore.includes(p),
    );
    for (const p of hostAfter) rmSync(p, { recursive: true, force: true });
    assert.deepEqual(hostAfter, [], 'created on the host, outside the rootfs');
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal(r.stdout, 'mounted tmp/x/bind-target\nmounted tmp/rel/target/sub\n1:3\n');
    assert.ok(existsSync(join(root, 'tmp/x/bind-target')));
    assert.ok(existsSync(join(root, 'tmp/x/file-target')));
    // A symlink loop is ELOOP after 40 links, not a hang.
    const loop = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        [OP.MOUNT, S(''), S('/'), S(''), I(MS_SLAVE | MS_REC), S(''), I(0)],
        [OP.ROOTFS, S(root)],
        mount('/loop1/x', HOW_MKDIR),
      ]),
    );
    assert.equal(loop.code, 1, JSON.stringify(loop));
    assert.deepEqual(errorOf(loop), {
      errno: 40,
      message: `MOUNT ${src} on /loop1/x (in root ${root}): creating the target in root: Too many levels of symbolic links`,
    });
  });

  it('runs from a sealed memfd: the berth-init the container can see is not the host binary (CVE-2019-5736)', async () => {
    // No pid namespace, so the process sees its parent, stage0, in /proc.
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        [
          OP.EXEC,
          S('/bin/busybox'),
          SS([
            'sh',
            '-c',
            'readlink /proc/$PPID/exe; (echo x >> /proc/$PPID/exe) 2>/dev/null && echo WRITABLE || echo sealed',
          ]),
          SS([PATH_ENV]),
        ],
      ]),
    );
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal(r.stdout, '/memfd:berth-init (deleted)\nsealed\n');
  });

  it('a user namespace with uid/gid maps: root inside is uid 100000 outside', async () => {
    const map = '0 100000 65536\n';
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)],
        [OP.SETGROUPS, S('deny')],
        [OP.UID_MAP, S(map)],
        [OP.GID_MAP, S(map)],
        [OP.SETRESID, I(0), I(0)],
        ...enterRootfs(),
        shell('id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'),
      ]),
    );
    if (noUserns) return assertNsRefused(r, 'CLONE', noUserns);
    assert.equal(r.code, 0, JSON.stringify(r));
    const [uid, gid, uidMap, gidMap, setgroups] = r.stdout.trim().split('\n');
    assert.equal(uid, '0');
    assert.equal(gid, '0');
    assert.deepEqual(uidMap?.trim().split(/\s+/), ['0', '100000', '65536']);
    assert.deepEqual(gidMap?.trim().split(/\s+/), ['0', '100000', '65536']);
    assert.equal(setgroups, 'deny');
  });

  it('MKFIFO keeps the FIFO open for WAIT_FIFO: the mapped root of a user namespace, which cannot reach the 0700 state dir, still waits and starts', async () => {
    const state = join(work, 'state-0700');
    mkdirSync(state);
    chmodSync(state, 0o700);
    const fifo = join(state, 'exec.fifo');
    const userns = (child: WireOp[]): Buffer =>
      encodePlan([
        [OP.MODE, I(0)],
        [OP.MKFIFO, S(fifo), I(0o622)],
        [OP.CLONE, I(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)],
        [OP.SETGROUPS, S('deny')],
        [OP.UID_MAP, S('0 100000 65536\n')],
        [OP.GID_MAP, S('0 100000 65536\n')],
        [OP.SETRESID, I(0), I(0)],
        ...child,
        ...enterRootfs(),
        [OP.CLOSE_FDS, I(3)],
        [OP.READY],
        [OP.WAIT_FIFO],
        shell('echo started; id -u'),
      ]);
    // Why: opening the FIFO by path from inside fails.
    const byPath = await runInit(userns([[OP.OPEN_FIFO, S(fifo)]]), { untilExit: true });
    if (noUserns) return assertNsRefused(byPath, 'CLONE', noUserns);
    for (let i = 0; i < 300 && !byPath.frames.some((f) => f.type === FRAME.ERROR); i++)
      await new Promise((ok) => setTimeout(ok, 10));
    assert.equal(errorOf(byPath)?.errno, 13, JSON.stringify(byPath));
    rmSync(fifo);
    // As runc: the FIFO is 0622 whatever Node's umask (stage0 inherits it).
    const umask = process.umask(0);
    const pending = runInit(userns([]), { untilExit: true });
    process.umask(umask);
    const r = await pending;
    assert.equal(r.code, 0, JSON.stringify(r));
    for (let i = 0; i < 300 && !r.frames.some((f) => f.type === FRAME.READY || f.type === FRAME.ERROR); i++)
      await new Promise((ok) => setTimeout(ok, 10));
    assert.deepEqual(
      r.frames.map((f) => f.type),
      [FRAME.PID, FRAME.READY],
      JSON.stringify(r),
    );
    assert.deepEqual(await releaseFifo(fifo), [0], JSON.stringify(r));
    for (let i = 0; i < 200 && !r.stdout.endsWith('\n0\n'); i++) await new Promise((ok) => setTimeout(ok, 10));
    assert.equal(r.stdout, 'started\n0\n');
  });

  it('WAIT_FIFO after USER switched to a non-root uid (non-dumpable) still opens the FIFO and the process runs', async () => {
    const fifo = join(work, 'user.fifo');
    // 0622, as runc makes it: with Node's umask 022 it would be 0600 and uid 1000 could not
    // open it for writing (EACCES, whatever the dumpable flag).
    const umask = process.umask(0);
    const pending = runInit(
      encodePlan([
        [OP.MODE, I(0)],
        [OP.MKFIFO, S(fifo), I(0o622)],
        [OP.CLONE, I(CLONE_NEWNS | CLONE_NEWPID)],
        ...enterRootfs(),
        [OP.CLOSE_FDS, I(3)],
        [OP.USER, I(1000), I(1000), II([]), I(1)],
        [OP.READY],
        [OP.WAIT_FIFO],
        shell('id -u; grep -E "^(Uid|Gid)" /proc/self/status | tr -s "\\t" " "'),
      ]),
      { untilExit: true },
    );
    process.umask(umask);
    const r = await pending;
    assert.equal(r.code, 0, JSON.stringify(r));
    for (let i = 0; i < 300 && !r.frames.some((f) => f.type === FRAME.READY); i++)
      await new Promise((ok) => setTimeout(ok, 10));
    assert.deepEqual(await releaseFifo(fifo), [0], JSON.stringify(r));
    for (let i = 0; i < 200 && !r.stdout.includes('Gid'); i++) await new Promise((ok) => setTimeout(ok, 10));
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '1000\nUid: 1000 1000 1000 1000\nGid: 1000 1000 1000 1000\n');
  });

  it('a time namespace: UNSHARE(CLONE_NEWTIME) and boottime +864000000 s before CLONE; /proc/uptime inside shows it', async () => {
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.UNSHARE, I(CLONE_NEWTIME)],
        [OP.WRITE_FILE, S('/proc/self/timens_offsets'), S('monotonic 0 0\nboottime 864000000 0\n')],
        [OP.CLONE, I(CLONE_NEWNS | CLONE_NEWPID)],
        ...enterRootfs(),
        shell('cat /proc/uptime; readlink /proc/self/ns/time'),
      ]),
    );
    const noTimens = namespaceMissing('time');
    if (noTimens) return assertNsRefused(r, 'UNSHARE', noTimens);
    assert.equal(r.code, 0, JSON.stringify(r));
    const [uptime, ns] = r.stdout.trim().split('\n');
    assert.ok(Number(uptime?.split(' ')[0]) > 864000000, r.stdout);
    assert.notEqual(ns, readlinkSync('/proc/self/ns/time'), 'the process is in a new time namespace');
    const host = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    assert.ok(host < 864000000, "the host's boottime is untouched");
  });

  it('leaks no fd: one opened without CLOEXEC above the preserved range is not in the container', async () => {
    const keep = join(work, 'preserved');
    const leak = join(work, 'leaked');
    const keepFd = openSync(keep, 'w');
    const leakFd = openSync(leak, 'w');
    try {
      // fd 3 is --preserve-fds 1, fd 4 the sync socket, fd 5 an fd berth did not mean to pass.
      const r = await runInit(
        encodePlan([
          [OP.MODE, I(1)],
          [OP.CLONE, I(CLONE_NEWNS | CLONE_NEWPID)],
          ...enterRootfs(),
          [OP.CLOSE_FDS, I(4)],
          [OP.READY],
          shell(
            'for fd in 3 4 5; do [ -e /proc/$$/fd/$fd ] && echo "open $fd" || echo "closed $fd"; done; readlink /proc/$$/fd/3',
          ),
        ]),
        { syncFd: 4, stdio: [keepFd, leakFd] },
      );
      assert.equal(r.code, 0, JSON.stringify(r));
      // The preserved fd is still there (it points outside the container's root, hence no path).
      assert.match(r.stdout, /^open 3\nclosed 4\nclosed 5\n/);
    } finally {
      closeSync(keepFd);
      closeSync(leakFd);
    }
  });

  it('sets limits, devices, masked and read-only paths, user, groups, capabilities and no_new_privs', async () => {
    const NET_BIND_SERVICE = 1n << 10n;
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS | CLONE_NEWPID)],
        [OP.PRLIMIT, I(7), I(123), I(456)], // RLIMIT_NOFILE, by the parent
        [OP.SETSID],
        ...enterRootfs([
          [OP.MOUNT, S('tmpfs'), S('/dev'), S('tmpfs'), I(MS_NOSUID), S('mode=755'), I(IN_ROOT | HOW_MKDIR)],
          [OP.MKNOD, S('/dev/null'), I(0o20666), I(1), I(3), I(0), I(0)],
          [OP.SYMLINK, S('/proc/self/fd'), S('/dev/fd')],
        ]),
        [OP.MASK_PATH, S('/etc')],
        [OP.MASK_PATH, S('/ROOTFS_MARKER')],
        [OP.MASK_PATH, S('/no/such/path')],
        [OP.READONLY_PATH, S('/tmp')],
        [OP.READONLY_PATH, S('/no/such/path')],
        [OP.CLOSE_FDS, I(3)],
        [OP.CAP_BOUNDING, I(NET_BIND_SERVICE | 1n)],
        [OP.USER, I(1000), I(1000), II([100, 1001]), I(1)],
        [OP.CHDIR, S('/home/test'), I(1)],
        [OP.CAPS, I(NET_BIND_SERVICE), I(NET_BIND_SERVICE), I(NET_BIND_SERVICE), I(NET_BIND_SERVICE)],
        [OP.NO_NEW_PRIVS],
        [OP.SETRLIMIT, I(4), I(0), I(0)], // RLIMIT_CORE
        shell(
          [
            'id -u; id -G; ulimit -n; ulimit -Hn; ulimit -c; pwd',
            'grep -E "^(CapBnd|CapEff|CapAmb|NoNewPrivs)" /proc/self/status',
            'stat -c "%F %t:%T" /dev/null; readlink /dev/fd',
            'ls -A /etc | wc -l; cat /ROOTFS_MARKER | wc -c',
            'touch /tmp/x 2>/dev/null && echo tmp-writable || echo tmp-read-only',
          ].join('; '),
        ),
      ]),
    );
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal(
      r.stdout,
      [
        '1000',
        '1000 100 1001',
        '123',
        '456',
        '0',
        '/home/test',
        'CapEff:\t0000000000000400',
        'CapBnd:\t0000000000000401',
        'CapAmb:\t0000000000000400',
        'NoNewPrivs:\t1',
        'character special file 1:3',
        '/proc/self/fd',
        '0',
        '0',
        'tmp-read-only',
        '',
      ].join('\n'),
    );
  });

  it('installs a seccomp filter: mkdir fails with EPERM', async () => {
    // ld nr; jeq A -> deny; jeq B -> deny; allow; deny: errno EPERM.
    const [a, b] = process.arch === 'x64' ? [83, 258] : process.arch === 'arm64' ? [34, 34] : [-1, -1];
    assert.ok(a > 0, `no mkdir syscall numbers for ${process.arch}`);
    const insn = (code: number, jt: number, jf: number, k: number) => {
      const x = Buffer.alloc(8);
      x.writeUInt16LE(code, 0);
      x.writeUInt8(jt, 2);
      x.writeUInt8(jf, 3);
      x.writeUInt32LE(k >>> 0, 4);
      return x;
    };
    const prog = Buffer.concat([
      insn(0x20, 0, 0, 0),
      insn(0x15, 2, 0, a),
      insn(0x15, 1, 0, b),
      insn(0x06, 0, 0, 0x7fff0000),
      insn(0x06, 0, 0, 0x00050000 | 1),
    ]);
    const r = await runInit(
      encodePlan([
        [OP.MODE, I(1)],
        [OP.CLONE, I(CLONE_NEWNS)],
        ...enterRootfs([], { proc: false }),
        [OP.NO_NEW_PRIVS],
        [OP.SECCOMP, I(0), B(prog)],
        shell('mkdir /tmp/seccomp-test 2>&1; echo rc=$?; echo still-running'),
      ]),
    );
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.match(r.stdout, /Operation not permitted\nrc=1\nstill-running\n$/);
    assert.ok(!existsSync(join(rootfs, 'tmp/seccomp-test')));
  });

  it('RUN_HOOK: a hook past its timeout is killed and reported; a failing hook names its status', async () => {
    const hook = (script: string, timeout: number): WireOp => [
      OP.RUN_HOOK,
      S('/bin/busybox'),
      SS(['sh', '-c', script]),
      SS([PATH_ENV]),
      I(timeout),
    ];
    const t0 = Date.now();
    const slow = await runInit(encodePlan([[OP.MODE, I(1)], [OP.CLONE, I(0)], hook('sleep 10', 1), shell('true')]));
    assert.ok(Date.now() - t0 < 5000, 'the timeout did not fire');
    assert.equal(slow.code, 1);
    assert.deepEqual(errorOf(slow), { errno: 110, message: 'RUN_HOOK /bin/busybox: timed out after 1s (killed)' });
    const failing = await runInit(encodePlan([[OP.MODE, I(1)], [OP.CLONE, I(0)], hook('exit 4', 0), shell('true')]));
    assert.equal(failing.code, 1);
    assert.deepEqual(errorOf(failing), { errno: 0, message: 'RUN_HOOK /bin/busybox: exited with status 4' });
  });

  it('CONSOLE: sends the pty master over the console socket and makes the peer the stdio and controlling terminal', async () => {
    const [mine, theirs] = socketpair();
    let master = -1;
    try {
      const r = await runInit(
        encodePlan([
          [OP.MODE, I(1)],
          [OP.CLONE, I(CLONE_NEWNS | CLONE_NEWPID)],
          [OP.SETSID],
          ...enterRootfs([
            [
              OP.MOUNT,
              S('devpts'),
              S('/dev/pts'),
              S('devpts'),
              I(MS_NOSUID | MS_NOEXEC),
              S('newinstance,ptmxmode=0666,mode=0620'),
              I(IN_ROOT | HOW_MKDIR),
            ],
          ]),
          [OP.CONSOLE, I(4), I(24), I(80)],
          [OP.CLOSE_FDS, I(3)],
          shell('tty; stty size; [ -t 0 ] && echo stdin-is-a-tty'),
        ]),
        { stdio: [theirs] },
      );
      assert.equal(r.code, 0, JSON.stringify(r));
      const got = recvFds(mine, 1, 64);
      assert.equal(got.data.toString(), '/dev/pts/0');
      assert.equal(got.fds.length, 1);
      master = got.fds[0]!;
      let out = '';
      const buf = Buffer.alloc(4096);
      for (;;) {
        let n = 0;
        try {
          n = readSync(master, buf);
        } catch {
          break; // EIO: the peer is closed and everything was read
        }
        if (n === 0) break;
        out += buf.subarray(0, n).toString();
      }
      assert.equal(out.replaceAll('\r\n', '\n'), '/dev/pts/0\n24 80\nstdin-is-a-tty\n');
    } finally {
      closeSync(mine);
      closeSync(theirs);
      if (master >= 0) closeSync(master);
    }
  });

  it('joins the namespaces of a running container by path (as exec does)', async () => {
    const fifo = join(work, 'join.fifo');
    const first = await runInit(
      encodePlan([
        [OP.MODE, I(0)],
        [OP.MKFIFO, S(fifo), I(0o600)],
        [OP.CLONE, I(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS)],
        ...enterRootfs([[OP.HOSTNAME, S('joined')]]),
        [OP.CLOSE_FDS, I(3)],
        [OP.READY],
        [OP.WAIT_FIFO],
        shell('sleep 30'),
      ]),
      { untilExit: true },
    );
    assert.equal(first.code, 0, JSON.stringify(first));
    const pid = pidOf(first);
    try {
      for (let i = 0; i < 300 && !first.frames.some((f) => f.type === FRAME.READY); i++)
        await new Promise((ok) => setTimeout(ok, 10));
      const r = await runInit(
        encodePlan([
          [OP.MODE, I(1)],
          [OP.JOIN_NS, I(CLONE_NEWPID), S(`/proc/${pid}/ns/pid`)],
          [OP.JOIN_NS, I(CLONE_NEWUTS), S(`/proc/${pid}/ns/uts`)],
          [OP.JOIN_NS, I(CLONE_NEWNS), S(`/proc/${pid}/ns/mnt`)],
          [OP.CLONE, I(0)],
          [OP.CHDIR, S('/'), I(1)],
          shell('hostname; echo $$; cat /ROOTFS_MARKER'),
        ]),
      );
      assert.equal(r.code, 0, JSON.stringify(r));
      assert.equal(r.stdout, 'joined\n2\ninside\n');
      // stage0 read it from the host's /proc, opened before JOIN_NS moved it into the container's mounts.
      assert.match(startTimeOf(r), /^\d+$/);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('refuses a cwd outside the container root (CVE-2024-21626)', async () => {
    // A leaked directory fd reached through /proc/self/fd: the check catches it as (unreachable).
    const dirFd = openSync(work, 'r');
    try {
      const r = await runInit(
        encodePlan([
          [OP.MODE, I(1)],
          [OP.CLONE, I(CLONE_NEWNS | CLONE_NEWPID)],
          ...enterRootfs(),
          [OP.CHDIR, S('/proc/self/fd/3'), I(1)],
          shell('pwd'),
        ]),
        { syncFd: 4, stdio: [dirFd] },
      );
      assert.equal(r.code, 1, JSON.stringify(r));
      const e = errorOf(r);
      assert.ok(e, JSON.stringify(r));
      assert.match(
        e.message,
        /^CHDIR \/proc\/self\/fd\/3: the working directory is outside the container's root \(\(unreachable\)/,
      );
    } finally {
      closeSync(dirFd);
    }
  });
});
