import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { digestOf } from '../oci/image-validate.ts';
import { LocalContentStore } from './local-content-store.ts';
import { writeBlobFile } from './write-blob.ts';

test('writeBlobFile: writers of one blob at once (two builds making the same layer) all succeed, and the blob is stored once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-write-blob-'));
  try {
    const store = new LocalContentStore(join(dir, 'content'));
    const bytes = Buffer.alloc(1 << 20, 7);
    const staged = join(dir, 'layer.tar');
    await writeFile(staged, bytes);
    const digest = digestOf(bytes, 'sha256');
    await Promise.all([0, 1, 2, 3].map(() => writeBlobFile(store, staged, digest, bytes.length, 'build')));
    assert.equal((await store.info(digest)).size, bytes.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
