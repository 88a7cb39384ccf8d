// The Snapshotter interface: containerd's model of layered filesystems. A snapshotter hands out
// directories and describes how to mount them; it never mounts anything itself (mount.ts does,
// for whoever needs it), so the mounts it returns are the currency between components.
//
// Kinds: `committed` snapshots are immutable layers, named by their chain ID by convention;
// `active` ones are writable (prepare), `view` ones read-only (view). Keys and committed names
// share one namespace per snapshotter.
//
// Mount paths are always absolute. An overlay mount with many layers can exceed the kernel's page
// limit for mount data; mountAll() in mount.ts shortens it (relative paths under a common parent).
// Consumers that mount by other means must do the same.
// Must never: mount, or import engine/wire code.

export type Mount = { type: string; source: string; target?: string; options: string[] };
export type SnapshotKind = 'view' | 'active' | 'committed';
export type SnapshotInfo = {
  name: string;
  parent?: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
  created: string;
  updated: string;
};

export type CommitOptions = { labels?: Record<string, string>; parent?: string };

export interface Snapshotter {
  /**
   * How applyLayer must write into upperDir(): 'overlay' (an empty upperdir: whiteouts as char
   * devices) or 'plain' (a full copy of the parent: whiteouts delete).
   */
  readonly applyFormat: 'overlay' | 'plain';
  prepare(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]>;
  view(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]>;
  mounts(key: string): Promise<Mount[]>;
  /**
   * Makes the active snapshot `key` the committed snapshot `name`. With `parent`, the snapshot is
   * committed on top of `parent` (a committed snapshot) although it was prepared without one: only
   * where applyFormat is 'overlay', because an overlay diff does not depend on its parent's
   * content, so independent layers can be extracted side by side and chained afterwards.
   * FailedPrecondition for a 'plain' snapshotter or a key prepared with a parent.
   */
  commit(name: string, key: string, opts?: CommitOptions): Promise<void>;
  remove(key: string): Promise<void>;
  stat(key: string): Promise<SnapshotInfo>;
  list(): Promise<SnapshotInfo[]>;
  /** Disk usage of the snapshot's own directory (its diff, for overlay); hardlinks counted once. */
  usage(key: string): Promise<{ size: number; inodes: number }>;
  /** For appliers: the writable directory of an active snapshot (overlay upperdir / copy dir). */
  upperDir(key: string): Promise<string>;
  /** Releases the metadata database. */
  close(): void;
}
