// The engine's events: publish once, delivered to every live subscriber whose filter matches, and
// appended to the persisted tail (metadata) so `events --since` sees what happened before it
// connected, including while no client listened. In-memory fan-out; slow subscribers are not
// waited for (their callbacks must not block). The persisted append (a synchronous SQLite commit,
// an fsync) waits for setImmediate: a request's answer goes out first, then the tail is written
// (every `run` published four events on its critical path). history() and close() flush first.
// Must never: throw into a publisher because a subscriber failed.
import type { MetadataStore } from '../metadata/metadata-store.ts';
import type { EngineEvent, EventFilter } from './types.ts';

type Sub = { filter: EventFilter; fn: (e: EngineEvent) => void };
type Row = Parameters<MetadataStore['appendEvent']>[0];

export function matches(e: EngineEvent, f: EventFilter): boolean {
  if (f.type?.length && !f.type.includes(e.type)) return false;
  if (f.action?.length && !f.action.some((a) => a === e.action || e.action.startsWith(`${a}:`))) return false;
  if (f.container?.length) {
    if (e.type !== 'container') return false;
    if (!f.container.some((c) => e.actor.id === c || e.actor.id.startsWith(c) || e.actor.attributes.name === c)) return false;
  }
  if (f.label?.length) {
    for (const l of f.label) {
      const eq = l.indexOf('=');
      const k = eq < 0 ? l : l.slice(0, eq);
      if (!(k in e.actor.attributes)) return false;
      if (eq >= 0 && e.actor.attributes[k] !== l.slice(eq + 1)) return false;
    }
  }
  return true;
}

export class EventBus {
  readonly #subs = new Set<Sub>();
  readonly #store: MetadataStore | undefined;
  #pending: Row[] = [];
  #flushScheduled = false;

  constructor(store?: MetadataStore) {
    this.#store = store;
  }

  publish(type: EngineEvent['type'], action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const nowNs = process.hrtime.bigint() - hrBase + epochBaseNs;
    const e: EngineEvent = { type, action, actor: { id, attributes }, time: Number(nowNs / 1_000_000_000n), timeNano: nowNs.toString() };
    if (this.#store) {
      this.#pending.push({ timeNano: e.timeNano, type, action, actorId: id, attributes });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.flush());
      }
    }
    for (const s of this.#subs) {
      if (!matches(e, s.filter)) continue;
      try {
        s.fn(e);
      } catch {
        // A broken subscriber is its own problem.
      }
    }
    return e;
  }

  /** Appends the events published so far to the persisted tail, in order. */
  flush(): void {
    this.#flushScheduled = false;
    const rows = this.#pending;
    this.#pending = [];
    for (const r of rows) {
      try {
        this.#store?.appendEvent(r);
      } catch {
        // The tail is a convenience; a full disk must not stop a container's exit from being handled.
      }
    }
  }

  subscribe(filter: EventFilter, fn: (e: EngineEvent) => void): () => void {
    const s = { filter, fn };
    this.#subs.add(s);
    return () => this.#subs.delete(s);
  }

  /** Persisted events at or after `sinceNano` that match. */
  history(sinceNano: string, filter: EventFilter): EngineEvent[] {
    if (!this.#store) return [];
    this.flush();
    return this.#store
      .eventsSince(sinceNano)
      .map((r) => ({ type: r.type as EngineEvent['type'], action: r.action, actor: { id: r.actorId, attributes: r.attributes }, time: Number(BigInt(r.timeNano) / 1_000_000_000n), timeNano: r.timeNano }))
      .filter((e) => matches(e, filter));
  }
}

// Nanosecond wall-clock times from a monotonic source: events published in one process stay ordered.
const hrBase = process.hrtime.bigint();
const epochBaseNs = BigInt(Date.now()) * 1_000_000n;
