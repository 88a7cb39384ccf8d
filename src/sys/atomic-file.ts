// Crash-consistent small-file writes, for every store of berth: write a temp file in the same
// directory, fsync it, rename it over the target, fsync the directory. After a crash a reader sees
// the old content or the new one, never a torn file, and a rename that returned is durable.
// Must never be used for large streams (it buffers the whole content).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

// Unique within this process (pid + counter) and across processes (pid): no need for node:crypto,
// which would cost berth-runtime several ms of start-up to load.
let seq = 0;
const tempName = (dir: string) => join(dir, `.tmp-${process.pid}-${Date.now().toString(36)}-${seq++}`);

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = tempName(dir);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed the mode open() was given
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/**
 * The same, synchronously: for short-lived commands (berth-runtime) where there is nothing else to
 * do meanwhile. `durable: false` leaves out both fsyncs: the write is still atomic for every
 * process (a reader, or a writer killed at any point, sees the old file or the new one), but not
 * across a power loss. Only for state that cannot outlive the machine anyway (see StateStore).
 */
export function atomicWriteFileSync(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  opts: { durable?: boolean } = {},
): void {
  const durable = opts.durable ?? true;
  const dir = dirname(path);
  const tmp = tempName(dir);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (durable) fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(tmp, { force: true });
    throw e;
  }
  if (!durable) return;
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Removes a file and makes the removal durable; a missing file is not an error. */
export async function removeDurably(path: string): Promise<void> {
  await rm(path, { force: true });
  await fsyncDir(dirname(path));
}
