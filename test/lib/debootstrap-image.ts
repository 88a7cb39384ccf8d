// A realistic multi-layer test image: Debian bookworm minbase from `debootstrap`, split into layers
// the way images are usually built (usr/lib, usr/share, usr/bin+usr/sbin, the rest, then a layer of
// big generated files and a whiteout), gzip'd, with an OCI config and manifest.
//
// Built once and cached under /var/cache/berth-test/<VERSION>/ (the debootstrap run takes minutes
// and needs Debian's mirror); bump VERSION when the recipe changes. Layers are made by GNU tar with
// sorted names, a fixed mtime, numeric owners and no pid-bearing PAX header names, and gzip'd by
// zlib (no name or time in the header), so rebuilding the layers from the cached rootfs gives the
// same digests. A new debootstrap run (new cache) may differ (dates in logs, package updates).
// What is cached: rootfs/ (debootstrap's tree), layers/<i>.tar.gz, image.json (descriptors).
// Must never: write outside its cache directory and the content store it is given.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ContentStore } from '../../src/content/content-store.ts';
import { writeBlob } from '../../src/content/write-blob.ts';
import { ErrorCode, isBerthError } from '../../src/errors/errors.ts';
import type { ImageStore } from '../../src/images/image-store.ts';
import { type Descriptor, type ImageConfig, type ImageManifest, MediaType } from '../../src/oci/image-spec.ts';

export const VERSION = 'debian-bookworm-minbase-v1';
export const CACHE_ROOT = '/var/cache/berth-test';
const FIXED_MTIME = '2024-01-01T00:00:00Z';

export type DebootstrapImage = {
  dir: string;
  manifest: Descriptor;
  manifestBytes: Buffer;
  config: Descriptor;
  configBytes: Buffer;
  layers: (Descriptor & { file: string; diffId: string; uncompressedSize: number; what: string })[];
  /** Sum of the uncompressed layer tars. */
  uncompressedSize: number;
};

/** The Debian mirror this machine's apt uses (deb822 URIs: or a one-line `deb` source). */
export function debianMirror(): string {
  const files = [
    '/etc/apt/sources.list',
    ...safeList('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)),
  ];
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    // Only the main archive (not -security, not third-party repositories).
    for (const m of text.matchAll(/^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm)) {
      const uri = m[1]!;
      if (/\/debian\/?$/.test(uri)) return uri.replace(/\/$/, '');
    }
  }
  return 'http://deb.debian.org/debian';
}

function safeList(dir: string): string[] {
  try {
    return execFileSync('ls', [dir], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.list') || f.endsWith('.sources'));
  } catch {
    return [];
  }
}

function need(bin: string, pkg: string): void {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: apt-get install ${pkg}`);
}

async function debootstrap(dir: string, log: (m: string) => void): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  if (existsSync(join(rootfs, 'etc', 'debian_version'))) return rootfs;
  need('/usr/sbin/debootstrap', 'debootstrap');
  const tmp = join(dir, 'rootfs.tmp');
  const mirror = debianMirror();
  // A finished run left by an earlier attempt is reused; a half-made one is started again.
  if (!existsSync(join(tmp, 'etc', 'debian_version')) || existsSync(join(tmp, 'debootstrap'))) {
    await rm(tmp, { recursive: true, force: true });
    log(`debootstrap --variant=minbase bookworm ${tmp} ${mirror} (a few minutes, once)`);
    await run('/usr/sbin/debootstrap', ['--variant=minbase', 'bookworm', tmp, mirror], join(dir, 'debootstrap.log'));
  }
  await rename(tmp, rootfs);
  return rootfs;
}

function run(cmd: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.once('error', reject);
    child.once('exit', (code) => {
      out.end();
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}; see ${logFile}`));
    });
  });
}

/** Deterministic bytes: sha256 in counter mode over `seed`. */
function pseudoRandom(seed: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let off = 0, i = 0; off < size; i++) {
    const h = createHash('sha256').update(`${seed}:${i}`).digest();
    off += h.copy(out, off);
  }
  return out;
}

/** Compressible text: numbered log-like lines. */
function textLike(seed: string, size: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const line = `${seed} ${String(i).padStart(8, '0')} INFO request served path=/api/v1/items/${(i * 7919) % 100_003} status=200 bytes=${(i * 31) % 65_536}\n`;
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

async function extraLayerTree(dir: string): Promise<string> {
  const tree = join(dir, 'extra');
  if (existsSync(join(tree, '.complete'))) return tree;
  await rm(tree, { recursive: true, force: true });
  await mkdir(join(tree, 'opt', 'berth-data'), { recursive: true });
  await mkdir(join(tree, 'etc'), { recursive: true });
  for (let i = 0; i < 3; i++)
    await writeFile(join(tree, 'opt', 'berth-data', `blob-${i}.bin`), pseudoRandom(`berth-${i}`, 8 * 1024 * 1024));
  for (let i = 0; i < 2; i++)
    await writeFile(join(tree, 'opt', 'berth-data', `log-${i}.txt`), textLike(`berth-${i}`, 8 * 1024 * 1024));
  // A whiteout, as a later RUN rm would make: hides the lower layer's /etc/motd.
  await writeFile(join(tree, 'etc', '.wh.motd'), '');
  await writeFile(join(tree, '.complete'), '');
  return tree;
}

type LayerPlan = { what: string; cwd: string; args: string[] };

function layerPlans(rootfs: string, extra: string): LayerPlan[] {
  const ex = (p: string) => `--exclude=${p}`;
  const top = readdirSorted(rootfs);
  return [
    { what: 'usr/lib', cwd: rootfs, args: ['--no-recursion', 'usr', '--recursion', 'usr/lib'] },
    { what: 'usr/share', cwd: rootfs, args: ['--no-recursion', 'usr', '--recursion', 'usr/share'] },
    { what: 'usr/bin, usr/sbin', cwd: rootfs, args: ['--no-recursion', 'usr', '--recursion', 'usr/bin', 'usr/sbin'] },
    {
      what: 'the rest (no apt lists or .debs, empty /dev)',
      cwd: rootfs,
      args: [
        '--anchored',
        ex('usr/lib'),
        ex('usr/share'),
        ex('usr/bin'),
        ex('usr/sbin'),
        ex('dev/*'),
        ex('proc/*'),
        ex('sys/*'),
        ex('var/cache/apt/archives/*.deb'),
        ex('var/cache/apt/*.bin'),
        ex('var/lib/apt/lists/*_*'),
        ...top,
      ],
    },
    {
      what: 'big files in /opt and a whiteout of /etc/motd',
      cwd: extra,
      args: ['--anchored', ex('.complete'), 'etc', 'opt'],
    },
  ];
}

function readdirSorted(dir: string): string[] {
  return execFileSync('ls', ['-A', dir], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

/** Runs GNU tar for one layer; writes the gzip'd blob; returns digests and sizes. */
async function buildLayer(
  plan: LayerPlan,
  file: string,
): Promise<{ digest: string; size: number; diffId: string; uncompressedSize: number }> {
  const args = [
    '--create',
    '--file=-',
    '--format=posix',
    '--sort=name',
    `--mtime=${FIXED_MTIME}`,
    '--numeric-owner',
    '--no-acls',
    '--no-selinux',
    '--no-xattrs',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '-C',
    plan.cwd,
    ...plan.args,
  ];
  const tar = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((r) => tar.once('exit', r));
  const diff = createHash('sha256');
  let uncompressedSize = 0;
  const blob = createHash('sha256');
  let size = 0;
  const tmp = `${file}.tmp`;
  await pipeline(
    tar.stdout,
    new Transform({
      transform(c: Buffer, _e, cb) {
        diff.update(c);
        uncompressedSize += c.length;
        cb(null, c);
      },
    }),
    createGzip({ level: 6 }),
    new Transform({
      transform(c: Buffer, _e, cb) {
        blob.update(c);
        size += c.length;
        cb(null, c);
      },
    }),
    createWriteStream(tmp),
  );
  const code = await exited;
  if (code !== 0) throw new Error(`tar for layer "${plan.what}" exited with ${code}: ${stderr}`);
  await rename(tmp, file);
  return { digest: `sha256:${blob.digest('hex')}`, size, diffId: `sha256:${diff.digest('hex')}`, uncompressedSize };
}

/** The cached image, built if missing. `log` hears about the slow steps. */
export async function debootstrapImage(log: (m: string) => void = () => {}): Promise<DebootstrapImage> {
  const dir = join(CACHE_ROOT, VERSION);
  const meta = join(dir, 'image.json');
  if (existsSync(meta)) {
    const img = JSON.parse(readFileSync(meta, 'utf8')) as Omit<DebootstrapImage, 'manifestBytes' | 'configBytes'> & {
      manifestBytes: string;
      configBytes: string;
    };
    if (img.layers.every((l) => existsSync(l.file)))
      return {
        ...img,
        manifestBytes: Buffer.from(img.manifestBytes, 'base64'),
        configBytes: Buffer.from(img.configBytes, 'base64'),
      };
  }
  need('/usr/bin/tar', 'tar');
  await mkdir(join(dir, 'layers'), { recursive: true });
  const rootfs = await debootstrap(dir, log);
  const extra = await extraLayerTree(dir);
  const layers: DebootstrapImage['layers'] = [];
  for (const [i, plan] of layerPlans(rootfs, extra).entries()) {
    log(`layer ${i}: ${plan.what}`);
    const file = join(dir, 'layers', `${i}.tar.gz`);
    const l = await buildLayer(plan, file);
    layers.push({
      mediaType: MediaType.LayerGzip,
      digest: l.digest,
      size: l.size,
      file,
      diffId: l.diffId,
      uncompressedSize: l.uncompressedSize,
      what: plan.what,
    });
  }
  const created = FIXED_MTIME;
  const cfg: ImageConfig = {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/bash'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: `berth test image: ${l.what}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(cfg));
  const config: Descriptor = {
    mediaType: MediaType.ImageConfig,
    digest: sha256(configBytes),
    size: configBytes.length,
  };
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config,
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(m));
  const manifest: Descriptor = {
    mediaType: MediaType.ImageManifest,
    digest: sha256(manifestBytes),
    size: manifestBytes.length,
  };
  const img: DebootstrapImage = {
    dir,
    manifest,
    manifestBytes,
    config,
    configBytes,
    layers,
    uncompressedSize: layers.reduce((a, l) => a + l.uncompressedSize, 0),
  };
  const tmp = `${meta}.tmp`;
  await writeFile(
    tmp,
    JSON.stringify(
      { ...img, manifestBytes: manifestBytes.toString('base64'), configBytes: configBytes.toString('base64') },
      null,
      1,
    ),
  );
  await rename(tmp, meta);
  return img;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Streams the cached image's blobs into `content` and names it `name` in `images` (for berth's push). */
export async function importDebootstrapImage(
  content: ContentStore,
  images: ImageStore,
  name: string,
  img?: DebootstrapImage,
): Promise<DebootstrapImage> {
  const image = img ?? (await debootstrapImage());
  for (const l of image.layers) {
    if (await content.exists(l.digest)) continue;
    let w: Awaited<ReturnType<ContentStore['writer']>>;
    try {
      w = await content.writer(`import-${l.digest.replace(':', '-')}`, { digest: l.digest, size: l.size });
    } catch (e) {
      if (isBerthError(e, ErrorCode.AlreadyExists)) continue;
      throw e;
    }
    try {
      if (w.offset > 0) await w.truncate();
      for await (const chunk of createReadStream(l.file, { highWaterMark: 1 << 20 })) await w.write(chunk as Buffer);
      await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }
  await writeBlob(content, image.configBytes);
  await writeBlob(content, image.manifestBytes);
  await images.put(name, image.manifest);
  return image;
}

/** Removes every cached version but the current one (they are hundreds of MB each). */
export async function pruneOldCaches(): Promise<string[]> {
  const names = await readdir(CACHE_ROOT).catch(() => [] as string[]);
  const old = names.filter((n) => n !== VERSION && n.startsWith('debian-'));
  for (const n of old) await rm(join(CACHE_ROOT, n), { recursive: true, force: true });
  return old;
}
