// berth-runtime's library: the OCI container lifecycle (create, start, state, kill, delete, run,
// list) over a state directory, exactly as the runtime spec describes it. The CLI in
// src/cli/runtime is a thin adapter over this class. Status is never stored: it is derived from
// the init's identity (pid + start time) and the exec FIFO, so a crash can never leave it stale.
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { alreadyExists, BerthError, ErrorCode, failedPrecondition, invalidArgument } from '../errors/errors.ts';
import type { LinuxResources, Process, RuntimeConfig } from '../oci/runtime-spec.ts';
import { OCI_VERSION } from '../oci/runtime-spec.ts';
import { checkHostSupport, parseRuntimeConfig, parseRuntimeConfigFile } from '../oci/runtime-validate.ts';
import { validateContainerId } from '../oci/container-id.ts';
import { signalNumber } from '../oci/runtime-linux-tables.ts';
import * as native from '../sys/native.ts';
import { consoleFdInInit, driveInit, type LaunchedInit, launchInit } from '../sys/init-process.ts';
import { encodePlan, formatPlan } from '../sys/plan.ts';
import { isSameLiveProcess, procStat } from '../sys/procfs.ts';
import { type CgroupDriver, destroyCgroups, noCgroups } from './cgroup-driver.ts';
import { callerWindowSize, ConsoleEndpoint, relayTerminal } from './console.ts';
import { linuxHostFacts } from './host-facts.ts';
import { runHooks, runHooksWarn } from './hooks.ts';
import { buildCreatePlan, buildExecPlan } from './plan-builder.ts';
import { type ContainerRecord, StateStore, UnreadableStateError } from './state-store.ts';
import { encodeVerbsFile } from './verbs-file.ts';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /**
   * berth-init was spawned by another process, its parent for good (berth-shim --init, docs/shim.md;
   * berth-runtime's native front for its plan server): `fd` is this end of its sync socket (closed
   * here), and with `console` its fd consoleFdInInit(preserveFds) is the console socket on which it
   * sends the pty master (to whoever that process connected it to). No --console-socket here.
   */
  initSync?: { fd: number; console: boolean };
  /**
   * Like initSync, but asked for once the plan is built, so that nothing is spawned for a create
   * that fails before (berth-runtime's plan server, whose caller spawns berth-init): resolves with
   * this end of the sync socket. With a terminal, berth-init's console socket is the spawner's
   * business too.
   */
  spawnInit?: () => Promise<number>;
  /**
   * Called with the parsed config before anything is made; may throw to refuse the create (the
   * plan server hands back what it would not run as the Node verb does).
   */
  onConfig?: (config: RuntimeConfig) => void;
  /**
   * With initSync or spawnInit: the plan's foreground mode (berth-init's stage0 lives as long as the container
   * and exits with its status, for the spawner to wait on: berth-runtime's plan server, whose
   * caller runs the container in the foreground). The console socket, when given, is then at
   * consoleFdInInit(preserveFds).
   */
  foreground?: boolean;
}

/** The state document of the runtime spec, with runc's additions (rootfs, created, owner, the "paused" status). */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: Status;
  pid: number;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export interface ExecOptions {
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  /**
   * As CreateOptions.spawnInit (berth-runtime's plan server): another process spawns berth-init
   * once the plan is built, gives it the console socket when the process has a terminal, and
   * waits for stage0 itself; exec then returns 0 once the process runs.
   */
  spawnInit?: () => Promise<number>;
}

export interface RuntimeOptions {
  root: string;
  /** Where warnings go (failed poststart/poststop hooks …). */
  warn: (msg: string) => void;
  /** Debug lines (the plan, timings). */
  debug?: (msg: string) => void;
  /** Named points of an operation, for the timing breakdown (BERTH_TRACE_TIMING). */
  mark?: (what: string) => void;
  cgroups?: CgroupDriver;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Runtime {
  readonly store: StateStore;
  private readonly warn: (msg: string) => void;
  private readonly debug: (msg: string) => void;
  private readonly mark: (what: string) => void;
  private readonly cgroups: CgroupDriver;

  constructor(opts: RuntimeOptions) {
    this.store = new StateStore(opts.root);
    this.warn = opts.warn;
    this.debug = opts.debug ?? (() => {});
    this.mark = opts.mark ?? (() => {});
    this.cgroups = opts.cgroups ?? noCgroups;
  }

  /** The status of a recorded container, derived from the live system. */
  status(rec: ContainerRecord): Status {
    if (rec.pid <= 0) return 'creating';
    if (!isSameLiveProcess(rec.pid, rec.initStartTime)) return 'stopped';
    if (existsSync(this.store.fifoPath(rec.id))) return 'created';
    const cg = this.cgroups.load(rec);
    return cg && cg.state() !== 'thawed' ? 'paused' : 'running';
  }

  /** The container's cgroup manager; refuses containers without one (pause, ps, update, events need it). */
  private cgroupOf(rec: ContainerRecord, verb: string) {
    const cg = this.cgroups.load(rec);
    if (!cg) throw failedPrecondition(`${verb}: container ${rec.id} has no cgroup`);
    return cg;
  }

  async pause(id: string): Promise<void> {
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status !== 'running') throw failedPrecondition(`container ${id} is not running: ${status}`);
    await this.cgroupOf(rec, 'pause').freeze();
  }

  async resume(id: string): Promise<void> {
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status !== 'paused') throw failedPrecondition(`container ${id} is not paused: ${status}`);
    await this.cgroupOf(rec, 'resume').thaw();
  }

  /** Pids of every process in the container (its cgroup and sub-cgroups). */
  pids(id: string): number[] {
    const rec = this.store.load(id);
    if (this.status(rec) === 'stopped') return [];
    return this.cgroupOf(rec, 'ps').pids();
  }

  /** Changes the limits of a live container and records them. */
  async update(id: string, resources: LinuxResources): Promise<void> {
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status === 'stopped') throw failedPrecondition(`cannot update a stopped container ${id}`);
    await this.cgroupOf(rec, 'update').update(resources);
    rec.config.linux = {
      ...(rec.config.linux ?? {}),
      resources: mergeResources(rec.config.linux?.resources ?? {}, resources),
    };
    this.store.save(rec);
  }

  stats(id: string) {
    const rec = this.store.load(id);
    return this.cgroupOf(rec, 'events').stats();
  }

  /** How many times the kernel's OOM killer struck in the container's memory cgroup (v1 memory.oom_control, v2 memory.events). */
  oomKills(id: string): number {
    const rec = this.store.load(id);
    const v1 = rec.cgroupPaths.memory;
    const file = v1
      ? join(v1, 'memory.oom_control')
      : rec.cgroupPaths.unified
        ? join(rec.cgroupPaths.unified, 'memory.events')
        : undefined;
    if (!file) return 0;
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** The state document of the runtime spec, plus runc's rootfs, created and owner, and runc's "paused" status. */
  stateOf(rec: ContainerRecord): ContainerState {
    const status = this.status(rec);
    const s: ContainerState = {
      ociVersion: OCI_VERSION,
      id: rec.id,
      pid: status === 'stopped' ? 0 : rec.pid,
      status,
      bundle: rec.bundle,
      rootfs: rec.rootfs,
      created: rec.created,
      owner: rec.owner,
    };
    if (Object.keys(rec.annotations).length > 0) s.annotations = rec.annotations;
    return s;
  }

  state(id: string) {
    return this.stateOf(this.store.load(id));
  }

  list(): ContainerState[] {
    const out: ContainerState[] = [];
    for (const id of this.store.ids()) {
      try {
        out.push(this.stateOf(this.store.load(id)));
      } catch (e) {
        // A torn record is left out, with its story, rather than hiding every other container.
        if (e instanceof UnreadableStateError) this.warn(e.message);
        else if (!(e instanceof BerthError && e.code === ErrorCode.NotFound)) throw e;
      }
    }
    return out;
  }

  /** create: everything up to the user program, which waits on the exec FIFO. */
  async create(id: string, opts: CreateOptions): Promise<ContainerRecord> {
    const spawned = opts.initSync !== undefined || opts.spawnInit !== undefined;
    const { rec, launched } = await this.launch(id, opts, spawned && opts.foreground ? 'foreground' : 'create');
    // stage0 is the spawning process's child: its status is that process's to judge.
    if (spawned) return rec;
    const status = await launched.exited;
    if (status !== 0) this.warn(`berth-init stage0 exited with status ${status}`);
    return rec;
  }

  /** start: releases the init from the exec FIFO, then runs the poststart hooks. */
  async start(id: string): Promise<void> {
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status === 'stopped') throw failedPrecondition(`cannot start a container that has stopped`);
    if (status === 'running') throw failedPrecondition(`cannot start an already running container`);
    if (status !== 'created') throw failedPrecondition(`cannot start a container in the ${status} state`);
    await this.releaseFifo(rec);
    // The process was started, whether or not it has already exited: poststart sees it running.
    const errors = await runHooksWarn(
      'poststart',
      rec.config.hooks?.poststart,
      JSON.stringify({ ...this.stateOf(rec), status: 'running', pid: rec.pid }),
    );
    for (const e of errors) this.warn(e.message);
  }

  /** run in the foreground: create without a FIFO, wait for the container, delete it; returns its exit status. */
  async run(id: string, opts: CreateOptions): Promise<number> {
    const { rec, launched, master } = await this.launch(id, opts, 'foreground');
    const unforward = forwardSignals(launched);
    try {
      const relay = master === undefined ? undefined : relayTerminal(master, launched.exited);
      await this.releaseFifo(rec);
      const errors = await runHooksWarn(
        'poststart',
        rec.config.hooks?.poststart,
        JSON.stringify({ ...this.stateOf(rec), status: 'running', pid: rec.pid }),
      );
      for (const e of errors) this.warn(e.message);
      const status = await launched.exited;
      this.mark('container exited');
      await relay;
      return status;
    } finally {
      unforward();
      await this.delete(id, { force: true });
      this.mark('deleted');
    }
  }

  /**
   * exec: runs `proc` in the container's namespaces and cgroups. In the foreground it returns the
   * process's exit status; with `detach` it returns 0 once the process runs.
   */
  async exec(id: string, proc: Process, opts: ExecOptions): Promise<number> {
    const { rec, config } = this.execTarget(id, proc);
    const preserveFds = opts.preserveFds ?? 0;
    const terminal = config.process?.terminal === true;
    const term = opts.spawnInit ? undefined : await ConsoleEndpoint.open(opts.consoleSocket, terminal, !opts.detach);
    try {
      const proc = { ...config.process! };
      if (term && !opts.consoleSocket) proc.consoleSize ??= callerWindowSize();
      const ops = this.execOps(
        rec,
        config,
        proc,
        opts.detach ? 'detach' : 'foreground',
        preserveFds,
        term || (opts.spawnInit && terminal) ? consoleFdInInit(preserveFds) : undefined,
      );
      if (opts.spawnInit) {
        const launched = await driveInit(await opts.spawnInit(), { plan: encodePlan(ops) });
        if (opts.pidFile) writePidFile(opts.pidFile, launched.pid);
        return 0;
      }
      const launched = await launchInit({ plan: encodePlan(ops), preserveFds, consoleSocketFd: term?.fd });
      const master = term?.receiveMaster();
      term?.close();
      if (opts.pidFile) writePidFile(opts.pidFile, launched.pid);
      if (opts.detach) {
        await launched.exited;
        return 0;
      }
      const unforward = forwardSignals(launched);
      try {
        const relay = master === undefined ? undefined : relayTerminal(master, launched.exited);
        const status = await launched.exited;
        await relay;
        return status;
      } finally {
        unforward();
      }
    } finally {
      term?.close();
    }
  }

  /**
   * exec --detach of `proc` through a berth-init another process spawned and is the parent of
   * (berth-shim --init; `sync` as CreateOptions.initSync, its fd closed here); resolves with the
   * process's host pid once it runs.
   */
  async execIn(id: string, proc: Process, sync: { fd: number; console: boolean }): Promise<number> {
    let handedOver = false;
    try {
      const { rec, config } = this.execTarget(id, proc);
      checkSpawnerConsole(sync, config.process?.terminal === true);
      const ops = this.execOps(
        rec,
        config,
        { ...config.process! },
        'detach',
        0,
        sync.console ? consoleFdInInit(0) : undefined,
      );
      handedOver = true;
      return (await driveInit(sync.fd, { plan: encodePlan(ops) })).pid;
    } finally {
      if (!handedOver) closeSync(sync.fd);
    }
  }

  /** The container an exec goes into, and its config with `proc` as the process (validated by the config's rules, with the same messages). */
  private execTarget(id: string, proc: Process) {
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status !== 'running' && status !== 'created') throw failedPrecondition(`cannot exec in a ${status} container`);
    return { rec, config: parseRuntimeConfig({ ...rec.config, process: proc }, 'process') };
  }

  private execOps(
    rec: ContainerRecord,
    config: ReturnType<typeof parseRuntimeConfig>,
    proc: Process,
    mode: 'detach' | 'foreground',
    preserveFds: number,
    consoleSocketFd: number | undefined,
  ) {
    const ops = buildExecPlan(
      config,
      proc,
      {
        initPid: rec.pid,
        mode,
        preserveFds,
        consoleSocketFd,
        cgroupJoin: this.cgroups.load(rec)?.join() ?? { writeZero: [] },
      },
      linuxHostFacts(this.debug),
    );
    this.debug(`exec plan for ${rec.id}:\n${formatPlan(ops)}`);
    return ops;
  }

  /** run --detach: create, then start. */
  async runDetached(id: string, opts: CreateOptions): Promise<void> {
    await this.create(id, opts);
    try {
      await this.start(id);
    } catch (e) {
      await this.delete(id, { force: true }).catch(() => {});
      throw e;
    }
  }

  /** Signals the init, or with `all` every process of the container (frozen meanwhile, so none escapes by forking). */
  async kill(id: string, signal: string | number = 'SIGTERM', all = false): Promise<void> {
    const sig = signalNumber(signal);
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status === 'stopped' || status === 'creating') throw failedPrecondition(`container ${id} is not running`);
    if (all) await this.cgroupOf(rec, 'kill --all').killAll(sig);
    else signalProcess(rec.pid, rec.initStartTime, sig);
  }

  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    validateContainerId(id);
    let rec: ContainerRecord;
    try {
      rec = this.store.load(id);
    } catch (e) {
      if (e instanceof BerthError && e.code === ErrorCode.NotFound) {
        // A directory without state.json is a create that was cut short: remove what it left.
        const existed = existsSync(this.store.dir(id));
        this.store.remove(id);
        if (existed || opts.force) return;
      }
      // Nothing can be learnt from a torn record (no pid, no cgroups): --force removes the directory.
      if (e instanceof UnreadableStateError && opts.force) {
        this.warn(`${e.message}: removed`);
        this.store.remove(id);
        return;
      }
      throw e;
    }
    const status = this.status(rec);
    if ((status === 'running' || status === 'paused') && !opts.force) {
      throw failedPrecondition(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    if (status === 'paused') await this.cgroupOf(rec, 'delete').thaw();
    if (status === 'created' || status === 'running' || status === 'paused') {
      signalProcess(rec.pid, rec.initStartTime, 9);
      await waitGone(rec.pid, rec.initStartTime, 10_000);
    }
    await destroyCgroups(this.cgroups, rec);
    const state = JSON.stringify({ ...this.stateOf(rec), status: 'stopped' });
    this.store.remove(id);
    const errors = await runHooksWarn('poststop', rec.config.hooks?.poststop, state);
    for (const e of errors) this.warn(e.message);
  }

  /** With initSync, its fd is closed here whatever happens: by driveInit once handed over, else at the end. */
  private async launch(id: string, opts: CreateOptions, mode: 'create' | 'foreground') {
    const handedOver = { sync: false };
    try {
      return await this.launchWith(id, opts, mode, handedOver);
    } finally {
      if (opts.initSync && !handedOver.sync) closeSync(opts.initSync.fd);
    }
  }

  private async launchWith(
    id: string,
    opts: CreateOptions,
    mode: 'create' | 'foreground',
    handedOver: { sync: boolean },
  ) {
    validateContainerId(id);
    const bundle = resolve(opts.bundle);
    const config = parseRuntimeConfigFile(join(bundle, 'config.json'), { onWarning: (line) => this.warn(line) });
    this.mark('config parsed');
    opts.onConfig?.(config);
    checkHostSupport(config);
    if (existsSync(this.store.dir(id))) throw alreadyExists(`container with id ${id} already exists`);
    const preserveFds = opts.preserveFds ?? 0;
    if (!Number.isInteger(preserveFds) || preserveFds < 0)
      throw invalidArgument(`--preserve-fds: expected a non-negative integer`);
    const sync = opts.initSync ?? (opts.spawnInit ? { fd: -1, console: config.process?.terminal === true } : undefined);
    if (sync) checkSpawnerConsole(sync, config.process?.terminal === true);

    const term = sync
      ? undefined
      : await ConsoleEndpoint.open(opts.consoleSocket, config.process?.terminal === true, mode === 'foreground');
    if (term && !opts.consoleSocket && config.process) config.process.consoleSize ??= callerWindowSize();
    const consoleSocketFd = sync?.console || term ? consoleFdInInit(preserveFds) : undefined;
    try {
      this.store.reserve(id);
    } catch (e) {
      term?.close();
      throw e;
    }
    const rec: ContainerRecord = {
      version: 1,
      id,
      pid: 0,
      initStartTime: '',
      bundle,
      rootfs: resolve(bundle, config.root?.path ?? 'rootfs'),
      created: new Date().toISOString(),
      owner: '',
      annotations: config.annotations ?? {},
      config,
      cgroupPaths: {},
    };
    let launched: LaunchedInit | undefined;
    try {
      // Recorded before anything is made, so that a create cut short (even by SIGKILL) leaves a
      // state.json from which `delete` can remove what it made.
      const cg = await this.cgroups.create(rec, () => this.store.save(rec));
      this.mark('cgroups made');
      const host = linuxHostFacts(this.debug);
      const ops = buildCreatePlan(
        config,
        {
          id,
          bundle,
          mode,
          fifoPath: this.store.fifoPath(id),
          preserveFds,
          consoleSocketFd,
          noPivot: opts.noPivot ?? false,
          cgroupJoin: cg.join,
          cgroupPaths: cg.paths,
        },
        host,
      );
      this.mark('plan built');
      this.debug(`plan for ${id}:\n${formatPlan(ops)}`);
      const hooksState = (pid: number) =>
        // "created", as crun and the runtime-tools suite have it: the hooks run once the
        // environment exists, which is what "created" describes.
        JSON.stringify({ ociVersion: OCI_VERSION, id, status: 'created', pid, bundle, annotations: rec.annotations });
      const onHooks = async (pid: number) => {
        const state = hooksState(pid);
        await runHooks('prestart', config.hooks?.prestart, state);
        await runHooks('createRuntime', config.hooks?.createRuntime, state);
        return state;
      };
      const plan = encodePlan(ops);
      handedOver.sync = sync !== undefined;
      if (opts.spawnInit) launched = await driveInit(await opts.spawnInit(), { plan, onHooks });
      else if (sync) launched = await driveInit(sync.fd, { plan, onHooks });
      else launched = await launchInit({ plan, preserveFds, consoleSocketFd: term?.fd, onHooks });
      const master = term?.receiveMaster();
      term?.close();
      rec.pid = launched.pid;
      rec.initStartTime = launched.startTime;
      this.mark('init ready (native stage)');
      // Before state.json gets the pid: a state.json naming an init always has its verbs file.
      this.store.saveVerbs(id, encodeVerbsFile(rec, this.cgroups.load(rec)));
      this.store.save(rec);
      this.mark('state recorded');
      if (opts.pidFile) writePidFile(opts.pidFile, launched.pid);
      return { rec, launched, master };
    } catch (e) {
      term?.close();
      if (launched) launched.stage0.kill('SIGKILL');
      if (rec.pid > 0) {
        try {
          process.kill(rec.pid, 'SIGKILL');
        } catch {}
      }
      await destroyCgroups(this.cgroups, rec).catch(() => {});
      this.store.remove(id);
      throw e;
    }
  }

  /** Opens the exec FIFO for reading without blocking forever on an init that died. */
  private async releaseFifo(rec: ContainerRecord): Promise<void> {
    const fifo = this.store.fifoPath(rec.id);
    const fd = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const buf = Buffer.alloc(1);
    const readByte = (): boolean => {
      try {
        return readSync(fd, buf, 0, 1, null) === 1;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        throw e;
      }
    };
    try {
      for (let i = 0; !readByte(); i++) {
        if (!isSameLiveProcess(rec.pid, rec.initStartTime)) {
          // The init may write its byte, exec, and its program exit, all between our read and this
          // check: read once more before calling it dead. That read, if it gets the byte, is the
          // release (reading again would find only the EOF of a writer that has gone).
          if (readByte()) break;
          const st = procStat(rec.pid);
          const seen = st ? `state ${st.state}, start time ${st.startTime} (recorded ${rec.initStartTime})` : 'gone';
          throw failedPrecondition(`container ${rec.id}: init exited before start (pid ${rec.pid}: ${seen})`);
        }
        await sleep(i < 100 ? 1 : 10);
      }
      // The init keeps its end open until execve closes it: EOF means the user process runs (or
      // the init died), the point after which poststart hooks may run.
      for (let i = 0; ; i++) {
        let n = -1;
        try {
          n = readSync(fd, buf, 0, 1, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        if (n === 0) break;
        await sleep(i < 100 ? 1 : 10);
      }
    } finally {
      closeSync(fd);
    }
    unlinkSync(fifo);
  }
}

/** berth-init's console socket (fd 3) is there exactly when the process has a terminal: else the CONSOLE op would send the pty master over the sync socket. */
function checkSpawnerConsole(sync: { console: boolean }, terminal: boolean): void {
  if (sync.console !== terminal)
    throw invalidArgument(
      `process.terminal is ${terminal}, but berth-init's spawner ${sync.console ? 'gave' : 'did not give'} it a console socket`,
    );
}

/** Signals a process only if it is still the one with `startTime`: through a pidfd, so that the identity check and the signal are about the same process even if the pid is reused in between. */
function signalProcess(pid: number, startTime: string, sig: number): void {
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(pid);
  } catch (e) {
    if (native.isSyscallError(e, 'ESRCH')) return;
    throw e;
  }
  try {
    if (isSameLiveProcess(pid, startTime)) native.pidfdSendSignal(pidfd, sig);
  } finally {
    closeSync(pidfd);
  }
}

/** `update` semantics: each given group of limits replaces the recorded one field by field. */
export function mergeResources(base: LinuxResources, change: LinuxResources): LinuxResources {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(change)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? { ...prev, ...v } : v;
  }
  return out as LinuxResources;
}

/** While a foreground process runs, signals sent to berth-runtime go to it (berth-init's stage0 passes them on). */
function forwardSignals(launched: LaunchedInit): () => void {
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGINT'];
  const handlers = signals.map((s) => [s, () => launched.stage0.kill(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return () => {
    for (const [s, h] of handlers) process.off(s, h);
  };
}

async function waitGone(pid: number, startTime: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; isSameLiveProcess(pid, startTime); i++) {
    if (Date.now() > deadline)
      throw failedPrecondition(`process ${pid} did not exit within ${timeoutMs} ms of SIGKILL`);
    await sleep(i < 50 ? 2 : 20);
  }
}

function writePidFile(path: string, pid: number): void {
  const abs = resolve(path);
  const tmp = join(dirname(abs), `.${Date.now()}.${process.pid}.pid`);
  writeFileSync(tmp, String(pid));
  renameSync(tmp, abs);
}
