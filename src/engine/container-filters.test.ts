import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { matchesFilters } from './container-filters.ts';

const row = {
  id: 'abcdef0123',
  name: 'web-1',
  status: 'stopped',
  labels: { tier: 'front', solo: '' },
  imageRef: 'busybox:latest',
  imageId: 'sha256:feed',
  exitCode: 3,
  runtime: 'runc',
} as const;
const m = (filters: Record<string, string[]>) => matchesFilters(row, filters);

test("docker's ps filters over a row: values of a key are alternatives, keys must all hold", () => {
  assert.equal(m({}), true);
  assert.equal(m({ id: ['abc'] }), true);
  assert.equal(m({ id: ['bcd'] }), false, 'an id matches by prefix');
  assert.equal(m({ name: ['eb-'] }), true, 'a name by substring');
  assert.equal(m({ status: ['exited'] }), true, "docker's word for stopped");
  assert.equal(m({ status: ['running', 'stopped'] }), true);
  assert.equal(m({ status: ['running'] }), false);
  assert.equal(m({ label: ['tier'] }), true);
  assert.equal(m({ label: ['tier=front'] }), true);
  assert.equal(m({ label: ['tier=back'] }), false);
  assert.equal(m({ label: ['solo='] }), true);
  assert.equal(m({ ancestor: ['busybox:latest'] }), true);
  assert.equal(m({ ancestor: ['feed'] }), true);
  assert.equal(m({ ancestor: ['sha256:fe'] }), true);
  assert.equal(m({ exited: ['3'] }), true);
  assert.equal(m({ exited: ['0'] }), false);
  assert.equal(m({ runtime: ['runc'], label: ['tier=front'] }), true);
  assert.equal(m({ runtime: ['crun'], label: ['tier=front'] }), false);
  assert.equal(m({ name: [] }), true, 'a key without values does not filter');
});

test('an unknown filter key is refused, naming the keys there are', () => {
  assert.throws(
    () => m({ colour: ['red'] }),
    (e: unknown) =>
      isBerthError(e, ErrorCode.InvalidArgument) &&
      /filter "colour": expected one of id, name, status, label, ancestor, exited, runtime/.test((e as Error).message),
  );
});

test("health: the recorded status of a container with a healthcheck, none for one without; docker's values only", () => {
  const on = {
    ...row,
    health: { status: 'healthy' as const, failingStreak: 0, log: [] },
    config: { request: { image: 'b', healthcheck: { test: ['CMD', 'true'] } }, spec: {} },
  };
  const off = { ...row, health: null, config: { request: { image: 'b', healthcheck: { test: ['NONE'] } }, spec: {} } };
  assert.equal(matchesFilters(on, { health: ['healthy'] }), true);
  assert.equal(matchesFilters(on, { health: ['none', 'starting'] }), false);
  assert.equal(matchesFilters(off, { health: ['none'] }), true);
  assert.equal(matchesFilters(row, { health: ['none'] }), true);
  assert.throws(() => matchesFilters(row, { health: ['sick'] }), /Unrecognised filter value for health: sick/);
});
