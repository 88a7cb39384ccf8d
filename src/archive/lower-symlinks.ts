// Overlay-format layers over a lower layer's symlink. A layer's entry `lib/added.txt` over lower
// layers where `lib` is a symlink to `usr/lib` (merged-/usr Debian and Ubuntu images) belongs at
// `usr/lib/added.txt`, as containerd and docker write it (they extract into the merged view). An
// overlay upperdir is extracted without its lower layers (pull extracts every layer at once), so
// the applier makes `lib/` as a plain directory there, which in the mounted stack would hide the
// symlink and every file of /usr/lib under /lib. Once the lower layers are known (before the layer
// is committed onto them), relocateImplicitDirs moves the content of each such directory to where
// the symlink resolves, and removes the directory, so that the symlink shows through again.
//
// Only directories the layer made in passing are moved (LayerApplier.implicitDirs): a layer that
// has an entry for the directory itself replaces the symlink, as a tar extraction does. One made in
// passing over a lower directory takes that directory's owner and mode, which it would otherwise
// shadow in the mounted stack.
// The lower layers are read as overlayfs shows them: the topmost entry of a name wins, a 0/0
// character device is a whiteout, directories merge down to one marked opaque.
// Must never: write outside `upper`; follow a symlink in a system call (targets are resolved as text
// from the root, '..' stops there, as in layer-applier.ts); change a lower layer.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { invalidArgument } from '../errors/errors.ts';
import { lgetxattr } from './xattrs.ts';

const OPAQUE_XATTR = 'trusted.overlay.opaque';
const MAX_SYMLINK_HOPS = 40;

type Child =
  /** `layers`: where the merged directory's content comes from, topmost first; `top` its metadata. */
  | { kind: 'dir'; layers: string[]; top: fs.Stats }
  | { kind: 'symlink'; target: string }
  | { kind: 'other' }
  | { kind: 'missing' };

const isWhiteout = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;

async function isOpaque(abs: string): Promise<boolean> {
  return (await lgetxattr(abs, OPAQUE_XATTR).catch(() => undefined))?.toString() === 'y';
}

/** `name` in the merged directory `dir` whose content comes from `layers` (topmost first). */
async function child(layers: string[], dir: string, name: string): Promise<Child> {
  const rel = dir === '' ? name : `${dir}/${name}`;
  const merged: string[] = [];
  let top: fs.Stats | undefined;
  for (const l of layers) {
    const st = fs.lstatSync(join(l, rel), { throwIfNoEntry: false });
    if (st === undefined) continue;
    if (top === undefined) {
      if (isWhiteout(st)) return { kind: 'missing' };
      if (st.isSymbolicLink()) return { kind: 'symlink', target: fs.readlinkSync(join(l, rel)) };
      if (!st.isDirectory()) return { kind: 'other' };
      top = st;
    } else if (!st.isDirectory()) {
      // Below a directory, anything but a directory (a whiteout too) hides the rest.
      break;
    }
    merged.push(l);
    if (await isOpaque(join(l, rel))) break;
  }
  return top === undefined ? { kind: 'missing' } : { kind: 'dir', layers: merged, top };
}

/** A walk from the root of the merged view: the path so far and each level's layers. */
type Walk = { path: string[]; layers: string[][] };

/**
 * Resolves `parts` from the root of the merged view of `layers` (topmost first), following
 * symlinks as text. Returns the real path; once a component is missing the rest is lexical.
 */
async function resolveIn(layers: string[], parts: string[], refuse: (why: string) => Error): Promise<string[]> {
  const w: Walk = { path: [], layers: [layers] };
  const todo = [...parts].reverse();
  let hops = 0;
  // The depth at which a component was missing: below it the walk is lexical, above it real again.
  let missingAt = -1;
  while (todo.length > 0) {
    const c = todo.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (w.path.length > 0) {
        w.path.pop();
        if (missingAt < 0) w.layers.pop();
        else if (w.path.length <= missingAt) missingAt = -1;
      }
      continue;
    }
    if (missingAt >= 0) {
      w.path.push(c);
      continue;
    }
    const found = await child(w.layers.at(-1)!, w.path.join('/'), c);
    if (found.kind === 'symlink') {
      if (++hops > MAX_SYMLINK_HOPS) throw refuse(`resolving it followed more than ${MAX_SYMLINK_HOPS} symlinks`);
      if (found.target.startsWith('/')) {
        w.path = [];
        w.layers = [layers];
      }
      todo.push(...found.target.split('/').reverse());
      continue;
    }
    if (found.kind === 'other') throw refuse(`${JSON.stringify([...w.path, c].join('/'))} is not a directory`);
    if (found.kind === 'missing') missingAt = w.path.length;
    else w.layers.push(found.layers);
    w.path.push(c);
  }
  return w.path;
}

/**
 * Moves each directory of `implicitDirs` (relative to `upper`, this layer's overlay upperdir) that
 * is a symlink in `lowers` (the lower layers' directories, nearest first) to where that symlink
 * resolves. `context` names the layer in errors.
 */
export async function relocateImplicitDirs(
  upper: string,
  implicitDirs: Iterable<string>,
  lowers: string[],
  context: string,
): Promise<void> {
  const implicit = new Set(implicitDirs);
  if (implicit.size === 0 || lowers.length === 0) return;
  const all = [upper, ...lowers];
  const depth = (p: string) => p.split('/').length;
  const queue = [...implicit].sort((a, b) => depth(a) - depth(b));
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (!implicit.has(p)) continue;
    const parts = p.split('/');
    const refuse = (why: string) =>
      invalidArgument(
        `${context}: directory ${JSON.stringify(p)} of this layer is a symlink in a lower layer, which cannot be followed: ${why}`,
      );
    // The parent is a directory of this layer, so it is one in the merged view too.
    const parentParts = parts.slice(0, -1);
    let layers = all;
    for (let i = 0; i < parentParts.length; i++) {
      const found = await child(layers, parentParts.slice(0, i).join('/'), parentParts[i]!);
      if (found.kind !== 'dir') break;
      layers = found.layers;
    }
    const below = await child(
      layers.filter((l) => l !== upper),
      parentParts.join('/'),
      parts.at(-1)!,
    );
    if (below.kind === 'dir') {
      // Made in passing over a lower directory: in the merged view it is that directory, whose
      // owner and mode it must not shadow with the defaults it was made with.
      const abs = join(upper, p);
      fs.lchownSync(abs, below.top.uid, below.top.gid);
      fs.chmodSync(abs, below.top.mode & 0o7777);
      continue;
    }
    if (below.kind !== 'symlink') continue;
    const target = below.target.startsWith('/')
      ? below.target.split('/')
      : [...parentParts, ...below.target.split('/')];
    const resolved = (await resolveIn(all, target, refuse)).join('/');
    if (resolved === p || resolved.startsWith(`${p}/`))
      throw refuse(`it points to ${JSON.stringify(resolved)}, inside itself`);
    await makeDirs(upper, all, resolved, refuse);
    moveInto(upper, p, resolved);
    implicit.delete(p);
    // What was below it is below the resolved directory now, and is checked there.
    for (const d of [...implicit]) {
      if (!d.startsWith(`${p}/`)) continue;
      implicit.delete(d);
      const moved = `${resolved === '' ? '' : `${resolved}/`}${d.slice(p.length + 1)}`;
      implicit.add(moved);
      queue.push(moved);
    }
    queue.sort((a, b) => depth(a) - depth(b));
  }
}

/** Makes `rel` and its parents in `upper` where missing, with the merged view's metadata. */
async function makeDirs(upper: string, all: string[], rel: string, refuse: (why: string) => Error): Promise<void> {
  if (rel === '') return;
  const parts = rel.split('/');
  let layers = all;
  for (let i = 0; i < parts.length; i++) {
    const sub = parts.slice(0, i + 1).join('/');
    const found = await child(layers, parts.slice(0, i).join('/'), parts[i]!);
    const abs = join(upper, sub);
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (st !== undefined && !st.isDirectory()) throw refuse(`${JSON.stringify(sub)} is not a directory in this layer`);
    if (st === undefined) {
      fs.mkdirSync(abs, { mode: 0o755 });
      // A directory of this layer shadows the lower one's metadata: it keeps the lower one's.
      const top = found.kind === 'dir' ? found.top : undefined;
      fs.lchownSync(abs, top?.uid ?? 0, top?.gid ?? 0);
      fs.chmodSync(abs, (top?.mode ?? 0o755) & 0o7777);
      if (top) fs.lutimesSync(abs, top.atime, top.mtime);
    }
    layers = found.kind === 'dir' ? found.layers : [upper];
  }
}

/** Moves the content of `from` into `to` (both in `upper`), merging directories; removes `from`. */
function moveInto(upper: string, from: string, to: string): void {
  const src = join(upper, from);
  const dst = to === '' ? upper : join(upper, to);
  for (const name of fs.readdirSync(src)) {
    const s = join(src, name);
    const d = join(dst, name);
    const ds = fs.lstatSync(d, { throwIfNoEntry: false });
    if (ds === undefined) {
      fs.renameSync(s, d);
    } else if (ds.isDirectory() && fs.lstatSync(s).isDirectory()) {
      moveInto(upper, `${from}/${name}`, `${to === '' ? '' : `${to}/`}${name}`);
    } else {
      // The layer wrote both names; without the tar's order, the one under the symlink's name wins.
      fs.rmSync(d, { recursive: true, force: true });
      fs.renameSync(s, d);
    }
  }
  fs.rmdirSync(src);
}
