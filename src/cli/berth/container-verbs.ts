// berth's container, volume, network and system verbs (docker's words and flags), over berthd's
// typed client. Each verb parses its flags, calls one or two client methods, and prints (a table,
// or JSON with --format json). Errors are BerthErrors from the daemon, printed by main.ts.
// Must never: import engine code or reach the daemon other than through the client.
import { readFileSync } from 'node:fs';
import { parseDuration } from '../../engine/healthcheck.ts';
import { AttachDecoder, AttachFrame, frame, resizeFrame, stdinFrames } from '../../api/attach-frames.ts';
import type {
  HealthConfig,
  AttachOptions,
  ContainerDetails,
  CreateRequest,
  DeviceRequest,
  MountRequest,
  PortMapping,
  UpdateRequest,
} from '../../api/types.ts';
import type { BerthClient } from '../../client/client.ts';
import { DEFAULT_DETACH_KEYS, detachKeyBytes } from '../../docker-api/detach-keys.ts';
import { invalidArgument, isBerthError, unsupported } from '../../errors/errors.ts';
import type { FlagSpec } from '../runtime/args.ts';
import {
  containerInspectContext,
  eventContext,
  imageInspectContext,
  infoContext,
  NETWORK_HEADERS,
  networkContext,
  PS_HEADERS,
  psContext,
  psImage,
  STATS_HEADERS,
  statsContext,
  VOLUME_HEADERS,
  volumeContext,
} from './docker-contexts.ts';
import { containerStatusText, table, timeAgo } from './format.ts';
import { formatChoice, inspectOutput, listOutput, renderTemplate } from './template-format.ts';
import { goMap } from './go-template.ts';
import { cliMark } from './timing.ts';

export type VerbCtx = { client: () => Promise<BerthClient>; out: NodeJS.WriteStream; err: NodeJS.WriteStream };
export type Verb = {
  flags: FlagSpec[];
  stopAtPositional?: boolean;
  usage: string;
  run: (ctx: VerbCtx, f: Record<string, unknown>, args: string[]) => Promise<number | undefined>;
};

const help: FlagSpec = { names: ['help', 'h'], kind: 'bool' };
const format: FlagSpec = { names: ['format'], kind: 'string' };
/** docker's inspect verbs take -f for --format. */
export const inspectFormat: FlagSpec = { names: ['format', 'f'], kind: 'string' };
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
/** For verbs that print no list: --format json or the default; a template is refused (never ignored). */
export const isJson = (f: Record<string, unknown>) => {
  const v = f.format as string | undefined;
  if (v !== undefined && v !== 'json' && v !== 'table')
    throw invalidArgument(
      `--format: expected table or json, got ${JSON.stringify(v)}${v.includes('{{') ? ' (this verb takes no template)' : ''}`,
    );
  return v === 'json';
};
const strings = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);

function want(args: string[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw invalidArgument(`usage: berth ${usage}`);
}

// ------------------------------------------------------------------ exit statuses (docker's)

/** docker's status for an error of the CLI or of the daemon while running a container. */
export const EXIT_CLI_ERROR = 125;
/** The container's command exists but cannot be executed (permission denied, a directory). */
export const EXIT_CANNOT_EXECUTE = 126;
/** The container's command was not found. */
export const EXIT_NOT_FOUND = 127;

const STATUS = Symbol('berth exit status');

/** `e`, carrying the status berth exits with when it reaches main (1 otherwise). */
export function withExitStatus<E>(e: E, status: number): E {
  if (typeof e === 'object' && e !== null) (e as Record<symbol, number>)[STATUS] = status;
  return e;
}

export function exitStatusOf(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null ? (e as Record<symbol, number | undefined>)[STATUS] : undefined;
}

/**
 * The status of a failed run/create/start, as docker's CLI decides it (cli/command/container/run.go
 * reads the daemon's words too, since the runtime reports an exec failure only in words): 127 when
 * the command was not found, 126 when it cannot be executed, 125 for any other failure.
 */
export function runFailureStatus(e: unknown): number {
  const m = e instanceof Error ? e.message : String(e);
  if (/executable file not found|no such file or directory/i.test(m)) return EXIT_NOT_FOUND;
  if (/permission denied|is a directory/i.test(m)) return EXIT_CANNOT_EXECUTE;
  return EXIT_CLI_ERROR;
}

/** An exec that could not start its command: 127 or 126 as docker's; any other failure stays 1. */
async function execStatus<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const status = runFailureStatus(e);
    throw status === EXIT_CLI_ERROR ? e : withExitStatus(e, status);
  }
}

/** `fn`, its failure carrying docker's run status. */
async function asRun<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw withExitStatus(e, runFailureStatus(e));
  }
}

// ------------------------------------------------------------------ flag parsing helpers

/** --memory, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit and --restart (run, create, update), checked as docker's CLI checks them. */
export function resourceFlags(f: Record<string, unknown>): UpdateRequest {
  const u: UpdateRequest = {};
  if (f.memory !== undefined) u.memory = parseBytes(f.memory as string, '--memory');
  if (f['memory-swap'] !== undefined)
    u.memorySwap = f['memory-swap'] === '-1' ? -1 : parseBytes(f['memory-swap'] as string, '--memory-swap');
  if (f.cpus !== undefined) {
    const n = Number(f.cpus);
    if (!(n > 0)) throw invalidArgument(`--cpus ${JSON.stringify(f.cpus)}: expected a positive number such as 0.5`);
    u.cpus = n;
  }
  if (f['cpu-shares'] !== undefined) {
    const n = Number(f['cpu-shares']);
    if (!Number.isInteger(n))
      throw invalidArgument(`--cpu-shares ${JSON.stringify(f['cpu-shares'])}: expected an integer`);
    u.cpuShares = n;
  }
  if (f['cpuset-cpus'] !== undefined) u.cpusetCpus = f['cpuset-cpus'] as string;
  if (f['pids-limit'] !== undefined) {
    const n = Number(f['pids-limit']);
    if (!Number.isInteger(n))
      throw invalidArgument(`--pids-limit ${JSON.stringify(f['pids-limit'])}: expected an integer`);
    u.pidsLimit = n;
  }
  if (f.restart !== undefined) u.restart = f.restart as string;
  return u;
}

export function parseBytes(v: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(v.trim());
  if (!m) throw invalidArgument(`${what} ${JSON.stringify(v)}: expected a size such as 64m, 1g or a number of bytes`);
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}

/**
 * docker's -p forms: C, H:C, IP:H:C, IP::C (an empty or missing host port: berthd picks one), each
 * [/tcp|udp], where C and H may be ranges: `8000-8002:80-82` maps port by port (the ranges must be
 * as long), `8000-8010:80` publishes 80 on the first free port of the range, `80-82` on ports berthd picks.
 */
export function parsePort(v: string): PortMapping[] {
  const m = /^(?:(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d*(?:-\d+)?):)?(\d+(?:-\d+)?)(?:\/(tcp|udp))?$/.exec(v);
  if (!m)
    throw invalidArgument(
      `-p ${JSON.stringify(v)}: expected [[HOST_IP:][HOST_PORT[-END]]:]CONTAINER_PORT[-END][/tcp|udp]`,
    );
  const range = (r: string, what: string): [number, number] => {
    const [a, b = a] = r.split('-').map(Number) as [number, number?];
    if (!(a >= 1 && b <= 65535 && a <= b))
      throw invalidArgument(`-p ${JSON.stringify(v)}: ${what} ${r}: expected ports in 1-65535, the start first`);
    return [a, b];
  };
  const hostIP = m[1] ?? '127.0.0.1';
  const protocol = (m[4] ?? 'tcp') as 'tcp' | 'udp';
  const [c0, c1] = range(m[3]!, 'container port');
  const host = m[2] ? range(m[2], 'host port') : undefined;
  const out: PortMapping[] = [];
  if (host && c0 === c1 && host[1] > host[0])
    return [{ hostIP, hostPort: host[0], hostPortEnd: host[1], containerPort: c0, protocol }];
  if (host && host[1] - host[0] !== c1 - c0)
    throw invalidArgument(
      `-p ${JSON.stringify(v)}: the host range ${m[2]} and the container range ${m[3]} differ in length`,
    );
  for (let port = c0; port <= c1; port++)
    out.push({ hostIP, hostPort: host ? host[0] + (port - c0) : 0, containerPort: port, protocol });
  return out;
}

/** docker's --device: HOST[:CONTAINER][:PERMISSIONS], where a second part of r, w and m alone is the permissions. */
export function parseDevice(v: string): DeviceRequest {
  const parts = v.split(':');
  const perms = (p: string | undefined) => p !== undefined && /^(?!.*(.).*\1)[rwm]{1,3}$/.test(p);
  let out: DeviceRequest | undefined;
  if (parts.length === 1) out = { hostPath: parts[0]! };
  else if (parts.length === 2)
    out = perms(parts[1])
      ? { hostPath: parts[0]!, permissions: parts[1]! }
      : { hostPath: parts[0]!, containerPath: parts[1]! };
  else if (parts.length === 3 && perms(parts[2]))
    out = { hostPath: parts[0]!, containerPath: parts[1]!, permissions: parts[2]! };
  if (!out?.hostPath.startsWith('/') || (out.containerPath !== undefined && !out.containerPath.startsWith('/')))
    throw invalidArgument(
      `--device ${JSON.stringify(v)}: expected /HOST/PATH[:/CONTAINER/PATH][:PERMISSIONS of r, w, m]`,
    );
  return {
    ...out,
    fields: { hostPath: `--device ${v}`, containerPath: `--device ${v}`, permissions: `--device ${v}` },
  };
}

export function parseVolume(v: string): MountRequest {
  // `-v /path`: an anonymous volume (berthd names it; --rm and rm -v remove it).
  if (v.startsWith('/') && !v.includes(':')) return { type: 'volume', target: v };
  const parts = v.split(':');
  if (parts.length < 2 || parts.length > 3)
    throw invalidArgument(`-v ${JSON.stringify(v)}: expected NAME:/PATH[:ro] or /HOST/PATH:/PATH[:ro]`);
  const [src, target, mode] = parts as [string, string, string | undefined];
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw')
    throw invalidArgument(`-v ${JSON.stringify(v)}: mode ${JSON.stringify(mode)}: expected ro or rw`);
  return { type: src.startsWith('/') ? 'bind' : 'volume', source: src, target, readOnly: mode === 'ro' };
}

/** docker's --mount: comma-separated KEY[=VALUE] (type, source|src, target|destination|dst, readonly|ro, tmpfs-size, tmpfs-mode). */
export function parseMount(v: string): MountRequest {
  const fields = new Map<string, string>();
  for (const part of v.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    fields.set(k, eq < 0 ? 'true' : part.slice(eq + 1));
  }
  const type = fields.get('type') ?? 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs')
    throw invalidArgument(`--mount ${JSON.stringify(v)}: type ${JSON.stringify(type)}: expected bind, volume or tmpfs`);
  const source = fields.get('source') ?? fields.get('src');
  const target = fields.get('target') ?? fields.get('destination') ?? fields.get('dst');
  if (!target) throw invalidArgument(`--mount ${JSON.stringify(v)}: target is required (target=/path)`);
  const ro = fields.get('readonly') ?? fields.get('ro');
  if (ro !== undefined && ro !== 'true' && ro !== 'false' && ro !== '1' && ro !== '0')
    throw invalidArgument(`--mount ${JSON.stringify(v)}: readonly=${JSON.stringify(ro)}: expected true or false`);
  const known = ['type', 'source', 'src', 'target', 'destination', 'dst', 'readonly', 'ro', 'tmpfs-size', 'tmpfs-mode'];
  for (const k of fields.keys())
    if (!known.includes(k))
      throw invalidArgument(
        `--mount ${JSON.stringify(v)}: unsupported key ${JSON.stringify(k)} (expected ${known.join(', ')})`,
      );
  if (type === 'bind' && !source)
    throw invalidArgument(`--mount ${JSON.stringify(v)}: a bind mount needs source=/host/path`);
  if (type === 'tmpfs' && source) throw invalidArgument(`--mount ${JSON.stringify(v)}: a tmpfs mount takes no source`);
  const options: string[] = [];
  const size = fields.get('tmpfs-size');
  if (size !== undefined) options.push(`size=${parseBytes(size, '--mount tmpfs-size')}`);
  const mode = fields.get('tmpfs-mode');
  if (mode !== undefined) {
    if (!/^[0-7]{1,4}$/.test(mode))
      throw invalidArgument(
        `--mount ${JSON.stringify(v)}: tmpfs-mode ${JSON.stringify(mode)}: expected an octal mode such as 1777`,
      );
    options.push(`mode=${mode}`);
  }
  if (options.length && type !== 'tmpfs')
    throw invalidArgument(`--mount ${JSON.stringify(v)}: tmpfs-size and tmpfs-mode are for type=tmpfs`);
  return {
    type,
    ...(source ? { source } : {}),
    target,
    readOnly: ro === 'true' || ro === '1',
    ...(options.length ? { options } : {}),
  };
}

/** docker's --ulimit NAME=SOFT[:HARD] (-1 for unlimited). */
export function parseUlimit(v: string): { name: string; soft: number; hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m) throw invalidArgument(`--ulimit ${JSON.stringify(v)}: expected NAME=SOFT[:HARD], such as nofile=1024:2048`);
  return { name: m[1]!, soft: Number(m[2]), hard: Number(m[3] ?? m[2]) };
}

/** docker's --env-file: KEY=VALUE lines; blank lines and # comments skipped; a bare KEY takes this process's value. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line.trimEnd() : line.slice(0, eq);
    if (key === '' || /\s/.test(key))
      throw invalidArgument(
        `--env-file ${file}:${i + 1}: variable ${JSON.stringify(key)} has white space or is empty (expected KEY=VALUE)`,
      );
    if (eq >= 0) out.push(line);
    else if (process.env[key] !== undefined) out.push(`${key}=${process.env[key]}`);
  });
  return out;
}

const CREATE_FLAGS: FlagSpec[] = [
  { names: ['name'], kind: 'string' },
  { names: ['env', 'e'], kind: 'strings' },
  { names: ['volume', 'v'], kind: 'strings' },
  { names: ['tmpfs'], kind: 'strings' },
  { names: ['publish', 'p'], kind: 'strings' },
  { names: ['publish-all', 'P'], kind: 'bool' },
  { names: ['network', 'net'], kind: 'strings' },
  { names: ['network-alias', 'net-alias'], kind: 'strings' },
  { names: ['ip'], kind: 'string' },
  { names: ['ip6'], kind: 'string' },
  { names: ['mac-address'], kind: 'string' },
  { names: ['dns'], kind: 'strings' },
  { names: ['dns-search'], kind: 'strings' },
  { names: ['dns-option', 'dns-opt'], kind: 'strings' },
  { names: ['workdir', 'w'], kind: 'string' },
  { names: ['user', 'u'], kind: 'string' },
  { names: ['entrypoint'], kind: 'string' },
  { names: ['memory', 'm'], kind: 'string' },
  { names: ['cpus'], kind: 'string' },
  { names: ['pids-limit'], kind: 'string' },
  { names: ['restart'], kind: 'string' },
  { names: ['runtime'], kind: 'string' },
  { names: ['read-only'], kind: 'bool' },
  { names: ['label', 'l'], kind: 'strings' },
  { names: ['hostname'], kind: 'string' },
  { names: ['interactive', 'i'], kind: 'bool' },
  { names: ['tty', 't'], kind: 'bool' },
  { names: ['rm'], kind: 'bool' },
  { names: ['stop-signal'], kind: 'string' },
  { names: ['stop-timeout'], kind: 'int' },
  { names: ['add-host'], kind: 'strings' },
  { names: ['device'], kind: 'strings' },
  { names: ['device-cgroup-rule'], kind: 'strings' },
  { names: ['cap-add'], kind: 'strings' },
  { names: ['cap-drop'], kind: 'strings' },
  { names: ['privileged'], kind: 'bool' },
  { names: ['security-opt'], kind: 'strings' },
  { names: ['ulimit'], kind: 'strings' },
  { names: ['mount'], kind: 'strings' },
  { names: ['env-file'], kind: 'strings' },
  { names: ['init'], kind: 'bool' },
  { names: ['pid'], kind: 'string' },
  { names: ['ipc'], kind: 'string' },
  { names: ['shm-size'], kind: 'string' },
  { names: ['uts'], kind: 'string' },
  { names: ['health-cmd'], kind: 'string' },
  { names: ['health-interval'], kind: 'string' },
  { names: ['health-timeout'], kind: 'string' },
  { names: ['health-start-period'], kind: 'string' },
  { names: ['health-start-interval'], kind: 'string' },
  { names: ['health-retries'], kind: 'int' },
  { names: ['no-healthcheck'], kind: 'bool' },
  format,
  help,
];

export function createRequest(f: Record<string, unknown>, args: string[]): CreateRequest {
  const [image, ...cmd] = args;
  if (!image) throw invalidArgument('an image is required (expected IMAGE [COMMAND [ARG...]])');
  const req: CreateRequest = { image };
  if (cmd.length) req.cmd = cmd;
  if (f.name !== undefined) req.name = f.name as string;
  // --env-file first, -e after it: a later value wins, as docker's.
  const fromFiles = strings(f['env-file']).flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw invalidArgument(
        `--env-file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      );
    }
    return parseEnvFile(text, file);
  });
  const env = [
    ...fromFiles,
    ...strings(f.env).map((e) => (e.includes('=') ? e : process.env[e] === undefined ? e : `${e}=${process.env[e]}`)),
  ];
  if (env.length) req.env = env;
  const mounts: MountRequest[] = [
    ...strings(f.volume).map(parseVolume),
    ...strings(f.mount).map(parseMount),
    ...strings(f.tmpfs).map((t) => ({
      type: 'tmpfs' as const,
      target: t.split(':')[0]!,
      ...(t.includes(':') ? { options: t.split(':')[1]!.split(',') } : {}),
    })),
  ];
  if (mounts.length) req.mounts = mounts;
  const ports = strings(f.publish).flatMap(parsePort);
  if (ports.length) req.ports = ports;
  if (f['publish-all']) req.publishAll = true;
  Object.assign(req, networkFlags(f));
  // --dns, --dns-search, --dns-option: each replaces the host's part of resolv.conf (the engine checks them).
  const dns = {
    ...(strings(f.dns).length ? { servers: strings(f.dns) } : {}),
    ...(strings(f['dns-search']).length ? { search: strings(f['dns-search']) } : {}),
    ...(strings(f['dns-option']).length ? { options: strings(f['dns-option']) } : {}),
  };
  if (Object.keys(dns).length) req.dns = dns;
  if (f.workdir !== undefined) req.workdir = f.workdir as string;
  if (f.user !== undefined) req.user = f.user as string;
  if (f.entrypoint !== undefined) req.entrypoint = (f.entrypoint as string) === '' ? [] : [f.entrypoint as string];
  Object.assign(req, resourceFlags(f));
  if (f.runtime !== undefined) req.runtime = f.runtime as string;
  if (f['read-only']) req.readOnly = true;
  const labels = strings(f.label);
  if (labels.length)
    req.labels = Object.fromEntries(
      labels.map((l) => (l.includes('=') ? [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] : [l, ''])),
    );
  if (f.hostname !== undefined) req.hostname = f.hostname as string;
  if (f.tty) req.tty = true;
  if (f.interactive) req.openStdin = true;
  if (f.rm) req.autoRemove = true;
  if (f['stop-signal'] !== undefined) req.stopSignal = f['stop-signal'] as string;
  if (f['stop-timeout'] !== undefined) req.stopTimeout = f['stop-timeout'] as number;
  if (strings(f['add-host']).length) req.extraHosts = strings(f['add-host']);
  if (strings(f.device).length) req.devices = strings(f.device).map(parseDevice);
  if (strings(f['device-cgroup-rule']).length) req.deviceCgroupRules = strings(f['device-cgroup-rule']);
  if (strings(f.ulimit).length) req.ulimits = strings(f.ulimit).map(parseUlimit);
  if (f.init) req.init = true;
  // The engine checks the values (docker's words, naming the field).
  if (f.pid !== undefined) req.pidMode = f.pid as string;
  if (f.ipc !== undefined) req.ipcMode = f.ipc as string;
  if (f.uts !== undefined) req.utsMode = f.uts as string;
  if (f['shm-size'] !== undefined) req.shmSize = parseBytes(f['shm-size'] as string, '--shm-size');
  const health = healthFlags(f);
  if (health) req.healthcheck = health;
  const security = {
    ...(f.privileged ? { privileged: true } : {}),
    ...(strings(f['cap-add']).length ? { capAdd: strings(f['cap-add']) } : {}),
    ...(strings(f['cap-drop']).length ? { capDrop: strings(f['cap-drop']) } : {}),
    ...securityOpts(strings(f['security-opt'])),
  };
  if (Object.keys(security).length) req.security = security;
  return req;
}

/** --health-* and --no-healthcheck, as docker's CLI turns them into Config.Healthcheck (durations in ns). */
function healthFlags(f: Record<string, unknown>): HealthConfig | undefined {
  const durations = [
    ['health-interval', 'interval'],
    ['health-timeout', 'timeout'],
    ['health-start-period', 'startPeriod'],
    ['health-start-interval', 'startInterval'],
  ] as const;
  const given =
    f['health-cmd'] !== undefined || f['health-retries'] !== undefined || durations.some(([k]) => f[k] !== undefined);
  if (f['no-healthcheck']) {
    if (given) throw invalidArgument('--no-healthcheck conflicts with --health-* options');
    return { test: ['NONE'] };
  }
  if (!given) return undefined;
  const h: HealthConfig = {};
  if (f['health-cmd'] !== undefined && f['health-cmd'] !== '') h.test = ['CMD-SHELL', f['health-cmd'] as string];
  for (const [flag, key] of durations) {
    const v = f[flag] as string | undefined;
    if (v === undefined) continue;
    const ns = v.startsWith('-') ? -1 : parseDuration(v);
    if (ns === undefined) throw invalidArgument(`--${flag} ${v}: expected a duration such as 30s or 1m30s`);
    if (ns < 0) throw invalidArgument(`--${flag} cannot be negative`);
    h[key] = ns;
  }
  if (f['health-retries'] !== undefined) {
    const r = f['health-retries'] as number;
    if (r < 0) throw invalidArgument('--health-retries cannot be negative');
    h.retries = r;
  }
  return h;
}

/** One `--network` value: a name, or docker's long form `name=N,alias=A,ip=IP,mac-address=M`. */
type Attachment = { network: string; aliases: string[]; ipv4Address?: string; macAddress?: string };

/** The comma-separated fields of a CSV line, as Go's encoding/csv reads one (docker's `--network`, `--alias`). */
export function csvFields(v: string, flag: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (v[i] === '"') {
      for (i++; ; i++) {
        if (i >= v.length) throw invalidArgument(`${flag} ${JSON.stringify(v)}: a quote is not closed`);
        if (v[i] === '"' && v[i + 1] === '"') field += v[i++];
        else if (v[i] === '"') break;
        else field += v[i];
      }
      i++;
      if (i < v.length && v[i] !== ',')
        throw invalidArgument(`${flag} ${JSON.stringify(v)}: a quoted field must end at a comma`);
    } else {
      const end = v.indexOf(',', i);
      field = v.slice(i, end < 0 ? v.length : end);
      if (field.includes('"')) throw invalidArgument(`${flag} ${JSON.stringify(v)}: a bare " in a field not quoted`);
      i = end < 0 ? v.length : end;
    }
    out.push(field);
    if (i >= v.length) return out;
    i++; // the comma
  }
}

/** What berth cannot take of docker's `--network` long form, and why. */
const NETWORK_KEYS_REFUSED: Record<string, string> = {
  ip6: "berth's networks are IPv4 only",
  'link-local-ip': 'berth takes no link-local addresses',
  'driver-opt': 'the berth engine takes no driver options',
  'gw-priority': "the default route is always the first network's",
};

/**
 * docker's `--network` value (its CLI's opts/network.go): a plain name, or, when it holds a
 * `key=value`, comma-separated fields `name=`, `alias=` (repeatable), `ip=` and `mac-address=`
 * (keys in any case); an empty or unknown key is docker's error, naming the flag.
 */
export function parseNetworkOpt(v: string): Attachment {
  if (!/\w+=\w+(,\w+=\w+)*/.test(v)) return { network: v, aliases: [] };
  const flag = '--network';
  const a: Attachment = { network: '', aliases: [] };
  for (const field of csvFields(v, flag)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? '' : field.slice(0, eq)).trim().toLowerCase();
    const val = field.slice(eq + 1).trim();
    if (key === '') throw invalidArgument(`${flag} ${JSON.stringify(v)}: invalid field ${field}`);
    if (key === 'name') a.network = val;
    else if (key === 'alias') a.aliases.push(val);
    else if (key === 'ip') a.ipv4Address = val;
    else if (key === 'mac-address') a.macAddress = val;
    else if (key in NETWORK_KEYS_REFUSED)
      throw unsupported(`${flag} ${JSON.stringify(v)}: ${key} is not supported: ${NETWORK_KEYS_REFUSED[key]}`);
    else
      throw invalidArgument(
        `${flag} ${JSON.stringify(v)}: invalid field key ${key} (expected name, alias, ip or mac-address)`,
      );
  }
  if (a.network === '') throw invalidArgument(`${flag} ${JSON.stringify(v)}: network name/id is not specified`);
  return a;
}

/**
 * The networks of `--network` (repeatable) with `--network-alias`, `--ip` and `--mac-address`, as
 * docker's CLI 28 applies them (cli/command/container/opts.go, parseNetworkOpts): those three are
 * the first network's (the container's network mode; the default network when none is named),
 * refused beside the same setting in that network's long form; the others take only their own. The
 * engine checks each value and rule, naming the flag.
 */
export function networkFlags(f: Record<string, unknown>): Partial<CreateRequest> {
  if (f.ip6) throw unsupported(`--ip6 ${JSON.stringify(f.ip6)}: not supported: berth's networks are IPv4 only`);
  const [first, ...more] = strings(f.network).map(parseNetworkOpt);
  const aliases = strings(f['network-alias']);
  // An empty --ip or --mac-address (or ip=, mac-address=) is not given, as docker's.
  const ip = (f.ip as string | undefined) || undefined;
  const mac = (f['mac-address'] as string | undefined) || undefined;
  const main: Attachment = first ?? { network: '', aliases: [] };
  const conflict = (flag: string, what: string) =>
    invalidArgument(`conflicting options: cannot specify both ${flag} and per-network ${what}`);
  if (aliases.length && main.aliases.length) throw conflict('--network-alias', 'alias');
  if (ip && main.ipv4Address) throw conflict('--ip', 'IPv4 address');
  if (mac && main.macAddress) throw conflict('--mac-address', 'MAC address');
  const req: Partial<CreateRequest> = {};
  if (first) req.network = first.network;
  const mainAliases = aliases.length ? aliases : main.aliases;
  if (mainAliases.length) req.aliases = mainAliases;
  const mainIp = ip || main.ipv4Address;
  if (mainIp) req.ipv4Address = mainIp;
  const mainMac = mac || main.macAddress;
  if (mainMac) req.macAddress = mainMac;
  if (more.length)
    req.networks = more.map((n) => ({
      network: n.network,
      ...(n.aliases.length ? { aliases: n.aliases } : {}),
      ...(n.ipv4Address ? { ipv4Address: n.ipv4Address } : {}),
      ...(n.macAddress ? { macAddress: n.macAddress } : {}),
    }));
  return req;
}

/** docker's `--security-opt` words berth takes: seccomp=unconfined, seccomp=FILE (read here, as docker's CLI does), no-new-privileges. */
function securityOpts(opts: string[]): NonNullable<CreateRequest['security']> {
  const out: NonNullable<CreateRequest['security']> = {};
  for (const o of opts) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(o);
    const [k, v] = [m?.[1], m?.[2]];
    if (k === 'seccomp' && v === 'unconfined') out.seccomp = { kind: 'unconfined' };
    else if (k === 'seccomp' && v) {
      let json: string;
      try {
        json = readFileSync(v, 'utf8');
      } catch (e) {
        throw invalidArgument(`--security-opt seccomp=${v}: cannot read the profile: ${(e as Error).message}`, e);
      }
      out.seccomp = { kind: 'inline', json };
    } else if (k === 'no-new-privileges' && (v === undefined || v === 'true' || v === 'false'))
      out.noNewPrivileges = v !== 'false';
    else
      throw invalidArgument(
        `--security-opt ${o}: not supported (expected seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges)`,
      );
  }
  return out;
}

/** `fn` (a create, or a run), after pulling the image once if berthd has no such image. */
async function withPull<T>(ctx: VerbCtx, req: CreateRequest, fn: (c: BerthClient) => Promise<T>): Promise<T> {
  const c = await ctx.client();
  try {
    return await fn(c);
  } catch (e) {
    // Not found may be the image or something else the request names (a network, a volume): ask
    // the daemon about the image itself rather than read the message.
    if (!isBerthError(e, 'BERTH_ERR_NOT_FOUND') || (await imageIsLocal(c, req.image))) throw e;
    ctx.err.write(`Unable to find image '${req.image}' locally; pulling\n`);
    await c.pull(req.image);
    return fn(c);
  }
}

async function imageIsLocal(c: BerthClient, ref: string): Promise<boolean> {
  try {
    await c.imageInspect(ref);
    return true;
  } catch (e) {
    if (isBerthError(e, 'BERTH_ERR_NOT_FOUND')) return false;
    throw e;
  }
}

// ------------------------------------------------------------------ attach streaming

/**
 * The detach keys of an attach from this terminal, as docker's CLI sends them: `--detach-keys` (docker's
 * spec: `ctrl-p,ctrl-q`, `ctrl-x,x`), else ctrl-p,ctrl-q; berthd watches for them only when the
 * client's stdin is attached to a terminal's process.
 */
function detachOption(f: Record<string, unknown>, o: { stdin: boolean; tty: boolean }): AttachOptions {
  const spec = f['detach-keys'] as string | undefined;
  let keys: Uint8Array = DEFAULT_DETACH_KEYS;
  if (spec) {
    try {
      keys = detachKeyBytes(spec);
    } catch (e) {
      throw invalidArgument(`invalid detach keys (${spec}): ${(e as Error).message}`);
    }
  }
  return o.stdin && o.tty ? { detachKeys: keys } : {};
}

const detachKeysFlag: FlagSpec = { names: ['detach-keys'], kind: 'string' };

/** What ended an attach: the exit frame (with the code it carried), the detach keys, or the connection. */
type AttachEnd = { exitCode: number | undefined; detached: boolean };

/** Streams an attach socket to the terminal until the exit frame, the detach keys or the connection's end. */
export async function streamAttach(
  ctx: VerbCtx,
  sock: import('node:net').Socket,
  o: { stdin: boolean; tty: boolean; onResize?: (rows: number, cols: number) => void },
): Promise<AttachEnd> {
  const dec = new AttachDecoder();
  let exitCode: number | undefined;
  let detached = false;
  // process.stdin is made on first access (a ReadStream or a socket: ~3 ms): only when it is used.
  const stdin = o.stdin ? process.stdin : undefined;
  const rawWas = stdin?.isTTY ? stdin.isRaw : false;
  const onWinch = () => {
    if (ctx.out.rows && ctx.out.columns) sock.write(resizeFrame(ctx.out.rows, ctx.out.columns));
  };
  if (o.tty && ctx.out.isTTY) {
    onWinch();
    process.on('SIGWINCH', onWinch);
  }
  const onStdin = (c: Buffer) => {
    for (const fr of stdinFrames(c)) sock.write(fr);
  };
  const onStdinEnd = () => {
    if (!sock.destroyed) sock.write(frame(AttachFrame.CloseStdin));
  };
  if (stdin) {
    if (o.tty && stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', onStdin);
    stdin.on('end', onStdinEnd);
    stdin.resume();
  }
  await new Promise<void>((resolve) => {
    sock.on('data', (chunk: Buffer) => {
      for (const fr of dec.push(chunk)) {
        if (fr.type === AttachFrame.Stdout) ctx.out.write(fr.payload);
        else if (fr.type === AttachFrame.Stderr) ctx.err.write(fr.payload);
        else if (fr.type === AttachFrame.Exit) {
          try {
            exitCode = (JSON.parse(fr.payload.toString('utf8')) as { exitCode: number }).exitCode;
          } catch {}
          // Every output frame came before this one, and the shim sends it before it makes the log
          // and exit.json durable: done now, not once the shim closes its side after its fsyncs.
          sock.destroy();
        } else if (fr.type === AttachFrame.Detached) {
          // berthd saw the detach keys: the process runs on without this client.
          detached = true;
          sock.destroy();
        }
      }
    });
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
    sock.resume();
  });
  if (stdin) {
    stdin.off('data', onStdin);
    stdin.off('end', onStdinEnd);
    if (o.tty && stdin.isTTY) stdin.setRawMode(rawWas);
    stdin.pause();
  }
  process.off('SIGWINCH', onWinch);
  return { exitCode, detached };
}

// ------------------------------------------------------------------ verbs

const run: Verb = {
  flags: [...CREATE_FLAGS, { names: ['detach', 'd'], kind: 'bool' }, detachKeysFlag],
  stopAtPositional: true,
  usage: 'run [OPTIONS] IMAGE [COMMAND [ARG...]]',
  run: async (ctx, f, args) => {
    const req = await asRun(async () => createRequest(f, args));
    const attachOptions = await asRun(async () =>
      detachOption(f, { stdin: req.openStdin === true, tty: req.tty === true }),
    );
    const c = await ctx.client();
    cliMark('run: request built');
    if (f.detach) {
      const { id } = await asRun(() => withPull(ctx, req, (x) => x.createAndStart(req)));
      ctx.out.write(isJson(f) ? json({ id }) : `${id}\n`);
      return 0;
    }
    // One request creates, attaches and starts: no output is missed, and no second round trip.
    const { id, socket: sock } = await asRun(() => withPull(ctx, req, (x) => x.run(req, attachOptions)));
    cliMark('run: created, attached and started');
    // As docker's client does: return once the daemon has removed the container. One long poll, sent
    // now so that it is waiting in berthd when the exit comes.
    const removed = req.autoRemove ? c.wait(id, 'removed') : undefined;
    removed?.catch(() => {}); // awaited below; a failure is reported there
    const end = await streamAttach(ctx, sock, { stdin: req.openStdin === true, tty: req.tty === true });
    cliMark('run: attach stream ended');
    // Detached, as docker's run: exit 0 at once; the container runs on (--rm removes it at its exit).
    if (end.detached) return 0;
    let code = end.exitCode;
    if (removed) {
      const r = await removed;
      code ??= r.exitCode;
      cliMark('run: removed');
    }
    code ??= (await c.wait(id)).exitCode;
    return code;
  },
};

const create: Verb = {
  flags: CREATE_FLAGS,
  stopAtPositional: true,
  usage: 'create [OPTIONS] IMAGE [COMMAND [ARG...]]',
  run: async (ctx, f, args) => {
    const req = await asRun(async () => createRequest(f, args));
    const { id } = await asRun(() => withPull(ctx, req, (c) => c.create(req)));
    ctx.out.write(isJson(f) ? json({ id }) : `${id}\n`);
    return 0;
  },
};

/** A verb applied to each named container in turn, printing each name as docker does. */
function each(
  usage: string,
  flags: FlagSpec[],
  fn: (c: BerthClient, id: string, f: Record<string, unknown>) => Promise<unknown>,
): Verb {
  return {
    flags: [...flags, format, help],
    usage,
    run: async (ctx, f, args) => {
      want(args, 1, Number.POSITIVE_INFINITY, usage);
      const c = await ctx.client();
      let failed = 0;
      const results: unknown[] = [];
      for (const a of args) {
        try {
          const r = await fn(c, a, f);
          results.push(r ?? { id: a });
          if (!isJson(f)) ctx.out.write(`${a}\n`);
        } catch (e) {
          if (args.length === 1) throw e;
          ctx.err.write(`berth: ${a}: ${(e as Error).message}\n`);
          failed++;
        }
      }
      if (isJson(f)) ctx.out.write(json(results));
      return failed ? 1 : 0;
    },
  };
}

const startEach = each(
  'start [-a] [-i] CONTAINER...',
  [{ names: ['attach', 'a'], kind: 'bool' }, { names: ['interactive', 'i'], kind: 'bool' }, detachKeysFlag],
  (c, id) => c.start(id),
);
/** docker's `start -a`: attached before the process runs (no output missed); the container's status is berth's. */
const start: Verb = {
  ...startEach,
  run: async (ctx, f, args) => {
    if (!f.attach && !f.interactive) return startEach.run(ctx, f, args);
    want(args, 1, 1, 'start -a [-i] CONTAINER (one container when attaching)');
    const c = await ctx.client();
    const d = await c.inspect(args[0]!);
    const o = { stdin: f.interactive === true && d.request.openStdin === true, tty: d.request.tty === true };
    const keys = detachOption(f, o);
    const sock = await asRun(() => c.attach(d.id, { start: true, ...keys }));
    const end = await streamAttach(ctx, sock, o);
    if (end.detached) return 0;
    return end.exitCode ?? (await c.wait(d.id)).exitCode;
  },
};
const stop = each('stop [-t SECONDS] CONTAINER...', [{ names: ['time', 't'], kind: 'int' }], (c, id, f) =>
  c.stop(id, f.time as number | undefined),
);
const restart = each('restart [-t SECONDS] CONTAINER...', [{ names: ['time', 't'], kind: 'int' }], (c, id, f) =>
  c.restart(id, f.time as number | undefined),
);
const kill = each('kill [-s SIGNAL] CONTAINER...', [{ names: ['signal', 's'], kind: 'string' }], (c, id, f) =>
  c.kill(id, f.signal as string | undefined),
);
const rm = each(
  'rm [-f] [-v] CONTAINER...',
  [
    { names: ['force', 'f'], kind: 'bool' },
    { names: ['volumes', 'v'], kind: 'bool' },
  ],
  (c, id, f) => c.remove(id, { force: f.force === true, volumes: f.volumes === true }),
);
const pause = each('pause CONTAINER...', [], (c, id) => c.pause(id));
const unpause = each('unpause CONTAINER...', [], (c, id) => c.unpause(id));

const wait: Verb = {
  flags: [format, help],
  usage: 'wait CONTAINER...',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'wait CONTAINER...');
    const c = await ctx.client();
    const results = [];
    for (const a of args) results.push(await c.wait(a));
    ctx.out.write(isJson(f) ? json(results) : results.map((r) => `${r.exitCode}\n`).join(''));
    return 0;
  },
};

export function filtersOf(f: Record<string, unknown>): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const kv of strings(f.filter)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw invalidArgument(`--filter ${JSON.stringify(kv)}: expected KEY=VALUE`);
    const k = kv.slice(0, eq);
    out[k] = [...(out[k] ?? []), kv.slice(eq + 1)];
  }
  return Object.keys(out).length ? out : undefined;
}

/** Every key must match (values of one key are alternatives), as docker's list filters. */
function matchAll<T>(
  list: T[],
  filters: Record<string, string[]> | undefined,
  keys: Record<string, (item: T, value: string) => boolean>,
): T[] {
  if (!filters) return list;
  for (const k of Object.keys(filters))
    if (!keys[k]) throw invalidArgument(`invalid filter '${k}': expected one of ${Object.keys(keys).join(', ')}`);
  return list.filter((item) => Object.entries(filters).every(([k, vs]) => vs.some((v) => keys[k]!(item, v))));
}

/** `label=K` or `label=K=V` against a label map. */
const labelMatch = (labels: Record<string, string> | undefined, v: string) => {
  const eq = v.indexOf('=');
  return eq < 0 ? Object.hasOwn(labels ?? {}, v) : labels?.[v.slice(0, eq)] === v.slice(eq + 1);
};
const boolFilter = (v: string, what: string) => {
  if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0')
    throw invalidArgument(`--filter ${what}=${JSON.stringify(v)}: expected true or false`);
  return v === 'true' || v === '1';
};

export function volumeFilter<
  T extends { name: string; driver: string; labels: Record<string, string>; usedBy: string[] },
>(list: T[], filters: Record<string, string[]> | undefined): T[] {
  return matchAll(list, filters, {
    name: (v, x) => v.name.includes(x),
    driver: (v, x) => v.driver === x,
    label: (v, x) => labelMatch(v.labels, x),
    dangling: (v, x) => (v.usedBy.length === 0) === boolFilter(x, 'dangling'),
  });
}

export function networkFilter<T extends { name: string; driver: string; [k: string]: unknown }>(
  list: T[],
  filters: Record<string, string[]> | undefined,
): T[] {
  return matchAll(list, filters, {
    name: (n, x) => n.name.includes(x),
    driver: (n, x) => n.driver === x,
    id: (n, x) => (typeof n.id === 'string' ? n.id : n.name).startsWith(x),
    label: (n, x) => labelMatch(n.labels as Record<string, string> | undefined, x),
    type: (n, x) => {
      if (x !== 'custom' && x !== 'builtin')
        throw invalidArgument(`--filter type=${JSON.stringify(x)}: expected custom or builtin`);
      return (n.name === 'berth') === (x === 'builtin');
    },
  });
}

const ps: Verb = {
  flags: [
    { names: ['all', 'a'], kind: 'bool' },
    { names: ['quiet', 'q'], kind: 'bool' },
    { names: ['filter', 'f'], kind: 'strings' },
    { names: ['no-trunc'], kind: 'bool' },
    format,
    help,
  ],
  usage: 'ps [-a] [-q] [--no-trunc] [--filter KEY=VALUE] [--format table|json|TEMPLATE]',
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'ps [-a] [-q] [--no-trunc] [--filter KEY=VALUE] [--format table|json|TEMPLATE]');
    const filters = filtersOf(f);
    formatChoice(f.format as string | undefined); // a bad template fails before the request
    const list = await (await ctx.client()).list({ all: f.all === true, ...(filters ? { filters } : {}) });
    const id = (s: string) => (f['no-trunc'] ? s : s.slice(0, 12));
    if (f.quiet) {
      ctx.out.write(list.map((c) => `${id(c.id)}\n`).join(''));
      return 0;
    }
    const choice = formatChoice(f.format as string | undefined);
    if (choice.kind !== 'table') {
      ctx.out.write(
        listOutput(
          f.format,
          list,
          () => list.map((c) => psContext(c, { noTrunc: f['no-trunc'] === true })),
          PS_HEADERS,
          () => '',
        ),
      );
      return 0;
    }
    const ports = (p: PortMapping[]) =>
      p.map((x) => `${x.hostIP}:${x.hostPort}->${x.containerPort}/${x.protocol}`).join(', ');
    const cmd = (s: string) => (f['no-trunc'] || s.length <= 22 ? `"${s}"` : `"${s.slice(0, 20)}…"`);
    // A POD column only where some container belongs to a pod: docker's columns otherwise.
    const pods = list.some((c) => c.pod);
    const head = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', ...(pods ? ['POD'] : []), 'NAMES'];
    ctx.out.write(
      table(
        head,
        list.map((c) => [
          id(c.id),
          psImage(c, f['no-trunc'] === true),
          cmd(c.command),
          timeAgo(c.createdAt),
          containerStatusText(c),
          ports(c.ports),
          ...(pods ? [c.pod ? id(c.pod) : ''] : []),
          c.name,
        ]),
      ),
    );
    return 0;
  },
};

/** Pod sandboxes (made by a kubelet through the CRI): `berth pods`. */
const podsVerb: Verb = {
  flags: [{ names: ['quiet', 'q'], kind: 'bool' }, { names: ['no-trunc'], kind: 'bool' }, format, help],
  usage: 'pods [-q] [--no-trunc] [--format table|json]',
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'pods [-q] [--no-trunc] [--format table|json]');
    const list = await (await ctx.client()).pods();
    if (isJson(f)) {
      ctx.out.write(json(list));
      return 0;
    }
    const id = (s: string) => (f['no-trunc'] ? s : s.slice(0, 12));
    if (f.quiet) {
      ctx.out.write(list.map((p) => `${id(p.id)}\n`).join(''));
      return 0;
    }
    ctx.out.write(
      table(
        ['POD ID', 'NAME', 'NAMESPACE', 'STATE', 'CREATED', 'IP', 'CONTAINERS'],
        list.map((p) => [
          id(p.id),
          p.name,
          p.namespace,
          p.state === 'ready' ? 'Ready' : 'NotReady',
          timeAgo(p.createdAt),
          p.ips[0] ?? '',
          String(p.containers.length),
        ]),
      ),
    );
    return 0;
  },
};

const logs: Verb = {
  flags: [
    { names: ['follow', 'f'], kind: 'bool' },
    { names: ['tail', 'n'], kind: 'string' },
    { names: ['timestamps', 't'], kind: 'bool' },
    { names: ['since'], kind: 'string' },
    format,
    help,
  ],
  usage: 'logs [-f] [--tail N] [-t] CONTAINER',
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'logs [-f] [--tail N] [-t] CONTAINER');
    const t = f.tail as string | undefined;
    if (t !== undefined && t !== 'all' && !/^\d+$/.test(t))
      throw invalidArgument(`--tail ${JSON.stringify(t)}: expected a number of lines or "all"`);
    const c = await ctx.client();
    const ac = new AbortController();
    const onInt = () => ac.abort();
    process.once('SIGINT', onInt);
    try {
      for await (const l of c.logs(
        args[0]!,
        {
          follow: f.follow === true,
          ...(t !== undefined && t !== 'all' ? { tail: Number(t) } : {}),
          ...(f.since ? { since: f.since as string } : {}),
        },
        ac.signal,
      )) {
        if (isJson(f)) ctx.out.write(`${JSON.stringify(l)}\n`);
        else (l.stream === 'stderr' ? ctx.err : ctx.out).write(f.timestamps ? `${l.time} ${l.log}` : l.log);
      }
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      process.off('SIGINT', onInt);
    }
    return 0;
  },
};

const execVerb: Verb = {
  flags: [
    { names: ['interactive', 'i'], kind: 'bool' },
    { names: ['tty', 't'], kind: 'bool' },
    { names: ['detach', 'd'], kind: 'bool' },
    { names: ['env', 'e'], kind: 'strings' },
    { names: ['workdir', 'w'], kind: 'string' },
    { names: ['user', 'u'], kind: 'string' },
    detachKeysFlag,
    format,
    help,
  ],
  stopAtPositional: true,
  usage: 'exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] [--detach-keys KEYS] CONTAINER COMMAND [ARG...]',
  run: async (ctx, f, args) => {
    want(args, 2, Number.POSITIVE_INFINITY, 'exec [-i] [-t] [-d] CONTAINER COMMAND [ARG...]');
    const c = await ctx.client();
    const req = {
      cmd: args.slice(1),
      tty: f.tty === true,
      openStdin: f.interactive === true,
      ...(strings(f.env).length ? { env: strings(f.env) } : {}),
      ...(f.workdir ? { workdir: f.workdir as string } : {}),
      ...(f.user ? { user: f.user as string } : {}),
    };
    if (f.detach) {
      const { execId } = await execStatus(() => c.exec(args[0]!, req));
      ctx.out.write(isJson(f) ? json({ execId }) : `${execId}\n`);
      return 0;
    }
    // One request: berthd starts the process with this client attached (the shim holds its output
    // until then), and the attach's exit frame carries the status.
    const o = { stdin: f.interactive === true, tty: f.tty === true };
    const keys = detachOption(f, o);
    const { execId, socket } = await execStatus(() => c.execStart(args[0]!, req, keys));
    const end = await streamAttach(ctx, socket, o);
    if (end.detached) return detachedExit(ctx);
    return end.exitCode ?? (await c.execWait(execId)).exitCode;
  },
};

/** docker's attach and exec, detached by their keys: they say so and exit 1 (the process runs on). */
function detachedExit(ctx: VerbCtx): number {
  ctx.err.write('read escape sequence\n');
  return 1;
}

const attachVerb: Verb = {
  flags: [{ names: ['no-stdin'], kind: 'bool' }, detachKeysFlag, help],
  usage: 'attach [--no-stdin] [--detach-keys KEYS] CONTAINER',
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'attach [--no-stdin] [--detach-keys KEYS] CONTAINER');
    const c = await ctx.client();
    const d = await c.inspect(args[0]!);
    const o = { stdin: !f['no-stdin'] && d.request.openStdin === true, tty: d.request.tty === true };
    const end = await streamAttach(ctx, await c.attach(d.id, detachOption(f, o)), o);
    if (end.detached) return detachedExit(ctx);
    return end.exitCode ?? 0;
  },
};

const inspect: Verb = {
  flags: [{ names: ['type'], kind: 'string' }, inspectFormat, help],
  usage: 'inspect [--type container|image] [-f TEMPLATE | --format json] NAME...',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'inspect NAME...');
    if (f.type !== undefined && f.type !== 'container' && f.type !== 'image')
      throw invalidArgument(`--type: expected container or image, got ${JSON.stringify(f.type)}`);
    formatChoice(f.format as string | undefined);
    const c = await ctx.client();
    const out: { kind: 'container' | 'image'; v: unknown }[] = [];
    for (const a of args) {
      if (f.type !== 'image') {
        try {
          out.push({ kind: 'container', v: await c.inspect(a) });
          continue;
        } catch (e) {
          if (f.type === 'container' || !isBerthError(e, 'BERTH_ERR_NOT_FOUND')) throw e;
        }
      }
      out.push({ kind: 'image', v: await c.imageInspect(a) });
    }
    const shape = (x: (typeof out)[number]) =>
      x.kind === 'container'
        ? containerInspectContext(x.v as ContainerDetails)
        : imageInspectContext(x.v as Parameters<typeof imageInspectContext>[0]);
    // As docker's: the docker-shaped JSON (State, Config, HostConfig, NetworkSettings, Mounts), or a
    // template over it; `--format json` gives berth's own details (request, spec, bundle, shim pid).
    const choice = formatChoice(f.format as string | undefined);
    ctx.out.write(
      choice.kind === 'template'
        ? inspectOutput(f.format, out, shape)
        : json(choice.kind === 'json' ? out.map((x) => x.v) : out.map(shape)),
    );
    return 0;
  },
};

const top: Verb = {
  flags: [format, help],
  // What follows the container is ps's (`top c -o pid,comm`), as docker's CLI takes it.
  stopAtPositional: true,
  usage: 'top CONTAINER [ps OPTIONS]',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'top CONTAINER [ps OPTIONS]');
    const t = await (await ctx.client()).top(args[0]!, args.slice(1));
    ctx.out.write(isJson(f) ? json(t) : table(t.titles, t.processes));
    return 0;
  },
};

const stats: Verb = {
  flags: [{ names: ['no-stream'], kind: 'bool' }, format, help],
  usage: 'stats [--no-stream] [--format json|TEMPLATE] CONTAINER...',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'stats CONTAINER...');
    const c = await ctx.client();
    const sample = async () => {
      const all = [];
      for (const a of args) all.push(await c.stats(a));
      return { at: process.hrtime.bigint(), all };
    };
    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)}MiB`;
    const choice = formatChoice(f.format as string | undefined);
    const render = (cur: Awaited<ReturnType<typeof sample>>, prev?: Awaited<ReturnType<typeof sample>>) => {
      if (choice.kind === 'json') return json(cur.all);
      const wallNs = prev ? Number(cur.at - prev.at) : 0;
      if (choice.kind === 'template') {
        return renderTemplate(
          choice,
          cur.all.map((s, i) => {
            const before = prev?.all[i];
            return statsContext(
              args[i]!,
              s,
              before && wallNs > 0 ? `${(((s.cpuUsageNs - before.cpuUsageNs) / wallNs) * 100).toFixed(2)}%` : '--',
            );
          }),
          STATS_HEADERS,
        );
      }
      return table(
        ['CONTAINER ID', 'NAME', 'CPU %', 'CPU TIME', 'MEM USAGE / LIMIT', 'PIDS'],
        cur.all.map((s, i) => {
          // CPU % as docker shows it: CPU time used over the interval, per wall time (100% = one core).
          const before = prev?.all[i];
          const pct =
            before && wallNs > 0 ? `${(((s.cpuUsageNs - before.cpuUsageNs) / wallNs) * 100).toFixed(2)}%` : '--';
          const limit = s.memoryLimit && s.memoryLimit < 2 ** 60 ? mib(s.memoryLimit) : 'unlimited';
          return [
            s.id.slice(0, 12),
            s.name,
            pct,
            `${(s.cpuUsageNs / 1e9).toFixed(2)}s`,
            `${mib(s.memoryUsage)} / ${limit}`,
            String(s.pids),
          ];
        }),
      );
    };
    let prev = await sample();
    if (f['no-stream']) {
      ctx.out.write(render(prev));
      return 0;
    }
    // Streams until interrupted or a container is gone, as docker stats does; one sample a second.
    const tty = (ctx.out as NodeJS.WriteStream).isTTY === true && choice.kind !== 'json';
    ctx.out.write(render(prev));
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      let cur: Awaited<ReturnType<typeof sample>>;
      try {
        cur = await sample();
      } catch (e) {
        if (isBerthError(e, 'BERTH_ERR_NOT_FOUND')) return 0;
        throw e;
      }
      ctx.out.write(`${tty ? '\x1b[2J\x1b[H' : ''}${render(cur, prev)}`);
      prev = cur;
    }
  },
};

const events: Verb = {
  flags: [
    { names: ['since'], kind: 'string' },
    { names: ['until'], kind: 'string' },
    { names: ['filter', 'f'], kind: 'strings' },
    format,
    help,
  ],
  usage: 'events [--since TIME] [--until TIME] [--filter KEY=VALUE] [--format json|TEMPLATE]',
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'events [--since TIME] [--until TIME] [--filter KEY=VALUE]');
    const toNano = (v: string | undefined) => {
      if (v === undefined) return undefined;
      if (/^\d+$/.test(v)) return `${v}000000000`;
      const t = Date.parse(v);
      if (Number.isNaN(t))
        throw invalidArgument(`time ${JSON.stringify(v)}: expected seconds since the epoch or an RFC 3339 time`);
      return `${t}000000`;
    };
    const since = toNano(f.since as string | undefined);
    const until = toNano(f.until as string | undefined);
    const choice = formatChoice(f.format as string | undefined);
    const filters = filtersOf(f);
    const ac = new AbortController();
    const onInt = () => ac.abort();
    process.once('SIGINT', onInt);
    try {
      for await (const e of (await ctx.client()).events(
        {
          ...(since ? { since } : until ? { since: '0' } : {}),
          ...(until ? { until } : {}),
          ...(filters ? { filters } : {}),
        },
        ac.signal,
      )) {
        if (choice.kind === 'json') ctx.out.write(`${JSON.stringify(e)}\n`);
        else if (choice.kind === 'template') ctx.out.write(`${choice.tpl.execute(eventContext(e))}\n`);
        else {
          const attrs = Object.entries(e.actor.attributes)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ');
          ctx.out.write(
            `${new Date(Number(BigInt(e.timeNano) / 1000000n)).toISOString()} ${e.type} ${e.action} ${e.actor.id}${attrs ? ` (${attrs})` : ''}\n`,
          );
        }
      }
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      process.off('SIGINT', onInt);
    }
    return 0;
  },
};

const info: Verb = {
  flags: [format, help],
  usage: 'info [--format json|TEMPLATE]',
  run: async (ctx, f) => {
    const choice = formatChoice(f.format as string | undefined);
    const c = await ctx.client();
    const [v, i] = [await c.version(), await c.info()];
    if (choice.kind === 'json') {
      ctx.out.write(json({ version: v, info: i }));
      return 0;
    }
    if (choice.kind === 'template') {
      ctx.out.write(`${choice.tpl.execute(infoContext(v, i))}\n`);
      return 0;
    }
    ctx.out.write(
      `Server version: ${v.version} (API ${v.apiVersion}, Node ${v.node})\nContainers: ${i.containers} (running ${i.running}, paused ${i.paused}, stopped ${i.stopped})\nImages: ${i.images}\nSnapshotter: ${i.snapshotter}\nDefault runtime: ${i.defaultRuntime}\nRuntimes: ${Object.keys(i.runtimes).join(', ')}\nNetworking: ${i.networking}\nRoot: ${i.root}\nRun root: ${i.runRoot}\n`,
    );
    return 0;
  },
};

// ------------------------------------------------------------------ volumes and networks

const volumeCreate: Verb = {
  flags: [{ names: ['label', 'l'], kind: 'strings' }, { names: ['driver', 'd'], kind: 'string' }, format, help],
  usage: 'volume create [--label K=V] [NAME]',
  run: async (ctx, f, args) => {
    want(args, 0, 1, 'volume create [NAME]');
    const labels = Object.fromEntries(strings(f.label).map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));
    const v = await (await ctx.client()).volumeCreate(args[0], labels);
    ctx.out.write(isJson(f) ? json(v) : `${v.name}\n`);
    return 0;
  },
};
const volumeLs: Verb = {
  flags: [{ names: ['quiet', 'q'], kind: 'bool' }, { names: ['filter', 'f'], kind: 'strings' }, format, help],
  usage: 'volume ls [-q] [--filter name=N|label=K[=V]|dangling=true|driver=D] [--format json|TEMPLATE]',
  run: async (ctx, f) => {
    formatChoice(f.format as string | undefined);
    const list = volumeFilter(await (await ctx.client()).volumes(), filtersOf(f));
    if (f.quiet) ctx.out.write(list.map((v) => `${v.name}\n`).join(''));
    else
      ctx.out.write(
        listOutput(
          f.format,
          list,
          () => list.map(volumeContext),
          VOLUME_HEADERS,
          () =>
            table(
              ['DRIVER', 'VOLUME NAME', 'USED BY'],
              list.map((v) => [v.driver, v.name, String(v.usedBy.length)]),
            ),
        ),
      );
    return 0;
  },
};
const volumeInspect: Verb = {
  flags: [inspectFormat, help],
  usage: 'volume inspect [--format TEMPLATE] NAME...',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'volume inspect NAME...');
    formatChoice(f.format as string | undefined);
    const c = await ctx.client();
    const out = [];
    for (const a of args) out.push(await c.volumeInspect(a));
    ctx.out.write(
      inspectOutput(f.format, out, (v) => ({
        Name: v.name,
        Driver: v.driver,
        Mountpoint: v.mountpoint,
        Labels: goMap({ ...v.labels }),
        Scope: 'local',
        CreatedAt: v.createdAt,
        Options: null,
      })),
    );
    return 0;
  },
};
const volumeRm = each('volume rm [-f] NAME...', [{ names: ['force', 'f'], kind: 'bool' }], (c, n, f) =>
  c.volumeRemove(n, f.force === true),
);
const volumePrune: Verb = {
  flags: [{ names: ['force', 'f'], kind: 'bool' }, format, help],
  usage: 'volume prune',
  run: async (ctx, f) => {
    const r = await (await ctx.client()).volumePrune();
    ctx.out.write(isJson(f) ? json(r) : r.removed.map((n) => `Deleted volume: ${n}\n`).join(''));
    return 0;
  },
};

const networkCreate: Verb = {
  flags: [
    { names: ['subnet'], kind: 'string' },
    { names: ['gateway'], kind: 'string' },
    { names: ['driver', 'd'], kind: 'string' },
    { names: ['label'], kind: 'strings' },
    format,
    help,
  ],
  usage: 'network create [--subnet CIDR] [--gateway IP] NAME',
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'network create [--subnet CIDR] [--gateway IP] NAME');
    const labels = Object.fromEntries(strings(f.label).map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));
    const n = await (await ctx.client()).networkCreate(args[0]!, {
      ...(f.subnet ? { subnet: f.subnet as string } : {}),
      ...(f.gateway ? { gateway: f.gateway as string } : {}),
      ...(f.driver ? { driver: f.driver as string } : {}),
      labels,
    });
    ctx.out.write(isJson(f) ? json(n) : `${n.name}\n`);
    return 0;
  },
};
const networkLs: Verb = {
  flags: [
    { names: ['quiet', 'q'], kind: 'bool' },
    { names: ['filter', 'f'], kind: 'strings' },
    { names: ['no-trunc'], kind: 'bool' },
    format,
    help,
  ],
  usage: 'network ls [-q] [--filter name=N|driver=D|label=K[=V]|id=ID] [--format json|TEMPLATE]',
  run: async (ctx, f) => {
    formatChoice(f.format as string | undefined);
    const list = networkFilter(await (await ctx.client()).networks(), filtersOf(f));
    if (f.quiet) ctx.out.write(list.map((n) => `${n.name}\n`).join(''));
    else
      ctx.out.write(
        listOutput(
          f.format,
          list,
          () => list.map((n) => networkContext(n, { noTrunc: f['no-trunc'] === true })),
          NETWORK_HEADERS,
          () =>
            table(
              ['NAME', 'DRIVER', 'SUBNET', 'GATEWAY', 'CONTAINERS'],
              list.map((n) => [n.name, n.driver, n.subnet ?? '', n.gateway ?? '', String(n.containers.length)]),
            ),
        ),
      );
    return 0;
  },
};
const networkInspect: Verb = {
  flags: [inspectFormat, help],
  usage: 'network inspect [--format TEMPLATE] NAME...',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'network inspect NAME...');
    formatChoice(f.format as string | undefined);
    const c = await ctx.client();
    const out = [];
    for (const a of args) out.push(await c.networkInspect(a));
    ctx.out.write(
      inspectOutput(f.format, out, (n) => ({
        Name: n.name,
        Id: typeof n.id === 'string' ? n.id : n.name,
        Driver: n.driver,
        Scope: 'local',
        Internal: n.internal === true,
        Labels: goMap({ ...((n.labels ?? {}) as Record<string, string>) }),
        IPAM: { Driver: 'default', Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway ?? '' }] : [] },
        Containers: goMap(Object.fromEntries(n.containers.map((c) => [c, {}]))),
      })),
    );
    return 0;
  },
};
const networkRm = each('network rm NAME...', [], (c, n) => c.networkRemove(n));
const networkConnect: Verb = {
  flags: [
    { names: ['alias'], kind: 'strings' },
    { names: ['ip'], kind: 'string' },
    { names: ['ip6'], kind: 'string' },
    help,
  ],
  usage: 'network connect [--alias NAME[,NAME...]]... [--ip IPV4] NETWORK CONTAINER',
  run: async (ctx, f, args) => {
    want(args, 2, 2, 'network connect [--alias NAME[,NAME...]]... [--ip IPV4] NETWORK CONTAINER');
    if (f.ip6) throw unsupported(`--ip6 ${JSON.stringify(f.ip6)}: not supported: berth's networks are IPv4 only`);
    // docker's --alias is a string slice: each value may hold several, comma-separated.
    const aliases = strings(f.alias).flatMap((a) => (a === '' ? [] : csvFields(a, '--alias')));
    await (await ctx.client()).networkConnect(args[0]!, args[1]!, {
      ...(aliases.length ? { aliases } : {}),
      ...(f.ip ? { ipv4Address: f.ip as string } : {}),
    });
    return 0;
  },
};
const networkDisconnect: Verb = {
  flags: [{ names: ['force', 'f'], kind: 'bool' }, help],
  usage: 'network disconnect [-f] NETWORK CONTAINER',
  run: async (ctx, _f, args) => {
    want(args, 2, 2, 'network disconnect [-f] NETWORK CONTAINER');
    await (await ctx.client()).networkDisconnect(args[0]!, args[1]!);
    return 0;
  },
};

export const CONTAINER_VERBS: Record<string, Verb> = {
  run,
  create,
  start,
  stop,
  restart,
  kill,
  rm,
  pause,
  unpause,
  wait,
  ps,
  pods: podsVerb,
  logs,
  exec: execVerb,
  attach: attachVerb,
  inspect,
  top,
  stats,
  events,
  info,
};
export const CONTAINER_GROUPS: Record<string, Record<string, Verb>> = {
  container: {
    run,
    create,
    start,
    stop,
    restart,
    kill,
    rm,
    pause,
    unpause,
    wait,
    ls: ps,
    ps,
    list: ps,
    logs,
    exec: execVerb,
    attach: attachVerb,
    inspect,
    top,
    stats,
  },
  volume: {
    create: volumeCreate,
    ls: volumeLs,
    list: volumeLs,
    inspect: volumeInspect,
    rm: volumeRm,
    remove: volumeRm,
    prune: volumePrune,
  },
  network: {
    create: networkCreate,
    ls: networkLs,
    list: networkLs,
    inspect: networkInspect,
    rm: networkRm,
    remove: networkRm,
    connect: networkConnect,
    disconnect: networkDisconnect,
  },
};

/** `-it` → `-i -t` when every letter is a known one-letter bool flag (docker's clustering); stops at the first positional. */
export function expandShortFlags(argv: string[], flags: FlagSpec[]): string[] {
  const shortBools = new Set(
    flags.filter((f) => f.kind === 'bool').flatMap((f) => f.names.filter((n) => n.length === 1)),
  );
  const valued = new Set(flags.filter((f) => f.kind !== 'bool').flatMap((f) => f.names));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--' || !a.startsWith('-') || a === '-') {
      out.push(...argv.slice(i));
      break;
    }
    if (/^-[a-zA-Z]{2,}$/.test(a) && [...a.slice(1)].every((ch) => shortBools.has(ch))) {
      out.push(...[...a.slice(1)].map((ch) => `-${ch}`));
      continue;
    }
    out.push(a);
    const name = a.replace(/^--?/, '');
    if (!name.includes('=') && valued.has(name) && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}
