// Output helpers for the berth CLI: sizes in SI units as docker prints them, relative times, a
// container's status in docker's words, and aligned tables. Pure functions; must never write anything themselves.
import { durationSince } from '../../engine/status-text.ts';
import { invalidArgument, notFound } from '../../errors/errors.ts';

export { containerStatusText, durationSince } from '../../engine/status-text.ts';

/** 1234567 → "1.23MB" (SI, three significant digits), as docker prints sizes. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  if (u === 0) return `${Math.round(v)}B`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${units[u]}`;
}

/** An ISO time → "3 minutes ago". */
export function timeAgo(iso: string, now = Date.now()): string {
  const d = durationSince(iso, now);
  return d === 'unknown' ? d : `${d} ago`;
}

/** Rows padded into columns three spaces apart; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** A digest's first 12 hex digits, as docker shows image ids. */
export const shortDigest = (d: string) => d.replace(/^[a-z0-9]+:/, '').slice(0, 12);

/** What `images` shows of an image (the daemon's and the in-process image service's summaries). */
export interface ImageRow {
  repository: string;
  tag: string;
  name: string;
  /** The image ID (config digest): what IMAGE ID shows. */
  id: string;
  /** The manifest (or index) digest: what DIGEST shows. */
  digest: string;
  /** The image config's `created`: what CREATED shows (docker says N/A without one). */
  created?: string;
  size: number;
}

/** `images REPOSITORY[:TAG]`: the images the word names (a repository, repository:tag, a name, or a name:tag prefix); all without it. */
export function imagesNamed<T extends ImageRow>(list: T[], word: string | undefined): T[] {
  if (word === undefined) return list;
  return list.filter(
    (i) =>
      i.repository === word ||
      `${i.repository}:${i.tag}` === word ||
      i.name.startsWith(`${word}:`) ||
      i.name === word ||
      i.repository.startsWith(`${word}:`),
  );
}

/** A shell-style pattern (`*`, `?`) as docker's `reference` filter matches it, against the whole string. */
function globMatch(pattern: string, s: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(s);
}

/**
 * docker's `images --filter`: reference (a pattern of repository or repository:tag), dangling
 * (untagged), before / since (images created before or after the one named), label (K or K=V of the
 * image config's labels, through `labelsOf`). Every key must match; values of one key are alternatives.
 */
export async function imagesFiltered<T extends ImageRow>(
  list: T[],
  filters: Record<string, string[]> | undefined,
  labelsOf: (i: T) => Promise<Record<string, string>>,
): Promise<T[]> {
  if (!filters) return list;
  const createdOf = (word: string) => {
    const ref = imagesNamed(list, word)[0] ?? list.find((i) => shortDigest(i.id).startsWith(shortDigest(word)));
    if (!ref) throw notFound(`--filter: no such image: ${word}`);
    return Date.parse(ref.created ?? '') || 0;
  };
  const keys = ['reference', 'dangling', 'before', 'since', 'label'];
  for (const k of Object.keys(filters))
    if (!keys.includes(k)) throw invalidArgument(`invalid filter '${k}': expected one of ${keys.join(', ')}`);
  const out: T[] = [];
  for (const i of list) {
    let ok = true;
    for (const [k, vs] of Object.entries(filters)) {
      const one = async (v: string): Promise<boolean> => {
        switch (k) {
          case 'reference':
            return globMatch(v, i.repository) || globMatch(v, `${i.repository}:${i.tag}`);
          case 'dangling':
            if (v !== 'true' && v !== 'false')
              throw invalidArgument(`--filter dangling=${JSON.stringify(v)}: expected true or false`);
            return (i.tag === '<none>') === (v === 'true');
          case 'before':
            return (Date.parse(i.created ?? '') || 0) < createdOf(v);
          case 'since':
            return (Date.parse(i.created ?? '') || 0) > createdOf(v);
          default: {
            const labels = await labelsOf(i);
            const eq = v.indexOf('=');
            return eq < 0 ? Object.hasOwn(labels, v) : labels[v.slice(0, eq)] === v.slice(eq + 1);
          }
        }
      };
      let any = false;
      for (const v of vs) if (await one(v)) any = true;
      if (!any) ok = false;
    }
    if (ok) out.push(i);
  }
  return out;
}

/** `images` as text: with `quiet` each short id once, a line each; otherwise docker's table. `noTrunc`: whole ids. */
export function imagesText(list: ImageRow[], o: { quiet?: boolean; digests?: boolean; noTrunc?: boolean }): string {
  const id = (d: string) => (o.noTrunc ? d : shortDigest(d));
  if (o.quiet) return [...new Set(list.map((i) => id(i.id)))].map((x) => `${x}\n`).join('');
  const headers = ['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
  return table(
    headers,
    list.map((i) => [
      i.repository,
      i.tag,
      ...(o.digests ? [i.digest] : []),
      id(i.id),
      i.created === undefined ? 'N/A' : timeAgo(i.created),
      formatBytes(i.size),
    ]),
  );
}
