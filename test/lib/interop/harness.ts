// Shared machinery of the interop tests (podman, containerd, dockerd driving an OCI runtime in place
// of runc): which runtime they drive (BERTH_INTEROP_RUNTIME=berth|runc, default berth), a tracing
// wrapper that records every invocation of that runtime, commands with timeouts, and the cleanup
// that must leave the machine as it was (processes by pid, mounts under our temp root, our cgroups).
// It must never touch the machine's own daemons, sockets or cgroups: everything it stops or removes
// is found under a temp root it made or a cgroup whose name says berth.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO_ROOT = join(import.meta.dirname, '../../..');
export const BERTH_RUNTIME = join(REPO_ROOT, 'dist/bin/berth-runtime');
export const RUNC = '/usr/sbin/runc';

export type InteropRuntime = {
  /** berth or runc: shown in test titles. */
  name: 'berth' | 'runc';
  /** The real binary. */
  binary: string;
};

/** The runtime the interop tests drive: BERTH_INTEROP_RUNTIME=berth|runc (default berth). */
export function interopRuntime(): InteropRuntime {
  const raw = (process.env['BERTH_INTEROP_RUNTIME'] ?? 'berth').trim();
  if (raw === 'runc') return { name: 'runc', binary: RUNC };
  if (raw !== 'berth' && raw !== '') throw new Error(`BERTH_INTEROP_RUNTIME=${raw}: expected "berth" or "runc"`);
  if (!existsSync(BERTH_RUNTIME))
    throw new Error(
      `${BERTH_RUNTIME} does not exist: build it with scripts/build.sh (or set BERTH_INTEROP_RUNTIME=runc)`,
    );
  return { name: 'berth', binary: BERTH_RUNTIME };
}

/** Fails loudly (never skips) when a peer's binary is missing. */
export function need(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg} (scripts/setup.sh)`);
}

export type CmdResult = {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  command: string;
};

export function describeCmd(r: CmdResult): string {
  return `\`${r.command}\` → ${r.signal ? `signal ${r.signal}` : `exit ${r.status}`}\nstdout: ${r.stdout.trim()}\nstderr: ${r.stderr.trim()}`;
}

/** Runs a client command synchronously with a timeout (a hung peer fails the test, not the run). */
export function cmd(
  bin: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): CmdResult {
  const timeout = opts.timeoutMs ?? 60_000;
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    timeout,
    killSignal: 'SIGKILL',
    env: opts.env ?? cleanEnv(),
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(opts.input === undefined ? {} : { input: opts.input }),
    maxBuffer: 16 * 1024 * 1024,
  });
  const command = [bin, ...args].join(' ');
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT')
    throw new Error(`\`${command}\` timed out after ${timeout} ms; stdout: ${r.stdout} stderr: ${r.stderr}`);
  if (r.error) throw new Error(`\`${command}\` could not be run: ${r.error.message}`);
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', command };
}

/** The test's environment without node:test's variables (peers exec'd from here must not see them). */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_TEST_CONTEXT'];
  delete env['NODE_OPTIONS'];
  env['PATH'] = '/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin';
  return env;
}

/**
 * A temp root for one peer: every daemon state dir, socket and log of the test lives under it, and
 * `cleanup()` unmounts, kills and removes what is found there. `trace` lists each runtime call.
 */
export class InteropRoot {
  readonly dir: string;
  readonly rt: InteropRuntime;
  /** The path the peer is given as its runtime: a wrapper that records argv, then execs the runtime. */
  readonly runtimePath: string;
  readonly traceFile: string;
  /** Copies of the runtime's --log files, named by their path with / as _. */
  readonly logCopies: string;
  /** A cgroup name (under each v1 controller) that the test's containers go under. */
  readonly cgroupParent: string;
  private readonly daemons: { name: string; child: ChildProcess; log: string }[] = [];

  constructor(peer: string, rt: InteropRuntime) {
    this.rt = rt;
    // Short: unix socket paths under it must stay below 108 bytes.
    this.dir = mkdtempSync(`/tmp/berth-io-${peer}-`);
    this.traceFile = join(this.dir, 'runtime-trace.log');
    this.cgroupParent = `berth-interop-${peer}-${randomBytes(3).toString('hex')}`;
    const bin = this.path('bin', true);
    // The basename stays the runtime's own (podman keys behaviour on it: JSON logs for "runc").
    this.runtimePath = join(bin, rt.name === 'runc' ? 'runc' : 'berth-runtime');
    this.logCopies = this.path('runtime-logs', true);
    // Peers delete a container's --log file with the container: keep a copy of what earlier calls
    // wrote there (a failed create's error is still in it when `delete --force` follows).
    const script = [
      '#!/bin/sh',
      '# berth interop: record the invocation, keep a copy of its --log file, then become the runtime.',
      `printf '%s\\n' "[$$] $*" >> '${this.traceFile}'`,
      'prev=',
      'for a in "$@"; do',
      `  if [ "$prev" = --log ] && [ -s "$a" ]; then cp "$a" '${this.logCopies}'/"$(printf '%s' "$a" | tr / _)" 2>/dev/null; fi`,
      '  prev=$a',
      'done',
      `exec '${rt.binary}' "$@"`,
      '',
    ];
    writeFileSync(this.runtimePath, script.join('\n'), { mode: 0o755 });
  }

  path(name: string, dir = false): string {
    const p = join(this.dir, name);
    if (dir) mkdirSync(p, { recursive: true });
    return p;
  }

  /** Every recorded runtime invocation, one per line. */
  trace(): string {
    return existsSync(this.traceFile) ? readFileSync(this.traceFile, 'utf8') : '';
  }

  /** Starts a daemon in its own process group, its output in <dir>/<name>.log. */
  startDaemon(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()): ChildProcess {
    const log = this.path(`${name}.log`);
    const fd = openSync(log, 'a');
    try {
      const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], env });
      child.unref();
      this.daemons.push({ name, child, log });
      return child;
    } finally {
      closeSync(fd);
    }
  }

  daemonPid(name: string): number | undefined {
    return this.daemons.find((d) => d.name === name)?.child.pid;
  }

  daemonLog(name: string): string {
    const p = join(this.dir, `${name}.log`);
    return existsSync(p) ? readFileSync(p, 'utf8') : '';
  }

  /** Polls `ready` until it holds; throws with the daemon's log after `timeoutMs` or if it exits. */
  async waitReady(name: string, child: ChildProcess, ready: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(this.daemonLog(name))}`,
        );
      if (ready()) return;
      await sleep(100);
    }
    throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${tail(this.daemonLog(name))}`);
  }

  /** Stops our daemons (SIGTERM, then SIGKILL), then whatever else runs from our root. */
  async stopDaemons(): Promise<void> {
    for (const d of [...this.daemons].reverse()) {
      const pid = d.child.pid;
      if (pid === undefined || d.child.exitCode !== null || d.child.signalCode !== null) continue;
      await stopPid(pid, 15_000);
    }
  }

  /**
   * Leaves nothing behind: daemons stopped, every process whose command line or cwd names our root
   * (shims, conmon, container processes spawned from there) killed by pid, mounts under the root
   * unmounted (deepest first), our cgroups emptied and removed, the root deleted. Never throws
   * before it has tried everything; returns what it had to clean (for a test to assert on).
   */
  async cleanup(): Promise<string[]> {
    const notes: string[] = [];
    try {
      await this.stopDaemons();
    } catch (err) {
      notes.push(`stopping daemons: ${(err as Error).message}`);
    }
    for (const pid of processesUnder(this.dir)) {
      notes.push(`killed leftover process ${pid}: ${cmdline(pid)}`);
      await stopPid(pid, 3_000, 'SIGKILL');
    }
    for (const pid of processesInCgroup(this.cgroupParent)) {
      notes.push(`killed process ${pid} left in cgroup ${this.cgroupParent}: ${cmdline(pid)}`);
      await stopPid(pid, 3_000, 'SIGKILL');
    }
    for (const m of mountsUnder(this.dir)) {
      const r = spawnSync('umount', ['-l', m], { encoding: 'utf8' });
      if (r.status !== 0) notes.push(`umount ${m}: ${r.stderr.trim()}`);
      else notes.push(`unmounted ${m}`);
    }
    notes.push(...removeCgroups(this.cgroupParent));
    // For a post-mortem: the trace, the runtime's log copies and the daemon logs stay.
    if (process.env['BERTH_INTEROP_KEEP'] === '1') {
      notes.push(`kept ${this.dir} (BERTH_INTEROP_KEEP=1): remove it by hand`);
      return notes;
    }
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      notes.push(`rm ${this.dir}: ${(err as Error).message}`);
    }
    return notes;
  }
}

export function tail(s: string, lines = 40): string {
  return s.split('\n').slice(-lines).join('\n');
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '<gone>';
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Signals one pid and waits for it to go; SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs: number, first: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  try {
    process.kill(pid, first);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    const hard = Date.now() + 5_000;
    while (alive(pid) && Date.now() < hard) await sleep(50);
  }
}

/** Pids whose command line, cwd or executable mention `dir` (our daemons' children and shims). */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    let hit = false;
    try {
      hit = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {}
    for (const link of ['cwd', 'exe']) {
      if (hit) break;
      try {
        hit = readlinkSync(`/proc/${pid}/${link}`).startsWith(dir);
      } catch {}
    }
    if (hit && alive(pid)) out.push(pid);
  }
  return out;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

function cgroupDirs(name: string): string[] {
  const out: string[] = [];
  if (!existsSync(CGROUP_ROOT)) return out;
  for (const ctl of readdirSync(CGROUP_ROOT)) {
    const d = join(CGROUP_ROOT, ctl, name);
    if (existsSync(d)) out.push(d);
  }
  return out;
}

function walkCgroup(dir: string, each: (d: string) => void): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walkCgroup(join(dir, e.name), each);
  each(dir);
}

function processesInCgroup(name: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupDirs(name)) {
    walkCgroup(d, (sub) => {
      try {
        for (const l of readFileSync(join(sub, 'cgroup.procs'), 'utf8').split('\n'))
          if (l.trim() !== '' && alive(Number(l))) pids.add(Number(l));
      } catch {}
    });
  }
  return [...pids];
}

/** Removes `name` (a berth-named cgroup) under every controller, deepest first. */
export function removeCgroups(name: string): string[] {
  if (!name.includes('berth')) throw new Error(`refusing to remove cgroup ${name}: not a berth cgroup`);
  const notes: string[] = [];
  for (const d of cgroupDirs(name)) {
    walkCgroup(d, (sub) => {
      try {
        rmdirSync(sub);
      } catch (err) {
        notes.push(`rmdir ${sub}: ${(err as Error).message}`);
      }
    });
  }
  return notes;
}

/** Mount points at or under `dir`, deepest first (from our own mount namespace's mountinfo). */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp === undefined) continue;
    const p = mp.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

/** Polls `pred` until it holds, or throws `what` with the last value seen. */
export async function waitFor<T>(what: string, get: () => T, pred: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = get();
  while (!pred(last)) {
    if (Date.now() > deadline)
      throw new Error(
        `waited ${timeoutMs} ms for ${what}; last: ${typeof last === 'string' ? last : JSON.stringify(last)}`,
      );
    await sleep(100);
    last = get();
  }
  return last;
}

export function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/**
 * Directories outside our root that a peer creates whatever its configuration (containerd's shim
 * sockets in /run/containerd/s, dockerd's /run/docker/plugins). Records which did not exist before
 * the peer started; `release()` removes those again, only if empty (innermost first), so a
 * directory that something else has begun to use meanwhile stays.
 */
export class MachineDirs {
  private readonly made: string[];

  /** `dirs` innermost first: [/run/containerd/s, /run/containerd]. */
  constructor(dirs: string[]) {
    this.made = dirs.filter((d) => !existsSync(d));
  }

  release(): void {
    for (const d of this.made) {
      try {
        if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
      } catch {}
    }
  }
}
