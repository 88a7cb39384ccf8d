// Containers and their tasks, as berthd's wire adapters see them: one method per verb, each
// resolving the container the caller named and handing it to the file that does the verb:
//   create            container-create.ts   (request → snapshot, bundle, row)
//   start, run        container-start.ts    (rootfs, netns, shim, runtime start, rollback)
//   an exit           container-exit.ts     (record, release, waiters, restart policy, --rm)
//   stop, kill        container-stop.ts     pause, unpause  container-pause.ts
//   remove            container-remove.ts   wait            container-wait.ts
//   exec              exec-registry.ts      logs, attach    container-io.ts
//   ps, inspect       container-queries.ts  stats, top      container-stats.ts
//   recover           container-recovery.ts
//   cp, export        container-archive.ts  (through container-rootfs.ts, also of a stopped container)
//   diff              container-changes.ts  commit          container-commit.ts
//   rename            container-rename.ts
//   update            container-update.ts
//   network connect, disconnect   container-connect.ts
// What they share (paths, the lock, the tasks, the waiters, recording a status) is
// container-context.ts. The metadata row is the record; the shim's exit.json is the truth about the
// process (docs/engine.md).
//
// Lifecycle of the host resources a container holds, all made at start and released when its task
// exits (so a stopped container holds nothing but its snapshot, its directory and its row):
//   rootfs mount <root>/containers/<id>/rootfs, network namespace + attachments, shim + runtime state.
// Must never: leave one of those behind on a failed start, or restart a container the user stopped.
import type { Duplex } from 'node:stream';
import { type Container, ContainerContext, type ContainerServiceOptions } from './container-context.ts';
import { createContainer } from './container-create.ts';
import { handleExit } from './container-exit.ts';
import { attachContainer, containerLogs, resizeContainer, stdinEndsWithClient } from './container-io.ts';
import { pauseContainer, unpauseContainer } from './container-pause.ts';
import { inspectContainer, listContainers, processUser } from './container-queries.ts';
import { type RecoveryReport, recoverContainers } from './container-recovery.ts';
import { removeContainer } from './container-remove.ts';
import { startAttached, startContainer } from './container-start.ts';
import { containerStats, containerTop } from './container-stats.ts';
import { killContainer, stopContainer } from './container-stop.ts';
import { waitExit, waitNextExit, waitRemoved } from './container-wait.ts';
import { archivePath, extractInto, type PathStat, statPath } from './container-archive.ts';
import { type Change, containerChanges } from './container-changes.ts';
import type { CommitRequest, CommitResult } from './container-commit.ts';
import { type ConnectOptions, connectNetwork, disconnectNetwork } from './container-connect.ts';
import { stopAllDns } from './container-dns.ts';
import { renameContainer } from './container-rename.ts';
import { updateContainer } from './container-update.ts';
import { withDetachKeys } from './detach-keys.ts';
import { ExecRegistry } from './exec-registry.ts';
import { HealthMonitor } from './health-monitor.ts';
import type { Readable, Writable } from 'node:stream';
import type {
  AttachOptions,
  ContainerDetails,
  ContainerFilter,
  ContainerSummary,
  CreateRequest,
  ExecRequest,
  ExitResult,
  LogLine,
  LogOptions,
  StatsResult,
  TopResult,
  UpdateRequest,
} from './types.ts';

export type { ContainerServiceOptions };

export class ContainerService {
  readonly #ctx: ContainerContext;
  readonly #execs: ExecRegistry;
  readonly #health: HealthMonitor;

  constructor(o: ContainerServiceOptions) {
    const ctx = new ContainerContext(o);
    ctx.tasks.listen((id, handle, exit, error) => handleExit(ctx, id, handle, exit, error));
    this.#ctx = ctx;
    this.#execs = new ExecRegistry(ctx);
    this.#health = new HealthMonitor(ctx, this.#execs);
    ctx.health = this.#health;
  }

  /** By full id, exact name, or unique id prefix (as docker resolves). */
  resolve(word: string): Container {
    return this.#ctx.store.findContainer(word);
  }

  create(req: CreateRequest): Promise<{ id: string; name: string; warnings: string[] }> {
    return createContainer(this.#ctx, req);
  }

  start(word: string): Promise<void> {
    return startContainer(this.#ctx, this.resolve(word).id);
  }

  /** Starts the container with a client attached before its process runs: no output is missed. */
  async startAttached(word: string, o: AttachOptions = {}): Promise<Duplex> {
    return withDetachKeys(await startAttached(this.#ctx, this.resolve(word).id), o);
  }

  /**
   * `run` in one call: create, then start (with a client attached before the process runs, when
   * `attach`), so the CLI makes one request where it made two. A start that fails leaves the
   * container created, as docker's run does, except under --rm, which removes it.
   */
  async run(
    req: CreateRequest,
    o: { attach: true } & AttachOptions,
  ): Promise<{ id: string; name: string; stream: Duplex }>;
  async run(req: CreateRequest, o: { attach: false }): Promise<{ id: string; name: string }>;
  async run(
    req: CreateRequest,
    o: { attach: boolean } & AttachOptions,
  ): Promise<{ id: string; name: string; stream?: Duplex }> {
    const { id, name } = await this.create(req);
    try {
      if (o.attach) return { id, name, stream: withDetachKeys(await startAttached(this.#ctx, id), o) };
      await startContainer(this.#ctx, id);
      return { id, name };
    } catch (e) {
      if (req.autoRemove)
        await removeContainer(this.#ctx, id, { force: true, anonymousVolumes: true }).catch((x) =>
          this.#ctx.log(`remove ${id} after its failed start: ${(x as Error).message}`),
        );
      throw e;
    }
  }

  list(f: ContainerFilter = {}): ContainerSummary[] {
    return listContainers(this.#ctx, f);
  }

  inspect(word: string): ContainerDetails {
    return inspectContainer(this.#ctx, word);
  }

  /** The uid, gid and supplementary groups of the container's process (undefined before its first start). */
  processUser(word: string): { uid: number; gid: number; additionalGids: number[] } | undefined {
    return processUser(this.#ctx, word);
  }

  stop(word: string, timeoutSec?: number, signal?: string): Promise<void> {
    return stopContainer(this.#ctx, this.resolve(word).id, timeoutSec, signal);
  }

  kill(word: string, signal = 'SIGKILL'): Promise<void> {
    return killContainer(this.#ctx, this.resolve(word).id, signal);
  }

  pause(word: string): Promise<void> {
    return pauseContainer(this.#ctx, this.resolve(word).id);
  }

  unpause(word: string): Promise<void> {
    return unpauseContainer(this.#ctx, this.resolve(word).id);
  }

  /** Resolves when the container is not running: its last exit, or the next one. */
  wait(word: string): Promise<ExitResult> {
    return waitExit(this.#ctx, word);
  }

  /** docker's `wait --condition next-exit`: the next exit, even of a container stopped now. */
  waitNextExit(word: string): Promise<ExitResult> {
    return waitNextExit(this.#ctx, word);
  }

  /** docker's `wait --condition removed`: resolves once the container is wholly gone. */
  waitRemoved(word: string): Promise<ExitResult> {
    return waitRemoved(this.#ctx, word);
  }

  remove(word: string, opts: { force?: boolean; volumes?: boolean; anonymousVolumes?: boolean } = {}): Promise<void> {
    return removeContainer(this.#ctx, this.resolve(word).id, opts);
  }

  stats(word: string): Promise<StatsResult> {
    return containerStats(this.#ctx, this.resolve(word).id);
  }

  /** `psArgs`: the host's ps's options (docker's `top CONTAINER aux`); without them the processes are read from /proc. */
  top(word: string, psArgs?: string[]): Promise<TopResult> {
    return containerTop(this.#ctx, this.resolve(word).id, psArgs);
  }

  logs(word: string, opts: LogOptions, signal?: AbortSignal): AsyncGenerator<LogLine> {
    return containerLogs(this.#ctx, this.resolve(word).id, opts, signal);
  }

  async attach(word: string, o: AttachOptions = {}): Promise<Duplex> {
    return withDetachKeys(await attachContainer(this.#ctx, this.resolve(word).id), o);
  }

  /** Whether the end of an attached client's input closes the container's stdin (stdinOnce). */
  stdinEndsWithClient(word: string): boolean {
    return stdinEndsWithClient(this.#ctx, this.resolve(word).id);
  }

  async resize(word: string, rows: number, cols: number): Promise<void> {
    return resizeContainer(this.#ctx, this.resolve(word).id, rows, cols);
  }

  exec(word: string, r: ExecRequest): Promise<{ execId: string }> {
    return this.#execs.exec(this.resolve(word).id, r);
  }

  /**
   * An exec started with its caller already attached (`berth exec` in one request): the shim holds
   * the process's output until the attach, so none is missed, and its exit frame ends the stream.
   */
  async execAttached(word: string, r: ExecRequest, o: AttachOptions = {}): Promise<{ execId: string; stream: Duplex }> {
    const { execId } = await this.#execs.exec(this.resolve(word).id, { ...r, attach: true });
    try {
      return { execId, stream: withDetachKeys(await this.#execs.attach(execId), o) };
    } catch (e) {
      // Nobody will read it: the process must not wait out the shim's attach deadline and run on.
      await this.#execs.kill(execId).catch(() => {});
      throw e;
    }
  }

  execLogs(execId: string, signal?: AbortSignal): AsyncGenerator<LogLine> {
    return this.#execs.logs(execId, signal);
  }

  execWait(execId: string): Promise<ExitResult> {
    return this.#execs.wait(execId);
  }

  async execAttach(execId: string, o: AttachOptions = {}): Promise<Duplex> {
    return withDetachKeys(await this.#execs.attach(execId), o);
  }

  execKill(execId: string, signal?: NodeJS.Signals): Promise<void> {
    return this.#execs.kill(execId, signal);
  }

  execResize(execId: string, rows: number, cols: number): Promise<void> {
    return this.#execs.resize(execId, rows, cols);
  }

  rename(word: string, newName: string): Promise<void> {
    return renameContainer(this.#ctx, this.resolve(word).id, newName);
  }

  /** docker's network connect: joins now when running, else at its next start. */
  connect(word: string, network: string, o: ConnectOptions = {}): Promise<void> {
    return connectNetwork(this.#ctx, this.resolve(word).id, network, o);
  }

  /** docker's network disconnect: leaves now when running; the container is not on it at its next start. */
  disconnect(word: string, network: string): Promise<void> {
    return disconnectNetwork(this.#ctx, this.resolve(word).id, network);
  }

  /** New resource limits (applied to a running task's cgroup) and restart policy, recorded for inspect and the next start. */
  update(word: string, u: UpdateRequest): Promise<void> {
    return updateContainer(this.#ctx, this.resolve(word).id, u);
  }

  /** docker's diff: what the container changed in its filesystem (overlay snapshotter). */
  changes(word: string): Promise<Change[]> {
    return containerChanges(this.#ctx, this.resolve(word).id);
  }

  /** The stat of a path in the container's filesystem (cp's HEAD). */
  statPath(word: string, path: string): Promise<PathStat> {
    return statPath(this.#ctx, this.resolve(word).id, path);
  }

  /** A path of the container's filesystem as a tar on `out` ('/' is export); `onStat` before the first byte. */
  archive(word: string, path: string, out: Writable, onStat?: (s: PathStat) => void): Promise<void> {
    return archivePath(this.#ctx, this.resolve(word).id, path, out, onStat);
  }

  /** A tar extracted into the container's directory `path` (cp into a container). */
  extract(word: string, path: string, input: Readable): Promise<void> {
    return extractInto(this.#ctx, this.resolve(word).id, path, input);
  }

  /** The container's writable layer as a new image. */
  async commit(word: string, req: CommitRequest): Promise<CommitResult> {
    const id = this.resolve(word).id;
    // Imported by the first commit: it brings the builder's layer writing (tar-stream), not needed at start.
    const { commitContainer } = await import('./container-commit.ts');
    return commitContainer(this.#ctx, id, req);
  }

  /**
   * After berthd (re)starts: reconnect to every shim, record exits that happened while it was down,
   * apply restart policies, and release what crashed operations left. `otherNetnsOwners`: ids (pods)
   * whose network namespaces and attachments are not leftovers.
   */
  async recover(otherNetnsOwners: Iterable<string> = []): Promise<RecoveryReport> {
    const report = await recoverContainers(this.#ctx, otherNetnsOwners);
    // The healthchecks of what still runs resume where the last berthd left them.
    for (const c of this.#ctx.store.listContainers())
      if (c.status === 'running' && this.#ctx.tasks.get(c.id)) this.#health.begin(c.id, false);
    return report;
  }

  /** Stops serving: timers and watchers go; containers and shims keep running. */
  close(): void {
    this.#ctx.closed = true;
    this.#health.closeAll();
    stopAllDns(this.#ctx);
    for (const t of this.#ctx.restartTimers.values()) clearTimeout(t);
    this.#ctx.restartTimers.clear();
  }
}
