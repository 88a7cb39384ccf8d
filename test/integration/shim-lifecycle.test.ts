// berth-shim against a real runtime (runc by default; BERTH_SHIM_RUNTIME=berth for berth-runtime):
// logs in both formats with partial lines, exit codes and signals, stdin through attach, several
// clients, a terminal with resize, exec mode, rotation, failures reported synchronously, and the
// shim outliving its starter (kill -9) with a new client reconnecting.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import {
  attach,
  readContainerPid,
  readExit,
  readLogs,
  readShimIdentity,
  shimAlive,
  stopShim,
  waitExit,
} from '../../src/shim/index.ts';
import { shimArgs, shimBinary } from '../../src/shim/start-shim.ts';
import { procStat } from '../../src/sys/procfs.ts';
import { cgroupV1Dir, memswAccounted } from '../lib/host.ts';
import { cgroupDirs, removeCgroups } from '../lib/runtime.ts';
import { RUNTIME, shimTest } from './shim-harness.ts';

const sh = (script: string) => ['sh', '-c', script];

class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

async function lines(path: string, format: 'json-file' | 'cri'): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLogs(path, format)) out.push(`${e.stream}:${e.line}`);
  return out;
}

/** Polls until `fn` is true (or fails after `ms`). */
async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const PARTIAL_SCRIPT = 'echo out; printf par; sleep 0.3; echo tial; echo err >&2; exit 3';

shimTest('json-file log: lines, a line written in two pieces, stderr; exit 3 recorded', async (s) => {
  const id = s.id();
  const info = await s.start(id, { bundle: s.bundle({ args: sh(PARTIAL_SCRIPT) }), logFormat: 'json-file' });
  assert.ok(info.shimPid > 0 && info.containerPid > 0);
  assert.equal(readContainerPid(info.stateDir), info.containerPid);
  assert.equal(readExit(info.stateDir), undefined, 'no exit before start');
  s.runtime('start', id);
  const st = await waitExit(info.stateDir);
  assert.equal(st.exitCode, 3);
  assert.equal(st.signal, null);
  assert.equal(st.pid, info.containerPid);
  assert.match(st.exitedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  const raw = readFileSync(info.logPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    raw.map((e) => [e.stream, e.log]),
    [
      ['stdout', 'out\n'],
      ['stdout', 'par'],
      ['stdout', 'tial\n'],
      ['stderr', 'err\n'],
    ],
  );
  assert.deepEqual(await lines(info.logPath, 'json-file'), ['stdout:out', 'stdout:partial', 'stderr:err']);
});

shimTest('CRI log: F and P tags, joined back by the reader; tail and timestamps', async (s) => {
  const id = s.id();
  const info = await s.start(id, { bundle: s.bundle({ args: sh(PARTIAL_SCRIPT) }), logFormat: 'cri' });
  s.runtime('start', id);
  assert.equal((await waitExit(info.stateDir)).exitCode, 3);
  const raw = readFileSync(info.logPath, 'utf8').trim().split('\n');
  assert.deepEqual(
    raw.map((l) => l.replace(/^\S+ /, '')),
    ['stdout F out', 'stdout P par', 'stdout F tial', 'stderr F err'],
  );
  assert.deepEqual(await lines(info.logPath, 'cri'), ['stdout:out', 'stdout:partial', 'stderr:err']);
  const tail: string[] = [];
  for await (const e of readLogs(info.logPath, 'cri', { tail: 1, timestamps: true })) tail.push(e.line);
  assert.equal(tail.length, 1);
  assert.match(tail[0]!, /^\S+Z err$/);
});

shimTest('killed by a signal: exitCode 128+9 and signal 9', async (s) => {
  const id = s.id();
  const info = await s.start(id, { bundle: s.bundle({ args: ['sleep', '100'] }) });
  s.runtime('start', id);
  assert.ok(shimAlive(info.stateDir));
  s.runtime('kill', id, 'KILL');
  const st = await waitExit(info.stateDir);
  assert.equal(st.exitCode, 137);
  assert.equal(st.signal, 9);
  assert.equal(st.oomKilled, false);
});

shimTest('stdin through attach, output to two clients at once, close-stdin ends cat', async (s) => {
  const id = s.id();
  const info = await s.start(id, {
    bundle: s.bundle({ args: sh('read a; echo got:$a; cat; echo end; echo bye >&2') }),
    stdin: true,
  });
  const input = new PassThrough();
  const out1 = new Collector();
  const err1 = new Collector();
  const out2 = new Collector();
  const a1 = attach(info.stateDir, { stdin: input, stdout: out1, stderr: err1 });
  const a2 = attach(info.stateDir, { stdout: out2 });
  await Promise.all([a1.ready, a2.ready]);
  s.runtime('start', id);
  input.write('hello\n');
  input.write('more\n');
  await until('the echo of the first line', () => out1.text.includes('more'));
  input.end(); // closes the container's stdin: cat sees EOF
  await Promise.all([a1.done, a2.done]);
  assert.equal(out1.text, 'got:hello\nmore\nend\n');
  assert.equal(err1.text, 'bye\n');
  assert.equal(out2.text, 'got:hello\nmore\nend\nbye\n', 'without a stderr stream, stderr goes to stdout');
  assert.equal(a1.exit?.exitCode, 0);
  assert.deepEqual(a2.exit, readExit(info.stateDir));
});

shimTest('terminal: output through the pty, resize before and after start (stty size inside)', async (s) => {
  const id = s.id();
  const info = await s.start(id, {
    bundle: s.bundle({ args: sh('read x; stty size; read y; stty size; exit 7'), terminal: true }),
    terminal: true,
    stdin: true,
  });
  const out = new Collector();
  const a = attach(info.stateDir, { stdout: out });
  await a.ready;
  a.resize(33, 111);
  s.runtime('start', id);
  a.write(Buffer.from('a\n'));
  await until('the first size', () => out.text.includes('33 111'));
  a.resize(40, 100);
  a.write(Buffer.from('b\n'));
  await a.done;
  assert.match(out.text, /33 111\r\n[\s\S]*40 100\r\n/);
  assert.equal(a.exit?.exitCode, 7);
  assert.equal((await waitExit(info.stateDir)).exitCode, 7);
  const logged = await lines(info.logPath, 'json-file');
  assert.ok(logged.includes('stdout:40 100\r'), `the log has the pty's output: ${JSON.stringify(logged)}`);
});

shimTest("exec mode: the exec'd process's output and exit code, the container unaffected", async (s) => {
  const id = s.id();
  const bundle = s.bundle({ args: ['sleep', '100'] });
  const main = await s.start(id, { bundle });
  s.runtime('start', id);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  const processJson = s.writeFile(
    'process.json',
    JSON.stringify({ ...spec.process, args: sh('echo exec-out; echo exec-err >&2; exit 5') }),
  );
  const ex = await s.start(id, { exec: { processJson }, logFormat: 'cri' });
  assert.notEqual(ex.containerPid, main.containerPid);
  const st = await waitExit(ex.stateDir);
  assert.equal(st.exitCode, 5);
  assert.deepEqual(await lines(ex.logPath, 'cri'), ['stdout:exec-out', 'stderr:exec-err']);
  assert.equal(readExit(main.stateDir), undefined, 'the container still runs');
  s.runtime('kill', id, 'KILL');
  assert.equal((await waitExit(main.stateDir)).signal, 9);
});

shimTest('log rotation: at most max-files files, each within max-size, the newest lines kept', async (s) => {
  const id = s.id();
  const info = await s.start(id, {
    bundle: s.bundle({
      args: sh(
        'i=0; while [ $i -lt 300 ]; do echo "line $i ........................................"; i=$((i+1)); done',
      ),
    }),
    logFormat: 'cri',
    logMaxSize: 4000,
    logMaxFiles: 3,
  });
  s.runtime('start', id);
  await waitExit(info.stateDir);
  for (const f of [info.logPath, `${info.logPath}.1`, `${info.logPath}.2`]) {
    assert.ok(existsSync(f), `${f} exists`);
    assert.ok(statSync(f).size <= 4000, `${f} is ${statSync(f).size} bytes`);
  }
  assert.ok(!existsSync(`${info.logPath}.3`), 'the oldest file fell off');
  const got = (await lines(info.logPath, 'cri')).map((l) => Number(/line (\d+)/.exec(l)?.[1]));
  assert.ok(got.length > 50 && got.length < 300, `${got.length} lines kept`);
  assert.equal(got.at(-1), 299);
  assert.deepEqual(
    got,
    got.map((_, i) => 300 - got.length + i),
    'a contiguous run of the newest lines',
  );
});

shimTest('a failed create is reported synchronously and leaves no shim', async (s) => {
  const id = s.id();
  const bundle = s.bundle({ args: ['true'] });
  const stateDir = s.stateDir();
  await assert.rejects(
    s.start(id, { bundle: join(bundle, 'missing'), stateDir }),
    (e: Error) => /create exited with status 1/.test(e.message) && e.message.includes('missing'),
  );
  const ident = readShimIdentity(stateDir);
  assert.ok(ident, 'shim.pid was written before the create');
  await until('the failed shim to be gone', () => !shimAlive(stateDir), 3000);
});

shimTest('the shim outlives its starter (kill -9); a new client reconnects and gets the exit', async (s) => {
  const id = s.id();
  const bundle = s.bundle({ args: sh('read a; echo got:$a; exit 9') });
  const stateDir = s.stateDir();
  const script = s.writeFile(
    'starter.ts',
    `import { startShim } from ${JSON.stringify(join(import.meta.dirname, '../../src/shim/index.ts'))};
const info = await startShim(${JSON.stringify({
      id,
      bundle,
      runtime: RUNTIME.binary,
      runtimeRoot: s.runtimeRoot,
      stateDir,
      logPath: join(stateDir, 'container.log'),
      logFormat: 'json-file',
      stdin: true,
    })});
console.log(JSON.stringify(info));
setInterval(() => {}, 1000);
`,
  );
  const starter = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: starter.stdout! }).once('line', resolve);
    starter.once('exit', (code) => reject(new Error(`starter exited with ${code}`)));
  });
  const info = JSON.parse(first);
  starter.kill('SIGKILL');
  await new Promise((r) => starter.once('exit', r));
  assert.ok(shimAlive(stateDir), 'the shim survived');
  assert.notEqual(procStat(info.shimPid)?.ppid, starter.pid, "the shim was never the starter's child");
  const out = new Collector();
  const input = new PassThrough();
  const a = attach(stateDir, { stdin: input, stdout: out });
  await a.ready;
  s.runtime('start', id);
  input.write('again\n');
  await a.done;
  assert.equal(out.text, 'got:again\n');
  assert.equal(a.exit?.exitCode, 9);
  assert.equal((await waitExit(stateDir)).exitCode, 9);
  await until('the shim to leave after its last client', () => !shimAlive(stateDir), 3000);
});

shimTest('stopShim ends a shim whose container still runs; waitExit then says the status is unknown', async (s) => {
  const id = s.id();
  const info = await s.start(id, { bundle: s.bundle({ args: ['sleep', '100'] }) });
  s.runtime('start', id);
  await stopShim(info.stateDir);
  assert.ok(!shimAlive(info.stateDir));
  await assert.rejects(waitExit(info.stateDir), /gone without writing exit.json/);
  s.runtime('kill', id, 'KILL');
});

/** A stand-in runtime for what the real ones would hide (Go's runc resets the signal mask itself):
 * `create` reports its own signal state and open fds, starts a trivial "container", writes its pid.
 * (The "container" outlives the script: dash may reap a child that exits while it still runs.) */
const FAKE_RUNTIME = `#!/bin/sh
grep -E "^Sig(Blk|Ign)" /proc/self/status
ls -l /proc/$$/fd
pidfile=
while [ $# -gt 0 ]; do
  case "$1" in --pid-file) pidfile="$2"; shift;; esac
  shift
done
sleep 0.2 &
echo $! > "$pidfile"
`;

shimTest(
  "the runtime (so the container) inherits neither the shim's blocked signals, its ignored ones, nor its fds",
  async (s) => {
    const runtime = s.writeFile('fake-runtime', FAKE_RUNTIME);
    chmodSync(runtime, 0o755);
    const id = s.id();
    const stateDir = s.stateDir();
    const logPath = join(stateDir, 'container.log');
    mkdirSync(stateDir);
    const args = shimArgs({
      id,
      bundle: s.root,
      runtime,
      runtimeRoot: s.runtimeRoot,
      stateDir,
      logPath,
      logFormat: 'cri',
    });
    // fd 3: a pipe the starter holds open without O_CLOEXEC, as a careless caller might.
    const child = spawn(shimBinary(), args, { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    let stdout = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    const extraEof = new Promise<void>((r) => child.stdio[3]!.on('close', () => r()));
    (child.stdio[3] as Readable).resume();
    await new Promise((r) => child.once('exit', r));
    assert.match(stdout, /"containerPid":\d+/);
    await Promise.race([
      extraEof,
      new Promise((_, rej) => setTimeout(() => rej(new Error("the supervisor holds the starter's fd 3 open")), 3000)),
    ]);
    assert.equal((await waitExit(stateDir)).exitCode, 0);
    const out = (await lines(logPath, 'cri')).map((l) => l.replace(/^stdout:/, ''));
    assert.ok(out.includes('SigBlk:\t0000000000000000'), JSON.stringify(out));
    assert.ok(out.includes('SigIgn:\t0000000000000000'), JSON.stringify(out));
    // Beyond stdio, only the shell's own fd of its script.
    const fds = out
      .map((l) => /(\d+) -> (.*)$/.exec(l))
      .filter((m) => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]));
    assert.deepEqual(
      fds.slice(0, 3).map((f) => f[1]),
      ['0', '1', '2'],
    );
    assert.deepEqual(
      fds
        .slice(3)
        .filter((f) => f[2] !== runtime)
        .map((f) => f[0]),
      [],
    );
  },
);

shimTest("a pid that is not the shim's child is refused at start (its exit could never be recorded)", async (s) => {
  const runtime = s.writeFile('pid-one-runtime', FAKE_RUNTIME.replace('echo $! > "$pidfile"', 'echo 1 > "$pidfile"'));
  chmodSync(runtime, 0o755);
  await assert.rejects(
    s.start(s.id(), { bundle: s.root, runtime }),
    /process 1 from .* is elsewhere, not a child of the shim/,
  );
});

shimTest(
  'log content survives both formats byte for byte: quotes, backslashes, tabs, control bytes, UTF-8',
  async (s) => {
    const text = 'q"uote\\back\tslash \u0001ctl é ✓ {"log":"x"}';
    for (const logFormat of ['json-file', 'cri'] as const) {
      const id = s.id();
      const info = await s.start(id, {
        bundle: s.bundle({ args: sh(`printf '%s\\n' '${text}'; printf '%s\\n' '${text}' >&2`) }),
        logFormat,
      });
      s.runtime('start', id);
      await waitExit(info.stateDir);
      assert.deepEqual(await lines(info.logPath, logFormat), [`stdout:${text}`, `stderr:${text}`], logFormat);
    }
  },
);

shimTest("exec with a terminal: the exec'd process gets a pty of its own, resize included", async (s) => {
  const id = s.id();
  const bundle = s.bundle({ args: ['sleep', '100'] });
  const main = await s.start(id, { bundle });
  s.runtime('start', id);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  const processJson = s.writeFile(
    'process-tty.json',
    JSON.stringify({ ...spec.process, terminal: true, args: sh('read x; tty; stty size; exit 4') }),
  );
  const ex = await s.start(id, { exec: { processJson }, terminal: true, stdin: true });
  const out = new Collector();
  const a = attach(ex.stateDir, { stdout: out });
  await a.ready;
  a.resize(21, 77);
  a.write(Buffer.from('go\n'));
  await a.done;
  assert.match(out.text, /\/dev\/pts\/\d+\r\n21 77\r\n/);
  assert.equal((await waitExit(ex.stateDir)).exitCode, 4);
  s.runtime('kill', id, 'KILL');
  await waitExit(main.stateDir);
});

shimTest(
  '--await-attach-ms: an exec that exits before its client attaches keeps its output and status for it',
  async (s) => {
    const id = s.id();
    const bundle = s.bundle({ args: ['sleep', '100'] });
    const main = await s.start(id, { bundle });
    s.runtime('start', id);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    const processJson = s.writeFile(
      'process-held.json',
      JSON.stringify({ ...spec.process, terminal: true, args: sh('echo held; exit 6') }),
    );
    const ex = await s.start(id, { exec: { processJson }, terminal: true, awaitAttachMs: 60_000 });
    // The process is gone (reaped by the shim) before anyone attached.
    for (let i = 0; i < 500 && existsSync(`/proc/${ex.containerPid}`); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(existsSync(`/proc/${ex.containerPid}`), false, "the exec'd process exited and was reaped");
    assert.equal(readExit(ex.stateDir), undefined, 'the exit waits for the first client');
    const out = new Collector();
    const a = attach(ex.stateDir, { stdout: out });
    await a.done;
    assert.equal(out.text, 'held\r\n');
    assert.equal(a.exit?.exitCode, 6);
    // Nobody attaches: after the time the output is read (to the log) and the exit recorded as usual.
    const processJson2 = s.writeFile(
      'process-unheld.json',
      JSON.stringify({ ...spec.process, args: sh('echo nobody; exit 2') }),
    );
    const ex2 = await s.start(id, { exec: { processJson: processJson2 }, logFormat: 'cri', awaitAttachMs: 100 });
    assert.equal((await waitExit(ex2.stateDir)).exitCode, 2);
    assert.deepEqual(await lines(ex2.logPath, 'cri'), ['stdout:nobody']);
    s.runtime('kill', id, 'KILL');
    await waitExit(main.stateDir);
  },
);

shimTest("an exec's client that lags is waited for, not dropped: every byte of its output arrives", async (s) => {
  const id = s.id();
  const bundle = s.bundle({ args: ['sleep', '100'] });
  const main = await s.start(id, { bundle });
  s.runtime('start', id);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  const SIZE = 3_000_000; // far more than the shim's queue per client and the socket's buffer together
  const processJson = s.writeFile(
    'process-bulk.json',
    JSON.stringify({ ...spec.process, args: sh(`head -c ${SIZE} /dev/zero | tr '\\0' a; exit 3`) }),
  );
  const ex = await s.start(id, { exec: { processJson }, awaitAttachMs: 60_000 });
  // A sink that takes nothing until it is released: the attachment pauses its socket, the shim's
  // queue for it fills, and the exec's output must wait instead of the client being dropped.
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let got = 0;
  let bad = 0;
  const sink = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      got += chunk.length;
      for (const b of chunk) if (b !== 0x61) bad++;
      released.then(() => cb());
    },
  });
  const a = attach(ex.stateDir, { stdout: sink });
  await a.ready;
  // Held until the shim has stopped reading: the exec is still running, blocked on its full pipe.
  await until('the exec to block on its output', () => got > 0 && existsSync(`/proc/${ex.containerPid}`), 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  release();
  await a.done;
  assert.equal(got, SIZE, 'every byte reached the client');
  assert.equal(bad, 0);
  assert.equal(a.exit?.exitCode, 3, 'and the status after it');
  s.runtime('kill', id, 'KILL');
  await waitExit(main.stateDir);
});

shimTest('an orphan holding stdout (no pid namespace) delays exit.json only by --drain-ms', async (s) => {
  const id = s.id();
  const bundle = s.bundle({
    args: sh('sleep 60 & echo started; exit 2'),
    edit: (spec) => {
      spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'pid');
    },
  });
  const info = await s.start(id, { bundle, drainMs: 300, logFormat: 'cri' });
  s.runtime('start', id);
  const t0 = Date.now();
  const st = await waitExit(info.stateDir);
  assert.equal(st.exitCode, 2);
  assert.ok(Date.now() - t0 < 3000, `exit.json after ${Date.now() - t0} ms`);
  assert.deepEqual(await lines(info.logPath, 'cri'), ['stdout:started']);
  // the orphan (sleep) is the shim's child now; delete -f kills what is left in the cgroup
  s.runtime('delete', '-f', id);
});

shimTest('oomKilled: a container killed by its memory limit says so', async (s) => {
  const id = s.id();
  const cgroupsPath = `/${id}`; // top level, so that the runtime's delete removes all of it
  const bundle = s.bundle({
    args: sh('tail /dev/zero'), // one endless line: memory grows until the limit
    cgroupsPath,
    edit: (spec) => {
      // Swap is capped where the host accounts it (always on v2); elsewhere swappiness 0 keeps the
      // cgroup from swapping, so that it is killed rather than swapping until the host's swap is full.
      const memory =
        memswAccounted() || cgroupV1Dir('memory') === undefined
          ? { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 }
          : { limit: 16 * 1024 * 1024, swappiness: 0 };
      spec.linux.resources = { ...spec.linux.resources, memory };
    },
  });
  try {
    const info = await s.start(id, { bundle });
    s.runtime('start', id);
    const st = await waitExit(info.stateDir);
    assert.equal(st.signal, 9);
    assert.equal(st.oomKilled, true);
    s.runtime('delete', '-f', id);
    assert.deepEqual(cgroupDirs(cgroupsPath), [], 'the runtime removed the cgroup');
  } finally {
    s.runtime('delete', '-f', id);
    removeCgroups([cgroupsPath]);
  }
});

shimTest(
  "--pace-ms: a container's client that lags is waited for; one that takes nothing for that long is dropped",
  async (s) => {
    const SIZE = 3_000_000; // far more than the shim's queue per client and the socket's buffer together
    const slowSink = (released: Promise<void>) => {
      const seen = { got: 0, bad: 0 };
      const sink = new Writable({
        highWaterMark: 1024,
        write(chunk: Buffer, _enc, cb) {
          seen.got += chunk.length;
          for (const b of chunk) if (b !== 0x61) seen.bad++;
          released.then(() => cb());
        },
      });
      return { sink, seen };
    };
    const bulk = sh(`head -c ${SIZE} /dev/zero | tr '\\0' a; exit 3`);

    // Lags for a second, well within --pace-ms: the container waits, and every byte arrives.
    const id = s.id();
    const info = await s.start(id, { bundle: s.bundle({ args: bulk }), paceMs: 60_000 });
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const slow = slowSink(released);
    const a = attach(info.stateDir, { stdout: slow.sink });
    await a.ready;
    s.runtime('start', id);
    await until('the output to reach the client', () => slow.seen.got > 0, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(readExit(info.stateDir), undefined, 'the container waits for its client');
    release();
    await a.done;
    assert.equal(slow.seen.got, SIZE, 'every byte reached the client');
    assert.equal(slow.seen.bad, 0);
    assert.equal(a.exit?.exitCode, 3, 'and the status after it');

    // Takes nothing at all: after --pace-ms it is dropped, the container runs to its end, the log has it all.
    const id2 = s.id();
    const info2 = await s.start(id2, { bundle: s.bundle({ args: bulk }), paceMs: 300, logFormat: 'cri' });
    const stuck = slowSink(new Promise<void>(() => {}));
    const b = attach(info2.stateDir, { stdout: stuck.sink });
    await b.ready;
    s.runtime('start', id2);
    assert.equal((await waitExit(info2.stateDir)).exitCode, 3);
    assert.ok(stuck.seen.got < SIZE, `the stuck client was dropped (it got ${stuck.seen.got} bytes)`);
    const logged = (await lines(info2.logPath, 'cri')).join('');
    assert.equal(logged.length, 'stdout:'.length + SIZE, 'the log has every byte');
  },
);
