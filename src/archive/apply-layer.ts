// Applies one image layer (a tar, gzip'd, zstd'd or plain) to a directory while it streams in, and
// returns its DiffID (the sha256 of the uncompressed tar).
//
// Owns: the public entry point and where the work runs. The caller's thread reads the source,
// takes the decompressor from the declared media type, checked against the first bytes (decompress.ts), and hands the blob's bytes to an
// apply worker (apply-layer-worker.ts), which decompresses, hashes, parses and writes with
// synchronous system calls (extract-layer.ts, layer-applier.ts: the formats, the safety model and
// the hostile-input rules are described there). Workers are pooled, at most one per core: started
// on first use, kept idle (unref'd, so they never hold the process open) for the next layer, and
// stopped after `workerIdleMs` without one (a worker is a whole V8 isolate, ~15 MB resident: a
// daemon that pulled once must not keep it for ever).
// Layers applied at the same time spread over the workers, and share one when there are more
// layers than cores.
//
// Backpressure: at most IN_FLIGHT bytes of the blob are sent and not yet taken by the worker's
// decompressor; the source is not read further meanwhile. So memory stays bounded, and a
// decompression bomb stops the source within that many compressed bytes.
//
// Where no worker module is found (a bundle built without it), or with
// `inline: true`, extractLayer runs on the caller's thread instead: same results, but its event
// loop is blocked while each chunk is written.
//
// Why and how much faster: docs/unpack.md.
//
// Errors: refusals are BerthError(InvalidArgument) naming `context` and the entry; a BerthError of
// the source (a digest mismatch, say) comes out unchanged. The caller discards targetDir on failure.
// Must never: write, chmod, chown or delete anything outside targetDir; follow a symlink while
// writing; mount anything.
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BerthError, ErrorCode, internal, invalidArgument } from '../errors/errors.ts';
import { shedMemory } from '../sys/native.ts';
import type { FromWorker, SerializedError, ToWorker } from './apply-layer-worker.ts';
import { type Compression, layerCompression } from './decompress.ts';
import { type ApplyResult, extractLayer, wrapApplyError } from './extract-layer.ts';
import { type ApplierOptions, type ApplyFormat, type ApplyLimits, DEFAULT_LIMITS } from './layer-applier.ts';

export { DEFAULT_LIMITS };
export type { ApplyFormat, ApplyLimits, ApplyResult };

export type ApplyOptions = {
  mediaType: string;
  targetDir: string;
  format: ApplyFormat;
  context: string;
  limits?: ApplyLimits;
  /** Character and block devices in the layer: created (default) or refused. */
  allowDevices?: boolean;
  /** Called for things skipped on purpose (an xattr the filesystem refuses). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
  /** Apply on the calling thread, not in an apply worker (blocks its event loop while writing). Default false. */
  inline?: boolean;
  /** How long the worker stays once idle, for the next layer, before it stops. Default 30 s. */
  workerIdleMs?: number;
};

const WORKER_IDLE_MS = 30_000;

/** Bytes of the blob sent to a worker and not yet taken by its decompressor. */
const IN_FLIGHT = 512 * 1024;

type Source = AsyncIterator<Uint8Array | string>;

const toBuffer = (v: Uint8Array | string): Buffer =>
  typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** The first bytes of the source (at least 6 unless it is shorter), to choose a decompressor. */
async function peek(it: Source): Promise<{ head: Buffer; done: boolean }> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < 6) {
    const r = await it.next();
    if (r.done) return { head: Buffer.concat(chunks), done: true };
    const b = toBuffer(r.value);
    chunks.push(b);
    len += b.length;
  }
  return { head: Buffer.concat(chunks), done: false };
}

// ------------------------------------------------------------------ on the caller's thread

async function applyInline(
  it: Source,
  head: Buffer,
  done: boolean,
  compression: Compression,
  opts: ApplierOptions,
  warn: (m: string) => void,
): Promise<ApplyResult> {
  const source = (async function* () {
    if (head.length > 0) yield head;
    if (done) return;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield toBuffer(r.value);
      }
    } finally {
      await it.return?.();
    }
  })();
  return extractLayer(source, compression, opts, warn);
}

// ------------------------------------------------------------------ in an apply worker

type Job = { onMessage(m: FromWorker): void; onDeath(e: Error): void };

type PooledWorker = { worker: Worker; jobs: Map<number, Job>; dead: boolean; idle?: NodeJS.Timeout };

/**
 * At most one worker per core: extraction is CPU work (the kernel's, mostly), so more threads than
 * cores only add start-up cost (~100 ms of CPU each, most of it loading TypeScript modules).
 */
const MAX_WORKERS = Math.max(1, Math.min(availableParallelism(), 4));
const pool: PooledWorker[] = [];
let workerFile: URL | null | undefined;
let jobs = 0;

/**
 * The worker module: the .ts source next to this one, or a bundle's apply-layer-worker.mjs (next to
 * this module, or one directory up when this module was split into dist/bin/chunks/); null if none.
 */
function findWorkerFile(): URL | null {
  if (workerFile === undefined) {
    workerFile = null;
    for (const rel of ['./apply-layer-worker.ts', './apply-layer-worker.mjs', '../apply-layer-worker.mjs']) {
      const url = new URL(rel, import.meta.url);
      if (url.protocol === 'file:' && existsSync(url)) {
        workerFile = url;
        break;
      }
    }
  }
  return workerFile;
}

function startWorker(file: URL): PooledWorker {
  // None of the parent's node flags: some are refused for a file worker (`--input-type` of a
  // `node -e` parent), and none concern extracting a layer.
  const worker = new Worker(file, { execArgv: [] });
  const pw: PooledWorker = { worker, jobs: new Map(), dead: false };
  const die = (e: Error) => {
    if (pw.dead) return;
    pw.dead = true;
    pool.splice(pool.indexOf(pw), 1);
    for (const job of pw.jobs.values()) job.onDeath(e);
    pw.jobs.clear();
  };
  worker.on('message', (m: FromWorker) => pw.jobs.get(m.id)?.onMessage(m));
  worker.on('error', die);
  worker.on('exit', (code) => die(internal(`the layer apply worker exited with code ${code} while applying`)));
  pool.push(pw);
  return pw;
}

/** The least busy worker, or a new one while there are fewer than MAX_WORKERS and none is idle. */
function acquire(file: URL, id: number, job: Job): PooledWorker {
  let pw = pool.reduce<PooledWorker | undefined>(
    (a, w) => (a === undefined || w.jobs.size < a.jobs.size ? w : a),
    undefined,
  );
  if (pw === undefined || (pw.jobs.size > 0 && pool.length < MAX_WORKERS)) pw = startWorker(file);
  if (pw.jobs.size === 0) pw.worker.ref();
  clearTimeout(pw.idle);
  pw.jobs.set(id, job);
  return pw;
}

function release(pw: PooledWorker, id: number, idleMs: number): void {
  pw.jobs.delete(id);
  if (pw.jobs.size > 0 || pw.dead) return;
  // An idle worker must not keep the process alive, nor stay for ever.
  pw.worker.unref();
  clearTimeout(pw.idle);
  pw.idle = setTimeout(() => {
    if (pw.jobs.size > 0 || pw.dead) return;
    pw.dead = true;
    pool.splice(pool.indexOf(pw), 1);
    // The isolate's memory is freed once it has stopped, but glibc keeps it (~10 MB in berthd
    // after an import) unless asked to give it back; and the node binary's code the worker ran
    // stays mapped (shedMemory).
    pw.worker.terminate().then(
      () => shedMemory(),
      () => {},
    );
  }, idleMs);
  pw.idle.unref();
}

/** How many apply workers run now (idle ones included): for tests and diagnostics. */
export function applyWorkers(): number {
  return pool.length;
}

function revive(e: SerializedError): BerthError {
  return new BerthError(
    (e.code as ErrorCode | undefined) ?? ErrorCode.Internal,
    e.message,
    e.errno === undefined ? undefined : { errno: e.errno },
  );
}

const STOP: unique symbol = Symbol('stop');

async function applyInWorker(
  file: URL,
  it: Source,
  head: Buffer,
  done: boolean,
  compression: Compression,
  opts: ApplierOptions,
  warn: (m: string) => void,
  idleMs: number,
): Promise<ApplyResult> {
  const id = ++jobs;
  let inFlight = 0;
  let settled = false;
  let wake: (() => void) | undefined;
  let warnFailure: unknown;
  let resolve!: (r: ApplyResult) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<ApplyResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => {});
  const finish = () => {
    settled = true;
    release(pw, id, idleMs);
    wake?.();
  };
  const pw = acquire(file, id, {
    onMessage(m) {
      if (m.t === 'ack') {
        inFlight -= m.bytes;
        wake?.();
      } else if (m.t === 'warn') {
        try {
          warn(m.message);
        } catch (e) {
          // A throwing onWarning fails the apply, as it does on the caller's thread.
          warnFailure ??= e;
          post({ t: 'abort', id, reason: { message: e instanceof Error ? e.message : String(e) } });
        }
      } else if (m.t === 'done') {
        finish();
        if (warnFailure === undefined) resolve(m.result);
        else reject(wrapApplyError(warnFailure, opts.context, ''));
      } else {
        finish();
        reject(revive(m.error));
      }
    },
    onDeath(e) {
      finish();
      reject(internal(`${opts.context}: the apply worker failed: ${e.message}`, e));
    },
  });
  const post = (m: ToWorker, transfer?: ArrayBuffer[]) => pw.worker.postMessage(m, transfer);
  post({ t: 'start', id, compression, opts });
  const send = (chunk: Uint8Array) => {
    // A copy the worker can own: the source's buffers may be slices of a shared pool.
    const own = new Uint8Array(chunk);
    inFlight += own.length;
    post({ t: 'data', id, chunk: own }, [own.buffer as ArrayBuffer]);
  };
  const stopped: Promise<typeof STOP> = result.then(
    () => STOP,
    () => STOP,
  );
  let sourceDone = done;
  try {
    if (head.length > 0) send(head);
    while (!sourceDone && !settled) {
      while (inFlight > IN_FLIGHT && !settled) {
        await new Promise<void>((r) => {
          wake = r;
        });
      }
      if (settled) break;
      const next = it.next();
      next.catch(() => {});
      const r = await Promise.race([next, stopped]);
      if (r === STOP) break;
      if (r.done) {
        sourceDone = true;
        break;
      }
      send(toBuffer(r.value));
    }
    if (!settled) post({ t: 'end', id });
  } catch (e) {
    sourceDone = true;
    if (!settled) {
      const code = (e as { code?: unknown } | null)?.code;
      post({
        t: 'abort',
        id,
        reason: { message: e instanceof Error ? e.message : String(e), ...(typeof code === 'string' ? { code } : {}) },
      });
    }
    // The worker turns the source's failure into its error (naming the entry it was on), as the
    // caller's thread would; a BerthError of the source itself comes out unchanged.
    const fromWorker = await result.then(
      () => undefined,
      (we: unknown) => we,
    );
    if (e instanceof BerthError) throw e;
    if (fromWorker instanceof BerthError) {
      throw new BerthError(fromWorker.code, fromWorker.message, {
        cause: e,
        ...(fromWorker.errno === undefined ? {} : { errno: fromWorker.errno }),
      });
    }
    throw fromWorker ?? wrapApplyError(e, opts.context, '');
  } finally {
    // The worker stopped early (a refused entry): stop the source too. Not awaited: a pending
    // next() would hold it until the source produced more.
    if (!sourceDone) it.return?.().catch(() => {});
  }
  return result;
}

// ------------------------------------------------------------------ entry point

/** Applies a layer to `opts.targetDir`; see layer-applier.ts for the formats and the safety model. */
export async function applyLayer(
  input: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  opts: ApplyOptions,
): Promise<ApplyResult> {
  const { context } = opts;
  const st = await fsp.lstat(opts.targetDir).catch((e: unknown) => {
    throw invalidArgument(`${context}: target directory ${opts.targetDir} cannot be used: ${String(e)}`);
  });
  if (!st.isDirectory()) throw invalidArgument(`${context}: target ${opts.targetDir} is not a directory`);
  const applier: ApplierOptions = {
    targetDir: opts.targetDir,
    format: opts.format,
    context,
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    allowDevices: opts.allowDevices ?? true,
  };
  const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, 'BerthApplyLayerWarning'));

  const it = (input as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  const { head, done } = await peek(it);
  let compression: Compression;
  try {
    compression = layerCompression(head, opts.mediaType, context);
  } catch (e) {
    if (!done) await it.return?.();
    throw e;
  }
  const file = opts.inline ? null : findWorkerFile();
  if (file === null) return applyInline(it, head, done, compression, applier, warn);
  return applyInWorker(file, it, head, done, compression, applier, warn, opts.workerIdleMs ?? WORKER_IDLE_MS);
}
