import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GLOBAL_FLAGS, parseFlags, VERB_FLAGS } from './args.ts';

describe('runc-style flags', () => {
  it('takes global flags before the verb in every form containerd and conmon use', () => {
    const p = parseFlags(
      ['--root', '/r', '-log=/l', '--log-format', 'json', '--debug', 'create', '--bundle', 'x', 'id'],
      GLOBAL_FLAGS,
      true,
    );
    assert.deepEqual(p.flags, { root: '/r', log: '/l', 'log-format': 'json', debug: true });
    assert.deepEqual(p.rest, ['create', '--bundle', 'x', 'id']);
  });
  it('parses verb flags around positionals, with aliases and ints', () => {
    const p = parseFlags(['-b', '/b', 'id1', '--preserve-fds=2', '--no-pivot', '-d'], VERB_FLAGS.run!, false);
    assert.deepEqual(p.flags, { bundle: '/b', 'preserve-fds': 2, 'no-pivot': true, detach: true });
    assert.deepEqual(p.rest, ['id1']);
  });
  it('names the flag in errors', () => {
    assert.throws(() => parseFlags(['--nope'], VERB_FLAGS.create!, false), /flag provided but not defined: -nope/);
    assert.throws(
      () => parseFlags(['--preserve-fds', 'x'], VERB_FLAGS.create!, false),
      /-preserve-fds: expected a non-negative integer/,
    );
    assert.throws(() => parseFlags(['--bundle'], VERB_FLAGS.create!, false), /flag needs an argument: -bundle/);
  });
  it('collects repeated flags and stops at the command for exec', () => {
    const p = parseFlags(
      ['-e', 'A=1', '--env=B=2', '--cap', 'CAP_KILL', 'c1', 'sh', '-c', 'echo -e x'],
      VERB_FLAGS.exec!,
      true,
    );
    assert.deepEqual(p.flags, { env: ['A=1', 'B=2'], cap: ['CAP_KILL'] });
    assert.deepEqual(p.rest, ['c1', 'sh', '-c', 'echo -e x']);
  });
  it('keeps a signal after the id for kill', () => {
    assert.deepEqual(parseFlags(['c1', 'KILL'], VERB_FLAGS.kill!, false).rest, ['c1', 'KILL']);
  });
});
