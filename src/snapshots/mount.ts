// Mounting what a snapshotter returns, for its consumers (the engine, tests, `berth` commands that
// need a rootfs). Snapshotters only describe mounts; this module performs them.
//
// Mount data longer than a page: the legacy mount(2) copies at most one page of option data, so an
// overlay with dozens of layers under a long root fails with absolute lowerdir paths. As containerd
// does, berth then rewrites every lowerdir/upperdir/workdir path relative to their longest common
// parent directory and runs the mount with that directory as its working directory: mount(8) is
// spawned with `cwd`, so berth's own process never changes directory (Node shares one cwd among all
// its threads). The snapshot layout <root>/snapshots/<id>/fs makes each relative path ~10 bytes,
// enough for the overlayfs limit of 500 lower layers.
//
// Must never: mount anything a caller did not describe, or leave a mount behind when mountAll fails
// part-way (it unmounts what it mounted).
import { execFile } from 'node:child_process';
import { dirname, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { internal, invalidArgument } from '../errors/errors.ts';
import { mountOptionFlags } from '../oci/runtime-linux-tables.ts';
import { isSyscallError, mount, constants as sysc, umount2 } from '../sys/native.ts';
import type { Mount } from './snapshotter.ts';

// Promisified at the call, not at load: berthd's bundle loads node:child_process only then
// (scripts/bundle.ts, LAZY_BUILTINS).
const run = (file: string, args: string[], opts: { cwd?: string; maxBuffer?: number } = {}) =>
  promisify(execFile)(file, args, opts);
const MOUNT_BIN = '/usr/bin/mount';
/** One page minus the terminating NUL: the most option data legacy mount(2) passes on. */
export const MAX_MOUNT_DATA = 4095;

/**
 * Splits mount options into mount(2) flags and the data string, by the one option table
 * (mountOptionFlags, src/oci/runtime-linux-tables.ts). A snapshotter describes plain mounts: an option
 * that needs more than one mount(2) call (propagation, recursive attributes, idmap, tmpcopyup) is
 * refused rather than dropped.
 */
export function parseOptions(options: string[]): { flags: number; data: string[] } {
  const f = mountOptionFlags(options);
  if (f.propagation.length > 0 || f.recAttrSet !== 0 || f.recAttrClr !== 0 || f.idmap !== undefined || f.tmpcopyup) {
    throw invalidArgument(
      `mount options ${JSON.stringify(options)}: propagation, recursive attributes, idmap and tmpcopyup are not for a snapshot's mounts; expected mount(2) flags and filesystem data`,
    );
  }
  return { flags: f.flags, data: f.data };
}

const PATH_OPTIONS = ['lowerdir=', 'upperdir=', 'workdir='];

function commonDir(paths: string[]): string {
  let common = dirname(paths[0]!);
  for (const p of paths) {
    while (common !== sep && !(p === common || p.startsWith(common + sep))) common = dirname(common);
  }
  return common;
}

/**
 * For an overlay whose data is over the page limit: the directory to run mount(8) in and the
 * options with paths relative to it. Returns undefined when the data fits as it is.
 */
export function compactOverlayOptions(options: string[]): { cwd: string; options: string[] } | undefined {
  if (parseOptions(options).data.join(',').length <= MAX_MOUNT_DATA) return undefined;
  const paths: string[] = [];
  for (const o of options) {
    const p = PATH_OPTIONS.find((k) => o.startsWith(k));
    if (p !== undefined) paths.push(...o.slice(p.length).split(':'));
  }
  if (paths.length === 0 || !paths.every((p) => p.startsWith('/'))) return undefined;
  const cwd = commonDir(paths);
  const rel = (p: string) => relative(cwd, p) || '.';
  const out = options.map((o) => {
    const p = PATH_OPTIONS.find((k) => o.startsWith(k));
    return p === undefined ? o : p + o.slice(p.length).split(':').map(rel).join(':');
  });
  return { cwd, options: out };
}

async function mountOne(m: Mount, target: string): Promise<void> {
  const { flags, data } = parseOptions(m.options);
  if (m.type === 'bind' || (flags & sysc.MS_BIND) !== 0) {
    mount(m.source, target, null, flags & (sysc.MS_BIND | sysc.MS_REC), null);
    // A bind ignores every flag but MS_REC; read-only and the rest need a remount of the bind.
    const rest = flags & ~(sysc.MS_BIND | sysc.MS_REC);
    if (rest !== 0) {
      try {
        mount(null, target, null, sysc.MS_REMOUNT | sysc.MS_BIND | rest, null);
      } catch (e) {
        umount2(target, sysc.MNT_DETACH);
        throw e;
      }
    }
    return;
  }
  const joined = data.join(',');
  if (joined.length <= MAX_MOUNT_DATA) {
    mount(m.source, target, m.type, flags, joined === '' ? null : joined);
    return;
  }
  const compact = m.type === 'overlay' ? compactOverlayOptions(m.options) : undefined;
  if (compact === undefined || parseOptions(compact.options).data.join(',').length > MAX_MOUNT_DATA) {
    throw invalidArgument(
      `mount of ${m.type} on ${target}: its options are ${joined.length} bytes, over the ${MAX_MOUNT_DATA}-byte limit of mount(2), even with relative paths`,
    );
  }
  try {
    await run(MOUNT_BIN, ['-t', m.type, '-o', compact.options.join(','), '--', m.source, target], { cwd: compact.cwd });
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
    throw internal(`mount of ${m.type} on ${target} (relative to ${compact.cwd}): ${stderr || String(e)}`, e);
  }
}

/** Mounts `mounts` in order on `target` (each on top of the previous, as containerd does). */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  let done = 0;
  try {
    for (const m of mounts) {
      await mountOne(m, m.target ?? target);
      done++;
    }
  } catch (e) {
    for (let i = done - 1; i >= 0; i--) {
      try {
        umount2(mounts[i]!.target ?? target, sysc.MNT_DETACH);
      } catch {
        // Best effort: the original error is the one to report.
      }
    }
    throw e;
  }
}

/** Unmounts everything stacked on `target`; a target that is not a mount point is fine. */
export function unmountAll(target: string, opts: { detach?: boolean } = {}): void {
  for (let i = 0; i < 1000; i++) {
    try {
      umount2(target, sysc.UMOUNT_NOFOLLOW | (opts.detach ? sysc.MNT_DETACH : 0));
    } catch (e) {
      if (isSyscallError(e, 'EINVAL') || isSyscallError(e, 'ENOENT')) return;
      throw e;
    }
  }
  throw internal(`unmounting ${target}: still mounted after 1000 unmounts`);
}
