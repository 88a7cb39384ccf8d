// The one interface berth-runtime uses for a container's cgroup, whichever version the host runs.
// Owns: the contract (CgroupManager), its options and the stats shape.
// Never: implementation.

import type { LinuxResources } from '../oci/runtime-spec.ts';
import type { CgroupFs } from './cgroup-fs.ts';
import type { CgroupMode } from './mounts.ts';

export type FreezerState = 'thawed' | 'freezing' | 'frozen';

/** What berth-runtime stores in the container's state to find the cgroup again later. */
export interface SavedCgroup {
  mode: CgroupMode;
  /** controller → absolute directory, as paths() returned. */
  paths: Record<string, string>;
}

/** Loads an eBPF device filter program into the kernel and attaches it to a v2 cgroup directory. */
export type DeviceFilterLoader = (cgroupDir: string, program: Uint8Array) => void | Promise<void>;

export interface CgroupManagerOptions {
  /** The container id: names the default cgroup "/berth/<id>". */
  id: string;
  /** linux.cgroupsPath. */
  cgroupsPath?: string;
  /** runc's --systemd-cgroup; berth refuses it. */
  systemdCgroup?: boolean;
  /** Text of /proc/self/mountinfo (default: read it). Tests point it at a fixture tree. */
  mountinfo?: string;
  /** Text of /proc/self/cgroup (default: read it); the base of relative cgroupsPaths. */
  procSelfCgroup?: string;
  fs?: CgroupFs;
  /** v2 only: loads the device filter. Without it, device rules on v2 are refused (Unsupported). */
  loadDeviceFilter?: DeviceFilterLoader;
}

/** Counters in the shape of runc's `events --stats` ("data" member), so the CLI can pass them on. */
export interface CgroupStats {
  cpu?: {
    usage: { total: number; percpu?: number[]; kernel: number; user: number };
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  memory?: {
    cache?: number;
    usage: { limit: number; usage: number; max?: number; failcnt: number };
    swap?: { limit: number; usage: number; max?: number; failcnt: number };
    raw: Record<string, number>;
  };
  pids?: { current: number; limit: number };
}

/**
 * The native stage's way in. v1: stage0 writes "0" into each hierarchy's `tasks`, moving only
 * itself (it is single-threaded; its children inherit): the kernel skips its global threadgroup
 * lock for that, where a write to cgroup.procs waits for an RCU grace period (5-15 ms per
 * container start here). cgroup2: the child is cloned straight into the directory (clone3
 * CLONE_INTO_CGROUP), for the same reason; stage0 falls back to cgroup.procs on kernels before 5.7.
 */
export interface CgroupJoin {
  /** Files stage0 writes "0" into before the clone. */
  writeZero: string[];
  /** The cgroup2 directory the child is cloned into, if any. */
  cloneInto?: string;
}

/**
 * How the container's processes are found, frozen, killed and its directories removed: what
 * berth-runtime's native front (docs/native.md) needs to do that without this code.
 */
export interface CgroupMechanism {
  /** Each directory once: the cgroup.procs of their subtrees are the container's processes; removed deepest first. */
  dirs: string[];
  /** v1: freezer.state in `dir` (no dir: the freezer is not mounted); v2: cgroup.freeze and cgroup.events in `dir`. */
  freezer: { version: 1 | 2; dir?: string };
  /** v2: cgroup.kill, where writing "1" SIGKILLs the whole subtree (Linux 5.14+, when the file exists). */
  killFile?: string;
}

export interface CgroupManager {
  readonly mode: CgroupMode;
  /** controller → absolute directory. v1: one per mounted controller; v2 (and hybrid's cgroup2): key "unified". */
  paths(): Record<string, string>;
  /** Make the directories and apply the limits. Before the clone: the container is born inside. */
  create(resources?: LinuxResources): Promise<void>;
  /** Every directory's cgroup.procs: writing a pid there moves that process in (shells, tests). */
  joinFiles(): string[];
  /** How the native stage puts the container's init (or an exec'd process) in, before it runs. */
  join(): CgroupJoin;
  /** Move a running process in (exec, or a runtime without the native join). */
  apply(pid: number): Promise<void>;
  /** Change limits of a live container (`update`). */
  update(resources: LinuxResources): Promise<void>;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  state(): FreezerState;
  /** Every pid in the cgroup and its descendants, sorted. */
  pids(): number[];
  stats(): CgroupStats;
  /** Send `signal` to every process (frozen while it is sent, so none can fork away); for SIGKILL, wait until empty. */
  killAll(signal?: NodeJS.Signals | number): Promise<void>;
  /** Remove the container's directories (and any sub-cgroups it made), retrying while busy, bounded. */
  destroy(): Promise<void>;
  /** The files behind killAll, freeze, thaw, pids and destroy (for the native front). */
  mechanism(): CgroupMechanism;
}
