// berth-runtime's plan server (docs/native.md, "The plan server"): create, run and exec are served
// by a Node process that outlives the call, the native front spawning berth-init. Each test has a
// server of its own: BERTH_TEST_PLAN_SERVER is part of the identity a server serves (every
// BERTH_* variable is), so a fresh value reaches a fresh server. `--debug` makes a served command
// say so in its log, which is how a test knows which path ran.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bundle } from '../lib/bundle.ts';
import {
  assertFails,
  assertOk,
  isLive,
  resolveRuntime,
  type RunResult,
  type RuntimeSession,
  runtimeEnv,
  runtimeTest,
} from '../lib/runtime.ts';

const berth = resolveRuntime('berth');
const SERVED = /(create|run|exec) through the plan server \(pid (\d+)\)/;

/** An environment that reaches a server of its own (started by its first call). */
function privateEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return runtimeEnv({ BERTH_TEST_PLAN_SERVER: randomBytes(6).toString('hex'), ...extra });
}

/** The plan server's pid when the log says the command was served, else undefined. */
function servedBy(log: string): number | undefined {
  const m = SERVED.exec(log);
  return m ? Number(m[2]) : undefined;
}

/**
 * Creates and deletes throw-away containers until one is served (the first call of an identity
 * starts its server and runs in Node meanwhile); returns the server's pid.
 */
async function warm(s: RuntimeSession, env: NodeJS.ProcessEnv, bundle: Bundle): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const id = s.id('warm');
    const log = s.path(`${id}.log`);
    assertOk(
      s.execDetached(['--debug', '--log', log, 'create', '--bundle', bundle.dir, id], id, [], { env }),
      'create',
    );
    assertOk(s.exec(['delete', '--force', id], { env }), 'delete');
    const pid = servedBy(readFileSync(log, 'utf8'));
    if (pid !== undefined) return pid;
    if (Date.now() > deadline) throw new Error('no create was served by a plan server within 30 s');
    await sleep(100);
  }
}

function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The same command's stderr without the container id (which differs between two runs). */
const words = (r: RunResult, id: string) => r.stderr.replaceAll(id, '<id>');

describe('berth-runtime plan server', () => {
  runtimeTest(
    berth,
    'a served create leaves what the Node create leaves: state, pid file, start, delete',
    async (s) => {
      const env = privateEnv();
      const b = s.bundle({ args: ['sh', '-c', 'echo started'] });
      await warm(s, env, b);
      const id = s.id();
      const log = s.path('create.log');
      // Relative paths are the caller's: the server resolves them against the front's cwd.
      const r = s.execDetached(
        ['--debug', '--log', 'create.log', 'create', '--bundle', b.dir, '--pid-file', 'init.pid', id],
        id,
        [],
        { env, cwd: s.work },
      );
      assertOk(r, 'served create');
      assert.ok(servedBy(readFileSync(log, 'utf8')), `the create was not served: ${readFileSync(log, 'utf8')}`);
      const state = s.state(id);
      assert.equal(state.status, 'created');
      assert.equal(readFileSync(join(s.work, 'init.pid'), 'utf8'), String(state.pid));
      assertOk(s.start(id), 'start');
      await s.waitStatus(id, 'stopped');
      assertOk(s.delete(id), 'delete');
      assert.match(assertFails(s.exec(['state', id]), 'state after delete').stderr, /does not exist/);
    },
  );

  runtimeTest(berth, 'a served foreground run: stdio, exit status, signals, and the container goes', async (s) => {
    const env = privateEnv();
    const b = s.bundle({ args: ['sh', '-c', 'cat; echo "out $0"; echo err >&2; exit 3'] });
    await warm(s, env, b);
    const id = s.id();
    const log = s.path('run.log');
    const r = s.exec(['--debug', '--log', log, 'run', '--bundle', b.dir, id], { env, input: 'from stdin\n' });
    assert.ok(servedBy(readFileSync(log, 'utf8')), 'the run was not served');
    assert.equal(r.status, 3, `${r.command}: ${r.stderr}`);
    assert.equal(r.stdout, 'from stdin\nout sh\n');
    assert.equal(r.stderr, 'err\n');
    assert.match(assertFails(s.exec(['state', id]), 'state after run').stderr, /does not exist/);

    // The container's init is berth-init's stage0's child, and stage0 the front's, as with the
    // Node verb: a SIGTERM for the front reaches the container.
    const sleeper = s.bundle({ args: ['sh', '-c', 'trap "exit 42" TERM; echo up; while :; do sleep 0.1; done'] });
    const id2 = s.id();
    const child = (await import('node:child_process')).spawn(
      berth.argv[0] as string,
      ['--root', s.root, '--debug', '--log', s.path('run2.log'), 'run', '--bundle', sleeper.dir, id2],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!out.includes('up') && Date.now() < deadline) await sleep(25);
    assert.ok(out.includes('up'), 'the container did not start');
    const init = s.state(id2).pid as number;
    assert.equal(ppidOf(ppidOf(init)), child.pid, "the container is not the front's grandchild (through stage0)");
    child.kill('SIGTERM');
    assert.equal(await exited, 42);
    assert.ok(servedBy(readFileSync(s.path('run2.log'), 'utf8')), 'the second run was not served');
    assert.match(assertFails(s.exec(['state', id2]), 'state after run').stderr, /does not exist/);
  });

  runtimeTest(berth, "the server lives in its own cgroup; a relative cgroupsPath is under the caller's", async (s) => {
    const env = privateEnv();
    const pid = await warm(s, env, s.bundle({ args: ['true'] }));
    for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n'))
      assert.match(line, /:\/berth-runtime-plans$/, `the plan server is in its first caller's cgroup: ${line}`);
    const rel = `berth-test-rel-${randomBytes(4).toString('hex')}`;
    const b = s.bundle({ args: ['sleep', '60'], cgroupsPath: rel });
    const id = s.id();
    const log = s.path('rel.log');
    assertOk(s.execDetached(['--debug', '--log', log, 'create', '--bundle', b.dir, id], id, [], { env }), 'create');
    assert.ok(servedBy(readFileSync(log, 'utf8')), 'the create was not served');
    // This process's cgroup is the front's (its child's): the container's is that, plus the relative path.
    const mine = readFileSync('/proc/self/cgroup', 'utf8').match(/^\d+:memory:(.*)$/m)?.[1];
    const init = readFileSync(`/proc/${s.state(id).pid}/cgroup`, 'utf8').match(/^\d+:memory:(.*)$/m)?.[1];
    assert.ok(mine !== undefined && init !== undefined, 'no memory hierarchy here');
    assert.equal(init, `${mine === '/' ? '' : mine}/${rel}`);
    assertOk(s.delete(id, true), 'delete');
  });

  runtimeTest(berth, 'a served run --detach starts the container', async (s) => {
    const env = privateEnv();
    const b = s.bundle({ args: ['sleep', '60'] });
    await warm(s, env, b);
    const id = s.id();
    const log = s.path('run.log');
    assertOk(s.execDetached(['--debug', '--log', log, 'run', '--detach', '--bundle', b.dir, id], id, [], { env }));
    assert.ok(servedBy(readFileSync(log, 'utf8')), 'the run was not served');
    assert.equal(s.state(id).status, 'running');
    assertOk(s.kill(id, 'KILL'), 'kill');
    await s.waitStatus(id, 'stopped');
    assertOk(s.delete(id), 'delete');
  });

  runtimeTest(
    berth,
    "a served exec: stdio and status in the foreground, a pid file with --detach, the Node verb's words on failure",
    async (s) => {
      const env = privateEnv();
      const b = s.bundle({ args: ['sleep', '60'] });
      await warm(s, env, b);
      const id = s.id();
      assertOk(s.execDetached(['run', '--detach', '--bundle', b.dir, id], id, [], { env }), 'run --detach');
      const log = s.path('exec.log');
      const r = s.exec(['--debug', '--log', log, 'exec', id, 'sh', '-c', 'cat; echo done; exit 7'], {
        env,
        input: 'piped\n',
      });
      assert.ok(servedBy(readFileSync(log, 'utf8')), 'the exec was not served');
      assert.equal(r.status, 7, `${r.command}: ${r.stderr}`);
      assert.equal(r.stdout, 'piped\ndone\n');
      const pidFile = s.path('exec.pid');
      const d = s.execDetached(['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '30'], `${id}-x`, [], { env });
      assertOk(d, 'exec --detach');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(isLive(pid), `the detached process ${pid} does not run`);
      const node = runtimeEnv({ BERTH_RUNTIME_PLAN_SERVER: '0' });
      const missing = assertFails(
        s.exec(['exec', id, '/no/such/program'], { env }),
        'served exec of a missing program',
      );
      assert.match(missing.stderr, /\/no\/such\/program/);
      assert.equal(missing.stderr, assertFails(s.exec(['exec', id, '/no/such/program'], { env: node })).stderr);
      assertOk(s.delete(id, true), 'delete');
    },
  );

  runtimeTest(berth, 'what the server would do differently goes to the Node verb, with its words', async (s) => {
    const env = privateEnv();
    const plain = s.bundle({ args: ['true'] });
    await warm(s, env, plain);
    const node = runtimeEnv({ BERTH_RUNTIME_PLAN_SERVER: '0' });

    // A prestart hook runs in the runtime's process: the Node verb runs it.
    const mark = s.path('prestart.json');
    const hooked = s.bundle({
      args: ['true'],
      hooks: { prestart: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${mark}`], env: ['PATH=/bin:/usr/bin'] }] },
    });
    const id = s.id();
    const log = s.path('hooked.log');
    assertOk(
      s.execDetached(['--debug', '--log', log, 'create', '--bundle', hooked.dir, id], id, [], { env }),
      'create with a hook',
    );
    assert.equal(servedBy(readFileSync(log, 'utf8')), undefined, 'a create with a prestart hook was served');
    assert.equal((JSON.parse(readFileSync(mark, 'utf8')) as { id: string }).id, id);
    assertOk(s.delete(id, true), 'delete');

    // The server parsed that config before handing it back: its warnings are said once, by the Node verb.
    const warned = s.bundle({
      args: ['true'],
      capabilities: ['CAP_CHOWN', 'CAP_BERTH_NO_SUCH'],
      hooks: { prestart: [{ path: '/bin/true' }] },
    });
    const w1 = s.id();
    const w2 = s.id();
    const once = assertOk(s.execDetached(['create', '--bundle', warned.dir, w1], w1, [], { env }), 'create').stderr;
    const direct = assertOk(
      s.execDetached(['create', '--bundle', warned.dir, w2], w2, [], { env: node }),
      'create through Node',
    ).stderr;
    assert.match(direct, /CAP_BERTH_NO_SUCH/);
    assert.equal(
      once.replaceAll(w1, '<id>').replace(/time="[^"]*"/g, ''),
      direct.replaceAll(w2, '<id>').replace(/time="[^"]*"/g, ''),
    );
    assertOk(s.delete(w1, true), 'delete');
    assertOk(s.delete(w2, true), 'delete');

    // An existing container, a missing config: the same words whichever path answers.
    const taken = s.id();
    assertOk(s.execDetached(['create', '--bundle', plain.dir, taken], taken, [], { env }), 'create');
    const again = assertFails(s.exec(['create', '--bundle', plain.dir, taken], { env }), 'create again');
    assert.equal(again.stderr, assertFails(s.exec(['create', '--bundle', plain.dir, taken], { env: node })).stderr);
    const missing = s.path('no-bundle');
    const m1 = assertFails(s.exec(['create', '--bundle', missing, s.id()], { env }), 'create without a config');
    assert.match(m1.stderr, /config\.json/);
    assert.equal(m1.stderr, assertFails(s.exec(['create', '--bundle', missing, s.id()], { env: node })).stderr);
    assertOk(s.delete(taken, true), 'delete');
  });

  runtimeTest(
    berth,
    'a create that fails, in the plan or in berth-init, fails as the Node verb does and leaves nothing',
    async (s) => {
      const env = privateEnv();
      await warm(s, env, s.bundle({ args: ['true'] }));
      const node = runtimeEnv({ BERTH_RUNTIME_PLAN_SERVER: '0' });
      const cases = [
        // Found while building the plan, before berth-init is spawned.
        { destination: '/x', type: 'bind', source: s.path('no-such-source'), options: ['bind'] },
        // Found by berth-init: the kernel has no such filesystem type.
        { destination: '/x', type: 'berthnosuchfs', source: 'none' },
      ];
      for (const mount of cases) {
        const broken = s.bundle({ args: ['true'], extraMounts: [mount] });
        const a = s.id();
        const log = s.path(`${a}.log`);
        const served = assertFails(
          s.exec(['--debug', '--log', log, 'create', '--bundle', broken.dir, a], { env }),
          'served create',
        );
        assert.ok(servedBy(readFileSync(log, 'utf8')), `the failing create was not served (${mount.source})`);
        const b = s.id();
        const viaNode = assertFails(
          s.exec(['--debug', '--log', s.path(`${b}.log`), 'create', '--bundle', broken.dir, b], { env: node }),
          'Node create',
        );
        // With --debug both print the error's stack, which differs between the bundle's two entries.
        const last = (r: RunResult, id: string) => words(r, id).trim().split('\n').pop();
        assert.match(served.stderr, mount.type === 'bind' ? /no-such-source/ : /MOUNT none on \/x .*No such device/);
        assert.equal(last(served, a), last(viaNode, b));
        assert.doesNotMatch(served.stderr, /berth-init: /, 'berth-init was spawned for a plan that failed');
        assert.equal(assertOk(s.exec(['list', '-q'])).stdout, '');
      }
    },
  );

  runtimeTest(berth, 'a killed server is replaced; an idle one exits', async (s) => {
    const env = privateEnv({ BERTH_RUNTIME_PLAN_SERVER_IDLE_MS: '1500' });
    const b = s.bundle({ args: ['true'] });
    const first = await warm(s, env, b);
    process.kill(first, 'SIGKILL');
    while (isLive(first)) await sleep(20);
    // Its socket is left behind: the next create runs in Node and starts another server.
    const second = await warm(s, env, b);
    assert.notEqual(second, first);
    const deadline = Date.now() + 30_000;
    while (isLive(second) && Date.now() < deadline) await sleep(100);
    assert.ok(!isLive(second), 'the server did not exit after 1.5 s without callers');
  });

  runtimeTest(berth, 'a caller of another identity is handed back, whatever socket it reaches', async (s) => {
    const env = privateEnv();
    const b = s.bundle({ args: ['true'] });
    const pid = await warm(s, env, b);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const socket = cmdline[cmdline.indexOf('--plan-server') + 1] ?? '';
    assert.match(socket, /^\/run\/berth-runtime-plans\/[0-9a-f]{16}\.sock$/);
    // A process whose environment differs (another BERTH_TEST_PLAN_SERVER) asks that server to
    // create a container: the server sees through SO_PEERCRED that it is not its caller's twin.
    const id = s.id();
    const client = s.path('client.mjs');
    writeFileSync(
      client,
      `import net from 'node:net';
const [socket, cwd, ...args] = process.argv.slice(2);
const payload = Buffer.from([cwd, String(args.length), ...args].map((a) => a + '\\0').join(''));
const head = Buffer.alloc(8);
head.writeUInt32LE(1, 0);
head.writeUInt32LE(payload.length, 4);
const c = net.connect(socket, () => c.write(Buffer.concat([head, payload])));
let got = Buffer.alloc(0);
c.on('data', (d) => { got = Buffer.concat([got, d]); if (got.length >= 8) { console.log(got.readUInt32LE(0)); c.destroy(); } });
c.on('close', () => { if (got.length < 8) console.log('closed'); });
`,
    );
    const r = spawnSync(process.execPath, [client, socket, s.work, '--root', s.root, 'create', '--bundle', b.dir, id], {
      encoding: 'utf8',
      env: privateEnv(),
      timeout: 30_000,
    });
    assert.equal(r.stdout.trim(), '10', `expected a FALLBACK frame (10): ${r.stdout} ${r.stderr}`);
    assert.ok(!existsSync(join(s.root, id)), 'the server created the container for a stranger');
  });
});
