// Writes a whole in-memory blob (a manifest, a config, a test layer) into a content store;
// a blob already committed is not an error. Must never be used for large streams.
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { type DigestAlgorithm, digestOf } from '../oci/image-validate.ts';
import type { ContentStore } from './content-store.ts';

export async function writeBlob(store: ContentStore, data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Promise<{ digest: string; size: number }> {
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
