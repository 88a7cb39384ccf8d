// LayerTee: hands the bytes of a layer that is being downloaded into the content store to the layer
// applier at the same time, so that a pull decompresses and untars while it downloads.
//
// The download offers every chunk with its offset in the blob (fetch-blob.ts's onBytes). The
// applier needs the blob from byte 0, in order, exactly once:
// - the first chunk at offset 0: the tee streams; chunks seen again (a server that ignored Range
//   after a dropped connection sends everything again) are skipped up to what was handed on;
// - the first chunk past 0 (a resumed ingest of a killed pull) or no chunk at all (the blob was
//   already stored): the applier reads the verified blob from the store once the download is done.
// Memory is bounded: offer() waits while more than `highWaterMark` bytes are queued.
// Must never: hand the applier a byte twice or out of order, or keep the download waiting after the
// applier stopped reading.
import { failedPrecondition, internal } from '../errors/errors.ts';

export type Deferred<T> = { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void };

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections are read by whoever awaits; nobody may be waiting yet.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class LayerTee {
  readonly highWaterMark: number;
  /** 'stream' once byte 0 arrived, 'store' when the applier must read the stored blob. */
  readonly #mode = deferred<'stream' | 'store'>();
  #decided: 'stream' | 'store' | undefined;
  /** Download finished (blob committed) or failed. */
  readonly #done = deferred<void>();
  readonly #queue: Buffer[] = [];
  #queued = 0;
  /** Bytes of the blob handed to the queue so far (stream mode). */
  #fed = 0;
  #ended = false;
  #error: { e: unknown } | undefined;
  #readerGone = false;
  #cancelled: { e: unknown } | undefined;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  constructor(highWaterMark = 8 * 1024 * 1024) {
    this.highWaterMark = highWaterMark;
  }

  #decide(mode: 'stream' | 'store'): void {
    if (this.#decided !== undefined) return;
    this.#decided = mode;
    this.#mode.resolve(mode);
  }

  #wake(): void {
    const r = this.#wakeReader;
    this.#wakeReader = undefined;
    r?.();
  }

  /** A chunk the download is about to store at `offset`. Rejects once cancel() was called. */
  async offer(chunk: Buffer, offset: number): Promise<void> {
    this.#throwIfCancelled();
    this.#decide(offset === 0 ? 'stream' : 'store');
    if (this.#decided !== 'stream' || this.#readerGone) return;
    if (offset > this.#fed) throw internal(`layer tee: a chunk at ${offset} leaves a gap after byte ${this.#fed}`);
    const end = offset + chunk.length;
    if (end <= this.#fed) return;
    const fresh = offset === this.#fed ? chunk : chunk.subarray(this.#fed - offset);
    this.#fed = end;
    this.#queue.push(fresh);
    this.#queued += fresh.length;
    this.#wake();
    while (this.#queued >= this.highWaterMark && !this.#readerGone && !this.#cancelled) {
      await new Promise<void>((r) => {
        this.#wakeWriter = r;
      });
    }
    this.#throwIfCancelled();
  }

  #throwIfCancelled(): void {
    if (this.#cancelled) throw this.#cancelled.e;
  }

  /** The download committed the blob. */
  end(): void {
    this.#ended = true;
    this.#decide('store');
    this.#done.resolve();
    this.#wake();
  }

  /** The download failed: the applier fails with `e`. */
  fail(e: unknown): void {
    this.#error ??= { e };
    if (this.#decided === undefined) this.#mode.reject(e);
    this.#done.reject(e);
    this.#wake();
  }

  /** The applier failed: the download stops at its next chunk (its partial ingest stays resumable). */
  cancel(reason: string): void {
    this.#cancelled ??= { e: failedPrecondition(`download stopped: ${reason}`) };
    const w = this.#wakeWriter;
    this.#wakeWriter = undefined;
    w?.();
  }

  /** The layer's bytes from offset 0; `openStored` opens the verified blob when the tee cannot stream. */
  async *input(
    openStored: () => Promise<AsyncIterable<Uint8Array> | NodeJS.ReadableStream>,
  ): AsyncGenerator<Uint8Array> {
    if ((await this.#mode.promise) === 'store') {
      await this.#done.promise;
      yield* (await openStored()) as AsyncIterable<Uint8Array>;
      return;
    }
    try {
      for (;;) {
        if (this.#error) throw this.#error.e;
        const chunk = this.#queue.shift();
        if (chunk !== undefined) {
          this.#queued -= chunk.length;
          if (this.#queued < this.highWaterMark) {
            const w = this.#wakeWriter;
            this.#wakeWriter = undefined;
            w?.();
          }
          yield chunk;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((r) => {
          this.#wakeReader = r;
        });
      }
    } finally {
      // The applier stopped reading (done or failed): the download must not wait for it.
      this.#readerGone = true;
      this.#queue.length = 0;
      this.#queued = 0;
      const w = this.#wakeWriter;
      this.#wakeWriter = undefined;
      w?.();
    }
  }
}
