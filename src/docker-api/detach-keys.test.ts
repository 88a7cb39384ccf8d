import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError, ErrorCode } from '../errors/errors.ts';
import { attachDetachKeys, DEFAULT_DETACH_KEYS, detachKeyBytes } from './detach-keys.ts';

test("docker's key specs: single characters, ctrl- names and DEL, comma-separated", () => {
  assert.deepEqual([...detachKeyBytes('ctrl-p,ctrl-q')], [16, 17]);
  assert.deepEqual([...detachKeyBytes('ctrl-x,x')], [24, 120]);
  assert.deepEqual(
    [...detachKeyBytes('ctrl-@,ctrl-a,ctrl-z,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')],
    [0, 1, 26, 27, 28, 29, 30, 31],
  );
  assert.deepEqual([...detachKeyBytes('DEL,a')], [127, 97]);
  assert.deepEqual([...detachKeyBytes('q')], [113]);
});

test('a spec naming an unknown key is refused as moby/term words it', () => {
  assert.throws(() => detachKeyBytes('ctrl-1'), { message: "Unknown character: 'ctrl-1'" });
  assert.throws(() => detachKeyBytes('ctrl-P'), { message: "Unknown character: 'ctrl-P'" });
  assert.throws(() => detachKeyBytes('a,,b'), { message: "Unknown character: ''" });
  assert.throws(() => detachKeyBytes('é'), { message: "Unknown character: 'é'" }, 'one character of two bytes');
  assert.throws(() => detachKeyBytes(Array(65).fill('a').join(',')), /65 keys, at most 64/);
});

test('an attach watches a terminal only, with ctrl-p,ctrl-q when no spec is given; a bad spec is 400 in dockerd words', () => {
  assert.deepEqual(attachDetachKeys(undefined, true, 'detach'), DEFAULT_DETACH_KEYS);
  assert.deepEqual(attachDetachKeys('', true, 'detach'), DEFAULT_DETACH_KEYS);
  assert.deepEqual([...attachDetachKeys('ctrl-e', true, 'detach')!], [5]);
  assert.equal(attachDetachKeys('ctrl-e', false, 'detach'), undefined);
  for (const [what, words] of [
    ['detach', 'Invalid detach keys (x,ctrl-) provided'],
    ['escape', 'Invalid escape keys (x,ctrl-) provided'],
  ] as const) {
    // Refused with or without a terminal, as dockerd parses before it looks at the container.
    for (const tty of [true, false]) {
      try {
        attachDetachKeys('x,ctrl-', tty, what);
        assert.fail('accepted');
      } catch (e) {
        assert.ok(isBerthError(e, ErrorCode.InvalidArgument));
        assert.equal((e as Error).message, words);
      }
    }
  }
});
