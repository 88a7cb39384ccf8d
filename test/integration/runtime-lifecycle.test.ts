// Black-box lifecycle suite for runc-compatible runtimes: create/start/state/kill/delete/run/list/spec,
// state transitions, exit codes and pid files. Runs once per runtime in BERTH_TEST_RUNTIMES.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeConfig } from '../lib/bundle.ts';
import { assertFails, assertOk, describeRuntimes, isLive, processStartTime } from '../lib/runtime.ts';
import type { Spec } from '../lib/spec.ts';

const sh = (script: string) => ['sh', '-c', script];
/** Waits on its own until signalled: pid 1 ignores signals it has no handler for. */
const TRAP_TERM = sh("trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done");

describeRuntimes('runtime lifecycle', (rt, it) => {
  it('create leaves the process waiting before the user program; start runs it; its exit makes it stopped', async (s) => {
    const id = s.id();
    const b = s.bundle({ args: sh('echo ran') });
    assertOk(s.create(id, b), 'create');
    const created = s.state(id);
    assert.equal(created.status, 'created');
    assert.ok(typeof created.pid === 'number' && created.pid > 0, `state.pid after create: ${created.pid}`);
    assert.ok(isLive(created.pid), `init process ${created.pid} must exist after create`);
    await sleep(200);
    assert.equal(s.readOut(id), '', 'the user program must not run before start');
    assert.equal(s.state(id).status, 'created');
    assertOk(s.start(id), 'start');
    const stopped = await s.waitStatus(id, 'stopped');
    assert.equal(s.readOut(id), 'ran\n');
    assert.equal(stopped.id, id);
    assertOk(s.delete(id), 'delete of a stopped container');
    assertFails(s.exec(['state', id]), 'state after delete');
  });

  it('state reports ociVersion, id, status, pid, bundle and annotations', (s) => {
    const id = s.id();
    const b = s.bundle({ args: ['sleep', '30'], annotations: { 'org.berth.test': 'yes', other: 'x' } });
    assertOk(s.create(id, b), 'create');
    const st = s.state(id);
    assert.equal(typeof st.ociVersion, 'string');
    assert.ok(st.ociVersion.length > 0, 'ociVersion must not be empty');
    assert.equal(st.id, id);
    assert.equal(st.status, 'created');
    assert.equal(typeof st.pid, 'number');
    assert.ok(isAbsolute(st.bundle), `bundle must be an absolute path: ${st.bundle}`);
    assert.equal(st.bundle, b.dir);
    assert.deepEqual(st.annotations, { 'org.berth.test': 'yes', other: 'x' });
  });

  it('a running container is "running"; start twice fails; delete without --force fails; --force kills it', async (s) => {
    const id = s.id();
    const b = s.bundle({ args: ['sleep', '60'] });
    assertOk(s.create(id, b), 'create');
    assertOk(s.start(id), 'start');
    const st = s.state(id);
    assert.equal(st.status, 'running');
    const pid = st.pid!;
    const start = processStartTime(pid);
    assertFails(s.start(id), 'second start');
    assertFails(s.delete(id), 'delete of a running container without --force');
    assert.equal(s.state(id).status, 'running', 'a refused delete must leave the container running');
    assertOk(s.delete(id, true), 'delete --force');
    assertFails(s.exec(['state', id]), 'state after delete --force');
    const deadline = Date.now() + 5000;
    while (isLive(pid, start) && Date.now() < deadline) await sleep(20);
    assert.ok(!isLive(pid, start), `container process ${pid} must be gone after delete --force`);
  });

  it('delete of a missing id fails; delete --force of a missing id succeeds, repeatedly', (s) => {
    const id = s.id('missing');
    assertFails(s.delete(id), 'delete of a missing id');
    assertOk(s.delete(id, true), 'delete --force of a missing id');
    assertOk(s.delete(id, true), 'second delete --force of a missing id');
    assertFails(s.exec(['state', id]), 'state of a missing id');
  });

  it('create with an id that exists fails and leaves the first container alone', (s) => {
    const id = s.id();
    const b = s.bundle({ args: ['sleep', '30'] });
    assertOk(s.create(id, b), 'create');
    const pid = s.state(id).pid;
    assertFails(s.create(id, s.bundle({ args: ['true'] })), 'create with a duplicate id');
    const st = s.state(id);
    assert.equal(st.status, 'created');
    assert.equal(st.pid, pid);
  });

  it('list and list --format json show every container of the root', (s) => {
    const a = s.id('a');
    const c = s.id('b');
    const b1 = s.bundle({ args: ['sleep', '30'] });
    const b2 = s.bundle({ args: ['sleep', '30'] });
    assertOk(s.create(a, b1), 'create a');
    assertOk(s.create(c, b2), 'create b');
    assertOk(s.start(c), 'start b');
    const text = assertOk(s.exec(['list']), 'list').stdout;
    const lines = text.trim().split('\n');
    // runc's header; crun 1.8 says NAME and "BUNDLE PATH" instead.
    const header = rt.kind === 'crun' ? /^NAME\s+PID\s+STATUS/ : /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER/;
    assert.match(lines[0] ?? '', header);
    const row = (id: string) => lines.find((l) => l.split(/\s+/)[0] === id);
    assert.match(row(a) ?? '', /\bcreated\b/, `list row for ${a}: ${text}`);
    assert.match(row(c) ?? '', /\brunning\b/, `list row for ${c}: ${text}`);
    assert.ok(row(a)?.includes(b1.dir), `list row shows the bundle: ${row(a)}`);
    const json = JSON.parse(assertOk(s.exec(['list', '--format', 'json']), 'list --format json').stdout) as Array<
      Record<string, unknown>
    >;
    assert.ok(Array.isArray(json));
    const byId = new Map(json.map((e) => [e['id'], e]));
    assert.equal(byId.size, 2);
    assert.equal(byId.get(a)?.['status'], 'created');
    assert.equal(byId.get(c)?.['status'], 'running');
    assert.equal(byId.get(a)?.['bundle'], b1.dir);
    assert.equal(byId.get(c)?.['pid'], s.state(c).pid);
    assert.equal(typeof byId.get(a)?.['created'], 'string');
  });

  it('list of an empty root prints only the header; --format json prints null or []', (s) => {
    const text = assertOk(s.exec(['list']), 'list').stdout.trim();
    assert.match(text, rt.kind === 'crun' ? /^NAME\s+PID\s+STATUS/ : /^ID\s+PID\s+STATUS/);
    assert.equal(text.split('\n').length, 1);
    // runc 1.1 prints `null` (a nil Go slice); an empty array says the same.
    const json = JSON.parse(assertOk(s.exec(['list', '--format', 'json']), 'list --format json').stdout) as unknown;
    assert.ok(json === null || (Array.isArray(json) && json.length === 0), `got ${JSON.stringify(json)}`);
  });

  for (const signal of ['SIGTERM', 'TERM', '15']) {
    it(`kill ${signal} delivers SIGTERM to the init process`, async (s) => {
      const id = s.id();
      assertOk(s.create(id, s.bundle({ args: TRAP_TERM })), 'create');
      assertOk(s.start(id), 'start');
      await s.waitFile(s.outputPaths(id).out, (o) => o.includes('ready'));
      assertOk(s.kill(id, signal), `kill ${signal}`);
      await s.waitStatus(id, 'stopped');
      assert.equal(s.readOut(id), 'ready\ngot-term\n');
    });
  }

  it('kill without a signal sends SIGTERM', async (s) => {
    const id = s.id();
    assertOk(s.create(id, s.bundle({ args: TRAP_TERM })), 'create');
    assertOk(s.start(id), 'start');
    await s.waitFile(s.outputPaths(id).out, (o) => o.includes('ready'));
    assertOk(s.kill(id), 'kill');
    await s.waitStatus(id, 'stopped');
    assert.match(s.readOut(id), /got-term/);
  });

  for (const signal of ['KILL', 'SIGKILL', '9']) {
    it(`kill ${signal} stops a running container`, async (s) => {
      const id = s.id();
      assertOk(s.create(id, s.bundle({ args: ['sleep', '60'] })), 'create');
      assertOk(s.start(id), 'start');
      assertOk(s.kill(id, signal), `kill ${signal}`);
      await s.waitStatus(id, 'stopped');
    });
  }

  it('kill of a created container stops it; the user program never runs', async (s) => {
    const id = s.id();
    assertOk(s.create(id, s.bundle({ args: sh('echo ran') })), 'create');
    assertOk(s.kill(id, 'KILL'), 'kill KILL of a created container');
    await s.waitStatus(id, 'stopped');
    assert.equal(s.readOut(id), '');
    assertFails(s.start(id), 'start of a stopped container');
    assert.equal(s.readOut(id), '');
  });

  it('kill of a stopped container fails', async (s) => {
    const id = s.id();
    assertOk(s.create(id, s.bundle({ args: ['true'] })), 'create');
    assertOk(s.start(id), 'start');
    await s.waitStatus(id, 'stopped');
    assertFails(s.kill(id, 'KILL'), 'kill of a stopped container');
    assert.equal(s.state(id).status, 'stopped');
  });

  it(
    'kill with an unknown signal name fails',
    (s) => {
      const id = s.id();
      assertOk(s.create(id, s.bundle({ args: ['sleep', '30'] })), 'create');
      assertFails(s.kill(id, 'NOSUCHSIGNAL'), 'kill NOSUCHSIGNAL');
      assert.equal(s.state(id).status, 'created');
    },
    { skip: { crun: 'crun 1.8 exits 0 for an unknown signal name' } },
  );

  it('kill --all signals every process of the container, not only the init', async (s) => {
    const id = s.id();
    // The init traps TERM and lives on; its `sleep 60` children have no handler and die of it.
    const script = "sleep 60 & sleep 60 & trap 'echo init-term' TERM; echo ready; while :; do sleep 0.05; done";
    assertOk(s.create(id, s.bundle({ args: sh(script) })), 'create');
    assertOk(s.start(id), 'start');
    await s.waitFile(s.outputPaths(id).out, (o) => o.includes('ready'));
    const init = s.state(id).pid!;
    // A forked child shows the shell's cmdline until it has exec'd sleep, which on a loaded host
    // can come after "ready": look again until both have.
    const sleepChildren = () =>
      readFileSync(`/proc/${init}/task/${init}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .map(Number)
        .filter((p) => p > 0 && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\u000060'));
    let children = sleepChildren();
    for (const end = Date.now() + 5000; children.length < 2 && Date.now() < end; children = sleepChildren())
      await sleep(20);
    assert.equal(children.length, 2, 'the two sleep 60 children');
    const starts = children.map((p) => processStartTime(p));
    assertOk(s.kill(id, 'TERM', ['--all']), 'kill --all TERM');
    await s.waitFile(s.outputPaths(id).out, (o) => o.includes('init-term'));
    const deadline = Date.now() + 5000;
    while (children.some((p, i) => isLive(p, starts[i])) && Date.now() < deadline) await sleep(20);
    for (const [i, p] of children.entries()) assert.ok(!isLive(p, starts[i]), `child ${p} must have got SIGTERM`);
    assert.equal(s.state(id).status, 'running', 'the init trapped TERM and runs on');
    assertOk(s.kill(id, 'KILL', ['--all']), 'kill --all KILL');
    await s.waitStatus(id, 'stopped');
  });

  it('run exits with the container process exit code', (s) => {
    for (const code of [0, 1, 42]) {
      const id = s.id(`exit${code}`);
      const r = s.run(id, s.bundle({ args: sh(`echo out-${code}; echo err-${code} >&2; exit ${code}`) }));
      assert.equal(r.status, code, `run exit code: ${r.command}\n${r.stderr}`);
      assert.equal(r.stdout, `out-${code}\n`);
      assert.match(r.stderr, new RegExp(`err-${code}`));
    }
  });

  it('run of a process killed by a signal exits 128+n', async (s) => {
    const id = s.id();
    const b = s.bundle({ args: sh('echo ready; exec sleep 60') });
    const { done } = s.spawn(['run', '--bundle', b.dir, id]);
    const exitedEarly = done.then((r) => {
      throw new Error(`run exited before the container was running: ${r.status} ${r.signal}\n${r.stderr}`);
    });
    await Promise.race([s.waitStatus(id, 'running'), exitedEarly]);
    exitedEarly.catch(() => {});
    // SIGKILL reaches a pid-namespace init from outside; it cannot ignore it.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const r = s.kill(id, 'KILL');
      if (r.status === 0) break;
      await sleep(50);
    }
    const r = await done;
    assert.equal(r.status, 128 + 9, `run exit status after SIGKILL: ${r.status} ${r.signal}\n${r.stderr}`);
  });

  it('run deletes the container when it exits (without --detach)', (s) => {
    const id = s.id();
    assertOk(s.run(id, s.bundle({ args: ['true'] })), 'run');
    assertFails(s.exec(['state', id]), 'state after run');
  });

  it('run --detach returns while the container runs', async (s) => {
    const id = s.id();
    const b = s.bundle({ args: sh('echo detached; sleep 60') });
    const t0 = Date.now();
    assertOk(s.runDetached(id, b), 'run --detach');
    assert.ok(Date.now() - t0 < 20_000);
    assert.equal(s.state(id).status, 'running');
    await s.waitFile(s.outputPaths(id).out, (o) => o === 'detached\n');
    assertOk(s.kill(id, 'KILL'), 'kill');
    await s.waitStatus(id, 'stopped');
    assertOk(s.delete(id), 'delete');
  });

  it('create --pid-file and run --detach --pid-file write the init pid', (s) => {
    const id = s.id();
    const pidFile = s.path('create.pid');
    assertOk(s.create(id, s.bundle({ args: ['sleep', '30'] }), ['--pid-file', pidFile]), 'create --pid-file');
    assert.equal(Number(readFileSync(pidFile, 'utf8').trim()), s.state(id).pid);
    const id2 = s.id();
    const pidFile2 = s.path('run.pid');
    assertOk(
      s.execDetached(
        ['run', '--detach', '--pid-file', pidFile2, '--bundle', s.bundle({ args: ['sleep', '30'] }).dir, id2],
        id2,
      ),
      'run --detach --pid-file',
    );
    assert.equal(Number(readFileSync(pidFile2, 'utf8').trim()), s.state(id2).pid);
  });

  it(
    'create with a bad config fails and leaves no container',
    (s) => {
      s.control({}, 'the same bundle with a valid config');
      const id = s.id();
      const b = s.bundle({
        edit: (spec) => ((spec.process as unknown as Record<string, unknown>)['args'] = 'not-an-array'),
      });
      assertFails(s.create(id, b), 'create with process.args a string');
      assertFails(s.exec(['state', id]), 'state after a failed create');
      const id2 = s.id();
      const b2 = s.bundle({ args: ['/bin/does-not-exist'] });
      // runc fails at create (it resolves the executable in the rootfs first); a runtime that
      // finds out at start must still fail there, never report success.
      const r = s.create(id2, b2);
      if (r.status === 0) assertFails(s.start(id2), 'start of a missing executable');
    },
    { skip: { crun: 'crun 1.8 accepts a string for process.args' } },
  );

  it('--log with --log-format json writes an error line as runc does ({level, msg, time})', (s) => {
    const b = s.bundle({ args: ['true'] });
    const log = s.path('runtime-log.json');
    assertOk(
      s.exec(['--log', log, '--log-format', 'json', 'run', '--bundle', b.dir, s.id()]),
      'control: run with --log',
    );
    rmSync(join(b.rootfs), { recursive: true, force: true });
    const id = s.id();
    assertFails(
      s.exec(['--log', log, '--log-format', 'json', 'run', '--bundle', b.dir, id]),
      'run with a missing rootfs',
    );
    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    assert.ok(lines.length > 0, 'the log file is empty');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of entries) {
      for (const k of ['level', 'msg', 'time'])
        assert.equal(typeof e[k], 'string', `log line lacks ${k}: ${JSON.stringify(e)}`);
    }
    const err = entries.find((e) => e['level'] === 'error');
    assert.ok(err, `no error line in ${lines.join('\n')}`);
    assert.ok(String(err['msg']).length > 0);
  });

  it('accepts the flags containerd and podman pass: --debug, --no-pivot, --no-new-keyring', (s) => {
    const b = s.bundle({ args: sh('cat /ROOTFS_MARKER') });
    const r = s.exec(['--debug', 'run', '--no-pivot', '--no-new-keyring', '--bundle', b.dir, s.id()]);
    assertOk(r, 'run with --debug --no-pivot --no-new-keyring');
    assert.equal(r.stdout, 'inside\n');
    const id = s.id();
    assertOk(s.create(id, b, ['--no-pivot', '--no-new-keyring']), 'create --no-pivot --no-new-keyring');
    assertOk(s.start(id), 'start');
  });

  it('a container is created from a bundle given by --bundle, not the cwd', (s) => {
    const id = s.id();
    const b = s.bundle({ args: sh('cat /ROOTFS_MARKER') });
    const r = s.exec(['run', '--bundle', b.dir, id], { cwd: '/' });
    assertOk(r, 'run --bundle from cwd /');
    assert.equal(r.stdout, 'inside\n');
  });

  it('`run` without --bundle uses the current directory', (s) => {
    const id = s.id();
    const b = s.bundle({ args: sh('cat /ROOTFS_MARKER') });
    const r = s.exec(['run', id], { cwd: b.dir });
    assertOk(r, 'run from the bundle dir');
    assert.equal(r.stdout, 'inside\n');
  });

  it('spec writes a config.json the runtime then runs; spec refuses to overwrite it', (s) => {
    const b = s.bundle();
    rmSync(b.configPath);
    assertOk(s.exec(['spec'], { cwd: b.dir }), 'spec');
    assert.ok(existsSync(b.configPath), 'spec must write config.json in the current directory');
    const spec = JSON.parse(readFileSync(b.configPath, 'utf8')) as Spec;
    assert.equal(typeof spec.ociVersion, 'string');
    assert.deepEqual(spec.process.args, ['sh']);
    assert.equal(spec.root.path, 'rootfs');
    const nsTypes = spec.linux.namespaces.map((n) => n.type);
    for (const t of ['pid', 'network', 'ipc', 'uts', 'mount'])
      assert.ok(nsTypes.includes(t as never), `spec namespaces: ${nsTypes}`);
    assert.ok(spec.mounts.some((m) => m.destination === '/proc' && m.type === 'proc'));
    assertFails(s.exec(['spec'], { cwd: b.dir }), 'spec over an existing config.json');
    // Run it as written, except what a pipe-driven test needs: no terminal, a command that ends.
    spec.process.terminal = false;
    spec.process.args = ['sh', '-c', 'echo from-spec; hostname'];
    spec.linux.cgroupsPath = `/berth-test-spec-${process.pid}-${Date.now()}`;
    writeConfig(b.dir, spec);
    const id = s.id();
    const r = s.run(id, b);
    assertOk(r, 'run of the spec config');
    assert.equal(r.stdout.split('\n')[0], 'from-spec');
  });

  it('spec --bundle writes into the given directory', (s) => {
    const dir = s.path('spec-bundle', true);
    assertOk(s.exec(['spec', '--bundle', dir]), 'spec --bundle');
    assert.ok(existsSync(join(dir, 'config.json')));
  });

  it(
    'a torn state.json (a power loss on a disk-backed --root) is named by state, kept by delete, removed by delete --force',
    (s) => {
      const id = s.id();
      mkdirSync(join(s.root, id), { recursive: true });
      writeFileSync(join(s.root, id, 'state.json'), '{"version":1,"id":"');
      const st = assertFails(s.exec(['state', id]), 'state of a torn record');
      assert.match(st.stderr, /state\.json: unreadable .*delete --force/);
      assertFails(s.exec(['delete', id]), 'delete without --force');
      assert.ok(existsSync(join(s.root, id)), 'delete without --force removed the directory');
      assertOk(s.exec(['list']), 'list with a torn record');
      assertOk(s.exec(['delete', '--force', id]), 'delete --force');
      assert.ok(!existsSync(join(s.root, id)));
    },
    { skip: { runc: "berth's own recovery of its state.json", crun: "berth's own recovery of its state.json" } },
  );

  it(
    "containers made and deleted side by side under berth's parent /berth (as berthd names it) all start (two at once, 12 rounds)",
    async (s) => {
      // Both under /berth, which the delete of the last container removes, while the other
      // container's create makes (and seeds, for cpuset) its own directory below it.
      const lane = async (name: string) => {
        for (let i = 0; i < 12; i++) {
          const id = `${s.id()}-${name}${i}`;
          const b = s.bundle({ args: ['true'], cgroupsPath: `/berth/${id}` });
          const r = await s.spawn(['run', '--bundle', b.dir, id]).done;
          assert.equal(r.status, 0, `${r.command}: ${r.stderr}`);
        }
      };
      await Promise.all([lane('a'), lane('b')]);
    },
    {
      skip: {
        runc: "removing /berth with its last container is berth's own",
        crun: "removing /berth with its last container is berth's own",
      },
    },
  );
});
