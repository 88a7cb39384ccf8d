// Streams over blobs for the archive formats: the uncompressed tar of a layer (gzip, zstd or plain,
// decided by its declared type as apply-layer does, or by its first bytes where none is declared) and a digest computed while reading. Must never
// hold a layer in memory.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { type Compression, layerCompression, sniffCompression } from '../archive/decompress.ts';

/** Splits off the first bytes of a stream without losing them. */
async function withHead(
  input: NodeJS.ReadableStream | Readable,
  n: number,
): Promise<{ head: Buffer; stream: Readable }> {
  const it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = Buffer.from(r.value);
    chunks.push(b);
    have += b.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* chunks;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value);
    }
  }
  return { head: Buffer.concat(chunks).subarray(0, n), stream: Readable.from(all(), { objectMode: false }) };
}

/**
 * The uncompressed bytes of a layer declared as `mediaType` (the type decides, checked against the
 * bytes), or of a tar given without a type (undefined: its first bytes decide), and what it was.
 */
export async function decompressed(
  input: NodeJS.ReadableStream | Readable,
  mediaType: string | undefined,
  context: string,
): Promise<{ stream: Readable; compression: Compression }> {
  const { head, stream } = await withHead(input, 6);
  const compression =
    mediaType === undefined ? sniffCompression(head, context) : layerCompression(head, mediaType, context);
  if (compression === 'none') return { stream, compression };
  const d = compression === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  stream.on('error', (e) => d.destroy(e));
  return { stream: stream.pipe(d), compression };
}

/** sha256 and byte count of everything `input` yields. */
export async function digestStream(input: NodeJS.ReadableStream | Readable): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of input as AsyncIterable<Buffer>) {
    h.update(c);
    size += c.length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}
