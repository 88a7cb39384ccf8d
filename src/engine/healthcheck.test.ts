import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyProbeResult,
  capProbeOutput,
  checkHealthConfig,
  goDuration,
  mergeHealthConfig,
  nextProbeDelayMs,
  probeCommand,
} from './healthcheck.ts';
import type { HealthState } from './types.ts';

test("checks in dockerd's words, each naming its field", () => {
  checkHealthConfig(undefined);
  checkHealthConfig({ test: ['CMD', 'true'], interval: 1e6, timeout: 0, retries: 0 });
  const refused = (h: object, msg: RegExp) => assert.throws(() => checkHealthConfig(h), msg);
  refused(
    { interval: 999_999 },
    /^BerthError: Interval in Healthcheck cannot be less than 1ms$|Interval in Healthcheck cannot be less than 1ms/,
  );
  refused({ interval: -1 }, /Interval in Healthcheck cannot be less than 1ms/);
  refused({ timeout: 5 }, /Timeout in Healthcheck cannot be less than 1ms/);
  refused({ retries: -1 }, /Retries in Healthcheck cannot be negative/);
  refused({ startPeriod: 1 }, /StartPeriod in Healthcheck cannot be less than 1ms/);
  refused({ startInterval: 1 }, /StartInterval in Healthcheck cannot be less than 1ms/);
  refused({ test: ['HTTP', 'x'] }, /Test in Healthcheck: unknown type "HTTP"/);
  refused({ test: ['CMD'] }, /Test in Healthcheck: CMD needs a command/);
});

test("the request's fields over the image's; NONE and no test turn it off", () => {
  const image = { test: ['CMD-SHELL', 'ok'], interval: 5e9, retries: 4 };
  assert.deepEqual(mergeHealthConfig(undefined, image), image);
  assert.deepEqual(mergeHealthConfig({ retries: 1 }, image), { test: ['CMD-SHELL', 'ok'], interval: 5e9, retries: 1 });
  assert.deepEqual(mergeHealthConfig({ test: ['NONE'] }, image), { test: ['NONE'], interval: 5e9, retries: 4 });
  assert.equal(probeCommand({ test: ['NONE'] }), undefined);
  assert.equal(probeCommand({ retries: 2 }), undefined);
  assert.deepEqual(probeCommand({ test: ['CMD-SHELL', 'a', 'b'] }), ['/bin/sh', '-c', 'a b']);
  assert.deepEqual(probeCommand({ test: ['CMD', 'x', 'y'] }), ['x', 'y']);
});

test('results move the health as dockerd does: a pass heals, Retries failures in a row make it unhealthy', () => {
  const r = (exitCode: number, start = '2030-01-01T00:00:10Z') => ({ start, end: start, exitCode, output: '' });
  let h: HealthState = { status: 'starting', failingStreak: 0, log: [] };
  h = applyProbeResult(h, r(1), { retries: 2 }, '2030-01-01T00:00:00Z');
  assert.deepEqual([h.status, h.failingStreak], ['starting', 1]);
  h = applyProbeResult(h, r(-1), { retries: 2 }, '2030-01-01T00:00:00Z');
  assert.deepEqual([h.status, h.failingStreak], ['unhealthy', 2]);
  h = applyProbeResult(h, r(0), { retries: 2 }, '2030-01-01T00:00:00Z');
  assert.deepEqual([h.status, h.failingStreak], ['healthy', 0]);
  for (let i = 0; i < 7; i++) h = applyProbeResult(h, r(0), {}, null);
  assert.equal(h.log.length, 5);
  // Inside the start period a failure of a starting container does not count.
  const s = applyProbeResult(
    { status: 'starting', failingStreak: 0, log: [] },
    r(1, '2030-01-01T00:00:01Z'),
    { startPeriod: 60e9, retries: 1 },
    '2030-01-01T00:00:00Z',
  );
  assert.deepEqual([s.status, s.failingStreak, s.log.length], ['starting', 0, 1]);
});

test('delays, output cap and Go durations', () => {
  assert.equal(nextProbeDelayMs({}, 'healthy', null), 30_000);
  assert.equal(nextProbeDelayMs({ interval: 2e8 }, 'starting', new Date().toISOString()), 200);
  const now = new Date().toISOString();
  assert.ok(nextProbeDelayMs({ startPeriod: 600e9, startInterval: 1e9 }, 'starting', now) === 1000);
  assert.equal(capProbeOutput([Buffer.from('ok\n')]), 'ok\n');
  const big = capProbeOutput([Buffer.alloc(5000, 'a')]);
  assert.equal(big.length, 4099);
  assert.ok(big.endsWith('a...'));
  assert.equal(goDuration(300e6), '300ms');
  assert.equal(goDuration(30e9), '30s');
  assert.equal(goDuration(1.5e9), '1.5s');
  assert.equal(goDuration(90e9), '1m30s');
  assert.equal(goDuration(3600e9), '1h0m0s');
});
