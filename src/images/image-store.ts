// ImageStore: image names (full references) → target descriptor, with created/updated times and
// labels. Persisted as one JSON file (<root>/images.json) written temp + fsync + rename + dir fsync:
// chosen over node:sqlite because the data is small (one record per name), every write rewrites
// a few KB at most, and a single atomically replaced file is crash-consistent without a WAL to
// recover or a schema to migrate. Mutations are serialised in-process (berthd owns the store).
// It must never touch content or snapshots: gc (gc.ts) joins the stores.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile } from '../sys/atomic-file.ts';
import { invalidArgument, notFound } from '../errors/errors.ts';
import type { Descriptor } from '../oci/image-spec.ts';
import { validateDescriptor } from '../oci/image-validate.ts';

export type ImageRecord = {
  name: string;
  target: Descriptor;
  createdAt: string;
  updatedAt: string;
  labels: Record<string, string>;
};

type FileFormat = { version: 1; images: Record<string, ImageRecord> };

export class ImageStore {
  readonly path: string;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(root: string) {
    this.path = join(root, 'images.json');
  }

  async #load(): Promise<FileFormat> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: {} };
      throw e;
    }
    const v = JSON.parse(text) as FileFormat;
    if (v.version !== 1 || typeof v.images !== 'object')
      throw invalidArgument(`${this.path}: expected an image store of version 1`);
    return v;
  }

  #mutate<T>(fn: (f: FileFormat) => T): Promise<T> {
    const run = async () => {
      const f = await this.#load();
      const out = fn(f);
      await mkdir(join(this.path, '..'), { recursive: true });
      await atomicWriteFile(this.path, JSON.stringify(f));
      return out;
    };
    const next = this.#chain.then(run, run);
    this.#chain = next.catch(() => {});
    return next;
  }

  async get(name: string): Promise<ImageRecord> {
    const r = (await this.#load()).images[name];
    if (!r) throw notFound(`image ${name}: not found`);
    return r;
  }

  async list(): Promise<ImageRecord[]> {
    return Object.values((await this.#load()).images).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Creates or updates `name` to point at `target`; keeps createdAt of an existing record. */
  async put(name: string, target: Descriptor, labels?: Record<string, string>): Promise<ImageRecord> {
    validateDescriptor(target, `image ${name}: target`);
    return this.#mutate((f) => {
      const now = new Date().toISOString();
      const prev = f.images[name];
      const rec: ImageRecord = {
        name,
        target: { mediaType: target.mediaType, digest: target.digest, size: target.size },
        createdAt: prev?.createdAt ?? now,
        updatedAt: now,
        // A name moved to another image does not keep the old one's labels (its parent, say).
        labels: labels ?? (prev && prev.target.digest === target.digest ? prev.labels : {}),
      };
      f.images[name] = rec;
      return rec;
    });
  }

  async delete(name: string): Promise<void> {
    await this.#mutate((f) => {
      if (!f.images[name]) throw notFound(`image ${name}: not found`);
      delete f.images[name];
    });
  }
}
