// The runtime's state: one directory per container under --root, holding state.json and the exec
// FIFO. Owns the on-disk layout and nothing else: it never decides a container's status.
// state.json is written atomically (temp file, rename): a runtime killed at any point leaves the old
// record or the new one, never a torn one. It is not fsync'd (nor is it by runc or crun): it
// describes processes, which do not survive a power loss, and lives in /run (tmpfs) on most hosts;
// two fsyncs per write cost ~1 ms each on a disk, several per create. If a power loss ever leaves
// a torn file on a disk-backed --root, `delete --force` removes it (see load).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { alreadyExists, BerthError, ErrorCode, invalidArgument, notFound } from '../errors/errors.ts';
import { isValidContainerId, validateContainerId } from '../oci/container-id.ts';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';
import { atomicWriteFileSync } from '../sys/atomic-file.ts';

/** What berth-runtime records about a container. Version it: a newer berth must read an older file. */
export interface ContainerRecord {
  version: 1;
  id: string;
  /** Host pid of the container's init; 0 before it exists. */
  pid: number;
  /** /proc/<pid>/stat start time of that init: with the pid, its identity (a reused pid never matches). */
  initStartTime: string;
  bundle: string;
  rootfs: string;
  /** RFC 3339 creation time. */
  created: string;
  owner: string;
  annotations: Record<string, string>;
  /** The validated config, kept for delete (poststop hooks, cgroups) after the bundle may be gone. */
  config: RuntimeConfig;
  /** cgroup directories the runtime made, per controller, so delete removes exactly those. */
  cgroupPaths: Record<string, string>;
  /** "v1", "hybrid" or "v2": how the paths above are to be driven. */
  cgroupMode?: string;
}

/** A state.json that cannot be parsed (torn by a power loss on a disk-backed --root, or damaged). */
export class UnreadableStateError extends BerthError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.FailedPrecondition, message, cause === undefined ? undefined : { cause });
  }
}

export class StateStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  dir(id: string): string {
    validateContainerId(id);
    return join(this.root, id);
  }

  fifoPath(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }

  /** Makes the container's directory; fails if the id is taken. */
  reserve(id: string): string {
    const d = this.dir(id);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`container with id ${id} already exists`);
      throw e;
    }
    return d;
  }

  /** The verbs file of berth-runtime's native front (verbs-file.ts), made once at create. */
  saveVerbs(id: string, data: Uint8Array): void {
    atomicWriteFileSync(join(this.dir(id), 'verbs'), data, 0o600, { durable: false });
  }

  save(rec: ContainerRecord): void {
    atomicWriteFileSync(join(this.dir(rec.id), 'state.json'), JSON.stringify(rec), 0o600, { durable: false });
  }

  /** The record, or a NotFound error naming the id. A directory without state.json is an aborted create. */
  load(id: string): ContainerRecord {
    let text: string;
    try {
      text = readFileSync(join(this.dir(id), 'state.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`container ${id} does not exist`);
      throw e;
    }
    let rec: ContainerRecord;
    try {
      rec = JSON.parse(text) as ContainerRecord;
    } catch (e) {
      throw new UnreadableStateError(
        `${join(this.dir(id), 'state.json')}: unreadable (${(e as Error).message}); \`delete --force ${id}\` removes the container's directory`,
        e,
      );
    }
    if (typeof rec !== 'object' || rec === null)
      throw new UnreadableStateError(
        `${join(this.dir(id), 'state.json')}: not a JSON object; \`delete --force ${id}\` removes the container's directory`,
      );
    if (rec.version !== 1)
      throw invalidArgument(`${join(this.dir(id), 'state.json')}: unknown state version ${rec.version}`);
    return rec;
  }

  /** Ids of every container directory (including aborted creates without state.json). */
  ids(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && isValidContainerId(e.name))
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}
