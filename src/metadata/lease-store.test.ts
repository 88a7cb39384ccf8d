import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { MetadataStore, migrate } from './metadata-store.ts';
import { MIGRATIONS } from './migrations.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-lease-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

test('leases are rows: they survive a reopen (a crash), resources are deduplicated, delete takes the resources', () => {
  const path = join(dir, 'l.db');
  let s = new MetadataStore(path);
  const exp = new Date(Date.now() + 60_000);
  s.leases.create('pull-1-x', { expiresAt: exp, labels: { ref: 'busybox' } });
  s.leases.addResource('pull-1-x', D1);
  s.leases.addResource('pull-1-x', D1);
  s.leases.addResource('pull-1-x', D2);
  assert.throws(() => s.leases.create('pull-1-x'), /already exists/);
  assert.throws(() => s.leases.addResource('nope', D1), /lease nope: not found/);
  s.close();
  s = new MetadataStore(path);
  try {
    const [l] = s.leases.list();
    assert.deepEqual(
      { ...l, createdAt: '' },
      { id: 'pull-1-x', createdAt: '', expiresAt: exp.toISOString(), labels: { ref: 'busybox' }, resources: [D1, D2] },
    );
    s.leases.delete('pull-1-x');
    assert.deepEqual(s.leases.list(), []);
    assert.equal((s.db.prepare('SELECT COUNT(*) AS n FROM lease_resources').get() as { n: number }).n, 0);
    assert.throws(() => s.leases.delete('pull-1-x'), /not found/);
    s.leases.create('create-1-y', { resources: [D2, D2] });
    assert.deepEqual(
      s.leases.list().map((l) => [l.id, l.resources]),
      [['create-1-y', [D2]]],
      'first resources come with the lease',
    );
    assert.throws(() => s.leases.create('create-1-y', { resources: [D1] }), /already exists/);
    assert.deepEqual(s.leases.list()[0]!.resources, [D2], 'a refused create added nothing');
  } finally {
    s.close();
  }
});

test('a host port is claimed by one container at a time and goes with the container row', () => {
  const s = new MetadataStore(join(dir, 'p.db'));
  try {
    const row = (id: string) =>
      s.insertContainer({
        id,
        name: `n${id}`,
        imageRef: 'b',
        imageId: 'sha256:aa',
        imageDigest: 'sha256:bb',
        config: {},
        labels: {},
        runtime: 'runc',
        snapshotKey: `k${id}`,
        createdAt: new Date().toISOString(),
        restartPolicy: 'no',
        restartMax: 0,
      });
    row('c1');
    row('c2');
    assert.equal(
      s.claimPort({ containerId: 'c1', containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1', hostPort: 40000 }),
      true,
    );
    assert.equal(
      s.claimPort({ containerId: 'c2', containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1', hostPort: 40000 }),
      false,
      'held by c1',
    );
    assert.equal(
      s.claimPort({ containerId: 'c2', containerPort: 80, protocol: 'udp', hostIP: '127.0.0.1', hostPort: 40000 }),
      true,
      'udp is another port',
    );
    assert.equal(
      s.claimPort({ containerId: 'c1', containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1', hostPort: 40001 }),
      true,
      're-allocation replaces the old row',
    );
    assert.deepEqual(
      s.portAllocations('c1').map((a) => a.hostPort),
      [40001],
    );
    s.deleteContainer('c1');
    assert.deepEqual(
      s.portAllocations().map((a) => [a.containerId, a.hostPort, a.protocol]),
      [['c2', 40000, 'udp']],
    );
  } finally {
    s.close();
  }
});

test("a lease's kind and owner are columns that round-trip; a lease may have neither", () => {
  const s = new MetadataStore(join(dir, 'k.db'));
  try {
    s.leases.create('x', { kind: 'load', owner: { pid: 4242, startTime: '987654' }, resources: [D1] });
    s.leases.create('y');
    const [x, y] = s.leases.list();
    assert.equal(x?.kind, 'load');
    assert.deepEqual(x?.owner, { pid: 4242, startTime: '987654' });
    assert.equal(y?.kind, undefined);
    assert.equal(y?.owner, undefined);
  } finally {
    s.close();
  }
});

test('migration 5 reads kind and owner out of the ids of leases taken before it, once', () => {
  const path = join(dir, 'v4.db');
  const old = new DatabaseSync(path);
  assert.deepEqual(
    migrate(
      old,
      MIGRATIONS.filter((m) => m.version <= 4),
    ),
    [1, 2, 3, 4],
  );
  const ins = old.prepare("INSERT INTO leases (id, created_at, labels) VALUES (?, '2020-01-01T00:00:00Z', '{}')");
  for (const id of [
    'pull-123-abc',
    'create-9-f00',
    'load-77-a-b',
    'import-5-z',
    'pull-x1-y',
    'gc-1-z',
    'mine',
    'pull--z',
  ])
    ins.run(id);
  old.close();
  const s = new MetadataStore(path);
  try {
    const got = Object.fromEntries(s.leases.list().map((l) => [l.id, [l.kind, l.owner]]));
    assert.deepEqual(got, {
      'pull-123-abc': ['pull', { pid: 123, startTime: '' }],
      'create-9-f00': ['create', { pid: 9, startTime: '' }],
      'load-77-a-b': ['load', { pid: 77, startTime: '' }],
      'import-5-z': ['import', { pid: 5, startTime: '' }],
      'pull-x1-y': [undefined, undefined],
      'gc-1-z': [undefined, undefined],
      mine: [undefined, undefined],
      'pull--z': [undefined, undefined],
    });
  } finally {
    s.close();
  }
});
