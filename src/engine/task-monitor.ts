// The tasks berthd supervises now (one per live container) and the one way their exits reach the
// engine: a task's supervisor reports its exit (waitExit), or the engine reports one itself when it
// learns of it otherwise (a removal that finds no shim, recovery after berthd was down). Either way
// the exit goes to the one listener the container service installs (container-exit.ts).
// Owns: the id → task map. Must never: decide what an exit means (record, release, restart).
import type { TaskExit, TaskHandle } from './task-supervisor.ts';

/** Handles one exit; `handle` is undefined when the engine reports an exit without a supervisor. */
export type ExitListener = (id: string, handle: TaskHandle | undefined, exit: TaskExit, error: string) => Promise<void>;

/** The status of a task whose supervisor was lost: no exit.json to read. */
export function lostExit(): TaskExit {
  return { exitCode: 255, signal: null, exitedAt: new Date().toISOString(), oomKilled: false };
}

export class TaskMonitor {
  readonly #tasks = new Map<string, TaskHandle>();
  #listener: ExitListener = async () => {};
  readonly #log: (msg: string) => void;

  constructor(log: (msg: string) => void) {
    this.#log = log;
  }

  /** Installed once, by the container service. */
  listen(fn: ExitListener): void {
    this.#listener = fn;
  }

  get(id: string): TaskHandle | undefined {
    return this.#tasks.get(id);
  }

  /** Holds `handle` as the container's task: an exit reported with an older handle is ignored. */
  hold(id: string, handle: TaskHandle): void {
    this.#tasks.set(id, handle);
  }

  delete(id: string): void {
    this.#tasks.delete(id);
  }

  /** Holds `handle` and reports its exit when its supervisor records one (or is lost). */
  watch(id: string, handle: TaskHandle): void {
    this.#tasks.set(id, handle);
    handle
      .waitExit()
      .then(
        (exit) => this.report(id, handle, exit),
        (e) => this.report(id, handle, lostExit(), `lost the shim: ${(e as Error).message}`),
      )
      .catch((e) => this.#log(`exit of ${id}: ${(e as Error).message}`));
  }

  /** An exit the engine learned of: handled as any exit (resolves once it is recorded and released). */
  report(id: string, handle: TaskHandle | undefined, exit: TaskExit, error = ''): Promise<void> {
    return this.#listener(id, handle, exit, error);
  }
}
