// How berthd supervises a task (a container's init or an exec'd process): the seam between the
// engine's policy and the per-container supervisor process (berth-shim, docs/shim.md). The engine
// only ever talks to this interface; shim-supervisor.ts adapts src/shim to it.
// Must never: carry policy (restart, cleanup order); it reports, the engine decides.
import type { Duplex } from 'node:stream';

export type TaskExit = { exitCode: number; signal: string | null; exitedAt: string; oomKilled: boolean };

export type StartTaskOptions = {
  id: string;
  bundle: string;
  runtimeBinary: string;
  runtimeRoot: string;
  /** The shim's own directory: pid file, attach socket, exit.json. */
  stateDir: string;
  logPath: string;
  /** json-file (default, rotated by the shim) or cri (the kubelet's format; the kubelet rotates it and asks for a reopen). */
  logFormat?: 'json-file' | 'cri';
  terminal: boolean;
  openStdin: boolean;
  /**
   * For an in-process runtime class (berth-runtime): the shim spawns berth-init itself, and this
   * builds the plan and drives the create over its sync socket in berthd (the runtime library's
   * create with `initSync`; `console`: the shim gave berth-init a console socket at fd 3), resolving
   * with the init's pid once state.json records it. Without it the shim execs `<runtime> create`.
   * For an exec (ExecTaskOptions), the same for the exec'd process (the library's execIn): resolves
   * with its pid once it runs; without it the shim execs `<runtime> exec --detach`.
   */
  driveCreate?: (sync: { fd: number; console: boolean }) => Promise<number>;
};

export type ExecTaskOptions = StartTaskOptions & {
  execId: string;
  processPath: string;
  /** A client attaches once this resolves: the supervisor holds the output (at most this long, ms) until it has. */
  awaitAttachMs?: number;
};

export interface TaskHandle {
  /** The supervisor's pid (0 if it is gone). */
  readonly shimPid: number;
  readonly stateDir: string;
  /** The container (or exec'd) process's host pid, once the runtime created it. */
  processPid(): Promise<number>;
  /** Resolves when the process has exited and its status is recorded. */
  waitExit(): Promise<TaskExit>;
  /** The exit status if it is already recorded. */
  exitNow(): TaskExit | undefined;
  /** A stream of the process's output (framed as the shim frames it) and a way to send stdin. */
  attach(): Promise<Duplex>;
  resize(rows: number, cols: number): Promise<void>;
  /** Closes the log and opens its path again (the kubelet renamed it: CRI ReopenContainerLog). */
  reopenLog(): Promise<void>;
  /** Tells the supervisor to quit and removes its state directory. */
  cleanup(): Promise<void>;
}

export interface TaskSupervisor {
  /** Starts the supervisor, which runs `<runtime> create`; the engine then runs `<runtime> start`. */
  start(opts: StartTaskOptions): Promise<TaskHandle>;
  exec(opts: ExecTaskOptions): Promise<TaskHandle>;
  /** Finds a supervisor again after berthd restarted; undefined when its state dir is gone. */
  reconnect(stateDir: string): Promise<TaskHandle | undefined>;
}
