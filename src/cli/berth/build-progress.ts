// Progress display of `berth build`, driven by the builder's BuildEvents (as BuildKit's plain and tty
// progress). plain: one line per step as it starts (" CACHED" when the cache served it), RUN output
// as it comes, warnings on stderr. tty: a live view redrawn in place with ANSI cursor movement (at
// most every 100 ms, and on each event): a header with the elapsed time and the steps done, one line
// per step with its state and time, and under each running step the last lines of its output; at
// the end a final frame (FINISHED or ERROR) with the output of a failed step kept, then the
// warnings. Finished steps that no longer fit the terminal's height are written once above the live
// view and never redrawn (a line above the screen cannot be reached by the cursor).
// Owns only rendering: it must never decide anything about the build.
import type { BuildEventWire } from '../../api/types.ts';

export type BuildProgressMode = 'plain' | 'tty';
type Out = { write(s: string): unknown };

/** Lines of a running step's output shown below it (BuildKit shows a few). */
const LOG_LINES = 6;
const REDRAW_MS = 100;

type Step = {
  n: number;
  title: string;
  cached: boolean;
  start: number;
  end?: number;
  error?: boolean;
  logs: string[];
  /** The output's last line until its newline comes. */
  partial: string;
};

export class BuildProgress {
  readonly #mode: BuildProgressMode;
  readonly #out: Out;
  readonly #err: Out;
  readonly #now: () => number;
  readonly #columns: number;
  readonly #rows: number;
  readonly #steps = new Map<number, Step>();
  readonly #warnings: string[] = [];
  readonly #t0: number;
  /** Steps written once above the live view (by number). */
  readonly #flushed = new Set<number>();
  #drawn = 0;
  #total = 0;
  #timer: NodeJS.Timeout | undefined;
  #finished = false;

  constructor(o: { mode: BuildProgressMode; out: Out; err: Out; now?: () => number; columns?: number; rows?: number }) {
    this.#mode = o.mode;
    this.#out = o.out;
    this.#err = o.err;
    this.#now = o.now ?? (() => Date.now());
    this.#columns = Math.max(o.columns || 80, 40);
    this.#rows = Math.max(o.rows || 24, 8);
    this.#t0 = this.#now();
  }

  event(ev: BuildEventWire): void {
    if (this.#mode === 'plain') {
      this.#plain(ev);
      return;
    }
    const now = this.#now();
    switch (ev.kind) {
      case 'step': {
        this.#total = ev.total;
        this.#steps.set(ev.step, {
          n: ev.step,
          title: `[${ev.stage}] ${ev.instruction.replace(/\s+/g, ' ')}`,
          cached: ev.cached,
          start: now,
          logs: [],
          partial: '',
          ...(ev.cached ? { end: now } : {}),
        });
        break;
      }
      case 'step-done': {
        const s = this.#steps.get(ev.step);
        if (s && s.end === undefined) s.end = now;
        break;
      }
      case 'output': {
        const s = ev.step !== undefined ? this.#steps.get(ev.step) : this.#lastRunning();
        if (!s) break;
        const parts = (s.partial + ev.text.replace(/\r\n?/g, '\n')).split('\n');
        s.partial = parts.pop()!;
        s.logs.push(...parts);
        // The failed step's output is shown at the end, so keep more than the running view shows.
        if (s.logs.length > 40) s.logs.splice(0, s.logs.length - 40);
        break;
      }
      case 'warning':
        this.#warnings.push(ev.text.trimEnd());
        return;
      case 'done':
        return;
    }
    this.#timer ??= setInterval(() => this.#draw(), REDRAW_MS);
    this.#timer.unref();
    this.#draw();
  }

  /** The last frame (FINISHED, or ERROR marking the steps still running), then the warnings. */
  finish(ok: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#mode === 'tty') {
      const now = this.#now();
      for (const s of this.#steps.values())
        if (s.end === undefined) {
          s.end = now;
          if (!ok) s.error = true;
        }
      this.#draw(ok ? 'FINISHED' : 'ERROR');
    }
    for (const w of this.#warnings) this.#err.write(`warning: ${w}\n`);
  }

  #plain(ev: BuildEventWire): void {
    if (ev.kind === 'step')
      this.#out.write(`#${ev.step} [${ev.stage}] ${ev.instruction}${ev.cached ? ' CACHED' : ''}\n`);
    else if (ev.kind === 'output') this.#out.write(ev.text);
    else if (ev.kind === 'warning') this.#err.write(`warning: ${ev.text}\n`);
  }

  #lastRunning(): Step | undefined {
    let last: Step | undefined;
    for (const s of this.#steps.values()) if (s.end === undefined) last = s;
    return last;
  }

  /** Cut to `width` (default: the terminal's, less one so that no line wraps). */
  #fit(text: string, width = this.#columns - 1): string {
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  }

  #stepLine(s: Step, now: number): string {
    const secs = `${(((s.end ?? now) - s.start) / 1000).toFixed(1)}s`;
    const state = s.error ? 'ERROR ' : s.cached ? 'CACHED ' : '';
    const left = this.#fit(` => ${state}${s.title}`, this.#columns - secs.length - 2);
    return `${left}${' '.repeat(Math.max(1, this.#columns - 1 - left.length - secs.length))}${secs}`;
  }

  #stepLines(s: Step, now: number, final: boolean): string[] {
    const lines = [this.#stepLine(s, now)];
    // A running step's last lines; at the end, a failed step's (as BuildKit keeps them).
    if (s.end === undefined || (final && s.error)) {
      const logs = s.partial ? [...s.logs, s.partial] : s.logs;
      for (const l of logs.slice(final ? -20 : -LOG_LINES)) lines.push(this.#fit(` => => # ${l}`));
    }
    return lines;
  }

  #draw(final?: 'FINISHED' | 'ERROR'): void {
    const now = this.#now();
    const steps = [...this.#steps.values()].sort((a, b) => a.n - b.n);
    const done = steps.filter((s) => s.end !== undefined).length;
    const elapsed = ((now - this.#t0) / 1000).toFixed(1);
    const header = `[+] Building ${elapsed}s (${done}/${final ? steps.length : Math.max(this.#total, steps.length)})${final ? ` ${final}` : ''}`;
    const live = steps.filter((s) => !this.#flushed.has(s.n));
    // Finished steps at the top that do not fit the terminal go above the live view, written once.
    const above: string[] = [];
    const count = () => 1 + live.reduce((n, s) => n + this.#stepLines(s, now, final !== undefined).length, 0);
    while (!final && live.length > 0 && live[0]!.end !== undefined && count() > this.#rows - 2) {
      const s = live.shift()!;
      this.#flushed.add(s.n);
      above.push(this.#stepLine(s, now));
    }
    const lines = [header, ...live.flatMap((s) => this.#stepLines(s, now, final !== undefined))];
    let frame = this.#drawn > 0 ? `\x1b[${this.#drawn}A\r` : '';
    for (const l of [...above, ...lines]) frame += `\x1b[2K${l}\n`;
    frame += '\x1b[J';
    this.#out.write(frame);
    this.#drawn = lines.length;
  }
}

/** `--progress`: auto is tty on a terminal, plain off one. */
export function progressMode(flag: string | undefined, isTTY: boolean): BuildProgressMode {
  if (flag === 'plain' || flag === 'tty') return flag;
  return isTTY ? 'tty' : 'plain';
}
