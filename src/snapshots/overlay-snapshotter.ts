// The overlayfs snapshotter: each snapshot is <root>/snapshots/<id>/{fs,work}; a committed layer's
// fs holds that layer's diff in overlay form (whiteouts as 0/0 char devices, opaque directories
// marked with trusted.overlay.opaque=y), exactly what applyLayer(format 'overlay') writes.
//
// Mounts: an active snapshot without a parent is a rw bind of its fs; with parents, an overlay
// (lowerdir = ancestors nearest first, upperdir = fs, workdir = work). A view is a ro bind of its
// only parent (or of its own empty fs) and an overlay of lowerdirs alone with two or more.
// Since a snapshot's fs never depends on its parent's content (populate makes it empty), a layer may
// be extracted into a snapshot prepared without a parent and committed onto its parent later
// (commit's `parent` option): pull extracts all layers of an image side by side that way.
// Must never: mount (see mount.ts), or write into a committed snapshot.
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors/errors.ts';
import type { SnapshotRow } from './metadata-store.ts';
import { SnapshotterBase } from './snapshotter-base.ts';
import type { Mount, SnapshotKind } from './snapshotter.ts';

export class OverlaySnapshotter extends SnapshotterBase {
  readonly applyFormat = 'overlay' as const;

  protected async populate(dir: string, _kind: SnapshotKind, _ancestors: SnapshotRow[]): Promise<void> {
    await fsp.mkdir(join(dir, 'fs'), { mode: 0o755 });
    await fsp.mkdir(join(dir, 'work'), { mode: 0o700 });
  }

  /**
   * The layer directories of committed snapshot `name` and its ancestors, nearest first: the
   * lowerdirs a snapshot committed onto it will have (for an applier that must read them).
   */
  async lowerDirs(name: string): Promise<string[]> {
    const row = this.mustGet(name);
    if (row.kind !== 'committed')
      throw failedPrecondition(
        `snapshot ${JSON.stringify(name)} is ${row.kind}; only a committed snapshot is a lower layer`,
      );
    return [row, ...this.meta.ancestors(row)].map((r) => this.fsDir(r.id));
  }

  protected mountsFor(row: SnapshotRow, ancestors: SnapshotRow[]): Mount[] {
    const fs = this.fsDir(row.id);
    const lower = ancestors.map((a) => this.fsDir(a.id));
    if (row.kind === 'view') {
      if (lower.length === 0) return [{ type: 'bind', source: fs, options: ['ro', 'rbind'] }];
      if (lower.length === 1) return [{ type: 'bind', source: lower[0]!, options: ['ro', 'rbind'] }];
      return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower.join(':')}`] }];
    }
    if (lower.length === 0) return [{ type: 'bind', source: fs, options: ['rw', 'rbind'] }];
    return [
      {
        type: 'overlay',
        source: 'overlay',
        options: [`workdir=${join(this.dirOf(row.id), 'work')}`, `upperdir=${fs}`, `lowerdir=${lower.join(':')}`],
      },
    ];
  }
}
