// Copies one blob from a registry into the content store: leased first (so gc never takes it),
// resumed from the offset of an existing partial ingest (Range), re-requested from where it broke
// when the connection drops mid-body, verified by the store's writer while streaming. A failed
// fetch keeps its partial data for the next pull. Must never write outside the content store.
import { setTimeout as sleep } from 'node:timers/promises';
import { type ContentStore, type ContentWriter, writerErrorDetail } from '../content/content-store.ts';
import { BerthError, ErrorCode, isBerthError, unavailable } from '../errors/errors.ts';
import type { Descriptor } from '../oci/image-spec.ts';
import { parseDigest } from '../oci/image-validate.ts';
import type { Reference } from '../distribution/reference.ts';
import type { RegistryClient } from '../distribution/registry-client.ts';

export type BlobProgress = (ev: {
  digest: string;
  state: 'exists' | 'downloading' | 'resuming' | 'verifying' | 'done';
  current: number;
  total: number;
}) => void;

export async function fetchBlobToStore(
  client: RegistryClient,
  content: ContentStore,
  ref: Reference,
  desc: Pick<Descriptor, 'digest' | 'size'>,
  opts: {
    leaseId?: string;
    progress?: BlobProgress;
    maxResumes?: number;
    /**
     * Sees every chunk before it is stored, with its offset in the blob (a resumed ingest starts
     * past 0; a server that ignored Range starts again at 0). A rejection ends the fetch, keeping
     * the partial ingest. Not called when the blob is already stored.
     */
    onBytes?: (chunk: Buffer, offset: number) => Promise<void> | void;
    /**
     * Which blob this is, for the user ("pull x: layer 2 of 3 (sha256:…)"): a store error about
     * the content names it instead of the internal ingest.
     */
    what?: string;
  } = {},
): Promise<void> {
  const { algorithm, encoded } = parseDigest(desc.digest);
  if (opts.leaseId) await content.addResource(opts.leaseId, desc.digest);
  const report = (state: Parameters<BlobProgress>[0]['state'], current: number) =>
    opts.progress?.({ digest: desc.digest, state, current, total: desc.size });
  if (await content.exists(desc.digest)) return report('exists', desc.size);
  let w: ContentWriter;
  const ingest = `fetch-${algorithm}-${encoded}`;
  try {
    w = await content.writer(ingest, { digest: desc.digest, size: desc.size });
  } catch (e) {
    // Another pull committed it while we waited for the ingest.
    if (isBerthError(e, ErrorCode.AlreadyExists)) return report('exists', desc.size);
    throw e;
  }
  const maxResumes = opts.maxResumes ?? 5;
  let resumes = 0;
  try {
    while (w.offset < desc.size) {
      const before = w.offset;
      report(before > 0 ? 'resuming' : 'downloading', before);
      try {
        const { body, start } = await client.fetchBlob(ref, desc, { offset: w.offset });
        if (start !== w.offset) await w.truncate();
        for await (const chunk of body as AsyncIterable<Buffer>) {
          if (opts.onBytes) await opts.onBytes(chunk, w.offset);
          await w.write(chunk);
          report('downloading', w.offset);
        }
        if (w.offset < desc.size)
          throw unavailable(`blob ${desc.digest}: body ended at ${w.offset} of ${desc.size} bytes`);
      } catch (e) {
        // Content errors (too long, bad digest) and refusals are final; broken connections resume.
        const final = e instanceof BerthError && e.code !== ErrorCode.Unavailable;
        if (final || ++resumes > maxResumes) throw e;
        await sleep(Math.min(2000, 100 * 2 ** (resumes - 1)));
      }
    }
    report('verifying', w.offset);
    await w.commit();
    report('done', desc.size);
  } catch (e) {
    await w.close().catch(() => {});
    throw opts.what === undefined ? e : namingBlob(e, ingest, opts.what);
  }
}

/**
 * The store names a blob by its ingest ("ingest fetch-sha256-…: content does not match …"), which
 * means nothing to whoever pulled: the same error, naming the blob as the caller knows it.
 */
function namingBlob(e: unknown, ingest: string, what: string): unknown {
  if (!(e instanceof BerthError) || !e.message.startsWith(`ingest ${ingest}: `)) return e;
  const detail = writerErrorDetail(e.message, ingest);
  const message = e.message.includes(': content does not match: ')
    ? `the content the registry sent does not match the digest: ${detail}`
    : detail;
  return new BerthError(e.code, `${what}: ${message}`, {
    cause: e,
    ...(e.errno === undefined ? {} : { errno: e.errno }),
  });
}
