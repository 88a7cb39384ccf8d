// Black-box namespace suite: each namespace type the spec names, user namespaces with id mappings,
// and joining another container's namespaces by path. Runs once per runtime in BERTH_TEST_RUNTIMES.
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { namespaceMissing } from '../lib/host.ts';
import { assertFails, assertOk, describeRuntimes } from '../lib/runtime.ts';
import type { NamespaceType, SpecNamespace } from '../lib/spec.ts';

const sh = (script: string) => ['sh', '-c', script];

/** The names under /proc/<pid>/ns for each spec namespace type. */
const PROC_NS: Record<NamespaceType, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

const ALL: NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup'];

/** A script printing `<type> <readlink of /proc/self/ns/...>` for each type. */
function printNamespaces(types: NamespaceType[]): string {
  return types.map((t) => `echo ${t} $(readlink /proc/self/ns/${PROC_NS[t]})`).join('; ');
}

function parseNamespaces(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.trim().split('\n')) {
    const [type, link] = line.split(' ');
    if (type && link) m.set(type, link);
  }
  return m;
}

const hostNs = (t: NamespaceType, pid: number | 'self' = 'self') => readlinkSync(`/proc/${pid}/ns/${PROC_NS[t]}`);

describeRuntimes('runtime namespaces', (_rt, it) => {
  it("every configured namespace is new; every other one is the host's", async (s) => {
    // Two containers: one with all of them, one with only pid + mount (the least a runtime needs).
    const full = s.id('full');
    const all: SpecNamespace[] = ALL.map((type) => ({ type }));
    const b1 = s.bundle({ args: sh(printNamespaces(ALL)), namespaces: all });
    const got = parseNamespaces(await s.runToExit(full, b1));
    for (const t of ALL) {
      assert.ok(got.get(t), `container printed no ${t} namespace: ${[...got]}`);
      assert.notEqual(got.get(t), hostNs(t), `${t} namespace must be new`);
    }
    const few = s.id('few');
    const b2 = s.bundle({ runtimeSpec: 'minimal', args: sh(printNamespaces(ALL)) });
    const got2 = parseNamespaces(await s.runToExit(few, b2));
    for (const t of ['pid', 'mount'] as const) assert.notEqual(got2.get(t), hostNs(t), `${t} namespace must be new`);
    for (const t of ['network', 'ipc', 'uts', 'cgroup'] as const) {
      assert.equal(got2.get(t), hostNs(t), `${t} namespace was not configured: it must be the host's`);
    }
  });

  it(
    "no namespaces at all: create and start run the process in the host's namespaces, chrooted into the rootfs",
    async (s) => {
      // Without a mount namespace nothing can be mounted without touching the host: the config has no
      // mounts, masked or read-only paths (the runtime-tools suite's linux_ns_itype case). There is no
      // /proc inside, so the namespaces are read from the host, through the container's pid.
      const b = s.bundle({
        args: sh('ls /ROOTFS_MARKER; exec sleep 30'),
        namespaces: [],
        hostname: null,
        readonlyRoot: false,
        edit: (spec) => {
          spec.mounts = [];
          spec.linux.maskedPaths = [];
          spec.linux.readonlyPaths = [];
        },
      });
      const id = s.id('none');
      assertOk(s.create(id, b), 'create without namespaces');
      assertOk(s.start(id), 'start without namespaces');
      const { pid } = await s.waitStatus(id, 'running');
      for (const t of ALL)
        assert.equal(hostNs(t, pid), hostNs(t), `${t}: with no namespaces configured it must be the host's`);
      assert.equal(readlinkSync(`/proc/${pid}/root`), b.rootfs, 'the process is chrooted into the rootfs');
      assertOk(s.kill(id, 'KILL'), 'kill');
      await s.waitStatus(id, 'stopped');
      assert.match(s.readOut(id), /^\/ROOTFS_MARKER$/m);
    },
    {
      skip: {
        runc: "runc 1.1 needs /proc inside the new root to close fds (\"error closing exec fds\"); it passes runtime-tools' linux_ns_itype only by mounting the config's mounts in the host's mount namespace",
        crun: "crun 1.8, like runc, expects the config's mounts (done in the host's mount namespace) to provide /proc",
      },
    },
  );

  it('pid namespace: the container process is pid 1', async (s) => {
    const out = await s.runToExit(s.id(), s.bundle({ args: sh('echo $$; cat /proc/1/cmdline | tr "\\0" " "') }));
    assert.equal(out, '1\nsh -c echo $$; cat /proc/1/cmdline | tr "\\0" " " ');
  });

  it("uts namespace: the hostname is the configured one and the host's is untouched", async (s) => {
    const before = hostname();
    const out = await s.runToExit(s.id(), s.bundle({ hostname: 'berth-uts-test', args: ['hostname'] }));
    assert.equal(out, 'berth-uts-test\n');
    assert.equal(hostname(), before);
  });

  it('network namespace: only the loopback interface', async (s) => {
    const out = await s.runToExit(s.id(), s.bundle({ args: sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '") }));
    assert.equal(out, 'lo\n');
  });

  it("ipc namespace: the host's SysV message queues are not visible", async (s) => {
    // A kernel without SysV IPC (CONFIG_SYSVIPC) has no /proc/sysvipc: the namespace alone is checked.
    const out = await s.runToExit(
      s.id(),
      s.bundle({ args: sh('(tail -n +2 /proc/sysvipc/msg 2>/dev/null || true) | wc -l; readlink /proc/self/ns/ipc') }),
    );
    const [count, link] = out.trim().split('\n');
    assert.equal(count, '0');
    assert.notEqual(link, hostNs('ipc'));
  });

  it('mount namespace: mounts made in the container are not on the host', async (s) => {
    const id = s.id();
    const b = s.bundle({
      args: ['sleep', '30'],
      extraMounts: [{ destination: '/mnt/t', type: 'tmpfs', source: 'tmpfs' }],
    });
    assertOk(s.create(id, b), 'create');
    assertOk(s.start(id), 'start');
    const pid = s.state(id).pid!;
    // The host sees nothing under the bundle; the container's own table has its root and tmpfs.
    const points = (text: string) => text.split('\n').map((l) => l.split(' ')[4] ?? '');
    const host = points(readFileSync('/proc/self/mountinfo', 'utf8'));
    assert.deepEqual(
      host.filter((p) => p.startsWith(b.dir)),
      [],
      'host mountinfo shows mounts under the bundle',
    );
    const inside = points(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
    assert.ok(inside.includes('/mnt/t') && inside.includes('/proc'), `container mountinfo: ${inside}`);
    assert.notEqual(hostNs('mount', pid), hostNs('mount'));
  });

  it('cgroup namespace: the container sees its cgroups as roots', async (s) => {
    const b = s.bundle({
      args: ['cat', '/proc/self/cgroup'],
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'cgroup' }],
    });
    const out = await s.runToExit(s.id(), b);
    const lines = out.trim().split('\n');
    assert.ok(lines.length > 0);
    for (const line of lines) assert.match(line, /^\d+:[^:]*:\/$/, `cgroup line not at its namespace root: ${line}`);
    // Without the namespace, the container's own cgroup path shows.
    const b2 = s.bundle({ args: ['cat', '/proc/self/cgroup'], runtimeSpec: 'minimal' });
    const out2 = await s.runToExit(s.id(), b2);
    assert.ok(out2.includes('/berth-test-'), `without a cgroup namespace the path shows: ${out2}`);
    // Every hierarchy joined, the cgroup2 one of a hybrid host too (berth clones into it).
    for (const line of out2.trim().split('\n')) {
      if (/^\d+:(name=(?!systemd)[^:]*)?:/.test(line) && !line.startsWith('0::')) continue;
      assert.ok(line.includes('/berth-test-'), `a hierarchy the container was not placed in: ${line}\n${out2}`);
    }
  });

  it('user namespace: uid/gid mappings, root inside, unprivileged outside', async (s) => {
    const id = s.id();
    const b = s.bundle({
      readonlyRoot: false,
      args: sh('id; cat /proc/self/uid_map /proc/self/gid_map; echo ready; sleep 30'),
      namespaces: [
        { type: 'pid' },
        { type: 'network' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'user' },
      ],
      uidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 300000, size: 65536 }],
    });
    const missing = namespaceMissing('user');
    if (missing) {
      const r = assertFails(s.create(id, b), `create with a user namespace where ${missing}`);
      if (s.rt.kind === 'berth') assert.match(r.stderr, /user namespace|CLONE/, r.stderr);
      return;
    }
    assertOk(s.create(id, b), 'create');
    assertOk(s.start(id), 'start');
    const out = await s.waitFile(s.outputPaths(id).out, (o) => o.includes('ready'));
    const lines = out.trim().split('\n');
    assert.equal(lines[0], 'uid=0(root) gid=0(root)');
    assert.deepEqual(lines[1]?.trim().split(/\s+/), ['0', '200000', '65536']);
    assert.deepEqual(lines[2]?.trim().split(/\s+/), ['0', '300000', '65536']);
    const pid = s.state(id).pid!;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+200000\s+200000\s+200000\s+200000$/m);
    assert.match(status, /^Gid:\s+300000\s+300000\s+300000\s+300000$/m);
    assert.notEqual(hostNs('user', pid), hostNs('user'));
  });

  it(
    'time namespace: offsets apply inside',
    async (s) => {
      const b = s.bundle({
        args: sh('cut -d. -f1 /proc/uptime; readlink /proc/self/ns/time'),
        namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'time' }],
        edit: (spec) => {
          spec.linux.timeOffsets = {
            boottime: { secs: 864000000, nanosecs: 0 },
            monotonic: { secs: 864000000, nanosecs: 0 },
          };
        },
      });
      const missing = namespaceMissing('time');
      if (missing) {
        const r = assertFails(s.create(s.id(), b), `create with a time namespace where ${missing}`);
        if (s.rt.kind === 'berth')
          assert.match(r.stderr, /linux\.namespaces\[2\]\.type: this kernel has no time namespaces/, r.stderr);
        return;
      }
      const out = await s.runToExit(s.id(), b);
      const [uptime, link] = out.trim().split('\n');
      assert.ok(Number(uptime) >= 864000000, `uptime with a 10000-day boottime offset: ${uptime}`);
      assert.notEqual(link, hostNs('time'));
    },
    {
      skip: {
        runc: 'runc 1.1 has no time namespace support (added in runc 1.2)',
        crun: 'crun 1.8.1 cannot start a container with a time namespace here, even without offsets ("write to sync socket: Broken pipe")',
      },
    },
  );

  it('an unknown namespace type is rejected', (s) => {
    s.control({ namespaces: [{ type: 'pid' }, { type: 'mount' }] }, 'pid and mount namespaces');
    const id = s.id();
    const b = s.bundle({
      args: ['true'],
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'bogus' as NamespaceType }],
    });
    assertFails(s.create(id, b), 'create with namespace type "bogus"');
  });

  it("joins another container's network, uts and ipc namespaces by path", async (s) => {
    const a = s.id('a');
    const ba = s.bundle({ hostname: 'berth-ns-a', args: ['sleep', '60'] });
    assertOk(s.create(a, ba), 'create a');
    assertOk(s.start(a), 'start a');
    const pidA = s.state(a).pid!;
    const joined: NamespaceType[] = ['network', 'uts', 'ipc'];
    const b = s.id('b');
    const bb = s.bundle({
      args: sh(`${printNamespaces(['network', 'uts', 'ipc', 'pid', 'mount'])}; echo host $(hostname)`),
      namespaces: [
        { type: 'pid' },
        { type: 'mount' },
        ...joined.map((type) => ({ type, path: `/proc/${pidA}/ns/${PROC_NS[type]}` })),
      ],
      hostname: null,
    });
    const got = parseNamespaces(await s.runToExit(b, bb));
    for (const t of joined) assert.equal(got.get(t), hostNs(t, pidA), `${t}: B must be in A's namespace`);
    for (const t of ['pid', 'mount'] as const) assert.notEqual(got.get(t), hostNs(t, pidA), `${t}: B has its own`);
    assert.equal(got.get('host'), 'berth-ns-a');
  });

  it('joining a namespace path that does not exist fails', (s) => {
    s.control(
      { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: `/proc/${process.pid}/ns/net` }] },
      "joining the test process's network namespace",
    );
    const id = s.id();
    const b = s.bundle({
      args: ['true'],
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: '/proc/999999999/ns/net' }],
    });
    assertFails(s.create(id, b), 'create joining /proc/999999999/ns/net');
  });
});
