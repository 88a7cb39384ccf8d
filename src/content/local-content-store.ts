// LocalContentStore: the ContentStore on a local filesystem.
//   <root>/blobs/<algo>/<hex>          committed, verified blobs (only ever appear by rename)
//   <root>/ingest/<ref>/data           an ingest in progress (resumable after a crash)
//   <root>/ingest/<ref>/expected.json  what the ingest must produce
//   <root>/ingest/<ref>/lock           pid of the process holding the ingest (O_EXCL)
//   <root>/leases/<id>.json            leases: digests protected from gc (unless a LeaseBackend
//                                      is given: berth keeps them in its metadata database)
// Digests are computed while data is written; commit fsyncs, verifies size and digest, renames into
// blobs/ and fsyncs the directory. It must never expose a blob that was not verified.
// Cross-process safety covers ingest (the lock file; a dead holder's lock is taken over); gc vs
// lease/commit is serialised in-process only (an RWLock per root): berthd is the store's one owner.
import { pidAlive } from '../sys/procfs.ts';
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { alreadyExists, BerthError, ErrorCode, invalidArgument, notFound } from '../errors/errors.ts';
import { isConfigMediaType, isIndexMediaType, isManifestMediaType } from '../oci/image-spec.ts';
import { parseDigest } from '../oci/image-validate.ts';
import { atomicWriteFile, fsyncDir } from '../sys/atomic-file.ts';
import type {
  ContentInfo,
  ContentStore,
  ContentWriter,
  Expected,
  GcResult,
  GcRoot,
  IngestStatus,
  Lease,
  LeaseBackend,
  LeaseOptions,
} from './content-store.ts';
import { RWLock } from './rw-lock.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,199}$/;
const locks = new Map<string, RWLock>();
// Ingest refs held by this process, so the pid in a lock file can be told apart from our own waiters.
const heldRefs = new Set<string>();
// Manifests and indexes are small; anything larger than this is never parsed while walking.
const MAX_SNIFF = 4 * 1024 * 1024;

function checkName(kind: string, name: string): void {
  if (!NAME.test(name) || name === '.' || name === '..')
    throw invalidArgument(
      `${kind} "${name}": expected 1-200 characters of [A-Za-z0-9._:@+=-], starting with a letter or digit`,
    );
}

const isENOENT = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOENT';

export class LocalContentStore implements ContentStore {
  readonly root: string;
  readonly #lock: RWLock;
  readonly #leases: LeaseBackend | undefined;

  constructor(root: string, opts: { leases?: LeaseBackend } = {}) {
    this.root = root;
    this.#leases = opts.leases;
    let l = locks.get(root);
    if (!l) {
      l = new RWLock();
      locks.set(root, l);
    }
    this.#lock = l;
  }

  blobPath(digest: string): string {
    const { algorithm, encoded } = parseDigest(digest);
    return join(this.root, 'blobs', algorithm, encoded);
  }

  async info(digest: string): Promise<ContentInfo> {
    const p = this.blobPath(digest);
    try {
      const st = await stat(p);
      return { digest, size: st.size, createdAt: st.mtime.toISOString() };
    } catch (e) {
      if (isENOENT(e)) throw notFound(`content ${digest}: not found in ${this.root}`);
      throw e;
    }
  }

  async exists(digest: string): Promise<boolean> {
    try {
      await this.info(digest);
      return true;
    } catch (e) {
      if (e instanceof BerthError && e.code === ErrorCode.NotFound) return false;
      throw e;
    }
  }

  async read(digest: string, opts: { offset?: number } = {}): Promise<NodeJS.ReadableStream> {
    const p = this.blobPath(digest);
    // Open first so that a missing blob is a NotFound here, not an error event later.
    let fh: import('node:fs/promises').FileHandle;
    try {
      fh = await open(p, 'r');
    } catch (e) {
      if (isENOENT(e)) throw notFound(`content ${digest}: not found in ${this.root}`);
      throw e;
    }
    return fh.createReadStream({ start: opts.offset ?? 0, autoClose: true });
  }

  async readAll(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (e) {
      if (isENOENT(e)) throw notFound(`content ${digest}: not found in ${this.root}`);
      throw e;
    }
  }

  async writer(ref: string, expected: Expected): Promise<ContentWriter> {
    checkName('ingest ref', ref);
    parseDigest(expected.digest, `ingest ${ref}: expected digest`);
    if (expected.size !== undefined && (!Number.isSafeInteger(expected.size) || expected.size < 0))
      throw invalidArgument(`ingest ${ref}: expected size ${expected.size} is not a non-negative integer`);
    const dir = join(this.root, 'ingest', ref);
    await this.#acquireIngest(dir);
    try {
      if (await this.exists(expected.digest)) {
        // Nothing of this ingest is worth keeping: the blob is there.
        await discardIngest(dir);
        throw alreadyExists(`content ${expected.digest}: already committed (ingest ${ref})`);
      }
    } catch (e) {
      if (heldRefs.has(dir)) await releaseIngest(dir);
      throw e;
    }
    try {
      return await IngestWriter.open(this, ref, dir, expected);
    } catch (e) {
      await releaseIngest(dir);
      throw e;
    }
  }

  async #acquireIngest(dir: string): Promise<void> {
    const lockPath = join(dir, 'lock');
    for (;;) {
      try {
        const fh = await open(lockPath, 'wx');
        await fh.writeFile(String(process.pid));
        await fh.close();
        heldRefs.add(dir);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          await makeIngestDir(dir);
          continue;
        }
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const pid = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
      // A lock whose writer died (kill -9 mid-pull) is taken over; its data is resumed. So is one
      // with our own pid that we do not hold (left by an earlier process that had our pid).
      // An empty lock file is a writer between open and write: wait for it.
      const stale = pid === process.pid ? !heldRefs.has(dir) : !pidAlive(pid);
      if (Number.isInteger(pid) && pid > 0 && stale) {
        await rm(lockPath, { force: true });
        continue;
      }
      await sleep(20);
    }
  }

  async ingests(): Promise<IngestStatus[]> {
    const base = join(this.root, 'ingest');
    const names = await readdir(base).catch((e) => (isENOENT(e) ? [] : Promise.reject(e)));
    const out: IngestStatus[] = [];
    for (const ref of names) {
      const dir = join(base, ref);
      const st = await stat(join(dir, 'data')).catch(() => undefined);
      const expected = await readFile(join(dir, 'expected.json'), 'utf8')
        .then((s) => JSON.parse(s) as Expected)
        .catch(() => undefined);
      const pid = Number.parseInt(await readFile(join(dir, 'lock'), 'utf8').catch(() => ''), 10);
      const active = Number.isInteger(pid) && pid > 0 && pidAlive(pid);
      const dst = await stat(dir).catch(() => undefined);
      const updatedAt = (st?.mtime ?? dst?.mtime ?? new Date(0)).toISOString();
      out.push(
        expected
          ? { ref, offset: st?.size ?? 0, expected, updatedAt, active }
          : { ref, offset: st?.size ?? 0, updatedAt, active },
      );
    }
    return out;
  }

  async abortIngest(ref: string): Promise<void> {
    checkName('ingest ref', ref);
    const dir = join(this.root, 'ingest', ref);
    await this.#acquireIngest(dir);
    await discardIngest(dir);
  }

  async delete(digest: string): Promise<void> {
    try {
      await unlink(this.blobPath(digest));
    } catch (e) {
      if (isENOENT(e)) throw notFound(`content ${digest}: not found in ${this.root}`);
      throw e;
    }
  }

  async list(): Promise<ContentInfo[]> {
    const out: ContentInfo[] = [];
    for (const algorithm of ['sha256', 'sha512']) {
      const dir = join(this.root, 'blobs', algorithm);
      const names = await readdir(dir).catch((e) => (isENOENT(e) ? [] : Promise.reject(e)));
      for (const hex of names) {
        const digest = `${algorithm}:${hex}`;
        try {
          parseDigest(digest);
        } catch {
          continue; // not ours (a stray file); never report it as content
        }
        const st = await stat(join(dir, hex)).catch(() => undefined);
        if (st) out.push({ digest, size: st.size, createdAt: st.mtime.toISOString() });
      }
    }
    return out;
  }

  async usage(roots?: GcRoot[]): Promise<{ size: number; count: number }> {
    if (roots === undefined) {
      const all = await this.list();
      return { size: all.reduce((a, b) => a + b.size, 0), count: all.length };
    }
    let size = 0;
    let count = 0;
    for (const d of await this.reachable(roots)) {
      const i = await this.info(d).catch(() => undefined);
      if (i) {
        size += i.size;
        count++;
      }
    }
    return { size, count };
  }

  async reachable(roots: GcRoot[]): Promise<Set<string>> {
    const seen = new Set<string>();
    const stack: GcRoot[] = [...roots];
    while (stack.length > 0) {
      const r = stack.pop()!;
      const digest = typeof r === 'string' ? r : r.digest;
      if (seen.has(digest)) continue;
      seen.add(digest);
      const mediaType = typeof r === 'string' ? undefined : r.mediaType;
      // Layers and configs have no children; only manifests, indexes and unknown (sniffed) blobs are read.
      if (mediaType !== undefined && !isManifestMediaType(mediaType) && !isIndexMediaType(mediaType)) continue;
      for (const child of await this.#children(digest)) stack.push(child);
    }
    return seen;
  }

  async #children(digest: string): Promise<GcRoot[]> {
    let info: ContentInfo;
    try {
      info = await this.info(digest);
    } catch {
      return [];
    }
    if (info.size > MAX_SNIFF || info.size < 2) return [];
    const bytes = await this.readAll(digest).catch(() => undefined);
    if (bytes?.[0] !== 0x7b /* { */) return [];
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch {
      return [];
    }
    if (typeof doc !== 'object' || doc === null) return [];
    const o = doc as Record<string, unknown>;
    const out: GcRoot[] = [];
    const add = (d: unknown) => {
      if (typeof d === 'object' && d !== null && typeof (d as { digest?: unknown }).digest === 'string') {
        const desc = d as { digest: string; mediaType?: unknown };
        try {
          parseDigest(desc.digest);
        } catch {
          return;
        }
        const mt = typeof desc.mediaType === 'string' ? desc.mediaType : undefined;
        out.push(
          mt && (isConfigMediaType(mt) || !mt.includes('json')) ? { digest: desc.digest, mediaType: mt } : desc.digest,
        );
      }
    };
    if (Array.isArray(o.manifests)) o.manifests.forEach(add);
    if (o.config) add(o.config);
    if (Array.isArray(o.layers)) o.layers.forEach(add);
    return out;
  }

  // ---------------------------------------------------------------- leases

  #leasePath(id: string): string {
    checkName('lease', id);
    return join(this.root, 'leases', `${id}.json`);
  }

  async #readLease(id: string): Promise<Lease> {
    try {
      return JSON.parse(await readFile(this.#leasePath(id), 'utf8')) as Lease;
    } catch (e) {
      if (isENOENT(e)) throw notFound(`lease ${id}: not found in ${this.root}`);
      throw e;
    }
  }

  async createLease(id: string, opts: LeaseOptions = {}): Promise<Lease> {
    const p = this.#leasePath(id);
    for (const r of opts.resources ?? []) parseDigest(r, `lease ${id}: resource`);
    const backend = this.#leases;
    if (backend) return this.#lock.shared(async () => backend.create(id, opts));
    return this.#lock.shared(async () => {
      await mkdir(join(this.root, 'leases'), { recursive: true });
      if (await stat(p).catch(() => undefined)) throw alreadyExists(`lease ${id}: already exists in ${this.root}`);
      const lease: Lease = {
        id,
        createdAt: new Date().toISOString(),
        labels: opts.labels ?? {},
        resources: [...new Set(opts.resources ?? [])],
      };
      if (opts.expiresAt) lease.expiresAt = opts.expiresAt.toISOString();
      if (opts.kind) lease.kind = opts.kind;
      if (opts.owner) lease.owner = opts.owner;
      await atomicWriteFile(p, JSON.stringify(lease));
      return lease;
    });
  }

  async addResource(leaseId: string, digest: string): Promise<void> {
    parseDigest(digest, `lease ${leaseId}: resource`);
    checkName('lease', leaseId);
    const backend = this.#leases;
    if (backend) return this.#lock.shared(async () => backend.addResource(leaseId, digest));
    await this.#lock.shared(async () => {
      // Serialised per lease: concurrent layer downloads add resources to one lease at once.
      await this.#leaseMutex(leaseId, async () => {
        const lease = await this.#readLease(leaseId);
        if (lease.resources.includes(digest)) return;
        lease.resources.push(digest);
        await atomicWriteFile(this.#leasePath(leaseId), JSON.stringify(lease));
      });
    });
  }

  #leaseChains = new Map<string, Promise<unknown>>();
  async #leaseMutex<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#leaseChains.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    this.#leaseChains.set(id, settled);
    try {
      return await next;
    } finally {
      if (this.#leaseChains.get(id) === settled) this.#leaseChains.delete(id);
    }
  }

  async deleteLease(id: string): Promise<void> {
    if (this.#leases) {
      checkName('lease', id);
      this.#leases.delete(id);
      return;
    }
    try {
      await unlink(this.#leasePath(id));
    } catch (e) {
      if (isENOENT(e)) throw notFound(`lease ${id}: not found in ${this.root}`);
      throw e;
    }
  }

  async listLeases(): Promise<Lease[]> {
    if (this.#leases) return this.#leases.list();
    const dir = join(this.root, 'leases');
    const names = await readdir(dir).catch((e) => (isENOENT(e) ? [] : Promise.reject(e)));
    const out: Lease[] = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      const l = await this.#readLease(n.slice(0, -5)).catch(() => undefined);
      if (l) out.push(l);
    }
    return out;
  }

  // ---------------------------------------------------------------- gc

  async gc(roots: GcRoot[] | (() => Promise<GcRoot[]>), opts: { ingestMaxAgeMs?: number } = {}): Promise<GcResult> {
    return this.#lock.exclusive(async () => {
      const now = Date.now();
      const result: GcResult = { removed: [], freedBytes: 0, removedIngests: [], removedLeases: [] };
      const leased: GcRoot[] = [];
      for (const lease of await this.listLeases()) {
        if (lease.expiresAt && Date.parse(lease.expiresAt) <= now) {
          await this.deleteLease(lease.id).catch(() => {});
          result.removedLeases.push(lease.id);
        } else leased.push(...lease.resources);
      }
      const live = await this.reachable([...(typeof roots === 'function' ? await roots() : roots), ...leased]);
      for (const c of await this.list()) {
        if (live.has(c.digest)) continue;
        await unlink(this.blobPath(c.digest)).catch(() => {});
        result.removed.push(c.digest);
        result.freedBytes += c.size;
      }
      const maxAge = opts.ingestMaxAgeMs ?? 24 * 3600 * 1000;
      for (const ing of await this.ingests()) {
        if (ing.active || now - Date.parse(ing.updatedAt) < maxAge) continue;
        await rm(join(this.root, 'ingest', ing.ref), { recursive: true, force: true });
        result.removedIngests.push(ing.ref);
      }
      return result;
    });
  }

  /** @internal commit step under the shared lock, so gc never runs between verify and rename. */
  async _publish(dataPath: string, digest: string): Promise<void> {
    await this.#lock.shared(async () => {
      const target = this.blobPath(digest);
      const dir = join(target, '..');
      await mkdir(dir, { recursive: true });
      await rename(dataPath, target);
      await fsyncDir(dir);
    });
  }
}

async function releaseIngest(dir: string): Promise<void> {
  heldRefs.delete(dir);
  await rm(join(dir, 'lock'), { force: true });
}

/**
 * mkdir -p of an ingest directory that a writer discarding the same ref may rmdir at any moment:
 * Node's recursive mkdir meets EEXIST, then stats the directory to check it, and reports ENOENT
 * when the rmdir came in between. Such an ENOENT is tried again (bounded: a store root that is
 * really gone still fails).
 */
async function makeIngestDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(dir, { recursive: true });
      return;
    } catch (e) {
      if (!isENOENT(e) || attempt >= 100) throw e;
    }
  }
}

/**
 * Discards an ingest we hold: its data first, then our lock, then the directory if it is empty.
 * A writer waiting for the same ref may create its lock in the directory as soon as ours is gone
 * (it re-creates the directory if needed), so the final rmdir may find it not empty, or gone:
 * both are fine, the directory then belongs to that writer. A recursive rm would race with it.
 */
async function discardIngest(dir: string): Promise<void> {
  const names = await readdir(dir).catch((e) => (isENOENT(e) ? [] : Promise.reject(e)));
  for (const name of names) if (name !== 'lock') await rm(join(dir, name), { recursive: true, force: true });
  await releaseIngest(dir);
  await rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST' && e.code !== 'ENOENT') throw e;
  });
}

class IngestWriter implements ContentWriter {
  readonly ref: string;
  readonly expected: Expected;
  #store: LocalContentStore;
  #dir: string;
  #fh: import('node:fs/promises').FileHandle;
  #hash: Hash;
  #offset: number;
  #done = false;

  private constructor(
    store: LocalContentStore,
    ref: string,
    dir: string,
    expected: Expected,
    fh: import('node:fs/promises').FileHandle,
    hash: Hash,
    offset: number,
  ) {
    this.#store = store;
    this.ref = ref;
    this.#dir = dir;
    this.expected = expected;
    this.#fh = fh;
    this.#hash = hash;
    this.#offset = offset;
  }

  static async open(store: LocalContentStore, ref: string, dir: string, expected: Expected): Promise<IngestWriter> {
    const algorithm = parseDigest(expected.digest).algorithm;
    const dataPath = join(dir, 'data');
    const expPath = join(dir, 'expected.json');
    const previous = await readFile(expPath, 'utf8')
      .then((s) => JSON.parse(s) as Expected)
      .catch(() => undefined);
    const resumable = previous?.digest === expected.digest;
    if (!resumable) {
      await rm(dataPath, { force: true });
      await atomicWriteFile(expPath, JSON.stringify(expected));
    }
    const fh = await open(dataPath, 'a+');
    const hash = createHash(algorithm);
    let offset = 0;
    // Re-hash what a previous (crashed or interrupted) writer left, so the digest covers it all.
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      offset += bytesRead;
    }
    if (expected.size !== undefined && offset > expected.size) {
      await fh.truncate(0);
      return new IngestWriter(store, ref, dir, expected, fh, createHash(algorithm), 0);
    }
    return new IngestWriter(store, ref, dir, expected, fh, hash, offset);
  }

  get offset(): number {
    return this.#offset;
  }

  #live(): void {
    if (this.#done) throw invalidArgument(`ingest ${this.ref}: writer already closed`);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#live();
    if (this.expected.size !== undefined && this.#offset + chunk.length > this.expected.size)
      throw invalidArgument(
        `ingest ${this.ref}: content for ${this.expected.digest} exceeds the expected size ${this.expected.size}`,
      );
    let written = 0;
    while (written < chunk.length) {
      const { bytesWritten } = await this.#fh.write(chunk, written, chunk.length - written);
      written += bytesWritten;
    }
    this.#hash.update(chunk);
    this.#offset += chunk.length;
  }

  async truncate(): Promise<void> {
    this.#live();
    await this.#fh.truncate(0);
    this.#hash = createHash(parseDigest(this.expected.digest).algorithm);
    this.#offset = 0;
  }

  async commit(): Promise<ContentInfo> {
    this.#live();
    this.#done = true;
    let matches: boolean;
    let actual: string;
    try {
      await this.#fh.sync();
      await this.#fh.close();
      actual = `${parseDigest(this.expected.digest).algorithm}:${this.#hash.digest('hex')}`;
      matches =
        (this.expected.size === undefined || this.#offset === this.expected.size) && actual === this.expected.digest;
      if (matches) await this.#store._publish(join(this.#dir, 'data'), this.expected.digest);
    } catch (e) {
      // The data stays for a later writer to resume (or gc to collect); the lock goes with us.
      await releaseIngest(this.#dir);
      throw e;
    }
    if (!matches) {
      await discardIngest(this.#dir);
      throw invalidArgument(
        `ingest ${this.ref}: content does not match: expected ${this.expected.digest} (${this.expected.size ?? '?'} bytes), got ${actual} (${this.#offset} bytes)`,
      );
    }
    await discardIngest(this.#dir);
    return await this.#store.info(this.expected.digest);
  }

  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#fh.sync().catch(() => {});
    await this.#fh.close().catch(() => {});
    await releaseIngest(this.#dir);
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#fh.close().catch(() => {});
    await discardIngest(this.#dir);
  }
}
