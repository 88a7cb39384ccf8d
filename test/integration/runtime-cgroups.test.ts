// Black-box cgroup placement and the container's view of /sys/fs/cgroup, per runtime in
// BERTH_TEST_RUNTIMES (runc is the oracle): without linux.cgroupsPath a container nests under the
// cgroup its runtime was started in (so it cannot escape the caller's limits), and delete removes
// only what create made; a `cgroup` mount shows the v1 hierarchies on a hybrid host (not its
// controller-less cgroup2) and cgroup2 on a unified one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeRuntimes, runtimeEnv } from '../lib/runtime.ts';

const CG = '/sys/fs/cgroup';
const unifiedHost = existsSync(join(CG, 'cgroup.controllers'));

/** The host directory of a /proc/<pid>/cgroup line's hierarchy ("memory", "cpu,cpuacct", "name=systemd", "" for cgroup2). */
function hierarchyRoot(controllers: string): string | undefined {
  if (controllers === '') return unifiedHost ? CG : existsSync(join(CG, 'unified')) ? join(CG, 'unified') : undefined;
  const name = controllers.startsWith('name=') ? controllers.slice(5) : controllers;
  return existsSync(join(CG, name)) ? join(CG, name) : undefined;
}

/** `/proc/<pid>/cgroup` text as hierarchy → path, for the hierarchies a runtime places containers in. */
function cgroupLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.trim().split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    // Named v1 hierarchies other than systemd's are nobody's to place a container in.
    if (m[1]!.startsWith('name=') && m[1] !== 'name=systemd') continue;
    out.set(m[1]!, m[2]!);
  }
  return out;
}

describeRuntimes('runtime cgroups', (rt, it) => {
  it("no linux.cgroupsPath: the container nests under the caller's cgroup, and delete leaves the caller's cgroup alone", (s) => {
    // The caller: a cgroup of its own in the pids hierarchy, with a limit the container must stay under.
    const pidsRoot = unifiedHost ? CG : join(CG, 'pids');
    assert.ok(existsSync(pidsRoot), `no pids hierarchy at ${pidsRoot}`);
    const callerName = `berth-test-caller-${randomBytes(4).toString('hex')}`;
    const caller = join(pidsRoot, callerName);
    mkdirSync(caller);
    try {
      if (existsSync(join(caller, 'pids.max'))) writeFileSync(join(caller, 'pids.max'), '200');
      const id = s.id();
      const b = s.bundle({ args: ['cat', '/proc/self/cgroup'], cgroupsPath: undefined });
      const ownFile = s.path('caller-cgroup');
      // A shell moves itself into the caller's cgroup, notes where it is, and becomes the runtime.
      const [bin, ...pre] = rt.argv;
      const r = spawnSync(
        'sh',
        [
          '-c',
          `echo $$ > ${caller}/cgroup.procs && cat /proc/self/cgroup > ${ownFile} && exec "$@"`,
          'sh',
          bin!,
          ...pre,
          '--root',
          s.root,
          'run',
          '--bundle',
          b.dir,
          id,
        ],
        {
          encoding: 'utf8',
          timeout: 30_000,
          env: runtimeEnv(),
        },
      );
      assert.equal(r.status, 0, `${rt.name} run from ${callerName}: ${r.stderr}`);
      const own = cgroupLines(readFileSync(ownFile, 'utf8'));
      const inside = cgroupLines(r.stdout);
      assert.equal(own.get(unifiedHost ? '' : 'pids'), `/${callerName}`, 'the caller is in its cgroup');
      assert.ok(inside.size > 0, r.stdout);
      for (const [h, path] of inside) {
        const base = own.get(h);
        assert.ok(base !== undefined, `hierarchy ${h} of the container is not the caller's: ${r.stdout}`);
        if (path === base) continue; // a hierarchy the runtime does not place containers in (crun's v1 named ones, say)
        assert.equal(
          path,
          `${base === '/' ? '' : base}/${id}`,
          `hierarchy ${h || 'cgroup2'}: below the caller's ${base}`,
        );
      }
      assert.equal(inside.get(unifiedHost ? '' : 'pids'), `/${callerName}/${id}`, "under the caller's pids limit");
      // `run` deleted the container: its cgroups are gone, the caller's are all still there.
      for (const [h, path] of inside) {
        const root = hierarchyRoot(h);
        if (!root || path === own.get(h)) continue;
        assert.equal(existsSync(join(root, path)), false, `${rt.name} left ${join(root, path)}`);
      }
      assert.ok(existsSync(caller), "the caller's own cgroup was not removed");
      for (const [h, path] of own) {
        const root = hierarchyRoot(h);
        if (root && path !== '/')
          assert.ok(existsSync(join(root, path)), `the caller's ${join(root, path)} is still there`);
      }
    } finally {
      // The shell has exited: its cgroup is empty and goes (children first, should a runtime have left one).
      for (const d of existsSync(caller) ? readdirSync(caller, { withFileTypes: true }) : [])
        if (d.isDirectory()) rmdirSync(join(caller, d.name));
      if (existsSync(caller)) rmdirSync(caller);
    }
  });

  it('a cgroup mount shows the v1 hierarchies on a hybrid host (no cgroup2), cgroup2 on a unified one', async (s) => {
    const b = s.bundle({ args: ['sh', '-c', 'cat /proc/self/mountinfo; echo ===; ls /sys/fs/cgroup'] });
    assert.ok(
      b.spec.mounts.some((m) => m.type === 'cgroup'),
      'the bundle mounts cgroup',
    );
    const out = await s.runToExit(s.id(), b);
    const [mountinfo = '', ls = ''] = out.split('===\n');
    const cgroupFs = mountinfo
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => (f[4] ?? '').startsWith('/sys/fs/cgroup'))
      .map((f) => `${f[4]} ${f[f.indexOf('-') + 1]}`);
    if (unifiedHost) {
      assert.ok(cgroupFs.includes('/sys/fs/cgroup cgroup2'), cgroupFs.join('\n'));
      return;
    }
    assert.deepEqual(
      cgroupFs.filter((l) => l.endsWith(' cgroup2')),
      [],
      `no cgroup2 in the container:\n${cgroupFs.join('\n')}`,
    );
    assert.ok(!ls.split('\n').includes('unified'), `no unified directory: ${ls}`);
    assert.ok(
      cgroupFs.some((l) => l.endsWith(' cgroup')),
      `the v1 hierarchies are there: ${cgroupFs.join('\n')}`,
    );
  });
});
