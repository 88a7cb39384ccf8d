// Writes a whole in-memory blob (a manifest, a config, a test layer) into a content store, or a
// file staged on disk whose digest is known (an imported or built layer); a blob already committed
// is not an error. Must never hold a large blob in memory (writeBlobFile streams it).
import { createReadStream } from 'node:fs';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { type DigestAlgorithm, digestOf } from '../oci/image-validate.ts';
import type { ContentStore } from './content-store.ts';

export async function writeBlob(
  store: ContentStore,
  data: Uint8Array | string,
  algorithm: DigestAlgorithm = 'sha256',
): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(data);
  const digest = digestOf(bytes, algorithm);
  if (await store.exists(digest)) return { digest, size: bytes.length };
  try {
    const w = await store.writer(`write-${digest.replace(':', '-')}`, { digest, size: bytes.length });
    try {
      if (w.offset > 0) await w.truncate();
      await w.write(bytes);
      await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
  } catch (e) {
    if (!isBerthError(e, ErrorCode.AlreadyExists)) throw e;
  }
  return { digest, size: bytes.length };
}

/** Streams the staged file `path` (its digest and size already computed) into the store, unless it is there. */
export async function writeBlobFile(
  store: ContentStore,
  path: string,
  digest: string,
  size: number,
  refPrefix: string,
): Promise<void> {
  if (await store.exists(digest)) return;
  let w: Awaited<ReturnType<ContentStore['writer']>>;
  try {
    w = await store.writer(`${refPrefix}-${digest.replace(':', '-')}`, { digest, size });
  } catch (e) {
    // Another writer of the same blob (two builds making one layer) committed it while this one waited for the ingest.
    if (isBerthError(e, ErrorCode.AlreadyExists)) return;
    throw e;
  }
  try {
    if (w.offset > 0) await w.truncate();
    for await (const c of createReadStream(path) as AsyncIterable<Buffer>) await w.write(c);
    await w.commit();
  } catch (e) {
    await w.abort().catch(() => {});
    throw e;
  }
}
