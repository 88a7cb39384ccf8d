import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { MediaType } from '../oci/image-spec.ts';
import { chainIds as chainIdsOf } from '../snapshots/chain-id.ts';
import { ImageStore } from './image-store.ts';
import { mapLimit } from './limit.ts';
import { resolveName } from './image-name.ts';

const desc = (c: string) => ({ mediaType: MediaType.ImageManifest, digest: `sha256:${c.repeat(64)}`, size: 10 });

describe('ImageStore', () => {
  it('puts, tags, lists, deletes; concurrent puts all land; the file is always whole JSON', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'berth-images-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const s = new ImageStore(root);
    const a = await s.put('docker.io/library/busybox:latest', desc('a'));
    await new Promise((r) => setTimeout(r, 5));
    const a2 = await s.put('docker.io/library/busybox:latest', desc('b'));
    assert.equal(a2.createdAt, a.createdAt);
    assert.notEqual(a2.updatedAt, a.updatedAt);
    await s.put(resolveName('localhost:5000/mine:1'), (await s.get(resolveName('busybox'))).target);
    assert.equal((await s.get('localhost:5000/mine:1')).target.digest, desc('b').digest);
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.put(`x/${i}`, desc('c'))));
    assert.equal((await s.list()).length, 22);
    assert.equal(Object.keys(JSON.parse(await readFile(s.path, 'utf8')).images).length, 22);
    assert.deepEqual(await readdir(root), ['images.json'], 'no temp files left');
    await s.delete('x/0');
    await assert.rejects(s.get('x/0'), (e: unknown) => isBerthError(e, ErrorCode.NotFound));
    await assert.rejects(s.delete('x/0'), (e: unknown) => isBerthError(e, ErrorCode.NotFound));
    await assert.rejects(s.put('bad', { ...desc('a'), digest: 'sha256:1' }), (e: unknown) =>
      isBerthError(e, ErrorCode.InvalidArgument),
    );
  });
});

describe('chain IDs and mapLimit', () => {
  it('computes chain IDs per the image spec', () => {
    const d = ['sha256:' + '1'.repeat(64), 'sha256:' + '2'.repeat(64)];
    const [c0, c1] = chainIdsOf(d);
    assert.equal(c0, d[0]);
    assert.notEqual(c1, d[1]);
    assert.match(c1!, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(chainIdsOf([]), []);
  });
  it('bounds concurrency and reports the first failure', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (x) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return x * 2;
    });
    assert.deepEqual(out, [2, 4, 6, 8, 10, 12]);
    assert.equal(peak, 2);
    await assert.rejects(
      mapLimit([1, 2], 2, async (x) => {
        if (x === 2) throw new Error('boom');
        return x;
      }),
      /boom/,
    );
  });
});
