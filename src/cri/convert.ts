// Small conversions between the CRI's wire shapes (as protobufjs decodes them: snake_case fields,
// enums by name, 64-bit integers as decimal strings) and the engine's. Pure.
import { invalidArgument } from '../errors/errors.ts';

/** An RFC 3339 time as the CRI's int64 nanoseconds since the epoch (a decimal string); 0 for none. */
export function nanos(iso: string | null | undefined): string {
  if (!iso) return '0';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '0' : (BigInt(ms) * 1_000_000n).toString();
}

/** A required string field of a request: its value, or InvalidArgument naming the field. */
export function required(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw invalidArgument(`${field}: required (expected a non-empty string)`);
  return v;
}

/** An int64 field (a decimal string, or a number from a client that sent one) as a number. */
export function int64(v: unknown): number {
  if (v === undefined || v === null || v === '') return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** The CRI's label selector: every key given must be present with the same value. */
export function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}

/** CRI ids may be given truncated (crictl does): an exact id, else a unique prefix. */
export function idMatches(filter: string | undefined, id: string): boolean {
  return !filter || id === filter || id.startsWith(filter);
}
