// What a shim leaves in its state dir (docs/shim.md, "State dir"), read back: the shim's identity
// (shim.pid: pid and start time), the container's pid, and the exit record (exit.json). berthd
// uses these to find its shims again after a restart. Owns reading these files and judging whether
// a shim is alive; must never write them (the shim is their only writer).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { internal } from '../errors/errors.ts';
import { isSameLiveProcess } from '../sys/procfs.ts';

/** exit.json: how the container's init (or the exec'd process) ended. */
export interface ExitStatus {
  /** The exit status, or 128 + the signal number when a signal killed it (as docker reports). */
  exitCode: number;
  /** The signal that killed it, or null when it exited. */
  signal: number | null;
  /** RFC 3339 UTC with nanoseconds, from the shim's clock when it reaped the process. */
  exitedAt: string;
  /** The memory cgroup's oom_kill count rose while the process ran. */
  oomKilled: boolean;
  pid: number;
}

export interface ShimIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat when the shim started: tells it from a process reusing the pid. */
  startTime: string;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The exit record, or undefined while the process runs (or the shim never got that far). */
export function readExit(stateDir: string): ExitStatus | undefined {
  const path = join(stateDir, 'exit.json');
  const text = readOptional(path);
  if (text === undefined) return undefined;
  let v: Partial<ExitStatus>;
  try {
    v = JSON.parse(text) as Partial<ExitStatus>;
  } catch (e) {
    throw internal(
      `${path}: not JSON (${(e as Error).message}); the shim writes it atomically, so something else wrote it`,
    );
  }
  if (typeof v.exitCode !== 'number' || typeof v.exitedAt !== 'string') {
    throw internal(`${path}: expected {"exitCode": number, "exitedAt": string, ...}, got ${text.trim()}`);
  }
  return {
    exitCode: v.exitCode,
    signal: typeof v.signal === 'number' ? v.signal : null,
    exitedAt: v.exitedAt,
    oomKilled: v.oomKilled === true,
    pid: typeof v.pid === 'number' ? v.pid : 0,
  };
}

/** shim.pid, or undefined when the shim never wrote it. */
export function readShimIdentity(stateDir: string): ShimIdentity | undefined {
  const text = readOptional(join(stateDir, 'shim.pid'));
  if (text === undefined) return undefined;
  const [pid, startTime] = text.trim().split(' ');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0 || !startTime) {
    throw internal(`${join(stateDir, 'shim.pid')}: expected "<pid> <start time>", got ${JSON.stringify(text)}`);
  }
  return { pid: n, startTime };
}

/** The container's pid as the runtime wrote it (container.pid, or exec.pid in exec mode). */
export function readContainerPid(stateDir: string): number | undefined {
  for (const name of ['container.pid', 'exec.pid']) {
    const text = readOptional(join(stateDir, name));
    if (text !== undefined && /^\d+\s*$/.test(text)) return Number(text);
  }
  return undefined;
}

/** True when the shim that wrote shim.pid still runs (same pid and start time, not a zombie). */
export function shimAlive(stateDir: string): boolean {
  const id = readShimIdentity(stateDir);
  return id !== undefined && isSameLiveProcess(id.pid, id.startTime);
}
