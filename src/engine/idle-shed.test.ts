import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { shedWhenIdle } from './idle-shed.ts';

/** Spins until the process has used `ms` more of CPU time (on a loaded machine, far more wall time). */
function spin(ms: number): void {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const end = cpu() + ms;
  while (cpu() < end) for (let i = 0; i < 1000; i++) Math.sqrt(Math.random());
}

test('a busy spell is followed by one shed once the process is quiet; a new spell, another', async () => {
  let sheds = 0;
  // Quiet is < 1 s of CPU in an interval: nothing but this test's own sleeping runs meanwhile.
  const stop = shedWhenIdle({ intervalMs: 200, busyMs: 100, quietMs: 1000, shed: () => sheds++ });
  try {
    const until = async (n: number) => {
      for (let i = 0; i < 600 && sheds < n; i++) await sleep(100);
      assert.ok(sheds >= n, `expected ${n} sheds, saw ${sheds}`);
    };
    // Start-up counts as a spell: the first quiet interval sheds.
    await until(1);
    const after = sheds;
    spin(400);
    await until(after + 1);
  } finally {
    stop();
  }
});
