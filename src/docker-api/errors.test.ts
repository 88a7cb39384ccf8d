import assert from 'node:assert/strict';
import { test } from 'node:test';
import { documentedErrorCodes } from '../../test/lib/error-docs.ts';
import { BerthError, type ErrorCode } from '../errors/errors.ts';
import { dockerStatusOf } from './errors.ts';

test('each code answers with the Docker API status docs/errors.md gives it; a foreign error is 500', () => {
  for (const [code, cells] of documentedErrorCodes()) {
    assert.equal(String(dockerStatusOf(new BerthError(code as ErrorCode, 'x'))), cells.at(-1), code);
  }
  assert.equal(dockerStatusOf(new Error('raw')), 500);
});
