// The mapping from tar entries to files in one layer's target directory, with synchronous system
// calls: modes, owners, times, xattrs, hardlinks, devices, whiteouts in both forms, and the walk
// that refuses to write through a symlink. extract-layer.ts feeds it; it runs in an apply worker
// (apply-layer-worker.ts), so blocking calls stall no event loop that serves anything else.
//
// Why synchronous: a layer is thousands of small files, and each async fs call is a round trip
// through libuv's threadpool (a futex wake-up and a promise on the way back). Six such calls per
// file made applyLayer 2–3× slower than GNU tar; the same calls made directly cost microseconds.
//
// Formats:
// - 'overlay': targetDir is an empty overlayfs upperdir. A whiteout `.wh.x` becomes a 0/0 character
//   device `x`; `.wh..wh..opq` sets trusted.overlay.opaque=y on its directory.
// - 'plain': targetDir is a full rootfs holding the lower layers. A whiteout deletes the lower `x`;
//   an opaque marker deletes everything in its directory that this layer did not write.
//
// Safety model: every entry name is normalised (entry-path.ts) and its parents are resolved
// component by component with lstat inside targetDir. A parent that is a symlink is resolved the way
// containerd and docker resolve it in the image's root: its target is read as text and walked from
// the root (an absolute target starts there, '..' stops there), so `lib/x` under `lib -> usr/lib`
// is written at `usr/lib/x` and `lib` stays a symlink (merged-/usr images). The directory written
// into is thus always a chain of real directories inside targetDir, and no system call is ever
// given a path through a symlink, whoever made it (this layer or a lower one). In the overlay
// format the lower layers are not in targetDir: parents this layer made in passing are listed
// (implicitDirs), and lower-symlinks.ts moves them once the lower layers are known. Parents
// already verified (or made) in this apply are remembered in `safeDirs`; anything removed or
// replaced is forgotten there with everything below it, so a directory later replaced by a symlink
// is resolved again. Final components are created with O_EXCL|O_NOFOLLOW / mkdir / symlink / link /
// mknod, which never follow a symlink either: creation is tried first, and only when the name is
// taken (EEXIST) is the old entry looked at and removed (later entries win, as in tar). The walk is
// race-free because berth is the only writer in targetDir while a layer is applied (the snapshot is
// not mounted by anyone). Refusals throw BerthError(InvalidArgument) naming `context` and the entry.
//
// Must never: write, chmod, chown or delete anything outside targetDir; let a system call follow a
// symlink while writing; mount anything.
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { BerthError } from '../errors/errors.ts';
import { invalidArgument } from '../errors/errors.ts';
import { mknod, constants as sysc } from '../sys/native.ts';
import { classifyWhiteout, normalizeEntryPath } from './entry-path.ts';
import { xattrsFromPax } from './pax-xattrs.ts';
import { XattrError, lsetxattrSync } from './xattrs.ts';

export type ApplyFormat = 'overlay' | 'plain';

export type ApplyLimits = {
  /** Tar headers, including directories. Default 1,000,000. */
  maxEntries?: number;
  /** Bytes of the uncompressed tar (stops decompression bombs). Default 64 GiB. */
  maxBytes?: number;
  /** Bytes in one entry name or hardlink target. Default 4096 (PATH_MAX). */
  maxPathLength?: number;
};

export const DEFAULT_LIMITS: Required<ApplyLimits> = {
  maxEntries: 1_000_000,
  maxBytes: 64 * 1024 ** 3,
  maxPathLength: 4096,
};

/** What the applier needs to know; plain data, so that it crosses to a worker. */
export type ApplierOptions = {
  targetDir: string;
  format: ApplyFormat;
  context: string;
  limits: Required<ApplyLimits>;
  allowDevices: boolean;
};

/** The parts of a tar-stream header the applier reads. */
export type EntryHeader = {
  name: string;
  type: string | null;
  mode?: number | null;
  uid?: number | null;
  gid?: number | null;
  mtime?: Date | null;
  linkname?: string | null;
  devmajor?: number | null;
  devminor?: number | null;
  pax?: Record<string, string> | null;
};

const OPAQUE_XATTR = 'trusted.overlay.opaque';
const DIR_MODE_IMPLICIT = 0o755;
/** As Linux's ELOOP limit (MAXSYMLINKS). */
const MAX_SYMLINK_HOPS = 40;
const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/** What a path in targetDir is, by lstat, without following a symlink. */
type Kind = 'missing' | 'dir' | 'symlink' | 'other';

function kindOf(abs: string): Kind {
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (st === undefined) return 'missing';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** EEXIST from Node's fs or from the addon (both set `code` to the errno name). */
function isExists(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 'EEXIST';
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

function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
}

/**
 * A regular file being written: the caller passes its body chunks to write() and calls end() (or
 * abort() if the body never came whole).
 */
export type FileSink = { write(chunk: Uint8Array): void; end(): void; abort(): void };

export class LayerApplier {
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
  /**
   * Directories made only because an entry needed them as a parent (no entry of their own). In the
   * overlay format a lower layer may have a symlink there: relocateImplicitDirs() moves them then.
   */
  readonly implicitDirs = new Set<string>();
  /** Directories this layer wrote into or merged with: an opaque marker recurses into them. */
  readonly touched = new Set<string>(['']);
  /** Directory times, set at the end because creating children changes them. */
  readonly dirTimes = new Map<string, { atime: number; mtime: number }>();
  entry = '';

  constructor(opts: ApplierOptions, warn: (message: string) => void) {
    this.root = opts.targetDir;
    this.format = opts.format;
    this.context = opts.context;
    this.limits = opts.limits;
    this.allowDevices = opts.allowDevices;
    this.warn = warn;
  }

  refuse(reason: string): BerthError {
    return invalidArgument(`${this.context}: entry ${JSON.stringify(this.entry)}: ${reason}`);
  }

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  parse(name: string, what: string): string[] {
    const r = normalizeEntryPath(name, this.limits.maxPathLength);
    // The entry's own name is in every refusal already: a long one is printed once.
    if (!r.ok)
      throw this.refuse(name === this.entry ? r.reason : `${what} ${JSON.stringify(name)} is refused: ${r.reason}`);
    return r.parts;
  }

  /**
   * The real directory that holds the last component of `parts`: each parent is resolved inside the
   * root as the tree defines it, following symlinks (a target is read as text and resolved
   * lexically from the root: an absolute one starts there, '..' stops there), so an entry under a
   * symlinked directory (`lib/x` with `lib -> usr/lib`) lands at the resolved path (`usr/lib/x`)
   * and the symlink stays, as containerd and docker do. Missing directories are made when `create`;
   * undefined when one is missing and `create` is false. Nothing is ever written through a symlink:
   * the path returned consists of real directories, each checked with lstat or made here.
   */
  resolveParent(parts: string[], create: boolean): string | undefined {
    if (parts.length < 2) return '';
    // A directory in safeDirs is a real directory whose ancestors are all in safeDirs and touched
    // (forget() drops a removed directory's descendants with it), so the common case is one lookup.
    const parent = parts.length === 2 ? parts[0]! : parts.slice(0, -1).join('/');
    if (this.safeDirs.has(parent) && this.touched.has(parent)) return parent;
    const todo = parts.slice(0, -1).reverse();
    const cur: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        cur.pop();
        continue;
      }
      const rel = cur.length === 0 ? c : `${cur.join('/')}/${c}`;
      if (this.safeDirs.has(rel)) {
        this.touched.add(rel);
        cur.push(c);
        continue;
      }
      const abs = this.abs(rel);
      let kind = kindOf(abs);
      if (kind === 'missing') {
        if (!create) return undefined;
        try {
          fs.mkdirSync(abs, { mode: DIR_MODE_IMPLICIT });
          fs.chmodSync(abs, DIR_MODE_IMPLICIT);
          this.created.add(rel);
          this.implicitDirs.add(rel);
          kind = 'dir';
        } catch (e) {
          if (!isExists(e)) throw e;
          kind = kindOf(abs);
        }
      }
      if (kind === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS)
          throw this.refuse(
            `resolving its parent ${JSON.stringify(rel)} followed more than ${MAX_SYMLINK_HOPS} symlinks`,
          );
        const target = fs.readlinkSync(abs);
        if (target.startsWith('/')) cur.length = 0;
        todo.push(...target.split('/').reverse());
        continue;
      }
      if (kind !== 'dir') throw this.refuse(`its parent ${JSON.stringify(rel)} is not a directory`);
      this.touched.add(rel);
      this.safeDirs.add(rel);
      cur.push(c);
    }
    return cur.join('/');
  }

  /** `parts` with its parent resolved (see resolveParent); undefined when a parent is missing and not made. */
  resolve(parts: string[], create: boolean): string | undefined {
    const dir = this.resolveParent(parts, create);
    if (dir === undefined) return undefined;
    const base = parts[parts.length - 1]!;
    return dir === '' ? base : `${dir}/${base}`;
  }

  /** Drops what this apply knew about `rel` (and, for a directory, everything below it). */
  forget(rel: string, wasDir: boolean): void {
    const sets = [this.safeDirs, this.created, this.touched, this.implicitDirs];
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
  removePath(rel: string, kind: Kind): void {
    if (kind === 'missing') return;
    if (kind === 'dir') fs.rmSync(this.abs(rel), { recursive: true, force: true });
    else fs.unlinkSync(this.abs(rel));
    this.forget(rel, kind === 'dir');
  }

  /** Clears the final component for a new non-directory entry. Later entries win, as in tar. */
  clearFor(rel: string): void {
    this.removePath(rel, kindOf(this.abs(rel)));
  }

  /**
   * Runs `make` (a call that creates `rel` and fails with EEXIST if the name is taken, never
   * following a symlink); if the name was taken, removes what was there and runs it again.
   */
  create<T>(rel: string, make: () => T): T {
    try {
      return make();
    } catch (e) {
      if (!isExists(e)) throw e;
    }
    this.clearFor(rel);
    return make();
  }

  setXattrs(abs: string, xattrs: Map<string, Buffer>, isSymlink: boolean): void {
    for (const [name, value] of xattrs) {
      if (name.startsWith('trusted.overlay.')) {
        // overlayfs reads these from the upperdir (redirects, origins, metacopy): from a layer they
        // could point overlayfs elsewhere. Opaque directories come as .wh..wh..opq instead.
        this.warn(
          `${this.context}: entry ${JSON.stringify(this.entry)}: xattr ${name} ignored (reserved for overlayfs)`,
        );
        continue;
      }
      if (isSymlink && name.startsWith('user.')) {
        this.warn(
          `${this.context}: entry ${JSON.stringify(this.entry)}: xattr ${name} ignored (Linux allows no user.* xattrs on symlinks)`,
        );
        continue;
      }
      try {
        lsetxattrSync(abs, name, value);
      } catch (e) {
        if (e instanceof XattrError && (e.code === 'EOPNOTSUPP' || e.code === 'EPERM' || e.code === 'EACCES')) {
          this.warn(`${this.context}: entry ${JSON.stringify(this.entry)}: xattr ${name} not set: ${e.message}`);
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * Applies one entry. Returns a sink for a regular file's body, undefined for everything else
   * (whose body, if any, the caller drains).
   */
  apply(header: EntryHeader): FileSink | undefined {
    this.entry = header.name;
    const parts = this.parse(header.name, 'the name');
    const pax = header.pax ?? undefined;
    const base = parts[parts.length - 1];
    if (base !== undefined) {
      const wh = classifyWhiteout(base);
      if (wh.kind !== 'none') {
        if (wh.kind === 'invalid') throw this.refuse(wh.reason);
        if (wh.kind === 'aufs-meta') return undefined;
        if (wh.kind === 'opaque') {
          this.opaque(parts.slice(0, -1));
          return undefined;
        }
        this.whiteout([...parts.slice(0, -1), wh.name]);
        return undefined;
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
      return undefined;
    }
    const rel = this.resolve(parts, true)!;
    const abs = this.abs(rel);

    switch (header.type) {
      case 'file':
      case 'contiguous-file': {
        const fd = this.create(rel, () => fs.openSync(abs, WRITE_FLAGS, 0o600));
        this.created.add(rel);
        let open = true;
        const close = () => {
          if (!open) return;
          open = false;
          fs.closeSync(fd);
        };
        return {
          write: (chunk) => writeAll(fd, chunk),
          end: () => {
            try {
              if (this.isRoot) fs.fchownSync(fd, uid, gid);
              // After chown, which clears setuid/setgid.
              fs.fchmodSync(fd, mode);
              fs.futimesSync(fd, atime, mtime);
            } finally {
              close();
            }
            // After writing and chown, which both clear security.capability; setting an xattr
            // changes the ctime only, so the mtime set above stays.
            this.setXattrs(abs, xattrs, false);
          },
          abort: close,
        };
      }
      case 'directory': {
        let made = false;
        try {
          fs.mkdirSync(abs, { mode: 0o700 });
          made = true;
        } catch (e) {
          if (!isExists(e)) throw e;
          const kind = kindOf(abs);
          if (kind !== 'dir') {
            this.removePath(rel, kind);
            fs.mkdirSync(abs, { mode: 0o700 });
            made = true;
          }
        }
        if (made) this.created.add(rel);
        // A parent made earlier for another entry now has an entry of its own.
        this.implicitDirs.delete(rel);
        this.safeDirs.add(rel);
        this.touched.add(rel);
        if (this.isRoot) fs.lchownSync(abs, uid, gid);
        fs.chmodSync(abs, mode);
        this.setXattrs(abs, xattrs, false);
        this.dirTimes.set(rel, { atime, mtime });
        return undefined;
      }
      case 'symlink': {
        const target = header.linkname ?? '';
        if (target === '') throw this.refuse('the symlink has no target');
        if (Buffer.byteLength(target) > this.limits.maxPathLength) {
          throw this.refuse(`the symlink target is longer than ${this.limits.maxPathLength} bytes`);
        }
        // The target may point anywhere: it is only text until something follows it, and berth
        // never does while writing (the runtime resolves paths inside the rootfs).
        this.create(rel, () => fs.symlinkSync(target, abs));
        this.created.add(rel);
        if (this.isRoot) fs.lchownSync(abs, uid, gid);
        this.setXattrs(abs, xattrs, true);
        fs.lutimesSync(abs, atime, mtime);
        return undefined;
      }
      case 'link': {
        const linkname = header.linkname ?? '';
        const tparts = this.parse(linkname, 'the hardlink target');
        if (tparts.length === 0) throw this.refuse('the hardlink target is the layer root');
        const missing = () =>
          this.refuse(
            `the hardlink target ${JSON.stringify(linkname)} does not exist (it must come earlier in the layer${this.format === 'plain' ? ' or in a lower layer' : ''})`,
          );
        const trel = this.resolve(tparts, false);
        if (trel === undefined) throw missing();
        if (trel === rel) throw this.refuse('the hardlink points to itself');
        const tkind = kindOf(this.abs(trel));
        if (tkind === 'missing') throw missing();
        if (tkind === 'dir') throw this.refuse(`the hardlink target ${JSON.stringify(linkname)} is a directory`);
        // link(2) does not follow a symlink target: a hardlink to a symlink links the symlink itself.
        this.create(rel, () => fs.linkSync(this.abs(trel), abs));
        this.created.add(rel);
        return undefined;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        if (header.type !== 'fifo' && !this.allowDevices)
          throw this.refuse('device nodes are not allowed in this layer');
        const ifmt =
          header.type === 'fifo' ? sysc.S_IFIFO : header.type === 'block-device' ? sysc.S_IFBLK : sysc.S_IFCHR;
        this.create(rel, () => mknod(abs, ifmt | 0o600, header.devmajor ?? 0, header.devminor ?? 0));
        this.created.add(rel);
        if (this.isRoot) fs.lchownSync(abs, uid, gid);
        fs.chmodSync(abs, mode);
        this.setXattrs(abs, xattrs, false);
        fs.lutimesSync(abs, atime, mtime);
        return undefined;
      }
      default:
        throw this.refuse(
          `unsupported tar entry type ${JSON.stringify(header.type)} (GNU sparse files and the like are not allowed in images)`,
        );
    }
  }

  whiteout(parts: string[]): void {
    if (this.format === 'overlay') {
      const rel = this.resolve(parts, true)!;
      this.create(rel, () => mknod(this.abs(rel), sysc.S_IFCHR | 0o000, 0, 0));
      this.created.add(rel);
      return;
    }
    const rel = this.resolve(parts, false);
    if (rel === undefined) return;
    // The whiteout hides lower layers only; what this layer wrote stays.
    if (this.created.has(rel)) return;
    this.clearFor(rel);
  }

  opaque(dirParts: string[]): void {
    let rel = '';
    if (dirParts.length > 0) {
      // The marked directory is the marker's parent, resolved like any other.
      const dir = this.resolveParent([...dirParts, '.wh..wh..opq'], this.format === 'overlay');
      if (dir === undefined) return;
      rel = dir;
      // Made for the marker, it is this layer's directory (opaque), not a parent made in passing.
      this.implicitDirs.delete(rel);
      const kind = kindOf(this.abs(rel));
      if (kind === 'symlink') throw this.refuse(`the opaque directory ${JSON.stringify(rel)} is a symlink`);
      if (kind === 'other') throw this.refuse(`the opaque directory ${JSON.stringify(rel)} is not a directory`);
      if (kind === 'missing') {
        if (this.format === 'plain') return;
        fs.mkdirSync(this.abs(rel), { mode: DIR_MODE_IMPLICIT });
        fs.chmodSync(this.abs(rel), DIR_MODE_IMPLICIT);
        this.created.add(rel);
      }
      this.safeDirs.add(rel);
      this.touched.add(rel);
    }
    if (this.format === 'overlay') {
      lsetxattrSync(this.abs(rel), OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    this.prune(rel);
  }

  /** Plain format: removes from `rel` everything that came from lower layers. */
  prune(rel: string): void {
    for (const name of fs.readdirSync(this.abs(rel))) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (this.created.has(child)) continue;
      if (this.touched.has(child)) {
        if (kindOf(this.abs(child)) === 'dir') {
          this.prune(child);
          continue;
        }
      }
      this.clearFor(child);
    }
  }

  /** Sets the directory times, last, because creating children changed them. */
  finish(): void {
    for (const [rel, t] of this.dirTimes) fs.lutimesSync(this.abs(rel), t.atime, t.mtime);
  }
}
