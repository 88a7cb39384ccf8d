// push: upload an image from the content store to a registry — blobs first (existence check,
// cross-repository mount, monolithic or chunked upload; bounded parallelism), then child manifests
// by digest, then the root manifest or index at the tag. Must never modify local stores.
import type { ContentStore } from '../content/content-store.ts';
import { failedPrecondition } from '../errors/errors.ts';
import type { Descriptor } from '../oci/image-spec.ts';
import { parseManifestDocument } from '../oci/image-validate.ts';
import { formatReference, parseReference, type Reference, withTarget } from '../distribution/reference.ts';
import type { PushBlobResult, RegistryClient } from '../distribution/registry-client.ts';
import type { ImageStore } from './image-store.ts';
import { mapLimit } from './limit.ts';

export type PushEvent =
  | { kind: 'blob'; digest: string; size: number; state: 'pushing' | PushBlobResult; current?: number }
  | { kind: 'manifest'; digest: string; ref: string };

export type PushOptions = {
  client: RegistryClient;
  content: ContentStore;
  images: ImageStore;
  /** Local image name to push (default: the destination reference itself). */
  source?: string;
  /** A repository on the same registry to mount blobs from. */
  mountFrom?: string;
  /** Upload in PATCH chunks of this many bytes (default: one monolithic PUT). */
  chunkSize?: number;
  concurrency?: number;
  progress?: (ev: PushEvent) => void;
};

export async function push(reference: string | Reference, opts: PushOptions): Promise<Descriptor> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  const localName = opts.source ?? formatReference(ref);
  const record = await opts.images.get(localName);
  await pushTree(ref, record.target, true, opts);
  return record.target;
}

async function pushTree(ref: Reference, desc: Descriptor, isRoot: boolean, opts: PushOptions): Promise<void> {
  const { content, client } = opts;
  const what = `push ${formatReference(ref)}: ${desc.digest}`;
  if (!(await content.exists(desc.digest))) throw failedPrecondition(`${what}: not in the local content store`);
  const bytes = await content.readAll(desc.digest);
  const doc = parseManifestDocument(bytes, desc.mediaType, what);
  if (doc.kind === 'index') {
    for (const child of doc.index.manifests) await pushTree(ref, child, false, opts);
  } else {
    const blobs = [doc.manifest.config, ...doc.manifest.layers];
    for (const b of blobs)
      if (!(await content.exists(b.digest)))
        throw failedPrecondition(`${what}: blob ${b.digest} is not in the local content store`);
    await mapLimit(blobs, opts.concurrency ?? 3, async (b) => {
      opts.progress?.({ kind: 'blob', digest: b.digest, size: b.size, state: 'pushing' });
      let sent = 0;
      const r = await client.pushBlob(ref, b, () => content.read(b.digest) as Promise<import('node:stream').Readable>, {
        ...(opts.mountFrom ? { mountFrom: opts.mountFrom } : {}),
        ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
        onProgress: (n) => {
          sent += n;
          opts.progress?.({ kind: 'blob', digest: b.digest, size: b.size, state: 'pushing', current: sent });
        },
      });
      opts.progress?.({ kind: 'blob', digest: b.digest, size: b.size, state: r });
    });
  }
  // Children go by digest so the index can reference them; the root goes at the tag.
  const target = isRoot && ref.tag ? withTarget(ref, { tag: ref.tag }) : withTarget(ref, { digest: desc.digest });
  await client.putManifest(target, bytes, desc.mediaType);
  opts.progress?.({ kind: 'manifest', digest: desc.digest, ref: formatReference(target) });
}
