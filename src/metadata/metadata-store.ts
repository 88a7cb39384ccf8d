// berthd's metadata: containers, volumes, network attachments, leases, published-port allocations
// and a bounded tail of events, in one
// SQLite database (node:sqlite) at <root>/berthd.db. WAL with synchronous=FULL, so every committed
// transaction survives a crash of berthd or of the machine; every state change is one statement or
// one transaction. The schema and its invariants are drawn in docs/metadata.md.
// Owns: rows and their (de)serialisation, migrations. Must never: touch container processes, mounts
// or files, or hold a transaction across an await (node:sqlite is synchronous; keep it that way).
import { DatabaseSync } from 'node:sqlite';
import { alreadyExists, failedPrecondition, notFound } from '../errors/errors.ts';
import type { ContainerStatus } from './container-status.ts';
import { makeDatabaseFilePrivate } from '../sys/private-file.ts';
import { LeaseStore } from './lease-store.ts';
import { commitUnsynced } from './unsynced-commit.ts';
import { PodStore } from './pod-store.ts';
import { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations.ts';

export type { ContainerStatus };
export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';

/**
 * `Config` is the engine's document (its create request and the OCI spec built from it): the store
 * keeps it as JSON and gives it back as the engine wrote it, typed by the engine's instance.
 */
export type ContainerRecord<Config = unknown> = {
  id: string;
  name: string;
  imageRef: string;
  /** Docker's image ID: the digest of the image config the container was made from. */
  imageId: string;
  /** The digest of the image's manifest or index (what the image store names): the container's gc root. */
  imageDigest: string;
  config: Config;
  labels: Record<string, string>;
  runtime: string;
  snapshotKey: string;
  createdAt: string;
  restartPolicy: RestartPolicyName;
  restartMax: number;
  restartCount: number;
  status: ContainerStatus;
  pid: number;
  shimPid: number;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  oomKilled: boolean;
  /** Set by stop/kill from a user, cleared by start: unless-stopped and always read it. */
  manuallyStopped: boolean;
  error: string;
  /** The healthcheck's recorded outcome (null: no healthcheck has run); kept across berthd restarts. */
  health: HealthRecord | null;
};

/** docker's State.Health: the status, the failures in a row, the last results (oldest first). */
export type HealthRecord = {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  log: { start: string; end: string; exitCode: number; output: string }[];
};

export type VolumeRecord = {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Record<string, string>;
  createdAt: string;
};
/** A host port berthd chose for a `-p CONTAINER_PORT` mapping; kept while the container exists. */
/** A container's endpoint on one network: the names it has there beside its own, and the IPv4 address it asked for ('' for any). */
export type EndpointRecord = { network: string; aliases: string[]; ipv4Address: string; macAddress?: string };

export type PortAllocation = {
  containerId: string;
  containerPort: number;
  protocol: string;
  hostIP: string;
  hostPort: number;
};
export type EventRecord = {
  seq: number;
  timeNano: string;
  type: string;
  action: string;
  actorId: string;
  attributes: Record<string, string>;
};

type Raw = Record<string, string | number | null>;

const EVENTS_KEPT = 1000;

function toContainer<Config>(r: Raw): ContainerRecord<Config> {
  return {
    id: String(r.id),
    name: String(r.name),
    imageRef: String(r.image_ref),
    imageId: String(r.image_id),
    imageDigest: String(r.image_digest),
    config: JSON.parse(String(r.config)) as Config,
    labels: JSON.parse(String(r.labels)) as Record<string, string>,
    runtime: String(r.runtime),
    snapshotKey: String(r.snapshot_key),
    createdAt: String(r.created_at),
    restartPolicy: String(r.restart_policy) as RestartPolicyName,
    restartMax: Number(r.restart_max),
    restartCount: Number(r.restart_count),
    status: String(r.status) as ContainerStatus,
    pid: Number(r.pid),
    shimPid: Number(r.shim_pid),
    startedAt: r.started_at === null ? null : String(r.started_at),
    finishedAt: r.finished_at === null ? null : String(r.finished_at),
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    oomKilled: Number(r.oom_killed) !== 0,
    manuallyStopped: Number(r.manually_stopped) !== 0,
    error: String(r.error),
    health: r.health === null || r.health === undefined ? null : (JSON.parse(String(r.health)) as HealthRecord),
  };
}

/** Column names of the mutable state fields, by record key. */
const STATE_COLUMNS = {
  status: 'status',
  pid: 'pid',
  shimPid: 'shim_pid',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  exitCode: 'exit_code',
  oomKilled: 'oom_killed',
  manuallyStopped: 'manually_stopped',
  restartCount: 'restart_count',
  error: 'error',
  health: 'health',
} as const;
export type ContainerState = Pick<ContainerRecord, keyof typeof STATE_COLUMNS>;

/** Applies every migration newer than the database's version; returns the versions applied. */
export function migrate(db: DatabaseSync, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const row = db.prepare('SELECT MAX(version) AS v FROM migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  const newest = migrations.at(-1)?.version ?? 0;
  if (current > newest) {
    throw failedPrecondition(
      `metadata database is at schema version ${current}, newer than this berthd knows (${newest}); upgrade berth or use another --root`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(m.sql);
      db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
    applied.push(m.version);
  }
  return applied;
}

/** What a container row write was, for a caller's hook after it committed (berthd's test-only fault points). */
export type ContainerWrite = 'insert' | 'update' | 'delete';

export class MetadataStore<Config = unknown> {
  readonly path: string;
  readonly db: DatabaseSync;
  readonly leases: LeaseStore;
  readonly pods: PodStore;
  readonly #afterWrite: (op: ContainerWrite) => void;

  constructor(path: string, opts: { afterWrite?: (op: ContainerWrite) => void } = {}) {
    this.path = path;
    this.#afterWrite = opts.afterWrite ?? (() => {});
    makeDatabaseFilePrivate(path);
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = FULL');
    this.db.exec('PRAGMA foreign_keys = ON');
    this.db.exec('PRAGMA busy_timeout = 5000');
    migrate(this.db);
    this.leases = new LeaseStore(this.db);
    this.pods = new PodStore(this.db);
  }

  get schemaVersion(): number {
    const r = this.db.prepare('SELECT MAX(version) AS v FROM migrations').get() as { v: number | null };
    return r.v ?? 0;
  }

  static readonly latestVersion = LATEST_VERSION;

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  // ---- containers ----

  /** A new container row with its endpoints (one transaction: a crash leaves both or neither). */
  insertContainer(
    c: Omit<ContainerRecord<Config>, keyof ContainerState> & Partial<ContainerState>,
    endpoints: readonly EndpointRecord[] = [],
  ): ContainerRecord<Config> {
    const byName = this.db.prepare('SELECT id FROM containers WHERE name = ?').get(c.name) as Raw | undefined;
    if (byName)
      throw alreadyExists(
        `container name ${JSON.stringify(c.name)} is already in use by container ${String(byName.id)}; remove it or choose another --name`,
      );
    this.db.exec('BEGIN IMMEDIATE');
    try {
      this.#insertRow(c);
      for (const ep of endpoints) this.addEndpoint(c.id, ep);
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
    this.#afterWrite('insert');
    return this.getContainer(c.id);
  }

  #insertRow(c: Omit<ContainerRecord<Config>, keyof ContainerState> & Partial<ContainerState>): void {
    this.db
      .prepare(
        `INSERT INTO containers (id, name, image_ref, image_id, image_digest, config, labels, runtime, snapshot_key, created_at, restart_policy, restart_max, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        c.id,
        c.name,
        c.imageRef,
        c.imageId,
        c.imageDigest,
        JSON.stringify(c.config),
        JSON.stringify(c.labels),
        c.runtime,
        c.snapshotKey,
        c.createdAt,
        c.restartPolicy,
        c.restartMax,
        c.status ?? 'created',
      );
  }

  getContainer(id: string): ContainerRecord<Config> {
    const r = this.db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as Raw | undefined;
    if (!r) throw notFound(`no such container: ${id}`);
    return toContainer<Config>(r);
  }

  /** By full id, exact name, or unique id prefix (as docker resolves). */
  findContainer(word: string): ContainerRecord<Config> {
    const w = word.startsWith('/') ? word.slice(1) : word;
    const exact = this.db.prepare('SELECT * FROM containers WHERE id = ? OR name = ?').get(w, w) as Raw | undefined;
    if (exact) return toContainer<Config>(exact);
    if (/^[0-9a-f]+$/.test(w)) {
      const hits = this.db.prepare("SELECT * FROM containers WHERE id LIKE ? || '%'").all(w) as Raw[];
      if (hits.length === 1) return toContainer<Config>(hits[0]!);
      if (hits.length > 1)
        throw failedPrecondition(
          `container ID prefix ${JSON.stringify(w)} is ambiguous: it matches ${hits.map((h) => String(h.id).slice(0, 12)).join(', ')}`,
        );
    }
    throw notFound(`no such container: ${word} (expected a container name, ID or unique ID prefix)`);
  }

  /** Containers migrated by v7 whose image_id still names the manifest, not yet the config (see migrations.ts). */
  imageIdsToBackfill(): { id: string; imageDigest: string }[] {
    return (
      this.db
        .prepare("SELECT id, image_digest FROM containers WHERE image_id = image_digest AND image_digest <> ''")
        .all() as Raw[]
    ).map((r) => ({ id: String(r.id), imageDigest: String(r.image_digest) }));
  }

  /** The backfill's write: `imageId` (a config digest) for a container whose row still has the manifest digest. */
  setImageId(id: string, imageId: string): void {
    this.db.prepare('UPDATE containers SET image_id = ? WHERE id = ? AND image_id = image_digest').run(imageId, id);
    this.#afterWrite('update');
  }

  listContainers(): ContainerRecord<Config>[] {
    return (this.db.prepare('SELECT * FROM containers ORDER BY created_at DESC, id').all() as Raw[]).map((r) =>
      toContainer<Config>(r),
    );
  }

  updateState(id: string, patch: Partial<ContainerState>): ContainerRecord<Config> {
    const sets: string[] = [];
    const vals: (string | number | null)[] = [];
    for (const [k, v] of Object.entries(patch)) {
      const col = STATE_COLUMNS[k as keyof typeof STATE_COLUMNS];
      if (!col) continue;
      sets.push(`${col} = ?`);
      vals.push(
        typeof v === 'boolean'
          ? v
            ? 1
            : 0
          : v !== null && typeof v === 'object'
            ? JSON.stringify(v)
            : (v as string | number | null),
      );
    }
    if (sets.length > 0) {
      const r = this.db.prepare(`UPDATE containers SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
      if (Number(r.changes) === 0) throw notFound(`no such container: ${id}`);
      this.#afterWrite('update');
    }
    return this.getContainer(id);
  }

  /** A container's new config, and restart policy when given (docker's update), in one write. */
  reconfigureContainer(
    id: string,
    config: Config,
    restart?: { name: RestartPolicyName; max: number },
  ): ContainerRecord<Config> {
    const r = restart
      ? this.db
          .prepare('UPDATE containers SET config = ?, restart_policy = ?, restart_max = ? WHERE id = ?')
          .run(JSON.stringify(config), restart.name, restart.max, id)
      : this.db.prepare('UPDATE containers SET config = ? WHERE id = ?').run(JSON.stringify(config), id);
    if (Number(r.changes) === 0) throw notFound(`no such container: ${id}`);
    this.#afterWrite('update');
    return this.getContainer(id);
  }

  /** A new name for a container (docker's rename); refused when another container has it. */
  renameContainer(id: string, name: string): ContainerRecord<Config> {
    const byName = this.db.prepare('SELECT id FROM containers WHERE name = ? AND id != ?').get(name, id) as
      | Raw
      | undefined;
    if (byName)
      throw alreadyExists(
        `container name ${JSON.stringify(name)} is already in use by container ${String(byName.id)}; remove it or choose another name`,
      );
    const r = this.db.prepare('UPDATE containers SET name = ? WHERE id = ?').run(name, id);
    if (Number(r.changes) === 0) throw notFound(`no such container: ${id}`);
    this.#afterWrite('update');
    return this.getContainer(id);
  }

  deleteContainer(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    this.#afterWrite('delete');
  }

  // ---- network attachments ----

  putAttachment(containerId: string, network: string, result: unknown): void {
    this.db
      .prepare('INSERT OR REPLACE INTO network_attachments (container_id, network, result) VALUES (?, ?, ?)')
      .run(containerId, network, JSON.stringify(result));
  }

  attachments(containerId: string): { network: string; result: unknown }[] {
    const rows = this.db
      .prepare('SELECT network, result FROM network_attachments WHERE container_id = ? ORDER BY network')
      .all(containerId) as Raw[];
    return rows.map((r) => ({ network: String(r.network), result: JSON.parse(String(r.result)) }));
  }

  containersOnNetwork(network: string): string[] {
    return (
      this.db.prepare('SELECT container_id FROM network_attachments WHERE network = ?').all(network) as Raw[]
    ).map((r) => String(r.container_id));
  }

  removeAttachment(containerId: string, network: string): void {
    this.db.prepare('DELETE FROM network_attachments WHERE container_id = ? AND network = ?').run(containerId, network);
  }

  // ---- container endpoints (what the container is connected to, kept while it is stopped) ----

  /** The container's endpoints in the order they were connected (the first holds the default route). */
  endpoints(containerId: string): EndpointRecord[] {
    const rows = this.db
      .prepare(
        'SELECT network, aliases, ipv4_address, mac_address FROM container_endpoints WHERE container_id = ? ORDER BY seq, network',
      )
      .all(containerId) as Raw[];
    return rows.map((r) => ({
      network: String(r.network),
      aliases: JSON.parse(String(r.aliases)) as string[],
      ipv4Address: String(r.ipv4_address),
      ...(r.mac_address ? { macAddress: String(r.mac_address) } : {}),
    }));
  }

  /** Connects the container to `ep.network`, after its other endpoints; false when it already is. */
  addEndpoint(containerId: string, ep: EndpointRecord): boolean {
    const r = this.db
      .prepare(
        `INSERT OR IGNORE INTO container_endpoints (container_id, network, aliases, ipv4_address, mac_address, seq)
         SELECT ?, ?, ?, ?, ?, COALESCE(MAX(seq) + 1, 0) FROM container_endpoints WHERE container_id = ?`,
      )
      .run(containerId, ep.network, JSON.stringify(ep.aliases), ep.ipv4Address, ep.macAddress ?? '', containerId);
    return Number(r.changes) > 0;
  }

  /** False when the container was not connected to `network`. */
  removeEndpoint(containerId: string, network: string): boolean {
    const r = this.db
      .prepare('DELETE FROM container_endpoints WHERE container_id = ? AND network = ?')
      .run(containerId, network);
    return Number(r.changes) > 0;
  }

  /** Endpoints migrated from before v8 name the default network ''; berthd gives its name (or drops them without networking). */
  nameDefaultEndpoints(name: string | undefined): void {
    if (name === undefined) this.db.prepare("DELETE FROM container_endpoints WHERE network = ''").run();
    else this.db.prepare("UPDATE OR IGNORE container_endpoints SET network = ? WHERE network = ''").run(name);
  }

  // ---- published-port allocations (rows go with their container: ON DELETE CASCADE) ----

  portAllocations(containerId?: string): PortAllocation[] {
    const rows = (
      containerId === undefined
        ? this.db.prepare('SELECT * FROM port_allocations ORDER BY host_port').all()
        : this.db.prepare('SELECT * FROM port_allocations WHERE container_id = ? ORDER BY host_port').all(containerId)
    ) as Raw[];
    return rows.map((r) => ({
      containerId: String(r.container_id),
      containerPort: Number(r.container_port),
      protocol: String(r.protocol),
      hostIP: String(r.host_ip),
      hostPort: Number(r.host_port),
    }));
  }

  /**
   * Records `a` in place of any earlier allocation of the same mapping; false when another container
   * already holds the host port (the UNIQUE constraint decides, so two berthd requests racing for one
   * port cannot both win).
   */
  claimPort(a: PortAllocation): boolean {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const holder = this.db
        .prepare('SELECT container_id FROM port_allocations WHERE host_port = ? AND protocol = ?')
        .get(a.hostPort, a.protocol) as Raw | undefined;
      if (holder && String(holder.container_id) !== a.containerId) {
        this.db.exec('ROLLBACK');
        return false;
      }
      this.db
        .prepare(
          'DELETE FROM port_allocations WHERE container_id = ? AND container_port = ? AND protocol = ? AND host_ip = ?',
        )
        .run(a.containerId, a.containerPort, a.protocol, a.hostIP);
      this.db.prepare('DELETE FROM port_allocations WHERE host_port = ? AND protocol = ?').run(a.hostPort, a.protocol);
      this.db
        .prepare(
          'INSERT INTO port_allocations (container_id, container_port, protocol, host_ip, host_port) VALUES (?, ?, ?, ?, ?)',
        )
        .run(a.containerId, a.containerPort, a.protocol, a.hostIP, a.hostPort);
      this.db.exec('COMMIT');
      return true;
    } catch (e) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
  }

  // ---- volumes ----

  insertVolume(v: VolumeRecord): VolumeRecord {
    const r = this.db
      .prepare('INSERT OR IGNORE INTO volumes (name, driver, mountpoint, labels, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(v.name, v.driver, v.mountpoint, JSON.stringify(v.labels), v.createdAt);
    if (Number(r.changes) === 0) throw alreadyExists(`volume ${JSON.stringify(v.name)} already exists`);
    return v;
  }

  getVolume(name: string): VolumeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Raw | undefined;
    return r
      ? {
          name: String(r.name),
          driver: String(r.driver),
          mountpoint: String(r.mountpoint),
          labels: JSON.parse(String(r.labels)),
          createdAt: String(r.created_at),
        }
      : undefined;
  }

  listVolumes(): VolumeRecord[] {
    return (this.db.prepare('SELECT name FROM volumes ORDER BY name').all() as Raw[]).map(
      (r) => this.getVolume(String(r.name))!,
    );
  }

  deleteVolume(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }

  // ---- events (a bounded tail; the live stream is in-memory) ----

  appendEvent(e: Omit<EventRecord, 'seq'>): EventRecord {
    return this.appendEvents([e])[0]!;
  }

  /**
   * Appends events in one transaction committed without an fsync (unsynced-commit.ts): the tail is
   * a record of what happened, not state that anything is recovered from.
   */
  appendEvents(events: Omit<EventRecord, 'seq'>[]): EventRecord[] {
    if (events.length === 0) return [];
    const insert = this.db.prepare(
      'INSERT INTO events (time_nano, type, action, actor_id, attributes) VALUES (?, ?, ?, ?, ?)',
    );
    return commitUnsynced(this.db, () =>
      events.map((e) => {
        const seq = Number(
          insert.run(e.timeNano, e.type, e.action, e.actorId, JSON.stringify(e.attributes)).lastInsertRowid,
        );
        if (seq % 100 === 0) this.db.prepare('DELETE FROM events WHERE seq <= ?').run(seq - EVENTS_KEPT);
        return { seq, ...e };
      }),
    );
  }

  eventsSince(timeNano: string): EventRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM events WHERE CAST(time_nano AS INTEGER) >= CAST(? AS INTEGER) ORDER BY seq')
      .all(timeNano) as Raw[];
    return rows.map((r) => ({
      seq: Number(r.seq),
      timeNano: String(r.time_nano),
      type: String(r.type),
      action: String(r.action),
      actorId: String(r.actor_id),
      attributes: JSON.parse(String(r.attributes)),
    }));
  }
}
