// The engine's events: publish once, delivered to every live subscriber whose filter matches, and
// appended to the persisted tail (metadata) so `events --since` sees what happened before it
// connected, including while no client listened. In-memory fan-out; slow subscribers are not
// waited for (their callbacks must not block). The persisted append waits for setImmediate: a
// request's answer goes out first, then what was published meanwhile is written in one commit that
// does not fsync (MetadataStore.appendEvents: events are a record, not state; every `run` published
// four events on its critical path, each an fsync before). history() and close() flush first.
// Must never: throw into a publisher because a subscriber failed.
import type { MetadataStore } from '../metadata/metadata-store.ts';
import { invalidArgument } from '../errors/errors.ts';
import { eventMatches as matches } from './event-filter.ts';
import type { EngineEvent, EventFilter } from './types.ts';

type Sub = { filter: EventFilter; fn: (e: EngineEvent) => void };
type Row = Parameters<MetadataStore['appendEvent']>[0];

export class EventBus {
  readonly #subs = new Set<Sub>();
  readonly #store: MetadataStore | undefined;
  #pending: Row[] = [];
  #flushScheduled = false;

  constructor(store?: MetadataStore) {
    this.#store = store;
  }

  publish(type: EngineEvent['type'], action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const nowNs = nowNano();
    const e: EngineEvent = {
      type,
      action,
      actor: { id, attributes },
      time: Number(nowNs / 1_000_000_000n),
      timeNano: nowNs.toString(),
    };
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
    try {
      this.#store?.appendEvents(rows);
    } catch {
      // The tail is a convenience; a full disk must not stop a container's exit from being handled.
    }
  }

  subscribe(filter: EventFilter, fn: (e: EngineEvent) => void): () => void {
    const s = { filter, fn };
    this.#subs.add(s);
    return () => this.#subs.delete(s);
  }

  /**
   * The events that match, as `events` shows them: from `sinceNano` on (the persisted tail) when
   * given, then live ones as they are published; with `untilNano` the stream ends at that time,
   * waiting for it when it is in the future, at once when it is past. Without it, it ends only
   * with `signal`. Times are nanoseconds since the epoch, as decimal strings.
   */
  stream(
    filter: EventFilter,
    o: { sinceNano?: string; untilNano?: string } = {},
    signal?: AbortSignal,
  ): AsyncGenerator<EngineEvent> {
    for (const [k, v] of Object.entries(o)) {
      if (v !== undefined && !/^\d{1,30}$/.test(v))
        throw invalidArgument(
          `events: ${k === 'sinceNano' ? 'since' : 'until'} ${JSON.stringify(v)}: expected nanoseconds since the epoch`,
        );
    }
    return this.#stream(filter, o.sinceNano, o.untilNano === undefined ? undefined : BigInt(o.untilNano), signal);
  }

  async *#stream(
    filter: EventFilter,
    sinceNano: string | undefined,
    until: bigint | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<EngineEvent> {
    // Subscribed before the tail is read, so nothing published in between is lost; what both
    // deliver is told apart by time.
    const queue: EngineEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe(filter, (e) => {
      queue.push(e);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let last = -1n;
      if (sinceNano !== undefined) {
        for (const e of this.history(sinceNano, filter)) {
          const t = BigInt(e.timeNano);
          if (until !== undefined && t > until) continue;
          if (t > last) last = t;
          yield e;
        }
      }
      for (;;) {
        while (queue.length > 0) {
          const e = queue.shift()!;
          const t = BigInt(e.timeNano);
          if (until !== undefined && t > until) return;
          if (t > last) yield e;
        }
        if (signal?.aborted || (until !== undefined && nowNano() > until)) return;
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((res) => {
          wake = res;
          // setTimeout holds at most 2^31-1 ms; a later time is waited for in steps.
          if (until !== undefined)
            timer = setTimeout(res, Math.min(Number((until - nowNano()) / 1_000_000n) + 1, 3_600_000));
        });
        wake = undefined;
        clearTimeout(timer);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      unsubscribe();
    }
  }

  /** Persisted events at or after `sinceNano` that match. */
  history(sinceNano: string, filter: EventFilter): EngineEvent[] {
    if (!this.#store) return [];
    this.flush();
    return this.#store
      .eventsSince(sinceNano)
      .map((r) => ({
        type: r.type as EngineEvent['type'],
        action: r.action,
        actor: { id: r.actorId, attributes: r.attributes },
        time: Number(BigInt(r.timeNano) / 1_000_000_000n),
        timeNano: r.timeNano,
      }))
      .filter((e) => matches(e, filter));
  }
}

// Nanosecond wall-clock times from a monotonic source: events published in one process stay ordered.
const hrBase = process.hrtime.bigint();
const epochBaseNs = BigInt(Date.now()) * 1_000_000n;
const nowNano = (): bigint => process.hrtime.bigint() - hrBase + epochBaseNs;
