// Reading a container's log as the shim writes it (docs/shim.md, "Log formats"): Docker's
// json-file and the CRI format, rotated files included, partial entries joined back into lines,
// with tail, since, timestamps and follow (the CLI's `logs -f --tail N --timestamps`). Owns parsing
// and following; must never write or rotate a log (the shim is its only writer).
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { invalidArgument, notFound } from '../errors/errors.ts';
import type { LogFormat } from './start-shim.ts';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  stream: LogStream;
  /** RFC 3339 with nanoseconds, as written (of the first piece, for a line that came in pieces). */
  time: string;
  /** The line without its newline (prefixed with the time and a space when `timestamps`). */
  line: string;
}

/** One entry of the file: a whole line, or a piece of one (`partial`). */
export interface RawLogEntry {
  stream: LogStream;
  time: string;
  partial: boolean;
  content: string;
}

export interface ReadLogsOptions {
  /** Keep reading as the shim writes, until exit.json appears in `stateDir` (or `signal` aborts). */
  follow?: boolean;
  /** Only the last N lines of what is already there (follow then goes on from the end). */
  tail?: number;
  /** Prefix each line with its time, as `docker logs --timestamps` does. */
  timestamps?: boolean;
  /** Only lines at or after this time (a Date, or an RFC 3339 string with up to nanoseconds). */
  since?: Date | string;
  /** The shim's state dir: with follow, the end is exit.json there and the log read to its end. */
  stateDir?: string;
  signal?: AbortSignal;
  /** How often follow looks for new data (ms, default 100). */
  pollMs?: number;
}

const TIME_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Nanoseconds since the epoch of an RFC 3339 time (exact: Date alone keeps milliseconds). */
export function timeToNanos(time: string): bigint {
  const m = TIME_RE.exec(time);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : Number.NaN;
  if (!m || Number.isNaN(ms))
    throw invalidArgument(`log time "${time}": expected RFC 3339 (2006-01-02T15:04:05.999999999Z)`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** One line of a log file, or undefined when it is not an entry of `format` (skipped, as docker does). */
export function parseLogLine(format: LogFormat, text: string): RawLogEntry | undefined {
  if (format === 'cri') {
    const a = text.indexOf(' ');
    const b = a < 0 ? -1 : text.indexOf(' ', a + 1);
    if (b < 0) return undefined;
    const c = text.indexOf(' ', b + 1);
    const stream = text.slice(a + 1, b);
    const tag = text.slice(b + 1, c < 0 ? undefined : c);
    if ((stream !== 'stdout' && stream !== 'stderr') || !tag) return undefined;
    return {
      stream,
      time: text.slice(0, a),
      partial: tag.split(':')[0] === 'P',
      content: c < 0 ? '' : text.slice(c + 1),
    };
  }
  let v: { log?: unknown; stream?: unknown; time?: unknown };
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v.log !== 'string' || (v.stream !== 'stdout' && v.stream !== 'stderr') || typeof v.time !== 'string') {
    return undefined;
  }
  const full = v.log.endsWith('\n');
  return { stream: v.stream, time: v.time, partial: !full, content: full ? v.log.slice(0, -1) : v.log };
}

/** Joins partial entries of each stream until its next full entry. */
export class LineJoiner {
  #pending = new Map<LogStream, { time: string; parts: string[] }>();

  push(e: RawLogEntry): LogEntry | undefined {
    const p = this.#pending.get(e.stream);
    if (e.partial) {
      if (p) p.parts.push(e.content);
      else this.#pending.set(e.stream, { time: e.time, parts: [e.content] });
      return undefined;
    }
    if (!p) return { stream: e.stream, time: e.time, line: e.content };
    this.#pending.delete(e.stream);
    return { stream: e.stream, time: p.time, line: p.parts.join('') + e.content };
  }

  /** Lines that never got their end (the process exited mid-line). */
  flush(): LogEntry[] {
    const out = [...this.#pending].map(([stream, p]) => ({ stream, time: p.time, line: p.parts.join('') }));
    this.#pending.clear();
    return out;
  }
}

/** The rotated files, oldest first: path.N … path.1 (those that exist). */
function rotatedFiles(path: string): string[] {
  const out: string[] = [];
  for (let i = 1; existsSync(`${path}.${i}`); i++) out.unshift(`${path}.${i}`);
  return out;
}

/** Reads an fd from `pos` to its current end; complete lines out, the incomplete tail kept. */
class FdLines {
  fd: number;
  pos = 0;
  #rest = '';
  #buf = Buffer.allocUnsafe(64 * 1024);

  constructor(fd: number) {
    this.fd = fd;
  }

  readAvailable(): string[] {
    const lines: string[] = [];
    for (;;) {
      const n = readSync(this.fd, this.#buf, 0, this.#buf.length, this.pos);
      if (n <= 0) break;
      this.pos += n;
      const text = this.#rest + this.#buf.toString('utf8', 0, n);
      const parts = text.split('\n');
      this.#rest = parts.pop() ?? '';
      lines.push(...parts);
    }
    return lines;
  }
}

export async function* readLogs(path: string, format: LogFormat, opts: ReadLogsOptions = {}): AsyncGenerator<LogEntry> {
  if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0)) {
    throw invalidArgument(`readLogs: tail must be an integer ≥ 0, got ${opts.tail}`);
  }
  const since =
    opts.since === undefined
      ? undefined
      : timeToNanos(opts.since instanceof Date ? opts.since.toISOString() : opts.since);
  const joiner = new LineJoiner();
  const keep = (e: LogEntry) => since === undefined || timeToNanos(e.time) >= since;
  const shown = (e: LogEntry): LogEntry => (opts.timestamps ? { ...e, line: `${e.time} ${e.line}` } : e);
  const collect = (lines: string[], into: LogEntry[]) => {
    for (const text of lines) {
      const raw = text === '' ? undefined : parseLogLine(format, text);
      const e = raw && joiner.push(raw);
      if (e && keep(e)) into.push(e);
    }
  };

  const old = rotatedFiles(path);
  if (!existsSync(path) && old.length === 0) throw notFound(`log ${path} does not exist`);
  const history: LogEntry[] = [];
  for (const f of old) {
    const r = new FdLines(openSync(f, 'r'));
    try {
      collect(r.readAvailable(), history);
    } finally {
      closeSync(r.fd);
    }
  }
  let cur: FdLines | undefined = existsSync(path) ? new FdLines(openSync(path, 'r')) : undefined;
  try {
    if (cur) collect(cur.readAvailable(), history);
    if (!opts.follow) for (const e of joiner.flush()) if (keep(e)) history.push(e);
    const from = opts.tail === undefined ? 0 : Math.max(0, history.length - opts.tail);
    for (let i = from; i < history.length; i++) yield shown(history[i]!);
    if (!opts.follow) return;

    const exitFile = opts.stateDir ? join(opts.stateDir, 'exit.json') : undefined;
    for (;;) {
      if (opts.signal?.aborted) break;
      // Seen before the read: the shim writes exit.json only after the log's last byte.
      const exited = exitFile !== undefined && existsSync(exitFile);
      const fresh: LogEntry[] = [];
      if (cur) collect(cur.readAvailable(), fresh);
      for (const e of fresh) yield shown(e);
      // Rotated away under us: what the old file had is read; go on with the new one.
      let ino: number | undefined;
      try {
        ino = statSync(path).ino;
      } catch {
        ino = undefined;
      }
      if (ino !== undefined && (!cur || fstatSync(cur.fd).ino !== ino)) {
        if (cur) closeSync(cur.fd);
        cur = new FdLines(openSync(path, 'r'));
        continue;
      }
      if (exited) break;
      try {
        await sleep(opts.pollMs ?? 100, undefined, { signal: opts.signal });
      } catch {
        break; // aborted
      }
    }
    for (const e of joiner.flush()) if (keep(e)) yield shown(e);
  } finally {
    if (cur) closeSync(cur.fd);
  }
}
