// Processes exec'd into running containers: each runs under its own shim (its own short directory
// under <run root>/execs), is known by an exec id while it runs and for a minute after it exits
// (for late readers of its output or status), then its directory goes. In memory only: after
// berthd restarts, recovery removes what is left.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { failedPrecondition, invalidArgument, notFound } from '../errors/errors.ts';
import { canExec } from '../metadata/container-status.ts';
import type { ContainerContext } from './container-context.ts';
import { readLogs } from './container-logs.ts';
import { MODES } from './owned-modes.ts';
import { prepareProcess } from './process-setup.ts';
import { securityGroups } from './security-options.ts';
import type { TaskExit, TaskHandle } from './task-supervisor.ts';
import { timingSpan } from './timing.ts';
import type { ExecRequest, ExitResult, LogLine } from './types.ts';

type ExecEntry = {
  id: string;
  containerId: string;
  handle: TaskHandle;
  logPath: string;
  exit?: TaskExit;
  tty: boolean;
  /** The minute's wait before the record and directory go (release ends it early). */
  forgetTimer?: NodeJS.Timeout;
};

const KEPT_AFTER_EXIT_MS = 60_000;
/** How long an exec's output waits for the client that said it attaches (one that died must not block the process for long). */
const EXEC_ATTACH_WAIT_MS = 10_000;

export class ExecRegistry {
  readonly #ctx: ContainerContext;
  readonly #execs = new Map<string, ExecEntry>();

  constructor(ctx: ContainerContext) {
    this.#ctx = ctx;
  }

  async exec(id: string, r: ExecRequest): Promise<{ execId: string }> {
    const ctx = this.#ctx;
    const span = timingSpan('exec', id);
    const c = ctx.store.getContainer(id);
    if (!canExec(c.status)) throw failedPrecondition(`container ${c.name} is ${c.status}, expected running`);
    if (!Array.isArray(r.cmd) || r.cmd.length === 0) throw invalidArgument('exec: "cmd" must be a non-empty array');
    const spec = c.config.spec;
    const execId = randomBytes(16).toString('hex');
    // Its own short directory: the attach socket's path must fit in sun_path.
    const dir = join(ctx.o.runRoot, 'execs', execId);
    const rt = ctx.runtime(c.runtime);
    const logPath = join(dir, 'exec-json.log');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let handle: TaskHandle;
    try {
      const proc = {
        ...spec.process!,
        args: r.cmd,
        terminal: r.tty === true,
        env: [...(spec.process!.env ?? []), ...(r.env ?? [])],
        cwd: r.workdir ?? spec.process!.cwd,
        ...(r.tty && r.consoleSize ? { consoleSize: r.consoleSize } : {}),
      };
      // The exec's user is the container's unless it names its own (docker's rule).
      prepareProcess(ctx.rootfs(c.id), proc, r.user || c.config.request.user, {
        makeCwd: false,
        ...securityGroups(c.config.request),
      });
      const processPath = join(dir, 'process.json');
      await writeFile(processPath, JSON.stringify(proc), { mode: MODES.spec });
      span.mark('dir, process.json');
      handle = await ctx.o.supervisor.exec({
        id: c.id,
        execId,
        bundle: ctx.dir(c.id),
        runtimeBinary: rt.binary,
        runtimeRoot: rt.root,
        stateDir: dir,
        logPath,
        terminal: r.tty === true,
        openStdin: r.openStdin === true,
        processPath,
        driveCreate: rt.execDriver(c.id, processPath),
        ...(r.attach ? { awaitAttachMs: EXEC_ATTACH_WAIT_MS } : {}),
      });
    } catch (e) {
      // Exec records live in memory only: a directory left here would never be removed.
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    span.mark('shim started (runtime exec)');
    const entry: ExecEntry = { id: execId, containerId: c.id, handle, logPath, tty: r.tty === true };
    this.#execs.set(execId, entry);
    // The exec's record stays a minute for late readers, then its directory goes.
    const forget = () => {
      if (!this.#execs.has(execId)) return;
      entry.forgetTimer = setTimeout(() => {
        this.#execs.delete(execId);
        void handle.cleanup().catch(() => {});
      }, KEPT_AFTER_EXIT_MS).unref();
    };
    handle.waitExit().then(
      (e) => {
        span.mark('exit noticed');
        entry.exit = e;
        ctx.o.events.publish(
          'container',
          'exec_die',
          c.id,
          ctx.attrs(c, { execID: execId, exitCode: String(e.exitCode) }),
        );
        forget();
      },
      () => {
        entry.exit = { exitCode: 255, signal: null, exitedAt: new Date().toISOString(), oomKilled: false };
        forget();
      },
    );
    ctx.o.events.publish('container', 'exec_start', c.id, ctx.attrs(c, { execID: execId, command: r.cmd.join(' ') }));
    return { execId };
  }

  #get(execId: string): ExecEntry {
    const e = this.#execs.get(execId);
    if (!e) throw notFound(`no such exec instance: ${execId}`);
    return e;
  }

  async *logs(execId: string, signal?: AbortSignal): AsyncGenerator<LogLine> {
    const e = this.#get(execId);
    // The exit wakes the follower: the shim writes the log's last line before exit.json.
    const ended = e.exit ? undefined : e.handle.waitExit();
    yield* readLogs(e.logPath, { follow: true }, () => e.exit === undefined, signal, ended);
  }

  async wait(execId: string): Promise<ExitResult> {
    const e = this.#get(execId);
    const x = e.exit ?? (await e.handle.waitExit());
    return { exitCode: x.exitCode, signal: x.signal, oomKilled: x.oomKilled, finishedAt: x.exitedAt };
  }

  attach(execId: string): Promise<Duplex> {
    return this.#get(execId).handle.attach();
  }

  /** Signals an exec'd process that has not exited (its pid is not reused before its exit is recorded). */
  async kill(execId: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const e = this.#get(execId);
    if (e.exit) return;
    const pid = await e.handle.processPid();
    if (!pid || e.exit) return;
    try {
      process.kill(pid, signal);
    } catch (x) {
      // Gone between the check and the signal: it exited, which is what was wanted.
      if ((x as NodeJS.ErrnoException).code !== 'ESRCH') throw x;
    }
  }

  /**
   * Forgets an exec that has exited now rather than a minute later, and removes its directory: for
   * an exec whose only reader is berthd itself (a healthcheck's probe, run every few seconds).
   */
  async release(execId: string): Promise<void> {
    const e = this.#execs.get(execId);
    if (!e?.exit) return;
    clearTimeout(e.forgetTimer);
    this.#execs.delete(execId);
    await e.handle.cleanup().catch(() => {});
  }

  resize(execId: string, rows: number, cols: number): Promise<void> {
    return this.#get(execId).handle.resize(rows, cols);
  }
}
