// Linux numbers behind the names config.json uses: capabilities, rlimits, signals, namespace clone
// flags, and the mount option table. The plan builder turns a validated config into numbers with
// these; the validator uses the same tables so that whatever validates also converts.
// Owns: name→number tables for Linux x86_64 (the numbers below are the same on arm64 except where
// noted). Never: touch the host, or decide policy (what to do with a flag is the plan builder's).

import { invalidArgument } from '../errors/errors.ts';
import type { LinuxNamespaceType } from './runtime-spec.ts';

// ---- capabilities (capabilities(7)); index = capability number ----

/** Every Linux capability berth knows, in number order: CAPABILITIES[n] is capability n. */
export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

const capabilityIndex = new Map(CAPABILITIES.map((name, i) => [name, i]));

/** True for an exact capability name berth knows ("CAP_KILL"). */
export function isKnownCapability(name: string): boolean {
  return capabilityIndex.has(name);
}

/** The number of a capability given by its exact name ("CAP_NET_ADMIN" → 12). */
export function capabilityNumber(name: string): number {
  const n = capabilityIndex.get(name);
  if (n === undefined) {
    throw invalidArgument(
      `unknown capability ${JSON.stringify(name)}: expected one of CAP_CHOWN … CAP_CHECKPOINT_RESTORE (capabilities(7))`,
    );
  }
  return n;
}

// ---- rlimits (getrlimit(2), asm-generic/resource.h) ----

/** Every RLIMIT_* name in number order: RLIMITS[n] is resource n. */
export const RLIMITS: readonly string[] = [
  'RLIMIT_CPU',
  'RLIMIT_FSIZE',
  'RLIMIT_DATA',
  'RLIMIT_STACK',
  'RLIMIT_CORE',
  'RLIMIT_RSS',
  'RLIMIT_NPROC',
  'RLIMIT_NOFILE',
  'RLIMIT_MEMLOCK',
  'RLIMIT_AS',
  'RLIMIT_LOCKS',
  'RLIMIT_SIGPENDING',
  'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE',
  'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
];

const rlimitIndex = new Map(RLIMITS.map((name, i) => [name, i]));

export function isKnownRlimit(name: string): boolean {
  return rlimitIndex.has(name);
}

/** The resource number of an rlimit given by its exact name ("RLIMIT_NOFILE" → 7). */
export function rlimitNumber(name: string): number {
  const n = rlimitIndex.get(name);
  if (n === undefined) {
    throw invalidArgument(`unknown rlimit ${JSON.stringify(name)}: expected one of ${RLIMITS.join(', ')}`);
  }
  return n;
}

/**
 * An rlimit value as the plan wants it: -1 for RLIM_INFINITY. JSON cannot carry 2^64-1 exactly
 * (it parses as 2^64), so anything at or above 2^63 is taken as infinity, which is what the kernel
 * does with such values anyway.
 */
export function rlimitValue(value: number): number {
  return value >= 2 ** 63 ? -1 : value;
}

// ---- namespaces ----

const cloneFlags: Record<LinuxNamespaceType, number> = {
  mount: 0x00020000, // CLONE_NEWNS
  cgroup: 0x02000000, // CLONE_NEWCGROUP
  uts: 0x04000000, // CLONE_NEWUTS
  ipc: 0x08000000, // CLONE_NEWIPC
  user: 0x10000000, // CLONE_NEWUSER
  pid: 0x20000000, // CLONE_NEWPID
  network: 0x40000000, // CLONE_NEWNET
  time: 0x00000080, // CLONE_NEWTIME
};

const procNames: Record<LinuxNamespaceType, string> = {
  mount: 'mnt',
  cgroup: 'cgroup',
  uts: 'uts',
  ipc: 'ipc',
  user: 'user',
  pid: 'pid',
  network: 'net',
  time: 'time',
};

function namespaceEntry<T>(table: Record<string, T>, type: string): T {
  if (!Object.hasOwn(table, type)) {
    throw invalidArgument(
      `unknown namespace type ${JSON.stringify(type)}: expected one of pid, network, mount, ipc, uts, user, cgroup, time`,
    );
  }
  return table[type] as T;
}

/** The CLONE_NEW* flag of a namespace type ("network" → CLONE_NEWNET); also setns(2)'s nstype. */
export function namespaceCloneFlag(type: string): number {
  return namespaceEntry(cloneFlags, type);
}

/** The file name of a namespace type under /proc/<pid>/ns ("network" → "net", "mount" → "mnt"). */
export function namespaceProcName(type: string): string {
  return namespaceEntry(procNames, type);
}

// ---- signals (signal(7), x86_64 and arm64 numbering) ----

const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/** glibc reserves 32 and 33 for itself, so user real-time signals start at 34. */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/**
 * A signal number from what a user typed: "KILL", "SIGKILL", "sigterm", "9", 15, "RTMIN+3",
 * "SIGRTMAX-1". Throws InvalidArgument naming the input otherwise.
 */
export function signalNumber(nameOrNumber: string | number): number {
  const bad = () =>
    invalidArgument(
      `invalid signal ${JSON.stringify(nameOrNumber)}: expected a name (KILL, SIGTERM, RTMIN+n, …) or a number 1-${SIGRTMAX}`,
    );
  if (typeof nameOrNumber === 'number') {
    if (Number.isInteger(nameOrNumber) && nameOrNumber >= 1 && nameOrNumber <= SIGRTMAX) return nameOrNumber;
    throw bad();
  }
  const s = nameOrNumber.trim().toUpperCase();
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= SIGRTMAX) return n;
    throw bad();
  }
  const name = s.startsWith('SIG') ? s.slice(3) : s;
  const known = SIGNALS[name];
  if (known !== undefined) return known;
  const rt = /^RT(MIN|MAX)(?:([+-])([0-9]{1,2}))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const offset = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === '+' ? 1 : -1);
    const n = base + offset;
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
  }
  throw bad();
}

// ---- mounts ----

/** mount(2) flags (linux/mount.h). */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  POSIXACL: 0x10000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** mount_setattr(2) attributes (linux/mount.h). RELATIME is 0: it is "clear the atime field". */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  ATIME_MASK: 0x70, // MOUNT_ATTR__ATIME
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  IDMAP: 0x100000,
  NOSYMFOLLOW: 0x200000,
} as const;

/** The propagation options and the mount(2) flags each one means. */
export const PROPAGATION_FLAGS: Readonly<Record<string, number>> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

// [clear?, flag]: an option either sets a flag or clears it ("rw" clears MS_RDONLY).
const FLAG_OPTIONS: Record<string, [boolean, number]> = {
  acl: [false, MS.POSIXACL],
  noacl: [true, MS.POSIXACL],
  async: [true, MS.SYNCHRONOUS],
  sync: [false, MS.SYNCHRONOUS],
  atime: [true, MS.NOATIME],
  noatime: [false, MS.NOATIME],
  bind: [false, MS.BIND],
  rbind: [false, MS.BIND | MS.REC],
  dev: [true, MS.NODEV],
  nodev: [false, MS.NODEV],
  diratime: [true, MS.NODIRATIME],
  nodiratime: [false, MS.NODIRATIME],
  dirsync: [false, MS.DIRSYNC],
  exec: [true, MS.NOEXEC],
  noexec: [false, MS.NOEXEC],
  iversion: [false, MS.I_VERSION],
  noiversion: [true, MS.I_VERSION],
  lazytime: [false, MS.LAZYTIME],
  nolazytime: [true, MS.LAZYTIME],
  loud: [true, MS.SILENT],
  silent: [false, MS.SILENT],
  mand: [false, MS.MANDLOCK],
  nomand: [true, MS.MANDLOCK],
  relatime: [false, MS.RELATIME],
  norelatime: [true, MS.RELATIME],
  strictatime: [false, MS.STRICTATIME],
  nostrictatime: [true, MS.STRICTATIME],
  suid: [true, MS.NOSUID],
  nosuid: [false, MS.NOSUID],
  symfollow: [true, MS.NOSYMFOLLOW],
  nosymfollow: [false, MS.NOSYMFOLLOW],
  remount: [false, MS.REMOUNT],
  ro: [false, MS.RDONLY],
  rw: [true, MS.RDONLY],
};

// The recursive (mount_setattr with AT_RECURSIVE) forms.
const REC_ATTR_OPTIONS: Record<string, [boolean, number]> = {
  rro: [false, MOUNT_ATTR.RDONLY],
  rrw: [true, MOUNT_ATTR.RDONLY],
  rnosuid: [false, MOUNT_ATTR.NOSUID],
  rsuid: [true, MOUNT_ATTR.NOSUID],
  rnodev: [false, MOUNT_ATTR.NODEV],
  rdev: [true, MOUNT_ATTR.NODEV],
  rnoexec: [false, MOUNT_ATTR.NOEXEC],
  rexec: [true, MOUNT_ATTR.NOEXEC],
  rnodiratime: [false, MOUNT_ATTR.NODIRATIME],
  rdiratime: [true, MOUNT_ATTR.NODIRATIME],
  rrelatime: [false, MOUNT_ATTR.RELATIME],
  rnorelatime: [true, MOUNT_ATTR.RELATIME],
  rnoatime: [false, MOUNT_ATTR.NOATIME],
  ratime: [true, MOUNT_ATTR.NOATIME],
  rstrictatime: [false, MOUNT_ATTR.STRICTATIME],
  rnostrictatime: [true, MOUNT_ATTR.STRICTATIME],
  rnosymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW],
  rsymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW],
};

export interface MountOptionFlags {
  /** mount(2) flags to set. */
  flags: number;
  /** mount(2) flags an option explicitly cleared ("rw", "suid", …): a remount must clear them. */
  clearFlags: number;
  /** One mount(2) call each, in the order given: MS_{PRIVATE,SHARED,SLAVE,UNBINDABLE}[|MS_REC]. */
  propagation: number[];
  /** Everything else: filesystem-specific options, passed as mount(2)'s data joined by ",". */
  data: string[];
  /** mount_setattr(2) with AT_RECURSIVE: attributes to set and to clear ("rro", "rnosuid", …). */
  recAttrSet: number;
  recAttrClr: number;
  /** "tmpcopyup": copy the directory's existing contents into the new tmpfs. */
  tmpcopyup: boolean;
  /** "idmap" / "ridmap": the mount gets an id mapping (recursively for ridmap). */
  idmap: { recursive: boolean } | undefined;
}

/**
 * What a list of mount options means, following runc's option table: later options override
 * earlier ones ("ro,rw" is read-write). "defaults" means no flags and is dropped, as mount(8)
 * does, rather than passed to the filesystem.
 */
export function mountOptionFlags(options: readonly string[]): MountOptionFlags {
  const out: MountOptionFlags = {
    flags: 0,
    clearFlags: 0,
    propagation: [],
    data: [],
    recAttrSet: 0,
    recAttrClr: 0,
    tmpcopyup: false,
    idmap: undefined,
  };
  for (const o of options) {
    const flag = FLAG_OPTIONS[o];
    if (flag !== undefined && Object.hasOwn(FLAG_OPTIONS, o)) {
      const [clear, bits] = flag;
      if (clear) {
        out.flags &= ~bits;
        out.clearFlags |= bits;
      } else {
        out.flags |= bits;
        out.clearFlags &= ~bits;
      }
      continue;
    }
    if (Object.hasOwn(PROPAGATION_FLAGS, o)) {
      out.propagation.push(PROPAGATION_FLAGS[o] as number);
      continue;
    }
    const rec = REC_ATTR_OPTIONS[o];
    if (rec !== undefined && Object.hasOwn(REC_ATTR_OPTIONS, o)) {
      const [clear, bits] = rec;
      if (clear) {
        out.recAttrClr |= bits;
        out.recAttrSet &= ~bits;
      } else {
        out.recAttrSet |= bits;
        out.recAttrClr &= ~bits;
        // mount_setattr(2): an atime mode in attr_set needs the whole atime field in attr_clr.
        if ((bits & MOUNT_ATTR.ATIME_MASK) === bits) out.recAttrClr |= MOUNT_ATTR.ATIME_MASK;
      }
      continue;
    }
    if (o === 'defaults') continue;
    if (o === 'tmpcopyup') {
      out.tmpcopyup = true;
      continue;
    }
    if (o === 'idmap' || o === 'ridmap') {
      out.idmap = { recursive: o === 'ridmap' };
      continue;
    }
    out.data.push(o);
  }
  return out;
}

/** Every option string mountOptionFlags interprets itself (for the features document). */
export const KNOWN_MOUNT_OPTIONS: readonly string[] = [
  ...Object.keys(FLAG_OPTIONS),
  ...Object.keys(PROPAGATION_FLAGS),
  ...Object.keys(REC_ATTR_OPTIONS),
  'defaults',
  'tmpcopyup',
  'idmap',
  'ridmap',
].sort();
