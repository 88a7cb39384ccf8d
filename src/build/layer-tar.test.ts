import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { lsetxattr } from '../archive/xattrs.ts';
import { LocalContentStore } from '../content/local-content-store.ts';
import { BuildCache, cacheKey } from './build-cache.ts';
import {
  canWriteDirectly,
  cloneOverlayDiff,
  type LayerEntry,
  overlayDiffEntries,
  storeLayer,
  writeLayerEntries,
} from './layer-tar.ts';

async function tarNames(buf: Buffer): Promise<string[]> {
  const names: string[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      names.push(`${h.type}:${h.name}${h.linkname ? `->${h.linkname}` : ''}`);
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return names;
}

describe('layers of build steps', () => {
  it("an overlay upper directory's diff: whiteouts, opaque directories, hard links, skipped mount points, byte order; the same diff (and its hard-linked clone) gives the same blob", async (t) => {
    if (process.getuid?.() !== 0)
      return t.skip('needs root: whiteouts are 0/0 character devices, opaque marks trusted.* xattrs');
    const dir = mkdtempSync(join(tmpdir(), 'berth-build-diff-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const upper = join(dir, 'upper');
    mkdirSync(join(upper, 'etc'), { recursive: true });
    mkdirSync(join(upper, 'opq'));
    mkdirSync(join(upper, 'proc'));
    writeFileSync(join(upper, 'etc/hosts'), '');
    writeFileSync(join(upper, 'etc/b.conf'), 'b');
    writeFileSync(join(upper, 'etc/a.conf'), 'a');
    linkSync(join(upper, 'etc/a.conf'), join(upper, 'etc/z-link.conf'));
    symlinkSync('a.conf', join(upper, 'etc/sym'));
    execFileSync('mknod', [join(upper, 'etc/deleted'), 'c', '0', '0']);
    await lsetxattr(join(upper, 'opq'), 'trusted.overlay.opaque', Buffer.from('y'));
    writeFileSync(join(upper, 'opq/new'), 'n');
    const entries = [];
    for await (const e of overlayDiffEntries(upper, new Set(['proc', 'etc/hosts']))) entries.push(e);
    const content = new LocalContentStore(join(dir, 'content'));
    await content.createLease('l', {});
    const a = await storeLayer(content, 'l', dir, entries);
    const names = await tarNames(await content.readAll(a.descriptor.digest));
    assert.deepEqual(names, [
      'directory:etc/',
      'file:etc/a.conf',
      'file:etc/b.conf',
      'file:etc/.wh.deleted',
      'symlink:etc/sym->a.conf',
      'link:etc/z-link.conf->etc/a.conf',
      'directory:opq/',
      'file:opq/.wh..wh..opq',
      'file:opq/new',
    ]);
    assert.equal(a.diffId, a.descriptor.digest, 'uncompressed: the digest is the DiffID');
    const again = [];
    for await (const e of overlayDiffEntries(upper, new Set(['proc', 'etc/hosts']))) again.push(e);
    assert.equal((await storeLayer(content, 'l', dir, again)).diffId, a.diffId);
    // The snapshot made from the diff by hard links is the same diff: its tar is the same blob.
    const clone = join(dir, 'clone');
    mkdirSync(clone);
    await cloneOverlayDiff(upper, clone, new Set(['proc', 'etc/hosts']));
    const cloned = [];
    for await (const e of overlayDiffEntries(clone)) cloned.push(e);
    assert.equal((await storeLayer(content, 'l', dir, cloned)).diffId, a.diffId);
    // SOURCE_DATE_EPOCH clamps every mtime: the same content from another time is the same blob.
    const clamp = new Date(1_000_000_000_000);
    const c1 = await storeLayer(content, 'l', dir, entries, clamp);
    const c2 = await storeLayer(
      content,
      'l',
      dir,
      entries.map((e) => ({ ...e, mtime: new Date() })),
      clamp,
    );
    assert.equal(c1.diffId, c2.diffId);
  });

  it('cache keys change with any part and the cache uses an entry only while its layers exist', async (t) => {
    assert.equal(cacheKey('p', ['run', ['sh', '-c', 'x']]), cacheKey('p', ['run', ['sh', '-c', 'x']]));
    assert.notEqual(cacheKey('p', ['run', ['sh', '-c', 'x']]), cacheKey('q', ['run', ['sh', '-c', 'x']]));
    assert.notEqual(cacheKey('p', ['copy', 'a', 'sha256:1']), cacheKey('p', ['copy', 'a', 'sha256:2']));
    const dir = mkdtempSync(join(tmpdir(), 'berth-build-cache-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cache = new BuildCache(dir);
    const state = {
      config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' as const, diff_ids: ['sha256:x'] } },
      layers: [{ mediaType: 'm', digest: 'sha256:x', size: 1 }],
    };
    await cache.put('k', state);
    assert.deepEqual(await new BuildCache(dir).get('k', async () => true), state, 'kept on disk');
    assert.equal(await cache.get('k', async () => false), undefined, 'a layer gc took: a miss');
    assert.equal(await cache.clear(), 1);
    assert.equal(await new BuildCache(dir).get('k', async () => true), undefined);
  });

  it('file capabilities and user xattrs of a RUN diff travel in the layer tar (PAX SCHILY.xattr, bytes kept) and come back on extraction', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root: security.capability');
    const { existsSync } = await import('node:fs');
    if (!existsSync('/usr/sbin/setcap') || !existsSync('/usr/sbin/getcap'))
      return t.skip('setcap/getcap (libcap2-bin) are not installed');
    const dir = mkdtempSync(join(tmpdir(), 'berth-build-xattr-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const upper = join(dir, 'upper');
    mkdirSync(upper);
    writeFileSync(join(upper, 'ping'), 'binary');
    execFileSync('/usr/sbin/setcap', ['cap_net_raw+ep', join(upper, 'ping')]);
    await lsetxattr(join(upper, 'ping'), 'user.note', Buffer.from([0xff, 0x00, 0x80]));
    const entries = [];
    for await (const e of overlayDiffEntries(upper)) entries.push(e);
    const content = new LocalContentStore(join(dir, 'content'));
    await content.createLease('l', {});
    const layer = await storeLayer(content, 'l', dir, entries);
    const out = join(dir, 'out');
    mkdirSync(out);
    const { applyLayer } = await import('../archive/apply-layer.ts');
    await applyLayer(await content.read(layer.descriptor.digest), {
      mediaType: layer.descriptor.mediaType,
      targetDir: out,
      format: 'overlay',
      context: 'test',
      inline: true,
    });
    assert.match(execFileSync('/usr/sbin/getcap', [join(out, 'ping')], { encoding: 'utf8' }), /cap_net_raw[=+]ep/);
    const { lgetxattr } = await import('../archive/xattrs.ts');
    assert.deepEqual(await lgetxattr(join(out, 'ping'), 'user.note'), Buffer.from([0xff, 0x00, 0x80]));
  });

  it("a COPY's entries written straight into a directory give what extracting their tar gives (names, types, owners, modes, mtimes, bytes)", async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root: owners');
    const dir = mkdtempSync(join(tmpdir(), 'berth-build-direct-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'src.bin'), Buffer.alloc(300_000, 7));
    const when = new Date(1_700_000_000_123);
    const entries: LayerEntry[] = [
      { name: 'app', type: 'directory', mode: 0o750, uid: 10, gid: 20, mtime: when },
      {
        name: 'app/big.bin',
        type: 'file',
        mode: 0o4755,
        uid: 10,
        gid: 20,
        mtime: when,
        source: join(dir, 'src.bin'),
        size: 300_000,
      },
      { name: 'app/here', type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: when, data: Buffer.from('doc\n'), size: 4 },
      { name: 'app/link', type: 'symlink', mode: 0o777, uid: 10, gid: 20, mtime: when, linkname: 'big.bin' },
      { name: 'app/sub', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: when },
    ];
    assert.ok(canWriteDirectly(entries));
    const content = new LocalContentStore(join(dir, 'content'));
    await content.createLease('l', {});
    const layer = await storeLayer(content, 'l', dir, entries);
    const extracted = join(dir, 'extracted');
    const direct = join(dir, 'direct');
    mkdirSync(extracted);
    mkdirSync(direct);
    const { applyLayer } = await import('../archive/apply-layer.ts');
    await applyLayer(await content.read(layer.descriptor.digest), {
      mediaType: layer.descriptor.mediaType,
      targetDir: extracted,
      format: 'overlay',
      context: 'test',
      inline: true,
    });
    await writeLayerEntries(entries, direct);
    const { lstatSync, readFileSync, readlinkSync } = await import('node:fs');
    for (const e of entries) {
      const a = lstatSync(join(extracted, e.name));
      const b = lstatSync(join(direct, e.name));
      assert.deepEqual(
        [b.mode, b.uid, b.gid, b.mtimeMs, b.size],
        [a.mode, a.uid, a.gid, a.mtimeMs, e.type === 'directory' ? b.size : a.size],
        e.name,
      );
      if (e.type === 'file')
        assert.deepEqual(readFileSync(join(direct, e.name)), readFileSync(join(extracted, e.name)));
      if (e.type === 'symlink') assert.equal(readlinkSync(join(direct, e.name)), 'big.bin');
    }
    // A file that already is the entry (a snapshot's, found by its inode) is hard-linked, not copied.
    const linked = join(dir, 'linked');
    mkdirSync(linked);
    await writeLayerEntries(entries, linked, undefined, (e) =>
      e.name === 'app/big.bin' ? join(direct, e.name) : undefined,
    );
    assert.equal(lstatSync(join(linked, 'app/big.bin')).ino, lstatSync(join(direct, 'app/big.bin')).ino);
    assert.equal(lstatSync(join(linked, 'app/here')).nlink, 1);
    // Written again from the written tree, the layer is the same blob.
    const again: LayerEntry[] = [];
    for await (const e of overlayDiffEntries(direct)) again.push(e);
    assert.equal((await storeLayer(content, 'l', dir, again)).diffId, layer.diffId);

    // What the applier must handle is left to it: a parent only below, a duplicate, a device, a "..".
    const base = { mode: 0o644, uid: 0, gid: 0, mtime: when };
    assert.ok(!canWriteDirectly([{ ...base, name: 'usr/bin/x', type: 'file', data: Buffer.alloc(0) }]));
    assert.ok(
      !canWriteDirectly([
        { ...base, name: 'a', type: 'directory' },
        { ...base, name: 'a', type: 'symlink', linkname: '/etc' },
      ]),
    );
    assert.ok(!canWriteDirectly([{ ...base, name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }]));
    assert.ok(!canWriteDirectly([{ ...base, name: '../x', type: 'file', data: Buffer.alloc(0) }]));
  });
});
