// The build cache: a step's key (its parent's key, the instruction as it ran, its inputs) → the
// image state after it (config and layer descriptors). Kept in <root>/build/cache.json, written
// atomically. The cache holds no blobs itself and is no gc root: an entry is used only while every
// layer it names is still in the content store, so what no image keeps, gc may take, and the entry
// is then a miss (issue 13: cache entries are gc roots only while an image uses them).
// Must never: be trusted without checking its layers exist.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Descriptor, ImageConfig } from '../oci/image-spec.ts';
import { atomicWriteFile } from '../sys/atomic-file.ts';

export type CachedState = { config: ImageConfig; layers: Descriptor[] };
type CacheFile = { version: 1; entries: Record<string, CachedState & { used: string }> };

/** sha256 of the JSON of `parts`: a step's cache key. */
export function cacheKey(...parts: unknown[]): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(parts)).digest('hex')}`;
}

export class BuildCache {
  readonly #path: string;
  #file: CacheFile | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.#path = join(dir, 'cache.json');
  }

  async #load(): Promise<CacheFile> {
    if (this.#file) return this.#file;
    try {
      const v = JSON.parse(await readFile(this.#path, 'utf8')) as CacheFile;
      this.#file = v && v.version === 1 && typeof v.entries === 'object' ? v : { version: 1, entries: {} };
    } catch {
      // Missing or unreadable: a cache starts empty; nothing stored depends on it.
      this.#file = { version: 1, entries: {} };
    }
    return this.#file;
  }

  async get(key: string, exists: (digest: string) => Promise<boolean>): Promise<CachedState | undefined> {
    const e = (await this.#load()).entries[key];
    if (!e) return undefined;
    for (const l of e.layers) if (!(await exists(l.digest))) return undefined;
    return { config: e.config, layers: e.layers };
  }

  async put(key: string, state: CachedState): Promise<void> {
    const f = await this.#load();
    f.entries[key] = { ...state, used: new Date().toISOString() };
    await this.#save();
  }

  /** `builder prune`: forgets every entry; returns how many there were. */
  async clear(): Promise<number> {
    const f = await this.#load();
    const n = Object.keys(f.entries).length;
    f.entries = {};
    await this.#save();
    return n;
  }

  async #save(): Promise<void> {
    const f = this.#file!;
    // Writes one after another: each is the whole file as it is then.
    this.#writing = this.#writing.then(async () => {
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(this.#path, '..'), { recursive: true, mode: 0o700 });
      await atomicWriteFile(this.#path, JSON.stringify(f), 0o600);
    });
    await this.#writing;
  }
}
