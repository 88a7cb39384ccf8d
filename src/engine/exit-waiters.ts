// Who waits for a container: `wait` (its next exit, or the last one), `wait --condition removed`
// (its removal), and the exits of containers already removed (run --rm: a late `wait` still learns
// the status, for a minute).
// Owns: the waiters and the recent exits, in memory. Must never: read or write the metadata store.
import type { ExitResult } from './types.ts';

const RECENT_MS = 60_000;

export class ExitWaiters {
  readonly #exit = new Map<string, ((r: ExitResult) => void)[]>();
  readonly #removal = new Map<string, { resolve: (r: ExitResult) => void; reject: (e: unknown) => void }[]>();
  readonly #recent = new Map<string, ExitResult>();

  /** Resolves at the container's next settled exit (or its removal). */
  nextExit(id: string): Promise<ExitResult> {
    return new Promise((resolve) => {
      const ws = this.#exit.get(id) ?? [];
      ws.push(resolve);
      this.#exit.set(id, ws);
    });
  }

  /** Settles every `nextExit` of the container. */
  exited(id: string, r: ExitResult): void {
    const ws = this.#exit.get(id) ?? [];
    this.#exit.delete(id);
    for (const w of ws) w(r);
  }

  /** Resolves once the container is wholly gone, or rejects with why its (auto-)removal failed. */
  removal(id: string): Promise<ExitResult> {
    return new Promise((resolve, reject) => {
      const ws = this.#removal.get(id) ?? [];
      ws.push({ resolve, reject });
      this.#removal.set(id, ws);
    });
  }

  removed(id: string, last: ExitResult): void {
    for (const w of this.#take(id)) w.resolve(last);
  }

  removalFailed(id: string, why: unknown): void {
    for (const w of this.#take(id)) w.reject(why);
  }

  #take(id: string): { resolve: (r: ExitResult) => void; reject: (e: unknown) => void }[] {
    const ws = this.#removal.get(id) ?? [];
    this.#removal.delete(id);
    return ws;
  }

  /** Keeps the last exit of a container about to go, for a minute. */
  remember(id: string, r: ExitResult): void {
    this.#recent.set(id, r);
    setTimeout(() => this.#recent.delete(id), RECENT_MS).unref();
  }

  /** The remembered exit of a removed container, by full id or a prefix of it. */
  recent(word: string): ExitResult | undefined {
    return this.#recent.get(word) ?? [...this.#recent].find(([id]) => id.startsWith(word))?.[1];
  }

  hasRecent(id: string): boolean {
    return this.#recent.has(id);
  }
}
