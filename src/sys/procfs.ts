// Reading /proc: process start times and states, the facts that tell a live container's init from a
// process that merely reuses its pid. Plain file reads; no native code. The one parser of
// /proc/<pid>/stat in TypeScript; the C side parses it itself where Node does not run (berth-init
// after fork in native/exec.c, berth-shim in native/shim/main.c, berth-runtime's native front in
// native/front/record.c).
import { readFileSync } from 'node:fs';
import { invalidArgument } from '../errors/errors.ts';

export interface ProcStat {
  pid: number;
  /** Field 2 without its parentheses: the executable's name, truncated by the kernel to 15 bytes. */
  comm: string;
  /** Single-letter state: R, S, D, Z, T, t, X, I … */
  state: string;
  ppid: number;
  /** Start time after boot, in clock ticks (field 22): with the pid, a unique process identity. */
  startTime: string;
}

/** Parses /proc/<pid>/stat text. The comm field may contain spaces and parentheses: split at the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const open = text.indexOf('(');
  const malformed = () =>
    invalidArgument(
      `malformed /proc/<pid>/stat ${JSON.stringify(text.slice(0, 80))}: expected "pid (comm) state ppid …" with 22 or more fields`,
    );
  if (open < 0 || close < open) throw malformed();
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field n is rest[n-3].
  const state = rest[0] ?? '';
  const ppid = Number(rest[1]);
  const startTime = rest[19] ?? '';
  if (!state || !startTime) throw malformed();
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTime };
}

/** The stat of a process, or undefined when it does not exist. */
export function procStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ESRCH')
      return undefined;
    throw e;
  }
}

/** True when a process with this pid exists (EPERM means it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when `pid` is alive (not a zombie) and is the same process that had `startTime`. */
export function isSameLiveProcess(pid: number, startTime: string): boolean {
  if (pid <= 0) return false;
  const st = procStat(pid);
  return st !== undefined && st.startTime === startTime && st.state !== 'Z' && st.state !== 'X';
}

let self: { pid: number; startTime: string } | undefined;

/** This process's identity (pid and start time), to record as the owner of what it holds. */
export function selfIdentity(): { pid: number; startTime: string } {
  self ??= { pid: process.pid, startTime: procStat(process.pid)?.startTime ?? '' };
  return self;
}
