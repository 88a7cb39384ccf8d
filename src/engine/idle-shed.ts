// berthd gives memory back once a busy spell is over (docs/engine.md, "berthd's memory"): a burst of
// creates, an import or a build grows V8's heap (mostly garbage afterwards, which V8 collects but
// whose pages it keeps), glibc's arenas and the node binary's pages its code ran in. Every
// `intervalMs` the process's CPU time over the interval is read (process.cpuUsage: no module to
// load): an interval with more than `busyMs` of it marks a spell; the first quiet interval after
// one (less than `quietMs`) sheds: a full garbage collection, malloc_trim and the file pages
// (shedMemory). A daemon that stays busy, or stays idle, never pays the collection.
// Owns: one unref'd interval timer (it keeps no process alive). Must never: shed while busy.
import { shedMemory } from '../sys/native.ts';

export type IdleShedOptions = { intervalMs?: number; busyMs?: number; quietMs?: number; shed?: () => void };

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Starts watching; returns a function that stops it. */
export function shedWhenIdle(o: IdleShedOptions = {}): () => void {
  const intervalMs = o.intervalMs ?? 10_000;
  const busyMs = o.busyMs ?? 100;
  const quietMs = o.quietMs ?? 20;
  const shed = o.shed ?? (() => shedMemory({ collectGarbage: true }));
  let last = cpuMs();
  // Start-up was a spell: its garbage goes at the first quiet interval.
  let spell = true;
  const timer = setInterval(() => {
    const now = cpuMs();
    const used = now - last;
    last = now;
    if (used > busyMs) spell = true;
    else if (spell && used < quietMs) {
      spell = false;
      shed();
      // The shed's own time is not the next interval's work.
      last = cpuMs();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
