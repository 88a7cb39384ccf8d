import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamTokens } from './stream-tokens.ts';

test('a token is taken once, and not after it expired', () => {
  let now = 1000;
  const t = new StreamTokens<string>({ ttlMs: 60_000, now: () => now });
  const a = t.issue('a');
  const b = t.issue('b');
  assert.match(a, /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(a, b);
  assert.equal(t.take(a), 'a');
  assert.equal(t.take(a), undefined, 'a second use is refused');
  now += 60_000;
  assert.equal(t.take(b), undefined, 'expired after a minute');
  assert.equal(t.take('nonsense'), undefined);
});

test('at most `max` tokens wait; expired ones make room', () => {
  let now = 0;
  const t = new StreamTokens<number>({ max: 2, ttlMs: 10, now: () => now });
  t.issue(1);
  t.issue(2);
  assert.throws(() => t.issue(3), /2 stream requests are waiting/);
  now = 10;
  assert.equal(t.size, 0);
  t.issue(3);
});
