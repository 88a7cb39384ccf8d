import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
  existsSync,
  lstatSync,
  readlinkSync,
} from 'node:fs';
import { tmpdir, constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import {
  addSeals,
  bpfAttachDeviceFilter,
  bpfDeviceFilters,
  constants,
  findAddon,
  getSeals,
  isSyscallError,
  loadAddon,
  memfdCreate,
  mkfifo,
  mknod,
  openInRoot,
  pidfdOpen,
  pidfdSendSignal,
  pidfdWait,
  recvFds,
  resolveInRoot,
  sendFds,
  socketpair,
  spawnProcess,
  watchChild,
  type ChildEvent,
} from './native.ts';

const repoRoot = join(import.meta.dirname, '../..');
const nodeBin = process.execPath;

function isCloexec(fd: number): boolean {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const m = /^flags:\s+([0-7]+)$/m.exec(info);
  assert.ok(m, `no flags line in /proc/self/fdinfo/${fd}`);
  return (Number.parseInt(m[1]!, 8) & constants.O_CLOEXEC) !== 0;
}

function readFd(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString();
}

/** Asserts `fn` throws a SyscallError with this code, and returns it for further checks. */
function throwsSyscall(
  fn: () => unknown,
  code: string,
): Error & { errno: number; syscall: string; path?: string; fd?: number } {
  try {
    fn();
  } catch (e) {
    assert.ok(isSyscallError(e), `expected a syscall error, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.errno, osConstants.errno[code as keyof typeof osConstants.errno], `errno of ${code}`);
    assert.ok(e.message.startsWith(`${code}: `), e.message);
    return e;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

describe('loading', () => {
  test('constants match the values the addon was compiled with', () => {
    const native = loadAddon().constants;
    assert.deepEqual(Object.keys(constants).sort(), Object.keys(native).sort());
    for (const [name, value] of Object.entries(constants)) assert.equal(value, native[name], name);
  });

  test('findAddon finds the build from src/sys and from dist/bin', () => {
    const expected = join(repoRoot, 'native/addon/build/Release/berth_addon.node');
    assert.equal(findAddon(join(repoRoot, 'src/sys')), expected);
    assert.equal(findAddon(join(repoRoot, 'dist/bin')), expected);
  });

  test('a missing addon is Unavailable and says to run scripts/build.sh', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-native-test-'));
    try {
      for (const start of [dir, join(dir, 'dist/bin')]) {
        assert.throws(
          () => findAddon(start),
          (e) => isBerthError(e, ErrorCode.Unavailable) && /scripts\/build\.sh/.test(e.message),
        );
      }
      mkdirSync(join(dir, 'native/addon'), { recursive: true });
      assert.throws(
        () => findAddon(join(dir, 'dist/bin')),
        (e) =>
          isBerthError(e, ErrorCode.Unavailable) &&
          e.message.includes(join(dir, 'native/addon/build/Release')) &&
          e.message.includes('scripts/build.sh'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('importing native.ts loads nothing; the first call loads the addon', () => {
    const script = `
      const fs = await import('node:fs');
      const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes('berth_addon.node');
      const m = await import(${JSON.stringify(join(import.meta.dirname, 'native.ts'))});
      const before = mapped();
      const [a, b] = m.socketpair();
      fs.closeSync(a); fs.closeSync(b);
      console.log(JSON.stringify({ before, after: mapped() }));`;
    const r = spawnSync(nodeBin, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { before: false, after: true });
  });

  test('works when bundled into a file under dist/', async () => {
    const { build } = await import('esbuild');
    const outDir = join(repoRoot, 'dist', `native-test-${process.pid}`);
    const entry = join(outDir, 'entry.ts');
    try {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(
        entry,
        `import { socketpair } from ${JSON.stringify(join(import.meta.dirname, 'native.ts'))};\nconsole.log(socketpair().length);\n`,
      );
      const out = join(outDir, 'bin', 'entry.mjs');
      await build({
        entryPoints: [entry],
        outfile: out,
        bundle: true,
        platform: 'node',
        format: 'esm',
        logLevel: 'error',
        external: ['*.node'],
      });
      const r = spawnSync(nodeBin, [out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), '2');
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});

describe('socketpair, sendFds, recvFds', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-native-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('socketpair gives two distinct close-on-exec fds', () => {
    const [a, b] = socketpair();
    try {
      assert.notEqual(a, b);
      assert.ok(isCloexec(a) && isCloexec(b));
      assert.ok(fstatSync(a).isSocket());
    } finally {
      closeSync(a);
      closeSync(b);
    }
  });

  test('fds and data round-trip; received fds are new, close-on-exec, and the same files', () => {
    const file = join(dir, 'payload');
    writeFileSync(file, 'file contents');
    const fileFd = openSync(file, 'r');
    const memfd = memfdCreate('berth-test', 0);
    const [a, b] = socketpair();
    const received: number[] = [];
    try {
      assert.equal(sendFds(a, [fileFd, memfd], Buffer.from('hello')), 5);
      const msg = recvFds(b, 4, 64);
      received.push(...msg.fds);
      assert.equal(msg.data.toString(), 'hello');
      assert.equal(msg.fds.length, 2);
      const [gotFile, gotMem] = msg.fds as [number, number];
      assert.ok(![fileFd, memfd].includes(gotFile) && ![fileFd, memfd].includes(gotMem));
      assert.ok(isCloexec(gotFile) && isCloexec(gotMem));
      assert.equal(fstatSync(gotFile).ino, fstatSync(fileFd).ino);
      assert.equal(readFd(gotFile), 'file contents');
      writeSync(gotMem, 'through the received fd', 0);
      assert.equal(readFd(memfd), 'through the received fd');
    } finally {
      for (const fd of [fileFd, memfd, a, b, ...received]) closeSync(fd);
    }
  });

  test('a Uint8Array view sends exactly its bytes', () => {
    const [a, b] = socketpair();
    try {
      const backing = Buffer.from('xxABCyy');
      sendFds(a, [], new Uint8Array(backing.buffer, backing.byteOffset + 2, 3));
      assert.equal(recvFds(b, 0, 16).data.toString(), 'ABC');
    } finally {
      closeSync(a);
      closeSync(b);
    }
  });

  test('without data one 0 byte carries the fds; EOF reads as empty data', () => {
    const [a, b] = socketpair();
    const [c, d] = socketpair();
    const received: number[] = [];
    try {
      sendFds(a, [c]);
      const msg = recvFds(b, 1, 8);
      received.push(...msg.fds);
      assert.deepEqual([...msg.data], [0]);
      assert.equal(msg.fds.length, 1);
      closeSync(a);
      const eof = recvFds(b, 1, 8);
      assert.equal(eof.data.length, 0);
      assert.deepEqual(eof.fds, []);
    } finally {
      for (const fd of [b, c, d, ...received]) closeSync(fd);
    }
  });

  test('more fds than maxFds is EMSGSIZE, not a silent truncation', () => {
    const [a, b] = socketpair();
    try {
      sendFds(a, [a, b], Buffer.from('x'));
      const e = throwsSyscall(() => recvFds(b, 1, 8), 'EMSGSIZE');
      assert.equal(e.syscall, 'recvmsg');
      assert.equal(e.fd, b);
      assert.match(e.message, /maxFds=1/);
    } finally {
      closeSync(a);
      closeSync(b);
    }
  });

  test('errors name the syscall and the fd', () => {
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, '');
    const fd = openSync(file, 'r');
    try {
      const e = throwsSyscall(() => sendFds(fd, [fd]), 'ENOTSOCK');
      assert.equal(e.syscall, 'sendmsg');
      assert.equal(e.fd, fd);
      assert.match(e.message, new RegExp(`sendmsg \\(fd ${fd}\\)`));
    } finally {
      closeSync(fd);
    }
    assert.throws(() => sendFds(0, [-1]), TypeError);
    assert.throws(() => recvFds(0, 1, 0), TypeError);
  });
});

// Runs every case through openat2 and through the component walk: both must give the same answers.
for (const walk of [false, true]) {
  describe(`openInRoot (${walk ? 'component walk' : 'openat2'})`, () => {
    let root: string;
    let rootFd: number;
    const created = `berth-native-created-${process.pid}-${walk ? 'walk' : 'openat2'}`;
    before(() => {
      root = realpathSync(mkdtempSync(join(tmpdir(), 'berth-native-root-')));
      mkdirSync(join(root, 'etc'));
      mkdirSync(join(root, 'tmp'));
      writeFileSync(join(root, 'etc/hostname'), 'inside');
      symlinkSync('/etc', join(root, 'a'));
      symlinkSync('../../../etc', join(root, 'b'));
      symlinkSync('../../../../../../..', join(root, 'c'));
      symlinkSync('/etc/hostname', join(root, 'h'));
      symlinkSync('/etc/passwd', join(root, 'p'));
      symlinkSync('loop2', join(root, 'loop1'));
      symlinkSync('loop1', join(root, 'loop2'));
      symlinkSync(`/tmp/${created}`, join(root, 'dangling'));
      rootFd = openSync(root, constants.O_PATH | constants.O_DIRECTORY);
    });
    after(() => {
      closeSync(rootFd);
      rmSync(root, { recursive: true, force: true });
    });

    const read = (path: string) => {
      const fd = openInRoot(rootFd, path, constants.O_RDONLY, 0, { walk });
      try {
        assert.ok(isCloexec(fd), `fd for ${path} is close-on-exec`);
        return readFd(fd);
      } finally {
        closeSync(fd);
      }
    };

    test('symlinks and ".." that point outside resolve inside the root', () => {
      assert.notEqual(readFileSync('/etc/hostname', 'utf8'), 'inside');
      for (const path of [
        'etc/hostname',
        '/etc/hostname',
        'a/hostname',
        '/a/hostname',
        'b/hostname',
        '/b/hostname',
        'c/etc/hostname',
        'c/c/a/hostname',
        '../../etc/hostname',
        '/../../../etc/hostname',
        'etc/../../../../etc/hostname',
        'a/../a/./hostname',
        'h',
        '/h',
        'a//hostname',
      ]) {
        assert.equal(read(path), 'inside', path);
      }
    });

    test('resolveInRoot gives host paths inside the root', () => {
      assert.equal(resolveInRoot(root, 'a', { walk }), join(root, 'etc'));
      assert.equal(resolveInRoot(root, '/b', { walk }), join(root, 'etc'));
      assert.equal(resolveInRoot(root, 'c', { walk }), root);
      assert.equal(resolveInRoot(root, '..', { walk }), root);
      assert.equal(resolveInRoot(root, '/', { walk }), root);
      assert.equal(resolveInRoot(root, 'h', { walk }), join(root, 'etc/hostname'));
    });

    test('a target that exists only on the host is not found', () => {
      assert.ok(existsSync('/etc/passwd'));
      for (const path of ['p', 'a/passwd', 'b/passwd', '../etc/passwd']) {
        const e = throwsSyscall(() => read(path), 'ENOENT');
        assert.equal(e.path, path);
      }
    });

    test('O_CREAT through a dangling absolute symlink creates inside the root', () => {
      const fd = openInRoot(rootFd, 'dangling', constants.O_WRONLY | constants.O_CREAT, 0o600, { walk });
      try {
        writeSync(fd, 'made');
      } finally {
        closeSync(fd);
      }
      assert.equal(readFileSync(join(root, 'tmp', created), 'utf8'), 'made');
      assert.equal(existsSync(join('/tmp', created)), false);
    });

    test('O_NOFOLLOW and O_CREAT|O_EXCL do not follow a last-component symlink', () => {
      throwsSyscall(() => openInRoot(rootFd, 'h', constants.O_RDONLY | constants.O_NOFOLLOW, 0, { walk }), 'ELOOP');
      throwsSyscall(
        () => openInRoot(rootFd, 'h', constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600, { walk }),
        'EEXIST',
      );
      const fd = openInRoot(rootFd, 'h', constants.O_PATH | constants.O_NOFOLLOW, 0, { walk });
      try {
        assert.equal(readlinkSync(`/proc/self/fd/${fd}`), join(root, 'h'));
        assert.ok(lstatSync(join(root, 'h')).isSymbolicLink());
      } finally {
        closeSync(fd);
      }
    });

    test("loops, files used as directories and empty paths fail with the kernel's errno", () => {
      throwsSyscall(() => read('loop1'), 'ELOOP');
      throwsSyscall(() => read('etc/hostname/x'), 'ENOTDIR');
      throwsSyscall(() => read('etc/hostname/'), 'ENOTDIR');
      throwsSyscall(() => read(''), 'ENOENT');
    });

    test('errors carry code, errno, syscall, path and the root fd', () => {
      const e = throwsSyscall(() => read('/no/such/file'), 'ENOENT');
      assert.equal(e.errno, 2);
      assert.equal(e.syscall, walk ? 'openat' : 'openat2');
      assert.equal(e.path, '/no/such/file');
      assert.equal(e.fd, rootFd);
      assert.match(e.message, /'\/no\/such\/file' in root \(fd \d+\)/);
      assert.throws(() => openInRoot(rootFd, 42 as unknown as string, 0), TypeError);
      assert.throws(() => openInRoot(rootFd, 'a\0b', 0), TypeError);
    });
  });
}

describe('mkfifo, mknod', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-native-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('mkfifo makes a FIFO; a second one is EEXIST naming the path', () => {
    const path = join(dir, 'exec.fifo');
    mkfifo(path, 0o600);
    const st = statSync(path);
    assert.ok(st.isFIFO());
    assert.equal(st.mode & 0o777, 0o600);
    const e = throwsSyscall(() => mkfifo(path, 0o600), 'EEXIST');
    assert.equal(e.syscall, 'mkfifo');
    assert.equal(e.path, path);
    assert.ok(e.message.includes(path));
  });

  test('mknod makes a FIFO node without privilege', () => {
    const path = join(dir, 'node.fifo');
    mknod(path, constants.S_IFIFO | 0o640, 0, 0);
    assert.ok(statSync(path).isFIFO());
    throwsSyscall(() => mknod(join(dir, 'missing/x'), constants.S_IFIFO | 0o600, 0, 0), 'ENOENT');
  });
});

describe('pidfd', () => {
  test('open, wait, signal, wait: the signal reaches the child and the pidfd turns readable', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    assert.ok(child.pid !== undefined);
    const fd = pidfdOpen(child.pid);
    try {
      assert.ok(isCloexec(fd));
      assert.equal(pidfdWait(fd, 0), false);
      const t0 = Date.now();
      assert.equal(pidfdWait(fd, 100), false);
      assert.ok(Date.now() - t0 >= 90, 'pidfdWait honoured its timeout');
      pidfdSendSignal(fd, osConstants.signals.SIGTERM);
      assert.equal(pidfdWait(fd, 5000), true);
      assert.equal(await exited, 'SIGTERM');
      const e = throwsSyscall(() => pidfdSendSignal(fd, osConstants.signals.SIGTERM), 'ESRCH');
      assert.equal(e.syscall, 'pidfd_send_signal');
      assert.equal(e.fd, fd);
    } finally {
      closeSync(fd);
      child.kill('SIGKILL');
    }
  });

  test('pidfdOpen of a pid that does not exist is ESRCH; waiting on a bad fd is EBADF', () => {
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    let pid = pidMax - 1;
    while (existsSync(`/proc/${pid}`)) pid--;
    const e = throwsSyscall(() => pidfdOpen(pid), 'ESRCH');
    assert.equal(e.syscall, 'pidfd_open');
    assert.ok(e.message.includes(String(pid)));
    const [a, b] = socketpair();
    closeSync(a);
    closeSync(b);
    throwsSyscall(() => pidfdWait(a, 0), 'EBADF');
  });
});

describe('memfd seals', () => {
  test('a sealed memfd refuses writes', () => {
    const fd = memfdCreate('berth-seal-test', constants.MFD_ALLOW_SEALING);
    try {
      assert.ok(isCloexec(fd));
      writeSync(fd, 'binary');
      assert.equal(getSeals(fd), 0);
      addSeals(fd, constants.F_SEAL_SEAL | constants.F_SEAL_SHRINK | constants.F_SEAL_GROW | constants.F_SEAL_WRITE);
      assert.equal(getSeals(fd) & constants.F_SEAL_WRITE, constants.F_SEAL_WRITE);
      assert.throws(
        () => writeSync(fd, 'x', 0),
        (e) => (e as NodeJS.ErrnoException).code === 'EPERM',
      );
      throwsSyscall(() => addSeals(fd, constants.F_SEAL_WRITE), 'EPERM');
    } finally {
      closeSync(fd);
    }
    const plain = memfdCreate('berth-unsealable', 0);
    try {
      throwsSyscall(() => addSeals(plain, constants.F_SEAL_WRITE), 'EPERM');
    } finally {
      closeSync(plain);
    }
  });
});

describe('prctlSetChildSubreaper', () => {
  test('an orphaned grandchild is re-parented to the subreaper', () => {
    // In a child process, so that this test runner is never made a subreaper.
    const script = `
      const fs = await import('node:fs');
      const { spawnSync } = await import('node:child_process');
      const m = await import(${JSON.stringify(join(import.meta.dirname, 'native.ts'))});
      m.prctlSetChildSubreaper(true);
      const r = spawnSync('sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
      const pid = Number(r.stdout.trim());
      const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      process.kill(pid, 'SIGKILL');
      console.log(JSON.stringify({ ppid, self: process.pid }));`;
    const r = spawnSync(nodeBin, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { ppid, self } = JSON.parse(r.stdout) as { ppid: number; self: number };
    assert.equal(ppid, self);
  });
});

// Loading for real needs root (CAP_BPF, CAP_NET_ADMIN): test/integration/cgroups-v2-bpf.test.ts
// runs the verifier, the attach, the replacement and a refused program. These checks come before
// any bpf(2) call.
describe('bpfAttachDeviceFilter, bpfDeviceFilters', () => {
  const exit0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]); // r0 = 0; exit

  test('a program that is not whole struct bpf_insns in a Uint8Array is a TypeError', () => {
    const bad: unknown[] = [new Uint8Array(0), exit0.subarray(0, 12), new Uint16Array(8), Array.from(exit0), 'x'];
    for (const program of bad) {
      assert.throws(
        () => bpfAttachDeviceFilter('/nonexistent', program as Uint8Array, 'Apache'),
        (e: unknown) =>
          e instanceof TypeError &&
          (e as { code?: string }).code === 'ERR_INVALID_ARG_TYPE' &&
          /'program'/.test(e.message),
        String(program),
      );
    }
    assert.throws(() => bpfAttachDeviceFilter('/nonexistent', exit0, 'Apa\0che'), TypeError);
    assert.throws(() => bpfDeviceFilters(7 as unknown as string), TypeError);
  });

  test('a missing cgroup directory is ENOENT from open, naming the path (a Buffer or a view is fine)', () => {
    const dir = `/nonexistent/berth-bpf-${process.pid}`;
    for (const program of [exit0, Buffer.from(exit0), new Uint8Array(exit0.buffer, 8, 8)]) {
      const e = throwsSyscall(() => bpfAttachDeviceFilter(dir, program, 'Apache'), 'ENOENT');
      assert.equal(e.syscall, 'open');
      assert.equal(e.path, dir);
      assert.match(e.message, new RegExp(`open '${dir}'`));
    }
    const e = throwsSyscall(() => bpfDeviceFilters(dir), 'ENOENT');
    assert.equal(e.path, dir);
  });
});

describe('spawnProcess and watchChild', () => {
  // Collects a watch's events until the exit; the data joined.
  function watch(pid: number, fd: number): Promise<{ out: string; order: string[]; status: number }> {
    return new Promise((resolve) => {
      let out = '';
      const order: string[] = [];
      watchChild(pid, fd, (e: ChildEvent) => {
        order.push(e.kind);
        if (e.kind === 'data') out += e.data.toString();
        if (e.kind === 'eof' && fd >= 0) closeSync(fd);
        if (e.kind === 'exit') resolve({ out, order: [...new Set(order)], status: e.status });
      });
    });
  }

  test('the child gets exactly the fds it is given, at their positions; data, eof, then the exit code', async () => {
    const [ours, theirs] = socketpair();
    const outFile = join(mkdtempSync(join(tmpdir(), 'berth-spawn-')), 'out');
    const out = openSync(outFile, 'w');
    let pid: number;
    try {
      // fd 0 from /dev/null (-1), 1 a file, 2 inherited, 3 the socket; nothing else may be open.
      pid = spawnProcess(
        '/bin/sh',
        ['sh', '-c', 'read x; echo "stdin:[$x]"; ls /proc/self/fd >&3; echo to-three >&3; exit 7'],
        [-1, out, 2, theirs],
      );
    } finally {
      closeSync(theirs);
      closeSync(out);
    }
    const r = await watch(pid, ours);
    assert.equal(r.status, 7);
    assert.deepEqual(r.order, ['data', 'eof', 'exit']);
    const fds = r.out
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
    // ls's own directory fd is the one extra (a fresh number above 3).
    assert.deepEqual(
      fds.filter((fd) => fd <= 3),
      [0, 1, 2, 3],
      `fds in the child: ${fds.join(' ')}`,
    );
    assert.ok(fds.length <= 5, `an fd leaked into the child: ${fds.join(' ')}`);
    assert.ok(r.out.includes('to-three'));
    assert.equal(readFileSync(outFile, 'utf8'), 'stdin:[]\n');
    rmSync(join(outFile, '..'), { recursive: true, force: true });
  });

  test('a child killed by a signal reports 128+n; signals are at their defaults in the child', async () => {
    const pid = spawnProcess('/bin/sh', ['sh', '-c', 'trap - PIPE; kill -TERM $$; sleep 5'], [-1, -1, -1]);
    const r = await watch(pid, -1);
    assert.equal(r.status, 128 + osConstants.signals.SIGTERM);
    assert.deepEqual(r.order, ['exit']);
    // What Node ignores (SIGPIPE 13, SIGXFSZ 25) is at its default in the child. (glibc's own
    // signals 32 and 33 stay ignored after posix_spawn from a threaded process: berth-init resets them.)
    const [ours, theirs] = socketpair();
    const st = spawnProcess('/bin/sh', ['sh', '-c', 'grep ^SigIgn: /proc/self/status >&3'], [-1, -1, 2, theirs]);
    closeSync(theirs);
    const ign = BigInt(`0x${/SigIgn:\s*([0-9a-f]+)/.exec((await watch(st, ours)).out)?.[1] ?? 'ffff'}`);
    assert.equal(ign & ((1n << 12n) | (1n << 24n)), 0n, `SIGPIPE or SIGXFSZ ignored in the child: ${ign.toString(16)}`);
  });

  test('a program that cannot be run fails at once with the errno, naming the path', () => {
    const e = throwsSyscall(() => spawnProcess('/nonexistent/berth-init', ['x'], [-1, -1, -1]), 'ENOENT');
    assert.ok(e.message.includes('/nonexistent/berth-init'));
    assert.throws(() => spawnProcess('/bin/true', [], [0, 1, 2]), /argv/);
    assert.throws(() => spawnProcess('/bin/true', ['true'], [0, 1]), /fds/);
  });
});
