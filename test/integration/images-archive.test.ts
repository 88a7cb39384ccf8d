// Image archives against real peer tools (Debian's skopeo and umoci) and a real registry:
// berth save (OCI) → skopeo copy → umoci unpack; berth save (docker-archive) → skopeo copy; skopeo's
// OCI layouts (directory and archive) and docker-archives → berth load; berth push → skopeo inspect;
// docker's legacy layout with gzip'd and symlinked layers; and hostile archives (traversal in tar
// entries and in manifest.json, digests that do not match, missing files), refused with the stores
// untouched. Needs root (overlay snapshots). Fails loudly when a tool is missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ErrorCode, isBerthError } from '../../src/errors/errors.ts';
import { ImageService } from '../../src/images/image-service.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { push } from '../../src/images/push.ts';
import { MediaType } from '../../src/oci/image-spec.ts';
import { startRegistry, type TestRegistry } from '../lib/registry.ts';
import { busyboxImage, busyboxTar } from '../lib/test-images.ts';

const run = promisify(execFile);
for (const [bin, pkg] of [
  ['/usr/bin/skopeo', 'skopeo'],
  ['/usr/bin/umoci', 'umoci'],
] as const)
  if (!existsSync(bin)) throw new Error(`${bin} is missing: install the Debian package ${pkg} (scripts/setup.sh)`);

const temps: string[] = [];
async function temp(prefix = 'berth-archive-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
const services: ImageService[] = [];
async function service(): Promise<ImageService> {
  const s = await ImageService.open({ root: await temp('berth-root-') });
  services.push(s);
  return s;
}
after(async () => {
  for (const s of services) await s.close();
  for (const t of temps) await rm(t, { recursive: true, force: true });
});

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

type E = { name: string; data?: Buffer | string; type?: 'symlink' | 'directory'; linkname?: string };
async function writeTar(path: string, entries: E[]): Promise<void> {
  const p = pack();
  const out = createWriteStream(path);
  const done = new Promise<void>((r, j) => {
    out.on('finish', () => r());
    out.on('error', j);
  });
  p.pipe(out);
  for (const e of entries) {
    if (e.type) p.entry({ name: e.name, type: e.type, ...(e.linkname ? { linkname: e.linkname } : {}) });
    else p.entry({ name: e.name }, Buffer.from(e.data ?? ''));
  }
  p.finalize();
  await done;
}

async function save(s: ImageService, names: string[], format: 'docker-archive' | 'oci-archive'): Promise<string> {
  const file = join(await temp(), `${format}.tar`);
  await s.save(names, createWriteStream(file), { format });
  return file;
}

const refused = (re: RegExp) => (e: unknown) => {
  assert.ok(isBerthError(e), `expected a BerthError, got ${e}`);
  assert.ok(
    e.code === ErrorCode.InvalidArgument || e.code === ErrorCode.NotFound || e.code === ErrorCode.FailedPrecondition,
    e.message,
  );
  assert.match(e.message, re);
  return true;
};

describe('image archives with skopeo and umoci', () => {
  let reg: TestRegistry;
  let name: string;
  let svc: ImageService;
  let digest: string;
  before(async () => {
    reg = await startRegistry();
    const dir = await temp();
    const content = new LocalContentStore(join(dir, 'content'));
    const images = new ImageStore(dir);
    name = `${reg.host}/berth/busybox:1`;
    digest = (await busyboxImage(content, images, name)).manifest.digest;
    const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } } });
    await push(name, { client, content, images });
    await client.close();
    svc = await service();
    await svc.pull(name);
  });
  after(async () => {
    await reg?.stop();
  });

  it('berth save --format oci-archive → skopeo copy → umoci unpack gives the rootfs', async () => {
    const file = await save(svc, [name], 'oci-archive');
    const work = await temp();
    await run('skopeo', ['copy', '-q', `oci-archive:${file}`, `oci:${join(work, 'layout')}:t`]);
    await run('umoci', ['unpack', '--image', `${join(work, 'layout')}:t`, join(work, 'bundle')]);
    assert.equal(await readFile(join(work, 'bundle/rootfs/etc/hostname'), 'utf8'), 'berth\n');
    assert.ok(existsSync(join(work, 'bundle/rootfs/bin/busybox')));
    // The tag is the ref.name skopeo selects by; the digest survives the copy.
    const { stdout } = await run('skopeo', ['inspect', `oci-archive:${file}:1`]);
    assert.equal(JSON.parse(stdout).Digest, digest);
  });

  it('berth save (docker-archive) is read by skopeo copy docker-archive:', async () => {
    const file = await save(svc, [name], 'docker-archive');
    const dir = join(await temp(), 'dir');
    await run('skopeo', ['copy', '-q', `docker-archive:${file}`, `dir:${dir}`]);
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    const layerTar = await busyboxTar();
    assert.equal(m.layers.length, 1);
    // Uncompressed, as docker saves them: the layer's digest is its DiffID.
    assert.equal(m.layers[0].digest, `sha256:${sha(layerTar)}`);
    // skopeo finds the image by the name berth wrote in RepoTags.
    await run('skopeo', ['copy', '-q', `docker-archive:${file}:${name}`, `dir:${dir}-byname`]);
    await assert.rejects(
      run('skopeo', ['copy', '-q', `docker-archive:${file}:${reg.host}/not/there:1`, `dir:${dir}-none`]),
    );
  });

  it('loads OCI layouts made by skopeo copy from the registry (directory and archive) and unpacks them', async () => {
    const work = await temp();
    await run('skopeo', [
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${name}`,
      `oci:${join(work, 'dir')}:${reg.host}/copied/dir:2`,
    ]);
    await run('skopeo', [
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${name}`,
      `oci-archive:${join(work, 'a.tar')}:plaintag`,
    ]);
    const s = await service();
    const a = await s.load(join(work, 'dir'));
    assert.deepEqual(a, {
      format: 'oci-layout',
      images: [{ name: `${reg.host}/copied/dir:2`, digest: a.images[0]!.digest }],
    });
    const b = await s.load(join(work, 'a.tar'));
    assert.equal(b.images[0]!.name, 'localhost/unnamed:plaintag');
    const info = await s.inspect(`${reg.host}/copied/dir:2`);
    assert.equal(info.unpacked, true);
    assert.equal(info.layers[0]!.diffId, `sha256:${sha(await busyboxTar())}`);
  });

  it('loads a docker-archive made by skopeo copy … docker-archive:', async () => {
    const file = join(await temp(), 'sk.tar');
    await run('skopeo', [
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${name}`,
      `docker-archive:${file}:localhost/sk/busybox:7`,
    ]);
    const s = await service();
    const r = await s.load(file);
    assert.equal(r.format, 'docker-archive');
    assert.equal(r.images[0]!.name, 'localhost/sk/busybox:7');
    const info = await s.inspect('localhost/sk/busybox:7');
    assert.equal(info.unpacked, true);
    assert.equal(info.manifest.mediaType, MediaType.DockerManifest);
  });

  it('berth push is visible to skopeo inspect', async () => {
    const target = `${reg.host}/berth/pushed:9`;
    await svc.tag(name, target);
    const r = await svc.push(target);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${target}`]);
    const info = JSON.parse(stdout);
    assert.equal(info.Digest, r.target.digest);
    assert.equal(info.Layers.length, 1);
  });

  it("loads docker's legacy layout: <id>/layer.tar, a symlinked duplicate, a gzip'd layer", async () => {
    const l1 = await busyboxTar();
    const l2Tar = await (async () => {
      const p = pack();
      const chunks: Buffer[] = [];
      p.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      const done = new Promise<void>((r) => p.on('end', () => r()));
      p.entry({ name: 'etc/motd' }, 'hello\n');
      p.finalize();
      await done;
      return Buffer.concat(chunks);
    })();
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha(l1)}`, `sha256:${sha(l2Tar)}`, `sha256:${sha(l2Tar)}`] },
    });
    const file = join(await temp(), 'legacy.tar');
    await writeTar(file, [
      { name: 'aaa/', type: 'directory' },
      { name: 'aaa/layer.tar', data: l1 },
      { name: 'bbb/layer.tar', data: gzipSync(l2Tar) },
      { name: 'ccc/layer.tar', type: 'symlink', linkname: '../bbb/layer.tar' },
      { name: `${sha(config)}.json`, data: config },
      {
        name: 'manifest.json',
        data: JSON.stringify([
          {
            Config: `${sha(config)}.json`,
            RepoTags: ['legacy:1'],
            Layers: ['aaa/layer.tar', 'bbb/layer.tar', 'ccc/layer.tar'],
          },
        ]),
      },
    ]);
    const s = await service();
    await s.load(file);
    const info = await s.inspect('legacy:1');
    assert.deepEqual(
      info.layers.map((l) => l.mediaType),
      [MediaType.DockerLayer, MediaType.DockerLayerGzip, MediaType.DockerLayerGzip],
    );
    assert.equal(info.unpacked, true);
  });

  it("loads a docker-archive re-packed with `tar -C dir -cf x.tar .` (a './' root entry), still refusing what leaves the archive", async () => {
    const work = await temp();
    const saved = await save(svc, [name], 'docker-archive');
    await run('mkdir', [join(work, 'dir')]);
    await run('tar', ['-C', join(work, 'dir'), '-xf', saved]);
    const repacked = join(work, 'repacked.tar');
    await run('tar', ['-C', join(work, 'dir'), '-cf', repacked, '.']);
    // GNU tar names every entry "./…" and writes the root "./" first.
    const { stdout } = await run('tar', ['-tf', repacked]);
    assert.equal(stdout.split('\n')[0], './');
    const s = await service();
    const r = await s.load(repacked);
    assert.equal(r.format, 'docker-archive');
    assert.deepEqual(
      r.images.map((i) => i.name),
      [name],
    );
    assert.equal((await s.inspect(name)).unpacked, true);
    // The root as a file, and a root that leaves the archive, are still refused.
    for (const [label, entries, re] of [
      ['root-file', [{ name: './', data: 'x' }], /root-file\.tar: entry "\.\/": the path names the archive root/],
      ['root-up', [{ name: './../', type: 'directory' }], /root-up\.tar: entry "\.\/\.\.\/": the path contains '\.\.'/],
    ] as const) {
      const file = join(work, `${label}.tar`);
      await writeTar(file, entries as unknown as E[]);
      await assert.rejects(s.load(file), refused(re), label);
    }
  });

  it('refuses hostile archives, naming the archive and entry, with everything already stored intact', async () => {
    const s = await service();
    await s.load(await save(svc, [name], 'docker-archive'));
    const before = { images: await s.list(), content: await s.listContent(), snapshots: await s.listSnapshots() };
    const l1 = await busyboxTar();
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha(l1)}`] },
    });
    const cfgName = `${sha(config)}.json`;
    const dir = await temp();
    const cases: [string, E[], RegExp][] = [
      [
        'traversal-entry',
        [{ name: '../../evil', data: 'x' }],
        /traversal-entry\.tar: entry "\.\.\/\.\.\/evil": the path contains '\.\.'/,
      ],
      [
        'traversal-manifest',
        [
          { name: cfgName, data: config },
          {
            name: 'manifest.json',
            data: JSON.stringify([{ Config: cfgName, RepoTags: ['evil:1'], Layers: ['../../../etc/passwd'] }]),
          },
        ],
        /traversal-manifest\.tar: entry "\.\.\/\.\.\/\.\.\/etc\/passwd": manifest\.json\[0\]\.Layers\[0\]: the path contains '\.\.'/,
      ],
      [
        'absolute-manifest',
        [
          { name: cfgName, data: config },
          {
            name: 'manifest.json',
            data: JSON.stringify([{ Config: '/etc/passwd', RepoTags: ['evil:1'], Layers: [] }]),
          },
        ],
        /absolute-manifest\.tar: entry "\/etc\/passwd": manifest\.json\[0\]\.Config: the path is absolute/,
      ],
      [
        'config-name',
        [
          { name: `${'0'.repeat(64)}.json`, data: config },
          { name: 'l.tar', data: l1 },
          {
            name: 'manifest.json',
            data: JSON.stringify([{ Config: `${'0'.repeat(64)}.json`, RepoTags: ['evil:1'], Layers: ['l.tar'] }]),
          },
        ],
        /config-name\.tar: manifest\.json\[0\]\.Config "0{64}\.json": content does not match its name/,
      ],
      [
        'diffid',
        [
          { name: cfgName, data: config },
          { name: 'l.tar', data: Buffer.concat([l1, Buffer.alloc(512)]) },
          {
            name: 'manifest.json',
            data: JSON.stringify([{ Config: cfgName, RepoTags: ['evil:1'], Layers: ['l.tar'] }]),
          },
        ],
        /diffid\.tar: manifest\.json\[0\]\.Layers\[0\] "l\.tar": uncompressed digest sha256:[0-9a-f]+ does not match .*rootfs\.diff_ids\[0\]/,
      ],
      [
        'missing-layer',
        [
          { name: cfgName, data: config },
          {
            name: 'manifest.json',
            data: JSON.stringify([{ Config: cfgName, RepoTags: ['evil:1'], Layers: ['gone.tar'] }]),
          },
        ],
        /missing-layer\.tar: manifest\.json\[0\]\.Layers\[0\] "gone\.tar" is not in the archive/,
      ],
      [
        'oci-blob',
        [
          { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
          {
            name: 'index.json',
            data: JSON.stringify({
              schemaVersion: 2,
              manifests: [{ mediaType: MediaType.ImageManifest, digest: `sha256:${'1'.repeat(64)}`, size: 2 }],
            }),
          },
          { name: `blobs/sha256/${'1'.repeat(64)}`, data: '{}' },
        ],
        /oci-blob\.tar: entry "blobs\/sha256\/1{64}": does not match its digest: expected sha256:1{64} \(2 bytes\), got sha256:[0-9a-f]{64} \(2 bytes\)$/,
      ],
      [
        'oci-missing',
        [
          { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
          {
            name: 'index.json',
            data: JSON.stringify({
              schemaVersion: 2,
              manifests: [{ mediaType: MediaType.ImageManifest, digest: `sha256:${sha('{}')}`, size: 2 }],
            }),
          },
        ],
        /oci-missing\.tar: index\.json manifests\[0\] "blobs\/sha256\/[0-9a-f]{64}" is not in the archive/,
      ],
    ];
    for (const [label, entries, re] of cases) {
      const file = join(dir, `${label}.tar`);
      await writeTar(file, entries);
      await assert.rejects(s.load(file), refused(re), label);
    }
    assert.deepEqual(await s.list(), before.images, 'no image was named or lost');
    const after = new Set((await s.listContent()).map((c) => c.digest));
    for (const c of before.content) assert.ok(after.has(c.digest), `content ${c.digest} survived`);
    assert.deepEqual(
      (await s.listSnapshots()).map((x) => x.name),
      before.snapshots.map((x) => x.name),
    );
    assert.ok(!existsSync('/evil') && !existsSync(join(dir, '../evil')));
    await writeFile(join(dir, 'empty.tar'), '');
    await assert.rejects(s.load(join(dir, 'empty.tar')), refused(/empty\.tar/));
  });
});
