// Snapshotters with real mounts, as root: layers applied the way pull does it (prepare, applyLayer
// into upperDir in the snapshotter's applyFormat, commit under the chain ID), then the returned
// mounts mounted with mountAll to prove the semantics: lower files visible, whiteouts and opaque
// directories hide, writes go to the active snapshot only, views are read-only. Plus a 40-layer
// overlay whose absolute lowerdir option is over the page limit of mount(2).
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyLayer } from '../../src/archive/apply-layer.ts';
import { chainIds } from '../../src/snapshots/chain-id.ts';
import { MAX_MOUNT_DATA, mountAll, unmountAll } from '../../src/snapshots/mount.ts';
import { NativeSnapshotter } from '../../src/snapshots/native-snapshotter.ts';
import { OverlaySnapshotter } from '../../src/snapshots/overlay-snapshotter.ts';
import type { Snapshotter } from '../../src/snapshots/snapshotter.ts';
import { type TarEntry, buildTar, chunked, gzip } from '../lib/hostile-layers.ts';

const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

const LAYERS: TarEntry[][] = [
  [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: 'ID=berth\n' },
    { name: 'etc/gone', content: 'lower\n' },
    { name: 'var/lib/app/old1', content: '1' },
    { name: 'var/lib/app/old2', content: '2' },
    { name: 'bin/busybox', content: 'bb', mode: 0o755 },
    { name: 'bin/sh', type: 'link', linkname: 'bin/busybox' },
  ],
  [
    { name: 'etc/.wh.gone', content: '' },
    { name: 'var/lib/app/.wh..wh..opq', content: '' },
    { name: 'var/lib/app/new', content: 'new' },
    { name: 'usr/bin/tool', content: 'tool', mode: 0o755 },
  ],
  [{ name: 'etc/os-release', content: 'ID=berth\nVERSION=2\n' }],
];

async function pull(sn: Snapshotter, layers: TarEntry[][]): Promise<string[]> {
  const tars = await Promise.all(layers.map((l) => buildTar(l)));
  const diffIds: string[] = [];
  for (const [i, t] of tars.entries()) {
    const parent = i === 0 ? undefined : chainIds(diffIds)[i - 1];
    const key = `extract-${i}`;
    await sn.prepare(key, parent);
    const { diffId } = await applyLayer(chunked(gzip(t)), {
      mediaType: GZ,
      targetDir: await sn.upperDir(key),
      format: sn.applyFormat,
      context: `test image layer ${i}`,
    });
    diffIds.push(diffId);
    await sn.commit(chainIds(diffIds)[i]!, key);
  }
  return chainIds(diffIds);
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of (await fs.readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      out.push(e.isDirectory() ? `${p}/` : p);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk('');
  return out;
}

if (process.getuid?.() !== 0) {
  test('snapshots-overlay needs root', () => {
    assert.fail('test/integration/snapshots-overlay.test.ts must run as root (mount)');
  });
} else {
  for (const [name, make] of [
    ['OverlaySnapshotter', (r: string) => new OverlaySnapshotter(r)],
    ['NativeSnapshotter', (r: string) => new NativeSnapshotter(r)],
  ] as const) {
    describe(`${name} mounted`, () => {
      let base = '';
      let sn: Snapshotter;
      let chain: string[] = [];
      const targets: string[] = [];
      const target = async () => {
        const t = await fs.mkdtemp(join(base, 'mnt-'));
        targets.push(t);
        return t;
      };
      before(async () => {
        base = await fs.mkdtemp(join(tmpdir(), 'berth-snapshots-mnt-'));
        sn = make(join(base, 'root'));
        chain = await pull(sn, LAYERS);
      });
      after(async () => {
        for (const t of targets) unmountAll(t, { detach: true });
        sn.close();
        await fs.rm(base, { recursive: true, force: true });
      });

      test('the stack shows lower files, hides whiteouts and opaque contents, and takes writes in the active snapshot', async () => {
        const mnt = await target();
        await sn.prepare('container', chain[2]);
        await mountAll(await sn.mounts('container'), mnt);
        try {
          assert.deepEqual(await tree(mnt), [
            'bin/',
            'bin/busybox',
            'bin/sh',
            'etc/',
            'etc/os-release',
            'usr/',
            'usr/bin/',
            'usr/bin/tool',
            'var/',
            'var/lib/',
            'var/lib/app/',
            'var/lib/app/new',
          ]);
          assert.equal(await fs.readFile(join(mnt, 'etc/os-release'), 'utf8'), 'ID=berth\nVERSION=2\n');
          const [bb, sh] = await Promise.all([fs.stat(join(mnt, 'bin/busybox')), fs.stat(join(mnt, 'bin/sh'))]);
          assert.equal(bb.ino, sh.ino, 'hardlink preserved through the stack');
          await fs.writeFile(join(mnt, 'written'), 'by the container');
          await fs.rm(join(mnt, 'usr/bin/tool'));
        } finally {
          unmountAll(mnt);
        }
        const upper = await sn.upperDir('container');
        assert.equal(await fs.readFile(join(upper, 'written'), 'utf8'), 'by the container');
        // The committed layers are untouched: a fresh view still has the tool and not the write.
        const view = await target();
        await sn.view('look', chain[2]);
        await mountAll(await sn.mounts('look'), view);
        try {
          assert.equal(await fs.readFile(join(view, 'usr/bin/tool'), 'utf8'), 'tool');
          await assert.rejects(fs.stat(join(view, 'written')), { code: 'ENOENT' });
          await assert.rejects(fs.writeFile(join(view, 'nope'), 'x'), { code: 'EROFS' });
        } finally {
          unmountAll(view);
        }
        await sn.remove('look');
        await sn.remove('container');
      });

      test('a view of the first layer alone is read-only and holds the whited-out files', async () => {
        const mnt = await target();
        await sn.view('first', chain[0]);
        await mountAll(await sn.mounts('first'), mnt);
        try {
          assert.equal(await fs.readFile(join(mnt, 'etc/gone'), 'utf8'), 'lower\n');
          assert.deepEqual((await fs.readdir(join(mnt, 'var/lib/app'))).sort(), ['old1', 'old2']);
          await assert.rejects(fs.writeFile(join(mnt, 'x'), 'x'), { code: 'EROFS' });
        } finally {
          unmountAll(mnt);
        }
        await sn.remove('first');
      });

      test('a parentless active snapshot is a writable bind of its directory', async () => {
        const mnt = await target();
        await sn.prepare('scratch');
        await mountAll(await sn.mounts('scratch'), mnt);
        try {
          await fs.writeFile(join(mnt, 'f'), 'x');
        } finally {
          unmountAll(mnt);
        }
        assert.equal(await fs.readFile(join(await sn.upperDir('scratch'), 'f'), 'utf8'), 'x');
        await sn.remove('scratch');
      });
    });
  }

  test('a 40-layer overlay whose absolute lowerdir is over the page limit mounts', async () => {
    // A long root makes each absolute lowerdir path ~190 bytes: 40 of them are ~7.6 KiB.
    const base = await fs.mkdtemp(join(tmpdir(), 'berth-snapshots-deep-'));
    const root = join(base, 'r'.repeat(160));
    const mnt = join(base, 'mnt');
    await fs.mkdir(mnt);
    const sn = new OverlaySnapshotter(root);
    try {
      const layers: TarEntry[][] = Array.from({ length: 40 }, (_, i) => [
        { name: `layer-${i}`, content: String(i) },
        { name: 'top', content: `layer ${i}` },
      ]);
      const chain = await pull(sn, layers);
      const mounts = await sn.prepare('deep', chain[39]);
      const lowerdir = mounts[0]!.options.find((o) => o.startsWith('lowerdir='))!;
      assert.equal(lowerdir.split(':').length, 40);
      assert.ok(mounts[0]!.options.join(',').length > MAX_MOUNT_DATA, 'the absolute options exceed a page');
      assert.ok(lowerdir.startsWith(`lowerdir=${root}/`), 'the snapshotter returns absolute paths');
      await mountAll(mounts, mnt);
      try {
        const names = await fs.readdir(mnt);
        assert.equal(names.filter((n) => n.startsWith('layer-')).length, 40);
        assert.equal(await fs.readFile(join(mnt, 'top'), 'utf8'), 'layer 39');
        await fs.writeFile(join(mnt, 'up'), 'up');
      } finally {
        unmountAll(mnt);
      }
      assert.equal(await fs.readFile(join(await sn.upperDir('deep'), 'up'), 'utf8'), 'up');
    } finally {
      unmountAll(mnt, { detach: true });
      sn.close();
      await fs.rm(base, { recursive: true, force: true });
    }
  });
}
