import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStreamAddress } from './stream-requests.ts';

test('--stream-address: HOST:PORT, [V6]:PORT; anything else names the field and the form', () => {
  assert.deepEqual(parseStreamAddress('127.0.0.1:0', 'f'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseStreamAddress('localhost:10010', 'f'), { host: 'localhost', port: 10010 });
  assert.deepEqual(parseStreamAddress('[::1]:8443', 'f'), { host: '::1', port: 8443 });
  for (const bad of ['127.0.0.1', ':80', '127.0.0.1:70000', '::1:80', 'a:b', '']) {
    assert.throws(
      () => parseStreamAddress(bad, '--stream-address'),
      (e: Error) => e.message.startsWith(`--stream-address: ${JSON.stringify(bad)} (expected HOST:PORT`),
      bad,
    );
  }
});
