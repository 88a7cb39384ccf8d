import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTAINER_NAME, generateName } from './container-names.ts';

test('a generated name is adjective_noun, valid, and not one that is taken', () => {
  const n = generateName(() => false);
  assert.match(n, /^[a-z]+_[a-z]+$/);
  assert.ok(CONTAINER_NAME.test(n));
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const m = generateName((x) => seen.has(x));
    assert.ok(!seen.has(m), `${m} drawn twice`);
    seen.add(m);
  }
});

test('after ten taken draws the name gets a number; when all are taken, a random hex name', () => {
  let calls = 0;
  assert.match(
    generateName(() => ++calls <= 11),
    /^[a-z]+_[a-z]+_11$/,
  );
  assert.match(
    generateName(() => true),
    /^berth_[0-9a-f]{8}$/,
  );
});
