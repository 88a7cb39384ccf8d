// The healthcheck schedules of running containers, one per container: every interval (from the
// end of one probe to the start of the next, as dockerd counts) the check runs as an exec in the
// container through the engine's exec path, is killed at its timeout, and its result is recorded in
// the row (healthcheck.ts decides the new health; each result is one write, so a crash keeps the
// last recorded one) with a `health_status: <status>` event when the status changes.
// A start begins a schedule afresh (starting, no failures); an unpause and a berthd restart resume
// it with the recorded health; an exit, a pause, a removal and berthd's close end it.
// Must never: run two schedules of one container, or record a result of a schedule that ended.
import { errorMessage } from '../errors/errors.ts';
import type { ContainerContext, HealthSchedules } from './container-context.ts';
import type { ExecRegistry } from './exec-registry.ts';
import {
  applyProbeResult,
  capProbeOutput,
  goDuration,
  HEALTH_DEFAULTS,
  HEALTH_OUTPUT_MAX,
  nextProbeDelayMs,
  type ProbeResult,
  probeCommand,
} from './healthcheck.ts';
import type { HealthState } from './types.ts';

type Schedule = { ended: boolean; timer?: NodeJS.Timeout; execId?: string };

/** How long an exec may take to start before the probe counts as failed (dockerd's 30s). */
const EXEC_START_LIMIT_MS = 30_000;

export class HealthMonitor implements HealthSchedules {
  readonly #ctx: ContainerContext;
  readonly #execs: ExecRegistry;
  readonly #schedules = new Map<string, Schedule>();

  constructor(ctx: ContainerContext, execs: ExecRegistry) {
    this.#ctx = ctx;
    this.#execs = execs;
  }

  begin(id: string, fresh: boolean): void {
    this.end(id);
    const c = this.#ctx.store.getContainer(id);
    const cfg = c.config.request.healthcheck;
    if (!probeCommand(cfg)) return;
    if (fresh || !c.health) {
      const health: HealthState = { status: 'starting', failingStreak: 0, log: c.health?.log ?? [] };
      this.#ctx.store.updateState(id, { health });
    }
    const s: Schedule = { ended: false };
    this.#schedules.set(id, s);
    this.#next(id, s);
  }

  end(id: string): void {
    const s = this.#schedules.get(id);
    if (!s) return;
    s.ended = true;
    clearTimeout(s.timer);
    this.#schedules.delete(id);
    // A probe under way must not run on in a container that is stopping or paused.
    if (s.execId) void this.#execs.kill(s.execId).catch(() => {});
  }

  closeAll(): void {
    for (const id of [...this.#schedules.keys()]) this.end(id);
  }

  #next(id: string, s: Schedule): void {
    let c: ReturnType<ContainerContext['store']['getContainer']>;
    try {
      c = this.#ctx.store.getContainer(id);
    } catch {
      this.end(id);
      return;
    }
    const cfg = c.config.request.healthcheck ?? {};
    const delay = nextProbeDelayMs(cfg, c.health?.status ?? 'starting', c.startedAt);
    s.timer = setTimeout(() => void this.#probe(id, s), delay);
    s.timer.unref();
  }

  async #probe(id: string, s: Schedule): Promise<void> {
    if (s.ended) return;
    const ctx = this.#ctx;
    let c: ReturnType<ContainerContext['store']['getContainer']>;
    try {
      c = ctx.store.getContainer(id);
    } catch {
      this.end(id);
      return;
    }
    if (c.status !== 'running') {
      this.end(id);
      return;
    }
    const cfg = c.config.request.healthcheck ?? {};
    const result = await this.#run(id, s, probeCommand(cfg)!, cfg.timeout || HEALTH_DEFAULTS.timeoutNs);
    if (s.ended) return;
    try {
      const cur = ctx.store.getContainer(id);
      const before = cur.health ?? { status: 'starting' as const, failingStreak: 0, log: [] };
      const after = applyProbeResult(before, result, cfg, cur.startedAt);
      ctx.store.updateState(id, { health: after });
      if (after.status !== before.status)
        ctx.o.events.publish('container', `health_status: ${after.status}`, id, ctx.attrs(cur));
    } catch (e) {
      // Removed meanwhile: nothing to record.
      ctx.log(`healthcheck of ${id}: ${errorMessage(e)}`);
      this.end(id);
      return;
    }
    this.#next(id, s);
  }

  /** One probe: exec the command, collect its output (stdout and stderr together, capped), kill it at the timeout. */
  async #run(id: string, s: Schedule, cmd: string[], timeoutNs: number): Promise<ProbeResult> {
    const start = new Date().toISOString();
    const failed = (output: string): ProbeResult => ({ start, end: new Date().toISOString(), exitCode: -1, output });
    let limit: NodeJS.Timeout | undefined;
    const started = this.#execs.exec(id, { cmd });
    const tooSlow = new Promise<never>((_, reject) => {
      limit = setTimeout(
        () => reject(new Error(`timed out starting health check for container ${id}`)),
        EXEC_START_LIMIT_MS,
      );
    });
    let execId: string;
    try {
      ({ execId } = await Promise.race([started, tooSlow]));
    } catch (e) {
      // An exec that starts after all must not run on unwatched.
      started.then((x) => this.#execs.kill(x.execId)).catch(() => {});
      return failed(errorMessage(e));
    } finally {
      clearTimeout(limit);
    }
    s.execId = execId;
    if (s.ended) void this.#execs.kill(execId).catch(() => {});
    const chunks: Buffer[] = [];
    let kept = 0;
    const abort = new AbortController();
    const collect = (async () => {
      for await (const l of this.#execs.logs(execId, abort.signal)) {
        if (kept > HEALTH_OUTPUT_MAX) continue;
        const b = Buffer.from(l.log, 'utf8');
        chunks.push(b);
        kept += b.length;
      }
    })().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutNs / 1e6);
    });
    try {
      const exit = await Promise.race([this.#execs.wait(execId), timedOut]);
      if (exit === 'timeout') {
        await this.#execs.kill(execId).catch(() => {});
        // Waited for, so that probes that do not die cannot pile up.
        await this.#execs.wait(execId).catch(() => {});
        abort.abort();
        const out = capProbeOutput(chunks);
        const msg = `Health check exceeded timeout (${goDuration(timeoutNs)})`;
        return { start, end: new Date().toISOString(), exitCode: -1, output: out ? `${msg}: ${out}` : msg };
      }
      await collect;
      return { start, end: new Date().toISOString(), exitCode: exit.exitCode, output: capProbeOutput(chunks) };
    } catch (e) {
      return failed(errorMessage(e));
    } finally {
      clearTimeout(timer);
      abort.abort();
      s.execId = undefined;
      await this.#execs.release(execId);
    }
  }
}
