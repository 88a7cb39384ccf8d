// TarWriter: writes a tar (save's archives) to a stream, one entry at a time, with backpressure,
// using tar-stream's packer. Entries get fixed owners and a zero mtime so that saving the same
// images twice gives the same bytes. Must never buffer an entry's body in memory (streams are piped).
import type { Readable, Writable } from 'node:stream';
import { pack, type Pack } from 'tar-stream';

const EPOCH = new Date(0);

export class TarWriter {
  readonly #pack: Pack;
  readonly #done: Promise<void>;

  constructor(out: Writable) {
    this.#pack = pack();
    // tar-stream's streams are streamx streams: joined with pipe() and events, not stream.pipeline.
    this.#done = new Promise<void>((resolve, reject) => {
      this.#pack.on('error', reject);
      out.on('error', reject);
      out.on('finish', resolve);
    });
    this.#pack.pipe(out);
    // Observed by finish(); a failure before then must not be an unhandled rejection.
    this.#done.catch(() => {});
  }

  async addBuffer(name: string, data: Buffer | string, mode = 0o644): Promise<void> {
    const body = Buffer.from(data);
    await new Promise<void>((resolve, reject) => {
      this.#pack.entry({ name, size: body.length, mode, mtime: EPOCH, uid: 0, gid: 0 }, body, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  async addDirectory(name: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#pack.entry(
        { name: name.endsWith('/') ? name : `${name}/`, type: 'directory', mode: 0o755, mtime: EPOCH, uid: 0, gid: 0 },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Streams `size` bytes from `source` as entry `name`; tar-stream fails the entry if the size is wrong. */
  async addStream(name: string, size: number, source: Readable | NodeJS.ReadableStream): Promise<void> {
    let settle!: (err?: Error | null) => void;
    const written = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    const entry = this.#pack.entry({ name, size, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 }, (err) => settle(err));
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (!entry.write(chunk)) await new Promise<void>((r) => entry.once('drain', () => r()));
      }
    } catch (e) {
      entry.destroy(e as Error);
      await written.catch(() => {});
      throw e;
    }
    (entry as unknown as { end(): void }).end();
    await written;
  }

  async finish(): Promise<void> {
    this.#pack.finalize();
    await this.#done;
  }

  destroy(e: Error): void {
    this.#pack.destroy(e);
  }
}
