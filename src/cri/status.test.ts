import assert from 'node:assert/strict';
import { test } from 'node:test';
import { documentedErrorCodes } from '../../test/lib/error-docs.ts';
import { BerthError, type ErrorCode } from '../errors/errors.ts';
import { grpcErrorOf } from './status.ts';

test('each code answers with the CRI gRPC status docs/errors.md gives it; a foreign error is Unknown', () => {
  for (const [code, cells] of documentedErrorCodes()) {
    const want = /\((\d+)\)/.exec(cells.at(-3) ?? '')?.[1];
    assert.equal(String(grpcErrorOf(new BerthError(code as ErrorCode, 'x')).code), want, code);
  }
  assert.equal(grpcErrorOf(new Error('raw')).code, 2);
});
