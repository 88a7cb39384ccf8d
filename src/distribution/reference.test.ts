import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { familiarReference, formatReference, parseReference } from './reference.ts';

const hex = 'b'.repeat(64);

describe('parseReference', () => {
  const good: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['user/app:v1', 'docker.io/user/app:v1'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['localhost:5000/x/y:tag', 'localhost:5000/x/y:tag'],
    ['localhost/x', 'localhost/x:latest'],
    ['127.0.0.1:5000/a', '127.0.0.1:5000/a:latest'],
    [`ghcr.io/o/r@sha256:${hex}`, `ghcr.io/o/r@sha256:${hex}`],
    [`ghcr.io/o/r:t@sha256:${hex}`, `ghcr.io/o/r:t@sha256:${hex}`],
    ['quay.io/a.b/c__d-e', 'quay.io/a.b/c__d-e:latest'],
  ];
  for (const [input, want] of good)
    it(`parses ${input}`, () => assert.equal(formatReference(parseReference(input)), want));

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['Busybox', /lowercase/],
    ['busybox:', /tag "" is invalid/],
    ['busybox:-x', /tag "-x" is invalid/],
    ['busybox@sha256:abc', /malformed/],
    ['busybox@md5:abc', /not supported/],
    ['a//b', /component "" is invalid/],
    ['a/b_', /component "b_" is invalid/],
    ['local host/x', /whitespace/],
    [':tag', /missing repository/],
    ['bad_host:5000/x', /not a valid host/],
  ];
  for (const [input, re] of bad)
    it(`rejects "${input}"`, () =>
      assert.throws(
        () => parseReference(input),
        (e: unknown) =>
          isBerthError(e, ErrorCode.InvalidArgument) &&
          re.test((e as Error).message) &&
          (e as Error).message.includes(`"${input}"`),
      ));

  it('gives the familiar name', () => {
    assert.equal(familiarReference(parseReference('busybox')), 'busybox:latest');
    assert.equal(familiarReference(parseReference('user/app:1')), 'user/app:1');
    assert.equal(familiarReference(parseReference('localhost:5000/a')), 'localhost:5000/a:latest');
  });
});
