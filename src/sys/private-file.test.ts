import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { makeDatabaseFilePrivate, setModeNoFollow } from './private-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-private-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const modeOf = (p: string) => statSync(p).mode & 0o7777;

function writeWal(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS t (v TEXT); INSERT INTO t VALUES ('secret')");
  return db;
}

test('a new database and the -wal and -shm files SQLite makes later are 0600, whatever the umask', () => {
  const path = join(dir, 'fresh.db');
  const old = process.umask(0);
  let db: DatabaseSync | undefined;
  try {
    makeDatabaseFilePrivate(path);
    db = writeWal(path);
    for (const p of [path, `${path}-wal`, `${path}-shm`]) assert.equal(modeOf(p), 0o600, p);
  } finally {
    db?.close();
    process.umask(old);
  }
});

test('an existing database written with 0644 files is repaired to 0600, -wal and -shm too', () => {
  const path = join(dir, 'old.db');
  const db = writeWal(path);
  try {
    for (const p of [path, `${path}-wal`, `${path}-shm`]) chmodSync(p, 0o644);
    makeDatabaseFilePrivate(path);
    for (const p of [path, `${path}-wal`, `${path}-shm`]) assert.equal(modeOf(p), 0o600, p);
  } finally {
    db.close();
  }
});

test('setModeNoFollow never changes what a symbolic link points to', () => {
  const target = join(dir, 'target');
  writeFileSync(target, 'x', { mode: 0o644 });
  chmodSync(target, 0o644);
  const link = join(dir, 'link');
  symlinkSync(target, link);
  assert.throws(() => setModeNoFollow(link, 0o600), { code: 'ELOOP' });
  assert.equal(modeOf(target), 0o644);
  assert.equal(setModeNoFollow(join(dir, 'absent'), 0o600), undefined);
  assert.equal((setModeNoFollow(target, 0o600)?.mode ?? 0) & 0o777, 0o644, 'returns the stat from before');
  assert.equal(modeOf(target), 0o600);
});
