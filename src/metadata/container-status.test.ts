import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import {
  CONTAINER_STATUSES,
  canExec,
  canPause,
  canRemove,
  canSignal,
  canStart,
  canTransition,
  canUnpause,
  checkTransition,
  isLive,
} from './container-status.ts';

const table = (f: (s: (typeof CONTAINER_STATUSES)[number]) => boolean) => CONTAINER_STATUSES.filter(f);

test('the questions asked of a status', () => {
  assert.deepEqual(table(isLive), ['running', 'paused']);
  assert.deepEqual(table(canStart), ['created', 'stopped']);
  assert.deepEqual(table(canPause), ['running']);
  assert.deepEqual(table(canUnpause), ['paused']);
  assert.deepEqual(table(canExec), ['running']);
  assert.deepEqual(table(canSignal), ['running', 'paused']);
  assert.deepEqual(
    table((s) => canRemove(s, false)),
    ['created', 'stopped'],
  );
  assert.deepEqual(
    table((s) => canRemove(s, true)),
    CONTAINER_STATUSES,
  );
});

test('the transitions: start, pause, unpause, exit; nothing back to created, no exit without a task', () => {
  const all = CONTAINER_STATUSES.flatMap((from) =>
    CONTAINER_STATUSES.filter((to) => from !== to && canTransition(from, to)).map((to) => `${from}→${to}`),
  );
  assert.deepEqual(all, [
    'created→running',
    'running→paused',
    'running→stopped',
    'paused→running',
    'paused→stopped',
    'stopped→running',
  ]);
  for (const s of CONTAINER_STATUSES) assert.ok(canTransition(s, s), `${s} again (other fields change)`);
});

test('a refused transition is a failed precondition naming the container and what was expected', () => {
  // The race the engine guards against: a pause recorded after the task's exit.
  assert.throws(
    () => checkTransition('web', 'stopped', 'paused'),
    (e: unknown) =>
      isBerthError(e, ErrorCode.FailedPrecondition) &&
      /container web is stopped: it cannot become paused \(expected running\)/.test((e as Error).message),
  );
  assert.throws(() => checkTransition('web', 'created', 'stopped'), /expected running or paused/);
  checkTransition('web', 'paused', 'stopped');
});
