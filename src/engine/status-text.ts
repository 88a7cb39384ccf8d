// A container's status in docker's words ("Up 3 seconds", "Exited (0) 2 minutes ago"): what the
// berth CLI's `ps` prints and what the Docker API's container list carries in Status, from the same
// recorded state; and the healthcheck in docker's shapes, for the same two faces. Pure functions.
import type { HealthConfig, HealthState } from './types.ts';

/** How long since an ISO time, in docker's words: "Less than a second", "5 seconds", "3 minutes", "2 days". */
export function durationSince(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return 'unknown';
  const steps: [number, string][] = [
    [365 * 86400, 'year'],
    [30 * 86400, 'month'],
    [7 * 86400, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of steps) {
    const k = Math.floor(s / size);
    if (k >= 1) return `${k} ${name}${k > 1 ? 's' : ''}`;
  }
  return s < 2 ? 'Less than a second' : `${s} seconds`;
}

/** What `ps` shows in STATUS, from a container's recorded state (docker's words). */
export function containerStatusText(
  c: {
    status: string;
    restarting: boolean;
    startedAt: string | null;
    finishedAt: string | null;
    exitCode: number | null;
    health?: string;
  },
  now = Date.now(),
): string {
  const since = (iso: string | null) => (iso ? durationSince(iso, now) : '');
  switch (c.status) {
    case 'running':
      // docker's words for the healthcheck, while the container runs.
      if (c.health === 'starting') return `Up ${since(c.startedAt)} (health: starting)`;
      if (c.health) return `Up ${since(c.startedAt)} (${c.health})`;
      return `Up ${since(c.startedAt)}`;
    case 'paused':
      return `Up ${since(c.startedAt)} (Paused)`;
    case 'stopped':
      return `${c.restarting ? 'Restarting' : 'Exited'} (${c.exitCode ?? 0}) ${since(c.finishedAt)} ago`;
    default:
      return 'Created';
  }
}

/** docker's State.Health. */
export function dockerHealth(h: HealthState) {
  return {
    Status: h.status,
    FailingStreak: h.failingStreak,
    Log: h.log.map((l) => ({ Start: l.start, End: l.end, ExitCode: l.exitCode, Output: l.output })),
  };
}

/** docker's Config.Healthcheck: zero fields left out, StartInterval only for clients that know it (API 1.44). */
export function dockerHealthcheck(h: HealthConfig, withStartInterval = true): Record<string, unknown> {
  return {
    Test: h.test ?? [],
    ...(h.interval ? { Interval: h.interval } : {}),
    ...(h.timeout ? { Timeout: h.timeout } : {}),
    ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}),
    ...(h.startInterval && withStartInterval ? { StartInterval: h.startInterval } : {}),
    ...(h.retries ? { Retries: h.retries } : {}),
  };
}
