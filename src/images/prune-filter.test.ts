import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goDurationMs, imagePruneSelection, untilTime } from './prune-filter.ts';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);

test('Go durations: units, sums, fractions and signs; anything else is not one', () => {
  assert.equal(goDurationMs('24h'), 86_400_000);
  assert.equal(goDurationMs('1h30m'), 5_400_000);
  assert.equal(goDurationMs('1.5h'), 5_400_000);
  assert.equal(goDurationMs('-1h'), -3_600_000);
  assert.equal(goDurationMs('+90s'), 90_000);
  assert.equal(goDurationMs('.5s'), 500);
  assert.equal(goDurationMs('300ms'), 300);
  assert.equal(goDurationMs('2us'), 0.002);
  assert.equal(goDurationMs('0'), 0);
  for (const bad of ['', 'h', '10', '10d', '1h 30m', 'xyz', '1e3s', '--1h'])
    assert.equal(goDurationMs(bad), undefined, bad);
});

test('until: durations before now, dates and times (zones as given, else local), unix seconds', () => {
  assert.equal(untilTime('24h', NOW), NOW - 86_400_000);
  assert.equal(untilTime('-1h', NOW), NOW + 3_600_000);
  assert.equal(untilTime('1700000000', NOW), 1_700_000_000_000);
  assert.equal(untilTime('1700000000.5', NOW), 1_700_000_000_500);
  assert.equal(untilTime('0', NOW), 0);
  assert.equal(untilTime('2020-01-02T03:04:05Z', NOW), Date.UTC(2020, 0, 2, 3, 4, 5));
  assert.equal(untilTime('2020-01-02T03:04:05.123456789Z', NOW), Date.UTC(2020, 0, 2, 3, 4, 5, 123));
  assert.equal(untilTime('2020-01-02T03:04:05+02:00', NOW), Date.UTC(2020, 0, 2, 1, 4, 5));
  assert.equal(untilTime('2020-01-02T03:04-01:30', NOW), Date.UTC(2020, 0, 2, 4, 34, 0));
  assert.equal(untilTime('2020-01-02', NOW), new Date(2020, 0, 2).getTime());
  assert.equal(untilTime('2020-01-02T03:04:05', NOW), new Date(2020, 0, 2, 3, 4, 5).getTime());
  assert.equal(untilTime('2020-01-02T03', NOW), new Date(2020, 0, 2, 3).getTime());
  for (const bad of ['xyz', '2020-13-01', '2020-02-30', '2020-01-02T25:00:00Z', '1.2.3', '10d', ''])
    assert.throws(() => untilTime(bad, NOW), {
      code: 'BERTH_ERR_INVALID_ARGUMENT',
      message: `failed to parse value as time or duration: ${JSON.stringify(bad)}`,
    });
});

test('image prune filters: dockerd keys and refusals, checked before anything is taken', () => {
  assert.throws(() => imagePruneSelection({ foo: ['bar'] }), { message: "invalid filter 'foo'" });
  assert.throws(() => imagePruneSelection({ reference: ['x'] }), { message: "invalid filter 'reference'" });
  assert.throws(() => imagePruneSelection({ dangling: ['maybe'] }), { message: "invalid filter 'dangling=maybe'" });
  assert.throws(() => imagePruneSelection({ until: ['1h', '2h'] }), {
    message: 'more than one until filter specified',
  });
  assert.throws(() => imagePruneSelection({ until: ['soon'] }), {
    message: 'failed to parse value as time or duration: "soon"',
  });
  assert.equal(imagePruneSelection({}).danglingOnly, undefined);
  assert.equal(imagePruneSelection({}).readsConfig, false);
  assert.equal(imagePruneSelection({ dangling: ['1'] }).danglingOnly, true);
  assert.equal(imagePruneSelection({ dangling: ['false'] }).danglingOnly, false);
  assert.equal(imagePruneSelection({ dangling: ['0'] }).readsConfig, false);
});

test('image prune filters: until by the config created time, label all of them, label! keeps a match of all', () => {
  const old = { created: '2020-01-01T00:00:00.123456789Z', labels: { tier: 'web', keep: '' } };
  const fresh = { created: new Date(NOW - 60_000).toISOString(), labels: { tier: 'db' } };
  const unknownAge = { labels: {} };
  const pick = (f: Record<string, string[]>) =>
    [old, fresh, unknownAge].map((i) => imagePruneSelection(f, NOW).matches(i));
  assert.deepEqual(pick({}), [true, true, true]);
  assert.deepEqual(pick({ until: ['1h'] }), [true, false, true]);
  assert.deepEqual(pick({ until: ['2019-12-31'] }), [false, false, true]);
  assert.deepEqual(pick({ label: ['tier'] }), [true, true, false]);
  assert.deepEqual(pick({ label: ['tier=web'] }), [true, false, false]);
  assert.deepEqual(pick({ label: ['tier=web', 'keep'] }), [true, false, false]);
  assert.deepEqual(pick({ label: ['tier=db', 'keep'] }), [false, false, false]);
  assert.deepEqual(pick({ 'label!': ['keep'] }), [false, true, true]);
  assert.deepEqual(pick({ 'label!': ['tier=db'] }), [true, false, true]);
  assert.deepEqual(pick({ 'label!': ['tier=web', 'keep'] }), [false, true, true]);
  assert.deepEqual(pick({ 'label!': ['tier=web', 'other'] }), [true, true, true]);
  assert.deepEqual(pick({ label: ['tier'], 'label!': ['tier=db'], until: ['30s'] }), [true, false, false]);
});
