// The OCI runtime specification 1.2 as TypeScript types: config.json, the state document and the
// features document. Field names are the spec's own JSON names so a reader of the spec finds them.
// Owns: the shapes only. Never: validation (runtime-validate.ts), defaults (runtime-default-spec.ts)
// or anything that touches the host.
//
// Integer fields are `number`. JSON numbers beyond 2^53 lose precision in JSON.parse; the only
// such values that matter in practice are "unlimited" markers (RLIM_INFINITY = 2^64-1 in
// rlimits), which arrive as 2^64 and are treated as "at least 2^63" by consumers.
//
// Each object type carries an index signature: unknown fields are accepted and kept, as the spec
// requires, and a consumer that wants an extension field can read it without a cast.

/** The runtime spec version berth implements and writes. */
export const OCI_VERSION = '1.2.1';

type Extensible = { [unknownField: string]: unknown };

export interface RuntimeConfig extends Extensible {
  ociVersion: string;
  root?: Root;
  mounts?: Mount[];
  process?: Process;
  hostname?: string;
  domainname?: string;
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  // Other platforms' sections are accepted and kept but not interpreted: berth runs on Linux only.
  solaris?: Record<string, unknown>;
  windows?: Record<string, unknown>;
  vm?: Record<string, unknown>;
  zos?: Record<string, unknown>;
  freebsd?: Record<string, unknown>;
}

export interface Root extends Extensible {
  path: string;
  readonly?: boolean;
}

export interface Mount extends Extensible {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
}

export interface Process extends Extensible {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  args?: string[];
  /** Windows only. */
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: LinuxIOPriority;
  execCPUAffinity?: CPUAffinity;
}

export interface Box extends Extensible {
  height: number;
  width: number;
}

export interface User extends Extensible {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only. */
  username?: string;
}

export interface LinuxCapabilities extends Extensible {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface POSIXRlimit extends Extensible {
  type: string;
  hard: number;
  soft: number;
}

export const SCHEDULER_POLICIES = [
  'SCHED_OTHER',
  'SCHED_FIFO',
  'SCHED_RR',
  'SCHED_BATCH',
  'SCHED_ISO',
  'SCHED_IDLE',
  'SCHED_DEADLINE',
] as const;
export type LinuxSchedulerPolicy = (typeof SCHEDULER_POLICIES)[number];

export const SCHEDULER_FLAGS = [
  'SCHED_FLAG_RESET_ON_FORK',
  'SCHED_FLAG_RECLAIM',
  'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS',
  'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
] as const;
export type LinuxSchedulerFlag = (typeof SCHEDULER_FLAGS)[number];

export interface Scheduler extends Extensible {
  policy: LinuxSchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: LinuxSchedulerFlag[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export const IO_PRIORITY_CLASSES = ['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE'] as const;
export type IOPriorityClass = (typeof IO_PRIORITY_CLASSES)[number];

export interface LinuxIOPriority extends Extensible {
  class: IOPriorityClass;
  priority: number;
}

export interface CPUAffinity extends Extensible {
  initial?: string;
  final?: string;
}

export interface Hook extends Extensible {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds; at least 1. */
  timeout?: number;
}

export const HOOK_NAMES = [
  'prestart',
  'createRuntime',
  'createContainer',
  'startContainer',
  'poststart',
  'poststop',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export interface Hooks extends Extensible {
  /** Deprecated by the spec, still run (after nothing, before createRuntime). */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
export type LinuxNamespaceType = (typeof NAMESPACE_TYPES)[number];

export interface LinuxNamespace extends Extensible {
  type: LinuxNamespaceType;
  path?: string;
}

export interface LinuxIDMapping extends Extensible {
  containerID: number;
  hostID: number;
  size: number;
}

/** Keys of linux.timeOffsets: the clocks a time namespace can offset. */
export const TIME_OFFSET_CLOCKS = ['monotonic', 'boottime'] as const;

export interface LinuxTimeOffset extends Extensible {
  secs?: number;
  nanosecs?: number;
}

export interface LinuxDevice extends Extensible {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  /** Required unless type is "p". */
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface LinuxDeviceCgroup extends Extensible {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

export interface LinuxMemory extends Extensible {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU extends Extensible {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxBlockIODevice extends Extensible {
  major: number;
  minor: number;
}

export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  rate: number;
}

export interface LinuxBlockIO extends Extensible {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit extends Extensible {
  /** "<n>KB", "<n>MB" or "<n>GB". */
  pageSize: string;
  limit: number;
}

export interface LinuxInterfacePriority extends Extensible {
  name: string;
  priority: number;
}

export interface LinuxNetwork extends Extensible {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxPids extends Extensible {
  limit: number;
}

export interface LinuxRdma extends Extensible {
  hcaHandles?: number;
  hcaObjects?: number;
}

export interface LinuxResources extends Extensible {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  unified?: Record<string, string>;
}

export interface LinuxIntelRdt extends Extensible {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  enableCMT?: boolean;
  enableMBM?: boolean;
}

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
] as const;
export type LinuxSeccompAction = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type LinuxSeccompOperator = (typeof SECCOMP_OPERATORS)[number];

export const SECCOMP_ARCHES = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
] as const;
export type LinuxSeccompArch = (typeof SECCOMP_ARCHES)[number];

export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;
export type LinuxSeccompFlag = (typeof SECCOMP_FLAGS)[number];

export interface LinuxSeccompArg extends Extensible {
  index: number;
  value: number;
  valueTwo?: number;
  op: LinuxSeccompOperator;
}

export interface LinuxSyscall extends Extensible {
  names: string[];
  action: LinuxSeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp extends Extensible {
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number;
  architectures?: LinuxSeccompArch[];
  flags?: LinuxSeccompFlag[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

/** rootfsPropagation: the spec's four values plus the recursive forms runc also accepts. */
export const ROOTFS_PROPAGATIONS = [
  'private',
  'shared',
  'slave',
  'unbindable',
  'rprivate',
  'rshared',
  'rslave',
  'runbindable',
] as const;
export type RootfsPropagation = (typeof ROOTFS_PROPAGATIONS)[number];

export const PERSONALITY_DOMAINS = ['LINUX', 'LINUX32'] as const;
export type LinuxPersonalityDomain = (typeof PERSONALITY_DOMAINS)[number];

export interface LinuxPersonality extends Extensible {
  domain: LinuxPersonalityDomain;
  /** The spec defines no flag values yet. */
  flags?: string[];
}

/** A network device moved into the container's network namespace (added to the spec after 1.2). */
export interface LinuxNetDevice extends Extensible {
  /** Name inside the container; the key of netDevices when absent. */
  name?: string;
}

export interface Linux extends Extensible {
  namespaces?: LinuxNamespace[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  timeOffsets?: Record<string, LinuxTimeOffset>;
  devices?: LinuxDevice[];
  cgroupsPath?: string;
  resources?: LinuxResources;
  intelRdt?: LinuxIntelRdt;
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: RootfsPropagation;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: LinuxPersonality;
  netDevices?: Record<string, LinuxNetDevice>;
}

// ---- state (runtime.md "State") ----

export const CONTAINER_STATUSES = ['creating', 'created', 'running', 'stopped'] as const;
export type ContainerStatus = (typeof CONTAINER_STATUSES)[number];

export interface State extends Extensible {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Host pid of the container process; present while it exists (created, running). */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  annotations?: Record<string, string>;
}

/** What the runtime sends to a seccomp agent on listenerPath. */
export interface ContainerProcessState extends Extensible {
  ociVersion: string;
  fds?: string[];
  pid: number;
  metadata?: string;
  state: State;
}

// ---- features document (features.md, features-linux.md) ----

export interface Features extends Extensible {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks?: string[];
  mountOptions?: string[];
  linux?: LinuxFeatures;
  annotations?: Record<string, string>;
  potentiallyUnsafeConfigAnnotations?: string[];
}

export interface LinuxFeatures extends Extensible {
  namespaces?: string[];
  capabilities?: string[];
  cgroup?: {
    v1?: boolean;
    v2?: boolean;
    systemd?: boolean;
    systemdUser?: boolean;
    rdma?: boolean;
  };
  seccomp?: {
    enabled?: boolean;
    actions?: string[];
    operators?: string[];
    archs?: string[];
    knownFlags?: string[];
    supportedFlags?: string[];
  };
  apparmor?: { enabled?: boolean };
  selinux?: { enabled?: boolean };
  intelRdt?: { enabled?: boolean };
  mountExtensions?: { idmap?: { enabled?: boolean } };
}
