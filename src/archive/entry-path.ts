// Normalises the name of a tar entry (or a hardlink's target) into the components of a path inside
// the layer root. Pure string logic: the filesystem half (never walking through a symlink) lives in
// apply-layer.ts.
//
// Rules, chosen so that no name can point outside the root however the kernel would resolve it:
// - an absolute name ("/etc/shadow") is refused: issue 5 asks for it, and no image builder writes
//   one (docker and buildkit write relative names); silently re-rooting it would hide a hostile layer;
// - "." and empty components are dropped ("./etc//passwd" is "etc/passwd");
// - ".." is applied lexically, and refused when it would climb above the root. Lexical is the only
//   interpretation that does not depend on symlinks, which berth never follows while writing;
// - a NUL byte, a component longer than NAME_MAX, or a name longer than the limit is refused.
// Must never touch the filesystem.

export const NAME_MAX = 255;

export type EntryPathResult = { ok: true; parts: string[] } | { ok: false; reason: string };

export function normalizeEntryPath(name: string, maxPathLength: number): EntryPathResult {
  if (name.length === 0) return { ok: false, reason: 'the name is empty' };
  if (Buffer.byteLength(name) > maxPathLength) {
    return { ok: false, reason: `the name is longer than ${maxPathLength} bytes` };
  }
  if (name.includes('\0')) return { ok: false, reason: 'the name contains a NUL byte' };
  if (name.startsWith('/'))
    return { ok: false, reason: 'the name is absolute; layer paths must be relative to the root' };
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return { ok: false, reason: "'..' climbs above the layer root" };
      parts.pop();
      continue;
    }
    if (Buffer.byteLength(part) > NAME_MAX) {
      return { ok: false, reason: `a component is longer than ${NAME_MAX} bytes` };
    }
    parts.push(part);
  }
  return { ok: true, parts };
}

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
/** aufs metadata (".wh..wh.plnk", ".wh..wh.aufs"): not whiteouts, and meaningless to overlayfs. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

export type WhiteoutKind =
  | { kind: 'none' }
  | { kind: 'opaque' }
  | { kind: 'aufs-meta' }
  | { kind: 'whiteout'; name: string }
  | { kind: 'invalid'; reason: string };

/** Classifies the last component of an entry name. */
export function classifyWhiteout(base: string): WhiteoutKind {
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (base === WHITEOUT_OPAQUE) return { kind: 'opaque' };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'aufs-meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') {
    return { kind: 'invalid', reason: `the whiteout names '${name}', which is not a file name` };
  }
  return { kind: 'whiteout', name };
}
