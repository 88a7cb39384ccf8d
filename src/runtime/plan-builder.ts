// The plan builder: turns a validated OCI config into the ordered list of operations that
// native/berth-init executes (docs/plan-protocol.md). This is where the runtime's policy lives:
// the order of mounts, which devices exist, how paths resolve, which capabilities remain.
// It is a pure function of its inputs; everything it needs to know about the host comes through
// `HostFacts`, so it is unit-tested without root. It must never touch the file system itself.

import { internal, invalidArgument, unsupported } from '../errors/errors.ts';
import type {
  Hook,
  LinuxDevice,
  LinuxSeccomp,
  Mount as OciMount,
  Process,
  RuntimeConfig,
} from '../oci/runtime-spec.ts';
import {
  capabilityNumber,
  isKnownCapability,
  MS,
  mountOptionFlags,
  namespaceCloneFlag,
  namespaceProcName,
  rlimitNumber,
  rlimitValue,
} from '../oci/runtime-linux-tables.ts';
import { int, ints, MountHow, op, type PlanOp, PlanMode, str, strs } from '../sys/plan.ts';

// mount(2) flags used by the policy below, from the one table (src/oci/runtime-linux-tables.ts).
const {
  RDONLY: MS_RDONLY,
  NOSUID: MS_NOSUID,
  NODEV: MS_NODEV,
  NOEXEC: MS_NOEXEC,
  REMOUNT: MS_REMOUNT,
  BIND: MS_BIND,
  REC: MS_REC,
  PRIVATE: MS_PRIVATE,
  SLAVE: MS_SLAVE,
  SHARED: MS_SHARED,
  UNBINDABLE: MS_UNBINDABLE,
} = MS;

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWTIME = 0x00000080;

/** What the plan builder needs to know about the host, injected so tests need no root. */
export interface HostFacts {
  /** Type of a host path (bind-mount sources): decides whether a target is made as a dir or a file. */
  pathKind(path: string): 'dir' | 'file' | 'missing';
  /** Whether a path in the bundle's rootfs is itself a symlink (lstat; the checks of proc and sysfs targets). */
  isSymlink(path: string): boolean;
  /** cgroup v1 hierarchies mounted on the host, e.g. [{ name: 'memory', options: 'memory' }, { name: 'systemd', options: 'name=systemd' }]. */
  cgroupHierarchies(): Array<{ name: string; options: string; fstype: 'cgroup' | 'cgroup2' }>;
  /** Highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap). */
  capLastCap(): number;
  /** The SECCOMP op for a profile (compiled by libseccomp through the addon). */
  seccompOp(seccomp: LinuxSeccomp): PlanOp;
  /** Mount point of the mount holding `path` (the longest one above or at it, in this mount namespace). */
  mountPointOf(path: string): string;
  /** Whether SELinux is enabled (a mountLabel means nothing without it). */
  selinuxEnabled(): boolean;
  /** Where the builder reports what it deliberately leaves out. */
  warn(message: string): void;
}

export interface PlanOptions {
  /** Container id (for messages). */
  id: string;
  /** Absolute path of the bundle. */
  bundle: string;
  /** create: init waits on the exec FIFO; foreground: `run` without --detach. */
  mode: 'create' | 'foreground';
  /** The exec FIFO: required in create mode; in the foreground it lets `run` know when the process was exec'd (for poststart). */
  fifoPath?: string;
  /** Number of fds passed through with --preserve-fds (they sit at 3 … 3+n-1). */
  preserveFds: number;
  /** fd number, in berth-init, of the connected --console-socket. */
  consoleSocketFd?: number;
  /** --no-pivot: use MS_MOVE + chroot instead of pivot_root. */
  noPivot: boolean;
  /** How stage0 puts the init in its cgroups before it runs (src/cgroups CgroupJoin). */
  cgroupJoin: CgroupJoinPlan;
  /** Absolute cgroup dirs of the container per v1 hierarchy name, for bind-mounting when there is no cgroup namespace. */
  cgroupPaths?: Record<string, string>;
  /** Set by the builder itself: bind sources the child opened (OPEN_PATH) before it became root of a user namespace. */
  openedSources?: ReadonlyMap<string, string>;
}

/** The fds OPEN_PATH puts bind sources at (docs/plan-protocol.md): far above what berth-init opens itself. */
const OPENED_SOURCE_FD = 256;

/** The devices every container gets (runtime spec, "Default Devices"). */
const DEFAULT_DEVICES: Array<{ path: string; major: number; minor: number }> = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/tty', major: 5, minor: 0 },
];

const DEV_SYMLINKS: Array<[string, string]> = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

/**
 * Namespaces joined by path are entered in this order: mount last (after it, host paths of the
 * others are gone), and a user namespace after the others but before mount: stage0 is root of the
 * host until then, so it may still join namespaces the host's user namespace owns (a pod's network
 * namespace, made by berthd for CNI), which root of a joined user namespace may not. A create plan
 * that joins no mount namespace joins the user namespace later still, right before the clone, so
 * that stage0 writes the host's cgroup files as the host's root too. The clone's new namespaces are
 * the joined user namespace's. (runc joins the user namespace first, so a runc container cannot
 * join a host-owned network namespace from a user namespace.)
 */
const JOIN_ORDER = ['ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'user', 'mount'] as const;

/** A capability set as a mask. Names the kernel table lacks were already warned about by validation (the spec asks for a warning, not a failure) and are left out. */
function capMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) if (isKnownCapability(name)) mask |= 1n << BigInt(capabilityNumber(name));
  return mask;
}

/** Features of the spec that berth-runtime cannot honour yet: refused, never silently dropped. */
function refuseUnsupported(config: RuntimeConfig): void {
  const proc = config.process;
  const linux = config.linux ?? {};
  const refuse = (path: string, what: string) => {
    throw unsupported(`config.json: ${path}: ${what} is not supported by berth-runtime yet`);
  };
  if (proc?.apparmorProfile) refuse('process.apparmorProfile', 'AppArmor');
  if (proc?.selinuxLabel) refuse('process.selinuxLabel', 'SELinux');
  if (proc?.scheduler) refuse('process.scheduler', 'sched_setattr');
  if (proc?.ioPriority) refuse('process.ioPriority', 'ioprio_set');
  if (proc?.execCPUAffinity) refuse('process.execCPUAffinity', 'CPU affinity');
  if (linux.netDevices && Object.keys(linux.netDevices).length > 0)
    refuse('linux.netDevices', 'moving network devices');
}

function hookValues(
  h: Hook,
): [ReturnType<typeof str>, ReturnType<typeof strs>, ReturnType<typeof strs>, ReturnType<typeof int>] {
  return [str(h.path), strs(h.args && h.args.length > 0 ? h.args : [h.path]), strs(h.env ?? []), int(h.timeout ?? 0)];
}

function idMapText(maps: ReadonlyArray<{ containerID: number; hostID: number; size: number }>): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function resolveBundlePath(bundle: string, p: string): string {
  return p.startsWith('/') ? p : `${bundle.replace(/\/+$/, '')}/${p}`;
}

function normalizeDest(dest: string): string {
  // Targets are resolved inside the rootfs by berth-init; here we only make them canonical text.
  const parts: string[] = [];
  for (const c of dest.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return `/${parts.join('/')}`;
}

/**
 * Builds the plan for creating (or running in the foreground) the container described by `config`.
 * `config` must already be validated (src/oci/runtime-validate.ts).
 */
export function buildCreatePlan(config: RuntimeConfig, opts: PlanOptions, host: HostFacts): PlanOp[] {
  const pre: PlanOp[] = [];
  const parent: PlanOp[] = [];
  const child: PlanOp[] = [];
  const linux = config.linux ?? {};
  const proc = config.process;
  if (!proc) throw invalidArgument('config.json: process: required to create a container');
  if (!config.root?.path) throw invalidArgument('config.json: root.path: required');
  const rootfs = resolveBundlePath(opts.bundle, config.root.path);
  refuseUnsupported(config);
  refuseSymlinkedKernelFs(config, rootfs, host);

  pre.push(op('MODE', int(opts.mode === 'create' ? PlanMode.create : PlanMode.foreground)));

  // Namespaces: join those with a path (user first), create the rest in one clone.
  const namespaces = linux.namespaces ?? [];
  const byType = new Map(namespaces.map((n) => [n.type, n]));
  let cloneFlags = 0;
  // Without a mount namespace to join, a user namespace is joined right before the clone (JOIN_ORDER).
  const lateUser = byType.get('user')?.path && !byType.get('mount')?.path ? byType.get('user')!.path : undefined;
  for (const type of JOIN_ORDER) {
    const ns = byType.get(type);
    if (!ns) continue;
    const flag = namespaceCloneFlag(type);
    if (ns.path) {
      if (!(type === 'user' && lateUser)) pre.push(op('JOIN_NS', int(flag), str(ns.path)));
    } else cloneFlags |= flag;
  }
  const newUserNs = (cloneFlags & CLONE_NEWUSER) !== 0;
  const inUserNs = byType.has('user');
  const hasMountNs = byType.has('mount');
  if (!hasMountNs) {
    // Without a mount namespace the container shares the runtime's mounts: nothing may be mounted
    // (it would land on the host), so only the root changes (chroot), as runc and crun do.
    if ((linux.maskedPaths?.length ?? 0) + (linux.readonlyPaths?.length ?? 0) > 0) {
      throw invalidArgument(
        'config.json: linux.maskedPaths, linux.readonlyPaths: need a mount namespace (type "mount")',
      );
    }
    if (config.root.readonly)
      throw invalidArgument('config.json: root.readonly: needs a mount namespace (type "mount")');
    if ((config.mounts?.length ?? 0) > 0) {
      host.warn(
        `config.json: mounts: ${config.mounts!.length} mounts skipped: there is no mount namespace to mount them in`,
      );
    }
  }
  if (newUserNs && !(linux.uidMappings?.length && linux.gidMappings?.length)) {
    throw invalidArgument(
      'config.json: linux.uidMappings, linux.gidMappings: required when a new user namespace is created',
    );
  }
  if (config.hostname !== undefined && config.hostname !== '' && !byType.has('uts')) {
    throw invalidArgument('config.json: hostname: set, but there is no uts namespace to set it in');
  }
  if (config.domainname !== undefined && config.domainname !== '' && !byType.has('uts')) {
    throw invalidArgument('config.json: domainname: set, but there is no uts namespace to set it in');
  }

  if (opts.mode === 'create' && !opts.fifoPath)
    throw internal('plan: create mode needs the exec FIFO path (opts.fifoPath), none was given');
  if (opts.fifoPath) pre.push(op('MKFIFO', str(opts.fifoPath), int(0o622)));
  pre.push(...cgroupJoinOps(opts.cgroupJoin));
  // clone(2) cannot take CLONE_NEWTIME: stage0 unshares it (its children are born inside) and
  // sets the offsets, which the kernel accepts only before the first child.
  if (cloneFlags & CLONE_NEWTIME) {
    cloneFlags &= ~CLONE_NEWTIME;
    pre.push(op('UNSHARE', int(CLONE_NEWTIME)));
    const offsets = linux.timeOffsets ?? {};
    const text = Object.entries(offsets)
      .map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`)
      .join('');
    if (text) pre.push(op('WRITE_FILE', str('/proc/self/timens_offsets'), str(text)));
  }
  if (lateUser) pre.push(op('JOIN_NS', int(CLONE_NEWUSER), str(lateUser)));
  pre.push(op('CLONE', int(cloneFlags)));

  // Parent, after clone: identity maps and limits that need the host's privileges.
  if (newUserNs) {
    parent.push(op('UID_MAP', str(idMapText(linux.uidMappings ?? []))));
    parent.push(op('GID_MAP', str(idMapText(linux.gidMappings ?? []))));
  }
  for (const r of proc.rlimits ?? []) {
    parent.push(op('PRLIMIT', int(rlimitNumber(r.type)), int(rlimitValue(r.soft)), int(rlimitValue(r.hard))));
  }
  if (proc.oomScoreAdj !== undefined) parent.push(op('OOM_SCORE_ADJ', int(proc.oomScoreAdj)));

  // Child: the container's init.
  child.push(op('SETSID'));
  child.push(op('UMASK', int(0)));

  // Root propagation, then the rootfs bind-mounted onto itself so that it is a mount point for
  // pivot_root. Shared or unbindable would break both (pivot_root refuses a shared parent, a bind
  // of an unbindable mount fails): those are applied to the new root after the switch.
  const wantedProp = propagationFlag(linux.rootfsPropagation);
  // Shared is applied early too (as runc): a slave copy of a host mount bound into the container
  // would otherwise start a peer group of its own, and the container's mounts under an rshared bind
  // would never reach the host. Then the mount holding the rootfs is made private (runc's
  // rootfsParentMountPrivate): its bind onto itself must not propagate, and pivot_root refuses a shared parent.
  const sharedRoot = wantedProp !== undefined && (wantedProp & MS_SHARED) !== 0;
  const earlyProp =
    wantedProp !== undefined && wantedProp & (MS_PRIVATE | MS_SLAVE | MS_SHARED) ? wantedProp : MS_SLAVE | MS_REC;
  if (hasMountNs) {
    child.push(op('MOUNT', str(''), str('/'), str(''), int(earlyProp), str(''), int(0)));
    if (sharedRoot)
      child.push(op('MOUNT', str(''), str(host.mountPointOf(rootfs)), str(''), int(MS_PRIVATE), str(''), int(0)));
    child.push(op('MOUNT', str(rootfs), str(rootfs), str(''), int(MS_BIND | MS_REC), str(''), int(0)));
  }
  child.push(op('ROOTFS', str(rootfs)));
  // Root of the user namespace (new or joined) only once the rootfs is bound and open and the bind
  // sources are open: until then the child is still the host's uid 0, which may pass the
  // directories that lead to them (berthd keeps its own 0700, which the mapped root could not
  // pass); from here on paths are resolved from the rootfs fd or those fds, and what the child
  // creates (the /dev tmpfs's nodes) must be owned by an id the user namespace maps.
  let mountOpts = opts;
  if (inUserNs && hasMountNs) {
    const opened = new Map<string, string>();
    for (const m of config.mounts ?? []) {
      const isBind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
      if (!isBind || !m.source) continue;
      const source = resolveBundlePath(opts.bundle, m.source);
      if (opened.has(source) || host.pathKind(source) === 'missing') continue;
      const fd = OPENED_SOURCE_FD + opened.size;
      if (fd > 1023) break;
      child.push(op('OPEN_PATH', str(source), int(fd)));
      opened.set(source, `/proc/self/fd/${fd}`);
    }
    mountOpts = { ...opts, openedSources: opened };
  }
  if (inUserNs) child.push(op('SETRESID', int(0), int(0)));
  if (hasMountNs)
    child.push(
      ...rootfsOps(
        config,
        mountOpts,
        host,
        inUserNs,
        // cgroup v1 cannot be mounted in a user namespace: its own directories are bound instead (as runc).
        byType.has('cgroup') && !byType.get('cgroup')?.path && !inUserNs ? 'ns' : 'host',
      ),
    );
  // A missing cwd is made (0755, as the container's root), after the mounts since it may lie in one:
  // runc does the same, and docker and kubelet rely on it for a WORKDIR or workingDir not in the image.
  if (hasMountNs && proc.cwd && normalizeDest(proc.cwd) !== '/')
    child.push(op('MKDIR', str(normalizeDest(proc.cwd)), int(0o755)));

  // Hooks that run while the container is being created (prestart and createRuntime in Node, in the
  // runtime's namespaces; createContainer here, in the container's) need the state JSON with the pid.
  const hooks = config.hooks ?? {};
  const needsState =
    (hooks.prestart?.length ?? 0) +
      (hooks.createRuntime?.length ?? 0) +
      (hooks.createContainer?.length ?? 0) +
      (hooks.startContainer?.length ?? 0) >
    0;
  if (needsState) child.push(op('HOOK_SYNC'));
  for (const h of hooks.createContainer ?? []) child.push(op('RUN_HOOK', ...hookValues(h)));

  if (!hasMountNs) child.push(op('CHROOT', int(0)));
  else if (opts.noPivot) child.push(op('CHROOT', int(1)));
  else child.push(op('PIVOT_ROOT'));
  if (hasMountNs && wantedProp !== undefined && !(wantedProp & (MS_PRIVATE | MS_SLAVE))) {
    child.push(op('MOUNT', str(''), str('/'), str(''), int(wantedProp), str(''), int(0)));
  }
  if (linux.mountLabel) {
    if (host.selinuxEnabled())
      throw unsupported('config.json: linux.mountLabel: SELinux labels are not supported by berth-runtime yet');
    host.warn('config.json: linux.mountLabel: ignored: SELinux is not enabled on this host');
  }

  // From here on, paths are the container's.
  if (config.hostname) child.push(op('HOSTNAME', str(config.hostname)));
  if (config.domainname) child.push(op('DOMAINNAME', str(config.domainname)));
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) {
    if (k.includes('/') || k.split('.').some((c) => c === '..' || c === '')) {
      throw invalidArgument(`config.json: linux.sysctl: invalid key ${JSON.stringify(k)}`);
    }
    child.push(op('SYSCTL', str(k.replaceAll('.', '/')), str(v)));
  }
  if (proc.terminal) {
    if (opts.consoleSocketFd === undefined) {
      throw invalidArgument(
        'process.terminal is true: --console-socket is required unless the process runs in the foreground',
      );
    }
    const rows = proc.consoleSize?.height ?? 0;
    const cols = proc.consoleSize?.width ?? 0;
    child.push(op('CONSOLE', int(opts.consoleSocketFd), int(rows), int(cols)));
  }
  for (const p of linux.readonlyPaths ?? []) child.push(op('READONLY_PATH', str(normalizeDest(p))));
  for (const p of linux.maskedPaths ?? []) child.push(op('MASK_PATH', str(normalizeDest(p))));
  if (config.root.readonly) child.push(op('READONLY_PATH', str('/')));
  if (linux.personality) child.push(op('PERSONALITY', int(personalityDomain(linux.personality.domain))));

  child.push(...credentialOps(proc, opts.preserveFds, host, 'config.json: process', linux.seccomp));
  child.push(op('READY'));
  if (opts.fifoPath) child.push(op('WAIT_FIFO'));
  for (const h of hooks.startContainer ?? []) child.push(op('RUN_HOOK', ...hookValues(h)));
  child.push(...execOps(proc, 'config.json: process'));
  return [...pre, ...parent, ...child];
}

function maskTop(mask: bigint): number {
  let top = -1;
  for (let i = 0; mask > 0n; i++, mask >>= 1n) if (mask & 1n) top = i;
  return top;
}

function propagationFlag(p: string | undefined): number | undefined {
  switch (p) {
    case undefined:
    case '':
      return undefined;
    case 'private':
      return MS_PRIVATE;
    case 'rprivate':
      return MS_PRIVATE | MS_REC;
    case 'slave':
      return MS_SLAVE;
    case 'rslave':
      return MS_SLAVE | MS_REC;
    case 'shared':
      return MS_SHARED;
    case 'rshared':
      return MS_SHARED | MS_REC;
    case 'unbindable':
      return MS_UNBINDABLE;
    case 'runbindable':
      return MS_UNBINDABLE | MS_REC;
    default:
      throw invalidArgument(`config.json: linux.rootfsPropagation: unknown value ${JSON.stringify(p)}`);
  }
}

function personalityDomain(domain: string): number {
  if (domain === 'LINUX') return 0x0000;
  if (domain === 'LINUX32') return 0x0008;
  throw invalidArgument(
    `config.json: linux.personality.domain: expected LINUX or LINUX32, got ${JSON.stringify(domain)}`,
  );
}

function deviceOf(d: LinuxDevice) {
  return {
    path: d.path,
    type: d.type,
    major: d.major ?? 0,
    minor: d.minor ?? 0,
    mode: d.fileMode ?? 0o666,
    uid: d.uid ?? 0,
    gid: d.gid ?? 0,
  };
}

/**
 * proc and sysfs are never mounted through a symlink of the image (runc: "must be mounted on
 * ordinary directory"): with `/proc -> /` the kernel's proc would land on the container's root. This
 * refuses the rootfs before anything is mounted; berth-init checks again at the mount itself
 * (MountHow.NO_SYMLINK), where a symlink below another link or made by an earlier mount is seen too.
 */
function refuseSymlinkedKernelFs(config: RuntimeConfig, rootfs: string, host: HostFacts): void {
  for (const [i, m] of (config.mounts ?? []).entries()) {
    if (m.type !== 'proc' && m.type !== 'sysfs') continue;
    const dest = normalizeDest(m.destination);
    if (host.isSymlink(`${rootfs}${dest}`)) {
      throw invalidArgument(
        `config.json: mounts[${i}]: ${m.type} must be mounted on an ordinary directory, but ${dest} in the rootfs (${rootfs}${dest}) is a symlink: expected the image to have a directory there`,
      );
    }
  }
}

/** The ops for one entry of config.mounts. */
function mountOps(
  m: OciMount,
  index: number,
  dest: string,
  opts: PlanOptions,
  host: HostFacts,
  cgroupMode: 'ns' | 'host',
): PlanOp[] {
  const where = `config.json: mounts[${index}]`;
  const parsed = mountOptionFlags(m.options ?? []);
  // Options berth cannot honour yet are refused, never silently dropped.
  if (parsed.idmap) throw unsupported(`${where}.options: idmapped mounts are not supported by berth-runtime yet`);
  if (parsed.tmpcopyup) throw unsupported(`${where}.options: tmpcopyup is not supported by berth-runtime yet`);
  if (m.uidMappings?.length || m.gidMappings?.length) {
    throw unsupported(`${where}: uidMappings/gidMappings (idmapped mounts) are not supported by berth-runtime yet`);
  }
  const isBind = (parsed.flags & MS_BIND) !== 0 || m.type === 'bind';
  const out: PlanOp[] = [];
  const inRoot = MountHow.IN_ROOT | MountHow.VIA_FD;
  const data = parsed.data.join(',');

  if (isBind) {
    const source = resolveBundlePath(opts.bundle, m.source ?? '');
    if (!m.source) throw invalidArgument(`${where}.source: required for a bind mount`);
    const kind = host.pathKind(source);
    if (kind === 'missing') throw invalidArgument(`${where}.source: ${source} does not exist`);
    const create = kind === 'dir' ? MountHow.MKDIR : MountHow.MKFILE;
    const rec = parsed.flags & MS_REC;
    const from = opts.openedSources?.get(source) ?? source;
    out.push(op('MOUNT', str(from), str(dest), str(''), int(MS_BIND | rec), str(''), int(inRoot | create)));
    // Flags other than bind/rec take effect only on a remount of the bind.
    const extra = parsed.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (extra !== 0) {
      out.push(op('MOUNT', str(''), str(dest), str(''), int(MS_BIND | MS_REMOUNT | extra), str(''), int(inRoot)));
    }
  } else if (m.type === 'cgroup') {
    out.push(...cgroupMountOps(dest, parsed.flags, opts, host, cgroupMode));
  } else {
    const flags = parsed.flags & ~MS_REMOUNT;
    const noSymlink = m.type === 'proc' || m.type === 'sysfs' ? MountHow.NO_SYMLINK : 0;
    out.push(
      op(
        'MOUNT',
        str(m.source ?? m.type ?? ''),
        str(dest),
        str(m.type ?? ''),
        int(flags),
        str(data),
        int(inRoot | MountHow.MKDIR | noSymlink),
      ),
    );
  }
  // rro, rnosuid, …: mount_setattr(2) with AT_RECURSIVE on the mount and every mount under it (a
  // remount with MS_RDONLY reaches the top mount only), before propagation as runc orders them.
  if (parsed.recAttrSet !== 0 || parsed.recAttrClr !== 0)
    out.push(op('MOUNT_SETATTR', str(dest), int(parsed.recAttrSet), int(parsed.recAttrClr)));
  for (const p of parsed.propagation) out.push(op('MOUNT', str(''), str(dest), str(''), int(p), str(''), int(inRoot)));
  return out;
}

/**
 * A `cgroup` mount on a v1 host: a tmpfs at the destination and one mount per hierarchy under it.
 * With a cgroup namespace each hierarchy is mounted afresh (the kernel roots it at the namespace);
 * without one, the container's own cgroup dirs are bind-mounted so that it never sees the host's tree.
 */
function cgroupMountOps(
  dest: string,
  flags: number,
  opts: PlanOptions,
  host: HostFacts,
  mode: 'ns' | 'host',
): PlanOp[] {
  const inRoot = MountHow.IN_ROOT | MountHow.VIA_FD;
  const out: PlanOp[] = [];
  const hier = host.cgroupHierarchies();
  const v2Only = hier.length === 1 && hier[0]!.fstype === 'cgroup2';
  const fsFlags = (flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)) | (flags & MS_RDONLY);
  if (v2Only) {
    const own = opts.cgroupPaths?.['unified'];
    if (mode === 'ns')
      out.push(
        op('MOUNT', str('cgroup2'), str(dest), str('cgroup2'), int(fsFlags), str(''), int(inRoot | MountHow.MKDIR)),
      );
    else if (own) {
      out.push(op('MOUNT', str(own), str(dest), str(''), int(MS_BIND), str(''), int(inRoot | MountHow.MKDIR)));
      out.push(op('MOUNT', str(''), str(dest), str(''), int(MS_BIND | MS_REMOUNT | fsFlags), str(''), int(inRoot)));
    }
    return out;
  }
  out.push(
    op(
      'MOUNT',
      str('tmpfs'),
      str(dest),
      str('tmpfs'),
      int(MS_NOSUID | MS_NODEV | MS_NOEXEC),
      str('mode=755'),
      int(inRoot | MountHow.MKDIR),
    ),
  );
  for (const h of hier) {
    // A hybrid host's cgroup2 (/sys/fs/cgroup/unified) carries no controllers: runc and crun mount
    // only the v1 hierarchies in the container, and so does berth (the container is still placed in it).
    if (h.fstype === 'cgroup2') continue;
    const sub = `${dest}/${h.name}`;
    // src/cgroups names hierarchies by controller ("memory", "name=systemd", "unified" for a hybrid's cgroup2).
    const own = opts.cgroupPaths?.[h.name] ?? opts.cgroupPaths?.[`name=${h.name}`];
    // Without a cgroup namespace a fresh cgroup mount would show the host's whole tree: only the
    // container's own directory is bound, and a hierarchy it has none in is left out.
    if (mode === 'host' && !own) continue;
    if (mode === 'ns') {
      out.push(
        op('MOUNT', str('cgroup'), str(sub), str(h.fstype), int(fsFlags), str(h.options), int(inRoot | MountHow.MKDIR)),
      );
    } else if (own) {
      out.push(op('MOUNT', str(own), str(sub), str(''), int(MS_BIND), str(''), int(inRoot | MountHow.MKDIR)));
      out.push(op('MOUNT', str(''), str(sub), str(''), int(MS_BIND | MS_REMOUNT | fsFlags), str(''), int(inRoot)));
    }
  }
  if (flags & MS_RDONLY) {
    out.push(
      op(
        'MOUNT',
        str(''),
        str(dest),
        str(''),
        int(MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC),
        str('mode=755'),
        int(inRoot),
      ),
    );
  }
  return out;
}

/** The container's file system inside its mount namespace: config.mounts in order, the devices, the /dev links. */
function rootfsOps(
  config: RuntimeConfig,
  opts: PlanOptions,
  host: HostFacts,
  inUserNs: boolean,
  cgroupMode: 'ns' | 'host',
): PlanOp[] {
  const child: PlanOp[] = [];
  const linux = config.linux ?? {};
  let devIsTmpfs = false;
  for (const [i, m] of (config.mounts ?? []).entries()) {
    const dest = normalizeDest(m.destination);
    if (dest === '/dev' && (m.type === 'tmpfs' || m.source === 'tmpfs')) devIsTmpfs = true;
    child.push(...mountOps(m, i, dest, opts, host, cgroupMode));
  }

  // Devices: the defaults, then linux.devices. In a user namespace mknod is not allowed: bind the host's node instead.
  const devices: Array<{
    path: string;
    type: string;
    major: number;
    minor: number;
    mode: number;
    uid: number;
    gid: number;
  }> = [];
  for (const d of DEFAULT_DEVICES) devices.push({ ...d, type: 'c', mode: 0o666, uid: 0, gid: 0 });
  for (const d of linux.devices ?? []) devices.push(deviceOf(d));
  for (const d of devices) {
    const path = normalizeDest(d.path);
    if (inUserNs) {
      child.push(
        op(
          'MOUNT',
          str(d.path),
          str(path),
          str(''),
          int(MS_BIND),
          str(''),
          int(MountHow.IN_ROOT | MountHow.VIA_FD | MountHow.MKFILE),
        ),
      );
    } else {
      const kind = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
      child.push(
        op('MKNOD', str(path), int(kind | (d.mode & 0o7777)), int(d.major), int(d.minor), int(d.uid), int(d.gid)),
      );
    }
  }
  if (devIsTmpfs || (config.mounts ?? []).some((m) => normalizeDest(m.destination) === '/dev')) {
    for (const [target, link] of DEV_SYMLINKS) child.push(op('SYMLINK', str(target), str(link)));
    child.push(op('SYMLINK', str('/proc/kcore'), str('/dev/core')));
  }

  return child;
}

/**
 * Credentials, in the kernel's order: mark inherited fds close-on-exec, shrink the bounding set
 * while still privileged, switch user keeping capabilities, chdir as that user (then check the cwd
 * is inside the container: CVE-2024-21626), set the final capability sets, no_new_privs, and find
 * the program (a missing or non-executable one fails create, not start, as with runc).
 * The seccomp filter goes where runc puts it: without no_new_privs the kernel lets only
 * CAP_SYS_ADMIN load it, so it is loaded before capabilities are dropped; with no_new_privs as late
 * as possible, but before READY, so that a refused filter fails create and startContainer hooks
 * run under it either way.
 */
function credentialOps(
  proc: Process,
  preserveFds: number,
  host: HostFacts,
  where: string,
  seccomp: LinuxSeccomp | undefined,
): PlanOp[] {
  const out: PlanOp[] = [op('CLOSE_FDS', int(3 + preserveFds))];
  const filter = seccomp ? host.seccompOp(seccomp) : undefined;
  const early = filter !== undefined && !proc.noNewPrivileges;
  // The cwd check (getcwd) runs before a filter that may deny getcwd; the chdir as the user (which
  // checks the user's permissions) comes later either way.
  if (early) out.push(op('CHDIR', str(proc.cwd), int(1)), filter);
  const caps = proc.capabilities;
  const last = host.capLastCap();
  const masks = caps
    ? {
        bounding: capMask(caps.bounding),
        effective: capMask(caps.effective),
        permitted: capMask(caps.permitted),
        inheritable: capMask(caps.inheritable),
        ambient: capMask(caps.ambient),
      }
    : undefined;
  if (masks) {
    for (const [set, mask] of Object.entries(masks)) {
      const top = maskTop(mask);
      if (top > last)
        throw unsupported(`${where}.capabilities.${set}: capability ${top} is beyond this kernel's last (${last})`);
    }
    out.push(op('CAP_BOUNDING', int(masks.bounding)));
  }
  const user = proc.user ?? { uid: 0, gid: 0 };
  out.push(op('USER', int(user.uid), int(user.gid), ints(user.additionalGids ?? []), int(1)));
  out.push(op('CHDIR', str(proc.cwd), int(early ? 0 : 1)));
  // The kernel raises an ambient capability only if it is both permitted and inheritable; like runc
  // and crun, berth raises those and leaves the rest out rather than failing the container.
  if (masks) {
    const ambient = masks.ambient & masks.permitted & masks.inheritable;
    out.push(op('CAPS', int(masks.effective), int(masks.permitted), int(masks.inheritable), int(ambient)));
  }
  if (proc.noNewPrivileges) out.push(op('NO_NEW_PRIVS'));
  out.push(op('RESOLVE_EXEC'));
  if (filter && proc.noNewPrivileges) out.push(filter);
  return out;
}

/** The last ops: the process's umask, then execve (a bare name is looked up in the PATH of its env inside the container). */
function execOps(proc: Process, where: string): PlanOp[] {
  const args = proc.args ?? [];
  if (args.length === 0) throw invalidArgument(`${where}.args: must not be empty`);
  return [op('UMASK', int(proc.user?.umask ?? 0o022)), op('EXEC', str(args[0]!), strs(args), strs(proc.env ?? []))];
}

/** The cgroup files and directory of a join, as src/cgroups' CgroupJoin describes them. */
export interface CgroupJoinPlan {
  writeZero: string[];
  cloneInto?: string;
}

/** WRITE_FILE "0" into each v1 `tasks` file, then CGROUP_INTO the cgroup2 directory the clone enters. */
function cgroupJoinOps(join: CgroupJoinPlan): PlanOp[] {
  const ops = join.writeZero.map((f) => op('WRITE_FILE', str(f), str('0')));
  if (join.cloneInto !== undefined) ops.push(op('CGROUP_INTO', str(join.cloneInto)));
  return ops;
}

export interface ExecPlanOptions {
  /** Host pid of the container's init: its /proc/<pid>/ns/* are joined. */
  initPid: number;
  /** foreground: berth-init waits and exits with the process's status; detach: it exits once the process runs. */
  mode: 'foreground' | 'detach';
  preserveFds: number;
  consoleSocketFd?: number;
  /** How stage0 puts the process in the container's cgroups (before any namespace is joined: host paths). */
  cgroupJoin: CgroupJoinPlan;
}

/**
 * The plan for `exec`: join the container's cgroup, then every namespace of its init (user first,
 * mount last: setns into the mount namespace also moves root and cwd into the container), fork
 * into them, and run `proc` with its own credentials and rlimits.
 */
export function buildExecPlan(config: RuntimeConfig, proc: Process, opts: ExecPlanOptions, host: HostFacts): PlanOp[] {
  const where = 'process';
  refuseUnsupported({ ...config, process: proc });
  const ops: PlanOp[] = [op('MODE', int(opts.mode === 'detach' ? PlanMode.create : PlanMode.foreground))];
  ops.push(...cgroupJoinOps(opts.cgroupJoin));
  const present = new Set((config.linux?.namespaces ?? []).map((n) => n.type));
  for (const type of JOIN_ORDER) {
    if (present.has(type))
      ops.push(
        op('JOIN_NS', int(namespaceCloneFlag(type)), str(`/proc/${opts.initPid}/ns/${namespaceProcName(type)}`)),
      );
  }
  ops.push(op('CLONE', int(0)));
  ops.push(op('SETSID'));
  if (proc.terminal) {
    if (opts.consoleSocketFd === undefined) throw invalidArgument('exec with a terminal needs --console-socket');
    ops.push(
      op('CONSOLE', int(opts.consoleSocketFd), int(proc.consoleSize?.height ?? 0), int(proc.consoleSize?.width ?? 0)),
    );
  }
  for (const r of proc.rlimits ?? [])
    ops.push(op('SETRLIMIT', int(rlimitNumber(r.type)), int(rlimitValue(r.soft)), int(rlimitValue(r.hard))));
  ops.push(...credentialOps(proc, opts.preserveFds, host, where, config.linux?.seccomp));
  ops.push(op('READY'));
  ops.push(...execOps(proc, where));
  return ops;
}
