// Persistent network namespaces for containers: <runDir>/netns/<id>, an empty file with a fresh
// network namespace bind-mounted on it (what `ip netns add` makes under /run/netns), so the
// namespace lives before the container's init and after it, until removeNetns.
//
// Mechanism: the addon's netnsCreate unshares the event-loop thread's network namespace, brings its
// loopback up and bind-mounts it onto the file, then returns the thread to its own namespace (a
// network namespace is per thread; docs/native-addon.md): no process, where util-linux unshare and
// the CNI loopback plugin were two per namespace. The kernel
// refuses an nsfs bind on a mount that propagates (a shared "/" would copy the bind into every peer
// namespace, and may form a reference loop), so the netns directory is first bind-mounted onto
// itself and made private, as iproute2 does with /run/netns; that is done with the addon's mount(),
// not by spawning mount(8).
// It owns the files and mounts under <runDir>/netns and nothing else; it never enters a namespace.
import { mkdir, open, readdir, readFile, rm, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { alreadyExists, BerthError, ErrorCode } from '../errors/errors.ts';
import { isValidContainerId, validateContainerId } from '../oci/container-id.ts';
import { isMountPoint as isMountPointIn, parseMountInfo } from '../sys/mountinfo.ts';
import { constants, isSyscallError, mount, netnsCreate, umount2 } from '../sys/native.ts';

const NSFS_MAGIC = 0x6e736673;
async function isMountPoint(path: string): Promise<boolean> {
  return isMountPointIn(path, parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')));
}

/** True when `path` has a network namespace (nsfs) mounted on it. */
export async function isNetnsMounted(path: string): Promise<boolean> {
  try {
    return (await statfs(path)).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

export class NetnsDir {
  readonly dir: string;

  constructor(runDir: string) {
    this.dir = join(resolve(runDir), 'netns');
  }

  path(id: string): string {
    validateContainerId(id);
    return join(this.dir, id);
  }

  /** Makes the directory a private bind mount of itself (idempotent). */
  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (!(await isMountPoint(this.dir))) mount(this.dir, this.dir, null, constants.MS_BIND | constants.MS_REC);
    // Also when it was already a mount point: whoever left it may have left it shared.
    mount(null, this.dir, null, constants.MS_PRIVATE);
  }

  /** Creates <dir>/<id> holding a new network namespace with its loopback up; its path. An existing one is an error. */
  async create(id: string): Promise<string> {
    const p = this.path(id);
    await this.prepare();
    if (await isNetnsMounted(p)) throw alreadyExists(`network namespace ${p}: already exists (container ${id})`);
    // 'w' (not 'wx'): a plain file left by a crash between create and mount is reused.
    await (await open(p, 'w', 0o444)).close();
    try {
      netnsCreate(p);
    } catch (e) {
      await rm(p, { force: true });
      throw new BerthError(ErrorCode.Unavailable, `creating network namespace ${p}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return p;
  }

  /** Unmounts and unlinks <dir>/<id>; one that is already gone is not an error. */
  async remove(id: string): Promise<void> {
    const p = this.path(id);
    try {
      // MNT_DETACH: a process (a plugin, an nsenter) may still hold it open.
      umount2(p, constants.MNT_DETACH | constants.UMOUNT_NOFOLLOW);
    } catch (e) {
      if (!isSyscallError(e, 'EINVAL') && !isSyscallError(e, 'ENOENT')) throw e;
    }
    await rm(p, { force: true });
  }

  /** The ids that have a file here (mounted or left half-made by a crash). */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => isValidContainerId(n)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /**
   * Removes every namespace and then the directory's own bind mount: for a test's teardown or a
   * host's uninstall, never while containers run.
   */
  async release(): Promise<void> {
    for (const id of await this.list()) await this.remove(id);
    if (await isMountPoint(this.dir)) {
      try {
        umount2(this.dir, constants.MNT_DETACH);
      } catch (e) {
        if (!isSyscallError(e, 'EINVAL')) throw e;
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
