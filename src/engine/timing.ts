// Opt-in timing trace of berthd's container operations (BERTH_TRACE_TIMING=1 in berthd's
// environment, as berth-runtime's own trace): each step of create, start, exit handling and remove
// prints one line on stderr, `berthd timing: <op> <id12> <step> +<since last step>ms =<since the
// op began>ms`, so one `berth run --rm` can be broken down (docs/engine.md, "Timing trace").
// Unset, `timingSpan` hands out one shared no-op span chosen at load: no clock read, no allocation.
// Owns: the line format. Must never: change behaviour, or be needed for anything but reading.

export type TimingSpan = {
  /** The step just finished. */
  mark(step: string): void;
};

const ON = process.env.BERTH_TRACE_TIMING === '1';

/** True when the trace is on: callers that would compute a step's name check it first. */
export const timingOn = ON;

const NOOP: TimingSpan = { mark: () => {} };

class Span implements TimingSpan {
  readonly #prefix: string;
  readonly #t0: bigint;
  #last: bigint;

  constructor(op: string, id: string) {
    this.#prefix = `berthd timing: ${op} ${id.replace(/[0-9a-f]{64}/g, (x) => x.slice(0, 12))}`;
    this.#t0 = process.hrtime.bigint();
    this.#last = this.#t0;
  }

  mark(step: string): void {
    const now = process.hrtime.bigint();
    const d = Number(now - this.#last) / 1e6;
    const t = Number(now - this.#t0) / 1e6;
    this.#last = now;
    process.stderr.write(`${this.#prefix} ${step} +${d.toFixed(2)}ms =${t.toFixed(2)}ms\n`);
  }
}

/** A span for one operation on one container (or request; full ids are shortened to 12); a no-op unless BERTH_TRACE_TIMING=1. */
export function timingSpan(op: string, id: string): TimingSpan {
  return ON ? new Span(op, id) : NOOP;
}
