// The copying snapshotter, for hosts without overlayfs (or filesystems overlay cannot stack on):
// each snapshot's <root>/snapshots/<id>/fs is a full copy of its parent's tree, made with
// `cp -a` (owners, modes, times, hardlinks within the tree, xattrs, devices, sparse files), and
// mounted as a bind. Layers are applied to it in 'plain' form (whiteouts delete).
// cp(1) is used because Node cannot copy xattrs or device nodes; the copy is reflinked where the
// filesystem allows it.
// Must never: mount, or write into a committed snapshot.
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { internal } from '../errors/errors.ts';
import type { SnapshotRow } from './metadata-store.ts';
import { SnapshotterBase } from './snapshotter-base.ts';
import type { Mount, SnapshotKind } from './snapshotter.ts';

// Promisified at the call, not at load: berthd's bundle loads node:child_process only then
// (scripts/bundle.ts, LAZY_BUILTINS).
const run = (file: string, args: string[], opts: { cwd?: string; maxBuffer?: number } = {}) =>
  promisify(execFile)(file, args, opts);

export class NativeSnapshotter extends SnapshotterBase {
  readonly applyFormat = 'plain' as const;

  protected async populate(dir: string, _kind: SnapshotKind, ancestors: SnapshotRow[]): Promise<void> {
    const fs = join(dir, 'fs');
    const parent = ancestors[0];
    if (parent === undefined) {
      await fsp.mkdir(fs, { mode: 0o755 });
      return;
    }
    try {
      // fs does not exist yet, so cp creates it as a copy of the parent's fs, root metadata included.
      await run('/usr/bin/cp', ['-a', '--reflink=auto', '--', this.fsDir(parent.id), fs], {
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (e) {
      const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
      throw internal(
        `copying snapshot ${JSON.stringify(parent.name)} into a new snapshot failed: ${stderr || String(e)}`,
        e,
      );
    }
  }

  protected mountsFor(row: SnapshotRow, _ancestors: SnapshotRow[]): Mount[] {
    return [{ type: 'bind', source: this.fsDir(row.id), options: [row.kind === 'view' ? 'ro' : 'rw', 'rbind'] }];
  }
}
