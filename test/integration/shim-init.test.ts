// berth-shim's create through berth-init (docs/shim.md, "Create through berth-init"), against the
// real shim and spawner: the spawner hands the request's two sockets over (SCM_RIGHTS), the shim
// spawns the init program with the sync socket (fd 3, or 4 after a console socket at 3), umask 0 and
// nothing else inherited, waits for the verdict on the control socket, and then supervises the
// init's orphan as its own child; an "E" verdict or a control socket closed without one fails the
// start with that reason and kills what the init left. A fake init script stands in for berth-init
// (what it does is the real berth-init's business, covered by the engine tests): it reports what it
// was given and leaves an orphan, whose pid it writes on the sync socket.
import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShimSpawner } from '../../src/engine/shim-spawner.ts';
import { readExit, shimBinary, stopShim, waitExit } from '../../src/shim/index.ts';
import * as native from '../../src/sys/native.ts';

if (process.getuid?.() !== 0)
  throw new Error('shim-init tests need root (the shim becomes a subreaper and writes state as root)');

const dir = mkdtempSync('/tmp/berth-shim-init-');
after(() => rmSync(dir, { recursive: true, force: true }));

const FAKE = join(dir, 'fake-init');
writeFileSync(
  FAKE,
  `#!/bin/sh
# $1 is the sync fd's number.
{ echo "argv $0 $*"; echo "umask $(umask)"; ls /proc/self/fd | tr '\\n' ' '; echo; readlink /proc/self/fd/3 /proc/self/fd/4; } > ${dir}/seen-$$
eval "read mode <&$1"
if [ "$mode" = quick ]; then sh -c 'read x < ${dir}/go; echo out-of-the-init; exit 7' & else sleep 30 & fi
eval "echo \\$! >&$1"
`,
);
chmodSync(FAKE, 0o755);

function opts(i: number, terminal = false) {
  return {
    id: `init-${i}`,
    bundle: dir,
    runtime: '/bin/false',
    runtimeRoot: join(dir, 'rt'),
    stateDir: join(dir, `s${i}`),
    logPath: join(dir, `log${i}`),
    logFormat: 'json-file' as const,
    graceMs: 0,
    init: FAKE,
    terminal,
  };
}

/** Starts a shim through the spawner with fresh sync and control sockets; returns our ends and the report. */
function start(sp: ShimSpawner, i: number, terminal = false) {
  const [sync, syncShim] = native.socketpair();
  const [ctl, ctlShim] = native.socketpair();
  const report = sp.start(opts(i, terminal), [syncShim, ctlShim]);
  closeSync(syncShim);
  closeSync(ctlShim);
  report.catch(() => {});
  return { sync, ctl, report };
}

/** Tells the fake init which orphan to leave (one that exits once told through the FIFO `go`, or a sleep); returns its pid. */
function readPid(sync: number, mode: 'quick' | 'slow' = 'slow'): number {
  writeSync(sync, `${mode}\n`);
  const { data } = native.recvFds(sync, 1, 64);
  return Number(data.toString().trim());
}

function parentOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
}

test('the shim spawns the init with the sync socket and umask 0, and supervises its orphan after a P verdict', async () => {
  native.mkfifo(join(dir, 'go'), 0o600);
  const sp = new ShimSpawner(shimBinary());
  const s = start(sp, 1);
  try {
    const pid = readPid(s.sync, 'quick');
    writeSync(s.ctl, `P${pid}\n`);
    closeSync(s.ctl);
    const info = await s.report;
    assert.equal(info.containerPid, pid);
    writeFileSync(join(dir, 'go'), 'go\n');
    assert.equal(
      Number(readFileSync(join(info.stateDir, 'container.pid'), 'utf8')),
      pid,
      "container.pid is the shim's, from the verdict",
    );
    const exit = await waitExit(info.stateDir);
    assert.equal(exit.exitCode, 7, "the orphan was the shim's child: its exit is recorded");
    assert.equal(exit.pid, pid);
    assert.match(readFileSync(join(dir, 'log1'), 'utf8'), /out-of-the-init/, "the init had the container's stdout");
    const seen = readFileSync(join(dir, readdirSeen()[0]!), 'utf8');
    assert.match(seen, /^argv .*fake-init 3$/m, 'berth-init <sync fd>, the sync socket at 3');
    assert.match(seen, /^umask 0+$/m);
    assert.match(seen, /^socket:\[\d+\]$/m, 'fd 3 is a socket');
    // ls lists 0-3 and its own directory fd (4): the control socket and every fd of the shim stay out.
    assert.equal(seen.split('\n')[2]!.trim(), '0 1 2 3 4', 'no fd but 0-3 inherited');
    assert.equal(seen.split('\n').filter((l) => /^socket:\[\d+\]$/.test(l)).length, 1, 'only fd 3 is a socket');
  } finally {
    closeSync(s.sync);
    sp.close();
  }
});

function readdirSeen(): string[] {
  return (process.getBuiltinModule('node:fs') as typeof import('node:fs'))
    .readdirSync(dir)
    .filter((f) => f.startsWith('seen-'));
}

test("an E verdict fails the start with berthd's reason and kills what the init left", async () => {
  const sp = new ShimSpawner(shimBinary());
  const s = start(sp, 2);
  try {
    const pid = readPid(s.sync);
    writeSync(s.ctl, 'Eprestart hook failed: exit 3\n');
    closeSync(s.ctl);
    await assert.rejects(
      s.report,
      (e: Error) => /prestart hook failed: exit 3/.test(e.message) && /init-2/.test(e.message),
    );
    await gone(pid);
    assert.equal(readExit(join(dir, 's2')), undefined, 'no exit recorded for a container that never was');
  } finally {
    closeSync(s.sync);
    sp.close();
  }
});

test('a control socket closed without a verdict (berthd died) fails the start and kills the orphan', async () => {
  const sp = new ShimSpawner(shimBinary());
  const s = start(sp, 3);
  try {
    const pid = readPid(s.sync);
    assert.equal(parentOf(pid) > 0, true);
    closeSync(s.ctl);
    await assert.rejects(s.report, (e: Error) => /closed before berthd's verdict/.test(e.message));
    await gone(pid);
  } finally {
    closeSync(s.sync);
    sp.close();
  }
});

test('with a terminal, the console socket is fd 3 and the sync socket fd 4', async () => {
  const sp = new ShimSpawner(shimBinary());
  const s = start(sp, 4, true);
  try {
    const pid = readPid(s.sync);
    closeSync(s.ctl); // no pty master will come: end it here
    await assert.rejects(s.report);
    await gone(pid);
    const seen = readdirSeen()
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .find((t) => / 4$/m.test(t.split('\n')[0]!));
    assert.ok(seen, 'the init was told its sync fd is 4');
    assert.equal(seen.split('\n').filter((l) => /^socket:\[\d+\]$/.test(l)).length, 2, 'fds 3 and 4 are sockets');
  } finally {
    closeSync(s.sync);
    sp.close();
  }
});

async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return;
    } catch {
      return;
    }
    await sleep(10);
  }
  assert.fail(`process ${pid} still runs`);
}

after(async () => {
  for (const i of [1, 2, 3, 4]) await stopShim(join(dir, `s${i}`), { timeoutMs: 1000 }).catch(() => {});
});
