// An in-process reader/writer lock. The content store takes it shared for commits and lease
// updates and exclusively for gc, so a blob a pull has just leased or committed is never swept.
// Must never be relied on across processes (berthd is the single owner of a store).

export class RWLock {
  #readers = 0;
  #writer = false;
  #queue: { write: boolean; wake: () => void }[] = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(false);
    try {
      return await fn();
    } finally {
      this.#readers--;
      this.#drain();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(true);
    try {
      return await fn();
    } finally {
      this.#writer = false;
      this.#drain();
    }
  }

  #acquire(write: boolean): Promise<void> {
    if (this.#queue.length === 0 && !this.#writer && (!write || this.#readers === 0)) {
      if (write) this.#writer = true;
      else this.#readers++;
      return Promise.resolve();
    }
    return new Promise((wake) => this.#queue.push({ write, wake }));
  }

  // FIFO, so a waiting gc is not starved by a stream of readers.
  #drain(): void {
    while (this.#queue.length > 0 && !this.#writer) {
      const next = this.#queue[0]!;
      if (next.write) {
        if (this.#readers > 0) return;
        this.#writer = true;
      } else this.#readers++;
      this.#queue.shift();
      next.wake();
    }
  }
}
