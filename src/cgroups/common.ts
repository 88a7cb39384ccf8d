// Parts the v1 and v2 managers share: walking a cgroup subtree, signalling its processes, waiting
// for it to empty, and removing it with bounded retries.
// Never: version-specific files other than cgroup.procs.

import { constants } from 'node:os';
import { BerthError, ErrorCode, failedPrecondition, invalidArgument } from '../errors/errors.ts';
import type { CgroupFs } from './cgroup-fs.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** dir and all its descendant directories, deepest first (the order rmdir needs). */
export function subtreeDeepestFirst(fs: CgroupFs, dir: string): string[] {
  if (!fs.exists(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.subdirs(d)) walk(`${d}/${name}`);
    out.push(d);
  };
  walk(dir);
  return out;
}

export function readPids(fs: CgroupFs, dirs: string[]): number[] {
  const set = new Set<number>();
  for (const dir of dirs) {
    for (const d of subtreeDeepestFirst(fs, dir)) {
      let text: string;
      try {
        text = fs.read(`${d}/cgroup.procs`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed while we walked
        throw err;
      }
      for (const line of text.split('\n')) if (line !== '') set.add(Number(line));
    }
  }
  return [...set].sort((a, b) => a - b);
}

export function signalNumber(signal: NodeJS.Signals | number): number {
  if (typeof signal === 'number') return signal;
  const n = (constants.signals as Record<string, number>)[signal];
  if (n === undefined) throw invalidArgument(`unknown signal ${JSON.stringify(signal)}`);
  return n;
}

export function signalAll(pids: number[], signal: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/** Poll until `done()` or the deadline; true when done. */
export async function pollUntil(done: () => boolean, timeoutMs: number, stepMs = 10): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}

export const KILL_WAIT_MS = 10_000;
const RMDIR_TRIES = 50;

/** rmdir each directory of each subtree, deepest first, retrying EBUSY (exiting tasks) a bounded number of times. */
export async function removeSubtrees(fs: CgroupFs, dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (const d of subtreeDeepestFirst(fs, dir)) {
      for (let attempt = 1; ; attempt++) {
        try {
          fs.rmdir(d);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || attempt >= RMDIR_TRIES) {
            const left = readPids(fs, [d]);
            if (left.length > 0) {
              throw failedPrecondition(
                `cannot remove cgroup ${d}: processes ${left.join(', ')} are still in it (kill them first: delete --force)`,
                err,
              );
            }
            throw new BerthError(ErrorCode.FailedPrecondition, `cannot remove cgroup ${d}: rmdir failed with ${code}`, {
              cause: err,
            });
          }
          await sleep(Math.min(5 * attempt, 50));
        }
      }
    }
  }
}

/** mkdir -p within a hierarchy; returns the directories it made, outermost first. */
export function mkdirs(fs: CgroupFs, dir: string, onCreated?: (made: string) => void): string[] {
  const made: string[] = [];
  // A shared parent (/berth) is removed by the delete of its last container: it can vanish between
  // the walk and the mkdir below it (ENOENT), and is then made again. Bounded: each round makes
  // progress unless deletes keep winning the race.
  for (let round = 0; ; round++) {
    const missing: string[] = [];
    let d = dir;
    while (!fs.exists(d)) {
      missing.unshift(d);
      const parent = d.slice(0, d.lastIndexOf('/'));
      if (parent === '' || parent === d) break;
      d = parent;
    }
    let vanished = false;
    for (const m of missing) {
      try {
        fs.mkdir(m);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code === 'ENOENT' && round < MKDIR_ROUNDS) {
          vanished = true;
          break;
        }
        throw new BerthError(ErrorCode.FailedPrecondition, `cannot create cgroup ${m}: mkdir failed with ${code}`, {
          cause: err,
        });
      }
      made.push(m);
      onCreated?.(m);
    }
    if (!vanished) return made;
  }
}

const MKDIR_ROUNDS = 20;

export function readNumber(fs: CgroupFs, path: string): number | undefined {
  try {
    const t = fs.read(path).trim();
    if (t === 'max') return 0;
    const n = Number(t);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** "key value" lines (memory.stat, cpu.stat, cgroup.events) as a record. */
export function readKeyValues(fs: CgroupFs, path: string): Record<string, number> {
  const out: Record<string, number> = {};
  let text: string;
  try {
    text = fs.read(path);
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && v !== '' && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}
