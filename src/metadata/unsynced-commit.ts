// Commits that need not reach the disk before berthd goes on: rows that only matter while the
// process that wrote them lives (a lease, whose owner dies with the machine) or that record rather
// than decide (the events tail). They commit with synchronous=NORMAL for that transaction alone: a
// crash of berthd loses none of them (the commit is in the kernel's page cache), a power loss may
// lose the last of them but never the database's consistency (WAL), and the next commit with
// synchronous=FULL (every state change) syncs them with it, in order.
// Must never: be used for a row that recovery or a later start reads to decide anything.
import type { DatabaseSync } from 'node:sqlite';

/** Runs `fn` in one transaction (BEGIN IMMEDIATE) committed without an fsync; the connection is back at FULL after it. */
export function commitUnsynced<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('PRAGMA synchronous = NORMAL');
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      const r = fn();
      db.exec('COMMIT');
      return r;
    } catch (e) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw e;
    }
  } finally {
    db.exec('PRAGMA synchronous = FULL');
  }
}
