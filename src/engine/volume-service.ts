// Named volumes with the local driver: a directory <root>/volumes/<name>/_data that outlives the
// containers using it until the volume is removed. Volumes used by a container cannot be removed
// (unless forced, and then only when no running container uses them).
// Must never: delete a directory it did not make (only paths under its own root).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition, invalidArgument, isBerthError, notFound } from '../errors/errors.ts';
import type { MetadataStore, VolumeRecord } from '../metadata/metadata-store.ts';
import type { EventBus } from './event-bus.ts';
import type { ContainerConfig, VolumeInfo } from './types.ts';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class VolumeService {
  readonly #dir: string;
  readonly #store: MetadataStore<ContainerConfig>;
  readonly #events: EventBus;

  constructor(root: string, store: MetadataStore<ContainerConfig>, events: EventBus) {
    this.#dir = join(root, 'volumes');
    this.#store = store;
    this.#events = events;
  }

  #usedBy(name: string): string[] {
    const out: string[] = [];
    for (const c of this.#store.listContainers()) {
      if (c.config.request.mounts?.some((m) => m.type === 'volume' && m.source === name)) out.push(c.id);
    }
    return out;
  }

  #info(v: VolumeRecord): VolumeInfo {
    return { ...v, usedBy: this.#usedBy(v.name) };
  }

  async create(name: string, opts: { labels?: Record<string, string>; driver?: string } = {}): Promise<VolumeInfo> {
    if (!NAME.test(name))
      throw invalidArgument(`volume name ${JSON.stringify(name)}: expected [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
    const driver = opts.driver ?? 'local';
    if (driver !== 'local') throw invalidArgument(`volume driver ${JSON.stringify(driver)}: only "local" is supported`);
    const mountpoint = join(this.#dir, name, '_data');
    await mkdir(mountpoint, { recursive: true, mode: 0o755 });
    try {
      const v = this.#store.insertVolume({
        name,
        driver,
        mountpoint,
        labels: opts.labels ?? {},
        createdAt: new Date().toISOString(),
      });
      this.#events.publish('volume', 'create', name, { driver });
      return this.#info(v);
    } catch (e) {
      if (isBerthError(e, 'BERTH_ERR_ALREADY_EXISTS')) return this.#info(this.#store.getVolume(name)!);
      throw e;
    }
  }

  /** The volume, made on first use (as `docker run -v name:/path` does). */
  async ensure(name: string): Promise<VolumeInfo> {
    const v = this.#store.getVolume(name);
    return v ? this.#info(v) : this.create(name);
  }

  inspect(name: string): VolumeInfo {
    const v = this.#store.getVolume(name);
    if (!v) throw notFound(`no such volume: ${name}`);
    return this.#info(v);
  }

  list(): VolumeInfo[] {
    return this.#store.listVolumes().map((v) => this.#info(v));
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const v = this.#store.getVolume(name);
    if (!v) {
      if (opts.force) return;
      throw notFound(`no such volume: ${name}`);
    }
    const users = this.#usedBy(name);
    if (users.length > 0)
      throw failedPrecondition(
        `volume ${name} is in use by container(s) ${users.map((u) => u.slice(0, 12)).join(', ')}; remove them first`,
      );
    this.#store.deleteVolume(name);
    await rm(join(this.#dir, name), { recursive: true, force: true });
    this.#events.publish('volume', 'destroy', name, {});
  }

  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const v of this.#store.listVolumes()) {
      if (this.#usedBy(v.name).length > 0) continue;
      await this.remove(v.name);
      removed.push(v.name);
    }
    return removed;
  }
}
