// Black-box mount suite: tmpfs and bind mounts with options, mount targets that are symlinks (they
// must resolve inside the rootfs, never on the host), readonly root, masked and readonly paths,
// the default devices and /dev symlinks, and linux.devices. Runs per runtime in BERTH_TEST_RUNTIMES.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertOk, describeRuntimes, unmountUnder } from '../lib/runtime.ts';

const sh = (script: string) => ['sh', '-c', script];

interface MountEntry {
  mountPoint: string;
  options: string[];
  fsType: string;
  superOptions: string[];
}

/** Parses /proc/<pid>/mountinfo as printed inside a container. */
function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 0 || f.length < dash + 3) continue;
    out.push({
      mountPoint: (f[4] ?? '').replace(/\\040/g, ' '),
      options: (f[5] ?? '').split(','),
      fsType: f[dash + 1] ?? '',
      superOptions: (f[dash + 3] ?? '').split(','),
    });
  }
  return out;
}

/** The topmost mount at `point` (the last one listed wins, as the kernel shows it). */
function mountAt(entries: MountEntry[], point: string): MountEntry | undefined {
  return entries.filter((e) => e.mountPoint === point).at(-1);
}

const MARK = '@@mountinfo@@';

/** Runs `script`, then prints the container's mountinfo after a marker; returns both parts. */
function withMountinfo(script: string): string[] {
  return sh(`${script}; echo ${MARK}; cat /proc/self/mountinfo`);
}

function splitMountinfo(out: string): { out: string; mounts: MountEntry[] } {
  const i = out.indexOf(`${MARK}\n`);
  assert.ok(i >= 0, `container output has no mountinfo: ${out}`);
  return { out: out.slice(0, i), mounts: parseMountinfo(out.slice(i + MARK.length + 1)) };
}

describeRuntimes('runtime mounts', (rt, it) => {
  it('tmpfs with size, mode, nosuid, nodev, noexec; missing mount points are created', async (s) => {
    const b = s.bundle({
      args: withMountinfo('stat -c %a /mnt/t; stat -c %a /mnt/deep/a/b'),
      extraMounts: [
        {
          destination: '/mnt/t',
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['size=1m', 'mode=1777', 'nosuid', 'nodev', 'noexec'],
        },
        { destination: '/mnt/deep/a/b', type: 'tmpfs', source: 'tmpfs', options: ['mode=700'] },
      ],
    });
    const { out, mounts } = splitMountinfo(await s.runToExit(s.id(), b));
    assert.equal(out, '1777\n700\n');
    const t = mountAt(mounts, '/mnt/t');
    assert.ok(t, 'no mount at /mnt/t');
    assert.equal(t.fsType, 'tmpfs');
    for (const o of ['nosuid', 'nodev', 'noexec'])
      assert.ok(t.options.includes(o), `/mnt/t options ${t.options} lack ${o}`);
    assert.ok(t.superOptions.includes('size=1024k'), `/mnt/t super options ${t.superOptions} lack size=1024k`);
  });

  it('a read-only bind mount can be read and not written; a read-write one writes through to the host', async (s) => {
    const ro = s.path('host-ro', true);
    const rw = s.path('host-rw', true);
    writeFileSync(join(ro, 'hello'), 'from-host\n');
    const b = s.bundle({
      args: withMountinfo(
        'cat /mnt/ro/hello; touch /mnt/ro/new 2>/dev/null && echo ro-writable || echo ro-refused; echo written > /mnt/rw/out',
      ),
      extraMounts: [
        { destination: '/mnt/ro', type: 'bind', source: ro, options: ['bind', 'ro'] },
        { destination: '/mnt/rw', type: 'bind', source: rw, options: ['rbind', 'rw'] },
      ],
    });
    const { out, mounts } = splitMountinfo(await s.runToExit(s.id(), b));
    assert.equal(out, 'from-host\nro-refused\n');
    assert.ok(!existsSync(join(ro, 'new')));
    assert.equal(readFileSync(join(rw, 'out'), 'utf8'), 'written\n');
    assert.ok(mountAt(mounts, '/mnt/ro')?.options.includes('ro'), 'bind mount at /mnt/ro must be ro');
    assert.ok(mountAt(mounts, '/mnt/rw')?.options.includes('rw'), 'bind mount at /mnt/rw must be rw');
  });

  it('rro: a read-only bind is read-only in every mount under it too (mount_setattr AT_RECURSIVE), where plain ro leaves them writable', async (s) => {
    const src = s.path('host-rro', true);
    const sub = join(src, 'sub');
    mkdirSync(sub);
    // A mount under the bound directory: `ro` (a remount of the bind) reaches the top mount only.
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', sub], { encoding: 'utf8' });
    assert.equal(m.status, 0, `mount a tmpfs on ${sub}: ${m.stderr}`);
    try {
      const b = s.bundle({
        args: withMountinfo(
          'for d in /mnt/ro /mnt/ro/sub /mnt/rro /mnt/rro/sub; do touch $d/f 2>/dev/null && echo $d:rw || echo $d:ro; done',
        ),
        extraMounts: [
          { destination: '/mnt/ro', type: 'bind', source: src, options: ['rbind', 'ro'] },
          { destination: '/mnt/rro', type: 'bind', source: src, options: ['rbind', 'ro', 'rro'] },
        ],
      });
      const { out, mounts } = splitMountinfo(await s.runToExit(s.id(), b));
      assert.equal(out, '/mnt/ro:ro\n/mnt/ro/sub:rw\n/mnt/rro:ro\n/mnt/rro/sub:ro\n');
      assert.ok(mountAt(mounts, '/mnt/rro/sub')?.options.includes('ro'), 'the submount of the rro bind is ro');
    } finally {
      spawnSync('umount', ['-l', sub]);
    }
  });

  it('a mount target that is a symlink to a host path lands inside the rootfs, never on the host', async (s) => {
    // The targets do not exist on the host: a runtime that followed the links there would create them.
    const tag = randomBytes(4).toString('hex');
    const hostAbs = `/tmp/berth-escape-${tag}/abs`;
    const hostRel = `/tmp/berth-escape-${tag}/rel`;
    const src = s.path('bind-src', true);
    writeFileSync(join(src, 'marker'), 'bound\n');
    const b = s.bundle({
      args: withMountinfo('cat /evil-bind/marker; stat -f -c %T /evil-tmpfs/'),
      extraMounts: [
        { destination: '/evil-bind', type: 'bind', source: src, options: ['bind'] },
        { destination: '/evil-tmpfs', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      ],
    });
    symlinkSync(hostAbs, join(b.rootfs, 'evil-bind'));
    symlinkSync(`../../../../../../..${hostRel}`, join(b.rootfs, 'evil-tmpfs'));
    try {
      const r = s.run(s.id(), b);
      assert.ok(!existsSync(`/tmp/berth-escape-${tag}`), `the runtime created /tmp/berth-escape-${tag} on the host`);
      // crun 1.8 refuses a dangling symlink as a mount target (safe, but not what runc does).
      if (rt.kind === 'crun' && r.status !== 0) return;
      // Resolved inside the rootfs, as runc does: the mount succeeds there.
      assertOk(r, 'run with symlinked mount targets');
      const { out, mounts } = splitMountinfo(r.stdout);
      assert.equal(out, 'bound\ntmpfs\n');
      assert.ok(
        mountAt(mounts, hostAbs),
        `the bind mount must sit at ${hostAbs} inside the container: ${JSON.stringify(mounts)}`,
      );
      assert.ok(mountAt(mounts, hostRel), `the tmpfs must sit at ${hostRel} inside the container`);
      assert.ok(existsSync(join(b.rootfs, hostAbs)), 'the mount point is created inside the rootfs');
      assert.ok(!existsSync(`/tmp/berth-escape-${tag}`), `the runtime created /tmp/berth-escape-${tag} on the host`);
    } finally {
      // Only a broken runtime leaves this behind (possibly with a mount on it).
      unmountUnder(`/tmp/berth-escape-${tag}`);
      rmSync(`/tmp/berth-escape-${tag}`, { recursive: true, force: true });
    }
  });

  it('readonly root: writing / fails; a writable root writes through to the bundle', async (s) => {
    const b = s.bundle({
      readonlyRoot: true,
      args: sh(
        'touch /x 2>/dev/null && echo writable || echo refused; touch /tmp/y 2>/dev/null && echo tmp-writable || echo tmp-refused',
      ),
    });
    assert.equal(await s.runToExit(s.id(), b), 'refused\ntmp-refused\n');
    assert.ok(!existsSync(join(b.rootfs, 'x')));
    const b2 = s.bundle({ readonlyRoot: false, args: sh('echo hi > /x && echo written') });
    assert.equal(await s.runToExit(s.id(), b2), 'written\n');
    assert.equal(readFileSync(join(b2.rootfs, 'x'), 'utf8'), 'hi\n');
  });

  it('masked paths read empty: /proc/kcore, /proc/keys, /proc/timer_list, /sys/firmware, a file and a dir of the rootfs', async (s) => {
    // /proc/kcore is absent on some kernels (this CI host's among them): mask the ones that exist.
    const procFiles = ['/proc/kcore', '/proc/keys', '/proc/timer_list'].filter((f) => existsSync(f));
    const files = [...procFiles, '/secret'];
    const b = s.bundle({
      args: sh(
        `for f in ${files.join(' ')}; do echo $f $(wc -c < $f); done; for d in /sys/firmware /secret-dir; do echo $d $(ls -A $d | wc -l); done`,
      ),
      // A masked path that does not exist is not an error.
      maskedPaths: [...files, '/sys/firmware', '/secret-dir', '/proc/berth-does-not-exist'],
    });
    writeFileSync(join(b.rootfs, 'secret'), 'do not read\n');
    mkdirSync(join(b.rootfs, 'secret-dir'));
    writeFileSync(join(b.rootfs, 'secret-dir/file'), 'do not list\n');
    const id = s.id();
    const out = await s.runToExit(id, b);
    const expected = [...files.map((f) => `${f} 0`), '/sys/firmware 0', '/secret-dir 0', ''].join('\n');
    assert.equal(out, expected, s.readErr(id));
  });

  it('readonly paths are read-only mounts: /proc/sys and a directory of the rootfs', async (s) => {
    // CAP_SYS_ADMIN in its own uts namespace may write kernel.domainname: only the ro mount stops it.
    const script =
      'cat /data/f; touch /data/g 2>/dev/null && echo data-writable || echo data-refused; touch /other && echo other-ok; ' +
      'echo berth > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-refused';
    const caps = ['CAP_SYS_ADMIN', 'CAP_KILL'];
    const b = s.bundle({
      readonlyRoot: false,
      capabilities: caps,
      args: withMountinfo(script),
      readonlyPaths: ['/proc/sys', '/data'],
    });
    mkdirSync(join(b.rootfs, 'data'));
    writeFileSync(join(b.rootfs, 'data/f'), 'readable\n');
    const { out, mounts } = splitMountinfo(await s.runToExit(s.id(), b));
    assert.equal(out, 'readable\ndata-refused\nother-ok\nsys-refused\n');
    for (const p of ['/proc/sys', '/data'])
      assert.ok(mountAt(mounts, p)?.options.includes('ro'), `${p} must be mounted ro`);
    // The control: without readonlyPaths the same writes succeed.
    const c = s.bundle({ readonlyRoot: false, capabilities: caps, args: withMountinfo(script), readonlyPaths: [] });
    mkdirSync(join(c.rootfs, 'data'));
    writeFileSync(join(c.rootfs, 'data/f'), 'readable\n');
    assert.equal(splitMountinfo(await s.runToExit(s.id(), c)).out, 'readable\ndata-writable\nother-ok\nsys-writable\n');
  });

  it('default devices, /dev symlinks, /dev/pts, /dev/shm and /dev/mqueue', async (s) => {
    const devices = ['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((d) => `/dev/${d}`).join(' ');
    const links = ['fd', 'stdin', 'stdout', 'stderr', 'ptmx'].map((d) => `/dev/${d}`).join(' ');
    const b = s.bundle({
      args: withMountinfo(
        `stat -c '%n %F %t:%T %a' ${devices}; for l in ${links}; do echo $l $(readlink $l); done; ` +
          'echo x > /dev/null && echo null-ok; head -c 5 /dev/zero | wc -c; head -c 5 /dev/urandom | wc -c',
      ),
    });
    const { out, mounts } = splitMountinfo(await s.runToExit(s.id(), b));
    assert.equal(
      out.replace(/ +$/gm, ''),
      [
        '/dev/null character special file 1:3 666',
        '/dev/zero character special file 1:5 666',
        '/dev/full character special file 1:7 666',
        '/dev/random character special file 1:8 666',
        '/dev/urandom character special file 1:9 666',
        '/dev/tty character special file 5:0 666',
        '/dev/fd /proc/self/fd',
        '/dev/stdin /proc/self/fd/0',
        '/dev/stdout /proc/self/fd/1',
        '/dev/stderr /proc/self/fd/2',
        '/dev/ptmx pts/ptmx',
        'null-ok',
        '5',
        '5',
        '',
      ].join('\n'),
    );
    assert.equal(mountAt(mounts, '/dev/pts')?.fsType, 'devpts');
    assert.equal(mountAt(mounts, '/dev/shm')?.fsType, 'tmpfs');
    assert.equal(mountAt(mounts, '/dev/mqueue')?.fsType, 'mqueue');
    assert.equal(mountAt(mounts, '/proc')?.fsType, 'proc');
    assert.equal(mountAt(mounts, '/sys')?.fsType, 'sysfs');
  });

  it('linux.devices creates the device node with its type, numbers, mode and owner', async (s) => {
    const b = s.bundle({
      args: sh(
        "stat -c '%n %F %t:%T %a %u:%g' /dev/berth-null /dev/sub/berth-zero; echo x > /dev/berth-null && echo write-ok",
      ),
      devices: [
        { type: 'c', path: '/dev/berth-null', major: 1, minor: 3, fileMode: 0o640, uid: 0, gid: 5 },
        { type: 'c', path: '/dev/sub/berth-zero', major: 1, minor: 5, fileMode: 0o600, uid: 1000, gid: 1000 },
      ],
      edit: (spec) => {
        // Allow the new node in the device cgroup, after the default deny-all.
        (spec.linux.resources!['devices'] as unknown[]).push({
          allow: true,
          type: 'c',
          major: 1,
          minor: 3,
          access: 'rwm',
        });
      },
    });
    assert.equal(
      await s.runToExit(s.id(), b),
      '/dev/berth-null character special file 1:3 640 0:5\n/dev/sub/berth-zero character special file 1:5 600 1000:1000\nwrite-ok\n',
    );
  });

  it('a linux.devices node gets only the device-cgroup access linux.resources.devices gives it (none of its own)', async (s) => {
    // runc's rule: a device of linux.devices is made, but the cgroup's rules decide its use; a
    // default device it replaces at the same path loses its default rule too.
    const b = s.bundle({
      args: sh(
        '(exec 3</dev/berth-fuse) && echo fuse-open || echo fuse-denied; (exec 4</dev/full) && echo full-open || echo full-denied; (exec 5</dev/zero) && echo zero-open',
      ),
      devices: [
        { type: 'c', path: '/dev/berth-fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
        // (runc needs /dev/null itself while it starts the container: /dev/full shows the rule instead.)
        { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
      ],
    });
    const out = await s.runToExit(s.id(), b);
    assert.match(out, /fuse-denied/);
    assert.match(out, /full-denied/);
    assert.match(out, /zero-open/);
  });

  it('mounts are applied in order: a later mount shadows an earlier one at the same place', async (s) => {
    const first = s.path('first', true);
    const second = s.path('second', true);
    writeFileSync(join(first, 'who'), 'first\n');
    writeFileSync(join(second, 'who'), 'second\n');
    const b = s.bundle({
      args: ['cat', '/mnt/x/who'],
      extraMounts: [
        { destination: '/mnt/x', type: 'bind', source: first, options: ['bind'] },
        { destination: '/mnt/x', type: 'bind', source: second, options: ['bind'] },
      ],
    });
    assert.equal(assertOk(s.run(s.id(), b), 'run').stdout, 'second\n');
  });
  it('a rootfs whose /proc or /sys is a symlink is refused, naming the path, and nothing lands over the root', (s) => {
    for (const [dir, target] of [
      ['proc', '/'],
      ['sys', '/'],
      ['proc', '../tmp'],
    ] as const) {
      const b = s.bundle({ args: ['true'] });
      rmSync(join(b.rootfs, dir), { recursive: true, force: true });
      symlinkSync(target, join(b.rootfs, dir));
      const id = s.id();
      const r = s.create(id, b);
      assert.notEqual(r.status, 0, `create with /${dir} -> ${target} must fail`);
      // runc: "must be mounted on ordinary directory"; berth names the path in the rootfs too.
      assert.match(r.stderr, /ordinary directory/, r.stderr);
      if (s.rt.kind === 'berth')
        assert.match(r.stderr, new RegExp(`/${dir} in the rootfs \\(${b.rootfs}/${dir}\\) is a symlink`), r.stderr);
      assert.notEqual(s.exec(['state', id]).status, 0, 'no container was left');
      assert.ok(existsSync(join(b.rootfs, 'ROOTFS_MARKER')), 'the rootfs is intact');
    }
    s.control({}, 'an ordinary /proc and /sys');
  });
});
