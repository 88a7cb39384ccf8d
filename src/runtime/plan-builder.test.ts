import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSpec } from '../oci/runtime-default-spec.ts';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';
import { bytes, formatPlan, int, op, type PlanOp } from '../sys/plan.ts';
import { buildCreatePlan, buildExecPlan, type HostFacts, type PlanOptions } from './plan-builder.ts';

const host: HostFacts = {
  isSymlink: () => false,
  pathKind: (p) => (p.endsWith('.conf') ? 'file' : p.includes('missing') ? 'missing' : 'dir'),
  cgroupHierarchies: () => [
    { name: 'memory', options: 'memory', fstype: 'cgroup' },
    { name: 'systemd', options: 'name=systemd', fstype: 'cgroup' },
  ],
  capLastCap: () => 40,
  mountPointOf: () => '/srv',
  seccompOp: (s) => op('SECCOMP', int(0), bytes(new Uint8Array(8 * (s.syscalls?.length ?? 1)))),
  selinuxEnabled: () => false,
  warn: (m) => warnings.push(m),
};
const warnings: string[] = [];

const opts: PlanOptions = {
  id: 'c1',
  bundle: '/b',
  mode: 'create',
  fifoPath: '/run/x/c1/exec.fifo',
  preserveFds: 0,
  noPivot: false,
  cgroupJoin: { writeZero: ['/sys/fs/cgroup/memory/berth/c1/tasks'], cloneInto: '/sys/fs/cgroup/unified/berth/c1' },
};

function spec(mut: (c: RuntimeConfig) => void = () => {}): RuntimeConfig {
  const c = defaultSpec();
  c.process!.terminal = false;
  mut(c);
  return c;
}

const names = (ops: PlanOp[]) => ops.map((o) => o.op);
const lines = (ops: PlanOp[]) => formatPlan(ops).split('\n');

describe('plan builder', () => {
  it('orders the default container: stage0 ops, clone, parent ops, then the child up to exec', () => {
    const ops = buildCreatePlan(spec(), opts, host);
    const n = names(ops);
    assert.deepEqual(n.slice(0, 5), ['MODE', 'MKFIFO', 'WRITE_FILE', 'CGROUP_INTO', 'CLONE']);
    assert.equal(n.at(-1), 'EXEC');
    const order = [
      'SETSID',
      'ROOTFS',
      'MKNOD',
      'SYMLINK',
      'PIVOT_ROOT',
      'HOSTNAME',
      'READONLY_PATH',
      'MASK_PATH',
      'CLOSE_FDS',
      'CAP_BOUNDING',
      'USER',
      'CHDIR',
      'CAPS',
      'RESOLVE_EXEC',
      'READY',
      'WAIT_FIFO',
      'EXEC',
    ];
    const idx = order.map((o) => n.indexOf(o as PlanOp['op']));
    for (const [i, v] of idx.entries()) assert.ok(v >= 0, `${order[i]} missing`);
    assert.deepEqual(
      [...idx].sort((a, b) => a - b),
      idx,
      `ops out of order:\n${formatPlan(ops)}`,
    );
    // Default namespaces become one clone; the cgroup join happens before it.
    const clone = ops.find((o) => o.op === 'CLONE')!;
    const flags = Number((clone.values[0] as { v: number }).v);
    assert.equal(flags & 0x00020000, 0x00020000);
    assert.equal(flags & 0x20000000, 0x20000000);
    assert.equal(flags & 0x10000000, 0, 'no user namespace by default');
    // Every mount into the rootfs is resolved in root through an fd.
    for (const l of lines(ops).filter((l) => l.startsWith('MOUNT(') && l.includes('"/proc"'))) {
      const how = Number(/, (\d+)\)$/.exec(l)?.[1]);
      assert.equal(how & 0x9, 0x9, l);
      assert.equal(how & 0x20, 0x20, `proc never through a symlink: ${l}`);
    }
  });

  it('resolves mounts inside the rootfs and makes bind targets by source type', () => {
    const ops = buildCreatePlan(
      spec((c) => {
        c.mounts!.push({
          destination: '/etc/x.conf',
          type: 'bind',
          source: '/host/x.conf',
          options: ['rbind', 'ro', 'nosuid'],
        });
        c.mounts!.push({ destination: '/data/../data2', type: 'bind', source: 'rel', options: ['bind', 'rprivate'] });
      }),
      opts,
      host,
    );
    const l = lines(ops);
    // rbind file: MS_BIND|MS_REC, in-root+via-fd+mkfile (0x1|0x8|0x4 = 13); then remount ro,nosuid (0x1000|0x20|0x1|0x2).
    assert.ok(l.includes('MOUNT("/host/x.conf", "/etc/x.conf", "", 0x5000, "", 13)'), l.join('\n'));
    assert.ok(l.includes('MOUNT("", "/etc/x.conf", "", 0x1023, "", 9)'), l.join('\n'));
    // Relative sources are taken from the bundle; destinations are normalised; propagation is its own mount.
    assert.ok(l.includes('MOUNT("/b/rel", "/data2", "", 0x1000, "", 11)'), l.join('\n'));
    assert.ok(l.includes('MOUNT("", "/data2", "", 0x44000, "", 9)'), l.join('\n'));
  });

  it('with a new user namespace: maps are written by the parent and devices are bind-mounted', () => {
    const ops = buildCreatePlan(
      spec((c) => {
        c.linux!.namespaces!.push({ type: 'user' });
        c.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      }),
      opts,
      host,
    );
    const l = lines(ops);
    const clone = l.findIndex((x) => x.startsWith('CLONE'));
    assert.ok(l.indexOf('UID_MAP("0 100000 65536\\n")') > clone);
    assert.ok(l.includes('SETRESID(0, 0)'));
    assert.ok(!names(ops).includes('MKNOD'));
    assert.ok(l.includes('MOUNT("/dev/null", "/dev/null", "", 0x1000, "", 13)'), l.join('\n'));
  });

  it('joins namespaces by path, user after the others, then mount last, before the clone', () => {
    const ops = buildCreatePlan(
      spec((c) => {
        c.linux!.namespaces = [
          { type: 'mount', path: '/proc/7/ns/mnt' },
          { type: 'network', path: '/proc/7/ns/net' },
          { type: 'user', path: '/proc/7/ns/user' },
          { type: 'pid' },
          { type: 'uts' },
        ];
      }),
      opts,
      host,
    );
    const joins = lines(ops).filter((x) => x.startsWith('JOIN_NS'));
    assert.deepEqual(joins, [
      'JOIN_NS(0x40000000, "/proc/7/ns/net")',
      'JOIN_NS(0x10000000, "/proc/7/ns/user")',
      'JOIN_NS(0x20000, "/proc/7/ns/mnt")',
    ]);
    assert.ok(lines(ops).includes('CLONE(0x24000000)'));
  });

  it('without a mount namespace to join, joins a user namespace last, right before the clone (after the cgroup writes)', () => {
    const ops = buildCreatePlan(
      spec((c) => {
        c.linux!.namespaces = [
          { type: 'network', path: '/proc/7/ns/net' },
          { type: 'user', path: '/proc/7/ns/user' },
          { type: 'mount' },
          { type: 'pid' },
          { type: 'uts' },
        ];
      }),
      opts,
      host,
    );
    const l = lines(ops);
    const user = l.indexOf('JOIN_NS(0x10000000, "/proc/7/ns/user")');
    assert.ok(user > l.indexOf('JOIN_NS(0x40000000, "/proc/7/ns/net")'));
    assert.ok(user > l.findIndex((x) => x.startsWith('WRITE_FILE(')), 'after the cgroup tasks write');
    assert.ok(l[user + 1]!.startsWith('CLONE('));
  });

  it('puts rlimits and oom_score_adj in the parent, capabilities as masks, and hooks in their places', () => {
    const ops = buildCreatePlan(
      spec((c) => {
        c.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }];
        c.process!.oomScoreAdj = 100;
        c.process!.capabilities = {
          bounding: ['CAP_KILL', 'CAP_CHOWN'],
          effective: ['CAP_KILL'],
          permitted: ['CAP_KILL'],
        };
        c.hooks = {
          createContainer: [{ path: '/bin/h', args: ['h', 'cc'] }],
          startContainer: [{ path: '/bin/h', timeout: 3 }],
          prestart: [{ path: '/p' }],
        };
      }),
      opts,
      host,
    );
    const l = lines(ops);
    assert.ok(l.includes('PRLIMIT(7, 0x400, 0x1000)'));
    assert.ok(l.includes('OOM_SCORE_ADJ(100)'));
    assert.ok(l.includes('CAP_BOUNDING(33)'), 'CAP_CHOWN (0) | CAP_KILL (5)');
    assert.ok(l.includes('CAPS(32, 32, 0, 0)'));
    const n = names(ops);
    assert.ok(n.indexOf('HOOK_SYNC') < n.indexOf('RUN_HOOK'));
    assert.ok(n.indexOf('RUN_HOOK') < n.indexOf('PIVOT_ROOT'), 'createContainer runs before pivot_root');
    assert.ok(n.lastIndexOf('RUN_HOOK') > n.indexOf('WAIT_FIFO'), 'startContainer runs after start');
    assert.ok(l.includes('RUN_HOOK("/bin/h", ["/bin/h"], [], 3)'));
  });

  it('recursive mount attributes (rro, rnosuid, rnoatime) are one MOUNT_SETATTR after the mount, before its propagation', () => {
    const ops = buildCreatePlan(
      spec((c) =>
        c.mounts!.push({
          destination: '/x',
          type: 'bind',
          source: '/d',
          options: ['rbind', 'ro', 'rro', 'rnosuid', 'rnoatime', 'rslave'],
        }),
      ),
      opts,
      host,
    );
    const l = lines(ops);
    // RDONLY|NOSUID|NOATIME set; the whole atime field cleared first, as mount_setattr(2) asks.
    const at = l.indexOf('MOUNT_SETATTR("/x", 19, 112)');
    assert.ok(at > 0, l.join('\n'));
    assert.ok(l[at - 1]!.startsWith('MOUNT("", "/x", "", '), 'after the read-only remount of the bind');
    assert.ok(l[at + 1]!.startsWith('MOUNT("", "/x", "", '), 'then the propagation');
    assert.ok(names(ops).indexOf('MOUNT_SETATTR') < names(ops).indexOf('PIVOT_ROOT'));
  });

  it('foreground mode has no FIFO; --no-pivot uses chroot; a console op when terminal', () => {
    const ops = buildCreatePlan(
      spec((c) => {
        c.process!.terminal = true;
        c.process!.consoleSize = { height: 40, width: 100 };
      }),
      { ...opts, mode: 'foreground', fifoPath: undefined, noPivot: true, consoleSocketFd: 4, preserveFds: 1 },
      host,
    );
    const n = names(ops);
    assert.ok(!n.includes('MKFIFO') && !n.includes('WAIT_FIFO') && !n.includes('OPEN_FIFO'));
    assert.ok(n.includes('CHROOT') && !n.includes('PIVOT_ROOT'));
    assert.ok(lines(ops).includes('CONSOLE(4, 40, 100)'));
    assert.ok(lines(ops).includes('CLOSE_FDS(4)'));
  });

  it('a time namespace is unshared by stage0, with its offsets, never passed to clone', () => {
    const ops = buildCreatePlan(
      spec((c) => {
        c.linux!.namespaces!.push({ type: 'time' });
        c.linux!.timeOffsets = { boottime: { secs: 86400, nanosecs: 5 }, monotonic: { secs: 1 } };
      }),
      opts,
      host,
    );
    const l = lines(ops);
    const u = l.indexOf('UNSHARE(128)');
    const w = l.indexOf('WRITE_FILE("/proc/self/timens_offsets", "boottime 86400 5\\nmonotonic 1 0\\n")');
    const c = l.findIndex((x) => x.startsWith('CLONE('));
    assert.ok(u >= 0 && w > u && c > w, l.slice(0, 8).join('\n'));
    const flags = Number((ops[c]!.values[0] as { v: number }).v);
    assert.equal(flags & 0x80, 0);
  });

  it("cgroup mounts: with a cgroup namespace each hierarchy afresh; without one only the container's own directories, bound", () => {
    const withNs = lines(
      buildCreatePlan(
        spec((c) => c.linux!.namespaces!.push({ type: 'cgroup' })),
        opts,
        host,
      ),
    );
    assert.ok(withNs.some((x) => x.startsWith('MOUNT("tmpfs", "/sys/fs/cgroup", "tmpfs"')));
    assert.ok(
      withNs.some(
        (x) => x.startsWith('MOUNT("cgroup", "/sys/fs/cgroup/systemd", "cgroup"') && x.includes('"name=systemd"'),
      ),
    );
    const own = { memory: '/sys/fs/cgroup/memory/berth/c1' };
    const noNs = lines(buildCreatePlan(spec(), { ...opts, cgroupPaths: own }, host));
    assert.ok(
      noNs.some((x) => x.startsWith('MOUNT("/sys/fs/cgroup/memory/berth/c1", "/sys/fs/cgroup/memory", "", 0x1000')),
    );
    assert.ok(!noNs.some((x) => x.startsWith('MOUNT("cgroup"')), "never the host's whole tree");
    assert.ok(
      !noNs.some((x) => x.includes('/sys/fs/cgroup/systemd')),
      'a hierarchy without a directory of its own is left out',
    );
  });

  it('cgroup mounts on a hybrid host: only the v1 hierarchies (as runc and crun); on a unified host cgroup2', () => {
    const hybrid: HostFacts = {
      ...host,
      cgroupHierarchies: () => [...host.cgroupHierarchies(), { name: 'unified', options: '', fstype: 'cgroup2' }],
    };
    const own = { memory: '/sys/fs/cgroup/memory/berth/c1', unified: '/sys/fs/cgroup/unified/berth/c1' };
    for (const withNs of [true, false]) {
      const ls = lines(
        buildCreatePlan(
          spec((c) => withNs && c.linux!.namespaces!.push({ type: 'cgroup' })),
          { ...opts, cgroupPaths: own },
          hybrid,
        ),
      );
      assert.ok(
        ls.some((x) => x.includes('"/sys/fs/cgroup/memory"')),
        `v1 mounted (cgroup ns ${withNs})`,
      );
      assert.deepEqual(
        ls.filter((x) => x.startsWith('MOUNT(') && (x.includes('unified') || x.includes('cgroup2'))),
        [],
        `no cgroup2 in the container (cgroup ns ${withNs})`,
      );
    }
    const v2: HostFacts = { ...host, cgroupHierarchies: () => [{ name: 'unified', options: '', fstype: 'cgroup2' }] };
    const ls = lines(
      buildCreatePlan(
        spec((c) => c.linux!.namespaces!.push({ type: 'cgroup' })),
        opts,
        v2,
      ),
    );
    assert.ok(
      ls.some((x) => x.startsWith('MOUNT("cgroup2", "/sys/fs/cgroup", "cgroup2"')),
      ls.join('\n'),
    );
  });

  it('refuses a rootfs whose /proc or /sys is a symlink, naming the path, before any op', () => {
    for (const p of ['/proc', '/sys']) {
      const linked: HostFacts = { ...host, isSymlink: (x) => x === `/b/rootfs${p}` };
      assert.throws(
        () => buildCreatePlan(spec(), opts, linked),
        (e: Error) =>
          e.message.includes(`${p} in the rootfs (/b/rootfs${p}) is a symlink`) &&
          /must be mounted on an ordinary directory/.test(e.message),
      );
    }
  });

  const bad: Array<[string, (c: RuntimeConfig) => void, RegExp]> = [
    [
      'hostname without a uts namespace',
      (c) => (c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'uts')),
      /hostname: set, but there is no uts namespace/,
    ],
    [
      'masked paths without a mount namespace',
      (c) => (c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'mount')),
      /maskedPaths, linux.readonlyPaths: need a mount namespace/,
    ],
    [
      'user namespace without mappings',
      (c) => c.linux!.namespaces!.push({ type: 'user' }),
      /uidMappings, linux.gidMappings: required/,
    ],
    [
      'bind source missing',
      (c) => c.mounts!.push({ destination: '/x', type: 'bind', source: '/missing', options: ['bind'] }),
      /mounts\[\d+\]\.source: \/missing does not exist/,
    ],
    [
      'idmapped mount',
      (c) => c.mounts!.push({ destination: '/x', type: 'bind', source: '/d', options: ['bind', 'idmap'] }),
      /idmapped mounts are not supported/,
    ],
    [
      'terminal without console socket',
      (c) => (c.process!.terminal = true),
      /--console-socket is required unless the process runs in the foreground/,
    ],
    ['sysctl key with a slash', (c) => (c.linux!.sysctl = { 'net/ipv4': '1' }), /linux.sysctl: invalid key/],
    ['AppArmor', (c) => (c.process!.apparmorProfile = 'x'), /process.apparmorProfile: AppArmor is not supported/],
  ];
  for (const [what, mut, re] of bad) {
    it(`refuses: ${what}`, () => {
      assert.throws(() => buildCreatePlan(spec(mut), opts, host), re);
    });
  }
  it('leaves out capabilities the kernel table does not know (validation warned)', () => {
    const ops = buildCreatePlan(
      spec((c) => (c.process!.capabilities!.bounding = ['CAP_KILL', 'CAP_NOPE'])),
      opts,
      host,
    );
    assert.ok(lines(ops).includes('CAP_BOUNDING(32)'));
  });
  it('refuses a capability beyond the kernel last cap', () => {
    assert.throws(
      () =>
        buildCreatePlan(
          spec((c) => (c.process!.capabilities!.bounding = ['CAP_CHECKPOINT_RESTORE'])),
          opts,
          { ...host, capLastCap: () => 39 },
        ),
      /capability 40 is beyond this kernel's last \(39\)/,
    );
  });

  it('exec: joins the cgroup first, then every namespace of the init (user, then mount last), forks, and execs with the process credentials', () => {
    const c = spec((c) => c.linux!.namespaces!.push({ type: 'user' }));
    const proc = {
      ...c.process!,
      args: ['ls'],
      user: { uid: 5, gid: 6 },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }],
    };
    const ops = buildExecPlan(
      c,
      proc,
      { initPid: 77, mode: 'foreground', preserveFds: 0, cgroupJoin: { writeZero: ['/cg/tasks'], cloneInto: '/cg2' } },
      host,
    );
    const l = lines(ops);
    assert.equal(l[0], 'MODE(1)');
    assert.equal(l[1], 'WRITE_FILE("/cg/tasks", "0")');
    assert.equal(l[2], 'CGROUP_INTO("/cg2")');
    const joins = l.filter((x) => x.startsWith('JOIN_NS'));
    assert.equal(joins.at(-2), 'JOIN_NS(0x10000000, "/proc/77/ns/user")');
    assert.equal(joins.at(-1), 'JOIN_NS(0x20000, "/proc/77/ns/mnt")');
    assert.ok(l.includes('CLONE(0)'));
    assert.ok(l.includes('SETRLIMIT(7, 10, 20)'));
    assert.ok(l.includes('USER(5, 6, [], 1)'));
    assert.ok(!names(ops).includes('MOUNT') && !names(ops).includes('PIVOT_ROOT'));
    assert.deepEqual(names(ops).slice(-3), ['READY', 'UMASK', 'EXEC']);
    assert.ok(names(ops).indexOf('RESOLVE_EXEC') < names(ops).indexOf('READY'));
    const detached = buildExecPlan(
      c,
      proc,
      { initPid: 77, mode: 'detach', preserveFds: 0, cgroupJoin: { writeZero: [] } },
      host,
    );
    assert.equal(lines(detached)[0], 'MODE(0)');
  });

  it('loads seccomp before dropping capabilities without no_new_privs, and after it (before READY) with it', () => {
    const withFilter = (nnp: boolean) =>
      names(
        buildCreatePlan(
          spec((c) => {
            c.linux!.seccomp = {
              defaultAction: 'SCMP_ACT_ERRNO',
              syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
            };
            c.process!.noNewPrivileges = nnp;
          }),
          opts,
          host,
        ),
      );
    const off = withFilter(false);
    assert.ok(
      off.indexOf('CLOSE_FDS') < off.indexOf('SECCOMP') && off.indexOf('SECCOMP') < off.indexOf('CAP_BOUNDING'),
    );
    const on = withFilter(true);
    assert.ok(
      on.indexOf('NO_NEW_PRIVS') < on.indexOf('SECCOMP') &&
        on.indexOf('RESOLVE_EXEC') < on.indexOf('SECCOMP') &&
        on.indexOf('SECCOMP') < on.indexOf('READY'),
    );
  });

  it('without a mount namespace: no mounts at all (they would land on the host), a warning, and chroot without moving the rootfs', () => {
    warnings.length = 0;
    const ops = buildCreatePlan(
      spec((c) => {
        c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'mount');
        c.linux!.maskedPaths = [];
        c.linux!.readonlyPaths = [];
        c.root!.readonly = false;
      }),
      opts,
      host,
    );
    const n = names(ops);
    assert.ok(!n.includes('MOUNT') && !n.includes('MKNOD') && !n.includes('PIVOT_ROOT'));
    assert.ok(lines(ops).includes('CHROOT(0)'));
    assert.match(warnings.join('\n'), /mounts skipped: there is no mount namespace/);
  });

  it("shared root propagation is applied before the root switch (the rootfs's own mount made private) and after; unbindable after; private or slave before", () => {
    const at = (p: NonNullable<NonNullable<RuntimeConfig['linux']>['rootfsPropagation']>) => {
      const l = lines(
        buildCreatePlan(
          spec((c) => (c.linux!.rootfsPropagation = p)),
          opts,
          host,
        ),
      );
      const first = l.findIndex((x) => x.startsWith('MOUNT("", "/"'));
      return {
        first: l[first],
        next: l[first + 1]?.startsWith('MOUNT("", "/srv"') ? l[first + 1] : undefined,
        after: l.slice(l.indexOf('PIVOT_ROOT()') + 1).find((x) => x.startsWith('MOUNT("", "/"')),
      };
    };
    // A bind of the host's shared mount stays in the host's peer group only if / was never made a slave.
    assert.deepEqual(at('rshared'), {
      first: 'MOUNT("", "/", "", 0x104000, "", 0)',
      next: 'MOUNT("", "/srv", "", 0x40000, "", 0)',
      after: 'MOUNT("", "/", "", 0x104000, "", 0)',
    });
    assert.deepEqual(at('runbindable'), {
      first: 'MOUNT("", "/", "", 0x84000, "", 0)',
      next: undefined,
      after: 'MOUNT("", "/", "", 0x24000, "", 0)',
    });
    assert.deepEqual(at('private'), { first: 'MOUNT("", "/", "", 0x40000, "", 0)', next: undefined, after: undefined });
  });

  it('a cwd other than / is made (0755, in root) after the mounts and before the root switch', () => {
    const l = lines(
      buildCreatePlan(
        spec((c) => (c.process!.cwd = '/work/dir/')),
        opts,
        host,
      ),
    );
    const mk = l.indexOf('MKDIR("/work/dir", 0x1ed)');
    assert.ok(mk > l.findLastIndex((x) => x.startsWith('MOUNT(')) && mk < l.indexOf('PIVOT_ROOT()'), l.join('\n'));
    assert.ok(!lines(buildCreatePlan(spec(), opts, host)).some((x) => x.startsWith('MKDIR("/"')), 'not for /');
  });

  it('the cwd is checked before an early seccomp filter (which may deny getcwd), and chdir is repeated as the user', () => {
    const l = lines(
      buildCreatePlan(
        spec((c) => {
          c.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' };
          c.process!.noNewPrivileges = false;
        }),
        opts,
        host,
      ),
    );
    const first = l.indexOf('CHDIR("/", 1)');
    assert.ok(
      first >= 0 &&
        first < l.findIndex((x) => x.startsWith('SECCOMP')) &&
        l.indexOf('CHDIR("/", 0)') > l.findIndex((x) => x.startsWith('USER')),
    );
  });

  it('a mountLabel is ignored with a warning where SELinux is off, refused where it is on', () => {
    warnings.length = 0;
    buildCreatePlan(
      spec((c) => (c.linux!.mountLabel = 'system_u:object_r:x:s0')),
      opts,
      host,
    );
    assert.match(warnings.join('\n'), /mountLabel: ignored: SELinux is not enabled/);
    assert.throws(
      () =>
        buildCreatePlan(
          spec((c) => (c.linux!.mountLabel = 'x')),
          opts,
          { ...host, selinuxEnabled: () => true },
        ),
      /mountLabel: SELinux labels are not supported/,
    );
  });
});
