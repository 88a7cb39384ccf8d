// Black-box suite for process settings: capabilities (read from /proc/self/status inside),
// rlimits, user and additional groups, env, cwd, noNewPrivileges, umask. Runs per runtime.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertFails, describeRuntimes } from '../lib/runtime.ts';
import { capMask, DEFAULT_CAPS } from '../lib/spec.ts';

const sh = (script: string) => ['sh', '-c', script];

/** The Cap* and NoNewPrivs lines of /proc/self/status, as a record. */
function parseStatus(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^(Cap\w+|NoNewPrivs|Uid|Gid|Groups):\s*(.*)$/.exec(line);
    if (m) r[m[1]!] = m[2]!.trim();
  }
  return r;
}

const hex = (mask: bigint) => mask.toString(16).padStart(16, '0');

describeRuntimes('runtime process', (_rt, it) => {
  it("capabilities: runc spec's default set for root (ambient needs inheritable, so it stays empty)", async (s) => {
    const out = await s.runToExit(s.id(), s.bundle({ args: ['cat', '/proc/self/status'] }));
    const st = parseStatus(out);
    const want = hex(capMask(DEFAULT_CAPS));
    assert.equal(st['CapBnd'], want);
    assert.equal(st['CapEff'], want);
    assert.equal(st['CapPrm'], want);
    assert.equal(st['CapInh'], hex(0n));
    assert.equal(st['CapAmb'], hex(0n));
  });

  it('signals: the process starts with none ignored and none blocked, whatever the runtime ignored', async (s) => {
    const out = await s.runToExit(s.id(), s.bundle({ args: ['cat', '/proc/self/status'] }));
    assert.match(out, /^SigIgn:\s*0+$/m, `ignored signals leaked into the container:\n${out}`);
    assert.match(out, /^SigBlk:\s*0+$/m, `blocked signals leaked into the container:\n${out}`);
  });

  it('capabilities: every set as configured for a non-root user, ambient included', async (s) => {
    const caps = ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN', 'CAP_SYS_CHROOT'];
    const b = s.bundle({ args: ['cat', '/proc/self/status'], user: { uid: 1000, gid: 1000 }, capabilities: caps });
    const st = parseStatus(await s.runToExit(s.id(), b));
    const want = hex(capMask(caps));
    for (const set of ['CapBnd', 'CapEff', 'CapPrm', 'CapInh', 'CapAmb']) assert.equal(st[set], want, `${set}`);
  });

  it('capabilities: separate sets are applied separately', async (s) => {
    const b = s.bundle({
      args: ['cat', '/proc/self/status'],
      capabilities: {
        bounding: ['CAP_KILL', 'CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID'],
        effective: ['CAP_KILL', 'CAP_CHOWN'],
        permitted: ['CAP_KILL', 'CAP_CHOWN'],
        inheritable: ['CAP_KILL'],
        ambient: [],
      },
      user: { uid: 1000, gid: 1000 },
    });
    const st = parseStatus(await s.runToExit(s.id(), b));
    assert.equal(st['CapBnd'], hex(capMask(['CAP_KILL', 'CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID'])));
    assert.equal(st['CapInh'], hex(capMask(['CAP_KILL'])));
    // A non-root execve without ambient or file capabilities keeps no permitted or effective ones.
    assert.equal(st['CapPrm'], hex(0n));
    assert.equal(st['CapEff'], hex(0n));
    assert.equal(st['CapAmb'], hex(0n));
  });

  it('capabilities: an empty set drops everything, and a dropped capability is enforced', async (s) => {
    const b = s.bundle({
      readonlyRoot: false,
      args: sh(
        'grep -E "^Cap(Bnd|Eff)" /proc/self/status; chown 1000 /tmp 2>/dev/null && echo chown-ok || echo chown-refused',
      ),
      capabilities: [],
    });
    assert.equal(await s.runToExit(s.id(), b), `CapEff:\t${hex(0n)}\nCapBnd:\t${hex(0n)}\nchown-refused\n`);
  });

  it('an unknown capability name is warned about and ignored', (s) => {
    // Runtime spec 1.2 (config.md, process.capabilities): a capability that cannot be mapped MUST be
    // logged as a warning and SHOULD NOT fail the container; runc 1.1 does the same.
    s.control({ capabilities: ['CAP_KILL'] }, 'capabilities [CAP_KILL]');
    const b = s.bundle({ args: ['true'], capabilities: ['CAP_BERTH_DOES_NOT_EXIST'] });
    const r = s.create(s.id(), b);
    assert.equal(r.status, 0, `create with an unknown capability failed: ${r.stderr}`);
    if (s.rt.kind === 'berth') assert.match(r.stderr, /unknown capability \\?"CAP_BERTH_DOES_NOT_EXIST/);
  });

  it('rlimits: NOFILE soft and hard as configured (below the host hard limit)', async (s) => {
    const b = s.bundle({
      args: sh('ulimit -Sn; ulimit -Hn; ulimit -Sc; ulimit -Hc'),
      rlimits: [
        { type: 'RLIMIT_NOFILE', soft: 1234, hard: 5678 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 2048 },
      ],
    });
    // busybox prints RLIMIT_CORE in 512-byte blocks.
    assert.equal(await s.runToExit(s.id(), b), '1234\n5678\n0\n4\n');
  });

  it('rlimits: raising NOFILE up to the host hard limit (20000 here) works for root', async (s) => {
    const b = s.bundle({ args: sh('ulimit -Hn'), rlimits: [{ type: 'RLIMIT_NOFILE', soft: 4096, hard: 20000 }] });
    assert.equal(await s.runToExit(s.id(), b), '20000\n');
  });

  it('rlimits: an unknown type is rejected', (s) => {
    s.control({ rlimits: [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 100 }] }, 'RLIMIT_NOFILE 100');
    const b = s.bundle({ args: ['true'], rlimits: [{ type: 'RLIMIT_BERTH', soft: 1, hard: 1 }] });
    assertFails(s.create(s.id(), b), 'create with rlimit RLIMIT_BERTH');
  });

  it('user, group and additionalGids', async (s) => {
    const b = s.bundle({
      args: sh('id -u; id -g; id -G; id'),
      user: { uid: 1000, gid: 1000, additionalGids: [100, 1001] },
    });
    const out = await s.runToExit(s.id(), b);
    const [uid, gid, groups, full] = out.trim().split('\n');
    assert.equal(uid, '1000');
    assert.equal(gid, '1000');
    assert.deepEqual(groups?.split(' ').sort(), ['100', '1000', '1001']);
    assert.match(full ?? '', /^uid=1000\(test\) gid=1000\(test\) groups=/);
  });

  it('user without additionalGids has no supplementary groups but its gid', async (s) => {
    const b = s.bundle({ args: sh('grep ^Groups: /proc/self/status; id -u; id -g'), user: { uid: 65534, gid: 65534 } });
    const out = await s.runToExit(s.id(), b);
    assert.match(out, /^Groups:\s*(65534\s*)?\n65534\n65534\n$/);
  });

  it("env: exactly the configured variables reach the process (none of the runtime's)", async (s) => {
    const b = s.bundle({ args: ['env'], env: ['PATH=/bin', 'FOO=bar baz', 'EMPTY=', 'MULTI=a=b=c'] });
    const id = s.id();
    const out = await s.runToExit(id, b);
    const vars = out.trim().split('\n');
    for (const v of ['PATH=/bin', 'FOO=bar baz', 'EMPTY=', 'MULTI=a=b=c'])
      assert.ok(vars.includes(v), `${v} missing from ${vars}`);
    assert.ok(!vars.some((v) => v.startsWith('NODE_') || v.startsWith('BERTH_TEST')), `host env leaked: ${vars}`);
    // runc adds HOME (from /etc/passwd) when the config has none; nothing else may appear.
    const extra = vars.filter((v) => !['PATH=/bin', 'FOO=bar baz', 'EMPTY=', 'MULTI=a=b=c'].includes(v));
    for (const v of extra) assert.match(v, /^HOME=/, `unexpected variable ${v}`);
  });

  it('cwd: the process starts in the configured directory, created if missing', async (s) => {
    const b = s.bundle({ args: ['pwd'], cwd: '/home/test' });
    assert.equal(await s.runToExit(s.id(), b), '/home/test\n');
    // Missing: made 0755 by the container's root (the process runs as 1000), also inside a mount.
    const made = s.bundle({
      args: sh('pwd; stat -c "%A %u:%g %n" /made/by/runtime /made'),
      cwd: '/made/by/runtime',
      user: { uid: 1000, gid: 1000 },
    });
    assert.equal(
      await s.runToExit(s.id(), made),
      '/made/by/runtime\ndrwxr-xr-x 0:0 /made/by/runtime\ndrwxr-xr-x 0:0 /made\n',
    );
    const tmp = s.path('cwd-mount', true);
    const inMount = s.bundle({
      args: ['pwd'],
      cwd: '/mnt/t/sub',
      extraMounts: [{ destination: '/mnt/t', type: 'bind', source: tmp, options: ['bind'] }],
    });
    assert.equal(await s.runToExit(s.id(), inMount), '/mnt/t/sub\n');
    assert.ok(existsSync(join(tmp, 'sub')), 'made in the mount, after it was mounted');
  });

  it(
    'cwd: a relative cwd is rejected',
    (s) => {
      s.control({ cwd: '/home/test' }, 'cwd /home/test');
      const b = s.bundle({ args: ['pwd'], cwd: 'home/test' });
      const id = s.id();
      const r = s.create(id, b);
      // runc 1.1 rejects it at create ("cwd property must be an absolute path"), as the spec requires.
      assertFails(r, 'create with a relative cwd');
    },
    { skip: { crun: 'crun 1.8 accepts a relative cwd' } },
  );

  it('noNewPrivileges true and false', async (s) => {
    const on = s.bundle({ args: sh('grep ^NoNewPrivs: /proc/self/status'), noNewPrivileges: true });
    assert.equal(await s.runToExit(s.id(), on), 'NoNewPrivs:\t1\n');
    const off = s.bundle({ args: sh('grep ^NoNewPrivs: /proc/self/status'), noNewPrivileges: false });
    assert.equal(await s.runToExit(s.id(), off), 'NoNewPrivs:\t0\n');
  });

  it('umask: the configured one, 0022 by default', async (s) => {
    const set = s.bundle({ args: sh('umask'), user: { uid: 0, gid: 0, umask: 0o077 } });
    assert.equal(await s.runToExit(s.id(), set), '0077\n');
    const dflt = s.bundle({ args: sh('umask') });
    assert.equal(await s.runToExit(s.id(), dflt), '0022\n');
  });

  it("args: the executable is looked up in the container's PATH; argv reaches it unchanged", async (s) => {
    const b = s.bundle({ args: ['printf', '%s|', 'a b', '', '$HOME', "'q'"], env: ['PATH=/bin'] });
    assert.equal(await s.runToExit(s.id(), b), "a b||$HOME|'q'|");
  });
});
