// What the container verbs share: berthd's services, where a container's files are, the runtime of
// a class, the running tasks, the waiters, the per-container lock, and the one place a container's
// status is recorded. Each verb is its own file (container-create.ts, container-start.ts,
// container-exit.ts, …) and takes this context; container-service.ts wires them (docs/engine.md).
//
// Locking, one rule for every verb: whatever reads a container's status to decide, acts on its task
// and records the outcome (start, restart, stop's signal, kill, pause, unpause, exit handling,
// remove) does so under `lock` for that id, so no two of them interleave; a verb that then waits for
// the exit (stop, remove) waits outside the lock, since the exit is recorded under it.
// Must never: hold a verb's logic; hold state that belongs in the metadata store.
import { join } from 'node:path';
import type { ImageService } from '../images/image-service.ts';
import { checkTransition, isLive } from '../metadata/container-status.ts';
import type { ContainerRecord, ContainerState, MetadataStore } from '../metadata/metadata-store.ts';
import type { EventBus } from './event-bus.ts';
import { ExitWaiters } from './exit-waiters.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import type { NetworkBackend } from './network-backend.ts';
import { type RuntimeClass, runtimeOfClass } from './runtime-classes.ts';
import type { RuntimeCli } from './runtime-cli.ts';
import { TaskMonitor } from './task-monitor.ts';
import type { TaskSupervisor } from './task-supervisor.ts';
import type { ContainerConfig } from './types.ts';
import type { VolumeService } from './volume-service.ts';

export type { ContainerConfig };
export type Container = ContainerRecord<ContainerConfig>;

export type ContainerServiceOptions = {
  root: string;
  runRoot: string;
  store: MetadataStore<ContainerConfig>;
  images: ImageService;
  events: EventBus;
  volumes: VolumeService;
  network: NetworkBackend;
  supervisor: TaskSupervisor;
  /** Runtime class name → its binary and whether its library runs in-process (runtime-classes.ts). */
  runtimes: Record<string, RuntimeClass>;
  defaultRuntime: string;
  /** The IPC mode of a container created without one (namespace-modes.ts); default private. */
  defaultIpcMode?: 'private' | 'shareable';
  /** Where CDI spec files are read, lowest priority first (default /etc/cdi, /var/run/cdi). */
  cdiSpecDirs?: string[];
  log?: (msg: string) => void;
};

/** The healthcheck schedules (health-monitor.ts): begun at a start (fresh) or a resume, ended when the task stops running. */
export interface HealthSchedules {
  begin(id: string, fresh: boolean): void;
  end(id: string): void;
}

/** Every container's snapshot is named this plus its id (recovery finds orphans by it). */
export const SNAPSHOT_PREFIX = 'berth-container-';

export class ContainerContext {
  readonly o: ContainerServiceOptions;
  readonly store: MetadataStore<ContainerConfig>;
  readonly lock = new KeyedMutex();
  readonly tasks: TaskMonitor;
  readonly waiters = new ExitWaiters();
  /** Pending restarts (restart policy), by id: a container here is "restarting". */
  readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Removals under way: an exit now neither restarts nor auto-removes. */
  readonly removing = new Set<string>();
  /** Log followers per container: an auto-removal lets them read the last lines first. */
  readonly readers = new Map<string, number>();
  /** Generated names of creates under way, not yet in the store. */
  readonly namesInFlight = new Set<string>();
  /** Starts under way: their runtime may be between making /berth and /berth/<id> (see cgroup-parent.ts). */
  startsInFlight = 0;
  /** Installed by container-service.ts (the schedules run probes through its exec registry). */
  health: HealthSchedules = { begin() {}, end() {} };
  /** berthd is closing: exits and restarts are left for the next berthd's recovery. */
  closed = false;

  constructor(o: ContainerServiceOptions) {
    this.o = o;
    this.store = o.store;
    this.tasks = new TaskMonitor((m) => this.log(m));
  }

  /** The bundle: config.json, rootfs, the /etc files, the log. */
  dir(id: string): string {
    return join(this.o.root, 'containers', id);
  }

  rootfs(id: string): string {
    return join(this.dir(id), 'rootfs');
  }

  /** Half the id: the shim's attach socket path must fit in sun_path (108 bytes) under any run root. */
  stateDir(id: string): string {
    return join(this.o.runRoot, 'shims', id.slice(0, 32));
  }

  logPath(id: string): string {
    // A pod's container logs where its kubelet reads, in the CRI format (CreateRequest.sandbox.logPath).
    const cri = this.store.getContainer(id).config.request.sandbox?.logPath;
    return cri || join(this.dir(id), `${id}-json.log`);
  }

  runtime(name: string): RuntimeCli {
    return runtimeOfClass(this.o.runtimes, this.o.runRoot, name);
  }

  log(msg: string): void {
    this.o.log?.(msg);
  }

  /** An event's attributes for the container (docker's: name, image, labels). */
  attrs(c: Container, extra: Record<string, string> = {}): Record<string, string> {
    return { name: c.name, image: c.imageRef, ...c.labels, ...extra };
  }

  /**
   * Records a change of the container's state: the one place a status is written, refusing a status
   * that cannot follow the recorded one (container-status.ts). Callers hold `lock` for the id.
   */
  record(id: string, patch: Partial<ContainerState>): Container {
    if (patch.status !== undefined) {
      const cur = this.store.getContainer(id);
      checkTransition(cur.name, cur.status, patch.status);
    }
    return this.store.updateState(id, patch);
  }

  /** Resolves once the current task's exit has been recorded (at once if none runs). */
  exitRecorded(id: string): Promise<unknown> {
    const c = this.store.getContainer(id);
    // A stop racing a restart: the next recorded exit also satisfies it.
    return isLive(c.status) ? this.waiters.nextExit(id) : Promise.resolve();
  }

  cancelRestart(id: string): void {
    const t = this.restartTimers.get(id);
    if (t) clearTimeout(t);
    this.restartTimers.delete(id);
  }
}
