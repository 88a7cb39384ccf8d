// Runs an OCI runtime's CLI (berth-runtime, runc, crun: the same verbs and flags) for the task
// operations the shim does not do itself: start, kill, pause, resume, ps, stats (events --stats),
// state, delete. One exec per operation, as containerd's runc shim does; for a class marked
// in-process (berth-runtime), start, kill, pause, resume and delete call its library in-process
// instead; its create too: berthd builds the plan and drives berth-init, which the shim spawns, so
// the container's init is still the shim's child (createDriver, docs/shim.md).
// Must never: decide policy; it reports errors with the runtime's own message, categorised in
// src/engine/runtime-errors.ts (the one place that reads a runtime's words).
import { execFile } from 'node:child_process';
import { closeSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, ErrorCode } from '../errors/errors.ts';
import type { LinuxResources, Process } from '../oci/runtime-spec.ts';
import { cgroupfsDriver } from '../runtime/cgroups.ts';
import { Runtime } from '../runtime/runtime.ts';
import { faultPoint, type FaultPointName } from './fault-points.ts';
import { runtimeFailure, runtimeMessage } from './runtime-errors.ts';

/** The library's marks of a create, as fault points (test/integration/engine-faults.test.ts). */
const CREATE_POINTS: Record<string, FaultPointName> = {
  'cgroups made': 'runtime.cgroups-made',
  'init ready (native stage)': 'runtime.init-ready',
  'state recorded': 'runtime.state-recorded',
};

export type RuntimeState = { id: string; pid: number; status: string; bundle: string };

export class RuntimeCli {
  readonly binary: string;
  readonly root: string;
  /** The runtime class's `inProcess` (src/engine/runtime-classes.ts): the binary is berth-runtime, so its library may stand in for it. */
  readonly inProcess: boolean;

  constructor(binary: string, root: string, opts: { inProcess?: boolean } = {}) {
    this.binary = binary;
    this.root = root;
    this.inProcess = opts.inProcess ?? false;
  }

  /** `input` goes to the runtime's stdin (update --resources -). */
  run(args: string[], timeoutMs = 30000, input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.binary,
        ['--root', this.root, ...args],
        { timeout: timeoutMs, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          reject(runtimeFailure(this.binary, args, runtimeMessage(stderr, stdout, err.message), err));
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      return JSON.parse(await this.run(['state', id])) as RuntimeState;
    } catch {
      return undefined;
    }
  }

  /**
   * For an in-process class (berth-runtime), start, kill, pause, resume and delete run in-process through its library (the
   * code its CLI runs for those verbs, with the cgroupfs driver it uses), which saves a Node start-up
   * per call on every container's start and exit; runc and crun are exec'd. Errors carry the CLI's
   * wording and categories, so callers see one kind of message whichever way the call went.
   */
  get #lib(): Runtime | undefined {
    if (!this.inProcess) return undefined;
    this.#runtime ??= new Runtime({
      root: this.root,
      warn: () => {},
      cgroups: cgroupfsDriver(),
      mark: (what) => {
        const point = CREATE_POINTS[what];
        if (point) faultPoint(point);
      },
    });
    return this.#runtime;
  }
  #runtime: Runtime | undefined;

  async #inProcess(args: string[], fn: (rt: Runtime) => Promise<void>): Promise<string> {
    const rt = this.#lib;
    if (!rt) return this.run(args);
    try {
      await fn(rt);
      return '';
    } catch (e) {
      // The library's own category, never its words; the message reads as the CLI's would.
      const msg = e instanceof Error ? e.message : String(e);
      const code =
        e instanceof BerthError &&
        (e.code === ErrorCode.NotFound || e.code === ErrorCode.FailedPrecondition || e.code === ErrorCode.AlreadyExists)
          ? e.code
          : ErrorCode.Internal;
      const carried = e instanceof BerthError ? { errno: e.errno, execFailed: e.execFailed } : {};
      throw new BerthError(code, `${this.binary} ${args[0]} ${args.at(-1)}: ${msg}`, { cause: e, ...carried });
    }
  }

  /**
   * For an in-process class: the create of `id` from `bundle`, run in berthd over the sync socket
   * of a berth-init that the shim spawned (StartTaskOptions.driveCreate); resolves with the init's
   * pid once state.json records it. Undefined for an exec'd class: the shim runs its create.
   */
  createDriver(id: string, bundle: string): ((sync: { fd: number; console: boolean }) => Promise<number>) | undefined {
    if (!this.inProcess) return undefined;
    return async (sync) => {
      let pid = 0;
      await this.#inProcess(['create', id], async (rt) => {
        pid = (await rt.create(id, { bundle, initSync: sync })).pid;
      });
      return pid;
    };
  }

  /**
   * For an in-process class: `exec --detach` of the process in `processPath` (process.json) in
   * container `id`, run in berthd over the sync socket of a berth-init that the exec's shim spawned;
   * resolves with the process's pid once it runs. Undefined for an exec'd class.
   */
  execDriver(
    id: string,
    processPath: string,
  ): ((sync: { fd: number; console: boolean }) => Promise<number>) | undefined {
    if (!this.inProcess) return undefined;
    return async (sync) => {
      let pid = 0;
      await this.#inProcess(['exec', id], async (rt) => {
        let proc: Process;
        try {
          proc = JSON.parse(readFileSync(processPath, 'utf8')) as Process;
        } catch (e) {
          closeSync(sync.fd);
          throw e;
        }
        pid = await rt.execIn(id, proc, sync);
      });
      return pid;
    };
  }

  start(id: string): Promise<string> {
    return this.#inProcess(['start', id], (rt) => rt.start(id));
  }
  kill(id: string, signal: string, all = false): Promise<string> {
    return this.#inProcess(['kill', ...(all ? ['--all'] : []), id, signal], (rt) => rt.kill(id, signal, all));
  }
  /** Changes a running container's cgroup limits (runc's `update --resources`). */
  async update(id: string, resources: LinuxResources): Promise<void> {
    if (this.inProcess) await this.#inProcess(['update', id], (rt) => rt.update(id, resources));
    else await this.run(['update', '--resources', '-', id], 30000, JSON.stringify(resources));
  }
  pause(id: string): Promise<string> {
    return this.#inProcess(['pause', id], (rt) => rt.pause(id));
  }
  resume(id: string): Promise<string> {
    return this.#inProcess(['resume', id], (rt) => rt.resume(id));
  }
  async delete(id: string): Promise<void> {
    // runc, crun and berth-runtime all keep a container's state in <root>/<id> (made first by
    // create, removed last by delete): without it there is nothing to delete, and one exec of the
    // runtime (tens of ms) is saved on every start and every remove of a stopped container.
    if (!existsSync(join(this.root, id))) return;
    await this.#inProcess(['delete', '--force', id], (rt) => rt.delete(id, { force: true })).catch(() => {});
  }
  async pids(id: string): Promise<number[]> {
    return JSON.parse(await this.run(['ps', '--format', 'json', id])) as number[];
  }
  async stats(id: string): Promise<unknown> {
    const out = await this.run(['events', '--stats', id]);
    return (JSON.parse(out.trim().split('\n')[0]!) as { data?: unknown }).data;
  }
}
