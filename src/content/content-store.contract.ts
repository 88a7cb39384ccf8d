// The ContentStore contract: one suite, run against every implementation (see
// local-content-store.test.ts). A new implementation passes this before it is wired anywhere.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { MediaType } from '../oci/image-spec.ts';
import { digestOf } from '../oci/image-validate.ts';
import type { ContentStore, Expected } from './content-store.ts';

export type ContentStoreFixture = { store: ContentStore; cleanup: () => Promise<void> };

async function put(store: ContentStore, ref: string, data: string | Buffer, expected?: Expected): Promise<string> {
  const bytes = Buffer.from(data);
  const digest = digestOf(bytes);
  const w = await store.writer(ref, expected ?? { digest, size: bytes.length });
  await w.write(bytes);
  await w.commit();
  return digest;
}

const isCode = (code: string) => (e: unknown) => isBerthError(e) && e.code === code;

export function runContentStoreContract(name: string, factory: () => Promise<ContentStoreFixture>): void {
  describe(`ContentStore contract: ${name}`, () => {
    let fx: ContentStoreFixture;
    let store: ContentStore;
    before(async () => {
      fx = await factory();
      store = fx.store;
    });
    after(async () => fx.cleanup());

    it('ingests, reads back, lists and deletes a blob', async () => {
      const digest = await put(store, 'basic', 'hello world');
      assert.deepEqual((await store.info(digest)).size, 11);
      assert.equal(await text(Readable.from(await store.read(digest))), 'hello world');
      assert.equal(await text(Readable.from(await store.read(digest, { offset: 6 }))), 'world');
      assert.equal((await store.readAll(digest)).toString(), 'hello world');
      assert.ok((await store.list()).some((c) => c.digest === digest));
      await store.delete(digest);
      assert.equal(await store.exists(digest), false);
      await assert.rejects(store.info(digest), isCode(ErrorCode.NotFound));
      await assert.rejects(store.read(digest), isCode(ErrorCode.NotFound));
      await assert.rejects(store.delete(digest), isCode(ErrorCode.NotFound));
    });

    it('supports sha512', async () => {
      const bytes = Buffer.from('sha512 content');
      const digest = digestOf(bytes, 'sha512');
      await put(store, 'sha512', bytes, { digest, size: bytes.length });
      assert.equal((await store.readAll(digest)).toString(), 'sha512 content');
    });

    it('rejects a digest mismatch and leaves nothing visible', async () => {
      const digest = digestOf('expected');
      const w = await store.writer('mismatch', { digest });
      await w.write(Buffer.from('something else'));
      await assert.rejects(
        w.commit(),
        (e: unknown) => isCode(ErrorCode.InvalidArgument)(e) && /does not match/.test((e as Error).message),
      );
      assert.equal(await store.exists(digest), false);
      assert.equal(
        (await store.ingests()).some((i) => i.ref === 'mismatch'),
        false,
      );
    });

    it('rejects a size mismatch, and content past the expected size while writing', async () => {
      const digest = digestOf('abc');
      const w = await store.writer('size', { digest, size: 4 });
      await w.write(Buffer.from('abc'));
      await assert.rejects(w.commit(), isCode(ErrorCode.InvalidArgument));
      const w2 = await store.writer('size2', { digest, size: 2 });
      await assert.rejects(w2.write(Buffer.from('abc')), /exceeds the expected size 2/);
      await w2.abort();
      assert.equal(await store.exists(digest), false);
    });

    it('rejects malformed digests and refs', async () => {
      await assert.rejects(store.writer('x', { digest: 'sha256:1234' }), isCode(ErrorCode.InvalidArgument));
      await assert.rejects(store.writer('../escape', { digest: digestOf('x') }), isCode(ErrorCode.InvalidArgument));
      await assert.rejects(store.info('md5:abc'), isCode(ErrorCode.InvalidArgument));
    });

    it('resumes an interrupted ingest from its offset', async () => {
      const data = Buffer.from('0123456789'.repeat(1000));
      const digest = digestOf(data);
      const w = await store.writer('resume', { digest, size: data.length });
      assert.equal(w.offset, 0);
      await w.write(data.subarray(0, 4321));
      await w.close();
      const status = (await store.ingests()).find((i) => i.ref === 'resume');
      assert.equal(status?.offset, 4321);
      const w2 = await store.writer('resume', { digest, size: data.length });
      assert.equal(w2.offset, 4321);
      await w2.write(data.subarray(4321));
      await w2.commit();
      assert.deepEqual(await store.readAll(digest), data);
    });

    it('restarts an ingest whose expected digest changed, and truncates on request', async () => {
      const w = await store.writer('changed', { digest: digestOf('one') });
      await w.write(Buffer.from('on'));
      await w.close();
      const w2 = await store.writer('changed', { digest: digestOf('two') });
      assert.equal(w2.offset, 0);
      await w2.write(Buffer.from('garbage'));
      await w2.truncate();
      assert.equal(w2.offset, 0);
      await w2.write(Buffer.from('two'));
      await w2.commit();
      assert.equal((await store.readAll(digestOf('two'))).toString(), 'two');
    });

    it('makes a second writer of the same ref wait, then find the blob committed', async () => {
      const data = Buffer.from('concurrent');
      const digest = digestOf(data);
      const w1 = await store.writer('same', { digest, size: data.length });
      let secondSettled = false;
      // Settled into a value at once: the second writer may reject while the first is still
      // committing, and an unobserved rejection would fail the run before it is asserted.
      const second = store.writer('same', { digest, size: data.length }).then(
        () => undefined,
        (e: unknown) => e,
      );
      void second.then(() => {
        secondSettled = true;
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(secondSettled, false, 'second writer must wait while the first holds the ref');
      await w1.write(data);
      await w1.commit();
      const err = await second;
      assert.ok(isCode(ErrorCode.AlreadyExists)(err), `second writer: expected AlreadyExists, got ${String(err)}`);
      assert.deepEqual(await store.readAll(digest), data);
    });

    it('lets many writers race for one ref: one commits, the others find the blob, none fails otherwise', async () => {
      const data = Buffer.from('raced ref');
      const digest = digestOf(data);
      const attempt = async (): Promise<string> => {
        try {
          const w = await store.writer('raced', { digest, size: data.length });
          await w.write(data);
          await w.commit();
          return 'committed';
        } catch (e) {
          if (isCode(ErrorCode.AlreadyExists)(e)) return 'exists';
          return `unexpected: ${String(e)}`;
        }
      };
      const results = await Promise.all(Array.from({ length: 16 }, attempt));
      assert.deepEqual(
        results.filter((r) => r !== 'exists'),
        ['committed'],
      );
      assert.deepEqual(await store.readAll(digest), data);
      assert.equal(
        (await store.ingests()).some((i) => i.ref === 'raced'),
        false,
        'no ingest left behind',
      );
    });

    it('lets writers of one digest under different refs both commit', async () => {
      const data = Buffer.from('two refs one digest');
      const digest = digestOf(data);
      const a = await store.writer('ref-a', { digest, size: data.length });
      const b = await store.writer('ref-b', { digest, size: data.length });
      await Promise.all([a.write(data), b.write(data)]);
      await Promise.all([a.commit(), b.commit()]);
      assert.deepEqual(await store.readAll(digest), data);
    });

    it('collects garbage from roots by walking index, manifest, config and layers', async () => {
      const layer = await put(store, 'gc-layer', 'layer bytes');
      const config = await put(
        store,
        'gc-config',
        '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
      );
      const manifestBytes = JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        config: { mediaType: MediaType.ImageConfig, digest: config, size: 1 },
        layers: [{ mediaType: MediaType.LayerGzip, digest: layer, size: 11 }],
      });
      const manifest = await put(store, 'gc-manifest', manifestBytes);
      const index = await put(
        store,
        'gc-index',
        JSON.stringify({
          schemaVersion: 2,
          manifests: [{ mediaType: MediaType.ImageManifest, digest: manifest, size: manifestBytes.length }],
        }),
      );
      const orphan = await put(store, 'gc-orphan', 'orphan');
      const leased = await put(store, 'gc-leased', 'leased');
      const expired = await put(store, 'gc-expired', 'expired');
      await store.createLease('pull-1');
      await store.addResource('pull-1', leased);
      await store.addResource('pull-1', leased);
      await store.createLease('old', { expiresAt: new Date(Date.now() - 1000) });
      await store.addResource('old', expired);
      await assert.rejects(store.createLease('pull-1'), isCode(ErrorCode.AlreadyExists));
      assert.deepEqual((await store.listLeases()).find((l) => l.id === 'pull-1')?.resources, [leased]);

      const live = await store.reachable([index]);
      assert.deepEqual([...live].sort(), [index, manifest, config, layer].sort());
      const u = await store.usage([index]);
      assert.equal(u.count, 4);

      const r = await store.gc([{ digest: index, mediaType: MediaType.ImageIndex }]);
      assert.ok(r.removed.includes(orphan));
      assert.ok(r.removed.includes(expired));
      assert.deepEqual(r.removedLeases, ['old']);
      for (const d of [index, manifest, config, layer, leased])
        assert.ok(await store.exists(d), `${d} must survive gc`);
      assert.equal(await store.exists(orphan), false);

      await store.deleteLease('pull-1');
      await store.gc([index]);
      assert.equal(await store.exists(leased), false);
      assert.ok(await store.exists(layer));
      await store.gc([]);
      assert.deepEqual(await store.list(), []);
    });

    it("keeps a lease's kind and owner as given, and none when none is given", async () => {
      await store.createLease('typed', { kind: 'import', owner: { pid: 4242, startTime: '987654' } });
      await store.createLease('plain');
      const got = Object.fromEntries((await store.listLeases()).map((l) => [l.id, [l.kind, l.owner]]));
      assert.deepEqual(got.typed, ['import', { pid: 4242, startTime: '987654' }]);
      assert.deepEqual(got.plain, [undefined, undefined]);
      await store.deleteLease('typed');
      await store.deleteLease('plain');
    });

    it('never collects content leased while gc runs', async () => {
      await store.createLease('race');
      const data = Buffer.from('racing pull');
      const digest = digestOf(data);
      const adding = (async () => {
        await store.addResource('race', digest);
        const w = await store.writer('race-blob', { digest, size: data.length });
        await w.write(data);
        await w.commit();
      })();
      await Promise.all([store.gc([]), adding, store.gc([])]);
      assert.ok(await store.exists(digest));
      await store.deleteLease('race');
      await store.gc([]);
    });
  });
}
