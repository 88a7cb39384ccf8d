import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { MetadataStore, migrate } from './metadata-store.ts';
import { MIGRATIONS } from './migrations.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-pods-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const pod = (id: string, name: string) => ({
  id,
  name,
  config: { hostname: name },
  labels: { app: 'web' },
  runtime: 'berth-runtime',
  createdAt: new Date().toISOString(),
});

test('migration 6 adds pods to a version-5 database and keeps its containers', () => {
  const path = join(dir, 'v5.db');
  const old = new DatabaseSync(path);
  migrate(
    old,
    MIGRATIONS.filter((m) => m.version <= 5),
  );
  old
    .prepare(
      "INSERT INTO containers (id, name, image_ref, image_id, config, runtime, snapshot_key, created_at) VALUES ('c1', 'old', 'busybox', 'sha256:bb', '{}', 'runc', 'k', '2020-01-01T00:00:00Z')",
    )
    .run();
  old.close();
  const s = new MetadataStore(path);
  try {
    assert.equal(s.schemaVersion, MetadataStore.latestVersion);
    assert.equal(s.getContainer('c1').name, 'old');
    assert.deepEqual(s.pods.list(), []);
    s.pods.insert(pod('p1', 'a_default_uid_0'));
    assert.equal(s.pods.get('p1').state, 'notready', 'a new row is not ready until its pause process runs');
  } finally {
    s.close();
  }
});

test('pods: unique names, find by prefix, state updates survive a reopen, delete', () => {
  const path = join(dir, 'p.db');
  let s = new MetadataStore(path);
  s.pods.insert(pod('abc111', 'web_ns_u1_0'));
  s.pods.insert(pod('abc222', 'db_ns_u2_0'));
  assert.throws(
    () => s.pods.insert(pod('ffff', 'web_ns_u1_0')),
    (e) => isBerthError(e, 'BERTH_ERR_ALREADY_EXISTS') && /web_ns_u1_0/.test(e.message) && /abc111/.test(e.message),
  );
  assert.equal(s.pods.find('abc1').id, 'abc111');
  assert.equal(s.pods.find('db_ns_u2_0').id, 'abc222');
  assert.throws(
    () => s.pods.find('abc'),
    (e) => isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') && /ambiguous/.test(e.message),
  );
  assert.throws(
    () => s.pods.get('nope'),
    (e) => isBerthError(e, 'BERTH_ERR_NOT_FOUND') && /nope/.test(e.message),
  );
  s.pods.update('abc111', {
    state: 'ready',
    pid: 42,
    shimPid: 41,
    netns: '/run/x/netns/abc111',
    network: { ips: ['10.0.0.2'] },
  });
  s.close();
  s = new MetadataStore(path);
  try {
    const p = s.pods.get('abc111');
    assert.deepEqual(
      [p.state, p.pid, p.shimPid, p.netns, p.network],
      ['ready', 42, 41, '/run/x/netns/abc111', { ips: ['10.0.0.2'] }],
    );
    assert.deepEqual(p.labels, { app: 'web' });
    assert.deepEqual(p.config, { hostname: 'web_ns_u1_0' });
    s.pods.delete('abc111');
    s.pods.delete('abc111');
    assert.deepEqual(
      s.pods.list().map((x) => x.id),
      ['abc222'],
    );
    assert.throws(
      () => s.pods.update('abc111', { state: 'notready' }),
      (e) => isBerthError(e, 'BERTH_ERR_NOT_FOUND'),
    );
  } finally {
    s.close();
  }
});
