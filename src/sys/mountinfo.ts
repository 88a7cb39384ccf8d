// The one parser of /proc/<pid>/mountinfo (proc(5)) in TypeScript: every caller that asks "what is
// mounted where" reads it through here, so the kernel's octal escapes and the variable number of
// optional fields are handled once. The C side (berth-init, after fork) never reads mountinfo.
// Owns: the text format. Never: decides anything about the mounts it lists.
import { readFileSync } from 'node:fs';
import { invalidArgument } from '../errors/errors.ts';

/** One line of mountinfo; paths and options with the kernel's \ooo escapes undone. */
export interface MountInfoEntry {
  mountId: number;
  parentId: number;
  /** "major:minor" of st_dev for files on this filesystem. */
  device: string;
  /** The path within the filesystem that forms the mount's root ("/" unless a bind or a cgroup namespace). */
  root: string;
  /** Where it is mounted, relative to the reader's root. */
  mountPoint: string;
  /** Per-mount options: "rw,nosuid,relatime". */
  mountOptions: string;
  /** Zero or more "tag[:value]" fields before the " - " separator: "shared:1", "master:2", "unbindable". */
  optionalFields: string[];
  fsType: string;
  /** Filesystem-specific source, or "none". */
  source: string;
  /** Per-superblock options: "rw,memory" for a v1 cgroup hierarchy. */
  superOptions: string;
}

// show_mountinfo() escapes space, tab, newline and backslash (and "," "=" in some options) as \ooo.
function unmangle(s: string): string {
  return s.includes('\\')
    ? s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
    : s;
}

/**
 * Parses mountinfo text, one entry per non-empty line in file order. A line without the " - "
 * separator or with too few fields is refused, naming its line number: the kernel never writes
 * one, so such text is not mountinfo.
 */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    // Fields never contain a raw space (the kernel escapes it), so " - " is the separator only.
    const sep = line.indexOf(' - ');
    const pre = sep < 0 ? [] : line.slice(0, sep).split(' ');
    const post = sep < 0 ? [] : line.slice(sep + 3).split(' ');
    if (pre.length < 6 || post.length < 3) {
      throw invalidArgument(
        `mountinfo line ${i + 1} ${JSON.stringify(line.slice(0, 120))}: expected "id parent major:minor root mountpoint options [optional…] - fstype source superoptions"`,
      );
    }
    out.push({
      mountId: Number(pre[0]),
      parentId: Number(pre[1]),
      device: pre[2]!,
      root: unmangle(pre[3]!),
      mountPoint: unmangle(pre[4]!),
      mountOptions: pre[5]!,
      optionalFields: pre.slice(6),
      fsType: unmangle(post[0]!),
      source: unmangle(post[1]!),
      superOptions: unmangle(post.slice(2).join(' ')),
    });
  }
  return out;
}

/** The mounts of this process's mount namespace. */
export function readMountInfo(): MountInfoEntry[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** True when something is mounted exactly at `path` (given the entries, or this process's own). */
export function isMountPoint(path: string, entries: MountInfoEntry[] = readMountInfo()): boolean {
  return entries.some((m) => m.mountPoint === path);
}
