import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyWhiteout, normalizeEntryPath } from './entry-path.ts';

test('normalizeEntryPath keeps names inside the root', () => {
  const ok = (name: string, parts: string[]) =>
    assert.deepEqual(normalizeEntryPath(name, 4096), { ok: true, parts }, name);
  ok('etc/passwd', ['etc', 'passwd']);
  ok('./etc//passwd', ['etc', 'passwd']);
  ok('usr/lib/../bin/sh', ['usr', 'bin', 'sh']);
  ok('dir/', ['dir']);
  ok('./', []);
  ok('a/..', []);
});

test('normalizeEntryPath refuses names that leave the root or break limits', () => {
  const bad = (name: string, reason: RegExp, max = 4096) => {
    const r = normalizeEntryPath(name, max);
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.match(r.reason, reason, name);
  };
  bad('../etc/passwd', /climbs above/);
  bad('a/../../b', /climbs above/);
  bad('..', /climbs above/);
  bad('/etc/shadow', /absolute/);
  bad('', /empty/);
  bad('a\0b', /NUL/);
  bad('x'.repeat(256), /longer than 255/);
  bad('abcdef', /longer than 5 bytes/, 5);
  bad('é'.repeat(3), /longer than 5 bytes/, 5);
});

test('classifyWhiteout', () => {
  assert.deepEqual(classifyWhiteout('file'), { kind: 'none' });
  assert.deepEqual(classifyWhiteout('.wh..wh..opq'), { kind: 'opaque' });
  assert.deepEqual(classifyWhiteout('.wh..wh.plnk'), { kind: 'aufs-meta' });
  assert.deepEqual(classifyWhiteout('.wh.gone'), { kind: 'whiteout', name: 'gone' });
  assert.deepEqual(classifyWhiteout('.wh..hidden'), { kind: 'whiteout', name: '.hidden' });
  assert.equal(classifyWhiteout('.wh.').kind, 'invalid');
  assert.equal(classifyWhiteout('.wh..').kind, 'invalid');
  assert.equal(classifyWhiteout('.wh...').kind, 'invalid');
});
