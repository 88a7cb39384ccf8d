import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StateStore } from './state-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the state directories are 0700 and state.json 0600, as runc's (the spec in it holds the env)", () => {
  const root = join(dir, 'root');
  const s = new StateStore(root);
  const d = s.reserve('c1');
  s.save({ version: 1, id: 'c1' } as unknown as Parameters<StateStore['save']>[0]);
  assert.equal(statSync(root).mode & 0o7777, 0o700);
  assert.equal(statSync(d).mode & 0o7777, 0o700);
  assert.equal(statSync(join(d, 'state.json')).mode & 0o7777, 0o600);
});
