import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { MetadataStore, SCHEMA_VERSION } from './metadata-store.ts';

test('a new database is migrated to the current schema; a newer one is refused', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'berth-snapmeta-'));
  try {
    const path = join(dir, 'metadata.db');
    const m = new MetadataStore(path);
    const row = m.insert('a', null, 'active', { x: 'y' }, '2024-01-01T00:00:00.000Z');
    assert.deepEqual(m.get('a'), row);
    m.close();
    const raw = new DatabaseSync(path);
    assert.equal((raw.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SCHEMA_VERSION);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(
      () => new MetadataStore(path),
      (e: unknown) => isBerthError(e, ErrorCode.FailedPrecondition) && /newer/.test(e.message),
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a failed transaction leaves nothing behind', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'berth-snapmeta-'));
  const m = new MetadataStore(join(dir, 'metadata.db'));
  try {
    assert.throws(() =>
      m.tx(() => {
        m.insert('gone', null, 'active', {}, 'now');
        throw new Error('boom');
      }),
    );
    assert.equal(m.get('gone'), undefined);
    assert.throws(() => m.insert('bad', null, 'weird' as 'active', {}, 'now'), /CHECK constraint/);
  } finally {
    m.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
