import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf } from '../oci/image-validate.ts';
import { runContentStoreContract } from './content-store.contract.ts';
import { LocalContentStore } from './local-content-store.ts';

runContentStoreContract('LocalContentStore', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
  return { store: new LocalContentStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('LocalContentStore on disk', () => {
  it('lays blobs out as blobs/<algo>/<hex> and keeps ingests out of blobs/', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const store = new LocalContentStore(root);
    const data = Buffer.from('layout');
    const digest = digestOf(data);
    const w = await store.writer('layout', { digest, size: data.length });
    await w.write(data.subarray(0, 3));
    assert.deepEqual(await readdir(join(root, 'ingest', 'layout')).then((n) => n.sort()), [
      'data',
      'expected.json',
      'lock',
    ]);
    assert.deepEqual(await readdir(join(root, 'blobs')).catch(() => []), []);
    await w.write(data.subarray(3));
    await w.commit();
    assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), [digest.slice(7)]);
    assert.deepEqual(await readdir(join(root, 'ingest')), []);
  });

  it('takes over the ingest of a dead process and resumes its data', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const store = new LocalContentStore(root);
    const data = Buffer.from('left behind by a killed pull');
    const digest = digestOf(data);
    const w = await store.writer('dead', { digest, size: data.length });
    await w.write(data.subarray(0, 10));
    await w.close();
    // A lock file holding the pid of a process that has exited, as kill -9 leaves it.
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    await writeFile(join(root, 'ingest', 'dead', 'lock'), dead.stdout.trim());
    const w2 = await store.writer('dead', { digest, size: data.length });
    assert.equal(w2.offset, 10);
    await w2.write(data.subarray(10));
    await w2.commit();
    assert.deepEqual(await store.readAll(digest), data);
  });

  it('gc removes stale ingests but not active ones', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const store = new LocalContentStore(root);
    const stale = await store.writer('stale', { digest: digestOf('a') });
    await stale.write(Buffer.from('a'));
    await stale.close();
    const active = await store.writer('active', { digest: digestOf('b') });
    const r = await store.gc([], { ingestMaxAgeMs: 0 });
    assert.deepEqual(r.removedIngests, ['stale']);
    assert.deepEqual(
      (await store.ingests()).map((i) => i.ref),
      ['active'],
    );
    await active.abort();
  });
});
