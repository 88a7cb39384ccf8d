// berth-runtime's plan server (docs/native.md, "The plan server"): the Node bundle kept running, so
// that `create` and `run` do not start Node (80-95 ms here, more than runc's whole create). The
// native front (native/front/serve.c) sends it the command line; it runs the same command code as
// the Node verb (runtimeCommand), and where that code would spawn berth-init, it asks the front to
// spawn it instead (so the container's init is the caller's child, as with runc) and drives the
// sync protocol over the socket it hands the front, as berthd does with berth-shim --init.
//
// What it decides is what the Node verb decides: it serves only a caller identical to the process
// that started it (identityText: the bundle's file, credentials, namespaces, capabilities, umask,
// LSM label, BERTH_* and NODE_* environment; checked through SO_PEERCRED), and hands back, before
// anything is changed, every command it would not run exactly as the Node verb does: other verbs,
// help, hooks that run in the runtime's process (prestart, createRuntime), a terminal relayed by
// the runtime itself. Errors it words itself: they come from the same code.
// It exits after a spell without callers (BERTH_RUNTIME_PLAN_SERVER_IDLE_MS, default 20 s), or
// when its socket is no longer its own. It lives in a cgroup of its own (/berth-runtime-plans in
// every hierarchy), not its first caller's, which it would keep from being removed (a pod's, a
// podman conmon's); a relative cgroupsPath is resolved against each caller's own cgroup, as the
// Node verb resolves it against its own.
import {
  chmodSync,
  closeSync,
  lstatSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { newCgroupManager } from '../../cgroups/manager.ts';
import type { CgroupManager } from '../../cgroups/types.ts';
import { unavailable } from '../../errors/errors.ts';
import { ConsoleEndpoint } from '../../runtime/console.ts';
import type { Process } from '../../oci/runtime-spec.ts';
import type { CreateOptions, ExecOptions, Runtime } from '../../runtime/runtime.ts';
import * as native from '../../sys/native.ts';
import { initBinary } from '../../sys/paths.ts';

/** The verbs the server runs; the front sends only these. */
export const SERVED_VERBS: ReadonlySet<string> = new Set(['create', 'run', 'exec']);

/** Thrown before anything is changed: the command is the Node verb's to run (the front execs it). */
export class HandBack extends Error {
  constructor() {
    super('handed back to the Node verb');
  }
}

/**
 * What the front does once the server is done: exit (create; warns when stage0 failed), start the
 * container (run -d), run it in the foreground (run: start, wait, delete), wait for stage0 and exit
 * with its status (exec), or reap stage0 and exit 0 (exec --detach).
 */
export type Then = 'exit' | 'start' | 'run' | 'wait' | 'detached';

/** The server's side of create and run, given to runtimeCommand through CommandIO.served. */
export interface ServedLaunch {
  /** The caller's /proc/<pid>/cgroup: the base of a relative cgroupsPath, as the Node verb's own is. */
  callerCgroup: string;
  /** `note` is called once the server has taken the command (it hands back before). */
  launch(rt: Runtime, root: string, id: string, opts: CreateOptions, then: Then, note: () => void): Promise<number>;
  exec(rt: Runtime, root: string, id: string, proc: Process, opts: ExecOptions, note: () => void): Promise<number>;
}

/** The server's cgroup, in every hierarchy. */
const OWN_CGROUP = '/berth-runtime-plans';

/** Where a command's output goes, and where its relative paths start: this process's, or a served caller's. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  /** Set in the plan server: create and run hand berth-init's spawning to the caller. */
  served?: ServedLaunch;
}

/** runtimeCommand and reportFailure (main.ts), with L its logger. */
type Command<L> = (argv: string[], io: CommandIO, onLogger: (log: L) => void) => Promise<number>;
type Report<L> = (e: unknown, log: L | undefined, err: (text: string) => void) => number;

// The frames between the front and the server: u32 type, u32 length (little-endian), payload.
const Frame = { Request: 1, Spawned: 2, Fallback: 10, Output: 11, Spawn: 12, Done: 13 } as const;
const MAX_FRAME = 16 << 20;
/** The front keeps its own fds at 100 and above: a --preserve-fds range must stay below. */
const MAX_PRESERVE_FDS = 64;
/** sun_path's 108 bytes, with its NUL. */
const MAX_SOCKET_PATH = 107;

const NAMESPACES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts'];
const STATUS_KEYS = [
  'Umask',
  'Uid',
  'Gid',
  'Groups',
  'NoNewPrivs',
  'Seccomp',
  'CapInh',
  'CapPrm',
  'CapEff',
  'CapBnd',
  'CapAmb',
];

/**
 * What a caller must share with the server to be served, as text: native/front/serve.c builds the
 * same bytes for itself (and names the socket by their FNV-1a hash); `proc` is /proc/self or
 * /proc/<pid>, `exe` the Node bundle.
 */
export function identityText(proc: string, exe: string): string {
  const st = statSync(exe, { bigint: true });
  let text = `berth-runtime plan server 1\nexe ${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}\n`;
  for (const ns of NAMESPACES) text += `ns ${ns} ${readlinkSync(`${proc}/ns/${ns}`)}\n`;
  const status = readFileSync(`${proc}/status`, 'utf8').split('\n');
  for (const key of STATUS_KEYS) text += `${status.find((l) => l.startsWith(`${key}:`)) ?? `${key}: -`}\n`;
  let attr = '-';
  try {
    attr = readFileSync(`${proc}/attr/current`, 'latin1');
  } catch {}
  text += `attr ${attr}\n`;
  // The environment it started with (a front never changes its own), as the front reads environ.
  const env = readFileSync(`${proc}/environ`, 'latin1')
    .split('\0')
    .filter((e) => (e.startsWith('BERTH_') || e.startsWith('NODE_')) && !e.startsWith('BERTH_RUNTIME_PLAN_SERVER'))
    .sort(byBytes);
  for (const e of env) text += `env ${e}\n`;
  return text;
}

/** strcmp's order (the front sorts with it): by bytes, which latin1 strings compare as. */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a, 64 bits, as 16 hex digits: the socket's name. */
export function identityHash(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'latin1')) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

function frame(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

const strings = (list: string[]) => Buffer.from(list.map((s) => `${s}\0`).join(''));

/** One front's connection: its frames in, ours out (with fds, through sendmsg). */
class Caller {
  readonly fd: number;
  private pending = Buffer.alloc(0);
  private waiter: { resolve: (p: Buffer) => void; reject: (e: Error) => void } | undefined;
  private closed = false;
  /**
   * Output frames held until the server has answered (SPAWN or DONE): after a FALLBACK the Node
   * verb says it all again (a config's warnings, say), so what was held is dropped.
   */
  private held: Buffer[] | undefined = [];
  private readonly sock: Socket;

  constructor(sock: Socket, onRequest: (c: Caller, payload: Buffer) => void) {
    this.sock = sock;
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    this.fd = typeof fd === 'number' ? fd : -1;
    let requested = false;
    sock.on('data', (d: Buffer) => {
      this.pending = Buffer.concat([this.pending, d]);
      while (this.pending.length >= 8) {
        const type = this.pending.readUInt32LE(0);
        const len = this.pending.readUInt32LE(4);
        if (len > MAX_FRAME) return this.end();
        if (this.pending.length < 8 + len) break;
        const payload = this.pending.subarray(8, 8 + len);
        this.pending = this.pending.subarray(8 + len);
        if (type === Frame.Request && !requested) {
          requested = true;
          onRequest(this, payload);
        } else if (type === Frame.Spawned && this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w.resolve(payload);
        } else return this.end();
      }
    });
    sock.on('error', () => this.end());
    sock.on('close', () => this.end());
  }

  send(type: number, payload: Buffer, fds: number[] = []): void {
    if (this.closed) return;
    if (this.held && type === Frame.Output) {
      this.held.push(payload);
      return;
    }
    const held = type === Frame.Fallback ? [] : (this.held ?? []);
    this.held = undefined;
    try {
      for (const p of held) native.sendFds(this.fd, [], frame(Frame.Output, p));
      native.sendFds(this.fd, fds, frame(type, payload));
    } catch {
      this.end();
    }
  }

  output(fd: 1 | 2, text: string): void {
    this.send(Frame.Output, Buffer.concat([Buffer.from([fd]), Buffer.from(text)]));
  }

  /** The front's answer to SPAWN: berth-init's pid, or 0 and the errno of its failed spawn. */
  spawned(): Promise<{ pid: number; errno: number }> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the caller went away'));
      this.waiter = {
        resolve: (p) => {
          const [pid = '0', errno = '0'] = p.toString().replace(/\0.*$/s, '').split(' ');
          resolve({ pid: Number(pid), errno: Number(errno) });
        },
        reject,
      };
    });
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiter?.reject(new Error('the caller went away'));
    this.waiter = undefined;
    this.sock.destroy();
  }
}

/** Runs the plan server on `socketPath` until it has been idle long enough. */
export function servePlans<L>(socketPath: string, run: Command<L>, report: Report<L>): void {
  const exe = process.argv[1] ?? '';
  const own = identityText('/proc/self', exe);
  // A server that is not who its socket's name says (its start-up changed something the front
  // hashed) serves nobody; it still answers, so that callers are not left starting servers.
  const trusted = socketPath.endsWith(`/${identityHash(own)}.sock`);
  const idleMs = Number(process.env.BERTH_RUNTIME_PLAN_SERVER_IDLE_MS ?? '') || 20_000;
  const { createServer } = process.getBuiltinModule('node:net') as typeof import('node:net');

  let active = 0;
  let lastSeen = Date.now();
  let ino = -1;
  const server = createServer((sock) => {
    active++;
    lastSeen = Date.now();
    const caller = new Caller(sock, (c, payload) => {
      serveOne(c, payload).finally(() => {
        c.end();
      });
    });
    sock.on('close', () => {
      active--;
      lastSeen = Date.now();
    });
    void caller;
  });

  const serveOne = async (c: Caller, payload: Buffer) => {
    const fields = payload.toString().split('\0');
    const cwd = fields[0] ?? '/';
    const argc = Number(fields[1]);
    const argv = fields.slice(2, 2 + argc);
    const caller = trusted && c.fd >= 0 ? sameCaller(c.fd) : undefined;
    if (!caller || !Number.isInteger(argc) || argc < 1 || argv.length !== argc || !cwd.startsWith('/')) {
      c.send(Frame.Fallback, Buffer.alloc(0));
      return;
    }
    let then: Then = 'exit';
    let log: L | undefined;
    const err = (t: string) => c.output(2, t);
    const served: ServedLaunch = {
      callerCgroup: caller.cgroup,
      launch: async (rt, root, id, opts, how, note) => {
        then = how;
        return launch(c, cwd, rt, root, id, opts, how, note);
      },
      exec: async (rt, root, id, proc, opts, note) => {
        then = opts.detach ? 'detached' : 'wait';
        return execIn(c, cwd, rt, root, id, proc, opts, note);
      },
    };
    let code: number;
    try {
      code = await run(argv, { out: (t) => c.output(1, t), err, cwd, served }, (l) => {
        log = l;
      });
    } catch (e) {
      if (e instanceof HandBack) {
        c.send(Frame.Fallback, Buffer.alloc(0));
        return;
      }
      code = report(e, log, err);
      then = 'exit';
    }
    c.send(Frame.Done, strings([String(code), then]));
  };

  /** The caller's cgroup when it is the server's twin (SO_PEERCRED's pid, read through /proc), else undefined. */
  const sameCaller = (fd: number): { cgroup: string } | undefined => {
    try {
      const cred = native.peerCred(fd);
      if (cred.uid !== process.geteuid?.() || identityText(`/proc/${cred.pid}`, exe) !== own) return undefined;
      return { cgroup: readFileSync(`/proc/${cred.pid}/cgroup`, 'utf8') };
    } catch {
      return undefined;
    }
  };

  let cgroup: CgroupManager | undefined;
  // Stops taking callers (its socket removed, if still its own); exits once those it has are done.
  let draining = false;
  const drain = () => {
    if (!draining) {
      draining = true;
      server.close();
      try {
        if (lstatSync(socketPath).ino === ino) unlinkSync(socketPath);
      } catch {}
    }
    if (active > 0) return;
    if (cgroup) leaveOwnCgroup(cgroup);
    process.exit(0);
  };

  // Bound beside its name, then renamed over it: a caller never finds a socket nobody listens on
  // that this server made, and of two servers started at once the last rename wins (the other
  // sees its socket gone, and goes).
  const tmp = `${socketPath}.${process.pid}`;
  server.on('error', () => process.exit(1));
  const listen = () =>
    server.listen(tmp, () => {
      try {
        chmodSync(tmp, 0o600);
        renameSync(tmp, socketPath);
        ino = lstatSync(socketPath).ino;
      } catch {
        process.exit(1);
      }
      setInterval(
        () => {
          let mine = false;
          try {
            mine = lstatSync(socketPath).ino === ino;
          } catch {}
          if (draining || !mine || (active === 0 && Date.now() - lastSeen >= idleMs)) drain();
        },
        Math.min(idleMs, 2000),
      );
    });
  placeOwnCgroup().then(
    (m) => {
      cgroup = m;
      listen();
    },
    // A server that cannot leave its first caller's cgroup does not serve: it would keep that
    // cgroup from being removed. Its marker tells the fronts not to start another for this identity.
    () => {
      try {
        writeFileSync(`${socketPath}.off`, '');
      } catch {}
      process.exit(1);
    },
  );
}

/** Into OWN_CGROUP; tried three times, as a server leaving at that moment may remove it under us. */
async function placeOwnCgroup(): Promise<CgroupManager> {
  for (let attempt = 1; ; attempt++) {
    try {
      const m = newCgroupManager({ id: 'berth-runtime-plans', cgroupsPath: OWN_CGROUP });
      await m.create({});
      await m.apply(process.pid);
      return m;
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

/** At exit: back to each hierarchy's root, and the server's cgroup removed unless another server is in it. */
function leaveOwnCgroup(m: CgroupManager): void {
  for (const dir of Object.values(m.paths())) {
    try {
      writeFileSync(join(dirname(dir), 'cgroup.procs'), String(process.pid));
      rmdirSync(dir);
    } catch {}
  }
}

/**
 * The create of one served command, up to the container created (the front then exits, starts it
 * or runs it): hands back what the Node verb would do differently, then has the front spawn
 * berth-init with the sync socket's other end and drives the create over this end.
 */
async function launch(
  c: Caller,
  cwd: string,
  rt: Runtime,
  root: string,
  id: string,
  opts: CreateOptions,
  then: Then,
  note: () => void,
): Promise<number> {
  const preserveFds = servedPreserveFds(opts.preserveFds);
  let consolePath: string | undefined;
  let endpoint: ConsoleEndpoint | undefined;
  try {
    await rt.create(id, {
      ...opts,
      consoleSocket: undefined,
      // The config as the create parsed it, before anything is made.
      onConfig: (config) => {
        if (config.hooks?.prestart?.length || config.hooks?.createRuntime?.length) throw new HandBack();
        consolePath = consoleSocketPath(cwd, opts.consoleSocket, config.process?.terminal === true);
        note();
      },
      spawnInit: async () => {
        if (consolePath !== undefined) endpoint = await ConsoleEndpoint.open(consolePath, true, false);
        return spawnThroughFront(c, endpoint, preserveFds, then === 'run', root, id);
      },
      foreground: then === 'run',
    });
  } finally {
    endpoint?.close();
  }
  return 0;
}

/** An exec, served: handed back as launch hands back, then berth-init spawned by the front. */
async function execIn(
  c: Caller,
  cwd: string,
  rt: Runtime,
  root: string,
  id: string,
  proc: Process,
  opts: ExecOptions,
  note: () => void,
): Promise<number> {
  const preserveFds = servedPreserveFds(opts.preserveFds);
  const consolePath = consoleSocketPath(cwd, opts.consoleSocket, proc.terminal === true);
  note();
  const endpoint = consolePath === undefined ? undefined : await ConsoleEndpoint.open(consolePath, true, false);
  try {
    return await rt.exec(id, proc, {
      ...opts,
      consoleSocket: undefined,
      spawnInit: () => spawnThroughFront(c, endpoint, preserveFds, !opts.detach, root, id),
    });
  } finally {
    endpoint?.close();
  }
}

/** --preserve-fds, when the front can pass them (its own fds are at 100 and above). */
function servedPreserveFds(n: number | undefined): number {
  const preserveFds = n ?? 0;
  if (!Number.isInteger(preserveFds) || preserveFds < 0 || preserveFds > MAX_PRESERVE_FDS) throw new HandBack();
  return preserveFds;
}

/**
 * The console socket's absolute path: a terminal needs one here (without, the Node verb relays the
 * terminal itself, or words the error), and no terminal may have one (the Node verb words that).
 */
function consoleSocketPath(cwd: string, consoleSocket: string | undefined, terminal: boolean): string | undefined {
  if (terminal !== (consoleSocket !== undefined)) throw new HandBack();
  const path = consoleSocket === undefined ? undefined : resolve(cwd, consoleSocket);
  if (path !== undefined && Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new HandBack();
  return path;
}

/**
 * Once the plan is built: the front spawns berth-init with the other end of the sync socket (and
 * the console socket), and says with which pid. Resolves with this end.
 */
async function spawnThroughFront(
  c: Caller,
  endpoint: ConsoleEndpoint | undefined,
  preserveFds: number,
  foreground: boolean,
  root: string,
  id: string,
): Promise<number> {
  const [mine, theirs] = native.socketpair();
  try {
    c.send(
      Frame.Spawn,
      strings([initBinary(), String(preserveFds), foreground ? '1' : '0', root, id]),
      endpoint ? [endpoint.fd, theirs] : [theirs],
    );
  } finally {
    closeSync(theirs);
    endpoint?.close();
  }
  try {
    const { pid, errno } = await c.spawned();
    if (pid <= 0) throw unavailable(`cannot start ${initBinary()}: ${errnoText(errno)} (run scripts/build.sh)`);
  } catch (e) {
    closeSync(mine);
    throw e;
  }
  return mine;
}

function errnoText(errno: number): string {
  const util = process.getBuiltinModule('node:util') as typeof import('node:util');
  try {
    return util.getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}
