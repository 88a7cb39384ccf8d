// Applies one image layer (a tar, gzip'd, zstd'd or plain) to a directory while it streams in, and
// returns its DiffID (the sha256 of the uncompressed tar).
//
// Owns: decompression, the DiffID, the mapping from tar entries to files (modes, owners, times,
// xattrs, hardlinks, devices), whiteouts in both forms, and the defences against hostile layers.
// The tar format itself is parsed by tar-stream (see pax-xattrs.ts for the one decoder replaced).
//
// Formats:
// - 'overlay': targetDir is an empty overlayfs upperdir. A whiteout `.wh.x` becomes a 0/0 character
//   device `x`; `.wh..wh..opq` sets trusted.overlay.opaque=y on its directory.
// - 'plain': targetDir is a full rootfs holding the lower layers. A whiteout deletes the lower `x`;
//   an opaque marker deletes everything in its directory that this layer did not write.
//
// Safety model: every entry name is normalised (entry-path.ts) and then resolved component by
// component with lstat. A component that is a symlink is refused, never followed, so no entry is
// ever written through a symlink, whoever made it (this layer or a lower one). Final components are
// created with O_EXCL|O_NOFOLLOW / mkdir / symlink / link / mknod after removing what was there, so
// they cannot be redirected either. The walk is race-free because berth is the only writer in
// targetDir while a layer is applied (the snapshot is not mounted by anyone). Refusals throw
// BerthError(InvalidArgument) naming `context` and the entry; the caller discards targetDir.
//
// Must never: write, chmod, chown or delete anything outside targetDir; follow a symlink while
// writing; mount anything.
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { BerthError, internal, invalidArgument } from '../errors/errors.ts';
import { constants as sysc, mknod } from '../sys/native.ts';
import { detectCompression } from './decompress.ts';
import { classifyWhiteout, normalizeEntryPath } from './entry-path.ts';
import { installBinaryPaxValues, xattrsFromPax } from './pax-xattrs.ts';
import { XattrError, lsetxattr } from './xattrs.ts';

export type ApplyFormat = 'overlay' | 'plain';

export type ApplyLimits = {
  /** Tar headers, including directories. Default 1,000,000. */
  maxEntries?: number;
  /** Bytes of the uncompressed tar (stops decompression bombs). Default 64 GiB. */
  maxBytes?: number;
  /** Bytes in one entry name or hardlink target. Default 4096 (PATH_MAX). */
  maxPathLength?: number;
};

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
};

export type ApplyResult = { diffId: string; size: number };

export const DEFAULT_LIMITS: Required<ApplyLimits> = {
  maxEntries: 1_000_000,
  maxBytes: 64 * 1024 ** 3,
  maxPathLength: 4096,
};

const OPAQUE_XATTR = 'trusted.overlay.opaque';
const DIR_MODE_IMPLICIT = 0o755;
const WRITE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

type Header = Omit<tar.Header, 'pax' | 'type'> & { type: string | null; pax?: Record<string, string> | null };

/** An error that already names the context and entry: passed through unchanged. */
function isFinal(e: unknown): e is BerthError {
  return e instanceof BerthError;
}

function errnoCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function paxTime(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number.parseFloat(v);
  return Number.isFinite(n) ? n : undefined;
}

function paxInt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number.parseInt(v, 10);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function asyncIterable(input: AsyncIterable<Uint8Array> | NodeJS.ReadableStream): AsyncIterable<Uint8Array | string> {
  return input as AsyncIterable<Uint8Array | string>;
}

/**
 * The source with its first bytes peeked (to choose a decompressor), then decompressed, as one
 * Node Readable of the uncompressed tar.
 */
async function openUncompressed(
  input: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  mediaType: string,
  context: string,
): Promise<Readable> {
  const it = asyncIterable(input)[Symbol.asyncIterator]();
  const headChunks: Buffer[] = [];
  let headLen = 0;
  let done = false;
  while (headLen < 6) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value);
    headChunks.push(b);
    headLen += b.length;
  }
  const head = Buffer.concat(headChunks);
  const compression = detectCompression(head, mediaType, context);
  const raw = Readable.from(
    (async function* () {
      if (head.length > 0) yield head;
      if (done) return;
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        }
      } finally {
        await it.return?.();
      }
    })(),
    { objectMode: false },
  );
  if (compression === 'none') return raw;
  const dec = compression === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  // pipeline() destroys both on an error, so iterating `dec` rejects with it.
  return pipeline(raw, dec, () => {}) as unknown as Readable;
}

/** What a path in targetDir is, by lstat, without following a symlink. */
type Kind = 'missing' | 'dir' | 'symlink' | 'other';

async function kindOf(abs: string): Promise<Kind> {
  try {
    const st = await fsp.lstat(abs);
    if (st.isDirectory()) return 'dir';
    if (st.isSymbolicLink()) return 'symlink';
    return 'other';
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return 'missing';
    throw e;
  }
}

class LayerApplier {
  readonly root: string;
  readonly format: ApplyFormat;
  readonly context: string;
  readonly limits: Required<ApplyLimits>;
  readonly allowDevices: boolean;
  readonly warn: (message: string) => void;
  readonly isRoot = process.getuid?.() === 0;
  /** Relative paths known to be real directories in this apply (lstat-checked or made here). */
  readonly safeDirs = new Set<string>(['']);
  /** Relative paths this layer created (plain format: what an opaque marker keeps). */
  readonly created = new Set<string>();
  /** Directories this layer wrote into or merged with: an opaque marker recurses into them. */
  readonly touched = new Set<string>(['']);
  /** Directory times, set at the end because creating children changes them. */
  readonly dirTimes = new Map<string, { atime: number; mtime: number }>();
  entry = '';

  constructor(opts: ApplyOptions) {
    this.root = opts.targetDir;
    this.format = opts.format;
    this.context = opts.context;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.allowDevices = opts.allowDevices ?? true;
    this.warn = opts.onWarning ?? ((m) => process.emitWarning(m, 'BerthApplyLayerWarning'));
  }

  refuse(reason: string): BerthError {
    return invalidArgument(`${this.context}: entry ${JSON.stringify(this.entry)}: ${reason}`);
  }

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  parse(name: string, what: string): string[] {
    const r = normalizeEntryPath(name, this.limits.maxPathLength);
    if (!r.ok) throw this.refuse(`${what} ${JSON.stringify(name)} is refused: ${r.reason}`);
    return r.parts;
  }

  /**
   * Makes sure every parent of `parts` is a real directory, creating missing ones when `create`.
   * Returns false if a parent is missing and `create` is false. Refuses symlinks and non-directories.
   */
  async walkParents(parts: string[], create: boolean): Promise<boolean> {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel === '' ? parts[i]! : `${rel}/${parts[i]}`;
      this.touched.add(rel);
      if (this.safeDirs.has(rel)) continue;
      const kind = await kindOf(this.abs(rel));
      if (kind === 'dir') {
        this.safeDirs.add(rel);
        continue;
      }
      if (kind === 'symlink') {
        throw this.refuse(`its parent ${JSON.stringify(rel)} is a symlink; berth never writes through a symlink`);
      }
      if (kind === 'other') throw this.refuse(`its parent ${JSON.stringify(rel)} is not a directory`);
      if (!create) return false;
      await fsp.mkdir(this.abs(rel), { mode: DIR_MODE_IMPLICIT });
      await fsp.chmod(this.abs(rel), DIR_MODE_IMPLICIT);
      this.safeDirs.add(rel);
      this.created.add(rel);
    }
    return true;
  }

  /** Drops what this apply knew about `rel` (and, for a directory, everything below it). */
  forget(rel: string, wasDir: boolean): void {
    const sets = [this.safeDirs, this.created, this.touched];
    for (const set of sets) set.delete(rel);
    this.dirTimes.delete(rel);
    // Only a removed directory has descendants to forget; replacing a file (the common case in a
    // layer that updates many files) must stay O(1).
    if (!wasDir) return;
    const prefix = `${rel}/`;
    for (const set of sets) for (const p of set) if (p.startsWith(prefix)) set.delete(p);
    for (const p of this.dirTimes.keys()) if (p.startsWith(prefix)) this.dirTimes.delete(p);
  }

  /** Removes whatever is at `rel` (a directory with its contents), never following a symlink. */
  async removePath(rel: string, kind: Kind): Promise<void> {
    if (kind === 'missing') return;
    if (kind === 'dir') await fsp.rm(this.abs(rel), { recursive: true, force: true });
    else await fsp.unlink(this.abs(rel));
    this.forget(rel, kind === 'dir');
  }

  /** Clears the final component for a new non-directory entry. Later entries win, as in tar. */
  async clearFor(rel: string): Promise<void> {
    await this.removePath(rel, await kindOf(this.abs(rel)));
  }

  async owner(abs: string, uid: number, gid: number): Promise<void> {
    if (this.isRoot) await fsp.lchown(abs, uid, gid);
  }

  async setXattrs(abs: string, xattrs: Map<string, Buffer>, isSymlink: boolean): Promise<void> {
    for (const [name, value] of xattrs) {
      if (name.startsWith('trusted.overlay.')) {
        // overlayfs reads these from the upperdir (redirects, origins, metacopy): from a layer they
        // could point overlayfs elsewhere. Opaque directories come as .wh..wh..opq instead.
        this.warn(`${this.context}: entry ${JSON.stringify(this.entry)}: xattr ${name} ignored (reserved for overlayfs)`);
        continue;
      }
      if (isSymlink && name.startsWith('user.')) {
        this.warn(`${this.context}: entry ${JSON.stringify(this.entry)}: xattr ${name} ignored (Linux allows no user.* xattrs on symlinks)`);
        continue;
      }
      try {
        await lsetxattr(abs, name, value);
      } catch (e) {
        if (e instanceof XattrError && (e.code === 'EOPNOTSUPP' || e.code === 'EPERM' || e.code === 'EACCES')) {
          this.warn(`${this.context}: entry ${JSON.stringify(this.entry)}: xattr ${name} not set: ${e.message}`);
          continue;
        }
        throw e;
      }
    }
  }

  async apply(header: Header, body: AsyncIterable<Uint8Array>): Promise<void> {
    this.entry = header.name;
    const parts = this.parse(header.name, 'the name');
    const pax = header.pax ?? undefined;
    const base = parts[parts.length - 1];
    if (base !== undefined) {
      const wh = classifyWhiteout(base);
      if (wh.kind !== 'none') {
        if (wh.kind === 'invalid') throw this.refuse(wh.reason);
        if (wh.kind === 'aufs-meta') return;
        if (wh.kind === 'opaque') return this.opaque(parts.slice(0, -1));
        return this.whiteout([...parts.slice(0, -1), wh.name]);
      }
    }
    const mode = (header.mode ?? 0) & 0o7777;
    const uid = paxInt(pax?.uid) ?? header.uid ?? 0;
    const gid = paxInt(pax?.gid) ?? header.gid ?? 0;
    const mtime = paxTime(pax?.mtime) ?? (header.mtime ? header.mtime.getTime() / 1000 : 0);
    const atime = paxTime(pax?.atime) ?? mtime;
    const xattrs = xattrsFromPax(pax);

    if (parts.length === 0) {
      // The root itself ("./"): its metadata belongs to the snapshot, not to a layer.
      if (header.type !== 'directory') throw this.refuse('only a directory may name the layer root');
      return;
    }
    const rel = parts.join('/');
    await this.walkParents(parts, true);
    const abs = this.abs(rel);

    switch (header.type) {
      case 'file':
      case 'contiguous-file': {
        await this.clearFor(rel);
        const fh = await fsp.open(abs, WRITE_FLAGS, 0o600);
        try {
          for await (const chunk of body) await fh.write(chunk);
          if (this.isRoot) await fh.chown(uid, gid);
          // After chown, which clears setuid/setgid.
          await fh.chmod(mode);
        } finally {
          await fh.close();
        }
        // After writing and chown, which both clear security.capability.
        await this.setXattrs(abs, xattrs, false);
        await fsp.lutimes(abs, atime, mtime);
        this.created.add(rel);
        return;
      }
      case 'directory': {
        const kind = await kindOf(abs);
        if (kind !== 'dir') {
          await this.removePath(rel, kind);
          await fsp.mkdir(abs, { mode: 0o700 });
          this.created.add(rel);
        }
        this.safeDirs.add(rel);
        this.touched.add(rel);
        await this.owner(abs, uid, gid);
        await fsp.chmod(abs, mode);
        await this.setXattrs(abs, xattrs, false);
        this.dirTimes.set(rel, { atime, mtime });
        return;
      }
      case 'symlink': {
        const target = header.linkname ?? '';
        if (target === '') throw this.refuse('the symlink has no target');
        if (Buffer.byteLength(target) > this.limits.maxPathLength) {
          throw this.refuse(`the symlink target is longer than ${this.limits.maxPathLength} bytes`);
        }
        // The target may point anywhere: it is only text until something follows it, and berth
        // never does while writing (the runtime resolves paths inside the rootfs).
        await this.clearFor(rel);
        await fsp.symlink(target, abs);
        await this.owner(abs, uid, gid);
        await this.setXattrs(abs, xattrs, true);
        await fsp.lutimes(abs, atime, mtime);
        this.created.add(rel);
        return;
      }
      case 'link': {
        const linkname = header.linkname ?? '';
        const tparts = this.parse(linkname, 'the hardlink target');
        if (tparts.length === 0) throw this.refuse('the hardlink target is the layer root');
        const trel = tparts.join('/');
        if (trel === rel) throw this.refuse('the hardlink points to itself');
        if (!(await this.walkParents(tparts, false))) {
          throw this.refuse(`the hardlink target ${JSON.stringify(linkname)} does not exist (it must come earlier in the layer${this.format === 'plain' ? ' or in a lower layer' : ''})`);
        }
        const tkind = await kindOf(this.abs(trel));
        if (tkind === 'missing') {
          throw this.refuse(`the hardlink target ${JSON.stringify(linkname)} does not exist (it must come earlier in the layer${this.format === 'plain' ? ' or in a lower layer' : ''})`);
        }
        if (tkind === 'dir') throw this.refuse(`the hardlink target ${JSON.stringify(linkname)} is a directory`);
        await this.clearFor(rel);
        // link(2) does not follow a symlink target: a hardlink to a symlink links the symlink itself.
        await fsp.link(this.abs(trel), abs);
        this.created.add(rel);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        if (header.type !== 'fifo' && !this.allowDevices) throw this.refuse('device nodes are not allowed in this layer');
        await this.clearFor(rel);
        const ifmt = header.type === 'fifo' ? sysc.S_IFIFO : header.type === 'block-device' ? sysc.S_IFBLK : sysc.S_IFCHR;
        mknod(abs, ifmt | 0o600, header.devmajor ?? 0, header.devminor ?? 0);
        await this.owner(abs, uid, gid);
        await fsp.chmod(abs, mode);
        await this.setXattrs(abs, xattrs, false);
        await fsp.lutimes(abs, atime, mtime);
        this.created.add(rel);
        return;
      }
      default:
        throw this.refuse(`unsupported tar entry type ${JSON.stringify(header.type)} (GNU sparse files and the like are not allowed in images)`);
    }
  }

  async whiteout(parts: string[]): Promise<void> {
    const rel = parts.join('/');
    if (this.format === 'overlay') {
      await this.walkParents(parts, true);
      await this.clearFor(rel);
      mknod(this.abs(rel), sysc.S_IFCHR | 0o000, 0, 0);
      this.created.add(rel);
      return;
    }
    if (!(await this.walkParents(parts, false))) return;
    // The whiteout hides lower layers only; what this layer wrote stays.
    if (this.created.has(rel)) return;
    await this.clearFor(rel);
  }

  async opaque(dirParts: string[]): Promise<void> {
    const rel = dirParts.join('/');
    if (dirParts.length > 0) {
      await this.walkParents([...dirParts, '.wh..wh..opq'], this.format === 'overlay');
      const kind = await kindOf(this.abs(rel));
      if (kind === 'symlink') throw this.refuse(`the opaque directory ${JSON.stringify(rel)} is a symlink`);
      if (kind === 'other') throw this.refuse(`the opaque directory ${JSON.stringify(rel)} is not a directory`);
      if (kind === 'missing') {
        if (this.format === 'plain') return;
        await fsp.mkdir(this.abs(rel), { mode: DIR_MODE_IMPLICIT });
        await fsp.chmod(this.abs(rel), DIR_MODE_IMPLICIT);
        this.created.add(rel);
      }
      this.safeDirs.add(rel);
      this.touched.add(rel);
    }
    if (this.format === 'overlay') {
      await lsetxattr(this.abs(rel), OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    await this.prune(rel);
  }

  /** Plain format: removes from `rel` everything that came from lower layers. */
  async prune(rel: string): Promise<void> {
    for (const name of await fsp.readdir(this.abs(rel))) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (this.created.has(child)) continue;
      if (this.touched.has(child)) {
        const kind = await kindOf(this.abs(child));
        if (kind === 'dir') {
          await this.prune(child);
          continue;
        }
      }
      await this.clearFor(child);
    }
  }

  async finish(): Promise<void> {
    for (const [rel, t] of this.dirTimes) {
      await fsp.lutimes(this.abs(rel), t.atime, t.mtime);
    }
  }
}

/** Applies a layer to `opts.targetDir`; see the module header for the formats and the safety model. */
export async function applyLayer(input: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, opts: ApplyOptions): Promise<ApplyResult> {
  installBinaryPaxValues();
  const applier = new LayerApplier(opts);
  const { context } = opts;
  const st = await fsp.lstat(opts.targetDir).catch((e: unknown) => {
    throw invalidArgument(`${context}: target directory ${opts.targetDir} cannot be used: ${String(e)}`);
  });
  if (!st.isDirectory()) throw invalidArgument(`${context}: target ${opts.targetDir} is not a directory`);

  const source = await openUncompressed(input, opts.mediaType, context);
  const hash = createHash('sha256');
  let size = 0;
  let entries = 0;
  const extract = tar.extract();

  // Feeds the uncompressed bytes to the tar parser, counting and hashing every byte (including the
  // end-of-archive blocks and any padding after them: the DiffID covers the whole stream).
  const feeding = (async () => {
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
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
      extract.destroy(e as Error);
      throw e;
    }
  })();
  // Its rejection is read below; this keeps it from being reported as unhandled meanwhile.
  feeding.catch(() => {});

  try {
    for await (const entry of extract) {
      entries++;
      const header = entry.header as Header;
      if (entries > applier.limits.maxEntries) {
        applier.entry = header.name;
        throw applier.refuse(`the layer has more than ${applier.limits.maxEntries} entries (limits.maxEntries)`);
      }
      try {
        await applier.apply(header, entry as unknown as AsyncIterable<Uint8Array>);
      } finally {
        // Whatever apply did not read must still be drained for the parser to move on.
        entry.resume();
      }
    }
    await feeding;
    await applier.finish();
  } catch (e) {
    source.destroy();
    const fed = await feeding.then(
      () => undefined,
      (fe: unknown) => fe,
    );
    // A bomb or corrupt compression surfaces in the feeder, and reaches the entry loop only as
    // "stream destroyed": prefer the feeder's error unless the loop refused an entry itself.
    const first = isFinal(e) || fed === undefined ? e : fed;
    throw wrap(first, context, applier.entry, fed);
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size };
}

function wrap(e: unknown, context: string, entry: string, fed: unknown): unknown {
  if (isFinal(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = errnoCode(e) ?? errnoCode(fed);
  if (code?.startsWith('Z_') || code?.startsWith('ERR_ZSTD') || code === 'ERR__ZSTD' || /zstd|incorrect header|unexpected end of file|invalid (block|distance|stored)/i.test(msg)) {
    return invalidArgument(`${context}: the layer is not valid compressed data: ${msg}`, e);
  }
  if (/tar header|Unexpected end of data|Invalid header|Header exceeds/i.test(msg)) {
    return invalidArgument(`${context}: the layer is not a valid tar${entry ? ` (after entry ${JSON.stringify(entry)})` : ''}: ${msg}`, e);
  }
  return internal(`${context}: applying entry ${JSON.stringify(entry)}: ${msg}`, e);
}
