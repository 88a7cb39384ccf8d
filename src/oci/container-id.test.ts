import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { isValidContainerId, validateContainerId } from './container-id.ts';

test('container ids: an alphanumeric first, then alphanumerics, "_", "." or "-", at most 128', () => {
  for (const ok of ['a', 'c1', 'A.b_c-d', 'x'.repeat(128), 'f'.repeat(64), 'k8s_pod.1'])
    assert.equal(isValidContainerId(ok), true, ok);
  for (const bad of ['', '.', '..', '-x', '_x', '.hidden', 'a/b', '../x', 'a b', 'a+b', 'x'.repeat(129), 'é', 'a\0']) {
    assert.equal(isValidContainerId(bad), false, bad);
    assert.throws(
      () => validateContainerId(bad),
      (e) => isBerthError(e, ErrorCode.InvalidArgument) && /container id/.test(e.message),
      bad,
    );
  }
  assert.equal(isValidContainerId(42), false);
});
