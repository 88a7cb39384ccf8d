// ArchiveSource: the files of an image archive being loaded — a tar (plain, gzip'd or zstd'd; a
// path, '-' for stdin, or a stream) read once from start to end, or a directory (an OCI layout
// written by `skopeo copy … oci:DIR`).
//
// A tar is read in one pass (docker puts manifest.json last, so nothing can be decided before the
// end). Entries named blobs/<algorithm>/<hex> go straight into the content store through a writer
// that verifies them against their name; every other regular file is staged on disk (stagingDir)
// with its sha256 computed on the way. Nothing is ever held in memory but small JSON documents.
//
// Hostile archives: an entry name or link target that is absolute, contains '..', or is not a
// regular file, directory or link; a duplicate name; a blob whose content does not match its name;
// too many entries — each is refused with an error naming the archive and the entry. Staged files
// get generated names, so an entry name never becomes a host path. Every blob written is leased
// (leaseId) until the caller names the image, so gc never takes it; a refused load leaves only
// verified, unnamed blobs that the next gc collects.
// Must never: write outside stagingDir and the content store, or follow a link out of the archive.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, open, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { type ContentStore, writerErrorDetail } from '../content/content-store.ts';
import { type BerthError, ErrorCode, invalidArgument, isBerthError, notFound } from '../errors/errors.ts';
import { isDigest } from '../oci/image-validate.ts';
import { decompressed, digestStream } from './layer-stream.ts';

/** A tar entry's body (a streamx stream) or a file stream: iterated, or drained with resume(). */
type EntryBody = AsyncIterable<unknown> & { resume(): unknown };
type FileEntry = { kind: 'file'; size: number; staged?: string; sha256?: string; blob?: string };
type Entry = FileEntry | { kind: 'dir' } | { kind: 'link'; target: string };

const MAX_ENTRIES = 100_000;
const MAX_PATH = 4096;
const BLOB_PATH = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;

export type ArchiveSourceOptions = { label: string; content: ContentStore; stagingDir: string; leaseId: string };

/** An archive path in canonical form ("a/b"), or why it is refused. */
export function normalizeArchivePath(name: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (typeof name !== 'string' || name.length === 0) return { ok: false, reason: 'the path is empty' };
  if (name.length > MAX_PATH) return { ok: false, reason: `the path is longer than ${MAX_PATH} bytes` };
  if (name.includes('\0')) return { ok: false, reason: 'the path contains a NUL byte' };
  if (name.startsWith('/')) return { ok: false, reason: 'the path is absolute' };
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, reason: "the path contains '..'" };
  if (parts.length === 0) return { ok: false, reason: 'the path names the archive root' };
  return { ok: true, path: parts.join('/') };
}

/** "./", ".", "./." …: a relative name of the archive root itself. */
function isArchiveRoot(name: string): boolean {
  return name !== '' && !name.startsWith('/') && name.split('/').every((p) => p === '' || p === '.');
}

export class ArchiveSource {
  readonly label: string;
  readonly #opts: ArchiveSourceOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #dir: string | undefined;

  private constructor(opts: ArchiveSourceOptions, dir?: string) {
    this.label = opts.label;
    this.#opts = opts;
    this.#dir = dir;
  }

  static async open(input: string | Readable, opts: ArchiveSourceOptions): Promise<ArchiveSource> {
    if (typeof input === 'string' && input !== '-') {
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(input);
      } catch (e) {
        throw notFound(`load ${opts.label}: ${(e as Error).message}`, e);
      }
      if (st.isDirectory()) return new ArchiveSource(opts, input);
    }
    const src = new ArchiveSource(opts);
    const raw = typeof input !== 'string' ? input : input === '-' ? process.stdin : createReadStream(input);
    await src.#readTar(raw);
    return src;
  }

  #fail(entry: string, why: string): BerthError {
    return invalidArgument(`load ${this.label}: entry ${JSON.stringify(entry)}: ${why}`);
  }

  async #readTar(raw: NodeJS.ReadableStream | Readable): Promise<void> {
    let stream: Readable;
    try {
      ({ stream } = await decompressed(raw, undefined, `load ${this.label}`));
    } catch (e) {
      throw invalidArgument(`load ${this.label}: ${(e as Error).message}`, e);
    }
    const ex = extract();
    let count = 0;
    let failure: unknown;
    ex.on('entry', (header: Header, body: EntryBody, next: (err?: Error | null) => void) => {
      this.#onEntry(header, body, ++count).then(
        () => next(),
        (e) => {
          failure ??= e;
          body.resume();
          next(e as Error);
        },
      );
    });
    try {
      await new Promise<void>((resolve, reject) => {
        ex.on('finish', () => resolve());
        ex.on('error', reject);
        stream.on('error', reject);
        stream.pipe(ex as unknown as NodeJS.WritableStream);
      });
    } catch (e) {
      if (failure) throw failure;
      throw invalidArgument(`load ${this.label}: not a readable tar archive (${(e as Error).message})`, e);
    }
    if (failure) throw failure;
    if (count === 0) throw invalidArgument(`load ${this.label}: the archive is empty`);
  }

  async #onEntry(header: Header, body: EntryBody, n: number): Promise<void> {
    if (n > MAX_ENTRIES) throw invalidArgument(`load ${this.label}: more than ${MAX_ENTRIES} entries`);
    const norm = normalizeArchivePath(header.name);
    if (!norm.ok) {
      // `tar -C dir -cf x.tar .` writes the root itself first ("./"): a directory that names
      // nothing inside the archive, ignored as docker does. Any other entry there is refused.
      if (header.type === 'directory' && isArchiveRoot(header.name)) {
        body.resume();
        return;
      }
      throw this.#fail(header.name, `${norm.reason}; archive paths must stay inside the archive`);
    }
    const name = norm.path;
    if (header.type === 'directory') {
      body.resume();
      if (!this.#entries.has(name)) this.#entries.set(name, { kind: 'dir' });
      return;
    }
    if (this.#entries.has(name)) throw this.#fail(name, 'appears twice in the archive');
    if (header.type === 'symlink' || header.type === 'link') {
      body.resume();
      const target =
        header.type === 'symlink' ? posix.join(posix.dirname(name), header.linkname ?? '') : (header.linkname ?? '');
      const t =
        header.type === 'symlink' && (header.linkname ?? '').startsWith('/')
          ? { ok: false as const, reason: 'the link target is absolute' }
          : normalizeArchivePath(target);
      if (!t.ok)
        throw this.#fail(
          name,
          `link target ${JSON.stringify(header.linkname)}: ${t.reason}; links must stay inside the archive`,
        );
      this.#entries.set(name, { kind: 'link', target: t.path });
      return;
    }
    if (header.type !== 'file' && header.type !== 'contiguous-file') {
      body.resume();
      throw this.#fail(name, `is a ${header.type}; an image archive holds only regular files, directories and links`);
    }
    const size = header.size ?? 0;
    const m = BLOB_PATH.exec(name);
    if (m && isDigest(`${m[1]}:${m[2]}`)) {
      const digest = `${m[1]}:${m[2]}`;
      await this.#ingestStream(name, body, { digest, size });
      this.#entries.set(name, { kind: 'file', size, blob: digest });
      return;
    }
    const staged = join(this.#opts.stagingDir, `entry-${n}`);
    const hash = createHash('sha256');
    const fh = await open(staged, 'wx', 0o600);
    try {
      for await (const c of body as AsyncIterable<Buffer>) {
        hash.update(c);
        await fh.write(c);
      }
    } finally {
      await fh.close();
    }
    this.#entries.set(name, { kind: 'file', size, staged, sha256: `sha256:${hash.digest('hex')}` });
  }

  /** Writes `body` into the content store as `expected.digest`, verified; a blob already there is kept. */
  async #ingestStream(name: string, body: EntryBody, expected: { digest: string; size?: number }): Promise<void> {
    const { content, leaseId } = this.#opts;
    await content.addResource(leaseId, expected.digest);
    if (await content.exists(expected.digest)) {
      const info = await content.info(expected.digest);
      if (expected.size !== undefined && info.size !== expected.size)
        throw this.#fail(name, `is ${expected.size} bytes but ${expected.digest} is ${info.size}`);
      body.resume();
      return;
    }
    let w: Awaited<ReturnType<ContentStore['writer']>>;
    const ingest = `load-${expected.digest.replace(':', '-')}`;
    try {
      w = await content.writer(ingest, expected);
    } catch (e) {
      if (isBerthError(e, ErrorCode.AlreadyExists)) {
        body.resume();
        return;
      }
      throw e;
    }
    try {
      if (w.offset > 0) await w.truncate();
      for await (const c of body as AsyncIterable<Buffer>) await w.write(c);
      await w.commit();
    } catch (e) {
      await w.abort().catch(() => {});
      if (isBerthError(e, ErrorCode.InvalidArgument))
        throw this.#fail(name, `does not match its digest: ${writerErrorDetail(e.message, ingest)}`);
      throw e;
    }
  }

  #resolve(name: string): FileEntry | undefined {
    let cur = name;
    for (let hops = 0; hops < 40; hops++) {
      const e = this.#entries.get(cur);
      if (!e || e.kind === 'dir') return undefined;
      if (e.kind === 'file') return e;
      cur = e.target;
    }
    throw this.#fail(name, 'too many levels of links');
  }

  async #dirFile(name: string): Promise<{ path: string; size: number } | undefined> {
    const norm = normalizeArchivePath(name);
    if (!norm.ok) throw this.#fail(name, norm.reason);
    const path = join(this.#dir!, norm.path);
    try {
      const st = await lstat(path);
      return st.isFile() ? { path, size: st.size } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Is `name` (after links) a regular file of the archive? */
  async has(name: string): Promise<boolean> {
    const norm = normalizeArchivePath(name);
    if (!norm.ok) return false;
    if (this.#dir !== undefined) return (await this.#dirFile(norm.path)) !== undefined;
    return this.#resolve(norm.path) !== undefined;
  }

  #missing(name: string, role: string): BerthError {
    return notFound(`load ${this.label}: ${role} ${JSON.stringify(name)} is not in the archive`);
  }

  /** The whole of a small file (a JSON document), at most `max` bytes. */
  async readSmall(name: string, role: string, max = 8 * 1024 * 1024): Promise<Buffer> {
    const { size, open: o } = await this.#locate(name, role);
    if (size > max) throw this.#fail(name, `${role} is ${size} bytes; at most ${max} are accepted`);
    const chunks: Buffer[] = [];
    for await (const c of (await o()) as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /** A stream of a file's bytes. */
  async open(name: string, role: string): Promise<NodeJS.ReadableStream> {
    return (await this.#locate(name, role)).open();
  }

  async #locate(
    name: string,
    role: string,
  ): Promise<{ size: number; open: () => Promise<NodeJS.ReadableStream>; entry?: FileEntry }> {
    const norm = normalizeArchivePath(name);
    if (!norm.ok) throw this.#fail(name, `${role}: ${norm.reason}; paths must stay inside the archive`);
    if (this.#dir !== undefined) {
      const f = await this.#dirFile(norm.path);
      if (!f) throw this.#missing(norm.path, role);
      return { size: f.size, open: async () => (await open(f.path, 'r')).createReadStream() };
    }
    const e = this.#resolve(norm.path);
    if (!e) throw this.#missing(norm.path, role);
    if (e.blob) return { size: e.size, entry: e, open: () => this.#opts.content.read(e.blob!) };
    return { size: e.size, entry: e, open: async () => createReadStream(e.staged!) };
  }

  /** sha256 and size of a file (computed while staging, or now). */
  async digest(name: string, role: string): Promise<{ digest: string; size: number }> {
    const l = await this.#locate(name, role);
    if (l.entry?.sha256) return { digest: l.entry.sha256, size: l.size };
    if (l.entry?.blob?.startsWith('sha256:')) return { digest: l.entry.blob, size: l.size };
    return digestStream(await l.open());
  }

  /** Puts a file of the archive into the content store as `expected` (verified), leased for this load. */
  async ingest(name: string, role: string, expected: { digest: string; size?: number }): Promise<void> {
    const l = await this.#locate(name, role);
    if (expected.size !== undefined && l.size !== expected.size)
      throw this.#fail(name, `${role} is ${l.size} bytes; the descriptor says ${expected.size}`);
    if (l.entry?.blob !== undefined) {
      if (l.entry.blob !== expected.digest)
        throw this.#fail(name, `${role} is ${l.entry.blob}, expected ${expected.digest}`);
      await this.#opts.content.addResource(this.#opts.leaseId, expected.digest);
      return;
    }
    if (l.entry?.sha256 && expected.digest.startsWith('sha256:') && l.entry.sha256 !== expected.digest)
      throw this.#fail(name, `${role} does not match its digest: expected ${expected.digest}, got ${l.entry.sha256}`);
    await this.#ingestStream(name, (await l.open()) as unknown as EntryBody, expected);
  }
}
