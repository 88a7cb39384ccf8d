// The ContentStore interface: content-addressed blobs (sha256, sha512), resumable atomic ingest,
// leases that protect content in use, and garbage collection from roots. Implementations must make
// a blob visible only once its size and digest are verified; a reader never sees partial content.
// This module holds types only; it must never touch the disk.
import type { Descriptor } from '../oci/image-spec.ts';

export type ContentInfo = { digest: string; size: number; createdAt: string };

/** What an ingest must produce; `size` is checked when given. */
export type Expected = { digest: string; size?: number };

export type IngestStatus = { ref: string; offset: number; expected?: Expected; updatedAt: string; active: boolean };

export interface ContentWriter {
  readonly ref: string;
  readonly expected: Expected;
  /** Bytes already written; a resumed ingest starts past zero (a pull asks the registry for Range: offset-). */
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  /** Drops what was written (a server that ignored Range sends everything again). */
  truncate(): Promise<void>;
  /** Syncs, verifies size and digest, and makes the blob visible atomically. Fails with InvalidArgument on mismatch, discarding the ingest. */
  commit(): Promise<ContentInfo>;
  /** Releases the ingest but keeps its data so that a later writer for the same ref resumes. */
  close(): Promise<void>;
  /** Releases the ingest and discards its data. */
  abort(): Promise<void>;
}

/** The operation that holds a lease (src/images takes them): gc and recovery ask this, never the id. */
export type LeaseKind = 'pull' | 'load' | 'import' | 'create' | 'build';

/** The process that holds a lease: a pid and its start time (/proc/<pid>/stat field 22), so a reused pid is not taken for it. */
export type LeaseOwner = { pid: number; startTime: string };

export type Lease = {
  id: string;
  createdAt: string;
  expiresAt?: string;
  labels: Record<string, string>;
  resources: string[];
  kind?: LeaseKind;
  /** Absent for a lease that no process owns (or one an older berth took, before owners were recorded). */
  owner?: LeaseOwner;
};

/** What a lease is created with besides its id. */
export type LeaseOptions = {
  expiresAt?: Date;
  labels?: Record<string, string>;
  resources?: string[];
  kind?: LeaseKind;
  owner?: LeaseOwner;
};

/**
 * Where a store keeps its leases when not in its own files: berth passes the metadata database's
 * (src/metadata/lease-store.ts), so a lease is one durable row and every process sharing the root
 * sees the same leases. Calls are synchronous (SQLite), which is what keeps gc's reading of them
 * atomic with its decisions inside the store's lock.
 */
export interface LeaseBackend {
  create(id: string, opts?: LeaseOptions): Lease;
  addResource(id: string, digest: string): void;
  delete(id: string): void;
  list(): Lease[];
}

/** A GC root: a digest (its kind is sniffed) or a descriptor (its media type says whether to walk it). */
export type GcRoot = string | Pick<Descriptor, 'digest' | 'mediaType'>;

export type GcResult = { removed: string[]; freedBytes: number; removedIngests: string[]; removedLeases: string[] };

export interface ContentStore {
  /** NotFound when the blob is not committed. */
  info(digest: string): Promise<ContentInfo>;
  exists(digest: string): Promise<boolean>;
  /** A stream of the blob from `offset`. NotFound when absent. */
  read(digest: string, opts?: { offset?: number }): Promise<NodeJS.ReadableStream>;
  readAll(digest: string): Promise<Buffer>;
  /**
   * Opens (or resumes) the ingest `ref`. Only one writer holds a ref at a time: a second one waits
   * until the first closes. AlreadyExists when the expected digest is already committed.
   */
  writer(ref: string, expected: Expected): Promise<ContentWriter>;
  ingests(): Promise<IngestStatus[]>;
  abortIngest(ref: string): Promise<void>;
  /** NotFound when absent. */
  delete(digest: string): Promise<void>;
  list(): Promise<ContentInfo[]>;
  /** Total bytes and blob count; with roots, only of the content reachable from them (disk usage per image). */
  usage(roots?: GcRoot[]): Promise<{ size: number; count: number }>;
  /** Every digest reachable from the roots (manifests, indexes, configs, layers present in the store). */
  reachable(roots: GcRoot[]): Promise<Set<string>>;

  /** `resources` are added with the lease, in one durable write. */
  createLease(id: string, opts?: LeaseOptions): Promise<Lease>;
  addResource(leaseId: string, digest: string): Promise<void>;
  deleteLease(id: string): Promise<void>;
  listLeases(): Promise<Lease[]>;

  /**
   * Removes every blob not reachable from the roots or from an unexpired lease, stale ingests and
   * expired leases. Roots given as a function are read after the leases, inside the store's lock: an
   * operation that names its content and then drops its lease (pull: image record, then lease) is
   * then seen holding it one way or the other, never neither.
   */
  gc(roots: GcRoot[] | (() => Promise<GcRoot[]>), opts?: { ingestMaxAgeMs?: number }): Promise<GcResult>;
}

/**
 * A writer's error message without its "ingest <ref>: " prefix, and a digest mismatch's "content
 * does not match: " too: the ingest is the store's own name, and a caller that knows which blob it
 * is (pull's "layer 2 of 3", load's archive entry) names it instead.
 */
export function writerErrorDetail(message: string, ref: string): string {
  const prefix = `ingest ${ref}: `;
  const rest = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  const mismatch = 'content does not match: ';
  return rest.startsWith(mismatch) ? rest.slice(mismatch.length) : rest;
}
