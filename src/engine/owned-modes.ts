// The modes of everything berthd keeps under its root and run root (the table in docs/security.md),
// checked and repaired at every start, before the engine opens anything there. Containers carry
// secrets (env, labels, bind-mount paths, what they log): no user but root, and the configured
// group for the container logs, reads any of it.
// - A directory berthd owns that another user could write (group- or world-writable, owned by
//   someone else, or a symbolic link) may hold anything that user planted: berthd refuses to start
//   and names it, rather than repair it and trust what is inside.
// - Everything else is set to the table's mode, so an upgrade from older modes (0644 files, 0711
//   directories) leaves nothing readable. Modes are set through O_NOFOLLOW descriptors.
// Must never: follow a symbolic link, touch what containers see and may change themselves (the
// mounted rootfs, a volume's _data, snapshot contents), or run after the engine has opened its stores.
import { type Dirent, lstatSync, mkdirSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { failedPrecondition } from '../errors/errors.ts';
import { setModeNoFollow } from '../sys/private-file.ts';

/**
 * The modes berthd makes its files with. Directories that lead to container logs are owned by the
 * configured group (logs are readable by it; nothing else is), with the setgid bit so that files
 * made in them later (a log the shim makes again after a rotation) get that group too.
 */
export const MODES = {
  /** <root> and <run-root>: the group may reach the logs and the API socket; no one else may enter. */
  root: 0o710,
  runRoot: 0o710,
  /** <root>/containers and each container's directory. */
  containers: 0o2710,
  containerDir: 0o2710,
  /** config.json (the spec: env, labels, mounts, hooks) and any file not named below. */
  spec: 0o600,
  /** <id>-json.log and its rotated files. */
  log: 0o640,
  /** hosts, hostname, resolv.conf: bind-mounted into the container, read by its non-root users. */
  containerVisible: 0o644,
  /** Every other directory: stores, shim and exec state, the runtimes' roots. */
  privateDir: 0o700,
  /** The metadata databases and their -wal and -shm files. */
  database: 0o600,
} as const;

/** Directories under <root> whose contents the engine reads and writes; each 0700. */
const ROOT_DIRS = ['content', 'images', 'snapshots', 'volumes', 'network', 'pods', 'tmp'];
/** Directories under <run-root>; each 0700, and so is every directory in them. */
const RUN_DIRS = ['shims', 'pod-shims', 'execs', 'runtime', 'netns'];
const CONTAINER_VISIBLE = new Set(['hosts', 'hosts.base', 'hostname', 'resolv.conf']);
const DB_FILE = /\.db(-wal|-shm)?$/;
/** Directories that are never berth's own: made 0710, they would lock the host's users out. */
const SYSTEM_DIRS = new Set([
  '/',
  '/run',
  '/var/run',
  '/var',
  '/var/lib',
  '/var/tmp',
  '/tmp',
  '/home',
  '/root',
  '/etc',
  '/usr',
  '/opt',
  '/srv',
  '/mnt',
  '/media',
  '/dev',
  '/proc',
  '/sys',
  '/boot',
]);

export type OwnedModesOptions = {
  root: string;
  runRoot: string;
  /** The configured group (`--group`): owns the roots, the container directories and the logs. */
  gid: number;
};

/** A path of the table, as found (one lstat each: the check and the repair both read it). */
type Entry = { path: string; mode: number; gid?: number; st: Stats };

const oct = (m: number) => `0${(m & 0o7777).toString(8)}`;

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A directory's entries with their types (from getdents: no stat each). */
function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
}

/** Every path of the table that exists, with its mode; parents before children. */
function ownedEntries(root: string, runRoot: string, gid: number): Entry[] {
  const out: Entry[] = [];
  const add = (path: string, mode: number, g?: number) => {
    const st = lstatOrUndefined(path);
    if (st) out.push({ path, mode, st, ...(g === undefined ? {} : { gid: g }) });
  };
  // A symbolic link where a directory should be is listed too, for the check to refuse.
  const dirLike = (d: Dirent) => d.isDirectory() || d.isSymbolicLink();

  add(root, MODES.root, gid);
  for (const e of entries(root)) {
    const p = join(root, e.name);
    if (e.name === 'containers' && e.isDirectory()) {
      add(p, MODES.containers, gid);
      for (const c of entries(p)) {
        if (!dirLike(c)) continue;
        const cp = join(p, c.name);
        add(cp, MODES.containerDir, gid);
        if (!c.isDirectory()) continue;
        for (const f of entries(cp)) {
          // rootfs is the container's mount point: what is mounted there is the container's to change.
          if (!f.isFile()) continue;
          const fp = join(cp, f.name);
          if (f.name === 'config.json') add(fp, MODES.spec);
          else if (f.name.startsWith(`${c.name}-json.log`)) add(fp, MODES.log, gid);
          else if (CONTAINER_VISIBLE.has(f.name)) add(fp, MODES.containerVisible);
          else add(fp, MODES.spec);
        }
      }
    } else if (dirLike(e)) {
      add(p, MODES.privateDir);
      // One level more where berth keeps a directory per thing (a snapshotter, a volume): their
      // contents (layers, a volume's _data) are containers' to change.
      if ((e.name === 'snapshots' || e.name === 'volumes') && e.isDirectory()) {
        for (const s of entries(p)) {
          if (!dirLike(s)) continue;
          const sp = join(p, s.name);
          add(sp, MODES.privateDir);
          if (e.name === 'snapshots' && s.isDirectory())
            for (const f of entries(sp)) if (f.isFile() && DB_FILE.test(f.name)) add(join(sp, f.name), MODES.database);
        }
      }
    } else if (e.isFile()) {
      add(p, DB_FILE.test(e.name) ? MODES.database : MODES.spec);
    }
  }

  add(runRoot, MODES.runRoot, gid);
  for (const e of entries(runRoot)) {
    if (!dirLike(e)) continue;
    const p = join(runRoot, e.name);
    add(p, MODES.privateDir);
    if (!RUN_DIRS.includes(e.name) || !e.isDirectory()) continue;
    for (const s of entries(p)) {
      if (!dirLike(s)) continue;
      const sp = join(p, s.name);
      add(sp, MODES.privateDir);
      // An exec's process.json holds the container's env.
      if (e.name === 'execs' && s.isDirectory()) add(join(sp, 'process.json'), MODES.spec);
    }
  }
  return out;
}

/** Why a directory berthd owns cannot be trusted, or undefined. */
function untrusted(st: Stats, uid: number): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (st.uid !== uid) return `is owned by uid ${st.uid}`;
  if (st.mode & 0o022) return `is ${st.mode & 0o020 ? 'group' : 'world'}-writable (mode ${oct(st.mode)})`;
  return undefined;
}

/**
 * Makes <root> and <run-root> (when missing), refuses to go on where a directory berthd owns could
 * have been written by another user, and sets every owned path to its mode in the table. Returns the
 * paths whose mode or group it changed.
 */
export function secureOwnedPaths(o: OwnedModesOptions): string[] {
  for (const [path, mode] of [
    [o.root, MODES.root],
    [o.runRoot, MODES.runRoot],
  ] as const) {
    if (!lstatOrUndefined(path)) mkdirSync(path, { recursive: true, mode });
  }
  // The roots may be symbolic links an administrator made (to another disk): their targets are owned.
  const root = realpathSync(o.root);
  const runRoot = realpathSync(o.runRoot);
  for (const [flag, p] of [
    ['--root', root],
    ['--run-root', runRoot],
  ] as const) {
    if (SYSTEM_DIRS.has(p))
      throw failedPrecondition(
        `${flag} ${p}: a system directory; berthd sets the modes of its root and run root (0${MODES.root.toString(8)}), so each must be a directory of its own, such as /var/lib/berth and /run/berth`,
      );
  }
  const uid = process.geteuid?.() ?? 0;
  const found = ownedEntries(root, runRoot, o.gid);
  const bad = found.flatMap((e) => {
    const why = e.st.isFile() ? undefined : untrusted(e.st, uid);
    return why ? [`${e.path} ${why}`] : [];
  });
  if (bad.length) {
    throw failedPrecondition(
      `refusing to start: ${bad.join('; ')}. berthd keeps containers' secrets there and expects each directory it owns to be owned by uid ${uid} and writable by it alone (docs/security.md); fix the mode and owner, after checking what another user may have put there`,
    );
  }
  // Made here rather than by each store, so that they have their modes from the first start on.
  const made: Entry[] = [];
  for (const [path, sub] of [
    [root, ['containers', ...ROOT_DIRS]],
    [runRoot, RUN_DIRS],
  ] as const) {
    for (const s of sub) {
      const p = join(path, s);
      if (lstatOrUndefined(p)) continue;
      const mode = s === 'containers' ? MODES.containers : MODES.privateDir;
      mkdirSync(p, { mode });
      made.push({ path: p, mode, st: lstatSync(p), ...(s === 'containers' ? { gid: o.gid } : {}) });
    }
  }
  const changed: string[] = [];
  for (const e of [...found, ...made]) {
    if ((e.st.mode & 0o7777) === e.mode && (e.gid === undefined || e.st.gid === e.gid)) continue;
    // Set through a descriptor, which checks again what is there now (never through a link).
    setModeNoFollow(e.path, e.mode, e.gid);
    if (!made.includes(e)) changed.push(e.path);
  }
  return changed;
}
