// A directory that COPY and ADD take files from: the build context (with its .dockerignore), or a
// read-only view of an earlier stage's or an image's root filesystem (COPY --from). Paths are
// resolved as inside a root: a symlink's target is read as text and resolved from the tree's root,
// '..' stops at the root, so a symlink in a context or an image never leads outside it.
// Owns: source globs, walking (ignored paths never seen), the content digests the cache keys take.
// Must never: write anything, or follow a symlink in a system call on a path it has not resolved.
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors/errors.ts';
import { cleanPath, compileGlob, type DockerIgnore, hasGlob } from './dockerignore.ts';

const MAX_SYMLINKS = 40;

export type TreeEntry = { rel: string; abs: string; stat: Stats; link?: string };

export class SourceTree {
  readonly root: string;
  readonly ignore: DockerIgnore | undefined;
  /** What messages call it: "build context", "stage builder". */
  readonly label: string;
  #all: TreeEntry[] | undefined;
  readonly #digests = new Map<string, string>();

  readonly memo: DigestMemo | undefined;
  /**
   * For the view of an image state: the snapshot directories it shows, topmost first, where a file
   * the view shows can be found by its inode and hard-linked into a new snapshot (writeLayerEntries).
   */
  layerDirs: readonly string[] = [];

  constructor(root: string, label: string, ignore?: DockerIgnore, memo?: DigestMemo) {
    this.root = root;
    this.label = label;
    this.ignore = ignore;
    this.memo = memo;
  }

  #ignored(rel: string): boolean {
    return rel !== '' && this.ignore !== undefined && this.ignore.isIgnored(rel);
  }

  /**
   * `path` (relative to the root, '/'-separated) with every symlink among its components resolved
   * inside the root; the last one too when `followLast`. Undefined when it does not exist.
   */
  async resolve(path: string, followLast = true): Promise<string | undefined> {
    let todo = cleanPath(`/${path}`)
      .split('/')
      .filter((p) => p !== '');
    const done: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const part = todo.shift()!;
      if (part === '..') {
        done.pop();
        continue;
      }
      const rel = [...done, part].join('/');
      let st: Stats;
      try {
        st = await lstat(join(this.root, rel));
      } catch {
        return undefined;
      }
      if (st.isSymbolicLink() && (todo.length > 0 || followLast)) {
        if (++hops > MAX_SYMLINKS)
          throw invalidArgument(`${this.label}: too many levels of symbolic links resolving ${path}`);
        const target = await readlink(join(this.root, rel));
        if (target.startsWith('/')) done.length = 0;
        todo = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...todo];
        continue;
      }
      if (todo.length > 0 && !st.isDirectory()) return undefined;
      done.push(part);
    }
    return done.join('/');
  }

  async stat(rel: string): Promise<Stats> {
    return lstat(join(this.root, rel));
  }

  /** Every entry below `rel` (itself excluded), parents before children, names in byte order; ignored paths left out. */
  async walk(rel: string): Promise<TreeEntry[]> {
    const out: TreeEntry[] = [];
    const visit = async (dir: string) => {
      const names = (await readdir(join(this.root, dir))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (const name of names) {
        const r = dir === '' ? name : `${dir}/${name}`;
        const abs = join(this.root, r);
        const st = await lstat(abs);
        const ignored = this.#ignored(r);
        // An ignored directory is still walked when an exception may bring back something below it.
        if (ignored && !(st.isDirectory() && this.ignore?.hasExceptions)) continue;
        if (!ignored)
          out.push({ rel: r, abs, stat: st, ...(st.isSymbolicLink() ? { link: await readlink(abs) } : {}) });
        if (st.isDirectory()) await visit(r);
      }
    };
    await visit(rel);
    return out;
  }

  /**
   * The paths a COPY source names: a glob over the tree's (not ignored) paths, else the one path
   * with its symlinks resolved. InvalidArgument naming the source when nothing matches.
   */
  async sources(src: string, instruction: string): Promise<string[]> {
    const pattern = cleanPath(`/${src}`).slice(1);
    if (pattern === '') return [''];
    if (hasGlob(pattern)) {
      this.#all ??= await this.walk('');
      const re = compileGlob(pattern);
      const hits = this.#all.filter((e) => re.test(e.rel)).map((e) => e.rel);
      if (hits.length === 0)
        throw invalidArgument(
          `${instruction}: no source files were specified: ${JSON.stringify(src)} matches nothing in the ${this.label}${this.ignore ? ' (or only files excluded by .dockerignore)' : ''}`,
        );
      // Symlinks a glob matched are followed, as Docker does with every source.
      const out: string[] = [];
      for (const h of hits) {
        const r = await this.resolve(h);
        if (r !== undefined && !out.includes(r)) out.push(r);
      }
      return out;
    }
    const r = await this.resolve(pattern);
    if (r === undefined || this.#ignored(pattern) || (r !== '' && this.#ignored(r)))
      throw invalidArgument(
        `${instruction}: ${JSON.stringify(src)} not found in the ${this.label}${this.ignore ? ' (or excluded by .dockerignore)' : ''}`,
      );
    return [r];
  }

  /**
   * sha256 of a regular file's content: what a COPY's cache key takes, never mtimes. With a
   * `memo` (the builder's, across builds), a file whose inode, size, mtime and ctime (ns) are
   * unchanged is not read again, as BuildKit's content hashes do: any write changes the ctime.
   */
  async digest(rel: string): Promise<string> {
    const hit = this.#digests.get(rel);
    if (hit) return hit;
    const abs = join(this.root, rel);
    const st = this.memo ? await lstat(abs, { bigint: true }) : undefined;
    const stamp = st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : '';
    const known = st ? this.memo?.get(abs) : undefined;
    if (known && known.stamp === stamp) {
      this.#digests.set(rel, known.digest);
      return known.digest;
    }
    const h = createHash('sha256');
    for await (const c of createReadStream(abs) as AsyncIterable<Buffer>) h.update(c);
    const d = `sha256:${h.digest('hex')}`;
    this.#digests.set(rel, d);
    if (st) {
      // Read again after hashing: a file written meanwhile must not be remembered with the old content.
      const after = await lstat(abs, { bigint: true });
      if (`${after.dev}:${after.ino}:${after.size}:${after.mtimeNs}:${after.ctimeNs}` === stamp)
        this.memo?.set(abs, { stamp, digest: d });
    }
    return d;
  }
}

/** Content digests of context files by path, with the stat stamp they were taken at (bounded). */
export class DigestMemo {
  readonly #m = new Map<string, { stamp: string; digest: string }>();
  readonly #max: number;
  constructor(max = 200_000) {
    this.#max = max;
  }
  get(path: string): { stamp: string; digest: string } | undefined {
    return this.#m.get(path);
  }
  set(path: string, v: { stamp: string; digest: string }): void {
    this.#m.delete(path);
    this.#m.set(path, v);
    // Oldest first out: Map keeps insertion order.
    if (this.#m.size > this.#max) this.#m.delete(this.#m.keys().next().value!);
  }
}
