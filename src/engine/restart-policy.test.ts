import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRestartPolicy, restartDelay, shouldRestart } from './restart-policy.ts';

test('restart policies', () => {
  assert.deepEqual(parseRestartPolicy(undefined), { name: 'no', max: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure:3'), { name: 'on-failure', max: 3 });
  assert.deepEqual(parseRestartPolicy('unless-stopped'), { name: 'unless-stopped', max: 0 });
  assert.throws(() => parseRestartPolicy('sometimes'), /expected no, always/);
});

test('which exits restart: never after a stop from the user; on-failure only on a failure, up to its maximum', () => {
  const c = { restartPolicy: 'always', restartMax: 0, restartCount: 0, manuallyStopped: false, exitCode: 0 } as const;
  assert.equal(shouldRestart(c), true);
  assert.equal(shouldRestart({ ...c, manuallyStopped: true }), false);
  assert.equal(shouldRestart({ ...c, restartPolicy: 'unless-stopped' }), true);
  assert.equal(shouldRestart({ ...c, restartPolicy: 'no', exitCode: 1 }), false);
  const f = { ...c, restartPolicy: 'on-failure' } as const;
  assert.equal(shouldRestart(f), false, 'exit 0 is no failure');
  assert.equal(shouldRestart({ ...f, exitCode: 2 }), true);
  assert.equal(shouldRestart({ ...f, exitCode: 2, restartMax: 3, restartCount: 3 }), false, 'the maximum reached');
  assert.equal(shouldRestart({ ...f, exitCode: 2, restartMax: 3, restartCount: 2 }), true);
  assert.equal(shouldRestart({ ...f, exitCode: null }), false);
});

test('back-off doubles per consecutive restart up to a minute, and resets after 10 s of running', () => {
  const at = (ms: number) => new Date(1_000_000 + ms).toISOString();
  const quick = { startedAt: at(0), finishedAt: at(500) };
  assert.deepEqual(
    [0, 1, 2, 5].map((restartCount) => restartDelay({ ...quick, restartCount })),
    [100, 200, 400, 3200],
  );
  assert.equal(restartDelay({ ...quick, restartCount: 50 }), 60_000);
  assert.equal(restartDelay({ startedAt: at(0), finishedAt: at(10_001), restartCount: 7 }), 100);
  assert.equal(restartDelay({ startedAt: null, finishedAt: null, restartCount: 1 }), 200);
});
