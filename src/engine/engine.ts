// berthd's services, wired at start: images (ImageService), containers and tasks, pod sandboxes,
// events, volumes, networks, over one metadata store. Each service is its own class behind its own file; this module
// only builds them in order, runs recovery, and closes them. The wire (src/api) calls them.
// Must never: serve a socket, parse flags, or stop containers on close (they outlive berthd).
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, hostname, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Builder } from '../build/builder.ts';
import { detectCgroupMode } from '../cgroups/mounts.ts';
import { ImageService, type SnapshotterName } from '../images/image-service.ts';
import { isLive } from '../metadata/container-status.ts';
import { ContainerStepRunner, removeBuildLeftovers } from './build-runner.ts';
import { MetadataStore } from '../metadata/metadata-store.ts';
import { backfillImageIds } from './image-id-backfill.ts';
import { ContainerService } from './container-service.ts';
import { EventBus } from './event-bus.ts';
import { faultPoint, faultPointsArmed } from './fault-points.ts';
import { releaseLeasesOfDeadOwners } from './lease-recovery.ts';
import { PodService } from './pod-service.ts';
import { type RuntimeClass, type RuntimeClassConfig, resolveRuntimeClasses } from './runtime-classes.ts';
import { checkDefaultIpcMode } from './namespace-modes.ts';
import type { NetworkBackend } from './network-backend.ts';
import { MODES } from './owned-modes.ts';
import type { TaskSupervisor } from './task-supervisor.ts';
import type { ContainerConfig, SystemInfo, VersionInfo } from './types.ts';
import { VolumeService } from './volume-service.ts';

export const ENGINE_VERSION = '0.1.0';
export const API_VERSION = '1';

export type EngineOptions = {
  root: string;
  runRoot: string;
  supervisor: TaskSupervisor;
  network: NetworkBackend;
  /** Runtime classes from berthd's config, over the built-in ones (src/engine/runtime-classes.ts). */
  runtimes?: Record<string, RuntimeClassConfig>;
  defaultRuntime?: string;
  /** The IPC mode of a container created without one: private (default) or shareable (dockerd's default-ipc-mode). */
  defaultIpcMode?: string;
  snapshotter?: 'auto' | SnapshotterName;
  /** berth-pause, the init of pod sandboxes (default: native/build/berth-pause). */
  pauseBinary?: string;
  /** Where CDI spec files are read, lowest priority first (default /etc/cdi, /var/run/cdi). */
  cdiSpecDirs?: string[];
  log?: (msg: string) => void;
};

/**
 * A kill between a blob's commit (the rename into blobs/) and the end of its ingest directory's
 * removal leaves an ingest that no pull will ever resume (the blob exists, so it is never fetched again):
 * drop those. Ingests of blobs not yet committed stay, for the next pull to resume.
 */
async function abortCommittedIngests(images: ImageService): Promise<string[]> {
  const aborted: string[] = [];
  for (const i of await images.content.ingests()) {
    // A kill during the ingest's removal can leave its directory empty (no expected.json): pull's
    // ref names the digest too (fetch-<algo>-<hex>).
    const m = /^fetch-(sha256|sha512)-([0-9a-f]+)$/.exec(i.ref);
    const digest = i.expected?.digest ?? (m ? `${m[1]}:${m[2]}` : undefined);
    if (i.active || !digest || !(await images.content.exists(digest))) continue;
    await images.content.abortIngest(i.ref);
    aborted.push(i.ref);
  }
  return aborted;
}

/** The host facts `info` reports (the Docker API's /info shows them): what berthd runs on and how it places cgroups. */
function hostInfo(): Pick<
  SystemInfo,
  | 'hostname'
  | 'kernelVersion'
  | 'operatingSystem'
  | 'osVersion'
  | 'cgroupVersion'
  | 'cgroupDriver'
  | 'ncpu'
  | 'memTotal'
> {
  let os = { name: 'Linux', version: '' };
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1];
    os = { name: get('PRETTY_NAME') ?? get('NAME') ?? 'Linux', version: get('VERSION_ID') ?? '' };
  } catch {
    // No os-release: the kernel's name stands.
  }
  let mode: string;
  try {
    mode = detectCgroupMode();
  } catch {
    mode = 'none';
  }
  return {
    hostname: hostname(),
    kernelVersion: release(),
    operatingSystem: os.name,
    osVersion: os.version,
    // Hybrid hosts put containers in the v1 hierarchies (src/cgroups), so they count as v1.
    cgroupVersion: mode === 'v2' ? '2' : mode === 'none' ? '' : '1',
    // berth writes the cgroup filesystem itself under /berth (no systemd slices).
    cgroupDriver: 'cgroupfs',
    ncpu: cpus().length,
    memTotal: totalmem(),
  };
}

/** What the APIs call of the builder. */
export type BuildVerbs = Pick<Builder, 'build' | 'prune'>;

export class Engine {
  readonly root: string;
  readonly runRoot: string;
  readonly store: MetadataStore<ContainerConfig>;
  readonly images: ImageService;
  readonly events: EventBus;
  readonly volumes: VolumeService;
  readonly network: NetworkBackend;
  readonly containers: ContainerService;
  readonly pods: PodService;
  /**
   * `berth build` (src/build), its RUN steps run as containers of this engine. The builder's code
   * (with tar writing) is imported by the first build or prune, not at start.
   */
  readonly builder: BuildVerbs;
  readonly runtimes: Record<string, RuntimeClass>;
  readonly defaultRuntime: string;

  private constructor(init: Omit<Engine, 'close' | 'info' | 'version'>) {
    this.root = init.root;
    this.runRoot = init.runRoot;
    this.store = init.store;
    this.images = init.images;
    this.events = init.events;
    this.volumes = init.volumes;
    this.network = init.network;
    this.containers = init.containers;
    this.pods = init.pods;
    this.builder = init.builder;
    this.runtimes = init.runtimes;
    this.defaultRuntime = init.defaultRuntime;
  }

  static async open(o: EngineOptions): Promise<Engine> {
    const root = resolve(o.root);
    const runRoot = resolve(o.runRoot);
    await mkdir(join(root, 'containers'), { recursive: true, mode: MODES.containers });
    await mkdir(join(runRoot, 'shims'), { recursive: true, mode: 0o700 });
    const store = new MetadataStore<ContainerConfig>(
      join(root, 'berthd.db'),
      faultPointsArmed ? { afterWrite: (op) => faultPoint(`metadata.${op}`) } : {},
    );
    // Leases live in berthd.db, and every container is a gc root of the image service (docs/metadata.md).
    const images = await ImageService.open({
      root,
      metadata: store,
      snapshotter: o.snapshotter ?? 'auto',
      ...(o.log ? { onNotice: o.log } : {}),
    });
    const backfilled = await backfillImageIds(store, images).catch((e: Error) => {
      o.log?.(`image ID backfill: ${e.message}`);
      return [] as string[];
    });
    if (backfilled.length > 0)
      o.log?.(`migration: image IDs of ${backfilled.length} containers are config digests now`);
    const events = new EventBus(store);
    const volumes = new VolumeService(root, store, events);
    const runtimes = resolveRuntimeClasses(o.runtimes);
    const defaultRuntime = o.defaultRuntime ?? process.env.BERTH_DEFAULT_RUNTIME ?? 'berth-runtime';
    await o.network.init();
    const containers = new ContainerService({
      root,
      runRoot,
      store,
      images,
      events,
      volumes,
      network: o.network,
      supervisor: o.supervisor,
      runtimes,
      defaultRuntime,
      defaultIpcMode: checkDefaultIpcMode(o.defaultIpcMode),
      ...(o.cdiSpecDirs ? { cdiSpecDirs: o.cdiSpecDirs } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
    const pods = new PodService({
      root,
      runRoot,
      store,
      events,
      images,
      network: o.network,
      supervisor: o.supervisor,
      containers,
      runtimes,
      defaultRuntime,
      ...(o.pauseBinary ? { pauseBinary: o.pauseBinary } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
    let loaded: Promise<Builder> | undefined;
    const load = () =>
      (loaded ??= import('../build/builder.ts').then(
        (m) => new m.Builder({ images, runner: new ContainerStepRunner(containers, store, images), root }),
      ));
    const builder: BuildVerbs = {
      build: async (...a) => (await load()).build(...a),
      prune: async () => (await load()).prune(),
    };
    const engine = new Engine({
      root,
      runRoot,
      store,
      images,
      events,
      volumes,
      network: o.network,
      containers,
      pods,
      builder,
      runtimes,
      defaultRuntime,
    });
    // Pods first: the network namespaces of the ready ones are not the containers' leftovers.
    const podsHolding = await pods.recover();
    const r = await containers.recover(podsHolding);
    const builds = await removeBuildLeftovers(containers, images).catch((e: Error) => {
      o.log?.(`build recovery: ${e.message}`);
      return [] as string[];
    });
    if (builds.length > 0) o.log?.(`recovery: removed what interrupted builds left: ${builds.join(', ')}`);
    const leases = await releaseLeasesOfDeadOwners(images.content).catch((e: Error) => {
      o.log?.(`pull lease recovery: ${e.message}`);
      return [] as string[];
    });
    const ingests = await abortCommittedIngests(images).catch((e: Error) => {
      o.log?.(`ingest recovery: ${e.message}`);
      return [] as string[];
    });
    o.log?.(
      `recovery: ${r.reconnected.length} reconnected, ${r.exited.length} exited while down, ${r.restarted.length} restarting, ${r.cleaned.length} leftovers cleaned, ${leases.length} leases of dead pulls released, ${ingests.length} ingests of committed blobs removed`,
    );
    events.publish('daemon', 'start', 'berthd', { root, runRoot });
    return engine;
  }

  version(): VersionInfo {
    return {
      version: ENGINE_VERSION,
      apiVersion: API_VERSION,
      os: process.platform,
      arch: process.arch,
      node: process.version,
    };
  }

  async info(): Promise<SystemInfo> {
    const all = this.store.listContainers();
    return {
      root: this.root,
      runRoot: this.runRoot,
      containers: all.length,
      running: all.filter((c) => c.status === 'running').length,
      paused: all.filter((c) => c.status === 'paused').length,
      stopped: all.filter((c) => !isLive(c.status)).length,
      images: (await this.images.list()).length,
      snapshotter: this.images.snapshotterName,
      runtimes: Object.fromEntries(Object.entries(this.runtimes).map(([name, c]) => [name, c.path])),
      defaultRuntime: this.defaultRuntime,
      networking: this.network.name,
      ...hostInfo(),
    };
  }

  /** Releases the database and timers; containers and their shims keep running. */
  async close(): Promise<void> {
    this.pods.close();
    this.containers.close();
    this.events.flush();
    await this.images.close();
    this.store.close();
  }
}
