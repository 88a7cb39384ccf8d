// berth-runtime's native front (native/front, docs/native.md): the plan-free verbs run without
// Node. A copy of dist/bin/berth-runtime alone in an empty directory has no Node bundle beside it,
// so any verb it handed to Node would fail: driving a container through start, state, kill,
// delete, list, pause, resume and ps with that copy proves they are native. Their output is
// compared byte for byte with the Node verbs' (dist/bin/berth-runtime-node), and the cases the
// front leaves to Node are shown to reach it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertFails,
  assertOk,
  BERTH_RUNTIME,
  cgroupDirs,
  isLive,
  REPO_ROOT,
  resolveRuntime,
  type RunResult,
  type RuntimeSession,
  runtimeEnv,
  runtimeTest,
} from '../lib/runtime.ts';

const NODE_VERBS = join(REPO_ROOT, 'dist/bin/berth-runtime-node');

/** Runs `bin --root <session root> args`. */
function call(bin: string, s: RuntimeSession, args: string[]): RunResult {
  const r = spawnSync(bin, ['--root', s.root, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: runtimeEnv(),
  });
  if (r.error) throw new Error(`${bin} ${args.join(' ')}: ${r.error.message}`);
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
    command: `${bin} ${args.join(' ')}`,
  };
}

/** The front, copied alone into the session's work dir. */
function loneFront(s: RuntimeSession): string {
  const dir = s.path('lone', true);
  const bin = join(dir, 'berth-runtime');
  copyFileSync(BERTH_RUNTIME, bin);
  return bin;
}

const berth = resolveRuntime('berth');

describe('berth-runtime native front', () => {
  runtimeTest(
    berth,
    'start, state, list, pause, resume, ps, kill and delete run without Node, printing what the Node verbs print',
    async (s) => {
      const lone = loneFront(s);
      const hooks = s.path('hooks', true);
      const hook = (name: string) => ({
        path: '/bin/sh',
        args: ['sh', '-c', `cat > ${hooks}/${name}.json`],
        env: ['PATH=/usr/bin:/bin'],
      });
      const b = s.bundle({
        args: ['sleep', '60'],
        annotations: { 'org.berth.test': 'a "quoted"\nvalue', '7': 'seven' },
        hooks: { poststart: [hook('poststart')], poststop: [hook('poststop')] },
      });
      const id = s.id();
      assertOk(s.create(id, b), 'create (the full berth-runtime)');

      const state = assertOk(call(lone, s, ['state', id]), 'state');
      assert.equal(state.stdout, assertOk(call(NODE_VERBS, s, ['state', id]), 'state through Node').stdout);
      const created = JSON.parse(state.stdout) as { status: string; pid: number; annotations: Record<string, string> };
      assert.equal(created.status, 'created');
      assert.deepEqual(created.annotations, { 'org.berth.test': 'a "quoted"\nvalue', '7': 'seven' });
      for (const args of [['list'], ['list', '--format', 'json'], ['list', '-q']]) {
        assert.equal(
          assertOk(call(lone, s, args), args.join(' ')).stdout,
          assertOk(call(NODE_VERBS, s, args), `${args.join(' ')} through Node`).stdout,
          args.join(' '),
        );
      }

      assertOk(call(lone, s, ['start', id]), 'start');
      assert.equal(JSON.parse(call(lone, s, ['state', id]).stdout).status, 'running');
      assertFails(call(lone, s, ['start', id]), 'start of a running container');
      const poststart = JSON.parse(readFileSync(join(hooks, 'poststart.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(poststart['status'], 'running');
      assert.equal(poststart['pid'], created.pid);

      assertOk(call(lone, s, ['pause', id]), 'pause');
      assert.equal(JSON.parse(call(lone, s, ['state', id]).stdout).status, 'paused');
      assert.equal(call(lone, s, ['state', id]).stdout, call(NODE_VERBS, s, ['state', id]).stdout);
      assertFails(call(lone, s, ['pause', id]), 'pause of a paused container');
      assertOk(call(lone, s, ['resume', id]), 'resume');
      assert.equal(JSON.parse(call(lone, s, ['state', id]).stdout).status, 'running');

      assert.equal(
        assertOk(call(lone, s, ['ps', '--format', 'json', id]), 'ps --format json').stdout,
        `[${created.pid}]\n`,
      );
      assert.equal(
        assertOk(call(lone, s, ['ps', id]), 'ps').stdout,
        assertOk(call(NODE_VERBS, s, ['ps', id]), 'ps through Node').stdout,
      );

      assertOk(call(lone, s, ['kill', id, 'CONT']), 'kill CONT');
      assert.equal(JSON.parse(call(lone, s, ['state', id]).stdout).status, 'running');
      assertFails(call(lone, s, ['delete', id]), 'delete of a running container');
      assertOk(call(lone, s, ['kill', '--all', id, 'KILL']), 'kill --all KILL');
      const deadline = Date.now() + 5000;
      while (isLive(created.pid) && Date.now() < deadline) await sleep(20);
      assert.equal(JSON.parse(call(lone, s, ['state', id]).stdout).status, 'stopped');
      assertFails(call(lone, s, ['kill', id, 'KILL']), 'kill of a stopped container');

      assertOk(call(lone, s, ['delete', id]), 'delete');
      assert.ok(!existsSync(join(s.root, id)), 'delete removes the state directory');
      for (const dir of cgroupDirs(b.spec.linux.cgroupsPath!)) assert.ok(!existsSync(dir), `delete removes ${dir}`);
      const poststop = JSON.parse(readFileSync(join(hooks, 'poststop.json'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual([poststop['id'], poststop['status'], poststop['pid']], [id, 'stopped', 0]);
      const gone = assertFails(call(lone, s, ['state', id]), 'state after delete');
      assert.equal(gone.stderr, `berth-runtime: container ${id} does not exist\n`);
      assertOk(call(lone, s, ['delete', '--force', id]), 'delete --force of a missing container');
    },
  );

  runtimeTest(berth, 'errors and warnings are logged as the Node verbs log them (--log, --log-format json)', (s) => {
    const lone = loneFront(s);
    const id = s.id('missing');
    const logs = { front: s.path('front.log'), node: s.path('node.log') };
    const r = assertFails(
      call(lone, s, ['--log', logs.front, '--log-format', 'json', 'kill', id, 'KILL']),
      'kill of a missing container',
    );
    const n = assertFails(
      call(NODE_VERBS, s, ['--log', logs.node, '--log-format', 'json', 'kill', id, 'KILL']),
      'the same through Node',
    );
    assert.equal(r.status, n.status);
    assert.equal(r.stderr, n.stderr);
    const line = (file: string) => {
      const { level, msg, time, ...rest } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      assert.match(time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      return { level, msg, rest };
    };
    assert.deepEqual(line(logs.front), line(logs.node));

    // A failing poststop hook is a warning, worded as the Node verb words it; the delete succeeds.
    const hook = { path: '/bin/sh', args: ['sh', '-c', 'echo no-luck >&2; exit 3'] };
    const warnings: string[] = [];
    for (const [bin, file] of [
      [lone, s.path('front-hook.log')],
      [NODE_VERBS, s.path('node-hook.log')],
    ] as const) {
      const cid = s.id();
      assertOk(s.create(cid, s.bundle({ args: ['true'], hooks: { poststop: [hook] } })), 'create');
      assertOk(
        call(bin, s, ['--log', file, '--log-format', 'json', 'delete', '--force', cid]),
        'delete with a failing poststop hook',
      );
      const w = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').at(-1)!) as Record<string, string>;
      assert.equal(w['level'], 'warning');
      warnings.push(w['msg']!);
    }
    assert.equal(warnings[0], 'poststop hook #0 (/bin/sh): exit status 3: no-luck');
    assert.equal(warnings[0], warnings[1]);
  });

  runtimeTest(
    berth,
    'started with stdout or stderr closed, the front neither loses its output nor writes it into a file it opened',
    (s) => {
      const lone = loneFront(s);
      const id = s.id();
      assertOk(s.create(id, s.bundle({ args: ['sleep', '60'] })), 'create');
      const closed = (redirect: string, args: string[]) =>
        spawnSync('sh', ['-c', `exec ${redirect}; exec "$0" "$@"`, lone, '--root', s.root, ...args], {
          encoding: 'utf8',
          timeout: 30_000,
          env: runtimeEnv(),
        });
      const st = closed('>&-', ['state', id]);
      assert.equal(st.status, 0, `state with stdout closed: ${st.stderr}`);
      const log = s.path('closed-stderr.log');
      const missing = closed('2>&-', ['--log', log, '--log-format', 'json', 'state', s.id('missing')]);
      assert.equal(missing.status, 1);
      for (const line of readFileSync(log, 'utf8').trim().split('\n'))
        assert.doesNotThrow(() => JSON.parse(line), `a log line that is not JSON: ${line}`);
    },
  );

  runtimeTest(berth, 'what the front does not handle goes to the Node bundle beside it', (s) => {
    const lone = loneFront(s);
    const id = s.id();
    assertOk(s.create(id, s.bundle({ args: ['sleep', '60'] })), 'create');
    // Alone, the front has no Node bundle to hand these to: each fails naming it.
    const missing = /cannot run .*berth-runtime-node \(the Node part of berth-runtime, for this command\)/;
    for (const args of [
      ['--version'],
      ['events', '--stats', id],
      ['kill', id, 'RTMIN+1'],
      ['state', 'bad/id'],
      ['state', 'a+b'],
      ['state', 'x'.repeat(129)],
      ['delete', '--no-such-flag', id],
    ]) {
      assert.match(assertFails(call(lone, s, args), args.join(' ')).stderr, missing, args.join(' '));
    }
    assertOk(call(BERTH_RUNTIME, s, ['--version']), '--version with the Node bundle beside the front');
    assertOk(call(BERTH_RUNTIME, s, ['events', '--stats', id]), 'events --stats with the Node bundle beside the front');
    assert.match(
      assertFails(call(BERTH_RUNTIME, s, ['state', 'bad/id']), 'state of an invalid id').stderr,
      /container id "bad\/id": expected 1-128 characters/,
    );
    assert.match(
      assertFails(call(BERTH_RUNTIME, s, ['delete', '--no-such-flag', id]), 'an unknown flag').stderr,
      /flag provided but not defined: -no-such-flag/,
    );
    // A verbs file cut short (no end record) is not used: Node reads state.json instead.
    const verbs = join(s.root, id, 'verbs');
    truncateSync(verbs, readFileSync(verbs).length - 4);
    assert.match(assertFails(call(lone, s, ['state', id]), 'state with a torn verbs file').stderr, missing);
    assert.equal(
      JSON.parse(assertOk(call(BERTH_RUNTIME, s, ['state', id]), 'state through Node').stdout).status,
      'created',
    );
    // A directory without state.json (a create cut short) is removed by delete, natively.
    const aborted = s.id('aborted');
    mkdirSync(join(s.root, aborted));
    writeFileSync(join(s.root, aborted, 'exec.fifo'), '');
    assertOk(call(lone, s, ['delete', aborted]), 'delete of an aborted create');
    assert.ok(!existsSync(join(s.root, aborted)));
  });
});
