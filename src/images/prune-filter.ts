// docker's prune filters for images (`image prune --filter`), and the `until` value every prune
// takes: which images a prune may take, decided from the image config's `created` and `Labels`.
// Owns: the words of dockerd's refusals, so the docker CLI prints what users know.
// Must never: read the stores (the caller hands each image's config over).
import { invalidArgument } from '../errors/errors.ts';

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration ("1h30m", "-1.5h", "90s"), in ms; undefined when `v` is not one. */
export function goDurationMs(v: string): number | undefined {
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|0)$/.exec(v);
  if (!m) return undefined;
  let ms = 0;
  for (const [, n, u] of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(n) * GO_UNITS[u!]!;
  return m[1] === '-' ? -ms : ms;
}

/**
 * docker's `until` (its GetTimestamp): a Go duration before `now` ("24h", "1h30m"), a date or time
 * (2006-01-02, 2006-01-02T15:04, RFC 3339 with fractions; the host's zone when none is given), or
 * seconds since the epoch with up to nine fraction digits. Answers ms since the epoch.
 */
export function untilTime(v: string, now = Date.now()): number {
  const d = v === '0' ? undefined : goDurationMs(v);
  if (d !== undefined) return now - d;
  const t = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(
    v,
  );
  if (t) {
    const [, y, mo, da, h = '0', mi = '0', s = '0', frac = '', zone] = t;
    const fields = [Number(y), Number(mo) - 1, Number(da), Number(h), Number(mi), Number(s)] as const;
    const ms = Math.floor(Number(`0${frac || '.0'}`) * 1000);
    let at: number;
    if (zone === undefined) at = new Date(...fields, ms).getTime();
    else {
      at = Date.UTC(...fields, ms);
      if (zone !== 'Z' && zone !== 'z')
        at -= (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
    }
    // Go refuses a field out of range where Date would roll over.
    const days = new Date(Date.UTC(fields[0], fields[1] + 1, 0)).getUTCDate();
    if (fields[1] < 12 && fields[2] >= 1 && fields[2] <= days && fields[3] < 24 && fields[4] < 60 && fields[5] < 60)
      return at;
  } else if (/^\d+(\.\d{1,9})?$/.test(v)) return Number(v) * 1000;
  throw invalidArgument(`failed to parse value as time or duration: ${JSON.stringify(v)}`);
}

/** What `image prune` takes: `danglingOnly` undefined when no dangling filter was given (the caller's `all` decides). */
export type ImagePruneSelection = {
  danglingOnly: boolean | undefined;
  /** Whether an image with this config (created, Labels) passes the until and label filters. */
  matches(img: { created?: string | undefined; labels: Record<string, string> }): boolean;
  /** Whether `matches` reads the configs at all (no until or label filter: every image passes). */
  readsConfig: boolean;
};

/**
 * dockerd's image prune filters: `dangling` (true/1 or false/0), `until` (one only), `label` (K or
 * K=V, every one must match) and `label!` (an image matching every one of them is kept). Refuses
 * an unknown key or a bad value before anything is removed.
 */
export function imagePruneSelection(filters: Record<string, string[]> = {}, now = Date.now()): ImagePruneSelection {
  for (const k of Object.keys(filters))
    if (k !== 'dangling' && k !== 'until' && k !== 'label' && k !== 'label!')
      throw invalidArgument(`invalid filter '${k}'`);
  let danglingOnly: boolean | undefined;
  for (const v of filters.dangling ?? []) {
    if (v !== 'true' && v !== '1' && v !== 'false' && v !== '0')
      throw invalidArgument(`invalid filter 'dangling=${v}'`);
    danglingOnly = v === 'true' || v === '1';
  }
  const untils = filters.until ?? [];
  if (untils.length > 1) throw invalidArgument('more than one until filter specified');
  const until = untils.length ? untilTime(untils[0]!, now) : undefined;
  const has = (labels: Record<string, string>, kv: string) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? Object.hasOwn(labels, kv) : labels[kv.slice(0, eq)] === kv.slice(eq + 1);
  };
  const label = filters.label ?? [];
  const notLabel = filters['label!'] ?? [];
  return {
    danglingOnly,
    readsConfig: until !== undefined || label.length > 0 || notLabel.length > 0,
    matches: (img) => {
      const created = img.created ? Date.parse(img.created) : 0;
      if (until !== undefined && created > until) return false;
      if (!label.every((kv) => has(img.labels, kv))) return false;
      return !(notLabel.length > 0 && notLabel.every((kv) => has(img.labels, kv)));
    },
  };
}
