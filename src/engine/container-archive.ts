// `cp` and `export`: a path of a container's filesystem as a tar (the whole root for export), a tar
// extracted into one of its directories, and a path's stat — for a running container, or through the
// snapshot of a created or stopped one (container-rootfs.ts).
//
// Safety: every path is resolved inside the container's root with openInRoot (RESOLVE_IN_ROOT), as
// the container would resolve it; a directory is read through its fd (/proc/self/fd/N), each entry
// looked at with lstat of one final component, a file's body read from an fd openInRoot gave. So a
// symlink — the image's, or one a running process swaps in mid-walk — never leads out of the root.
// Extraction goes through the layer applier (archive/layer-applier.ts, 'plain' format), which
// never writes through a symlink, into the directory's resolved host path.
// Must never: follow a symlink out of the container's root; read or write the host by a joined path.
import { closeSync, createReadStream, fstatSync, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { pack as Pack } from 'tar-stream';
import { invalidArgument, notFound } from '../errors/errors.ts';
import { constants, isSyscallError, openInRoot } from '../sys/native.ts';
import type { ContainerContext } from './container-context.ts';
import { withContainerRoot } from './container-rootfs.ts';

/** A path's stat as `cp` needs it (docker's X-Docker-Container-Path-Stat carries the same). */
export type PathStat = {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
};

/** An absolute, normalised container path; a relative one is refused (the client resolves it). */
export function containerPath(p: string, what = 'path'): string {
  if (typeof p !== 'string' || !p.startsWith('/'))
    throw invalidArgument(`${what} ${JSON.stringify(p)}: expected an absolute path in the container`);
  if (p.includes('\0')) throw invalidArgument(`${what}: NUL in the path`);
  return posix.normalize(p);
}

function openIn(rootFd: number, path: string, flags: number, word: string): number {
  try {
    return openInRoot(rootFd, path, flags | constants.O_CLOEXEC);
  } catch (e) {
    if (isSyscallError(e, 'ENOENT') || isSyscallError(e, 'ENOTDIR'))
      throw notFound(`no such file or directory in the container: ${word}`);
    throw e;
  }
}

/** lstat of `path`'s last component, its parents resolved in the root. */
function statIn(rootFd: number, path: string): Stats {
  if (path === '/') return fstatSync(rootFd);
  const parent = openIn(rootFd, posix.dirname(path), constants.O_PATH | constants.O_DIRECTORY, path);
  try {
    return lstatSync(`/proc/self/fd/${parent}/${posix.basename(path)}`);
  } catch (e) {
    if (isSyscallError(e, 'ENOENT')) throw notFound(`no such file or directory in the container: ${path}`);
    throw e;
  } finally {
    closeSync(parent);
  }
}

function linkIn(rootFd: number, path: string): string {
  const parent = openIn(rootFd, posix.dirname(path), constants.O_PATH | constants.O_DIRECTORY, path);
  try {
    return readlinkSync(`/proc/self/fd/${parent}/${posix.basename(path)}`);
  } finally {
    closeSync(parent);
  }
}

const kind = (st: Stats): PathStat['type'] =>
  st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';

export async function statPath(ctx: ContainerContext, id: string, path: string): Promise<PathStat> {
  const p = containerPath(path);
  return withContainerRoot(ctx, id, async (rootFd) => {
    const st = statIn(rootFd, p);
    return {
      name: posix.basename(p) || '/',
      size: st.size,
      mode: st.mode,
      mtime: st.mtime.toISOString(),
      linkTarget: st.isSymbolicLink() ? linkIn(rootFd, p) : '',
      type: kind(st),
    };
  });
}

/**
 * `path` as a tar written to `out` (docker's archive GET): its last component is the top entry
 * (`/etc` gives `etc/`, `etc/passwd`…); with `path` '/' (export) the root's entries are the top.
 * Only the root's own filesystem is walked: mounts below it (a running container's, seen from the
 * host) are other filesystems. `onStat` is called before the first byte (the response's header).
 */
export async function archivePath(
  ctx: ContainerContext,
  id: string,
  path: string,
  out: Writable,
  onStat?: (s: PathStat) => void,
): Promise<void> {
  const p = containerPath(path);
  // tar-stream (with streamx) is imported by the first archive, not at berthd's start.
  const { pack } = await import('tar-stream');
  await withContainerRoot(ctx, id, async (rootFd) => {
    const top = statIn(rootFd, p);
    onStat?.({
      name: posix.basename(p) || '/',
      size: top.size,
      mode: top.mode,
      mtime: top.mtime.toISOString(),
      linkTarget: top.isSymbolicLink() ? linkIn(rootFd, p) : '',
      type: kind(top),
    });
    const tar = pack();
    let finished = false;
    // A reader that goes away mid-tar (the client closed the connection) ends the walk: without this
    // a write would wait for a drain that never comes, holding a stopped container's lock and mount.
    let gone: Error | undefined;
    const done = new Promise<void>((resolve, reject) => {
      tar.on('error', reject);
      out.on('error', reject);
      out.on('finish', resolve);
      out.on('close', () => {
        if (!finished) {
          gone = new Error(`archive of ${p}: the reader closed the stream before its end`);
          reject(gone);
        } else resolve();
      });
    });
    done.catch(() => {});
    // Every wait on the archive also ends when the reader is gone: an abandoned archive is left
    // unread, never destroyed (streamx would emit the error on an entry's sink, where no one hears it).
    const until = <T>(p: Promise<T>) =>
      Promise.race([p, done.then(() => undefined as T)]).then((v) => {
        if (gone) throw gone;
        return v;
      });
    // Read by iteration, not tar.pipe(out): streamx's pipe destroys the pack when the reader goes
    // away, and the error then surfaces on an entry's sink as an uncaught exception.
    const pump = (async () => {
      for await (const chunk of tar as AsyncIterable<Buffer>) {
        if (gone) return;
        if (!out.write(chunk)) await until(new Promise<void>((r) => out.once('drain', () => r())));
      }
      out.end();
    })();
    pump.catch(() => {});
    const dev = top.dev;
    const hardlinks = new Map<string, string>();
    const add = async (cpath: string, name: string, st: Stats): Promise<void> => {
      const header = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) {
        if (name !== '') await until(entry(tar, { ...header, name: `${name}/`, type: 'directory' }));
        if (st.dev !== dev) return; // a mount point: the directory, not what is mounted on it
        const dirFd = openIn(rootFd, cpath, constants.O_RDONLY | constants.O_DIRECTORY, cpath);
        try {
          const names = readdirSync(`/proc/self/fd/${dirFd}`).sort();
          for (const n of names) {
            let cst: Stats;
            try {
              cst = lstatSync(`/proc/self/fd/${dirFd}/${n}`);
            } catch (e) {
              if (isSyscallError(e, 'ENOENT')) continue; // removed while we walked (a running container)
              throw e;
            }
            await add(cpath === '/' ? `/${n}` : `${cpath}/${n}`, name === '' ? n : `${name}/${n}`, cst);
          }
        } finally {
          closeSync(dirFd);
        }
        return;
      }
      if (st.isSymbolicLink())
        return until(entry(tar, { ...header, type: 'symlink', linkname: linkIn(rootFd, cpath) }));
      if (st.isFIFO()) return until(entry(tar, { ...header, type: 'fifo' }));
      if (st.isCharacterDevice() || st.isBlockDevice())
        return until(
          entry(tar, {
            ...header,
            type: st.isCharacterDevice() ? 'character-device' : 'block-device',
            devmajor: Math.floor(st.rdev / 256) & 0xfff,
            devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & ~0xff),
          }),
        );
      if (st.isSocket()) return; // as tar does: a socket has no archive form
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = hardlinks.get(key);
        if (first !== undefined) return until(entry(tar, { ...header, type: 'link', linkname: first }));
        hardlinks.set(key, name);
      }
      const fd = openIn(rootFd, cpath, constants.O_RDONLY | constants.O_NOFOLLOW, cpath);
      const size = fstatSync(fd).size;
      await streamEntry(
        tar,
        { ...header, size },
        createReadStream('', { fd, start: 0, end: Math.max(0, size - 1), autoClose: true }),
        size,
        done,
      );
    };
    try {
      await Promise.race([add(p, p === '/' ? '' : posix.basename(p), top), done.then(() => {})]);
      if (gone) throw gone;
      finished = true;
      tar.finalize();
      await pump;
      await done;
    } catch (e) {
      if (!gone) out.destroy(e as Error);
      throw e;
    }
  });
}

type Header = Parameters<ReturnType<typeof Pack>['entry']>[0];

const quiet = (s: unknown) => (s as { on?: (ev: string, fn: () => void) => void } | undefined)?.on?.('error', () => {});

/** An entry without a body; its sink's error (a destroyed archive) comes through the callback only. */
function entry(tar: ReturnType<typeof Pack>, h: Header): Promise<void> {
  const p = new Promise<void>((resolve, reject) =>
    quiet(tar.entry({ ...h, size: 0 }, (err) => (err ? reject(err) : resolve()))),
  );
  p.catch(() => {});
  return p;
}

async function streamEntry(
  tar: ReturnType<typeof Pack>,
  h: Header,
  body: Readable,
  size: number,
  abort: Promise<void>,
): Promise<void> {
  let aborted = false;
  abort.catch(() => {
    aborted = true;
  });
  if (size === 0) {
    body.destroy();
    return new Promise((resolve, reject) =>
      quiet(tar.entry(h, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()))),
    );
  }
  let settle!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  // Observed below, or abandoned with the archive (its reader gone): never an unhandled rejection.
  done.catch(() => {});
  const e = tar.entry(h, (err) => settle(err));
  quiet(e);
  let sent = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      // A file that grew while read (a running container writes it): only the size in the header.
      const part = sent + chunk.length > size ? chunk.subarray(0, size - sent) : chunk;
      sent += part.length;
      if (part.length && !e.write(part)) {
        await Promise.race([new Promise<void>((r) => e.once('drain', () => r())), abort.catch(() => {})]);
        if (aborted) throw new Error('the archive stream was closed');
      }
      if (sent >= size) break;
    }
    // A file that shrank: padded with zeros to the size the header promised.
    if (sent < size) e.write(Buffer.alloc(size - sent));
  } catch (err) {
    // Left unfinished when the reader is gone (see archivePath); a read error fails the archive.
    if (!aborted) {
      e.destroy(err as Error);
      await done.catch(() => {});
    }
    throw err;
  } finally {
    body.destroy();
  }
  (e as unknown as { end(): void }).end();
  await Promise.race([done, abort]);
}

/**
 * A tar (plain or compressed) extracted into the container's directory `path` (docker's archive
 * PUT): refused unless `path` is a directory. Owners, modes and times are the tar's.
 */
export async function extractInto(ctx: ContainerContext, id: string, path: string, input: Readable): Promise<void> {
  const p = containerPath(path);
  await withContainerRoot(ctx, id, async (rootFd) => {
    const st = statIn(rootFd, p);
    if (st.isSymbolicLink() || !st.isDirectory()) {
      // A symlink to a directory is followed inside the root, as the container would.
      const fd = openIn(rootFd, p, constants.O_PATH, p);
      try {
        if (!fstatSync(fd).isDirectory()) throw invalidArgument(`extract to ${p}: not a directory in the container`);
      } finally {
        closeSync(fd);
      }
    }
    const dirFd = openIn(rootFd, p, constants.O_PATH | constants.O_DIRECTORY, p);
    try {
      // The resolved directory (inside the root, by openInRoot); the applier walks below it without
      // following symlinks. A read-only rootfs is refused by the kernel (EROFS), named by the applier.
      const target = readlinkSync(`/proc/self/fd/${dirFd}`);
      const { applyLayer } = await import('../archive/apply-layer.ts');
      await applyLayer(input, {
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        targetDir: target,
        format: 'plain',
        context: `copy into ${p}`,
      });
    } finally {
      closeSync(dirFd);
    }
  });
}
