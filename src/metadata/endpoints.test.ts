import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { MetadataStore, migrate } from './metadata-store.ts';
import { MIGRATIONS } from './migrations.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-endpoints-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const row = (id: string, name: string) => ({
  id,
  name,
  imageRef: 'busybox',
  imageId: 'sha256:bb',
  imageDigest: 'sha256:bb',
  config: {},
  labels: {},
  runtime: 'runc',
  snapshotKey: `k-${id}`,
  createdAt: '2020-01-01T00:00:00Z',
  restartPolicy: 'no' as const,
  restartMax: 0,
});

test("migration 8 reads each container's endpoint out of its request; the default network is named at open", () => {
  const path = join(dir, 'v7.db');
  const old = new DatabaseSync(path);
  migrate(
    old,
    MIGRATIONS.filter((m) => m.version <= 7),
  );
  const insert = old.prepare(
    "INSERT INTO containers (id, name, image_ref, image_id, config, runtime, snapshot_key, created_at) VALUES (?, ?, 'busybox', 'sha256:bb', ?, 'runc', ?, '2020-01-01T00:00:00Z')",
  );
  insert.run('d', 'on-default', JSON.stringify({ request: { image: 'busybox' } }), 'kd');
  insert.run('u', 'on-user', JSON.stringify({ request: { network: 'front', aliases: ['web', 'www'] } }), 'ku');
  insert.run('h', 'on-host', JSON.stringify({ request: { network: 'host' } }), 'kh');
  insert.run('n', 'on-none', JSON.stringify({ request: { network: 'none' } }), 'kn');
  insert.run('p', 'in-pod', JSON.stringify({ request: { sandbox: { podId: 'x' } } }), 'kp');
  old.close();
  const s = new MetadataStore(path);
  try {
    assert.ok(s.schemaVersion >= 8);
    assert.deepEqual(s.endpoints('d'), [{ network: '', aliases: [], ipv4Address: '' }]);
    assert.deepEqual(s.endpoints('u'), [{ network: 'front', aliases: ['web', 'www'], ipv4Address: '' }]);
    for (const id of ['h', 'n', 'p']) assert.deepEqual(s.endpoints(id), [], id);
    s.nameDefaultEndpoints('berth');
    assert.deepEqual(s.endpoints('d'), [{ network: 'berth', aliases: [], ipv4Address: '' }]);
    assert.deepEqual(s.endpoints('u')[0]?.network, 'front');
  } finally {
    s.close();
  }
});

test('endpoints keep their connection order, refuse a second connect to one network, and go with the container', () => {
  const s = new MetadataStore(join(dir, 'new.db'));
  try {
    s.insertContainer(row('c1', 'one'), [{ network: 'berth', aliases: [], ipv4Address: '' }]);
    assert.equal(s.addEndpoint('c1', { network: 'zeta', aliases: ['z'], ipv4Address: '10.1.2.3' }), true);
    assert.equal(s.addEndpoint('c1', { network: 'alpha', aliases: [], ipv4Address: '' }), true);
    assert.equal(s.addEndpoint('c1', { network: 'zeta', aliases: [], ipv4Address: '' }), false);
    assert.deepEqual(
      s.endpoints('c1').map((e) => e.network),
      ['berth', 'zeta', 'alpha'],
    );
    assert.deepEqual(s.endpoints('c1')[1], { network: 'zeta', aliases: ['z'], ipv4Address: '10.1.2.3' });
    assert.equal(s.removeEndpoint('c1', 'berth'), true);
    assert.equal(s.removeEndpoint('c1', 'berth'), false);
    assert.equal(s.addEndpoint('c1', { network: 'berth', aliases: [], ipv4Address: '' }), true);
    assert.deepEqual(
      s.endpoints('c1').map((e) => e.network),
      ['zeta', 'alpha', 'berth'],
    );
    // A name clash refuses the row and its endpoints together.
    assert.throws(() => s.insertContainer(row('c2', 'one'), [{ network: 'berth', aliases: [], ipv4Address: '' }]));
    assert.deepEqual(s.endpoints('c2'), []);
    s.deleteContainer('c1');
    assert.deepEqual(s.endpoints('c1'), []);
  } finally {
    s.close();
  }
});

test('migration 9 gives endpoints of before it no MAC address; one asked for is kept with its endpoint', () => {
  const path = join(dir, 'v8.db');
  const old = new DatabaseSync(path);
  migrate(
    old,
    MIGRATIONS.filter((m) => m.version <= 8),
  );
  old
    .prepare(
      "INSERT INTO containers (id, name, image_ref, image_id, config, runtime, snapshot_key, created_at) VALUES ('m', 'm', 'busybox', 'sha256:bb', '{}', 'runc', 'km', '2020-01-01T00:00:00Z')",
    )
    .run();
  old.prepare("INSERT INTO container_endpoints (container_id, network, seq) VALUES ('m', 'front', 0)").run();
  old.close();
  const s = new MetadataStore(path);
  try {
    assert.ok(s.schemaVersion >= 9);
    assert.deepEqual(s.endpoints('m'), [{ network: 'front', aliases: [], ipv4Address: '' }]);
    assert.equal(
      s.addEndpoint('m', { network: 'back', aliases: [], ipv4Address: '', macAddress: '02:42:ac:11:00:09' }),
      true,
    );
    assert.deepEqual(s.endpoints('m')[1], {
      network: 'back',
      aliases: [],
      ipv4Address: '',
      macAddress: '02:42:ac:11:00:09',
    });
  } finally {
    s.close();
  }
});
