import assert from 'node:assert/strict';
import { test } from 'node:test';
import { documentedErrorCodes } from '../../test/lib/error-docs.ts';
import { ErrorCode } from './errors.ts';

test('every code in errors.ts is documented in docs/errors.md, and the table names no other', () => {
  const documented = [...documentedErrorCodes().keys()];
  const defined: string[] = Object.values(ErrorCode);
  assert.deepEqual(
    defined.filter((c) => !documented.includes(c)),
    [],
    'codes without a row in docs/errors.md',
  );
  assert.deepEqual(
    documented.filter((c) => !defined.includes(c)),
    [],
    'rows in docs/errors.md for codes errors.ts does not define',
  );
});
