// What the overlay and native snapshotters share: the metadata rules (keys are unique, parents are
// committed, a snapshot with children cannot go), the directory layout <root>/snapshots/<id>/, and
// the crash-consistent order of directory and metadata changes (see metadata-store.ts).
// Implementations supply how a new snapshot's directory is filled and how it is mounted.
// Must never: mount anything.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errors/errors.ts';
import { diskUsage } from './disk-usage.ts';
import { MetadataStore, type SnapshotRow } from './metadata-store.ts';
import type { CommitOptions, Mount, SnapshotInfo, SnapshotKind, Snapshotter } from './snapshotter.ts';

const TEMP_PREFIX = 'new-';
const REMOVING_PREFIX = 'rm-';

export abstract class SnapshotterBase implements Snapshotter {
  abstract readonly applyFormat: 'overlay' | 'plain';
  readonly root: string;
  protected readonly meta: MetadataStore;
  protected readonly snapshotsDir: string;

  constructor(root: string) {
    if (!isAbsolute(root)) throw invalidArgument(`snapshotter root ${JSON.stringify(root)} must be an absolute path`);
    // Paths end up in overlay mount options, where ',' and ':' are separators.
    if (/[,:\n\0]/.test(root))
      throw invalidArgument(`snapshotter root ${JSON.stringify(root)} must not contain ',', ':' or newlines`);
    this.root = root;
    this.snapshotsDir = join(root, 'snapshots');
    mkdirSync(this.snapshotsDir, { recursive: true, mode: 0o700 });
    this.meta = new MetadataStore(join(root, 'metadata.db'));
  }

  /** Fills a fresh snapshot directory `dir` (which exists, empty) for a snapshot on `ancestors`. */
  protected abstract populate(dir: string, kind: SnapshotKind, ancestors: SnapshotRow[]): Promise<void>;
  protected abstract mountsFor(row: SnapshotRow, ancestors: SnapshotRow[]): Mount[];

  protected dirOf(id: number): string {
    return join(this.snapshotsDir, String(id));
  }

  protected fsDir(id: number): string {
    return join(this.dirOf(id), 'fs');
  }

  protected mustGet(key: string): SnapshotRow {
    const row = this.meta.get(key);
    if (row === undefined) throw notFound(`snapshot ${JSON.stringify(key)} does not exist`);
    return row;
  }

  private checkName(what: string, name: string): void {
    if (typeof name !== 'string' || name.length === 0 || name.length > 4096 || name.includes('\0')) {
      throw invalidArgument(`snapshot ${what} ${JSON.stringify(name)} must be a non-empty string without NUL bytes`);
    }
  }

  private async create(
    kind: SnapshotKind,
    key: string,
    parent: string | undefined,
    labels: Record<string, string>,
  ): Promise<Mount[]> {
    this.checkName('key', key);
    if (this.meta.get(key) !== undefined) throw alreadyExists(`snapshot ${JSON.stringify(key)} already exists`);
    let ancestors: SnapshotRow[] = [];
    if (parent !== undefined) {
      const p = this.mustGetParent(parent);
      ancestors = [p, ...this.meta.ancestors(p)];
    }
    const temp = join(this.snapshotsDir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    await fsp.mkdir(temp, { mode: 0o700 });
    try {
      await this.populate(temp, kind, ancestors);
      const row = this.meta.tx(() => {
        if (this.meta.get(key) !== undefined) throw alreadyExists(`snapshot ${JSON.stringify(key)} already exists`);
        const pid = parent === undefined ? null : this.mustGetParent(parent).id;
        const row = this.meta.insert(key, pid, kind, labels, new Date().toISOString());
        // A directory with this id can only be a leftover of a crashed transaction: no row names it.
        rmSync(this.dirOf(row.id), { recursive: true, force: true });
        renameSync(temp, this.dirOf(row.id));
        return row;
      });
      return this.mountsFor(row, ancestors);
    } catch (e) {
      await fsp.rm(temp, { recursive: true, force: true });
      throw e;
    }
  }

  private mustGetParent(parent: string): SnapshotRow {
    const p = this.meta.get(parent);
    if (p === undefined) throw notFound(`parent snapshot ${JSON.stringify(parent)} does not exist`);
    if (p.kind !== 'committed') {
      throw failedPrecondition(`parent snapshot ${JSON.stringify(parent)} is ${p.kind}; a parent must be committed`);
    }
    return p;
  }

  prepare(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]> {
    return this.create('active', key, parent, { ...opts?.labels });
  }

  view(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]> {
    return this.create('view', key, parent, { ...opts?.labels });
  }

  async mounts(key: string): Promise<Mount[]> {
    const row = this.mustGet(key);
    if (row.kind === 'committed') {
      throw failedPrecondition(
        `snapshot ${JSON.stringify(key)} is committed; mount a view or an active snapshot of it`,
      );
    }
    return this.mountsFor(row, this.meta.ancestors(row));
  }

  async commit(name: string, key: string, opts?: CommitOptions): Promise<void> {
    this.checkName('name', name);
    this.meta.tx(() => {
      const row = this.mustGet(key);
      if (row.kind !== 'active')
        throw failedPrecondition(
          `snapshot ${JSON.stringify(key)} is ${row.kind}; only an active snapshot can be committed`,
        );
      if (name !== key && this.meta.get(name) !== undefined)
        throw alreadyExists(`snapshot ${JSON.stringify(name)} already exists`);
      let parentId: number | undefined;
      if (opts?.parent !== undefined) {
        const parent = this.mustGetParent(opts.parent);
        // A 'plain' snapshot is a copy of its parent's tree: giving it another parent would lie.
        if (this.applyFormat !== 'overlay') {
          throw failedPrecondition(
            `snapshot ${JSON.stringify(key)}: this snapshotter (${this.applyFormat} format) cannot commit onto a parent given at commit time; prepare the snapshot with its parent`,
          );
        }
        if (row.parentId !== null) {
          throw failedPrecondition(
            `snapshot ${JSON.stringify(key)} was prepared with a parent; only a snapshot prepared without one can be committed onto ${JSON.stringify(opts.parent)}`,
          );
        }
        parentId = parent.id;
      }
      this.meta.update(row.id, {
        name,
        kind: 'committed',
        labels: opts?.labels ?? row.labels,
        updated: new Date().toISOString(),
        ...(parentId === undefined ? {} : { parentId }),
      });
    });
  }

  async remove(key: string): Promise<void> {
    const id = this.meta.tx(() => {
      const row = this.mustGet(key);
      if (this.meta.hasChildren(row.id)) {
        throw failedPrecondition(`snapshot ${JSON.stringify(key)} has children; remove them first`);
      }
      this.meta.delete(row.id);
      return row.id;
    });
    // After the commit: a crash here leaves a directory without a row, which cleanup() removes.
    const doomed = join(this.snapshotsDir, `${REMOVING_PREFIX}${id}-${randomBytes(4).toString('hex')}`);
    await fsp.rename(this.dirOf(id), doomed).catch(() => {});
    await fsp.rm(doomed, { recursive: true, force: true });
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return this.meta.info(this.mustGet(key));
  }

  async list(): Promise<SnapshotInfo[]> {
    return this.meta.all().map((r) => this.meta.info(r));
  }

  async usage(key: string): Promise<{ size: number; inodes: number }> {
    return diskUsage(this.fsDir(this.mustGet(key).id));
  }

  async upperDir(key: string): Promise<string> {
    const row = this.mustGet(key);
    if (row.kind !== 'active')
      throw failedPrecondition(`snapshot ${JSON.stringify(key)} is ${row.kind}; only an active snapshot is writable`);
    return this.fsDir(row.id);
  }

  /**
   * Deletes directories that no metadata row names: leftovers of a crash during prepare or remove.
   * Call it when no other process is preparing snapshots in this root (at daemon start, or in GC).
   */
  async cleanup(): Promise<string[]> {
    const ids = new Set(this.meta.all().map((r) => String(r.id)));
    const removed: string[] = [];
    for (const name of await fsp.readdir(this.snapshotsDir)) {
      if (ids.has(name)) continue;
      await fsp.rm(join(this.snapshotsDir, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }

  close(): void {
    this.meta.close();
  }
}
