// The apply worker: a worker thread that runs extractLayer (decompress, hash, parse, write with
// synchronous calls) for one layer at a time, fed with the blob's bytes by apply-layer.ts.
//
// Protocol (structured-clone messages; `id` names the job, and anything for another job is ignored):
//   parent → worker  { t: 'start', id, compression, opts }   opts: ApplierOptions
//                    { t: 'data', id, chunk }                 chunk: Uint8Array, its buffer transferred
//                    { t: 'end', id }                         the blob is complete
//                    { t: 'abort', id, reason }               the source failed: { message, code? }
//   worker → parent  { t: 'ack', id, bytes }                  a data chunk was taken by the decompressor
//                    { t: 'warn', id, message }
//                    { t: 'done', id, result }                result: ApplyResult
//                    { t: 'error', id, error }                error: SerializedError
// Every start ends with exactly one 'done' or 'error'. A worker runs several jobs at once (layers
// pulled side by side share the pool's few workers): each is its own async pipeline, and the
// synchronous writes of one chunk are short enough not to starve the others.
//
// Must never: let one job's failure touch another's, or outlive its parent's interest (the parent
// unrefs it when idle).
import { parentPort } from 'node:worker_threads';
import { BerthError, internal } from '../errors/errors.ts';
import type { Compression } from './decompress.ts';
import { type ApplyResult, extractLayer } from './extract-layer.ts';
import type { ApplierOptions } from './layer-applier.ts';

export type SerializedError = { code?: string; message: string; errno?: number };

export type ToWorker =
  | { t: 'start'; id: number; compression: Compression; opts: ApplierOptions }
  | { t: 'data'; id: number; chunk: Uint8Array }
  | { t: 'end'; id: number }
  | { t: 'abort'; id: number; reason: SerializedError };

export type FromWorker =
  | { t: 'ack'; id: number; bytes: number }
  | { t: 'warn'; id: number; message: string }
  | { t: 'done'; id: number; result: ApplyResult }
  | { t: 'error'; id: number; error: SerializedError };

/** The chunks of the current job, handed to the decompressor one at a time. */
class ChunkQueue {
  readonly items: Uint8Array[] = [];
  ended = false;
  failure: Error | undefined;
  private waiter: (() => void) | undefined;

  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *chunks(ack: (bytes: number) => void): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.failure) throw this.failure;
      const c = this.items.shift();
      if (c !== undefined) {
        ack(c.length);
        yield c;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => {
        this.waiter = r;
      });
    }
  }
}

function serialize(e: unknown): SerializedError {
  if (e instanceof BerthError)
    return { code: e.code, message: e.message, ...(e.errno === undefined ? {} : { errno: e.errno }) };
  return { message: e instanceof Error ? e.message : String(e) };
}

const port = parentPort;
if (port === null)
  throw internal('apply-layer-worker.ts runs as a worker thread (apply-layer.ts starts it), not as a main module');
const post = (m: FromWorker) => port.postMessage(m);
const jobs = new Map<number, ChunkQueue>();

port.on('message', (m: ToWorker) => {
  if (m.t === 'start') {
    const queue = new ChunkQueue();
    const { id } = m;
    jobs.set(id, queue);
    extractLayer(
      queue.chunks((bytes) => post({ t: 'ack', id, bytes })),
      m.compression,
      m.opts,
      (message) => post({ t: 'warn', id, message }),
    )
      .then(
        (result) => post({ t: 'done', id, result }),
        (e: unknown) => post({ t: 'error', id, error: serialize(e) }),
      )
      .finally(() => jobs.delete(id));
    return;
  }
  const queue = jobs.get(m.id);
  if (queue === undefined) return;
  if (m.t === 'data') queue.items.push(m.chunk);
  else if (m.t === 'end') queue.ended = true;
  // The source's own failure (a socket's errno, zlib's Z_* code), rebuilt as Node made it, not as a
  // BerthError: wrapApplyError classifies it by that code on this side.
  else
    queue.failure = Object.assign(
      new Error(m.reason.message),
      m.reason.code === undefined ? {} : { code: m.reason.code },
    );
  queue.wake();
});
