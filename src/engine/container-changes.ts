// `diff`: what a container changed in its filesystem against its image — the overlay upper
// directory of its snapshot read as docker's changes: a whiteout (0/0 character device) is a
// deletion (D), an entry present in a lower layer is a change (C), any other an addition (A). The
// mount points the runtime made (/proc, /dev, /etc/hosts… : the spec's mount destinations) are not
// the container's changes, nor is a directory that holds nothing else.
// Needs the overlay snapshotter (a copying snapshotter has no diff to read: refused).
// Must never: follow a symlink, in the upper directory or in a lower one.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { unsupported } from '../errors/errors.ts';
import type { ContainerContext } from './container-context.ts';

export type Change = { path: string; kind: 'A' | 'C' | 'D' };

/** The upper directory and the lower ones of a container's overlay snapshot, and the paths to skip. */
export async function overlayLayers(
  ctx: ContainerContext,
  id: string,
): Promise<{ upper: string; lowers: string[]; skip: Set<string> }> {
  const snap = ctx.o.images.snapshotter;
  if (ctx.o.images.snapshotterName !== 'overlay')
    throw unsupported(
      `diff and commit need the overlay snapshotter (this root uses ${ctx.o.images.snapshotterName}): its upper directory is the container's filesystem diff`,
    );
  const c = ctx.store.getContainer(id);
  const upper = await snap.upperDir(c.snapshotKey);
  const mounts = await snap.mounts(c.snapshotKey);
  const lowerOpt = mounts.flatMap((m) => m.options ?? []).find((o) => o.startsWith('lowerdir='));
  const lowers = lowerOpt ? lowerOpt.slice('lowerdir='.length).split(':') : [];
  const spec = c.config.spec as { mounts?: { destination: string }[] };
  const skip = new Set(
    (spec.mounts ?? []).map((m) => m.destination.replace(/^\/+/, '').replace(/\/+$/, '')).filter((d) => d !== ''),
  );
  return { upper, lowers, skip };
}

/** Whether `rel` exists in the layer `dir`: each parent must be a real directory there (a symlinked parent is not followed). */
async function inLayer(dir: string, rel: string): Promise<boolean> {
  const parts = rel.split('/');
  let at = dir;
  for (let i = 0; i < parts.length; i++) {
    at = join(at, parts[i]!);
    try {
      const st = await lstat(at);
      if (i < parts.length - 1 && !st.isDirectory()) return false;
      // A whiteout in a lower layer hides what is below it.
      if (st.isCharacterDevice() && st.rdev === 0) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export async function containerChanges(ctx: ContainerContext, id: string): Promise<Change[]> {
  const { upper, lowers, skip } = await overlayLayers(ctx, id);
  const inLower = async (rel: string) => {
    for (const l of lowers) if (await inLayer(l, rel)) return true;
    return false;
  };
  const out: Change[] = [];
  /** Returns whether anything under `dir` was reported. */
  const visit = async (dir: string): Promise<boolean> => {
    let names: string[];
    try {
      names = (await readdir(join(upper, dir))).sort();
    } catch {
      return false;
    }
    let any = false;
    for (const n of names) {
      const rel = dir === '' ? n : `${dir}/${n}`;
      if (skip.has(rel)) continue;
      const st = await lstat(join(upper, rel));
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ path: `/${rel}`, kind: 'D' });
        any = true;
        continue;
      }
      const existed = await inLower(rel);
      if (st.isDirectory()) {
        const at = out.length;
        const below = await visit(rel);
        // A directory copied up only to hold a skipped mount point is no change of the container's.
        if (!existed || below) {
          out.splice(at, 0, { path: `/${rel}`, kind: existed ? 'C' : 'A' });
          any = true;
        }
        continue;
      }
      out.push({ path: `/${rel}`, kind: existed ? 'C' : 'A' });
      any = true;
    }
    return any;
  };
  await visit('');
  return out;
}
