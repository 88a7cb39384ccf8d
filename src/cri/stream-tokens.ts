// The one-time tokens of berthd's streaming server: Exec, Attach and PortForward answer a URL whose
// last path segment is a token naming the request they validated; the first connection that
// presents it takes it (a second one is refused), and an untaken token expires after a minute, as
// the kubelet's own streaming server does (its request cache: one minute, a bounded number in flight).
// Pure: no I/O, a clock that tests set.
import { randomBytes } from 'node:crypto';
import { unavailable } from '../errors/errors.ts';

export const TOKEN_TTL_MS = 60_000;
export const MAX_TOKENS = 1000;

export class StreamTokens<T> {
  readonly #entries = new Map<string, { value: T; expires: number }>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(o: { ttlMs?: number; max?: number; now?: () => number } = {}) {
    this.#ttlMs = o.ttlMs ?? TOKEN_TTL_MS;
    this.#max = o.max ?? MAX_TOKENS;
    this.#now = o.now ?? Date.now;
  }

  get size(): number {
    this.#sweep();
    return this.#entries.size;
  }

  /** A fresh token for `value` (144 random bits, URL-safe). */
  issue(value: T): string {
    this.#sweep();
    if (this.#entries.size >= this.#max)
      throw unavailable(
        `streaming: ${this.#max} stream requests are waiting for their client already; try again once some are used or expire (after ${this.#ttlMs / 1000} s)`,
      );
    const token = randomBytes(18).toString('base64url');
    this.#entries.set(token, { value, expires: this.#now() + this.#ttlMs });
    return token;
  }

  /** The request named by `token`, once: undefined when unknown, taken already, or expired. */
  take(token: string): T | undefined {
    const e = this.#entries.get(token);
    if (!e) return undefined;
    this.#entries.delete(token);
    return e.expires > this.#now() ? e.value : undefined;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, e] of this.#entries) if (e.expires <= now) this.#entries.delete(k);
  }
}
