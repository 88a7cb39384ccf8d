// Docker's query conventions: booleans as 1/true/True, integers, and `filters` as JSON in either
// of the forms clients send ({"k": ["v"]} or the older {"k": {"v": true}}).
import { invalidArgument } from '../errors/errors.ts';

export function flag(q: URLSearchParams, k: string, dflt = false): boolean {
  const v = q.get(k);
  if (v === null || v === '') return dflt;
  return v === '1' || v.toLowerCase() === 'true';
}

export function int(q: URLSearchParams, k: string): number | undefined {
  const v = q.get(k);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw invalidArgument(`invalid value for ${k}: ${JSON.stringify(v)}: expected an integer`);
  return Number(v);
}

export function filters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  let f: unknown;
  try {
    f = JSON.parse(raw);
  } catch {
    throw invalidArgument(`invalid filter: filters=${JSON.stringify(raw)} is not JSON`);
  }
  if (typeof f !== 'object' || f === null || Array.isArray(f))
    throw invalidArgument(`invalid filter: filters=${JSON.stringify(raw)}: expected a JSON object`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(f as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (typeof v === 'object' && v !== null)
      out[k] = Object.entries(v)
        .filter(([, on]) => on === true)
        .map(([x]) => x);
    else throw invalidArgument(`invalid filter '${k}': expected a list of values`);
  }
  return out;
}

/** Docker's time parameters (since/until): unix seconds with an optional fraction, or RFC 3339. */
export function timeParam(q: URLSearchParams, k: string): string | undefined {
  const v = q.get(k);
  if (v === null || v === '' || v === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [s, frac = ''] = v.split('.');
    const iso = new Date(Number(s) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
    return `${iso}.${frac.padEnd(9, '0').slice(0, 9)}Z`;
  }
  if (!Number.isNaN(Date.parse(v))) return new Date(Date.parse(v)).toISOString();
  throw invalidArgument(`invalid value for ${k}: ${JSON.stringify(v)}: expected unix seconds or an RFC 3339 time`);
}
