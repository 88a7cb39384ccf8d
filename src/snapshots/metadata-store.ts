// The snapshot metadata of one snapshotter root: names, parents, kinds, labels, times. In SQLite
// (node:sqlite) rather than a JSON file rewritten on each change, because several berth processes
// (the CLI in-process, later berthd) share one root: SQLite gives cross-process locking and atomic,
// durable transactions (WAL, synchronous=FULL) for free, where a JSON file would need a lock file
// and would lose concurrent updates.
//
// Schema (PRAGMA user_version = 1):
//
//   snapshots
//     id        INTEGER PRIMARY KEY AUTOINCREMENT  -- names the directory <root>/snapshots/<id>
//     name      TEXT UNIQUE NOT NULL               -- key (active/view) or name (committed)
//     parent_id INTEGER NULL REFERENCES snapshots(id)   -- always a committed snapshot
//     kind      TEXT NOT NULL                      -- 'active' | 'view' | 'committed'
//     labels    TEXT NOT NULL                      -- JSON object of strings
//     created   TEXT NOT NULL, updated TEXT NOT NULL   -- RFC 3339
//
// Directories and rows are kept consistent by the snapshotters (snapshotter-base.ts): a directory is
// made under a temporary name first and renamed to its id inside the transaction that inserts the
// row; a removed row's directory is deleted after the commit. A crash can therefore leave only
// directories without rows, which cleanup() deletes, never a row without its directory.
// Must never: touch snapshot directories itself, or hold a transaction across an await.
import { DatabaseSync } from 'node:sqlite';
import { failedPrecondition } from '../errors/errors.ts';
import { makeDatabaseFilePrivate } from '../sys/private-file.ts';
import type { SnapshotInfo, SnapshotKind } from './snapshotter.ts';

export const SCHEMA_VERSION = 1;

export type SnapshotRow = {
  id: number;
  name: string;
  parentId: number | null;
  kind: SnapshotKind;
  labels: Record<string, string>;
  created: string;
  updated: string;
};

type RawRow = {
  id: number;
  name: string;
  parent_id: number | null;
  kind: string;
  labels: string;
  created: string;
  updated: string;
};

function fromRaw(r: RawRow): SnapshotRow {
  return {
    id: Number(r.id),
    name: r.name,
    parentId: r.parent_id === null ? null : Number(r.parent_id),
    kind: r.kind as SnapshotKind,
    labels: JSON.parse(r.labels) as Record<string, string>,
    created: r.created,
    updated: r.updated,
  };
}

const MIGRATIONS: string[] = [
  // 0 -> 1
  `CREATE TABLE snapshots (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL UNIQUE,
     parent_id INTEGER REFERENCES snapshots(id),
     kind TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
     labels TEXT NOT NULL,
     created TEXT NOT NULL,
     updated TEXT NOT NULL
   );
   CREATE INDEX snapshots_parent ON snapshots(parent_id);`,
];

export class MetadataStore {
  readonly path: string;
  readonly #db: DatabaseSync;

  constructor(path: string) {
    this.path = path;
    makeDatabaseFilePrivate(path);
    this.#db = new DatabaseSync(path);
    this.#db.exec(
      'PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;',
    );
    this.migrate();
  }

  private migrate(): void {
    this.tx(() => {
      const v = Number((this.#db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
      if (v > SCHEMA_VERSION) {
        throw failedPrecondition(
          `${this.path}: snapshot metadata schema ${v} is newer than this berth understands (${SCHEMA_VERSION})`,
        );
      }
      for (let i = v; i < SCHEMA_VERSION; i++) this.#db.exec(MIGRATIONS[i]!);
      if (v !== SCHEMA_VERSION) this.#db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    });
  }

  /** Runs `fn` in an immediate (write-locked) transaction; `fn` must be synchronous. */
  tx<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  get(name: string): SnapshotRow | undefined {
    const r = this.#db.prepare('SELECT * FROM snapshots WHERE name = ?').get(name) as RawRow | undefined;
    return r === undefined ? undefined : fromRaw(r);
  }

  byId(id: number): SnapshotRow | undefined {
    const r = this.#db.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as RawRow | undefined;
    return r === undefined ? undefined : fromRaw(r);
  }

  all(): SnapshotRow[] {
    return (this.#db.prepare('SELECT * FROM snapshots ORDER BY id').all() as RawRow[]).map(fromRaw);
  }

  hasChildren(id: number): boolean {
    return this.#db.prepare('SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1').get(id) !== undefined;
  }

  insert(
    name: string,
    parentId: number | null,
    kind: SnapshotKind,
    labels: Record<string, string>,
    now: string,
  ): SnapshotRow {
    const r = this.#db
      .prepare(
        'INSERT INTO snapshots (name, parent_id, kind, labels, created, updated) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      )
      .get(name, parentId, kind, JSON.stringify(labels), now, now) as RawRow;
    return fromRaw(r);
  }

  update(
    id: number,
    fields: {
      name: string;
      kind: SnapshotKind;
      labels: Record<string, string>;
      updated: string;
      parentId?: number | null;
    },
  ): void {
    if (fields.parentId !== undefined) {
      this.#db
        .prepare('UPDATE snapshots SET name = ?, kind = ?, labels = ?, updated = ?, parent_id = ? WHERE id = ?')
        .run(fields.name, fields.kind, JSON.stringify(fields.labels), fields.updated, fields.parentId, id);
      return;
    }
    this.#db
      .prepare('UPDATE snapshots SET name = ?, kind = ?, labels = ?, updated = ? WHERE id = ?')
      .run(fields.name, fields.kind, JSON.stringify(fields.labels), fields.updated, id);
  }

  delete(id: number): void {
    this.#db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
  }

  /** The ancestors of `row`, nearest first (the overlay lowerdir order). */
  ancestors(row: SnapshotRow): SnapshotRow[] {
    const out: SnapshotRow[] = [];
    let pid = row.parentId;
    while (pid !== null) {
      const p = this.byId(pid);
      if (p === undefined) break;
      out.push(p);
      pid = p.parentId;
    }
    return out;
  }

  info(row: SnapshotRow): SnapshotInfo {
    const parent = row.parentId === null ? undefined : this.byId(row.parentId)?.name;
    return {
      name: row.name,
      ...(parent === undefined ? {} : { parent }),
      kind: row.kind,
      labels: row.labels,
      created: row.created,
      updated: row.updated,
    };
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
