// Starting a berth-shim (docs/shim.md, "Processes"): builds its flags, runs it, and returns what it
// reported. The shim detaches itself (it forks; its parent prints one JSON line and exits), so the
// caller learns the result synchronously and is not the shim's parent afterwards. Owns the
// options → flags mapping; must never talk to the runtime itself.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { failedPrecondition, invalidArgument, unavailable } from '../errors/errors.ts';
import { berthRoot } from '../sys/paths.ts';

export type LogFormat = 'json-file' | 'cri';

export interface StartShimOptions {
  /** The container id, as the runtime knows it. */
  id: string;
  /** The bundle directory (create mode; unused with `exec`). */
  bundle: string;
  /** Absolute path of a runc-compatible runtime binary (berth-runtime, runc, crun). */
  runtime: string;
  /** The runtime's --root. */
  runtimeRoot: string;
  /** The shim's own directory (created 0700 if missing): shim.pid, attach.sock, exit.json, … */
  stateDir: string;
  /** Give the container a pty (the bundle's process.terminal must be true too). */
  terminal?: boolean;
  /** Keep the container's stdin open, fed from attach clients; without it stdin is /dev/null. */
  stdin?: boolean;
  logPath: string;
  logFormat: LogFormat;
  /** Rotate when the log would grow past this many bytes (default: never). */
  logMaxSize?: number;
  /** Files kept in all, the current one included (default 1: the log is truncated at max size). */
  logMaxFiles?: number;
  /** Exec mode: run `<runtime> exec --process <processJson> --detach` in the existing container. */
  exec?: { processJson: string };
  /** How long attach clients may stay after exit.json (ms, default 5000). */
  graceMs?: number;
  /** After the process's exit, how long to wait for its stdout/stderr to reach EOF (ms, default 2000). */
  drainMs?: number;
  /** The shim binary (default: native/build/berth-shim of this checkout; env BERTH_SHIM overrides). */
  shimBinary?: string;
  /**
   * Exec mode: leave the output unread, and the exit unclosed, until the first attach client (at
   * most this long, ms; default 0: no hold), so a client that attaches after the process started
   * still gets all of its output and its status.
   */
  awaitAttachMs?: number;
  /**
   * A container's output waits for an attach client that lags (as under dockerd, an attached
   * `docker run` gets every byte on a loaded machine), but a client that takes nothing for this
   * long (ms) is dropped (its log has everything). Default 0: a lagging client is dropped at once.
   */
  paceMs?: number;
  /** Kills a runtime create/exec that has not finished by then (ms, default 60000). */
  timeoutMs?: number;
  /**
   * Create (or exec) through berth-init (docs/shim.md, "Create through berth-init"): the shim
   * spawns this berth-init itself with the sync socket it was handed at fd 3, and waits for the
   * verdict of the caller (who drives the plan) on the control socket at fd 4; it runs no runtime.
   * Only through the spawner, which hands the two fds over.
   */
  init?: string;
}

export interface ShimInfo {
  shimPid: number;
  /** The container's init (create mode) or the exec'd process. */
  containerPid: number;
  stateDir: string;
}

export function shimBinary(): string {
  return process.env.BERTH_SHIM || join(berthRoot(), 'native/build/berth-shim');
}

/** The shim's argv after the binary, for `opts` (exported for tests and for berthd's logs). */
export function shimArgs(opts: StartShimOptions): string[] {
  for (const [name, v] of [
    ['runtime', opts.runtime],
    ['stateDir', opts.stateDir],
    ['logPath', opts.logPath],
  ] as const) {
    if (!isAbsolute(v)) throw invalidArgument(`startShim: ${name} must be an absolute path, got "${v}"`);
  }
  if (!opts.id) throw invalidArgument('startShim: id must not be empty');
  if (opts.logFormat !== 'json-file' && opts.logFormat !== 'cri') {
    throw invalidArgument(`startShim: logFormat must be "json-file" or "cri", got "${String(opts.logFormat)}"`);
  }
  // attach.sock must fit in sockaddr_un.sun_path (108 bytes with the NUL).
  if (Buffer.byteLength(join(opts.stateDir, 'console.sock')) > 107) {
    throw invalidArgument(
      `startShim: stateDir "${opts.stateDir}" is too long for a unix socket path (at most 94 bytes)`,
    );
  }
  const a = ['--id', opts.id, '--runtime', opts.runtime, '--runtime-root', opts.runtimeRoot];
  a.push('--state-dir', opts.stateDir, '--log-path', opts.logPath, '--log-format', opts.logFormat);
  if (opts.exec) a.push('--exec', opts.exec.processJson);
  else a.push('--bundle', opts.bundle);
  if (opts.init !== undefined) {
    if (!isAbsolute(opts.init)) throw invalidArgument(`startShim: init must be an absolute path, got "${opts.init}"`);
    a.push('--init', opts.init);
  }
  const num = (flag: string, v: number | undefined, min: number) => {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < min)
      throw invalidArgument(`startShim: ${flag} must be an integer ≥ ${min}, got ${v}`);
    a.push(`--${flag}`, String(v));
  };
  num('log-max-size', opts.logMaxSize, 0);
  num('log-max-files', opts.logMaxFiles, 1);
  num('grace-ms', opts.graceMs, 0);
  num('drain-ms', opts.drainMs, 0);
  num('create-timeout-ms', opts.timeoutMs, 1);
  if (opts.awaitAttachMs) num('await-attach-ms', opts.awaitAttachMs, 0);
  if (opts.paceMs) num('pace-ms', opts.paceMs, 0);
  if (opts.terminal) a.push('--terminal');
  if (opts.stdin) a.push('--stdin');
  return a;
}

/**
 * Starts a shim that creates the container (or execs the process) and supervises it. Resolves once
 * the runtime's create (or exec) has succeeded; berthd then runs `<runtime> start <id>` itself
 * (create mode), after attaching if it wants every byte of output live.
 */
export function startShim(opts: StartShimOptions): Promise<ShimInfo> {
  if (opts.init !== undefined)
    return Promise.reject(
      invalidArgument(
        `startShim: init needs its sync and control sockets at fds 3 and 4: start the shim through the spawner (src/engine/shim-spawner.ts)`,
      ),
    );
  const args = shimArgs(opts);
  const bin = opts.shimBinary ?? shimBinary();
  if (!existsSync(bin))
    return Promise.reject(unavailable(`berth-shim not found at ${bin}: build it with \`make -C native\``));
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const timeout = (opts.timeoutMs ?? 60_000) + 10_000;
  return new Promise<ShimInfo>((resolve, reject) => {
    execFile(bin, args, { encoding: 'utf8', timeout }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      let r: { pid?: number; containerPid?: number; error?: string } | undefined;
      try {
        r = line ? JSON.parse(line) : undefined;
      } catch {
        r = undefined;
      }
      if (r?.error !== undefined) {
        reject(failedPrecondition(`berth-shim for ${opts.id}: ${r.error}`));
      } else if (r && typeof r.pid === 'number' && typeof r.containerPid === 'number' && !err) {
        resolve({ shimPid: r.pid, containerPid: r.containerPid, stateDir: opts.stateDir });
      } else {
        const why = err ? err.message : `unexpected output ${JSON.stringify(stdout)}`;
        reject(
          unavailable(
            `berth-shim for ${opts.id} failed: ${why}${stderr ? `: ${stderr.trim()}` : ''}`,
            err ?? undefined,
          ),
        );
      }
    });
  });
}
