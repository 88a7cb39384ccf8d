// A build step's layer: entries written as an uncompressed tar (so its digest is its DiffID), staged
// on disk while hashed, then stored in the content store under the build's lease. And the entries of
// an overlay upper directory (a RUN's filesystem diff): whiteouts (0/0 character devices) become
// `.wh.<name>`, an opaque directory (trusted.overlay.opaque=y) gets `.wh..wh..opq`, hard links
// within the diff become link entries; names in byte order, parents first, so the same diff gives
// the same tar. mtimes are kept, or clamped to SOURCE_DATE_EPOCH when the build gives one.
// The per-file calls (lstat, readdir, a small file's read, link, chown, chmod, utimes) are
// synchronous: a RUN that writes 5,000 files costs some 30,000 of them, and through libuv's thread
// pool each is a round trip that takes far longer than the call itself on a loaded machine. The walks
// give the event loop a turn every YIELD_EVERY entries, so berthd keeps serving meanwhile.
// Must never: hold a layer in memory, or follow a symlink of the diff.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  constants,
  copyFileSync,
  createReadStream,
  createWriteStream,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  type Stats,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from '../archive/entry-path.ts';
import { lgetxattr, llistxattr, lsetxattr } from '../archive/xattrs.ts';
import type { ContentStore } from '../content/content-store.ts';
import { writeBlobFile } from '../content/write-blob.ts';
import { type Descriptor, MediaType } from '../oci/image-spec.ts';

export type LayerEntry = {
  /** Path in the image, relative, no trailing '/'. */
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  /** file: the host path of the body. */
  source?: string;
  /** file: bytes of a here-document's body instead. */
  data?: Buffer;
  size?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes (security.capability, user.*), carried as PAX SCHILY.xattr.* records. */
  xattrs?: Record<string, Buffer>;
};

const SMALL_FILE = 256 * 1024;
const YIELD_EVERY = 256;

export type StoredLayer = { descriptor: Descriptor; diffId: string };

/** Writes `entries` as a layer blob into `content`, holding it under `leaseId`. */
export async function storeLayer(
  content: ContentStore,
  leaseId: string,
  staging: string,
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  clampMtime?: Date,
): Promise<StoredLayer> {
  const staged = join(staging, `layer-${process.hrtime.bigint()}.tar`);
  const hash = createHash('sha256');
  let size = 0;
  const p = pack();
  const out = createWriteStream(staged, { flags: 'wx', mode: 0o600 });
  // tar-stream's packer is a streamx stream: read by iteration, not joined by stream.pipeline.
  const written = (async () => {
    for await (const c of p as AsyncIterable<Buffer>) {
      hash.update(c);
      size += c.length;
      if (!out.write(c)) await once(out, 'drain');
    }
    out.end();
    await finished(out);
  })();
  written.catch(() => {});
  try {
    for await (const e of entries) {
      const mtime = clampMtime && e.mtime > clampMtime ? clampMtime : e.mtime;
      const header = {
        name: e.type === 'directory' ? `${e.name}/` : e.name,
        mode: e.mode & 0o7777,
        uid: e.uid,
        gid: e.gid,
        mtime,
        type: e.type,
      };
      if (e.xattrs && Object.keys(e.xattrs).length > 0) {
        // Written by hand: tar-stream encodes PAX values as UTF-8 and counts characters, but an
        // xattr value is bytes (a file capability), and a record's length counts bytes.
        // tar-stream takes no body for a PAX entry either: its header block and body go in raw,
        // between two whole entries (each entry() above has been written when it resolved).
        const body = paxXattrs(e.xattrs);
        p.push(paxHeaderBlock(`PaxHeaders/${e.name.split('/').pop()!.slice(0, 80)}`, body.length, mtime));
        p.push(Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]));
      }
      if (e.type === 'file') {
        // Small files are read whole: a stream per file costs more than its bytes (5,000 small files a RUN wrote).
        const body =
          e.data ?? (!e.source ? Buffer.alloc(0) : (e.size ?? 0) <= SMALL_FILE ? readFileSync(e.source) : undefined);
        if (body) await entry(p, { ...header, size: body.length }, body);
        else await streamEntry(p, { ...header, size: e.size ?? 0 }, e.source!);
      } else if (e.type === 'symlink' || e.type === 'link')
        await entry(p, { ...header, size: 0, linkname: e.linkname ?? '' });
      else if (e.type === 'character-device' || e.type === 'block-device')
        await entry(p, { ...header, size: 0, devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0 });
      else await entry(p, { ...header, size: 0 });
    }
    p.finalize();
    await written;
    const digest = `sha256:${hash.digest('hex')}`;
    await content.addResource(leaseId, digest);
    await writeBlobFile(content, staged, digest, size, 'build');
    return { descriptor: { mediaType: MediaType.Layer, digest, size }, diffId: digest };
  } catch (e) {
    p.destroy(e as Error);
    throw e;
  } finally {
    await rm(staged, { force: true });
  }
}

type Header = Parameters<ReturnType<typeof pack>['entry']>[0];

/** PAX records "<len> SCHILY.xattr.<name>=<bytes>\n", the length in bytes including itself. */
function paxXattrs(xattrs: Record<string, Buffer>): Buffer {
  const records: Buffer[] = [];
  for (const [k, v] of Object.entries(xattrs).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const rest = Buffer.concat([Buffer.from(` SCHILY.xattr.${k}=`), v, Buffer.from('\n')]);
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
    records.push(Buffer.concat([Buffer.from(String(len)), rest]));
  }
  return Buffer.concat(records);
}

/** A ustar header block of type 'x' (a PAX extended header for the next entry) of `size` bytes. */
function paxHeaderBlock(name: string, size: number, mtime: Date): Buffer {
  const b = Buffer.alloc(512);
  const octal = (v: number, len: number, at: number) =>
    b.write(`${v.toString(8).padStart(len - 1, '0')}\0`, at, 'latin1');
  b.write(name, 0, 100, 'utf8');
  octal(0o644, 8, 100);
  octal(0, 8, 108);
  octal(0, 8, 116);
  octal(size, 12, 124);
  octal(Math.floor(mtime.getTime() / 1000), 12, 136);
  b.write('x', 156, 'latin1');
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** The xattrs a layer carries of a diff's entry: not overlayfs' own bookkeeping. */
async function entryXattrs(path: string): Promise<Record<string, Buffer> | undefined> {
  const names = (await llistxattr(path).catch(() => [] as string[])).filter((n) => !n.startsWith('trusted.overlay.'));
  if (names.length === 0) return undefined;
  const out: Record<string, Buffer> = {};
  for (const n of names) {
    const v = await lgetxattr(path, n).catch(() => undefined);
    if (v !== undefined) out[n] = v;
  }
  return out;
}

function entry(p: ReturnType<typeof pack>, h: Header, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (body) p.entry(h, body, (err) => (err ? reject(err) : resolve()));
    else p.entry(h, (err) => (err ? reject(err) : resolve()));
  });
}

async function streamEntry(p: ReturnType<typeof pack>, h: Header, source: string): Promise<void> {
  let settle!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  const e = p.entry(h, (err) => settle(err));
  try {
    for await (const chunk of createReadStream(source) as AsyncIterable<Buffer>) {
      if (!e.write(chunk)) await new Promise<void>((r) => e.once('drain', () => r()));
    }
  } catch (err) {
    e.destroy(err as Error);
    await done.catch(() => {});
    throw err;
  }
  (e as unknown as { end(): void }).end();
  await done;
}

/** The entry of one host file, by its lstat. */
export function entryOf(name: string, st: Stats, abs: string, link?: string): LayerEntry {
  const base = { name, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtime };
  if (st.isDirectory()) return { ...base, type: 'directory' };
  if (st.isSymbolicLink()) return { ...base, type: 'symlink', linkname: link ?? '' };
  if (st.isCharacterDevice())
    return { ...base, type: 'character-device', devmajor: major(st.rdev), devminor: minor(st.rdev) };
  if (st.isBlockDevice()) return { ...base, type: 'block-device', devmajor: major(st.rdev), devminor: minor(st.rdev) };
  if (st.isFIFO()) return { ...base, type: 'fifo' };
  return { ...base, type: 'file', source: abs, size: st.size };
}

const major = (dev: number) => ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff);
const minor = (dev: number) => (dev & 0xff) | ((dev >> 12) & ~0xff);

/**
 * The entries of an overlay upper directory. `skip`: paths (relative) that are not the container's
 * own changes (the mount points the runtime made for /proc, /dev, /etc/hosts…): left out with what
 * is below them.
 */
export async function* overlayDiffEntries(
  upper: string,
  skip: ReadonlySet<string> = new Set(),
): AsyncGenerator<LayerEntry> {
  const seen = new Map<string, string>();
  let count = 0;
  async function* visit(dir: string): AsyncGenerator<LayerEntry> {
    const names = readdirSync(join(upper, dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const n of names) {
      const rel = dir === '' ? n : `${dir}/${n}`;
      if (skip.has(rel)) continue;
      if (++count % YIELD_EVERY === 0) await turn();
      const abs = join(upper, rel);
      const st = lstatSync(abs);
      if (st.isCharacterDevice() && st.rdev === 0) {
        yield {
          name: dir === '' ? `${WHITEOUT_PREFIX}${n}` : `${dir}/${WHITEOUT_PREFIX}${n}`,
          type: 'file',
          mode: 0o600,
          uid: 0,
          gid: 0,
          mtime: st.mtime,
          data: Buffer.alloc(0),
        };
        continue;
      }
      if (st.isDirectory()) {
        const xattrs = await entryXattrs(abs);
        yield { ...entryOf(rel, st, abs), ...(xattrs ? { xattrs } : {}) };
        const opaque = await lgetxattr(abs, 'trusted.overlay.opaque').catch(() => undefined);
        if (opaque?.toString() === 'y')
          yield {
            name: `${rel}/${WHITEOUT_OPAQUE}`,
            type: 'file',
            mode: 0o600,
            uid: 0,
            gid: 0,
            mtime: st.mtime,
            data: Buffer.alloc(0),
          };
        yield* visit(rel);
        continue;
      }
      if (st.isFile() && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = seen.get(key);
        if (first !== undefined) {
          yield { name: rel, type: 'link', mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtime, linkname: first };
          continue;
        }
        seen.set(key, rel);
      }
      const xattrs = st.isFile() ? await entryXattrs(abs) : undefined;
      yield {
        ...entryOf(rel, st, abs, st.isSymbolicLink() ? readlinkSync(abs) : undefined),
        ...(xattrs ? { xattrs } : {}),
      };
    }
  }
  yield* visit('');
}

/**
 * Makes `dst` (an empty overlay upper directory of a snapshot prepared on the step's parent) the
 * same diff as `src` (the RUN container's upper directory) without copying data: directories are
 * made with their owner, mode, mtime and opaque mark; everything else (files, symlinks, whiteouts)
 * is hard-linked, so the step's snapshot exists without extracting the layer tar again. The tar is
 * written from the same files first, so snapshot and blob agree. `skip` as overlayDiffEntries.
 * Only the opaque mark and non-overlay xattrs of directories are copied: overlay's own bookkeeping
 * (origin, impure) describes the container's mount, not a lower layer.
 */
export async function cloneOverlayDiff(src: string, dst: string, skip: ReadonlySet<string> = new Set()): Promise<void> {
  const dirs: { to: string; st: Stats }[] = [];
  let count = 0;
  const visit = async (rel: string): Promise<void> => {
    for (const name of readdirSync(join(src, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (skip.has(r)) continue;
      if (++count % YIELD_EVERY === 0) await turn();
      const from = join(src, r);
      const to = join(dst, r);
      const st = lstatSync(from);
      if (!st.isDirectory()) {
        linkSync(from, to);
        continue;
      }
      mkdirSync(to);
      lchownSync(to, st.uid, st.gid);
      chmodSync(to, st.mode & 0o7777);
      for (const x of await llistxattr(from).catch(() => [] as string[])) {
        if (x.startsWith('trusted.overlay.') && x !== 'trusted.overlay.opaque') continue;
        const v = await lgetxattr(from, x).catch(() => undefined);
        if (v !== undefined) await lsetxattr(to, x, v);
      }
      await visit(r);
      dirs.push({ to, st });
    }
  };
  await visit('');
  // Last, children before parents: making entries inside a directory changes its mtime.
  for (const { to, st } of dirs) lutimesSync(to, st.atime, st.mtime);
}

/** Hard-links `from` at `to`; false when there is none or the link fails (too many links): the caller copies. */
function linkTo(from: string | undefined, to: string): boolean {
  if (from === undefined) return false;
  try {
    linkSync(from, to);
    return true;
  } catch {
    return false;
  }
}

/**
 * Can `entries` (a COPY's, in tar order) be written straight into an empty upper directory and give
 * what extracting their tar over the parent would? Yes when they are files, directories and
 * symlinks only, each name once, no `..`, and every parent is the root or a directory of the list:
 * a parent that exists only below (or is a symlink there) is what the applier's rules for implicit
 * and symlinked parents handle (src/archive), so such a layer is extracted instead.
 */
export function canWriteDirectly(entries: readonly LayerEntry[]): boolean {
  const dirs = new Set<string>();
  const names = new Set<string>();
  for (const e of entries) {
    if (e.type !== 'file' && e.type !== 'directory' && e.type !== 'symlink') return false;
    if (names.has(e.name) || e.name === '' || e.name.split('/').some((p) => p === '..' || p === '.' || p === ''))
      return false;
    names.add(e.name);
    const parent = posix.dirname(e.name);
    if (parent !== '.' && !dirs.has(parent)) return false;
    if (e.type === 'directory') dirs.add(e.name);
  }
  return true;
}

/**
 * Writes `entries` (canWriteDirectly's) into `dir` as extracting their tar would leave them: owner,
 * mode, and mtime to the second (a tar header's), clamped as storeLayer clamps. File bodies are
 * copied by the kernel (copyFile). Directories get their mtimes last, children before parents.
 */
export async function writeLayerEntries(
  entries: readonly LayerEntry[],
  dir: string,
  clampMtime?: Date,
  /** A file on the same filesystem that is this entry already (its owner and mode): hard-linked instead of copied. */
  linkable?: (e: LayerEntry) => string | undefined,
): Promise<void> {
  const dirs: { to: string; mtime: Date }[] = [];
  let count = 0;
  for (const e of entries) {
    if (++count % YIELD_EVERY === 0) await turn();
    const to = join(dir, e.name);
    const t = clampMtime && e.mtime > clampMtime ? clampMtime : e.mtime;
    const mtime = new Date(Math.floor(t.getTime() / 1000) * 1000);
    if (e.type === 'directory') {
      mkdirSync(to, { mode: 0o700 });
      dirs.push({ to, mtime });
    } else if (e.type === 'symlink') {
      symlinkSync(e.linkname ?? '', to);
      lchownSync(to, e.uid, e.gid);
      lutimesSync(to, mtime, mtime);
      continue;
    } else if (e.data !== undefined || !e.source)
      writeFileSync(to, e.data ?? Buffer.alloc(0), { flag: 'wx', mode: 0o600 });
    else if (linkTo(linkable?.(e), to)) continue;
    else if ((e.size ?? 0) <= SMALL_FILE) copyFileSync(e.source, to, constants.COPYFILE_EXCL);
    else await copyFile(e.source, to, constants.COPYFILE_EXCL);
    // The owner before the mode: chown clears set-id bits.
    lchownSync(to, e.uid, e.gid);
    chmodSync(to, e.mode & 0o7777);
    if (e.type === 'file') lutimesSync(to, mtime, mtime);
  }
  for (const { to, mtime } of dirs.reverse()) lutimesSync(to, mtime, mtime);
}
