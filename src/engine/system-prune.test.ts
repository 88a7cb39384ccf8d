import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../errors/errors.ts';
import { networkPruneKeep } from './system-prune.ts';
import type { NetworkInfo } from './types.ts';

const now = Date.parse('2026-03-04T12:00:00Z');
const net = (created: string, labels: Record<string, string> = {}): NetworkInfo => ({
  name: 'n',
  driver: 'bridge',
  containers: [],
  created,
  labels,
});
const twoHoursAgo = net('2026-03-04T10:00:00Z', { team: 'x' });

test("network prune's until takes a Go duration, a date or RFC 3339 time, or unix seconds (image and container prune's parser)", () => {
  const keeps = (until: string) => networkPruneKeep({ until: [until] }, now)(twoHoursAgo);
  // Created before the time until names: taken.
  assert.equal(keeps('1h'), false);
  assert.equal(keeps('1h30m'), false);
  assert.equal(keeps('90m'), false);
  assert.equal(keeps('2026-03-04T11:00:00Z'), false);
  assert.equal(keeps('2026-03-04T10:30:00+01:00'), true, 'half past nine UTC is before ten');
  assert.equal(keeps(String(Date.parse('2026-03-04T11:00:00Z') / 1000)), false);
  assert.equal(keeps('2026-03-05'), false);
  // Not before it: kept.
  assert.equal(keeps('3h'), true);
  assert.equal(keeps('2h30m'), true);
  assert.equal(keeps('2026-03-04T09:00:00.5Z'), true);
  assert.equal(keeps('2000-01-02'), true);
  // A negative duration is a time after now.
  assert.equal(networkPruneKeep({ until: ['-1h'] }, now)(net('2026-03-04T12:00:00Z')), false);
  // Made at the very time until names: taken (dockerd keeps one made after it).
  assert.equal(keeps('2026-03-04T10:00:00Z'), false);
  // No until: only labels decide.
  assert.equal(networkPruneKeep({}, now)(twoHoursAgo), false);
});

test("network prune refuses a bad until, two untils and an unknown key in dockerd's words", () => {
  for (const v of ['xyz', '1d', '2026-13-01', '1h-30m'])
    assert.throws(() => networkPruneKeep({ until: [v] }, now), {
      code: ErrorCode.InvalidArgument,
      message: `failed to parse value as time or duration: ${JSON.stringify(v)}`,
    });
  assert.throws(() => networkPruneKeep({ until: ['1h', '2h'] }, now), {
    message: 'more than one until filter specified',
  });
  assert.throws(() => networkPruneKeep({ dangling: ['true'] }, now), { message: "invalid filter 'dangling'" });
});

test('network prune labels: every label must match to be taken, and a network matching every label! is kept', () => {
  assert.equal(networkPruneKeep({ label: ['team=x'] }, now)(twoHoursAgo), false);
  assert.equal(networkPruneKeep({ label: ['team'] }, now)(twoHoursAgo), false);
  assert.equal(networkPruneKeep({ label: ['team=x', 'tier'] }, now)(twoHoursAgo), true);
  assert.equal(networkPruneKeep({ 'label!': ['team=x'] }, now)(twoHoursAgo), true);
  assert.equal(networkPruneKeep({ 'label!': ['team=x', 'tier'] }, now)(twoHoursAgo), false, 'not every one matches');
  assert.equal(networkPruneKeep({ 'label!': ['team=y'], until: ['1h'] }, now)(twoHoursAgo), false);
});
