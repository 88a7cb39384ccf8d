import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { chainIds } from './chain-id.ts';

// The diff_ids of the image spec's config.md example, plus the empty layer; the expected values were
// computed with sha256sum(1), independently of this code.
const A = 'sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1';
const B = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
const C = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('ChainID(L0) is DiffID(L0); later ones hash the previous chain ID, a space and the DiffID', () => {
  assert.deepEqual(chainIds([A, B, C]), [
    A,
    'sha256:c3191d32a37d7159b2e30830937d2e30268ad6c375a773a8994911a3aba9b93f',
    'sha256:6f0a0696263337b2d736479620d499fcbfdcaabd531638e8a7591dacf9797635',
  ]);
  assert.deepEqual(chainIds([]), []);
  // Order matters: B|A is a different stack.
  assert.notEqual(chainIds([B, A])[1], chainIds([A, B])[1]);
});

test('chainIds refuses something that is not a digest, naming its index', () => {
  assert.throws(
    () => chainIds([A, '../etc']),
    (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && /diff_ids\[1\]/.test(e.message),
  );
});
