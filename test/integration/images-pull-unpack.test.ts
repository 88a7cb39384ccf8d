// Pull with unpack-while-downloading against Debian's docker-registry, as root: layers teed into the
// content store and applyLayer; overlay layers extracted side by side and committed in order onto
// their chain (checked by mounting the result); a DiffID that does not match the config, a blob
// corrupted in the registry, and a pull killed with SIGKILL mid-layer all leave no committed
// snapshot that was not verified, no partial blob and no extract-* snapshot behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyLayer } from '../../src/archive/apply-layer.ts';
import type { ContentStore } from '../../src/content/content-store.ts';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { writeBlob } from '../../src/content/write-blob.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ErrorCode, isBerthError } from '../../src/errors/errors.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { type PullEvent, pull } from '../../src/images/pull.ts';
import { push } from '../../src/images/push.ts';
import { unpackStored } from '../../src/images/unpack-stored.ts';
import { type ImageConfig, type ImageManifest, MediaType } from '../../src/oci/image-spec.ts';
import { chainIds } from '../../src/snapshots/chain-id.ts';
import { mountAll, unmountAll } from '../../src/snapshots/mount.ts';
import { NativeSnapshotter } from '../../src/snapshots/native-snapshotter.ts';
import { OverlaySnapshotter } from '../../src/snapshots/overlay-snapshotter.ts';
import type { Snapshotter } from '../../src/snapshots/snapshotter.ts';
import { type TarEntry, buildTar, gzip, sha256 } from '../lib/hostile-layers.ts';
import { startFaultProxy, startRegistry, type TestRegistry } from '../lib/registry.ts';

const LAYERS: TarEntry[][] = [
  [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', content: 'ID=berth\n' },
    { name: 'etc/gone', content: 'lower\n' },
    { name: 'var/lib/app/old', content: 'old' },
    { name: 'bin/busybox', content: 'bb', mode: 0o755 },
    { name: 'bin/sh', type: 'link', linkname: 'bin/busybox' },
  ],
  [
    { name: 'etc/.wh.gone', content: '' },
    { name: 'var/lib/app/.wh..wh..opq', content: '' },
    { name: 'var/lib/app/new', content: 'new' },
  ],
  [{ name: 'etc/os-release', content: 'ID=berth\nVERSION=2\n' }],
];

type Env = { root: string; content: LocalContentStore; images: ImageStore };
const temps: string[] = [];
async function env(): Promise<Env> {
  const root = await mkdtemp(join(tmpdir(), 'berth-pull-unpack-'));
  temps.push(root);
  return { root, content: new LocalContentStore(join(root, 'content')), images: new ImageStore(root) };
}

/**
 * An image of gzip'd layers; `diffIds` overrides the config's (to lie about a layer), `mediaTypes`
 * the layers' declared types.
 */
async function image(
  content: ContentStore,
  images: ImageStore,
  name: string,
  tars: Buffer[],
  diffIds?: string[],
  mediaTypes?: string[],
) {
  const layers = [];
  for (const [i, t] of tars.entries())
    layers.push({ mediaType: mediaTypes?.[i] ?? MediaType.LayerGzip, ...(await writeBlob(content, gzip(t))) });
  const real = tars.map(sha256);
  const cfg: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds ?? real },
  };
  const config = { mediaType: MediaType.ImageConfig, ...(await writeBlob(content, JSON.stringify(cfg))) };
  const m: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ImageManifest, config, layers };
  const manifest = { mediaType: MediaType.ImageManifest, ...(await writeBlob(content, JSON.stringify(m))) };
  await images.put(name, manifest);
  return { manifest, layers, diffIds: real };
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) =>
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

async function blobsSound(content: LocalContentStore): Promise<string[]> {
  const out: string[] = [];
  for (const algo of await readdir(join(content.root, 'blobs')).catch(() => [] as string[])) {
    for (const hex of await readdir(join(content.root, 'blobs', algo))) {
      const data = await readFile(join(content.root, 'blobs', algo, hex));
      assert.equal(createHash(algo).update(data).digest('hex'), hex, `blob ${algo}:${hex} is corrupt or partial`);
      out.push(`${algo}:${hex}`);
    }
  }
  return out;
}

const errCode = (code: string, re?: RegExp) => (e: unknown) => {
  assert.ok(isBerthError(e), `expected a BerthError, got ${e}`);
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

if (process.getuid?.() !== 0) {
  test('images-pull-unpack needs root', () => {
    assert.fail('test/integration/images-pull-unpack.test.ts must run as root (overlay mounts, device whiteouts)');
  });
} else {
  let reg: TestRegistry;
  let client: RegistryClient;
  let tars: Buffer[] = [];
  before(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } }, retryBaseMs: 20 });
    tars = await Promise.all(LAYERS.map((l) => buildTar(l)));
  });
  after(async () => {
    await client?.close();
    await reg?.stop();
    for (const t of temps) await rm(t, { recursive: true, force: true });
  });

  describe('pull with unpack while downloading', () => {
    it('overlay: extracts every layer at once, commits the chain in order, and the mounted stack is right', async () => {
      const src = await env();
      const name = `${reg.host}/unpack/overlay:1`;
      const built = await image(src.content, src.images, name, tars);
      await push(name, { ...src, client });

      const dst = await env();
      const sn = new OverlaySnapshotter(join(dst.root, 'snapshots'));
      const mnt = await mkdtemp(join(dst.root, 'mnt-'));
      try {
        const events: string[] = [];
        const onEvent = (e: PullEvent) => e.kind === 'unpack' && events.push(`${e.state}:${e.chainId}`);
        const r = await pull(name, { ...dst, client, unpack: { snapshotter: sn, applyLayer }, progress: onEvent });
        const chain = chainIds(built.diffIds);
        assert.equal(r.chainId, chain[2]);
        // Side by side: all three started before the first was committed; commits in order.
        assert.deepEqual(events, [...chain.map((c) => `unpacking:${c}`), ...chain.map((c) => `done:${c}`)]);
        assert.equal((await sn.stat(chain[0]!)).parent, undefined);
        assert.equal((await sn.stat(chain[1]!)).parent, chain[0]);
        assert.equal((await sn.stat(chain[2]!)).parent, chain[1]);
        assert.deepEqual(
          (await sn.list()).map((s) => s.name).sort(),
          [...chain].sort(),
          'no extract-* snapshot is left',
        );
        assert.equal((await blobsSound(dst.content)).length, 5);

        await sn.view('look', chain[2]);
        await mountAll(await sn.mounts('look'), mnt);
        try {
          assert.deepEqual(await tree(mnt), [
            'bin/',
            'bin/busybox',
            'bin/sh',
            'etc/',
            'etc/os-release',
            'var/',
            'var/lib/',
            'var/lib/app/',
            'var/lib/app/new',
          ]);
          assert.equal(await readFile(join(mnt, 'etc/os-release'), 'utf8'), 'ID=berth\nVERSION=2\n');
          assert.equal((await stat(join(mnt, 'bin/sh'))).ino, (await stat(join(mnt, 'bin/busybox'))).ino);
        } finally {
          unmountAll(mnt);
        }
        await sn.remove('look');

        const again: string[] = [];
        await pull(name, {
          ...dst,
          client,
          unpack: { snapshotter: sn, applyLayer },
          progress: (e) => e.kind === 'unpack' && again.push(e.state),
        });
        assert.deepEqual(again, ['exists', 'exists', 'exists']);
      } finally {
        sn.close();
      }
    });

    for (const [kind, make] of [
      ['overlay', (r: string) => new OverlaySnapshotter(r)],
      ['plain', (r: string) => new NativeSnapshotter(r)],
    ] as const) {
      it(`${kind}: a layer whose DiffID does not match the config is never committed, nor anything above it`, async () => {
        const src = await env();
        const name = `${reg.host}/unpack/lying-${kind}:1`;
        const real = tars.map(sha256);
        const lie = `sha256:${'0'.repeat(64)}`;
        await image(src.content, src.images, name, tars, [real[0]!, lie, real[2]!]);
        await push(name, { ...src, client });
        const dst = await env();
        const sn: Snapshotter = make(join(dst.root, 'snapshots'));
        try {
          await assert.rejects(
            pull(name, { ...dst, client, unpack: { snapshotter: sn, applyLayer } }),
            errCode(ErrorCode.FailedPrecondition, /does not match config\.rootfs\.diff_ids\[1\]/),
          );
          const left = await sn.list();
          assert.deepEqual(
            left.map((s) => `${s.kind}:${s.name}`),
            [`committed:${real[0]}`],
            'only the verified bottom layer stays',
          );
          await assert.rejects(dst.images.get(name), errCode(ErrorCode.NotFound));
          await blobsSound(dst.content);
          assert.deepEqual(await dst.content.listLeases(), []);
        } finally {
          sn.close();
        }
      });
    }

    it('overlay: a blob corrupted in the registry fails the pull; its snapshot and blob never appear', async () => {
      const src = await env();
      const name = `${reg.host}/unpack/corrupt:1`;
      // A layer no other test shares: the registry stores each blob once.
      const own = await buildTar([{ name: 'etc/only-here', content: 'corrupt test\n' }]);
      const built = await image(src.content, src.images, name, [tars[0]!, tars[1]!, own]);
      await push(name, { ...src, client });
      // Flip one byte of layer 2's gzip trailer (its CRC) in the registry's storage: the tar
      // still unpacks, only the digest check can catch it.
      const hex = built.layers[2]!.digest.slice('sha256:'.length);
      const file = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
      const fh = await open(file, 'r+');
      try {
        const size = (await fh.stat()).size;
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, size - 6);
        b[0]! ^= 0xff;
        await fh.write(b, 0, 1, size - 6);
      } finally {
        await fh.close();
      }
      const dst = await env();
      const sn = new OverlaySnapshotter(join(dst.root, 'snapshots'));
      try {
        // The message names the image and which blob, not the content store's internal ingest.
        const layer3 = built.layers[2]!.digest;
        await assert.rejects(
          pull(name, { ...dst, client, unpack: { snapshotter: sn, applyLayer } }),
          errCode(
            ErrorCode.InvalidArgument,
            new RegExp(
              `^pull ${name}: layer 3 of 3 \\(${layer3}\\): the content the registry sent does not match the digest: expected ${layer3}`,
            ),
          ),
        );
        const chain = chainIds(built.diffIds);
        const left = (await sn.list()).map((s) => s.name);
        assert.ok(!left.includes(chain[2]!), 'the corrupt layer is not committed');
        assert.ok(
          left.every((n) => !n.startsWith('extract-')),
          `no extract snapshot is left: ${left}`,
        );
        assert.equal(await dst.content.exists(built.layers[2]!.digest), false);
        await blobsSound(dst.content);
      } finally {
        sn.close();
      }
    });

    // Merged /usr (current Debian and Ubuntu): lib and bin are symlinks into usr in the base layer.
    const MERGED_USR: TarEntry[][] = [
      [
        { name: 'usr/', type: 'directory', mode: 0o755 },
        { name: 'usr/lib/', type: 'directory', mode: 0o755 },
        { name: 'usr/lib/libc.so', content: 'libc\n' },
        { name: 'usr/lib/x86_64/', type: 'directory', mode: 0o711 },
        { name: 'usr/bin/', type: 'directory', mode: 0o755 },
        { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
        { name: 'bin', type: 'symlink', linkname: '/usr/bin' },
      ],
      // Entries under the symlinks, with no entry for lib/ or bin/ themselves (parents made in passing).
      [
        { name: 'lib/added.txt', content: 'added\n' },
        { name: 'lib/x86_64/libnew.so', content: 'new\n' },
        { name: 'lib/fresh/deep.txt', content: 'deep\n' },
        { name: 'bin/tool', content: 'tool\n', mode: 0o755 },
      ],
      // An entry that is itself a directory replaces the symlink, as a tar extraction does.
      [
        { name: 'lib/', type: 'directory', mode: 0o755 },
        { name: 'lib/own.txt', content: 'own\n' },
      ],
    ];
    for (const [kind, make] of [
      ['overlay', (r: string) => new OverlaySnapshotter(r)],
      ['plain', (r: string) => new NativeSnapshotter(r)],
    ] as const) {
      it(`${kind}: an entry under a lower layer's symlinked directory lands where the symlink points, and the symlink stays`, async () => {
        const src = await env();
        const name = `${reg.host}/unpack/merged-usr-${kind}:1`;
        const mtars = await Promise.all(MERGED_USR.map((l) => buildTar(l)));
        const built = await image(src.content, src.images, name, mtars);
        await push(name, { ...src, client });
        const dst = await env();
        const sn = make(join(dst.root, 'snapshots'));
        const mnt = await mkdtemp(join(dst.root, 'mnt-'));
        const chain = chainIds(built.diffIds);
        const look = async (k: number, fn: () => Promise<void>) => {
          await sn.view(`look-${k}`, chain[k]);
          await mountAll(await sn.mounts(`look-${k}`), mnt);
          try {
            await fn();
          } finally {
            unmountAll(mnt);
            await sn.remove(`look-${k}`);
          }
        };
        try {
          await pull(name, { ...dst, client, unpack: { snapshotter: sn, applyLayer } });
          await look(1, async () => {
            assert.equal(await readlink(join(mnt, 'lib')), 'usr/lib', 'lib is still the symlink');
            assert.equal(await readlink(join(mnt, 'bin')), '/usr/bin', 'bin is still the symlink');
            assert.equal(await readFile(join(mnt, 'usr/lib/added.txt'), 'utf8'), 'added\n');
            assert.equal(await readFile(join(mnt, 'usr/lib/x86_64/libnew.so'), 'utf8'), 'new\n');
            assert.equal(await readFile(join(mnt, 'usr/lib/fresh/deep.txt'), 'utf8'), 'deep\n');
            assert.equal(await readFile(join(mnt, 'usr/bin/tool'), 'utf8'), 'tool\n');
            assert.equal(
              await readFile(join(mnt, 'usr/lib/libc.so'), 'utf8'),
              'libc\n',
              "the lower layer's files are not hidden",
            );
            assert.equal(
              (await stat(join(mnt, 'usr/lib/x86_64'))).mode & 0o7777,
              0o711,
              'a lower directory keeps its mode',
            );
          });
          if (sn instanceof OverlaySnapshotter) {
            // The layer's own diff has no lib/ directory left to hide the symlink.
            const [own] = await sn.lowerDirs(chain[1]!);
            assert.deepEqual((await readdir(own!)).sort(), ['usr']);
          }
          await look(2, async () => {
            assert.ok((await stat(join(mnt, 'lib'))).isDirectory());
            assert.deepEqual(await readdir(join(mnt, 'lib')), ['own.txt']);
            assert.equal(await readFile(join(mnt, 'usr/lib/added.txt'), 'utf8'), 'added\n');
          });
          // load (unpacking what is stored) does the same.
          if (sn instanceof OverlaySnapshotter) {
            const sn2 = new OverlaySnapshotter(join(dst.root, 'snapshots-load'));
            try {
              const m = JSON.parse((await dst.content.readAll(built.manifest.digest)).toString()) as ImageManifest;
              await unpackStored(name, m.layers, built.diffIds, dst.content, { snapshotter: sn2, applyLayer });
              const [own] = await sn2.lowerDirs(chain[1]!);
              assert.deepEqual((await readdir(own!)).sort(), ['usr']);
              assert.deepEqual((await readdir(join(own!, 'usr/lib'))).sort(), ['added.txt', 'fresh', 'x86_64']);
            } finally {
              sn2.close();
            }
          }
        } finally {
          sn.close();
        }
      });
    }

    it('overlay: a lower symlink that resolves to a file or into the directory itself is refused, naming the layer and directory', async () => {
      const src = await env();
      const cases: [string, TarEntry[], RegExp][] = [
        [
          'to-file',
          [
            { name: 'etc/', type: 'directory' },
            { name: 'etc/conf', content: 'c' },
            { name: 'lib', type: 'symlink', linkname: 'etc/conf' },
          ],
          /directory "lib" of this layer is a symlink in a lower layer, which cannot be followed: "etc\/conf" is not a directory/,
        ],
        [
          'cycle',
          [
            { name: 'lib', type: 'symlink', linkname: 'x' },
            { name: 'x', type: 'symlink', linkname: 'y' },
            { name: 'y', type: 'symlink', linkname: '/x' },
          ],
          /directory "lib" of this layer is a symlink in a lower layer, which cannot be followed: resolving it followed more than 40 symlinks/,
        ],
        [
          'loop',
          [{ name: 'lib', type: 'symlink', linkname: 'lib' }],
          /directory "lib" of this layer is a symlink in a lower layer, which cannot be followed: it points to "lib", inside itself/,
        ],
      ];
      for (const [label, lower, re] of cases) {
        const name = `${reg.host}/unpack/lower-bad-${label}:1`;
        const built = await image(src.content, src.images, name, [
          await buildTar(lower),
          await buildTar([{ name: 'lib/x', content: 'x' }]),
        ]);
        await push(name, { ...src, client });
        const dst = await env();
        const sn = new OverlaySnapshotter(join(dst.root, 'snapshots'));
        try {
          await assert.rejects(
            pull(name, { ...dst, client, unpack: { snapshotter: sn, applyLayer } }),
            errCode(
              ErrorCode.InvalidArgument,
              new RegExp(`^image ${name} layer ${built.layers[1]!.digest}: ${re.source}`),
            ),
          );
          assert.deepEqual(
            (await sn.list()).map((s) => s.name),
            [chainIds(built.diffIds)[0]],
            `${label}: only the lower layer is committed`,
          );
        } finally {
          sn.close();
        }
      }
    });

    it('a layer of a media type berth does not know is refused before any layer is fetched or unpacked, naming the image, layer and type', async () => {
      const src = await env();
      const name = `${reg.host}/unpack/unknown-type:1`;
      const own = await buildTar([{ name: 'etc/unknown-type', content: 'x\n' }]);
      // gzip bytes: they used to decide, whatever the declared type said.
      const odd = 'application/vnd.example.layer.v1.tar+gzip';
      const built = await image(src.content, src.images, name, [tars[0]!, own, tars[2]!], undefined, [
        MediaType.LayerGzip,
        odd,
        MediaType.LayerGzip,
      ]);
      await push(name, { ...src, client });
      for (const make of [(r: string) => new OverlaySnapshotter(r), (r: string) => new NativeSnapshotter(r)]) {
        const dst = await env();
        const sn: Snapshotter = make(join(dst.root, 'snapshots'));
        try {
          await assert.rejects(
            pull(name, { ...dst, client, unpack: { snapshotter: sn, applyLayer } }),
            errCode(
              ErrorCode.InvalidArgument,
              new RegExp(
                `^image ${name}: layer 2 of 3 \\(${built.layers[1]!.digest}\\) has media type "application/vnd\\.example\\.layer\\.v1\\.tar\\+gzip", which is not a layer type berth can unpack`,
              ),
            ),
          );
          assert.deepEqual(await sn.list(), [], 'no snapshot was prepared');
          for (const l of built.layers)
            assert.equal(await dst.content.exists(l.digest), false, `layer ${l.digest} was not fetched`);
          await assert.rejects(dst.images.get(name), errCode(ErrorCode.NotFound));
        } finally {
          sn.close();
        }
      }
    });

    it('overlay: a pull killed with SIGKILL mid-layer leaves nothing unverified; pulling again resumes and completes', async () => {
      const src = await env();
      const name = `${reg.host}/unpack/killed:1`;
      const { randomBytes } = await import('node:crypto');
      // Random data does not compress: the big layer really takes ~2 s through the throttle.
      const big = await buildTar([{ name: 'data/random.bin', content: randomBytes(8_000_000) }]);
      const built = await image(src.content, src.images, name, [tars[0]!, big, tars[2]!]);
      await push(name, { ...src, client });
      const proxy = await startFaultProxy(reg.url, () => ({ kind: 'throttle', bytesPerSecond: 4_000_000 }));
      const dst = await env();
      const snRoot = join(dst.root, 'snapshots');
      const ref = `${proxy.host}/unpack/killed:1`;
      try {
        const mod = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
        const script = `
          import { LocalContentStore } from ${mod('../../src/content/local-content-store.ts')};
          import { ImageStore } from ${mod('../../src/images/image-store.ts')};
          import { RegistryClient } from ${mod('../../src/distribution/registry-client.ts')};
          import { OverlaySnapshotter } from ${mod('../../src/snapshots/overlay-snapshotter.ts')};
          import { applyLayer } from ${mod('../../src/archive/apply-layer.ts')};
          import { pull } from ${mod('../../src/images/pull.ts')};
          const client = new RegistryClient({ hosts: { ${JSON.stringify(proxy.host)}: { insecure: true } } });
          const snapshotter = new OverlaySnapshotter(${JSON.stringify(snRoot)});
          await pull(${JSON.stringify(ref)}, { content: new LocalContentStore(${JSON.stringify(dst.content.root)}), images: new ImageStore(${JSON.stringify(dst.root)}), client, unpack: { snapshotter, applyLayer } });
          console.log('finished');`;
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.on('data', (c) => (out += c));
        const exited = new Promise((r) => child.once('exit', r));
        const data = join(dst.content.root, 'ingest', `fetch-${built.layers[1]!.digest.replace(':', '-')}`, 'data');
        const deadline = Date.now() + 20_000;
        while (((await stat(data).catch(() => undefined))?.size ?? 0) < 2_000_000) {
          assert.ok(Date.now() < deadline, `the child never got 2 MB into the layer: ${out}`);
          assert.equal(child.exitCode, null, `the child exited early: ${out}`);
          await sleep(20);
        }
        process.kill(child.pid!, 'SIGKILL');
        await exited;
        assert.ok(!out.includes('finished'));

        const chain = chainIds(built.diffIds);
        const sn = new OverlaySnapshotter(snRoot);
        try {
          const committed = (await sn.list()).filter((s) => s.kind === 'committed').map((s) => s.name);
          assert.ok(
            !committed.includes(chain[1]!) && !committed.includes(chain[2]!),
            `nothing above the killed layer is committed: ${committed}`,
          );
          assert.equal(await dst.content.exists(built.layers[1]!.digest), false, 'the partial layer is not a blob');
          await blobsSound(dst.content);
          // What the killed pull prepared is visible only as active extract-<its pid>-* snapshots.
          const active = (await sn.list()).filter((s) => s.kind !== 'committed');
          assert.ok(active.length > 0, 'the killed pull had prepared its layers');
          for (const s of active) assert.match(s.name, new RegExp(`^extract-${child.pid}-`));

          const before = proxy.seen.length;
          const viaProxy = new RegistryClient({ hosts: { [proxy.host]: { insecure: true } } });
          try {
            const r = await pull(ref, { ...dst, client: viaProxy, unpack: { snapshotter: sn, applyLayer } });
            assert.equal(r.chainId, chain[2]);
          } finally {
            await viaProxy.close();
          }
          const resumed = proxy.seen.slice(before).find((s) => s.path.endsWith(`/blobs/${built.layers[1]!.digest}`));
          assert.match(resumed?.range ?? '', /^bytes=[1-9]\d*-$/, 'the second pull resumes the killed ingest');
          assert.equal((await sn.stat(chain[2]!)).parent, chain[1]);
          const names = (await sn.list()).map((s) => s.name).sort();
          assert.deepEqual(names, [...chain].sort(), 'the killed pull’s extract snapshots were swept');
          const [m] = await sn.view('check', chain[1]);
          assert.ok(m);
          const upper = join(snRoot, 'snapshots');
          assert.ok((await readdir(upper)).length >= 3);
          await sn.remove('check');
          assert.equal((await blobsSound(dst.content)).length, 5);
          assert.deepEqual(await dst.content.ingests(), []);
        } finally {
          sn.close();
        }
      } finally {
        await proxy.stop();
      }
    });
  });
}
