// applyLayer without root: plain files only (no devices, owners or trusted.* xattrs). The full
// matrix runs as root in test/integration/unpack-*.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { ErrorCode, isBerthError, unavailable } from '../errors/errors.ts';
import { applyLayer, applyWorkers } from './apply-layer.ts';

async function smallTar(): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  })();
  pack.entry({ name: 'dir/file', size: 5, mode: 0o640 }, Buffer.from('hello'));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

test('the DiffID is the sha256 of the uncompressed tar, trailing padding included', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
  try {
    // Extra zero blocks after the end-of-archive marker are part of the blob and of its DiffID.
    const t = Buffer.concat([await smallTar(), Buffer.alloc(10240)]);
    const gz = gzipSync(t);
    const r = await applyLayer(
      (async function* () {
        yield gz;
      })(),
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        targetDir: dir,
        format: 'overlay',
        context: 'unit',
      },
    );
    assert.equal(r.diffId, `sha256:${createHash('sha256').update(t).digest('hex')}`);
    assert.equal(r.size, t.length);
    assert.equal(await fs.readFile(join(dir, 'dir/file'), 'utf8'), 'hello');
    assert.equal((await fs.stat(join(dir, 'dir/file'))).mode & 0o777, 0o640);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('an error of the source (a digest mismatch in the content store, say) comes out unchanged', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
  try {
    const t = gzipSync(await smallTar());
    const mismatch = unavailable('blob sha256:abc: digest mismatch');
    async function* source() {
      yield t.subarray(0, 20);
      throw mismatch;
    }
    await assert.rejects(
      applyLayer(source(), {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        targetDir: dir,
        format: 'overlay',
        context: 'unit',
      }),
      (e: unknown) => e === mismatch,
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a target that is not a directory is refused', async () => {
  await assert.rejects(
    applyLayer((async function* () {})(), {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      targetDir: '/nonexistent/berth',
      format: 'plain',
      context: 'unit',
    }),
    (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && /^unit: target directory/.test(e.message),
  );
});

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const [name, body] of Object.entries(files))
    pack.entry({ name, size: Buffer.byteLength(body), mode: 0o644, mtime: new Date(1_500_000_000_500) }, body);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function* chunksOf(b: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

for (const inline of [false, true]) {
  const where = inline ? 'on the calling thread' : 'in an apply worker';

  test(`${where}: the same tree, times and DiffID`, async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
    try {
      const t = await tarOf({ 'a/b/c': 'deep', 'a/x': 'x'.repeat(300_000), top: '' });
      const r = await applyLayer(chunksOf(gzipSync(t), 1000), {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        targetDir: dir,
        format: 'overlay',
        context: 'unit',
        inline,
      });
      assert.equal(r.diffId, `sha256:${createHash('sha256').update(t).digest('hex')}`);
      assert.equal(await fs.readFile(join(dir, 'a/b/c'), 'utf8'), 'deep');
      assert.equal((await fs.readFile(join(dir, 'a/x'), 'utf8')).length, 300_000);
      assert.equal((await fs.lstat(join(dir, 'top'))).mtimeMs, 1_500_000_000_000, 'ustar mtimes are whole seconds');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test(`${where}: a BerthError of the source comes out unchanged`, async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
    try {
      const t = gzipSync(await tarOf({ f: 'f'.repeat(100_000) }));
      const mismatch = unavailable('blob sha256:abc: digest mismatch');
      async function* source() {
        yield t.subarray(0, 200);
        throw mismatch;
      }
      await assert.rejects(
        applyLayer(source(), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          targetDir: dir,
          format: 'overlay',
          context: 'unit',
          inline,
        }),
        (e: unknown) => e === mismatch,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test(`${where}: a failing source that is not a BerthError becomes one naming the context`, async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
    try {
      const t = gzipSync(await tarOf({ f: 'f'.repeat(100_000) }));
      async function* source() {
        yield t.subarray(0, 200);
        throw new Error('connection reset by peer');
      }
      await assert.rejects(
        applyLayer(source(), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          targetDir: dir,
          format: 'overlay',
          context: 'unit',
          inline,
        }),
        (e: unknown) =>
          isBerthError(e, ErrorCode.Internal) &&
          /^unit: applying entry "[^"]*": connection reset by peer$/.test(e.message),
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
}

test('more layers at once than workers: each gets its own tree, and one refused layer fails alone', async () => {
  const base = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
  try {
    const n = 7;
    // Inputs first, then every apply started at once: a refused layer may reject while the others
    // run, and its rejection must already be observed (allSettled) by then.
    const inputs: Array<{ dir: string; layer: Buffer }> = [];
    for (let i = 0; i < n; i++) {
      const dir = join(base, `l${i}`);
      await fs.mkdir(dir);
      const files: Record<string, string> = {};
      for (let k = 0; k < 50; k++) files[`d${i}/f${k}`] = `layer ${i} file ${k}`;
      if (i === 3) files['../escape'] = 'no';
      inputs.push({ dir, layer: gzipSync(await tarOf(files)) });
    }
    const results = await Promise.allSettled(
      inputs.map(({ dir, layer }, i) =>
        applyLayer(chunksOf(layer, 4096), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          targetDir: dir,
          format: 'overlay',
          context: `layer ${i}`,
        }),
      ),
    );
    for (const [i, r] of results.entries()) {
      if (i === 3) {
        assert.equal(r.status, 'rejected');
        assert.match(
          String((r as PromiseRejectedResult).reason.message),
          /^layer 3: entry "\.\.\/escape": .*climbs above the layer root/,
        );
        continue;
      }
      assert.equal(r.status, 'fulfilled', `layer ${i}: ${String((r as PromiseRejectedResult).reason)}`);
      const names = await fs.readdir(join(base, `l${i}`, `d${i}`));
      assert.equal(names.length, 50);
      assert.equal(await fs.readFile(join(base, `l${i}`, `d${i}`, 'f49'), 'utf8'), `layer ${i} file 49`);
    }
    assert.deepEqual(await fs.readdir(base), Array.from({ length: n }, (_, i) => `l${i}`).sort());
  } finally {
    await fs.rm(base, { recursive: true, force: true });
  }
});

test('a throwing onWarning fails the apply, in a worker as on the calling thread', async () => {
  for (const inline of [false, true]) {
    const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
    try {
      const pack = tar.pack();
      const chunks: Buffer[] = [];
      const done = (async () => {
        for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
      })();
      // trusted.overlay.* xattrs are always dropped with a warning, root or not.
      pack.entry({ name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/x' } });
      pack.finalize();
      await done;
      await assert.rejects(
        applyLayer(chunksOf(Buffer.concat(chunks), 512), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          targetDir: dir,
          format: 'overlay',
          context: 'unit',
          inline,
          onWarning: () => {
            throw new Error('warning sink broke');
          },
        }),
        (e: unknown) => isBerthError(e) && /^unit: .*warning sink broke/.test(e.message),
        inline ? 'inline' : 'worker',
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
});

test('an apply worker left idle stops after workerIdleMs (a daemon that pulled once keeps no isolate)', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'berth-apply-'));
  try {
    const gz = gzipSync(await smallTar());
    // As many layers at once as there are workers (earlier tests' ones idle for the default time), so each gets one.
    const n = Math.max(1, applyWorkers());
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const target = join(dir, String(i));
        await fs.mkdir(target);
        const layer = (async function* () {
          yield gz;
        })();
        await applyLayer(layer, {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          targetDir: target,
          format: 'overlay',
          context: 'unit',
          workerIdleMs: 50,
        });
      }),
    );
    assert.ok(applyWorkers() >= 1, 'the layers were applied in workers');
    const deadline = Date.now() + 10_000;
    while (applyWorkers() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(applyWorkers(), 0, 'the idle worker is still running');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
