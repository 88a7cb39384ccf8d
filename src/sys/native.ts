// The door to berth's N-API addon (native/addon): fd passing over unix sockets, path resolution
// confined to a root, mount/umount2, pidfd, mkfifo/mknod, memfd seals, child subreaper, xattrs
// without following symlinks, compiling seccomp filters with libseccomp, and loading the cgroup v2
// eBPF device filter.
//
// Owns: finding and loading the built addon, typed wrappers, and the kernel constants callers pass.
// Loading is lazy: importing this module touches no file and loads no code; the addon is loaded by
// the first call (berth-runtime starts once per container operation, and many operations never
// need it). Constants are plain numbers here for the same reason; a test checks them against the
// addon's own values.
//
// Must never: decide policy (which paths, which flags), hide a failure, or offer a call that changes
// the whole process's namespaces or credentials (setns, unshare, chroot, setuid): Node runs several
// threads, so those belong to native/berth-init (see docs/native-addon.md).
//
// Failures throw the addon's Error, shaped like Node's system errors: `code` (errno name such as
// 'ENOENT'), `errno` (the positive kernel number), `syscall`, and `path`/`fd` when there is one; the
// message names them. A missing or unloadable addon throws BerthError(Unavailable).
import { closeSync, existsSync, constants as fsConstants, openSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { unavailable } from '../errors/errors.ts';
import { MS } from '../oci/runtime-linux-tables.ts';
import { findBerthRoot } from './paths.ts';

/** The error every addon call throws when the kernel refuses it. */
export interface SyscallError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
  fd?: number;
}

export function isSyscallError(e: unknown, code?: string): e is SyscallError {
  return (
    e instanceof Error &&
    typeof (e as Partial<SyscallError>).syscall === 'string' &&
    typeof (e as Partial<SyscallError>).errno === 'number' &&
    (code === undefined || (e as SyscallError).code === code)
  );
}

type MsConstants = { readonly [K in keyof typeof MS as `MS_${K}`]: (typeof MS)[K] };
const MS_CONSTANTS = Object.fromEntries(Object.entries(MS).map(([k, v]) => [`MS_${k}`, v])) as MsConstants;

/**
 * Kernel constants for the calls below. MS_, MNT_, MFD_, F_SEAL_ and S_IF values are the same on
 * every Linux architecture; O_ values come from Node where it has them (they differ on arm64).
 */
export const constants = {
  // mount(2) flags: the one table is MS in src/oci/runtime-linux-tables.ts (native.test.ts checks it against the addon's headers).
  ...MS_CONSTANTS,
  MNT_FORCE: 0x1,
  MNT_DETACH: 0x2,
  MNT_EXPIRE: 0x4,
  UMOUNT_NOFOLLOW: 0x8,
  O_RDONLY: fsConstants.O_RDONLY,
  O_WRONLY: fsConstants.O_WRONLY,
  O_RDWR: fsConstants.O_RDWR,
  O_CREAT: fsConstants.O_CREAT,
  O_EXCL: fsConstants.O_EXCL,
  O_TRUNC: fsConstants.O_TRUNC,
  O_APPEND: fsConstants.O_APPEND,
  O_NONBLOCK: fsConstants.O_NONBLOCK,
  O_DIRECTORY: fsConstants.O_DIRECTORY,
  O_NOFOLLOW: fsConstants.O_NOFOLLOW,
  // Not in Node's table; the same value on x86_64 and arm64.
  O_CLOEXEC: 0o2000000,
  O_PATH: 0o10000000,
  S_IFIFO: 0o010000,
  S_IFCHR: 0o020000,
  S_IFDIR: 0o040000,
  S_IFBLK: 0o060000,
  S_IFREG: 0o100000,
  MFD_CLOEXEC: 0x1,
  MFD_ALLOW_SEALING: 0x2,
  F_SEAL_SEAL: 0x1,
  F_SEAL_SHRINK: 0x2,
  F_SEAL_GROW: 0x4,
  F_SEAL_WRITE: 0x8,
  F_SEAL_FUTURE_WRITE: 0x10,
  XATTR_CREATE: 0x1,
  XATTR_REPLACE: 0x2,
  // libseccomp's action values (seccomp.h), the same as the kernel's SECCOMP_RET_*. ERRNO and TRACE
  // carry their 16-bit data in the low bits: SCMP_ACT_ERRNO | errno.
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_KILL_THREAD: 0x00000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_LOG: 0x7ffc0000,
  SCMP_ACT_NOTIFY: 0x7fc00000,
  SCMP_ACT_ALLOW: 0x7fff0000,
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
} as const;

/** One argument comparison of a seccomp rule, as libseccomp's struct scmp_arg_cmp. */
export interface SeccompArgCmp {
  /** Argument index, 0..5. */
  index: number;
  /** constants.SCMP_CMP_*. */
  op: number;
  /** datum_a: the value, or the mask for SCMP_CMP_MASKED_EQ. */
  value: bigint;
  /** datum_b: the masked value for SCMP_CMP_MASKED_EQ; otherwise unused (0n). */
  valueTwo: bigint;
}

/** One libseccomp rule: all of `args` must match (AND); at most one comparison per argument. */
export interface SeccompRule {
  syscall: string;
  /** The full action value, e.g. constants.SCMP_ACT_ERRNO | 38. Must differ from the default action. */
  action: number;
  args: SeccompArgCmp[];
}

/** Input of seccompCompile: what libseccomp needs, every policy decision already made. */
export interface SeccompFilter {
  defaultAction: number;
  /** libseccomp architecture names ("x86_64", "x86", "x32", "aarch64", …); the native one is always in. */
  arches: string[];
  /** SCMP_FLTATR_CTL_OPTIMIZE: 1 = priority order (default), 2 = binary tree. */
  optimize?: 1 | 2;
  rules: SeccompRule[];
}

/** A device program attached to a cgroup, as bpfDeviceFilters lists it. */
export interface BpfDeviceFilterInfo {
  /** The kernel's program id (bpftool prog show id N). */
  id: number;
  /** Its prog_name (at most 15 characters). */
  name: string;
  /** True when the name is the one bpfAttachDeviceFilter gives: such a program is replaced by the next one. */
  berth: boolean;
}

/** What bpfAttachDeviceFilter and bpfDeviceFilters throw: a SyscallError with the bpf(2) command and the verifier's words. */
export interface BpfError extends SyscallError {
  /** 'BPF_PROG_QUERY', 'BPF_PROG_LOAD', 'BPF_PROG_ATTACH', …; absent when opening the directory failed (syscall 'open'). */
  bpfCommand?: string;
  /** The verifier's log when BPF_PROG_LOAD refused the program (also in the message). */
  verifierLog?: string;
}

/** The addon's exports, as berth_addon.cc defines them. */
interface Addon {
  socketpair(): [number, number];
  netnsSocket(netnsPath: string): number;
  netnsBind(netnsPath: string, type: 'tcp' | 'udp', address: string, port: number): [number, number];
  netnsCreate(path: string): void;
  sendFds(sockFd: number, fds: readonly number[], data: Buffer | undefined): number;
  recvFds(sockFd: number, maxFds: number, maxData: number): { fds: number[]; data: Buffer };
  peerCred(sockFd: number): { pid: number; uid: number; gid: number };
  openInRoot(rootFd: number, path: string, flags: number, mode: number, forceWalk: boolean): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  mkfifo(path: string, mode: number): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  pidfdOpen(pid: number): number;
  mallocTrim(): boolean;
  releaseFilePages(): number;
  lowMemoryNotification(): void;
  pidfdSendSignal(pidfd: number, sig: number): void;
  pidfdWait(pidfd: number, timeoutMs: number): boolean;
  prctlSetChildSubreaper(on: boolean): void;
  memfdCreate(name: string, flags: number): number;
  addSeals(fd: number, seals: number): void;
  getSeals(fd: number): number;
  lsetxattr(path: string, name: string, value: Buffer, flags: number): void;
  lgetxattr(path: string, name: string): Buffer | undefined;
  llistxattr(path: string): string[];
  seccompCompile(filter: SeccompFilter): { program: Buffer; skipped: string[] };
  bpfAttachDeviceFilter(cgroupDir: string, program: Uint8Array, license: string): void;
  bpfDeviceFilters(cgroupDir: string): BpfDeviceFilterInfo[];
  spawnProcess(path: string, argv: readonly string[], fds: readonly number[]): number;
  watchChild(
    pid: number,
    fd: number,
    callback: (kind: 'data' | 'eof' | 'exit', value: Buffer | number | undefined) => void,
  ): void;
  constants: Record<string, number>;
}

const ADDON_FILE = 'native/addon/build/Release/berth_addon.node';

/**
 * The built addon's path, found by walking up from `startDir` to the directory that holds
 * native/addon: the repository root, whether this code runs from src/sys or bundled in dist/bin.
 */
export function findAddon(startDir: string): string {
  const root = findBerthRoot(startDir);
  if (root === undefined) {
    throw unavailable(
      `berth's native addon was not found: no directory above ${startDir} holds native/addon; run scripts/build.sh in the berth checkout`,
    );
  }
  const file = join(root, ADDON_FILE);
  if (!existsSync(file))
    throw unavailable(`berth's native addon is not built (${file} is missing): run scripts/build.sh`);
  return file;
}

let loaded: Addon | undefined;

/** Loads the addon on first use. Exported for tests and for a start-up check that wants to fail early. */
export function loadAddon(): Addon {
  if (loaded !== undefined) return loaded;
  const file = findAddon(import.meta.dirname);
  try {
    loaded = createRequire(import.meta.url)(file) as Addon;
  } catch (e) {
    throw unavailable(
      `berth's native addon ${file} could not be loaded (built for another Node?): run scripts/build.sh`,
      e,
    );
  }
  return loaded;
}

/** A connected AF_UNIX SOCK_STREAM pair, both ends close-on-exec. */
export function socketpair(): [number, number] {
  return loadAddon().socketpair();
}

/**
 * A new TCP (AF_INET) socket, non-blocking and close-on-exec, not connected, that belongs to the
 * network namespace at `netnsPath` (a bind-mounted netns file or /proc/PID/ns/net): connect it with
 * `new net.Socket({ fd }).connect(…)`. Only the event-loop thread enters the namespace, for the
 * socket call alone (docs/native-addon.md says why that is safe).
 */
export function netnsSocket(netnsPath: string): number {
  return loadAddon().netnsSocket(netnsPath);
}

/**
 * A TCP or UDP socket of the network namespace at `netnsPath`, bound there to `address`:`port`
 * (port 0: the kernel picks; the port is returned) but not listening: adopt it with
 * `net.Server#listen({ fd })` or `dgram.Socket#bind({ fd })`. The embedded DNS server listens in
 * each container's namespace this way.
 */
export function netnsBind(
  netnsPath: string,
  type: 'tcp' | 'udp',
  address: string,
  port = 0,
): { fd: number; port: number } {
  const [fd, bound] = loadAddon().netnsBind(netnsPath, type, address, port);
  return { fd, port: bound };
}

/**
 * A new network namespace with its loopback up, bind-mounted on `path` (an existing file on a
 * private mount), as `ip netns add` makes one, with no process: only the event-loop thread enters it,
 * for a few system calls (docs/native-addon.md).
 */
export function netnsCreate(path: string): void {
  loadAddon().netnsCreate(path);
}

/**
 * Sends `fds` (SCM_RIGHTS) and `data` in one message; returns the bytes of data sent. A stream socket
 * cannot carry fds without payload, so an absent or empty `data` sends a single 0 byte. Blocks until
 * all of `data` is written, even on a non-blocking socket. The fds stay open here; close them after.
 */
export function sendFds(sockFd: number, fds: readonly number[], data?: Uint8Array): number {
  const buf =
    data === undefined || Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return loadAddon().sendFds(sockFd, fds, buf);
}

/**
 * One recvmsg of at most `maxData` bytes (≥ 1) and `maxFds` fds (≤ 253). The fds received are
 * close-on-exec and owned by the caller. `data` is empty when the peer has closed. Throws EAGAIN on
 * an empty non-blocking socket, and EMSGSIZE (closing what it got) if more than `maxFds` fds came.
 */
export function recvFds(sockFd: number, maxFds: number, maxData: number): { fds: number[]; data: Buffer } {
  return loadAddon().recvFds(sockFd, maxFds, maxData);
}

export interface OpenInRootOptions {
  /** Resolve component by component even though openat2 is available (for tests of the fallback). */
  walk?: boolean;
}

/**
 * Opens `path` below the directory `rootFd` as if that directory were "/": absolute symlinks, and
 * ".." beyond the top, stay inside it; magic links (/proc/<pid>/fd/…) are refused. O_CLOEXEC is always
 * added; `mode` is used only with O_CREAT. Uses openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), or a
 * component walk with the same rules where the kernel lacks openat2.
 */
export function openInRoot(
  rootFd: number,
  path: string,
  flags: number,
  mode = 0,
  options: OpenInRootOptions = {},
): number {
  return loadAddon().openInRoot(rootFd, path, flags, mode, options.walk === true);
}

/**
 * The host path that the container path `path` resolves to below the directory `root` (which must
 * exist, as must `path`). For logs and checks only: acting on the returned string would reopen the
 * race that openInRoot closes, so act on an fd from openInRoot instead.
 */
export function resolveInRoot(root: string, path: string, options: OpenInRootOptions = {}): string {
  const rootFd = openSync(root, constants.O_PATH | constants.O_DIRECTORY | constants.O_CLOEXEC);
  try {
    const fd = openInRoot(rootFd, path, constants.O_PATH, 0, options);
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } finally {
      closeSync(fd);
    }
  } finally {
    closeSync(rootFd);
  }
}

/** mount(2). `flags` from constants.MS_*; null source/fstype/data pass NULL (remount, bind, propagation). */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  loadAddon().mount(source, target, fstype, flags, data);
}

/** umount2(2). `flags` from constants.MNT_* and UMOUNT_NOFOLLOW. */
export function umount2(target: string, flags = 0): void {
  loadAddon().umount2(target, flags);
}

/** mkfifo(3); `mode` is filtered by the umask as usual. */
export function mkfifo(path: string, mode: number): void {
  loadAddon().mkfifo(path, mode);
}

/** mknod(2). `mode` includes the type (constants.S_IFCHR, S_IFBLK, S_IFIFO). */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  loadAddon().mknod(path, mode, major, minor);
}

/** pidfd_open(2): an fd (close-on-exec) that names this one process even after its pid is reused. */
/**
 * Gives the memory glibc's malloc holds freed back to the kernel (malloc_trim): a long-lived
 * process otherwise keeps its peak, e.g. berthd once a layer apply worker (a whole isolate) stops.
 * Whether anything was released.
 */
export function mallocTrim(): boolean {
  return loadAddon().mallocTrim();
}

/**
 * Unmaps the clean file pages the process has mapped (the node binary's and its libraries'
 * read-only mappings): start-up reads much of the binary once (the startup snapshot, builtin
 * sources, the dynamic symbol table, code that runs only then) and they otherwise stay in RSS for
 * the process's life. The pages stay in the page cache; the ones used again are mapped back by
 * minor faults (a few ms the first time). Mappings holding a private copy are left alone. Bytes
 * unmapped.
 */
export function releaseFilePages(): number {
  return loadAddon().releaseFilePages();
}

/**
 * After a burst of work (start-up, an import's layer worker, a busy spell of the APIs), gives back
 * what is no longer used: with `collectGarbage`, V8's heap (a full, compacting collection that
 * also returns its free pages: tens to hundreds of ms with the loop blocked), then glibc's freed
 * memory (mallocTrim) and the file pages (releaseFilePages). Never throws: a daemon without the
 * addon only keeps its memory.
 */
export function shedMemory(o: { collectGarbage?: boolean } = {}): void {
  try {
    const addon = loadAddon();
    if (o.collectGarbage) addon.lowMemoryNotification();
    addon.mallocTrim();
    addon.releaseFilePages();
  } catch {}
}

/** SO_PEERCRED: the process that connected this unix socket, as the kernel recorded it at connect. */
export function peerCred(sockFd: number): { pid: number; uid: number; gid: number } {
  return loadAddon().peerCred(sockFd);
}

export function pidfdOpen(pid: number): number {
  return loadAddon().pidfdOpen(pid);
}

/** pidfd_send_signal(2): signals the process the pidfd names, never a successor with the same pid. */
export function pidfdSendSignal(pidfd: number, sig: number): void {
  loadAddon().pidfdSendSignal(pidfd, sig);
}

/**
 * Blocks up to `timeoutMs` (< 0: forever, 0: just check) for the pidfd's process to exit; true if it
 * has. It does not reap: the exit status still goes to the parent's waitpid. Blocks the event loop,
 * so keep timeouts short on a server.
 */
export function pidfdWait(pidfd: number, timeoutMs: number): boolean {
  return loadAddon().pidfdWait(pidfd, timeoutMs);
}

/**
 * posix_spawn(3) of `path` with `argv` (argv[0] included) and this process's environment: the
 * child's fd i is `fds[i]` (-1: /dev/null) and nothing else is open; its signals are at their
 * defaults, unblocked. Returns its pid. Far cheaper than node:child_process (no copy of Node's
 * address space, no module loading); the caller must reap it, with watchChild.
 */
export function spawnProcess(path: string, argv: readonly string[], fds: readonly number[]): number {
  return loadAddon().spawnProcess(path, argv, fds);
}

/** What watchChild reports, in this order: the fd's data, its end, then the child's exit status (exit code, or 128+signal). */
export type ChildEvent = { kind: 'data'; data: Buffer } | { kind: 'eof' } | { kind: 'exit'; status: number };

/**
 * Watches a child of this process from a thread of its own: reads `fd` (-1: none) until EOF,
 * reporting each chunk, then reaps the child and reports its status. Keeps the event loop alive
 * until the exit is reported. The fd stays the caller's, to close only after 'eof'.
 */
export function watchChild(pid: number, fd: number, onEvent: (e: ChildEvent) => void): void {
  loadAddon().watchChild(pid, fd, (kind, value) => {
    if (kind === 'data') onEvent({ kind, data: value as Buffer });
    else if (kind === 'eof') onEvent({ kind });
    else onEvent({ kind, status: value as number });
  });
}

/** prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to this process, not to pid 1. */
export function prctlSetChildSubreaper(on: boolean): void {
  loadAddon().prctlSetChildSubreaper(on);
}

/** memfd_create(2); MFD_CLOEXEC is always added. */
export function memfdCreate(name: string, flags: number): number {
  return loadAddon().memfdCreate(name, flags);
}

/** fcntl(F_ADD_SEALS) with constants.F_SEAL_*; needs a memfd made with MFD_ALLOW_SEALING. */
export function addSeals(fd: number, seals: number): void {
  loadAddon().addSeals(fd, seals);
}

/** fcntl(F_GET_SEALS). */
export function getSeals(fd: number): number {
  return loadAddon().getSeals(fd);
}

/** lsetxattr(2): sets `name` on `path` itself, never on a symlink's target. `flags`: constants.XATTR_*. */
export function lsetxattr(path: string, name: string, value: Uint8Array, flags = 0): void {
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  loadAddon().lsetxattr(path, name, buf, flags);
}

/** lgetxattr(2): the value of `name` on `path` itself, or undefined when it has none (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  return loadAddon().lgetxattr(path, name);
}

/** llistxattr(2): the xattr names on `path` itself (only those the caller may see). */
export function llistxattr(path: string): string[] {
  return loadAddon().llistxattr(path);
}

/**
 * Compiles a seccomp filter with libseccomp and returns its BPF program (an array of 8-byte
 * struct sock_filter) and the syscall names libseccomp does not know, which were left out. Loads
 * nothing: berth-init's SECCOMP op does, in the container. Throws the libseccomp failure as a
 * SyscallError (`syscall` 'seccomp_rule_add', 'seccomp_arch_add', …).
 */
export function seccompCompile(filter: SeccompFilter): { program: Buffer; skipped: string[] } {
  return loadAddon().seccompCompile(filter);
}

/**
 * Makes `program` the cgroup v2 device filter of the cgroup directory `cgroupDir`:
 * bpf(BPF_PROG_LOAD) of a BPF_PROG_TYPE_CGROUP_DEVICE program (`program` is struct bpf_insn[], as
 * src/cgroups/device-filter.ts encodes it; `license` its license string), bpf(BPF_PROG_ATTACH) to
 * the directory with BPF_CGROUP_DEVICE and BPF_F_ALLOW_MULTI, then bpf(BPF_PROG_DETACH) of every
 * device program berth attached there before (recognised by its name, see bpfDeviceFilters), so the
 * same call serves create and `update`. The new program goes on before the old ones come off:
 * attached programs must all allow an access, so in between the cgroup is stricter, never looser.
 * A program someone else attached stays. Needs CAP_BPF and CAP_NET_ADMIN (root).
 *
 * Throws a BpfError: `syscall` 'open' (the directory) or 'bpf' with `bpfCommand`, `path` the
 * directory; a program the verifier refuses (EACCES or EINVAL from BPF_PROG_LOAD) carries the
 * verifier's log in `verifierLog` and in the message. If anything fails before the attach, the old
 * filter is still in place. A program that is not a non-empty multiple of 8 bytes is a TypeError.
 */
export function bpfAttachDeviceFilter(cgroupDir: string, program: Uint8Array, license: string): void {
  loadAddon().bpfAttachDeviceFilter(cgroupDir, program, license);
}

/**
 * The device programs attached to the cgroup directory itself (bpf(BPF_PROG_QUERY), not the ones
 * inherited from ancestors), with their ids and names. For checks and diagnostics. Throws a BpfError.
 */
export function bpfDeviceFilters(cgroupDir: string): BpfDeviceFilterInfo[] {
  return loadAddon().bpfDeviceFilters(cgroupDir);
}
