// One layer from its blob bytes to files: decompression, the DiffID (sha256 of the uncompressed
// tar), the byte and entry limits, tar parsing (tar-stream, with pax-xattrs.ts's correction of
// binary xattr values) and LayerApplier for every entry. Runs where apply-layer.ts puts it: in an apply worker
// (apply-layer-worker.ts) or, without one, on the caller's thread.
//
// Every failure leaves as a BerthError naming `context` (and the entry, when there is one), except
// a BerthError of the source itself, which comes out unchanged.
// Must never: decide the compression (apply-layer.ts does, from the first bytes); touch anything
// outside targetDir (LayerApplier's rules).
import { createHash } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { BerthError, internal, invalidArgument } from '../errors/errors.ts';
import type { Compression } from './decompress.ts';
import { type ApplierOptions, type EntryHeader, LayerApplier } from './layer-applier.ts';
import { keepBinaryXattrs } from './pax-xattrs.ts';

export type ApplyResult = {
  diffId: string;
  size: number;
  /**
   * Overlay format: directories the layer made only as parents of its entries. Where a lower layer
   * has a symlink at such a path, relocateImplicitDirs (lower-symlinks.ts) moves them before commit.
   */
  implicitDirs?: string[];
};

/**
 * Output chunks of the decompressor. zlib's default (16 KiB) means one threadpool round trip per
 * 16 KiB; a layer of 50 MB then costs ~3,000 of them.
 */
const INFLATE_CHUNK = 256 * 1024;

/** An error that already names the context and entry: passed through unchanged. */
function isFinal(e: unknown): e is BerthError {
  return e instanceof BerthError;
}

function errnoCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** The uncompressed tar as one Node Readable. */
function decompressed(source: AsyncIterable<Uint8Array>, compression: Compression): Readable {
  const raw = Readable.from(source, { objectMode: false });
  if (compression === 'none') return raw;
  const opts = { chunkSize: INFLATE_CHUNK };
  const dec = compression === 'gzip' ? zlib.createGunzip(opts) : zlib.createZstdDecompress(opts);
  // pipeline() destroys both on an error, so iterating `dec` rejects with it.
  return pipeline(raw, dec, () => {}) as unknown as Readable;
}

/** Decompresses, hashes, parses and applies `source` (the layer blob) into opts.targetDir. */
export async function extractLayer(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  opts: ApplierOptions,
  warn: (message: string) => void,
): Promise<ApplyResult> {
  const applier = new LayerApplier(opts, warn);
  const { context } = opts;
  const input = decompressed(source, compression);
  const hash = createHash('sha256');
  let size = 0;
  let entries = 0;
  const extract = tar.extract();
  keepBinaryXattrs(extract);
  /** Set by the feeder when it failed on its own (before the entry loop stopped it). */
  let feederFailed = false;

  // Feeds the uncompressed bytes to the tar parser, counting and hashing every byte (including the
  // end-of-archive blocks and any padding after them: the DiffID covers the whole stream).
  const feeding = (async () => {
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > applier.limits.maxBytes) {
          throw invalidArgument(
            `${context}: the uncompressed layer exceeds ${applier.limits.maxBytes} bytes (limits.maxBytes); refusing it as a decompression bomb`,
          );
        }
        hash.update(chunk);
        if (!extract.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              extract.off('drain', done);
              extract.off('close', done);
              resolve();
            };
            extract.on('drain', done);
            extract.on('close', done);
          });
        }
        if (extract.destroyed) return;
      }
      extract.end(undefined);
    } catch (e) {
      feederFailed = true;
      extract.destroy(e as Error);
      throw e;
    }
  })();
  // Its rejection is read below; this keeps it from being reported as unhandled meanwhile.
  feeding.catch(() => {});

  try {
    for await (const entry of extract) {
      entries++;
      const header = entry.header as EntryHeader;
      if (entries > applier.limits.maxEntries) {
        applier.entry = header.name;
        throw applier.refuse(`the layer has more than ${applier.limits.maxEntries} entries (limits.maxEntries)`);
      }
      try {
        const sink = applier.apply(header);
        if (sink !== undefined) {
          try {
            for await (const chunk of entry as unknown as AsyncIterable<Uint8Array>) sink.write(chunk);
          } catch (e) {
            sink.abort();
            throw e;
          }
          sink.end();
        }
      } finally {
        // Whatever apply did not read must still be drained for the parser to move on.
        entry.resume();
      }
    }
    await feeding;
    applier.finish();
  } catch (e) {
    const feederFirst = feederFailed;
    input.destroy();
    const fed = await feeding.then(
      () => undefined,
      (fe: unknown) => fe,
    );
    // A bomb, corrupt compression or a failing source surfaces in the feeder, and reaches the entry
    // loop only as "stream destroyed": then the feeder's error is the cause, unless the loop refused
    // an entry itself. When the loop failed first (a tar error, a failed write), the feeder's error
    // is only the premature close of the destroy above.
    const first = isFinal(e) || !feederFirst ? e : fed;
    throw wrapApplyError(first, context, applier.entry, feederFirst ? fed : undefined);
  }
  const implicitDirs = opts.format === 'overlay' ? [...applier.implicitDirs] : [];
  return { diffId: `sha256:${hash.digest('hex')}`, size, ...(implicitDirs.length > 0 ? { implicitDirs } : {}) };
}

/** Turns any failure into a BerthError naming the context (and entry); BerthErrors pass unchanged. */
export function wrapApplyError(e: unknown, context: string, entry: string, fed?: unknown): unknown {
  if (isFinal(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = errnoCode(e) ?? errnoCode(fed);
  if (
    code?.startsWith('Z_') ||
    code?.startsWith('ERR_ZSTD') ||
    code === 'ERR__ZSTD' ||
    /zstd|incorrect header|unexpected end of file|invalid (block|distance|stored)/i.test(msg)
  ) {
    return invalidArgument(`${context}: the layer is not valid compressed data: ${msg}`, e);
  }
  const tarMeaning = TAR_ERRORS.find(([re]) => re.test(msg))?.[1];
  if (tarMeaning !== undefined) {
    return invalidArgument(
      `${context}: the layer is not a valid tar${entry ? ` (after entry ${JSON.stringify(entry)})` : ''}: ${tarMeaning} (tar reader: ${JSON.stringify(msg)})`,
      e,
    );
  }
  return internal(`${context}: applying entry ${JSON.stringify(entry)}: ${withoutPaths(e, msg)}`, e);
}

/** What tar-stream's messages mean for a layer. */
const TAR_ERRORS: Array<[RegExp, string]> = [
  [
    /Header exceeds max size/i,
    "an entry's pax extended header or GNU long name is larger than 4 MiB, the most read for one entry's metadata",
  ],
  [/Invalid tar header: unknown format/i, 'a header is in none of the tar formats (ustar, pax, GNU, v7)'],
  [
    /Invalid tar header/i,
    "a header's checksum is wrong: the layer is corrupt, or is compressed differently from what its media type says",
  ],
  [/Unexpected end of data/i, 'the layer ends in the middle of an entry (it is truncated)'],
  [/Invalid header/i, 'a header gives no valid size for its entry'],
];

/**
 * Node's fs messages end with the syscall and the path ("ENAMETOOLONG: name too long, open
 * '/…/<entry>'"): the entry is named already, so the path (a long name a second time) goes.
 */
function withoutPaths(e: unknown, msg: string): string {
  const { syscall, path } = (e ?? {}) as NodeJS.ErrnoException;
  if (syscall === undefined || path === undefined) return msg;
  const at = msg.indexOf(`, ${syscall} '`);
  return at < 0 ? msg : `${syscall}: ${msg.slice(0, at)}`;
}
