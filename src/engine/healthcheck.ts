// A container's healthcheck as dockerd defines it: its configuration (the create request's, merged
// over the image config's, field by field), the checks dockerd makes of it (its messages), its
// defaults, and how one probe's result moves the recorded health. Pure; the schedule that runs the
// probes is health-monitor.ts.
// Must never: accept a value dockerd refuses, or change a recorded health other than as dockerd does.
import { parseDuration } from '../build/instructions.ts';
import { invalidArgument } from '../errors/errors.ts';
import type { HealthConfig, HealthState } from './types.ts';

/** A Go duration ("300ms", "1m30s") in nanoseconds, as --health-interval and the others take them (the builder's parser). */
export { parseDuration };

export const HEALTH_DEFAULTS = {
  intervalNs: 30e9,
  timeoutNs: 30e9,
  startPeriodNs: 0,
  /** Between probes while the start period lasts and no probe has passed yet (API 1.44's StartInterval). */
  startIntervalNs: 5e9,
  retries: 3,
};
/** dockerd's floor of every duration that is set (containertypes.MinimumDuration). */
const MINIMUM_NS = 1e6;
/** dockerd keeps the last five results and up to 4096 bytes of a probe's output. */
export const HEALTH_LOG_ENTRIES = 5;
export const HEALTH_OUTPUT_MAX = 4096;

/** The request's healthcheck, refused in dockerd's words when a value is out of its range. */
export function checkHealthConfig(h: HealthConfig | undefined): void {
  if (h === undefined || h === null) return;
  if (typeof h !== 'object' || Array.isArray(h))
    throw invalidArgument('healthcheck: expected {test, interval, timeout, startPeriod, startInterval, retries}');
  if (h.test !== undefined) {
    if (!Array.isArray(h.test) || h.test.some((w) => typeof w !== 'string'))
      throw invalidArgument('Test in Healthcheck: expected a list of strings such as ["CMD-SHELL", "true"]');
    const kind = h.test[0];
    if (kind !== undefined && kind !== 'CMD' && kind !== 'CMD-SHELL' && kind !== 'NONE')
      throw invalidArgument(
        `Test in Healthcheck: unknown type ${JSON.stringify(kind)} (expected CMD, CMD-SHELL or NONE)`,
      );
    if ((kind === 'CMD' || kind === 'CMD-SHELL') && h.test.length < 2)
      throw invalidArgument(`Test in Healthcheck: ${kind} needs a command`);
  }
  const dur = (v: number | undefined, name: string) => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v))
      throw invalidArgument(`${name} in Healthcheck: expected nanoseconds`);
    if (v !== 0 && v < MINIMUM_NS) throw invalidArgument(`${name} in Healthcheck cannot be less than 1ms`);
  };
  dur(h.interval, 'Interval');
  dur(h.timeout, 'Timeout');
  if (h.retries !== undefined) {
    if (typeof h.retries !== 'number' || !Number.isInteger(h.retries))
      throw invalidArgument('Retries in Healthcheck: expected a whole number');
    if (h.retries < 0) throw invalidArgument('Retries in Healthcheck cannot be negative');
  }
  dur(h.startPeriod, 'StartPeriod');
  dur(h.startInterval, 'StartInterval');
}

/** The image config's Healthcheck (docker's shape) in the engine's. */
export function fromImageHealthcheck(hc: unknown): HealthConfig | undefined {
  if (!hc || typeof hc !== 'object') return undefined;
  const h = hc as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined);
  const out: HealthConfig = {};
  if (Array.isArray(h.Test) && h.Test.length) out.test = h.Test.map(String);
  const set = <K extends keyof HealthConfig>(k: K, v: HealthConfig[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('interval', num(h.Interval));
  set('timeout', num(h.Timeout));
  set('startPeriod', num(h.StartPeriod));
  set('startInterval', num(h.StartInterval));
  set('retries', num(h.Retries));
  return out;
}

/**
 * The container's healthcheck: the request's, each unset field (no test, a zero duration or retry
 * count) taken from the image's, as dockerd merges them at create. `["NONE"]` keeps NONE.
 */
export function mergeHealthConfig(
  req: HealthConfig | undefined,
  image: HealthConfig | undefined,
): HealthConfig | undefined {
  if (!req) return image && Object.keys(image).length ? image : undefined;
  if (!image) return req;
  const out: HealthConfig = { ...req };
  if (!out.test?.length && image.test) out.test = image.test;
  for (const k of ['interval', 'timeout', 'startPeriod', 'startInterval', 'retries'] as const)
    if (!out[k] && image[k]) out[k] = image[k];
  return out;
}

/** The command a probe execs, or undefined when the healthcheck is off (none, NONE, no test). */
export function probeCommand(h: HealthConfig | undefined): string[] | undefined {
  const t = h?.test;
  if (!t?.length) return undefined;
  if (t[0] === 'CMD') return t.slice(1);
  if (t[0] === 'CMD-SHELL') return ['/bin/sh', '-c', t.slice(1).join(' ')];
  return undefined;
}

/** One probe's outcome. `exitCode` -1: it did not finish (a timeout, an exec that failed). */
export type ProbeResult = { start: string; end: string; exitCode: number; output: string };

/**
 * The health after one more result: the log keeps the last five; a pass makes it healthy and ends
 * the failing streak; a failure counts (unless the container is still starting inside its start
 * period) and `retries` of them in a row make it unhealthy.
 */
export function applyProbeResult(
  h: HealthState,
  r: ProbeResult,
  cfg: HealthConfig,
  startedAt: string | null,
): HealthState {
  const log = [...h.log, r].slice(-HEALTH_LOG_ENTRIES);
  if (r.exitCode === 0) return { status: 'healthy', failingStreak: 0, log };
  const startPeriod = cfg.startPeriod || HEALTH_DEFAULTS.startPeriodNs;
  const inStartPeriod =
    h.status === 'starting' && startedAt !== null && (Date.parse(r.start) - Date.parse(startedAt)) * 1e6 < startPeriod;
  if (inStartPeriod) return { ...h, log };
  const failingStreak = h.failingStreak + 1;
  const retries = cfg.retries || HEALTH_DEFAULTS.retries;
  return { status: failingStreak >= retries ? 'unhealthy' : h.status, failingStreak, log };
}

/** Milliseconds until the next probe: the start interval while starting inside the start period (never past its end), else the interval. */
export function nextProbeDelayMs(cfg: HealthConfig, status: HealthState['status'], startedAt: string | null): number {
  const interval = (cfg.interval || HEALTH_DEFAULTS.intervalNs) / 1e6;
  const startPeriod = (cfg.startPeriod || HEALTH_DEFAULTS.startPeriodNs) / 1e6;
  const elapsed = startedAt ? Date.now() - Date.parse(startedAt) : Number.POSITIVE_INFINITY;
  if (!(elapsed < startPeriod)) return interval;
  const left = startPeriod - elapsed;
  if (left < interval) return Math.max(0, left);
  return status === 'starting' ? (cfg.startInterval || HEALTH_DEFAULTS.startIntervalNs) / 1e6 : interval;
}

/** Output kept as dockerd keeps it: the first 4096 bytes, "..." after them when more was written. */
export function capProbeOutput(chunks: Buffer[]): string {
  const all = Buffer.concat(chunks);
  if (all.length <= HEALTH_OUTPUT_MAX) return all.toString('utf8');
  return `${all.subarray(0, HEALTH_OUTPUT_MAX).toString('utf8')}...`;
}

/** A duration as Go prints one ("30s", "1.5s", "200ms", "1m30s"): dockerd's timeout message uses it. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const sec = `${trim(Math.round(s * 1e9) / 1e9)}s`;
  if (h) return `${h}h${m}m${sec}`;
  if (m) return `${m}m${sec}`;
  return sec;
}

const trim = (x: number) => String(Number(x.toFixed(9)));
