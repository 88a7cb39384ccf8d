// Pod sandboxes in the metadata database: one row per pod (the CRI's sandbox), written before any
// host resource of the pod is made and deleted after the last is released, so recovery finds every
// pod a crash interrupted (docs/metadata.md, docs/cri.md). Its containers are container rows that
// name the pod in their request.
// Owns: the pods table. Must never: touch processes, namespaces or files.
import type { DatabaseSync } from 'node:sqlite';
import { alreadyExists, failedPrecondition, notFound } from '../errors/errors.ts';

/** The CRI's two sandbox states: `ready` while its pause process runs, `notready` before and after. */
export type PodState = 'ready' | 'notready';

export type PodRecord = {
  id: string;
  /** Unique among pods: the CRI's sandbox name key (name, namespace, uid, attempt). */
  name: string;
  /** JSON document: the engine's pod request (src/engine/pod-types.ts). */
  config: unknown;
  labels: Record<string, string>;
  runtime: string;
  state: PodState;
  /** Host pid of the pause process (0 when not running). */
  pid: number;
  shimPid: number;
  /** The network namespace made for the pod ('' when it has none of its own or it was released). */
  netns: string;
  /** The network library's attach result (ips, gateway) while attached; {} otherwise. */
  network: Record<string, unknown>;
  createdAt: string;
  error: string;
};

const MUTABLE = {
  state: 'state',
  pid: 'pid',
  shimPid: 'shim_pid',
  netns: 'netns',
  network: 'network',
  error: 'error',
} as const;
export type PodMutable = Pick<PodRecord, keyof typeof MUTABLE>;

type Raw = Record<string, string | number | null>;

function toPod(r: Raw): PodRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    config: JSON.parse(String(r.config)),
    labels: JSON.parse(String(r.labels)) as Record<string, string>,
    runtime: String(r.runtime),
    state: String(r.state) as PodState,
    pid: Number(r.pid),
    shimPid: Number(r.shim_pid),
    netns: String(r.netns),
    network: JSON.parse(String(r.network)) as Record<string, unknown>,
    createdAt: String(r.created_at),
    error: String(r.error),
  };
}

export class PodStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  insert(p: Pick<PodRecord, 'id' | 'name' | 'config' | 'labels' | 'runtime' | 'createdAt'>): PodRecord {
    const byName = this.#db.prepare('SELECT id FROM pods WHERE name = ?').get(p.name) as Raw | undefined;
    if (byName)
      throw alreadyExists(
        `pod sandbox name ${JSON.stringify(p.name)} is already in use by pod ${String(byName.id)}; remove it first or use another attempt`,
      );
    this.#db
      .prepare('INSERT INTO pods (id, name, config, labels, runtime, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(p.id, p.name, JSON.stringify(p.config), JSON.stringify(p.labels), p.runtime, p.createdAt);
    return this.get(p.id);
  }

  get(id: string): PodRecord {
    const r = this.#db.prepare('SELECT * FROM pods WHERE id = ?').get(id) as Raw | undefined;
    if (!r) throw notFound(`no such pod sandbox: ${id}`);
    return toPod(r);
  }

  /** By full id, exact name, or unique id prefix (as containers are found). */
  find(word: string): PodRecord {
    const exact = this.#db.prepare('SELECT * FROM pods WHERE id = ? OR name = ?').get(word, word) as Raw | undefined;
    if (exact) return toPod(exact);
    if (/^[0-9a-f]+$/.test(word)) {
      const hits = this.#db.prepare("SELECT * FROM pods WHERE id LIKE ? || '%'").all(word) as Raw[];
      if (hits.length === 1) return toPod(hits[0]!);
      if (hits.length > 1)
        throw failedPrecondition(
          `pod sandbox ID prefix ${JSON.stringify(word)} is ambiguous: it matches ${hits.map((h) => String(h.id).slice(0, 12)).join(', ')}`,
        );
    }
    throw notFound(`no such pod sandbox: ${word} (expected a pod sandbox ID, unique ID prefix or name)`);
  }

  list(): PodRecord[] {
    return (this.#db.prepare('SELECT * FROM pods ORDER BY created_at DESC, id').all() as Raw[]).map(toPod);
  }

  update(id: string, patch: Partial<PodMutable>): PodRecord {
    const sets: string[] = [];
    const vals: (string | number)[] = [];
    for (const [k, v] of Object.entries(patch)) {
      const col = MUTABLE[k as keyof typeof MUTABLE];
      if (!col || v === undefined) continue;
      sets.push(`${col} = ?`);
      vals.push(typeof v === 'object' ? JSON.stringify(v) : (v as string | number));
    }
    if (sets.length > 0) {
      const r = this.#db.prepare(`UPDATE pods SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
      if (Number(r.changes) === 0) throw notFound(`no such pod sandbox: ${id}`);
    }
    return this.get(id);
  }

  delete(id: string): void {
    this.#db.prepare('DELETE FROM pods WHERE id = ?').run(id);
  }
}
