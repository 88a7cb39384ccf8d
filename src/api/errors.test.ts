import assert from 'node:assert/strict';
import { test } from 'node:test';
import { documentedErrorCodes } from '../../test/lib/error-docs.ts';
import { BerthError, ErrorCode, notFound } from '../errors/errors.ts';
import { codeFromResponse, errorCodeOf, httpStatusOf, streamErrorLine } from './errors.ts';

test('each code answers with the native API status docs/errors.md gives it', () => {
  for (const [code, cells] of documentedErrorCodes()) {
    assert.equal(String(httpStatusOf(new BerthError(code as ErrorCode, 'x'))), cells.at(-2), code);
  }
});

test('a stream that fails with a raw Node error ends with BERTH_ERR_INTERNAL, never the errno name', () => {
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/x/c1-json.log'"), {
    code: 'ENOENT',
  });
  assert.deepEqual(streamErrorLine(enoent), { error: enoent.message, code: ErrorCode.Internal });
  assert.deepEqual(streamErrorLine(notFound('container c1: not found')), {
    error: 'container c1: not found',
    code: ErrorCode.NotFound,
  });
  assert.deepEqual(streamErrorLine('plain'), { error: 'plain', code: ErrorCode.Internal });
  assert.equal(errorCodeOf(enoent), ErrorCode.Internal);
});

test('the client reads an unknown code in a stream or header as internal', () => {
  assert.equal(codeFromResponse(500, 'ENOENT'), ErrorCode.Internal);
  assert.equal(codeFromResponse(500, ErrorCode.NotFound), ErrorCode.NotFound);
  assert.equal(codeFromResponse(404, undefined), ErrorCode.NotFound);
});
