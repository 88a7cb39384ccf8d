// Reads a container's json-file log (Docker's format, written by the shim: one JSON object per line
// {"log","stream","time"}; rotated files <log>.1 … <log>.N, oldest last) for `logs`, with --tail,
// stream selection and follow. Follow waits on an inotify watch of the log's directory (not of the
// file: a rotation replaces the file, the directory stays), on the end of the writer when the
// caller knows it (an exec's exit), and on a slow poll as the fallback for what a watch can miss
// (a full event queue, a filesystem without inotify, a status recorded only in the database). A
// pod's container logs in the CRI format where its kubelet reads (docs/cri.md); its lines are read
// as the same entries.
// Must never: write to the log.
import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { LogLine, LogOptions } from './types.ts';

/** A CRI-format line (`<time> <stream> <P|F> <content>`, a pod's container log) as a json-file entry. */
const CRI_LINE = /^(\S+) (stdout|stderr) ([PF])(?::\S*)? (.*)$/s;

function parseLines(text: string, out: LogLine[]): void {
  for (const l of text.split('\n')) {
    if (!l) continue;
    const cri = l.startsWith('{') ? null : CRI_LINE.exec(l);
    if (cri) {
      out.push({ stream: cri[2] as 'stdout' | 'stderr', time: cri[1]!, log: cri[3] === 'F' ? `${cri[4]}\n` : cri[4]! });
      continue;
    }
    try {
      const o = JSON.parse(l) as LogLine;
      if (typeof o.log === 'string')
        out.push({ stream: o.stream === 'stderr' ? 'stderr' : 'stdout', time: o.time, log: o.log });
    } catch {
      // A line being written while read is half a line: the follow loop reads it whole next time.
    }
  }
}

/** The whole lines of `fh` from `pos` on, and the position after the last of them. */
async function readFrom(fh: FileHandle, pos: number): Promise<{ lines: LogLine[]; pos: number }> {
  const { size } = await fh.stat();
  if (size <= pos) return { lines: [], pos };
  const buf = Buffer.alloc(size - pos);
  const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
  // Only whole lines: the follow loop continues from the last newline.
  const end = buf.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
  const lines: LogLine[] = [];
  parseLines(buf.subarray(0, end).toString('utf8'), lines);
  return { lines, pos: pos + end };
}

/** How long a follower sleeps when nothing wakes it: the fallback for events a watch missed. */
const FOLLOW_POLL_MS = 100;

/**
 * The log's lines; with `opts.follow`, then the lines written later until `isRunning()` says the
 * writer is done (checked before a read that finds nothing new) or `signal` aborts. `ended`, when
 * given, settles once the writer is done, so the follower's last read follows it at once.
 */
export async function* readLogs(
  path: string,
  opts: LogOptions,
  isRunning: () => boolean,
  signal?: AbortSignal,
  ended?: Promise<unknown>,
): AsyncGenerator<LogLine> {
  const want = (l: LogLine) =>
    (l.stream === 'stdout' ? opts.stdout !== false : opts.stderr !== false) &&
    (opts.since === undefined || l.time >= opts.since);
  const lines: LogLine[] = [];
  for (let i = 5; i >= 1; i--) {
    const t = await readFile(`${path}.${i}`, 'utf8').catch(() => undefined);
    if (t !== undefined) parseLines(t, lines);
  }
  // The follower holds the file it read, not its name: when the name moves to a new file (a
  // rotation: the shim's, or the kubelet's rename and ReopenContainerLog) the lines written to the
  // old one after the last read are still read from it before the follower goes on in the new one.
  // Watched before the first read, so that nothing written after it goes unnoticed.
  let changed = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    changed = true;
    wake?.();
  };
  let watcher: FSWatcher | undefined;
  if (opts.follow) {
    const name = basename(path);
    try {
      watcher = watch(dirname(path), (_ev, f) => {
        if (f === null || f.startsWith(name)) poke();
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined; // the poll alone from here
      });
    } catch {
      watcher = undefined;
    }
    ended?.then(poke, poke);
    signal?.addEventListener('abort', poke, { once: true });
  }
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r').catch(() => undefined);
    let pos = 0;
    if (fh) {
      const first = await readFrom(fh, 0);
      lines.push(...first.lines);
      pos = first.pos;
    }
    let selected = lines.filter(want);
    if (opts.tail !== undefined && opts.tail >= 0) selected = opts.tail === 0 ? [] : selected.slice(-opts.tail);
    yield* selected;
    if (!opts.follow) return;
    for (;;) {
      if (signal?.aborted) return;
      changed = false;
      const running = isRunning();
      if (fh) {
        const r = await readFrom(fh, pos);
        pos = r.pos;
        for (const l of r.lines) if (want(l)) yield l;
        if (r.lines.length) continue;
      }
      const st = await stat(path).catch(() => undefined);
      if (st && (!fh || st.ino !== (await fh.stat()).ino)) {
        // A new file at the name means the writer has reopened: the old one is complete now. What
        // it got between the read above and that reopen is read before moving on (a line written
        // in that gap was lost under load, found by cri-kubelet's rotation test).
        if (fh) {
          const r = await readFrom(fh, pos);
          for (const l of r.lines) if (want(l)) yield l;
        }
        await fh?.close();
        fh = await open(path, 'r').catch(() => undefined);
        pos = 0;
        continue;
      }
      // The last read happened after the exit was seen: nothing more will come.
      if (!running) return;
      if (changed) continue; // woken while reading: read again before sleeping
      await new Promise<void>((r) => {
        const done = () => {
          clearTimeout(t);
          wake = undefined;
          r();
        };
        const t = setTimeout(done, FOLLOW_POLL_MS);
        wake = done;
      });
    }
  } finally {
    watcher?.close();
    signal?.removeEventListener('abort', poke);
    await fh?.close();
  }
}
