import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildOptionsOf, registryAuthOf } from './build.ts';

const b64url = (v: unknown) =>
  Buffer.from(JSON.stringify(v)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

test('X-Registry-Config: auth or username/password per registry, Docker Hub as docker.io; token-only entries left out; bad input named', () => {
  const header = b64url({
    'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:p:w?>').toString('base64') },
    'localhost:5000': { username: 'alice', password: 's3cret', serveraddress: 'localhost:5000' },
    'tokens.example': { identitytoken: 'abc' },
  });
  assert.deepEqual(registryAuthOf(header), {
    'docker.io': { username: 'hubuser', password: 'p:w?>' },
    'localhost:5000': { username: 'alice', password: 's3cret' },
  });
  assert.equal(registryAuthOf(b64url({})), undefined);
  assert.equal(registryAuthOf(undefined), undefined);
  assert.throws(() => registryAuthOf('not base64 json!'), /X-Registry-Config: not base64 of JSON/);
  assert.throws(() => registryAuthOf(b64url({ r: 'x' })), /X-Registry-Config "r": expected an auth config object/);
});

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
