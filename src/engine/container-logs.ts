// Reads a container's json-file log (Docker's format, written by the shim: one JSON object per line
// {"log","stream","time"}; rotated files <log>.1 … <log>.N, oldest last) for `logs`, with --tail,
// stream selection and follow. Follow polls the file: the writer is another process (the shim), and
// polling survives rotation where an inotify watch on one inode would not. A pod's container logs in
// the CRI format where its kubelet reads (docs/cri.md); its lines are read as the same entries.
// Must never: write to the log.
import { open, readFile, stat } from 'node:fs/promises';
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
      if (typeof o.log === 'string') out.push({ stream: o.stream === 'stderr' ? 'stderr' : 'stdout', time: o.time, log: o.log });
    } catch {
      // A line being written while read is half a line: the follow loop reads it whole next time.
    }
  }
}

async function readAll(path: string): Promise<{ lines: LogLine[]; size: number }> {
  const lines: LogLine[] = [];
  for (let i = 5; i >= 1; i--) {
    const t = await readFile(`${path}.${i}`, 'utf8').catch(() => undefined);
    if (t !== undefined) parseLines(t, lines);
  }
  const buf = await readFile(path).catch(() => Buffer.alloc(0));
  // Only whole lines: the follow loop continues from the last newline.
  const end = buf.lastIndexOf(0x0a) + 1;
  parseLines(buf.subarray(0, end).toString('utf8'), lines);
  return { lines, size: end };
}

export async function* readLogs(path: string, opts: LogOptions, isRunning: () => boolean, signal?: AbortSignal): AsyncGenerator<LogLine> {
  const want = (l: LogLine) => (l.stream === 'stdout' ? opts.stdout !== false : opts.stderr !== false) && (opts.since === undefined || l.time >= opts.since);
  const { lines, size } = await readAll(path);
  let selected = lines.filter(want);
  if (opts.tail !== undefined && opts.tail >= 0) selected = opts.tail === 0 ? [] : selected.slice(-opts.tail);
  yield* selected;
  if (!opts.follow) return;
  let pos = size;
  let ino = (await stat(path).catch(() => undefined))?.ino;
  for (;;) {
    if (signal?.aborted) return;
    const running = isRunning();
    const st = await stat(path).catch(() => undefined);
    if (st && st.ino !== ino) {
      ino = st.ino;
      pos = 0;
    }
    if (st && st.size > pos) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(st.size - pos);
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        const chunk = buf.subarray(0, bytesRead);
        const end = chunk.lastIndexOf(0x0a) + 1;
        const out: LogLine[] = [];
        parseLines(chunk.subarray(0, end).toString('utf8'), out);
        pos += end;
        for (const l of out) if (want(l)) yield l;
      } finally {
        await fh.close();
      }
      continue;
    }
    // The last read happened after the exit was seen: nothing more will come.
    if (!running) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
