// import: a rootfs tarball (plain, gzip'd or zstd'd; a path, '-' or a stream) becomes a one-layer
// image with a generated config, as `docker import` does. The layer is stored uncompressed (its
// digest is its DiffID); it is staged on disk while its digest is computed, since the content
// store must be told the digest before it accepts a blob. Must never hold the layer in memory.
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createHash } from 'node:crypto';
import type { ContentStore } from '../content/content-store.ts';
import { writeBlob, writeBlobFile } from '../content/write-blob.ts';
import { invalidArgument, notFound } from '../errors/errors.ts';
import { type Descriptor, type ImageConfig, type ImageManifest, MediaType, type Platform } from '../oci/image-spec.ts';
import { digestOf } from '../oci/image-validate.ts';
import { decompressed } from './layer-stream.ts';

export type ImportOptions = {
  content: ContentStore;
  stagingDir: string;
  leaseId: string;
  label: string;
  platform: Platform;
  /** The history entry's comment (docker import --message); default "imported from <label>". */
  comment?: string;
  /** Edits the generated config before it is stored (docker import --change, applied by the engine). */
  configure?: (config: ImageConfig) => void;
};

export async function importRootfs(
  input: string | Readable,
  opts: ImportOptions,
): Promise<{ target: Descriptor; config: ImageConfig }> {
  const { content, leaseId, label } = opts;
  let raw: NodeJS.ReadableStream | Readable;
  if (typeof input !== 'string') raw = input;
  else if (input === '-') raw = process.stdin;
  else {
    try {
      raw = (await open(input, 'r')).createReadStream();
    } catch (e) {
      throw notFound(`import ${label}: ${(e as Error).message}`, e);
    }
  }
  const { stream } = await decompressed(raw, undefined, `import ${label}`).catch((e: Error) => {
    throw invalidArgument(`import ${label}: ${e.message}`, e);
  });
  const staged = join(opts.stagingDir, 'layer.tar');
  const hash = createHash('sha256');
  let size = 0;
  const count = new Transform({
    transform(c: Buffer, _e, cb) {
      hash.update(c);
      size += c.length;
      cb(null, c);
    },
  });
  await pipeline(stream, count, createWriteStream(staged, { flags: 'wx', mode: 0o600 }));
  // A tar is a whole number of 512-byte blocks, ending in two zero blocks at least.
  if (size < 1024 || size % 512 !== 0)
    throw invalidArgument(
      `import ${label}: not a tar archive (${size} bytes; expected a multiple of 512, at least 1024)`,
    );
  const digest = `sha256:${hash.digest('hex')}`;
  await content.addResource(leaseId, digest);
  await writeBlobFile(content, staged, digest, size, 'import');
  const created = new Date().toISOString();
  const config: ImageConfig = {
    created,
    architecture: opts.platform.architecture,
    os: opts.platform.os,
    ...(opts.platform.variant ? { variant: opts.platform.variant } : {}),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [digest] },
    history: [{ created, created_by: 'berth import', comment: opts.comment ?? `imported from ${label}` }],
  };
  opts.configure?.(config);
  const cfgBytes = JSON.stringify(config);
  await content.addResource(leaseId, digestOf(cfgBytes));
  const cfg = await writeBlob(content, cfgBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: { mediaType: MediaType.ImageConfig, ...cfg },
    layers: [{ mediaType: MediaType.Layer, digest, size }],
  };
  const mBytes = JSON.stringify(manifest);
  await content.addResource(leaseId, digestOf(mBytes));
  const m = await writeBlob(content, mBytes);
  return { target: { mediaType: MediaType.ImageManifest, ...m }, config };
}
