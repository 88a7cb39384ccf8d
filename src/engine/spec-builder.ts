// Turns an image's config and a create request into the container's OCI runtime config, the way
// Docker composes them (Entrypoint/Cmd rules, Env merged by key, the default capability set), and
// parses the restart policy words. Pure: no files, no processes, so every rule is unit-tested.
// Must never: read the rootfs (user names are resolved at start, by resolveUser) or mount anything.
import { invalidArgument } from '../errors/errors.ts';
import type { ImageRuntimeConfig } from '../oci/image-spec.ts';
import { defaultSpec } from '../oci/runtime-default-spec.ts';
import { HOOK_NAMES, type Mount, type RuntimeConfig } from '../oci/runtime-spec.ts';
import type { ResolvedDevices } from './container-devices.ts';
import { applyNamespaceModes } from './namespace-modes.ts';
import { applySecurity } from './security-options.ts';
import type { CreateRequest } from './types.ts';

/** Docker's default capabilities: what a `docker run` process holds unless told otherwise. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type SpecInputs = {
  id: string;
  request: CreateRequest;
  image: ImageRuntimeConfig;
  /** Host paths of files bind-mounted read-only over the image's (hosts, hostname, resolv.conf). */
  etcFiles?: { hosts?: string; hostname?: string; resolvConf?: string };
  /** Resolved mounts of volumes, binds and tmpfs (sources already host paths). */
  mounts?: Mount[];
  cgroupsParent?: string;
  /** RLIMIT_NOFILE for the process; default 1048576 (Docker's). berthd passes its own hard limit when lower. */
  nofile?: number;
  /** The capabilities berthd itself may grant (its bounding set): what `privileged` gives. Default: every one berth knows. */
  boundingCaps?: readonly string[];
  /** With `request.init`: the host path of the static init bind-mounted at /sbin/docker-init. */
  initBinary?: string;
  /** The request's devices and CDI devices, as looked up on the host (container-devices.ts). */
  devices?: ResolvedDevices;
};

const RLIMITS = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
];

/** docker's --ulimit entries as OCI rlimits, over the default RLIMIT_NOFILE; each checked, naming it. */
export function rlimitsOf(
  ulimits: CreateRequest['ulimits'],
  nofile: number,
): { type: string; soft: number; hard: number }[] {
  const out = new Map<string, { type: string; soft: number; hard: number }>([
    ['nofile', { type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }],
  ]);
  for (const u of ulimits ?? []) {
    const name = String(u.name).toLowerCase();
    if (!RLIMITS.includes(name))
      throw invalidArgument(`ulimit ${JSON.stringify(u.name)}: expected one of ${RLIMITS.join(', ')}`);
    for (const [k, v] of [
      ['soft', u.soft],
      ['hard', u.hard],
    ] as const)
      if (!Number.isInteger(v) || v < -1)
        throw invalidArgument(
          `ulimit ${name}: ${k} ${JSON.stringify(v)}: expected a non-negative integer or -1 (unlimited)`,
        );
    const unl = (v: number) => (v === -1 ? Number.MAX_SAFE_INTEGER : v);
    if (unl(u.soft) > unl(u.hard))
      throw invalidArgument(`ulimit ${name}: soft limit ${u.soft} is above the hard limit ${u.hard}`);
    // -1 (unlimited): the largest value JSON carries exactly; setrlimit treats it as no limit in practice.
    out.set(name, { type: `RLIMIT_${name.toUpperCase()}`, soft: unl(u.soft), hard: unl(u.hard) });
  }
  return [...out.values()];
}

/** The process args: Docker's rules for combining Entrypoint and Cmd. */
export function processArgs(req: Pick<CreateRequest, 'cmd' | 'entrypoint'>, image: ImageRuntimeConfig): string[] {
  const entrypoint = req.entrypoint ?? image.Entrypoint ?? [];
  // A new entrypoint resets the image's Cmd: it was written for the old one.
  const cmd = req.cmd ?? (req.entrypoint !== undefined ? [] : (image.Cmd ?? []));
  const args = [...entrypoint, ...cmd];
  if (args.length === 0)
    throw invalidArgument(
      'no command: the image has no Entrypoint or Cmd and the request gave none (expected a command after the image name)',
    );
  return args;
}

/** Environment: image first, request overrides by key; PATH always present. */
export function mergeEnv(image: string[] | undefined, request: string[] | undefined, extra: string[] = []): string[] {
  const out = new Map<string, string>();
  const put = (e: string, where: string) => {
    const eq = e.indexOf('=');
    if (eq === 0) throw invalidArgument(`${where}: ${JSON.stringify(e)} has no variable name (expected NAME=value)`);
    // `-e NAME` with no value is Docker's "take it from the client"; the CLI resolves it before sending.
    const key = eq < 0 ? e : e.slice(0, eq);
    out.set(key, eq < 0 ? `${e}=` : e);
  };
  for (const e of extra) put(e, 'env');
  for (const e of image ?? []) put(e, 'image Env');
  for (const e of request ?? []) put(e, 'env');
  if (!out.has('PATH')) out.set('PATH', DEFAULT_PATH);
  return [...out.values()];
}

/** `uid[:gid]` when numeric; undefined when a name needs /etc/passwd (resolved at start). */
export function numericUser(user: string | undefined): { uid: number; gid: number } | undefined {
  if (user === undefined || user === '') return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) return undefined;
  return { uid: Number(m[1]), gid: m[2] === undefined ? (Number(m[1]) === 0 ? 0 : Number(m[1])) : Number(m[2]) };
}

/** Resolves `user[:group]` against the text of the rootfs's /etc/passwd and /etc/group. */
export function resolveUser(
  user: string,
  passwd: string,
  group: string,
): { uid: number; gid: number; additionalGids: number[] } {
  const [u, g] = user.split(':', 2) as [string, string | undefined];
  const pw = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4);
  const gr = group
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3);
  let uid: number;
  let gid: number;
  let name: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const row = pw.find((f) => Number(f[2]) === uid);
    gid = row ? Number(row[3]) : uid;
    name = row?.[0];
  } else {
    const row = pw.find((f) => f[0] === u);
    if (!row)
      throw invalidArgument(
        `user ${JSON.stringify(u)}: no matching entry in the image's /etc/passwd (expected a user name from it, or a numeric uid)`,
      );
    uid = Number(row[2]);
    gid = Number(row[3]);
    name = u;
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const row = gr.find((f) => f[0] === g);
      if (!row)
        throw invalidArgument(
          `group ${JSON.stringify(g)}: no matching entry in the image's /etc/group (expected a group name from it, or a numeric gid)`,
        );
      gid = Number(row[2]);
    }
  }
  const additionalGids =
    name === undefined
      ? []
      : gr
          .filter((f) => (f[3] ?? '').split(',').includes(name))
          .map((f) => Number(f[2]))
          .filter((x) => x !== gid);
  return { uid, gid, additionalGids };
}

/**
 * The environment with HOME set as runc sets it for docker: the home of the process's uid in the
 * image's /etc/passwd, or "/" when it has none; a HOME the image or the request gave (non-empty) wins.
 */
export function withHome(env: string[], uid: number, passwd: string): string[] {
  if (env.some((e) => e.startsWith('HOME=') && e.length > 5)) return env;
  const row = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f.length >= 6 && f[2] !== '' && Number(f[2]) === uid);
  const home = row?.[5] || '/';
  return [...env.filter((e) => !e.startsWith('HOME=')), `HOME=${home}`];
}

export function buildSpec(inp: SpecInputs): RuntimeConfig {
  const { request: req, image } = inp;
  const spec = defaultSpec({ cgroupNamespace: false });
  const tty = req.tty === true;
  const user = numericUser(req.user ?? image.User);
  const hostname = req.hostname ?? inp.id.slice(0, 12);
  spec.process = {
    ...spec.process!,
    terminal: tty,
    user: user ?? { uid: 0, gid: 0 },
    args: req.init ? ['/sbin/docker-init', '--', ...processArgs(req, image)] : processArgs(req, image),
    env: mergeEnv(image.Env, req.env, [`HOSTNAME=${hostname}`, ...(tty ? ['TERM=xterm'] : [])]),
    cwd: req.workdir || image.WorkingDir || '/',
    capabilities: {
      bounding: [...DEFAULT_CAPABILITIES],
      effective: [...DEFAULT_CAPABILITIES],
      permitted: [...DEFAULT_CAPABILITIES],
    },
    rlimits: rlimitsOf(req.ulimits, inp.nofile ?? 1048576),
    noNewPrivileges: false,
  };
  if (!spec.process.cwd.startsWith('/'))
    throw invalidArgument(`workdir ${JSON.stringify(spec.process.cwd)}: expected an absolute path`);
  spec.hostname = hostname;
  spec.root = { path: 'rootfs', readonly: req.readOnly === true };
  const mounts: Mount[] = [...(spec.mounts ?? [])];
  const etc = req.sandbox?.etcFiles ?? inp.etcFiles ?? {};
  if (etc.hosts)
    mounts.push({ destination: '/etc/hosts', type: 'bind', source: etc.hosts, options: ['rbind', 'rprivate'] });
  if (etc.hostname)
    mounts.push({ destination: '/etc/hostname', type: 'bind', source: etc.hostname, options: ['rbind', 'rprivate'] });
  if (etc.resolvConf)
    mounts.push({
      destination: '/etc/resolv.conf',
      type: 'bind',
      source: etc.resolvConf,
      options: ['rbind', 'rprivate'],
    });
  if (req.init) {
    if (!inp.initBinary) throw invalidArgument('init: no init binary was given for the container');
    mounts.push({
      destination: '/sbin/docker-init',
      type: 'bind',
      source: inp.initBinary,
      options: ['rbind', 'ro', 'rprivate'],
    });
  }
  for (const m of inp.mounts ?? []) {
    const i = mounts.findIndex((x) => x.destination === m.destination);
    if (i >= 0) mounts.splice(i, 1);
    mounts.push(m);
  }
  spec.mounts = mounts;
  const linux = spec.linux!;
  // A bind that propagates needs a root that does too, else its mounts stop at the container's
  // root: rshared for any rshared bind, else rslave (containerd's rule for the CRI's propagation).
  const props = (inp.mounts ?? []).flatMap((m) => (m.type === 'bind' ? (m.options ?? []) : []));
  if (props.includes('rshared')) linux.rootfsPropagation = 'rshared';
  else if (props.includes('rslave') && linux.rootfsPropagation !== 'rshared') linux.rootfsPropagation = 'rslave';
  linux.cgroupsPath = `${req.sandbox?.cgroupsParent ?? inp.cgroupsParent ?? '/berth'}/${inp.id}`;
  const resources = linux.resources ?? {};
  if (req.memory !== undefined) {
    if (!Number.isInteger(req.memory) || req.memory < 6 * 1024 * 1024)
      throw invalidArgument(`memory ${req.memory}: expected at least 6 MiB (6291456 bytes)`);
    resources.memory = { limit: req.memory };
  }
  if (req.memorySwap !== undefined) {
    const swap = req.memorySwap;
    if (!Number.isInteger(swap) || (swap !== -1 && swap <= 0))
      throw invalidArgument(`memory-swap ${swap}: expected bytes (memory plus swap) or -1 for unlimited swap`);
    if (req.memory === undefined) throw invalidArgument(`memory-swap ${swap}: needs a memory limit (--memory) as well`);
    if (swap !== -1 && swap < req.memory)
      throw invalidArgument(
        `memory-swap ${swap}: expected at least the memory limit ${req.memory} (it counts memory plus swap)`,
      );
    resources.memory = { ...resources.memory, swap };
  }
  if (req.cpus !== undefined) {
    if (!(req.cpus > 0)) throw invalidArgument(`cpus ${req.cpus}: expected a positive number`);
    resources.cpu = { period: 100000, quota: Math.round(req.cpus * 100000) };
  }
  if (req.hugepageLimits?.length)
    resources.hugepageLimits = req.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: h.limit }));
  if (req.pidsLimit !== undefined) {
    if (!Number.isInteger(req.pidsLimit) || req.pidsLimit === 0)
      throw invalidArgument(`pids-limit ${req.pidsLimit}: expected a positive integer (or -1 for unlimited)`);
    resources.pids = { limit: req.pidsLimit };
  }
  linux.resources = resources;
  const sb = req.sandbox;
  if (sb) {
    const joined = new Map(sb.join.map((j) => [j.type as string, j.path]));
    linux.namespaces = (linux.namespaces ?? [])
      .filter((n) => !(sb.host as string[]).includes(n.type))
      .map((n) => (joined.has(n.type) ? { type: n.type, path: joined.get(n.type)! } : n));
    for (const [type, path] of joined)
      if (!linux.namespaces.some((n) => n.type === type)) linux.namespaces.push({ type: type as 'pid', path });
    // The pod's UTS namespace already has the pod's hostname (or is the host's): never set it from here.
    if (joined.has('uts') || sb.host.includes('uts')) delete spec.hostname;
  }
  applyNamespaceModes(spec, req);
  const hostNet = req.network === 'host' || sb?.host.includes('network');
  if (hostNet) linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== 'network');
  // The host's /sys carries its network devices; sysfs cannot be mounted without a netns of our own,
  // nor from a user namespace that does not own the network namespace (a pod's user namespace: the
  // pod's netns is berthd's), as runc binds it then.
  if (hostNet || sb?.join.some((j) => j.type === 'user')) {
    spec.mounts = spec.mounts.map((m) =>
      m.destination === '/sys'
        ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
        : m,
    );
  }
  applySecurity(spec, req, DEFAULT_CAPABILITIES, inp.boundingCaps);
  if (inp.devices) applyDevices(spec, inp.devices);
  spec.annotations = {
    'org.berth.container.name': req.name ?? '',
    ...(req.labels ?? {}),
    ...(req.annotations ?? {}),
    ...(sb ? { 'org.berth.pod.id': sb.podId } : {}),
  };
  return spec;
}

/**
 * Host and CDI devices: nodes (replacing one at the same path), their allow rules after the
 * config's own, CDI's env (over the process's, by name), mounts and hooks.
 */
function applyDevices(spec: RuntimeConfig, d: ResolvedDevices): void {
  const linux = spec.linux!;
  const paths = new Set(d.devices.map((x) => x.path));
  if (d.devices.length) linux.devices = [...(linux.devices ?? []).filter((x) => !paths.has(x.path)), ...d.devices];
  if (d.rules.length) {
    linux.resources ??= {};
    linux.resources.devices = [...(linux.resources.devices ?? []), ...d.rules];
  }
  if (d.env.length) spec.process!.env = mergeEnv(spec.process!.env, d.env);
  if (d.mounts.length) {
    const dests = new Set(d.mounts.map((m) => m.destination));
    spec.mounts = [...(spec.mounts ?? []).filter((m) => !dests.has(m.destination)), ...d.mounts];
  }
  for (const name of HOOK_NAMES) {
    const hooks = d.hooks[name];
    if (!hooks?.length) continue;
    spec.hooks ??= {};
    spec.hooks[name] = [...(spec.hooks[name] ?? []), ...hooks];
  }
}
