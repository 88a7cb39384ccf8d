import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExitWaiters } from './exit-waiters.ts';

const exit = (exitCode: number) => ({ exitCode, signal: null, oomKilled: false, finishedAt: '2026-01-01T00:00:00Z' });

test("every waiter of a container's next exit gets it, once; other containers' waiters keep waiting", async () => {
  const w = new ExitWaiters();
  const a1 = w.nextExit('a');
  const a2 = w.nextExit('a');
  let bDone = false;
  void w.nextExit('b').then(() => (bDone = true));
  w.exited('a', exit(3));
  assert.deepEqual(await Promise.all([a1, a2]), [exit(3), exit(3)]);
  const a3 = w.nextExit('a');
  w.exited('a', exit(4));
  assert.deepEqual(await a3, exit(4), 'a later waiter waits for the next exit');
  await new Promise((r) => setImmediate(r));
  assert.equal(bDone, false);
});

test('removal waiters learn the last exit, or why the removal failed', async () => {
  const w = new ExitWaiters();
  const ok = w.removal('a');
  w.removed('a', exit(0));
  assert.deepEqual(await ok, exit(0));
  const failed = w.removal('b');
  w.removalFailed('b', new Error('busy'));
  await assert.rejects(failed, /busy/);
});

test("a removed container's exit is remembered, found by its id or a prefix of it", () => {
  const w = new ExitWaiters();
  w.remember('abcdef', exit(7));
  assert.equal(w.hasRecent('abcdef'), true);
  assert.equal(w.hasRecent('abc'), false, 'hasRecent is exact');
  assert.deepEqual(w.recent('abc'), exit(7));
  assert.equal(w.recent('xyz'), undefined);
});
