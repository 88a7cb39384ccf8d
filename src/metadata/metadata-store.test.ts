import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { type ContainerRecord, MetadataStore, migrate } from './metadata-store.ts';
import { MIGRATIONS } from './migrations.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-meta-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const base = (id: string, name: string) =>
  ({
    id,
    name,
    imageRef: 'busybox:latest',
    imageId: 'sha256:aa',
    imageDigest: 'sha256:bb',
    config: { request: { cmd: ['true'] } },
    labels: { a: 'b' },
    runtime: 'berth-runtime',
    snapshotKey: `container-${id}`,
    createdAt: new Date().toISOString(),
    restartPolicy: 'no',
    restartMax: 0,
  }) as const;

test('a fresh database is at the latest version, in WAL mode with synchronous=FULL, and only its owner reads it', () => {
  const s = new MetadataStore(join(dir, 'fresh.db'));
  try {
    s.db.exec('CREATE TABLE IF NOT EXISTS probe (v TEXT); INSERT INTO probe VALUES (1)');
    for (const f of ['fresh.db', 'fresh.db-wal', 'fresh.db-shm'])
      assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.equal(s.schemaVersion, MetadataStore.latestVersion);
    assert.equal((s.db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
    assert.equal((s.db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous, 2);
  } finally {
    s.close();
  }
});

test('a version-1 database is migrated with its rows kept and new columns defaulted', () => {
  const path = join(dir, 'old.db');
  const old = new DatabaseSync(path);
  assert.deepEqual(migrate(old, MIGRATIONS.slice(0, 1)), [1]);
  old
    .prepare(
      "INSERT INTO containers (id, name, image_ref, image_id, config, runtime, snapshot_key, created_at, status, pid) VALUES ('abc', 'old', 'busybox', 'sha256:bb', '{}', 'runc', 'k', '2020-01-01T00:00:00Z', 'running', 42)",
    )
    .run();
  old.close();
  const s = new MetadataStore(path);
  try {
    assert.equal(s.schemaVersion, MetadataStore.latestVersion);
    const c = s.getContainer('abc');
    assert.equal(c.status, 'running');
    assert.equal(c.pid, 42);
    assert.equal(c.restartCount, 0);
    assert.equal(c.manuallyStopped, false);
    assert.deepEqual(c.labels, {});
    s.putAttachment('abc', 'berth', { ips: ['10.1.0.2'] });
    assert.deepEqual(s.attachments('abc'), [{ network: 'berth', result: { ips: ['10.1.0.2'] } }]);
    const versions = (
      s.db.prepare('SELECT version FROM migrations ORDER BY version').all() as { version: number }[]
    ).map((r) => r.version);
    assert.deepEqual(
      versions,
      MIGRATIONS.map((m) => m.version),
    );
  } finally {
    s.close();
  }
});

test('a failing migration leaves the database at the previous version', () => {
  const path = join(dir, 'fail.db');
  const db = new DatabaseSync(path);
  const broken = [
    ...MIGRATIONS.slice(0, 1),
    { version: 2, name: 'broken', sql: 'ALTER TABLE containers ADD COLUMN x INTEGER; SELECT * FROM no_such_table;' },
  ];
  assert.throws(() => migrate(db, broken));
  const cols = (db.prepare('PRAGMA table_info(containers)').all() as { name: string }[]).map((c) => c.name);
  assert.ok(!cols.includes('x'), 'the half-applied column was rolled back');
  assert.equal((db.prepare('SELECT MAX(version) AS v FROM migrations').get() as { v: number }).v, 1);
  db.close();
});

test('a database newer than this code is refused with both versions named', () => {
  const path = join(dir, 'newer.db');
  const db = new DatabaseSync(path);
  migrate(db);
  db.prepare("INSERT INTO migrations VALUES (99, 'future', 'x')").run();
  db.close();
  assert.throws(() => new MetadataStore(path), /schema version 99, newer than this berthd knows/);
});

test('containers: insert, find by name/prefix, unique names, state updates, delete cascades attachments', () => {
  const s = new MetadataStore(join(dir, 'c.db'));
  try {
    s.insertContainer(base('0123456789abcdef', 'web'));
    s.insertContainer(base('0123999999999999', 'db'));
    assert.throws(
      () => s.insertContainer(base('ffff', 'web')),
      (e) => isBerthError(e, 'BERTH_ERR_ALREADY_EXISTS') && /web/.test(e.message),
    );
    assert.equal(s.findContainer('web').id, '0123456789abcdef');
    assert.equal(s.findContainer('01234').id, '0123456789abcdef');
    assert.throws(() => s.findContainer('0123'), /ambiguous/);
    assert.throws(
      () => s.findContainer('nope'),
      (e) => isBerthError(e, 'BERTH_ERR_NOT_FOUND'),
    );
    const c: ContainerRecord = s.updateState('0123456789abcdef', {
      status: 'stopped',
      exitCode: 3,
      oomKilled: true,
      finishedAt: 'now',
    });
    assert.equal(c.status, 'stopped');
    assert.equal(c.exitCode, 3);
    assert.equal(c.oomKilled, true);
    s.putAttachment('0123456789abcdef', 'berth', {});
    s.deleteContainer('0123456789abcdef');
    assert.deepEqual(s.attachments('0123456789abcdef'), []);
    assert.equal(s.listContainers().length, 1);
  } finally {
    s.close();
  }
});

test('volumes and events', () => {
  const s = new MetadataStore(join(dir, 'v.db'));
  try {
    s.insertVolume({ name: 'data', driver: 'local', mountpoint: '/x/_data', labels: {}, createdAt: 't' });
    assert.throws(
      () => s.insertVolume({ name: 'data', driver: 'local', mountpoint: '/x', labels: {}, createdAt: 't' }),
      /already exists/,
    );
    assert.equal(s.listVolumes()[0]!.name, 'data');
    s.deleteVolume('data');
    assert.equal(s.getVolume('data'), undefined);
    s.appendEvent({ timeNano: '100', type: 'container', action: 'start', actorId: 'a', attributes: { name: 'x' } });
    s.appendEvent({ timeNano: '200', type: 'container', action: 'die', actorId: 'a', attributes: {} });
    assert.deepEqual(
      s.eventsSince('150').map((e) => e.action),
      ['die'],
    );
    // A batch: one commit, in order, and the connection is back at synchronous=FULL for state.
    const batch = s.appendEvents([
      { timeNano: '300', type: 'container', action: 'stop', actorId: 'a', attributes: {} },
      { timeNano: '400', type: 'container', action: 'destroy', actorId: 'a', attributes: { x: 'y' } },
    ]);
    assert.equal(batch[1]!.seq, batch[0]!.seq + 1);
    assert.deepEqual(
      s.eventsSince('250').map((e) => [e.action, e.attributes]),
      [
        ['stop', {}],
        ['destroy', { x: 'y' }],
      ],
    );
    assert.equal((s.db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous, 2);
  } finally {
    s.close();
  }
});

test('afterWrite runs once per committed container write, after the commit (insert, update, delete)', () => {
  const seen: string[] = [];
  let s: MetadataStore;
  s = new MetadataStore(join(dir, 'hook.db'), {
    afterWrite: (op) => {
      // The write is already visible when the hook runs: a crash here loses nothing acknowledged.
      const rows = s.listContainers();
      seen.push(`${op}:${rows.length}:${rows[0]?.status ?? '-'}`);
    },
  });
  try {
    s.insertContainer(base('h1', 'hooked'));
    s.updateState('h1', { status: 'running', pid: 7 });
    s.updateState('h1', {});
    assert.throws(() => s.updateState('nope', { status: 'stopped' }));
    s.deleteContainer('h1');
    assert.deepEqual(seen, ['insert:1:created', 'update:1:running', 'delete:0:-']);
  } finally {
    s.close();
  }
});

test('migration 10: a container row of version 9 has no health; a recorded health comes back as written', () => {
  const path = join(dir, 'v9.db');
  const old = new DatabaseSync(path);
  migrate(
    old,
    MIGRATIONS.filter((m) => m.version <= 9),
  );
  old
    .prepare(
      "INSERT INTO containers (id, name, image_ref, image_id, config, runtime, snapshot_key, created_at, status) VALUES ('h9', 'h9', 'busybox', 'sha256:bb', '{}', 'runc', 'k', '2020-01-01T00:00:00Z', 'running')",
    )
    .run();
  old.close();
  const s = new MetadataStore(path);
  try {
    assert.equal(s.schemaVersion, MetadataStore.latestVersion);
    assert.equal(s.getContainer('h9').health, null);
    const health = {
      status: 'unhealthy' as const,
      failingStreak: 3,
      log: [{ start: '2020-01-01T00:00:01Z', end: '2020-01-01T00:00:02Z', exitCode: -1, output: 'x' }],
    };
    assert.deepEqual(s.updateState('h9', { health }).health, health);
  } finally {
    s.close();
  }
  const again = new MetadataStore(path);
  try {
    assert.equal(again.getContainer('h9').health?.status, 'unhealthy');
  } finally {
    again.close();
  }
});
