// Black-box hook suite: every hook type runs once, in the spec's order, with the state JSON on stdin;
// a hook that fails or outlives its timeout fails the create. Runs per runtime in BERTH_TEST_RUNTIMES.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertFails, assertOk, describeRuntimes, type RuntimeSession } from '../lib/runtime.ts';
import type { HookName, SpecHook, SpecHooks } from '../lib/spec.ts';

const HOOKS: HookName[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

/**
 * A hook that appends its name to <dir>/log and saves its stdin as <dir>/<name>.json.
 * createContainer and startContainer run in the container's namespaces (startContainer after the
 * root change), so each hook writes to the host dir when it sees it, else to its bind mount.
 */
function loggingHook(name: HookName, dir: string): SpecHook {
  const script = `d=${dir}; [ -d "$d" ] || d=/hooklog; cat > "$d/${name}.json"; echo ${name}$BERTH_HOOK_SUFFIX >> "$d/log"`;
  return { path: '/bin/sh', args: ['sh', '-c', script], env: ['BERTH_HOOK_SUFFIX=', 'PATH=/usr/bin:/bin'] };
}

function hookBundle(s: RuntimeSession, hooks: SpecHooks, dir: string, args: string[]) {
  return s.bundle({
    args,
    hooks,
    extraMounts: [{ destination: '/hooklog', type: 'bind', source: dir, options: ['rbind', 'rw'] }],
  });
}

const readLog = (dir: string) =>
  existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').trim().split('\n') : [];

describeRuntimes('runtime hooks', (rt, it) => {
  it('every hook runs once, in order, with the state on stdin', async (s) => {
    const dir = s.path('hooks', true);
    const hooks: SpecHooks = {};
    for (const h of HOOKS) hooks[h] = [loggingHook(h, dir)];
    const b = hookBundle(s, hooks, dir, ['sh', '-c', 'echo process >> /hooklog/log']);
    const id = s.id();
    assertOk(s.create(id, b), 'create');
    // The spec runs poststart after the user process starts. runc 1.1 runs it at create (fixed in
    // runc 1.2); the suite follows the spec and tolerates only runc's known deviation.
    const runcEarlyPoststart = rt.kind === 'runc';
    assert.deepEqual(
      readLog(dir),
      ['prestart', 'createRuntime', 'createContainer', ...(runcEarlyPoststart ? ['poststart'] : [])],
      'hooks run by create',
    );
    const pid = s.state(id).pid;
    assertOk(s.start(id), 'start');
    await s.waitStatus(id, 'stopped');
    // poststart runs after the user process started; the two may finish in either order.
    await s.waitFile(
      join(dir, 'log'),
      (l) => l.includes('startContainer') && l.includes('poststart') && l.includes('process'),
    );
    // poststart must follow startContainer (which precedes the user process). crun 1.8 runs it as
    // soon as it released the process, racing the startContainer hook: only its presence is checked.
    const racyPoststart = runcEarlyPoststart || rt.kind === 'crun';
    const afterStart = readLog(dir);
    const ordered = afterStart.filter((l) => !(racyPoststart && l === 'poststart'));
    assert.deepEqual(
      ordered.slice(0, 5).filter((l) => l !== 'poststart' && l !== 'process'),
      ['prestart', 'createRuntime', 'createContainer', 'startContainer'],
    );
    assert.ok(
      ordered.indexOf('process') > ordered.indexOf('startContainer'),
      `startContainer before the process: ${afterStart}`,
    );
    if (!racyPoststart) {
      assert.ok(
        afterStart.indexOf('poststart') > afterStart.indexOf('startContainer'),
        `poststart after startContainer: ${afterStart}`,
      );
    }
    assert.equal(afterStart.filter((l) => l === 'poststart').length, 1, `poststart runs once: ${afterStart}`);
    assert.equal(afterStart.length, 6, `after start: ${afterStart}`);
    assertOk(s.delete(id), 'delete');
    assert.equal(readLog(dir).at(-1), 'poststop', 'poststop runs at delete, last');
    assert.equal(readLog(dir).length, 7);
    for (const h of HOOKS) {
      const state = JSON.parse(readFileSync(join(dir, `${h}.json`), 'utf8')) as Record<string, unknown>;
      const what = (field: string) => `${h}: state.${field} in ${JSON.stringify(state)}`;
      assert.equal(state['id'], id, what('id'));
      assert.equal(typeof state['ociVersion'], 'string', what('ociVersion'));
      if (h === 'poststop') continue;
      // The spec wants the host's view in every hook. For the hooks run inside the container the
      // oracles differ: runc 1.1 passes pid 1 (the container's view), crun 1.8 pid 0 and bundle "/".
      const inside = h === 'createContainer' || h === 'startContainer';
      if (inside && rt.kind === 'runc') assert.ok(state['pid'] === pid || state['pid'] === 1, what('pid'));
      else if (inside && rt.kind === 'crun') assert.ok(state['pid'] === pid || state['pid'] === 0, what('pid'));
      else assert.equal(state['pid'], pid, what('pid'));
      if (!(inside && rt.kind === 'crun')) assert.equal(state['bundle'], b.dir, what('bundle'));
    }
  });

  it('several hooks of one type run in the order listed, with their args and env', (s) => {
    const dir = s.path('hooks', true);
    const mk = (n: number): SpecHook => ({
      path: '/bin/sh',
      args: ['sh', '-c', `echo "$0 $1 $BERTH_HOOK_VAR" >> ${dir}/log`, `hook${n}`, `arg${n}`],
      env: [`BERTH_HOOK_VAR=env${n}`],
    });
    const b = hookBundle(s, { createRuntime: [mk(1), mk(2), mk(3)] }, dir, ['true']);
    assertOk(s.create(s.id(), b), 'create');
    assert.deepEqual(readLog(dir), ['hook1 arg1 env1', 'hook2 arg2 env2', 'hook3 arg3 env3']);
  });

  it('a hook that outlives its timeout fails the create, which leaves no container', (s) => {
    const dir = s.path('hooks', true);
    s.control(
      { hooks: { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '0.1'], timeout: 5 }] } },
      'a hook within its timeout',
    );
    const b = hookBundle(s, { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }] }, dir, [
      'true',
    ]);
    const id = s.id();
    const t0 = Date.now();
    assertFails(s.create(id, b), 'create with a hook timing out');
    assert.ok(Date.now() - t0 < 8000, `create took ${Date.now() - t0} ms: the 1 s hook timeout was not enforced`);
    const r = s.exec(['state', id]);
    if (r.status === 0)
      assert.notEqual(JSON.parse(r.stdout).status, 'created', 'a failed create must not leave a created container');
  });

  it('a hook that exits non-zero fails the create; the user program never runs', (s) => {
    const dir = s.path('hooks', true);
    s.control({ hooks: { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 0'] }] } }, 'a hook that exits 0');
    const b = hookBundle(s, { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 3'] }] }, dir, [
      'sh',
      '-c',
      'echo ran > /hooklog/ran',
    ]);
    const id = s.id();
    assertFails(s.create(id, b), 'create with a failing prestart hook');
    assert.ok(!existsSync(join(dir, 'ran')));
  });

  it('a hook path that does not exist fails the create', (s) => {
    const dir = s.path('hooks', true);
    s.control({ hooks: { createRuntime: [{ path: '/bin/true' }] } }, 'a hook that exists');
    const b = hookBundle(s, { createRuntime: [{ path: '/berth/no/such/hook' }] }, dir, ['true']);
    assertFails(s.create(s.id(), b), 'create with a missing hook binary');
  });
});
