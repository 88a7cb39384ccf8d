// Leases in the metadata database (containerd's model): a lease names resources (content digests)
// that garbage collection must keep while an operation that needs them is under way (a pull, a
// load, an import, a container create). A lease taken before a crash of berthd is still there after
// it; an expired lease protects nothing and gc removes it, and berthd releases the leases whose owner
// process died (kind and owner are columns, never read from the id). So rows commit without an fsync
// (unsynced-commit.ts): after a power loss every owner is dead and its lease released all the same,
// and a `run` saves two fsyncs (its create's lease taken and released).
// Owns: the leases and lease_resources tables. Must never: decide what is collected (src/images
// does) or touch content files.
import type { DatabaseSync } from 'node:sqlite';
import { alreadyExists, notFound } from '../errors/errors.ts';
import { commitUnsynced } from './unsynced-commit.ts';

/** The kinds of operation that take leases (src/content's LeaseKind, which the store satisfies structurally). */
export type LeaseRecordKind = 'pull' | 'load' | 'import' | 'create';

/** The content store's Lease shape (src/content's LeaseBackend is satisfied structurally). */
export type LeaseRecord = {
  id: string;
  createdAt: string;
  expiresAt?: string;
  labels: Record<string, string>;
  resources: string[];
  kind?: LeaseRecordKind;
  owner?: { pid: number; startTime: string };
};

export type LeaseCreateOptions = {
  expiresAt?: Date;
  labels?: Record<string, string>;
  resources?: string[];
  kind?: LeaseRecordKind;
  owner?: { pid: number; startTime: string };
};

type Raw = Record<string, string | number | null>;

export class LeaseStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The lease and its first resources in one transaction: one durable write. */
  create(id: string, opts: LeaseCreateOptions = {}): LeaseRecord {
    const lease: LeaseRecord = {
      id,
      createdAt: new Date().toISOString(),
      labels: opts.labels ?? {},
      resources: [...new Set(opts.resources ?? [])],
    };
    if (opts.expiresAt) lease.expiresAt = opts.expiresAt.toISOString();
    if (opts.kind) lease.kind = opts.kind;
    if (opts.owner) lease.owner = { pid: opts.owner.pid, startTime: opts.owner.startTime };
    commitUnsynced(this.#db, () => {
      const r = this.#db
        .prepare(
          'INSERT OR IGNORE INTO leases (id, created_at, expires_at, labels, kind, owner_pid, owner_start_time) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          id,
          lease.createdAt,
          lease.expiresAt ?? null,
          JSON.stringify(lease.labels),
          lease.kind ?? '',
          lease.owner?.pid ?? 0,
          lease.owner?.startTime ?? '',
        );
      if (Number(r.changes) === 0) throw alreadyExists(`lease ${id}: already exists`);
      const add = this.#db.prepare("INSERT INTO lease_resources (lease_id, kind, key) VALUES (?, 'content', ?)");
      for (const k of lease.resources) add.run(id, k);
    });
    return lease;
  }

  addResource(id: string, key: string, kind: 'content' = 'content'): void {
    commitUnsynced(this.#db, () => {
      // One statement: the lease must exist (a released lease cannot be revived by a late add).
      const r = this.#db
        .prepare('INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) SELECT id, ?, ? FROM leases WHERE id = ?')
        .run(kind, key, id);
      if (Number(r.changes) === 0 && !this.#db.prepare('SELECT 1 FROM leases WHERE id = ?').get(id))
        throw notFound(`lease ${id}: not found`);
    });
  }

  delete(id: string): void {
    commitUnsynced(this.#db, () => {
      const r = this.#db.prepare('DELETE FROM leases WHERE id = ?').run(id);
      if (Number(r.changes) === 0) throw notFound(`lease ${id}: not found`);
    });
  }

  list(): LeaseRecord[] {
    const leases = this.#db.prepare('SELECT * FROM leases ORDER BY created_at, id').all() as Raw[];
    const res = this.#db
      .prepare("SELECT lease_id, key FROM lease_resources WHERE kind = 'content' ORDER BY rowid")
      .all() as Raw[];
    const byLease = new Map<string, string[]>();
    for (const r of res) {
      const l = byLease.get(String(r.lease_id)) ?? [];
      l.push(String(r.key));
      byLease.set(String(r.lease_id), l);
    }
    return leases.map((l) => ({
      id: String(l.id),
      createdAt: String(l.created_at),
      ...(l.expires_at === null ? {} : { expiresAt: String(l.expires_at) }),
      labels: JSON.parse(String(l.labels)) as Record<string, string>,
      resources: byLease.get(String(l.id)) ?? [],
      ...(l.kind === '' ? {} : { kind: String(l.kind) as LeaseRecordKind }),
      ...(Number(l.owner_pid) > 0
        ? { owner: { pid: Number(l.owner_pid), startTime: String(l.owner_start_time) } }
        : {}),
    }));
  }
}
