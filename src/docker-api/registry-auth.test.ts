import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registryAuthHeader, registryConfigHeader } from './registry-auth.ts';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

test('X-Registry-Auth: username/password, auth, identitytoken; {} is anonymous; bad input named without the secret', () => {
  assert.deepEqual(registryAuthHeader(b64url({ username: 'alice', password: 's3cret', serveraddress: 'r:5000' })), {
    username: 'alice',
    password: 's3cret',
  });
  assert.deepEqual(registryAuthHeader(b64url({ auth: Buffer.from('bob:p:w').toString('base64') })), {
    username: 'bob',
    password: 'p:w',
  });
  assert.deepEqual(registryAuthHeader(b64url({ username: 'carol', identitytoken: 'refresh' })), {
    username: 'carol',
    password: '',
    identityToken: 'refresh',
  });
  // The standard alphabet with padding, as older clients write it.
  assert.deepEqual(
    registryAuthHeader(Buffer.from(JSON.stringify({ username: 'a', password: 'b' })).toString('base64')),
    {
      username: 'a',
      password: 'b',
    },
  );
  assert.equal(registryAuthHeader(b64url({})), undefined);
  assert.equal(registryAuthHeader(undefined), undefined);
  assert.throws(() => registryAuthHeader('%%%'), /X-Registry-Auth: not base64 of JSON/);
  assert.throws(() => registryAuthHeader(b64url([1])), /X-Registry-Auth: expected an auth config object/);
  assert.throws(
    () => registryAuthHeader(b64url({ username: 'alice', password: '' })),
    (e: Error) => /username and password go together/.test(e.message) && !e.message.includes('alice'),
  );
  assert.throws(
    () => registryAuthHeader(b64url({ auth: Buffer.from('nocolon-s3cret').toString('base64') })),
    (e: Error) => /auth is not base64 of "username:password"/.test(e.message) && !e.message.includes('s3cret'),
  );
});

test('X-Registry-Config: one auth config per registry, Docker Hub as docker.io; empty entries left out; bad input named', () => {
  const header = b64url({
    'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:p:w?>').toString('base64') },
    'localhost:5000': { username: 'alice', password: 's3cret', serveraddress: 'localhost:5000' },
    'tokens.example': { identitytoken: 'abc' },
    'empty.example': {},
  });
  assert.deepEqual(registryConfigHeader(header), {
    'docker.io': { username: 'hubuser', password: 'p:w?>' },
    'localhost:5000': { username: 'alice', password: 's3cret' },
    'tokens.example': { username: '', password: '', identityToken: 'abc' },
  });
  assert.equal(registryConfigHeader(b64url({})), undefined);
  assert.equal(registryConfigHeader(undefined), undefined);
  assert.throws(() => registryConfigHeader('not base64 json!'), /X-Registry-Config: not base64 of JSON/);
  assert.throws(
    () => registryConfigHeader(b64url({ r: 'x' })),
    /X-Registry-Config "r": expected an auth config object/,
  );
});
