import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildOptionsOf } from './build.ts';

test("build query: docker's JSON parameters become the builder's options; what berthd cannot honour is refused naming it", () => {
  const q = new URLSearchParams({
    buildargs: '{"A":"1","B":null}',
    labels: '{"l":"v"}',
    dockerfile: 'sub/Df',
    target: 't',
    nocache: '1',
    networkmode: 'none',
    rm: '1',
    memory: '0',
    ulimits: 'null',
    cachefrom: '[]',
    version: '1',
  });
  q.append('t', 'a:1');
  q.append('t', 'b');
  assert.deepEqual(buildOptionsOf(q), {
    tags: ['a:1', 'b'],
    buildArgs: { A: '1' },
    labels: { l: 'v' },
    noCache: true,
    pull: false,
    dockerfile: 'sub/Df',
    target: 't',
    network: 'none',
  });
  assert.throws(
    () => buildOptionsOf(new URLSearchParams({ buildargs: '{"A":1}' })),
    /buildargs=.*expected a JSON object of strings/,
  );
  assert.throws(() => buildOptionsOf(new URLSearchParams({ labels: '{' })), /labels=.*not JSON/);
  assert.throws(() => buildOptionsOf(new URLSearchParams({ version: '2' })), /BuildKit.*DOCKER_BUILDKIT=0/);
  assert.throws(
    () => buildOptionsOf(new URLSearchParams({ memory: '1000000' })),
    /memory=1000000: not supported by berthd/,
  );
  assert.throws(() => buildOptionsOf(new URLSearchParams({ rm: '0' })), /rm=false: not supported/);
  assert.throws(() => buildOptionsOf(new URLSearchParams({ cachefrom: '["x"]' })), /cache-from: not supported/);
});
