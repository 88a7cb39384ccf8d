// Reading and creating paths inside a container's root filesystem from the host (berthd, before the
// container runs), resolved as the container would resolve them: every component through
// openInRoot, so an image's symlink (`/etc/passwd -> /host-file`, `/work -> /../../`) never leads
// out of the root. Node has no mkdirat(2): a directory is made through /proc/self/fd/<parent> with
// one final component, which mkdir(2) never follows.
// Must never: act on a host path built by joining the root and the container path.
import { closeSync, fchmodSync, fchownSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path/posix';
import { constants, isSyscallError, openInRoot } from './native.ts';

function withRoot<T>(root: string, fn: (rootFd: number) => T): T {
  const rootFd = openSync(root, constants.O_PATH | constants.O_DIRECTORY | constants.O_CLOEXEC);
  try {
    return fn(rootFd);
  } finally {
    closeSync(rootFd);
  }
}

/** The text of the container file `path` below `root`, or undefined when it does not exist there. */
export function readFileInRoot(root: string, path: string): string | undefined {
  return withRoot(root, (rootFd) => {
    let fd: number;
    try {
      fd = openInRoot(rootFd, path, constants.O_RDONLY);
    } catch (e) {
      if (isSyscallError(e, 'ENOENT') || isSyscallError(e, 'ENOTDIR')) return undefined;
      throw e;
    }
    try {
      return readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  });
}

/**
 * `mkdir -p` of the container path `path` below `root`: each missing directory is made with `mode`
 * and given to `owner`; directories that exist are left as they are. Returns the container paths
 * it made.
 */
export function mkdirAllInRoot(
  root: string,
  path: string,
  mode: number,
  owner: { uid: number; gid: number },
): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const made: string[] = [];
  withRoot(root, (rootFd) => {
    let at = '/';
    for (const name of parts) {
      const next = at === '/' ? `/${name}` : `${at}/${name}`;
      if (name !== '..') {
        try {
          closeSync(openInRoot(rootFd, next, constants.O_PATH | constants.O_DIRECTORY));
        } catch (e) {
          if (!isSyscallError(e, 'ENOENT')) throw e;
          const parent = openInRoot(rootFd, at, constants.O_PATH | constants.O_DIRECTORY);
          try {
            mkdirSync(`/proc/self/fd/${parent}/${name}`, { mode });
          } finally {
            closeSync(parent);
          }
          const fd = openInRoot(rootFd, next, constants.O_RDONLY | constants.O_DIRECTORY);
          try {
            fchownSync(fd, owner.uid, owner.gid);
            fchmodSync(fd, mode); // not berthd's umask
          } finally {
            closeSync(fd);
          }
          made.push(next);
        }
      }
      at = next;
    }
  });
  return made;
}

/**
 * Makes the container path `path` below `root` an empty file (mode 0644, root's) unless something is
 * there already; missing parents are made as by mkdirAllInRoot. The last component is created with
 * O_EXCL, so a symlink there is never followed.
 */
export function touchInRoot(root: string, path: string): void {
  mkdirAllInRoot(root, dirname(path), 0o755, { uid: 0, gid: 0 });
  withRoot(root, (rootFd) => {
    try {
      closeSync(openInRoot(rootFd, path, constants.O_PATH));
      return;
    } catch (e) {
      if (!isSyscallError(e, 'ENOENT')) throw e;
    }
    const parent = openInRoot(rootFd, dirname(path), constants.O_PATH | constants.O_DIRECTORY);
    try {
      const name = path
        .split('/')
        .filter((p) => p !== '')
        .at(-1)!;
      closeSync(
        openSync(
          `/proc/self/fd/${parent}/${name}`,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_CLOEXEC,
          0o644,
        ),
      );
    } finally {
      closeSync(parent);
    }
  });
}
