// Progress display for pull and push, driven by the progress events the image libraries emit.
// On a terminal: one line per layer (short digest, state, bytes/total, bar, speed), redrawn in place
// with ANSI cursor movement at most every 100 ms. Off a terminal: one plain line per layer state
// change, nothing redrawn, so logs stay readable. Owns only rendering; it must never decide
// anything about the pull or push itself.
import type { PullEvent, PushEvent } from '../../images/image-service.ts';
import type { Descriptor } from '../../oci/image-spec.ts';
import { formatBytes, shortDigest } from './format.ts';

export type LayerState =
  | 'waiting'
  | 'downloading'
  | 'verifying'
  | 'downloaded'
  | 'extracting'
  | 'uploading'
  | 'mounted'
  | 'exists'
  | 'done';

export type ProgressOutput = { write(s: string): unknown };

type Row = {
  digest: string;
  state: LayerState;
  current: number;
  total: number;
  // Pull: the blob and the unpack progress independently (pull extracts while it downloads).
  blob: 'none' | 'moving' | 'verifying' | 'stored' | 'existed';
  unpack: 'none' | 'running' | 'done' | 'existed';
  speed: number;
  sampleAt: number;
  sampleBytes: number;
};

export class ProgressRenderer {
  readonly #out: ProgressOutput;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #rows = new Map<string, Row>();
  #drawn = 0;
  #lastDraw = 0;
  #width: number;

  constructor(out: ProgressOutput, opts: { tty: boolean; now?: () => number; columns?: number }) {
    this.#out = out;
    this.#tty = opts.tty;
    this.#now = opts.now ?? (() => Date.now());
    this.#width = opts.columns ?? 100;
  }

  #row(digest: string, total = 0): Row {
    let r = this.#rows.get(digest);
    if (!r) {
      r = {
        digest,
        state: 'waiting',
        current: 0,
        total,
        blob: 'none',
        unpack: 'none',
        speed: 0,
        sampleAt: this.#now(),
        sampleBytes: 0,
      };
      this.#rows.set(digest, r);
      if (!this.#tty) this.#out.write(`${this.#line(r)}\n`);
    }
    if (total > 0) r.total = total;
    return r;
  }

  #set(r: Row, state: LayerState): void {
    const changed = r.state !== state;
    r.state = state;
    if (!this.#tty) {
      if (changed) this.#out.write(`${this.#line(r)}\n`);
      return;
    }
    this.#draw(false);
  }

  #bytes(r: Row, current: number): void {
    r.current = current;
    const now = this.#now();
    const dt = now - r.sampleAt;
    if (dt >= 250) {
      const rate = ((current - r.sampleBytes) * 1000) / dt;
      r.speed = r.speed === 0 ? rate : 0.7 * r.speed + 0.3 * rate;
      r.sampleAt = now;
      r.sampleBytes = current;
    }
  }

  /** Derives a pull row's state from its download and unpack progress. */
  #pullState(r: Row): LayerState {
    if (r.unpack === 'done') return 'done';
    if (r.unpack === 'existed') return 'exists';
    if (r.blob === 'moving') return 'downloading';
    if (r.blob === 'verifying') return 'verifying';
    // pull announces an unpack before its download starts; it extracts only once bytes arrive.
    if (r.unpack === 'running') return r.blob === 'none' ? 'waiting' : 'extracting';
    if (r.blob === 'existed') return 'exists';
    if (r.blob === 'stored') return 'downloaded';
    return 'waiting';
  }

  pull(ev: PullEvent): void {
    if (ev.kind === 'manifest') {
      for (const l of ev.layers) this.#row(l.digest, l.size);
      return;
    }
    if (ev.kind === 'blob') {
      if (ev.role !== 'layer') return;
      const r = this.#row(ev.digest, ev.total);
      if (ev.state === 'downloading' || ev.state === 'resuming') {
        r.blob = 'moving';
        this.#bytes(r, ev.current);
      } else if (ev.state === 'verifying') r.blob = 'verifying';
      else if (ev.state === 'done') {
        r.blob = 'stored';
        r.current = r.total;
      } else if (ev.state === 'exists') {
        r.blob = 'existed';
        r.current = r.total;
      }
      this.#set(r, this.#pullState(r));
      return;
    }
    if (ev.kind === 'unpack') {
      const r = this.#row(ev.digest);
      r.unpack = ev.state === 'unpacking' ? 'running' : ev.state === 'done' ? 'done' : 'existed';
      if (r.unpack !== 'running') r.current = r.total;
      this.#set(r, this.#pullState(r));
    }
  }

  push(ev: PushEvent | { kind: 'plan'; blobs: Descriptor[] }): void {
    if (ev.kind === 'plan') {
      for (const b of ev.blobs) this.#row(b.digest, b.size);
      return;
    }
    if (ev.kind !== 'blob') return;
    const r = this.#row(ev.digest, ev.size);
    if (ev.state === 'pushing') {
      if (ev.current !== undefined) this.#bytes(r, ev.current);
      this.#set(r, 'uploading');
    } else {
      r.current = r.total;
      this.#set(r, ev.state === 'uploaded' ? 'done' : ev.state);
    }
  }

  /** Final redraw: a layer downloaded but never unpacked (no snapshotter) counts as done. */
  finish(): void {
    for (const r of this.#rows.values()) if (r.state === 'downloaded') this.#set(r, 'done');
    if (this.#tty) this.#draw(true);
  }

  /** The current lines, as drawn (for tests and for callers that log). */
  lines(): string[] {
    return [...this.#rows.values()].map((r) => this.#line(r));
  }

  #line(r: Row): string {
    const id = shortDigest(r.digest);
    const state = r.state.padEnd(11);
    const moving = r.state === 'downloading' || r.state === 'uploading';
    const amount =
      r.total > 0 ? `${formatBytes(r.current)}/${formatBytes(r.total)}` : r.current > 0 ? formatBytes(r.current) : '';
    if (!this.#tty) {
      if (r.state === 'waiting') return `${id}: waiting`;
      return `${id}: ${r.state}${amount ? ` ${amount}` : ''}`;
    }
    let line = `${id}  ${state}`;
    if (moving && r.total > 0) {
      const width = 24;
      const filled = Math.min(width, Math.floor((r.current / r.total) * width));
      line += ` [${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}]`;
    }
    if (amount && r.state !== 'waiting') line += ` ${amount}`;
    if (moving && r.speed > 0) line += `  ${formatBytes(r.speed)}/s`;
    return line.length > this.#width - 1 ? line.slice(0, this.#width - 1) : line;
  }

  #draw(force: boolean): void {
    const now = this.#now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    let s = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : '';
    const rows = [...this.#rows.values()];
    for (const r of rows) s += `\r\x1b[2K${this.#line(r)}\n`;
    this.#drawn = rows.length;
    this.#out.write(s);
  }
}
