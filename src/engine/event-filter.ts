// The filters of `events` (docker's keys and meaning): parsing what a client sent, refusing keys and
// values it cannot mean, and matching an event against them. Pure.
// Must never: accept a filter it would ignore (a misspelt key used to match every event).
import { invalidArgument } from '../errors/errors.ts';
import type { EngineEvent, EventFilter } from './types.ts';

const KEYS = ['container', 'event', 'image', 'label', 'network', 'type', 'volume'] as const;
const TYPES: ReadonlyArray<EngineEvent['type']> = ['container', 'image', 'volume', 'network', 'daemon'];

/**
 * A client's `{key: [values]}` as an EventFilter. An unknown key is refused as docker refuses it
 * (`invalid filter 'x'`), naming the keys berth knows; so is a value that is not a string, and a
 * `type` that no event has.
 */
export function parseEventFilter(raw: Record<string, unknown>): EventFilter {
  const unknown = Object.keys(raw).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0)
    throw invalidArgument(`invalid filter ${unknown.map((k) => `'${k}'`).join(', ')} (expected ${KEYS.join(', ')})`);
  const f: EventFilter = {};
  for (const k of KEYS) {
    const v = raw[k];
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    for (const x of values) {
      if (typeof x !== 'string')
        throw invalidArgument(`invalid filter '${k}': value ${JSON.stringify(x)}: expected a string`);
    }
    f[k] = values as string[];
  }
  for (const t of f.type ?? []) {
    if (!(TYPES as readonly string[]).includes(t))
      throw invalidArgument(`invalid filter 'type=${t}': expected one of ${TYPES.join(', ')}`);
  }
  return f;
}

/** An image as docker names it in a filter: `busybox` means `busybox:latest`. */
const sameImage = (want: string, have: string | undefined): boolean =>
  have !== undefined &&
  (have === want || (!/[:@]/.test(want.slice(want.lastIndexOf('/') + 1)) && have === `${want}:latest`));

export function eventMatches(e: EngineEvent, f: EventFilter): boolean {
  if (f.type?.length && !f.type.includes(e.type)) return false;
  // `exec_start: sh` style actions match their first word, as in docker.
  if (f.event?.length && !f.event.some((a) => a === e.action || e.action.startsWith(`${a}:`))) return false;
  if (f.container?.length) {
    if (e.type !== 'container') return false;
    if (!f.container.some((c) => e.actor.id === c || e.actor.id.startsWith(c) || e.actor.attributes.name === c))
      return false;
  }
  if (f.image?.length) {
    const image = e.type === 'image' ? e.actor.id : e.type === 'container' ? e.actor.attributes.image : undefined;
    if (!f.image.some((i) => sameImage(i, image))) return false;
  }
  if (f.network?.length && !(e.type === 'network' && f.network.includes(e.actor.id))) return false;
  if (f.volume?.length && !(e.type === 'volume' && f.volume.includes(e.actor.id))) return false;
  for (const l of f.label ?? []) {
    const eq = l.indexOf('=');
    const k = eq < 0 ? l : l.slice(0, eq);
    if (!Object.hasOwn(e.actor.attributes, k)) return false;
    if (eq >= 0 && e.actor.attributes[k] !== l.slice(eq + 1)) return false;
  }
  return true;
}
