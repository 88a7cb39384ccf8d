import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTAINER_NAME, endpointDnsNames, generateName } from './container-names.ts';

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

test("endpointDnsNames: dockerd's DNSNames order (name, aliases, short ID, hostname), each once", () => {
  const id = `35de8003b19e${'0'.repeat(52)}`;
  assert.deepEqual(endpointDnsNames({ id, name: 'foobar', hostname: 'baz' }, ['myctr']), [
    'foobar',
    'myctr',
    '35de8003b19e',
    'baz',
  ]);
  assert.deepEqual(endpointDnsNames({ id, name: 'web', hostname: '35de8003b19e' }, ['web', 'www']), [
    'web',
    'www',
    '35de8003b19e',
  ]);
});
