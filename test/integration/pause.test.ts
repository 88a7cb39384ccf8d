// berth-pause (native/pause.c), the init of a pod sandbox, as root: as pid 1 of a PID namespace it
// reaps the orphans that land on it, and it exits 0 on SIGTERM and on SIGINT.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, until } from './engine-harness.ts';

const PAUSE = join(REPO, 'native/build/berth-pause');

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Whether `pid` has a handler for signal `sig` (SigCgt in /proc/PID/status). A PID namespace's init
 * gets only the signals it handles, also from outside: one sent between exec and the handler's
 * installation is dropped, and the test would wait for an exit that never comes.
 */
function catches(pid: number, sig: number): boolean {
  try {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) >> BigInt(sig - 1)) % 2n === 1n;
  } catch {
    return false;
  }
}

/** berth-pause as pid 1 of a new PID namespace: the unshare process and pause's host pid. */
async function pauseInPidns() {
  const p = spawn('unshare', ['--pid', '--fork', PAUSE], { stdio: 'ignore' });
  let pause = 0;
  await until('berth-pause running under unshare, its SIGTERM and SIGINT handlers installed', () => {
    pause = children(p.pid!)[0] ?? 0;
    return (
      pause > 0 &&
      readFileSync(`/proc/${pause}/cmdline`, 'utf8').startsWith(PAUSE) &&
      catches(pause, 15) &&
      catches(pause, 2)
    );
  });
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  return { unshare: p, pause, exited };
}

test('berth-pause reaps orphans as pid 1 and exits 0 on SIGTERM and SIGINT', { timeout: 120_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root (PID namespace)');
  assert.ok(existsSync(PAUSE), 'native/build/berth-pause is built (scripts/build.sh)');
  const started: number[] = [];
  t.after(() => {
    for (const pid of started) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  });
  const a = await pauseInPidns();
  started.push(a.pause);
  // A shell in pause's PID namespace starts a sleep and exits: the sleep is orphaned to pause. It
  // lives until killed here, so its reparenting is seen whatever the load.
  const r = spawnSync('nsenter', ['-t', String(a.pause), '-p', '--', 'sh', '-c', 'sleep 1000 & exit 0'], {
    stdio: 'ignore',
  });
  assert.equal(r.status, 0, 'nsenter ran the shell');
  let orphan = 0;
  await until('the orphan reparented to pause', () => {
    orphan = children(a.pause)[0] ?? 0;
    return orphan > 0;
  });
  started.push(orphan);
  process.kill(orphan, 'SIGKILL');
  // Unreaped, it would stay listed as pause's child (a zombie).
  await until('the orphan reaped once it exited', () => children(a.pause).length === 0);
  process.kill(a.pause, 'SIGTERM');
  assert.equal(await a.exited, 0, 'pause exited 0 on SIGTERM (so did unshare, which passes its status on)');

  const b = await pauseInPidns();
  started.push(b.pause);
  process.kill(b.pause, 'SIGINT');
  assert.equal(await b.exited, 0, 'and on SIGINT');
});
