// Test images built locally (nothing downloaded): a busybox image from Debian's busybox-static,
// multi-arch indexes, and large random layers. Written into a content store and named in an
// image store with berth's own code, ready for berth's push.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { ContentStore } from '../../src/content/content-store.ts';
import { writeBlob } from '../../src/content/write-blob.ts';
import type { ImageStore } from '../../src/images/image-store.ts';
import {
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  MediaType,
  type Platform,
} from '../../src/oci/image-spec.ts';
import { digestOf } from '../../src/oci/image-validate.ts';

export type TarEntry = { name: string; data?: Buffer; mode?: number; linkname?: string };

export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    if (e.linkname) p.entry({ name: e.name, type: 'symlink', linkname: e.linkname, mtime: new Date(0) });
    else if (e.data === undefined)
      p.entry({ name: e.name, type: 'directory', mode: e.mode ?? 0o755, mtime: new Date(0) });
    else p.entry({ name: e.name, mode: e.mode ?? 0o644, mtime: new Date(0) }, e.data);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export type BuiltImage = { manifest: Descriptor; config: Descriptor; layers: Descriptor[]; diffIds: string[] };

/** Layers given as uncompressed tars; `gzip` compresses them (OCI tar+gzip), else plain tar; `created` goes in the config. */
export async function buildImage(
  content: ContentStore,
  tars: Buffer[],
  opts: { platform?: Platform; gzip?: boolean; cmd?: string[]; created?: string } = {},
): Promise<BuiltImage> {
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const tar of tars) {
    diffIds.push(digestOf(tar));
    const blob = opts.gzip === false ? tar : gzipSync(tar);
    const { digest, size } = await writeBlob(content, blob);
    layers.push({ mediaType: opts.gzip === false ? MediaType.Layer : MediaType.LayerGzip, digest, size });
  }
  const cfg: ImageConfig = {
    ...(opts.created ? { created: opts.created } : {}),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Cmd: opts.cmd ?? ['/bin/sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: tars.map(() => ({ created_by: 'berth test' })),
  };
  const c = await writeBlob(content, JSON.stringify(cfg));
  const config = { mediaType: MediaType.ImageConfig, ...c };
  const m: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ImageManifest, config, layers };
  const md = await writeBlob(content, JSON.stringify(m));
  return { manifest: { mediaType: MediaType.ImageManifest, ...md }, config, layers, diffIds };
}

export async function busyboxTar(): Promise<Buffer> {
  if (!existsSync('/bin/busybox'))
    throw new Error('/bin/busybox is missing: install the Debian package busybox-static');
  const bin = await readFile('/bin/busybox');
  return tarOf([
    { name: 'bin/' },
    { name: 'bin/busybox', data: bin, mode: 0o755 },
    { name: 'bin/sh', linkname: 'busybox' },
    { name: 'etc/' },
    { name: 'etc/hostname', data: Buffer.from('berth\n') },
  ]);
}

/** Builds busybox and names it `name` in the image store. */
export async function busyboxImage(content: ContentStore, images: ImageStore, name: string): Promise<BuiltImage> {
  const img = await buildImage(content, [await busyboxTar()]);
  await images.put(name, img.manifest);
  return img;
}

/** An index of one image per platform (a shared base layer plus a per-platform file); named `name`. */
export async function multiArchImage(
  content: ContentStore,
  images: ImageStore,
  name: string,
  platforms: Platform[],
): Promise<{ index: Descriptor; images: BuiltImage[] }> {
  const base = await tarOf([{ name: 'etc/' }, { name: 'etc/os-release', data: Buffer.from('ID=berth-test\n') }]);
  const built: BuiltImage[] = [];
  for (const p of platforms)
    built.push(
      await buildImage(
        content,
        [base, await tarOf([{ name: 'etc/arch', data: Buffer.from(`${p.architecture}${p.variant ?? ''}\n`) }])],
        { platform: p },
      ),
    );
  const idx: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ImageIndex,
    manifests: built.map((b, i) => ({ ...b.manifest, platform: platforms[i]! })),
  };
  const d = await writeBlob(content, JSON.stringify(idx));
  const index = { mediaType: MediaType.ImageIndex, ...d };
  await images.put(name, index);
  return { index, images: built };
}

/** An image with one uncompressed layer holding `bytes` random bytes (for resume tests). */
export async function randomImage(
  content: ContentStore,
  images: ImageStore,
  name: string,
  bytes: number,
): Promise<BuiltImage> {
  const { randomBytes } = await import('node:crypto');
  const img = await buildImage(content, [await tarOf([{ name: 'random.bin', data: randomBytes(bytes) }])], {
    gzip: false,
  });
  await images.put(name, img.manifest);
  return img;
}
