import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { buildImage, busyboxTar } from '../../test/lib/test-images.ts';
import { ImageService } from '../images/image-service.ts';
import { MetadataStore, migrate } from '../metadata/metadata-store.ts';
import { MIGRATIONS } from '../metadata/migrations.ts';
import { backfillImageIds } from './image-id-backfill.ts';

const temps: string[] = [];
after(async () => {
  for (const t of temps) await rm(t, { recursive: true, force: true });
});

test('migration 7: containers of a v6 store get the config digest as image ID, the manifest digest as image_digest', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-backfill-'));
  temps.push(root);
  // A v6 database whose containers recorded the manifest digest as image_id (what berth did before).
  const path = join(root, 'berthd.db');
  const old = new DatabaseSync(path);
  migrate(
    old,
    MIGRATIONS.filter((m) => m.version <= 6),
  );
  const images = await ImageService.open({ root, overlayProbe: async () => 'not needed here' });
  try {
    const built = await buildImage(images.content, [await busyboxTar()]);
    await images.images.put('docker.io/library/busybox:latest', built.manifest);
    const insert = old.prepare(
      "INSERT INTO containers (id, name, image_ref, image_id, config, runtime, snapshot_key, created_at) VALUES (?, ?, 'busybox', ?, '{}', 'berth-runtime', ?, '2020-01-01T00:00:00Z')",
    );
    insert.run('c1', 'kept', built.manifest.digest, 'k1');
    const gone = `sha256:${'0'.repeat(64)}`;
    insert.run('c2', 'gone', gone, 'k2');
    old.close();

    const store = new MetadataStore(path);
    try {
      assert.ok(store.schemaVersion >= 7);
      assert.deepEqual(
        store.imageIdsToBackfill().map((r) => r.id),
        ['c1', 'c2'],
        'both rows wait for the backfill',
      );
      assert.deepEqual(await backfillImageIds(store, images), ['c1']);
      const c1 = store.getContainer('c1');
      assert.equal(c1.imageId, built.config.digest, 'the image ID is the config digest');
      assert.equal(c1.imageDigest, built.manifest.digest, 'the manifest digest is kept as the gc root');
      const c2 = store.getContainer('c2');
      assert.equal(c2.imageId, gone, 'content that is gone: the row keeps the manifest digest');
      assert.deepEqual(await backfillImageIds(store, images), [], 'a second start has nothing left it can do');
      // The image service names the same image by the ID, a 12-digit prefix and the manifest digest.
      for (const w of [built.config.digest, built.config.digest.slice(7, 19), built.manifest.digest])
        assert.equal((await images.inspect(w)).id, built.config.digest, w);
      assert.equal((await images.list())[0]?.id, built.config.digest);
      // The container's content stays a gc root through image_digest.
      const withStore = await ImageService.open({ root, metadata: store, overlayProbe: async () => 'not needed here' });
      assert.ok((await withStore.containerRoots()).content.includes(built.manifest.digest));
      await withStore.close();
    } finally {
      store.close();
    }
  } finally {
    await images.close();
  }
});
