// applyLayer on well-formed layers, as root: every entry kind with its mode, owner, mtime and
// xattrs; hardlinks; whiteouts and opaque directories in overlay and plain form; gzip, zstd and
// uncompressed input with the DiffID of the uncompressed tar.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyLayer } from '../../src/archive/apply-layer.ts';
import { lgetxattr } from '../../src/archive/xattrs.ts';
import { ErrorCode, isBerthError } from '../../src/errors/errors.ts';
import { type TarEntry, buildTar, chunked, gzip, sha256, zstd } from '../lib/hostile-layers.ts';

const T1 = new Date('2021-03-04T05:06:07Z');
const T2 = new Date('2019-01-02T03:04:05Z');
const OCI_TAR = 'application/vnd.oci.image.layer.v1.tar';
const OCI_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
// security.capability v2 for cap_net_raw (bit 13) permitted+effective.
const CAP_NET_RAW = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

const everyKind: TarEntry[] = [
  { name: 'bin/', type: 'directory', mode: 0o755, mtime: T2 },
  { name: 'bin/tool', content: '#!/bin/sh\necho hi\n', mode: 0o4755, uid: 1000, gid: 1001, mtime: T1 },
  {
    name: 'bin/ping',
    content: 'ping',
    mode: 0o755,
    mtime: T1,
    pax: { 'SCHILY.xattr.security.capability': CAP_NET_RAW.toString('latin1') },
  },
  { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', uid: 7, gid: 8, mtime: T1 },
  { name: 'bin/tool-again', type: 'link', linkname: 'bin/tool' },
  { name: 'tmp/', type: 'directory', mode: 0o1777, mtime: T2 },
  {
    name: 'etc/conf',
    content: 'x=1\n',
    mode: 0o600,
    uid: 33,
    gid: 34,
    pax: { 'SCHILY.xattr.user.note': 'hello ✓', mtime: '1600000000.5' },
  },
  { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
  { name: 'run/fifo', type: 'fifo', mode: 0o620 },
  { name: `long/${'n'.repeat(180)}/${'m'.repeat(120)}`, content: 'deep' },
  { name: 'private/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000, mtime: T2 },
  { name: 'private/secret', content: 's', mode: 0o400, uid: 1000, gid: 1000 },
];

if (process.getuid?.() !== 0) {
  test('unpack-layer needs root', () => {
    assert.fail('test/integration/unpack-layer.test.ts must run as root (device nodes, chown, trusted.* xattrs)');
  });
} else {
  describe('applyLayer', () => {
    let base = '';
    let n = 0;
    const fresh = async () => {
      const d = join(base, `t${n++}`);
      await fs.mkdir(d);
      return d;
    };
    before(async () => {
      base = await fs.mkdtemp(join(tmpdir(), 'berth-unpack-layer-'));
    });
    after(async () => {
      await fs.rm(base, { recursive: true, force: true });
    });

    test('every entry kind, with modes, owners, times and xattrs', async () => {
      const target = await fresh();
      const tarball = await buildTar(everyKind);
      const warnings: string[] = [];
      const r = await applyLayer(chunked(gzip(tarball)), {
        mediaType: OCI_GZIP,
        targetDir: target,
        format: 'overlay',
        context: 'every-kind',
        onWarning: (m) => warnings.push(m),
      });
      assert.deepEqual(warnings, []);
      assert.equal(r.diffId, sha256(tarball));
      assert.equal(r.size, tarball.length);

      const tool = await fs.lstat(join(target, 'bin/tool'));
      assert.ok(tool.isFile());
      assert.equal(tool.mode & 0o7777, 0o4755, 'setuid kept as given');
      assert.equal(tool.uid, 1000);
      assert.equal(tool.gid, 1001);
      assert.equal(tool.mtimeMs, T1.getTime());
      assert.equal(await fs.readFile(join(target, 'bin/tool'), 'utf8'), '#!/bin/sh\necho hi\n');

      const again = await fs.lstat(join(target, 'bin/tool-again'));
      assert.equal(again.ino, tool.ino, 'hardlink shares the inode');
      assert.equal(tool.nlink, 2);

      assert.deepEqual(await lgetxattr(join(target, 'bin/ping'), 'security.capability'), CAP_NET_RAW);
      assert.equal((await lgetxattr(join(target, 'etc/conf'), 'user.note'))?.toString('utf8'), 'hello ✓');
      const conf = await fs.lstat(join(target, 'etc/conf'));
      assert.equal(conf.mode & 0o7777, 0o600);
      assert.equal(conf.uid, 33);
      assert.equal(conf.gid, 34);
      assert.equal(conf.mtimeMs, 1_600_000_000_500, 'PAX sub-second mtime');

      const sh = await fs.lstat(join(target, 'bin/sh'));
      assert.ok(sh.isSymbolicLink());
      assert.equal(await fs.readlink(join(target, 'bin/sh')), '/bin/busybox');
      assert.equal(sh.uid, 7);
      assert.equal(sh.gid, 8);
      assert.equal(sh.mtimeMs, T1.getTime());

      const bin = await fs.lstat(join(target, 'bin'));
      assert.equal(bin.mtimeMs, T2.getTime(), 'directory mtime set after its children');
      const tmp = await fs.lstat(join(target, 'tmp'));
      assert.equal(tmp.mode & 0o7777, 0o1777);
      const priv = await fs.lstat(join(target, 'private'));
      assert.equal(priv.mode & 0o7777, 0o700);
      assert.equal(priv.uid, 1000);
      assert.equal(priv.mtimeMs, T2.getTime());

      const nul = await fs.lstat(join(target, 'dev/null'));
      assert.ok(nul.isCharacterDevice());
      assert.equal(nul.rdev, (1 << 8) | 3);
      assert.equal(nul.mode & 0o7777, 0o666);
      const loop = await fs.lstat(join(target, 'dev/loop9'));
      assert.ok(loop.isBlockDevice());
      assert.equal(loop.rdev, (7 << 8) | 9);
      assert.equal(loop.gid, 6);
      const fifo = await fs.lstat(join(target, 'run/fifo'));
      assert.ok(fifo.isFIFO());
      assert.equal(fifo.mode & 0o7777, 0o620);

      assert.equal(await fs.readFile(join(target, `long/${'n'.repeat(180)}/${'m'.repeat(120)}`), 'utf8'), 'deep');
      // Implicit parents are plain root-owned 0755 directories.
      const dev = await fs.lstat(join(target, 'dev'));
      assert.equal(dev.mode & 0o7777, 0o755);
    });

    test('gzip, zstd and uncompressed give the same tree and DiffID; bytes that contradict the declared type are refused', async () => {
      const tarball = await buildTar([
        { name: 'a/b', content: 'x'.repeat(100_000) },
        { name: 'c', content: 'c' },
      ]);
      const cases: [string, Buffer, string][] = [
        ['gzip', gzip(tarball), OCI_GZIP],
        ['zstd', zstd(tarball), OCI_ZSTD],
        ['plain', tarball, OCI_TAR],
        ['docker gzip', gzip(tarball), 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
        ['nondistributable zstd', zstd(tarball), 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd'],
      ];
      for (const [label, blob, mediaType] of cases) {
        const target = await fresh();
        const r = await applyLayer(chunked(blob, 1000), {
          mediaType,
          targetDir: target,
          format: 'overlay',
          context: label,
        });
        assert.equal(r.diffId, sha256(tarball), label);
        assert.equal(r.size, tarball.length, label);
        assert.equal((await fs.readFile(join(target, 'a/b'), 'utf8')).length, 100_000, label);
      }
      // The declared type decides: bytes of another kind are an error, and nothing is written.
      const mislabelled: [string, Buffer, string, RegExp][] = [
        [
          'gzip labelled tar',
          gzip(tarball),
          'application/vnd.docker.image.rootfs.diff.tar',
          /declares a tar layer, but the blob's bytes are gzip-compressed/,
        ],
        [
          'zstd labelled gzip',
          zstd(tarball),
          'application/vnd.docker.image.rootfs.diff.tar.gzip',
          /declares a tar\+gzip layer, but the blob's bytes are zstd-compressed/,
        ],
        ['tar labelled zstd', tarball, OCI_ZSTD, /declares a tar\+zstd layer, but the blob's bytes are not compressed/],
      ];
      for (const [label, blob, mediaType, expect] of mislabelled) {
        const target = await fresh();
        await assert.rejects(
          applyLayer(chunked(blob, 1000), { mediaType, targetDir: target, format: 'overlay', context: label }),
          (e: unknown) =>
            isBerthError(e, ErrorCode.InvalidArgument) && e.message.startsWith(`${label}: `) && expect.test(e.message),
          label,
        );
        assert.deepEqual(await fs.readdir(target), [], `${label}: nothing unpacked`);
      }
    });

    test('a Node Readable works as input, and bzip2 or unknown media types are refused', async () => {
      const { Readable } = await import('node:stream');
      const tarball = await buildTar([{ name: 'f', content: 'f' }]);
      const target = await fresh();
      const r = await applyLayer(Readable.from([tarball]), {
        mediaType: OCI_TAR,
        targetDir: target,
        format: 'overlay',
        context: 'readable',
      });
      assert.equal(r.diffId, sha256(tarball));
      await assert.rejects(
        applyLayer(chunked(Buffer.from('BZh91AY&SY')), {
          mediaType: OCI_TAR,
          targetDir: await fresh(),
          format: 'overlay',
          context: 'bz',
        }),
        (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && /bytes are bzip2-compressed/.test(e.message),
      );
      // An unknown type is refused even when its bytes are gzip (they used to decide).
      for (const blob of [tarball, gzip(tarball)]) {
        const target = await fresh();
        await assert.rejects(
          applyLayer(chunked(blob), {
            mediaType: 'application/x-rar',
            targetDir: target,
            format: 'overlay',
            context: 'rar',
          }),
          (e: unknown) =>
            isBerthError(e, ErrorCode.InvalidArgument) &&
            /^rar has media type "application\/x-rar", which is not a layer type berth can unpack/.test(e.message),
        );
        assert.deepEqual(await fs.readdir(target), []);
      }
    });

    test('overlay form: whiteouts become 0/0 char devices, opaque markers an xattr', async () => {
      const target = await fresh();
      await applyLayer(
        chunked(
          await buildTar([
            { name: 'etc/', type: 'directory' },
            { name: 'etc/.wh.gone', content: '' },
            { name: 'var/lib/.wh..wh..opq', content: '' },
            { name: 'var/lib/kept', content: 'k' },
            { name: '.wh..wh.plnk/123', content: '' },
          ]),
        ),
        { mediaType: OCI_TAR, targetDir: target, format: 'overlay', context: 'wh' },
      );
      const gone = await fs.lstat(join(target, 'etc/gone'));
      assert.ok(gone.isCharacterDevice());
      assert.equal(gone.rdev, 0);
      await assert.rejects(fs.lstat(join(target, 'etc/.wh.gone')), { code: 'ENOENT' });
      assert.equal((await lgetxattr(join(target, 'var/lib'), 'trusted.overlay.opaque'))?.toString(), 'y');
      assert.equal(await lgetxattr(join(target, 'etc'), 'trusted.overlay.opaque'), undefined);
      assert.equal(await fs.readFile(join(target, 'var/lib/kept'), 'utf8'), 'k');
    });

    test('overlay form: trusted.overlay.* xattrs from the tar are dropped with a warning', async () => {
      const target = await fresh();
      const warnings: string[] = [];
      await applyLayer(
        chunked(
          await buildTar([{ name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }]),
        ),
        {
          mediaType: OCI_TAR,
          targetDir: target,
          format: 'overlay',
          context: 'redir',
          onWarning: (m) => warnings.push(m),
        },
      );
      assert.equal(await lgetxattr(join(target, 'd'), 'trusted.overlay.redirect'), undefined);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /redir: entry "d\/": xattr trusted.overlay.redirect ignored/);
    });

    test('plain form: whiteouts delete lower entries; opaque keeps only what this layer wrote', async () => {
      const target = await fresh();
      await applyLayer(
        chunked(
          await buildTar([
            { name: 'etc/gone', content: 'lower' },
            { name: 'etc/stays', content: 'lower' },
            { name: 'olddir/sub/deep', content: 'lower' },
            { name: 'opq/a', content: 'lower' },
            { name: 'opq/sub/lower', content: 'lower' },
            { name: 'opq/sub2/lower', content: 'lower' },
          ]),
        ),
        { mediaType: OCI_TAR, targetDir: target, format: 'plain', context: 'lower' },
      );
      await applyLayer(
        chunked(
          await buildTar([
            { name: 'etc/.wh.gone', content: '' },
            { name: '.wh.olddir', content: '' },
            { name: '.wh.never-existed', content: '' },
            { name: 'opq/sub/upper-before', content: 'upper' },
            { name: 'opq/.wh..wh..opq', content: '' },
            { name: 'opq/b', content: 'upper' },
          ]),
        ),
        { mediaType: OCI_TAR, targetDir: target, format: 'plain', context: 'upper' },
      );
      await assert.rejects(fs.lstat(join(target, 'etc/gone')), { code: 'ENOENT' });
      assert.equal(await fs.readFile(join(target, 'etc/stays'), 'utf8'), 'lower');
      await assert.rejects(fs.lstat(join(target, 'olddir')), { code: 'ENOENT' });
      await assert.rejects(fs.lstat(join(target, 'never-existed')), { code: 'ENOENT' });
      assert.deepEqual((await fs.readdir(join(target, 'opq'))).sort(), ['b', 'sub']);
      assert.deepEqual(await fs.readdir(join(target, 'opq/sub')), ['upper-before']);
    });

    test('later entries win: a directory replaces a file and a file replaces a directory tree', async () => {
      const target = await fresh();
      await applyLayer(
        chunked(
          await buildTar([
            { name: 'x', content: 'file' },
            { name: 'x/', type: 'directory', mode: 0o750 },
            { name: 'x/in', content: 'in' },
            { name: 'y/deep/er', content: 'tree' },
            { name: 'y', content: 'now a file' },
            { name: 'y2/', type: 'directory', mode: 0o700 },
            { name: 'y2/', type: 'directory', mode: 0o755, uid: 5 },
          ]),
        ),
        { mediaType: OCI_TAR, targetDir: target, format: 'overlay', context: 'dups' },
      );
      const x = await fs.lstat(join(target, 'x'));
      assert.ok(x.isDirectory());
      assert.equal(x.mode & 0o7777, 0o750);
      assert.equal(await fs.readFile(join(target, 'x/in'), 'utf8'), 'in');
      assert.equal(await fs.readFile(join(target, 'y'), 'utf8'), 'now a file');
      const y2 = await fs.lstat(join(target, 'y2'));
      assert.equal(y2.mode & 0o7777, 0o755);
      assert.equal(y2.uid, 5);
    });

    test('plain form: a hardlink may point into a lower layer', async () => {
      const target = await fresh();
      await applyLayer(chunked(await buildTar([{ name: 'lib/libc.so', content: 'elf' }])), {
        mediaType: OCI_TAR,
        targetDir: target,
        format: 'plain',
        context: 'l0',
      });
      await applyLayer(chunked(await buildTar([{ name: 'lib/libc.so.6', type: 'link', linkname: 'lib/libc.so' }])), {
        mediaType: OCI_TAR,
        targetDir: target,
        format: 'plain',
        context: 'l1',
      });
      const a = await fs.lstat(join(target, 'lib/libc.so'));
      const b = await fs.lstat(join(target, 'lib/libc.so.6'));
      assert.equal(a.ino, b.ino);
    });
  });
}
