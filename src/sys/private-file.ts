// Modes of files that may hold secrets (a container's env and labels, credentials), set without
// following a symbolic link, so that a link planted where a file of berth's should be never makes
// berth chmod or chown the file it points to.
// Must never: follow a symbolic link, or widen a mode it was not asked for.
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, openSync, type Stats } from 'node:fs';

/**
 * Sets `path`'s mode (and group, when `gid` is given) through a descriptor opened with O_NOFOLLOW.
 * Returns the stat from before the change, or undefined when nothing is at `path`. A symbolic link
 * throws ELOOP; a FIFO or a socket is left alone (undefined): opening one could block or fail.
 */
export function setModeNoFollow(path: string, mode: number, gid?: number): Stats | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENXIO') return undefined;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() && !st.isDirectory()) return undefined;
    if (gid !== undefined && st.gid !== gid) fchownSync(fd, st.uid, gid);
    if ((st.mode & 0o7777) !== mode) fchmodSync(fd, mode);
    return st;
  } finally {
    closeSync(fd);
  }
}

/**
 * A SQLite database file made (or repaired to) 0600 before it is opened, with its -wal and -shm
 * files when they exist. SQLite creates -wal and -shm later with the mode of the database file
 * itself, whatever the umask (it fchmods them to it), so all three stay 0600.
 */
export function makeDatabaseFilePrivate(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      setModeNoFollow(p, 0o600);
    } catch (e) {
      // Not ours to change (another user's database opened read-only, say): berthd's start check
      // reports its own files; a tool opening someone else's must still work.
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  }
}
