// The engine's request and result shapes: what berthd's services take and return, and what the
// native API carries as JSON (src/api re-exports them; src/client imports them as types only).
// Owns: plain data types. Must never: contain behaviour.
import type { ContainerStatus, HealthRecord, RestartPolicyName } from '../metadata/metadata-store.ts';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';

export type { ContainerStatus, RestartPolicyName };
/** docker's State.Health (healthcheck.ts moves it, health-monitor.ts records it). */
export type HealthState = HealthRecord;

/**
 * A healthcheck, docker's Config.Healthcheck: `test` is ["CMD", arg…], ["CMD-SHELL", command] or
 * ["NONE"] (off, also an image's); durations in nanoseconds, 0 or absent for the image's value, else
 * the default (30s interval, 30s timeout, no start period, 5s start interval, 3 retries).
 */
export type HealthConfig = {
  test?: string[];
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
};

/** hostPort 0: berthd picks a free port from the ephemeral range at start and keeps it while the container exists (`-p 80`). */
/**
 * A published port. Host port 0: berthd picks one from the ephemeral range at start. With
 * `hostPortEnd`, hostPort-hostPortEnd is a range to pick the first free port from (docker's
 * `-p 8000-8010:80`). Either way the choice is recorded and kept across restarts while free.
 */
export type PortMapping = {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIP: string;
  hostPortEnd?: number;
};

/** docker's NetworkSettings.Ports: "80/tcp" → the host bindings, null for a port exposed but not published. */
export type PortBindings = Record<string, { hostIp: string; hostPort: string }[] | null>;

/** volume: `source` is a volume name (made on first use); bind: a host path; tmpfs: no source. */
/** A volume mount without a source is anonymous: berthd names it at create (`anonymous` is then set), and removes it with the container under --rm or rm -v. */
/**
 * `propagation` (bind only; default rprivate): rslave receives mounts made on the host under the
 * source later (its host mount must be shared or a slave); rshared also sends the container's own
 * mounts back to the host (its host mount must be shared). The CRI's PROPAGATION_HOST_TO_CONTAINER
 * and PROPAGATION_BIDIRECTIONAL.
 */
export type MountRequest = {
  type: 'volume' | 'bind' | 'tmpfs';
  source?: string;
  target: string;
  readOnly?: boolean;
  options?: string[];
  anonymous?: boolean;
  propagation?: 'rprivate' | 'rslave' | 'rshared';
  /** Read-only in every mount under the source too (runtime-spec 1.2's `rro`); needs readOnly and rprivate. */
  recursiveReadOnly?: boolean;
};

export type CreateRequest = {
  image: string;
  name?: string;
  /** Replaces the image's Cmd. */
  cmd?: string[];
  /** Replaces the image's Entrypoint (and drops its Cmd unless cmd is given); [] clears it. */
  entrypoint?: string[];
  env?: string[];
  workdir?: string;
  /** uid[:gid] or user[:group], resolved in the rootfs's /etc/passwd and /etc/group at start. */
  user?: string;
  hostname?: string;
  tty?: boolean;
  openStdin?: boolean;
  /** With openStdin and no tty: the first attached client's end of input closes the container's stdin for good (the CRI's stdin_once, docker's StdinOnce). */
  stdinOnce?: boolean;
  labels?: Record<string, string>;
  mounts?: MountRequest[];
  ports?: PortMapping[];
  /** `-P`: publish every port the image's config exposes (ExposedPorts) on a port berthd picks. */
  publishAll?: boolean;
  /** A network name, 'none' (a private netns with only lo) or 'host'. Default: 'berth'. */
  network?: string;
  /** Other names the container is known by on its network, beside its own (docker's --network-alias; compose's service name). */
  aliases?: string[];
  /** The container's address on its network (docker's --ip, IPAMConfig.IPv4Address); default the next free one. */
  ipv4Address?: string;
  /** The MAC address of its interface on that network (docker's --mac-address); default one the kernel picks. */
  macAddress?: string;
  /**
   * Networks joined at create beside `network`, after it and in this order (docker's several
   * EndpointsConfig, `--network a --network b`); the first network keeps the default route.
   */
  networks?: EndpointRequest[];
  /** Bytes. */
  memory?: number;
  /** Memory plus swap in bytes, or -1 for unlimited swap (docker's --memory-swap); needs `memory`. */
  memorySwap?: number;
  cpus?: number;
  pidsLimit?: number;
  readOnly?: boolean;
  /** no | always | unless-stopped | on-failure[:N] */
  restart?: string;
  /** berth-runtime (default) | runc | crun, or a name from the config's runtimes. */
  runtime?: string;
  /** Remove the container when its task exits (`run --rm`). */
  autoRemove?: boolean;
  stopSignal?: string;
  /** Seconds between the stop signal and SIGKILL. Default 10. */
  stopTimeout?: number;
  /** The process's Linux security (docker's --privileged, --cap-add/--cap-drop, no-new-privileges, --sysctl, --group-add; the CRI's security context). */
  security?: SecurityOptions;
  /** CFS shares: the container's CPU weight against others (docker's --cpu-shares, 2-262144). */
  cpuShares?: number;
  /** The CPUs and memory nodes the container may use (cpuset syntax: "0-2,4"). */
  cpusetCpus?: string;
  cpusetMems?: string;
  /** The OOM killer's score adjustment of the process, -1000…1000 (lowering it below berthd's own needs CAP_SYS_RESOURCE). */
  oomScoreAdj?: number;
  /** Added to the OCI config's annotations (the CRI's container annotations). */
  annotations?: Record<string, string>;
  /** The container's resolver (docker's --dns, --dns-search, --dns-option): each given part replaces the host's in its resolv.conf. */
  dns?: { servers?: string[]; search?: string[]; options?: string[] };
  /** Device cgroup rules added to the defaults, `TYPE MAJOR:MINOR ACCESS` (docker's --device-cgroup-rule: `c 1:3 mr`, `b 7:* rwm`). */
  deviceCgroupRules?: string[];
  /** Lines added to /etc/hosts, each `HOST:IP` (docker's --add-host). */
  extraHosts?: string[];
  /** Resource limits of the process (docker's --ulimit): `name` as in RLIMIT_<NAME> (nofile, nproc, core…), lower-case. */
  ulimits?: { name: string; soft: number; hard: number }[];
  /** Run an init (tini, from berthd's host) as PID 1 that reaps zombies and forwards signals (docker's --init). */
  init?: boolean;
  /** Huge pages the container may use, per page size (the CRI's hugepage_limits; 0 entries are dropped). */
  hugepageLimits?: HugepageLimit[];
  /** Host device nodes made in the container (docker's --device, the CRI's devices), looked up at create. */
  devices?: DeviceRequest[];
  /** CDI devices by fully-qualified name, `vendor.com/class=name`, from the CDI spec files in berthd's CDI directories. */
  cdiDevices?: string[];
  /** The PID namespace (docker's --pid): its own (absent or ''), `host`, or `container:<name|id>` (a running container's). */
  pidMode?: string;
  /**
   * The IPC namespace and /dev/shm (docker's --ipc): `private` (absent or ''; its own, not joinable),
   * `shareable` (its own, joinable), `none` (its own, no /dev/shm), `host`, or `container:<name|id>`
   * (a running shareable container's).
   */
  ipcMode?: string;
  /** The size of its own /dev/shm tmpfs in bytes (docker's --shm-size; private and shareable IPC; default 64 MiB). */
  shmSize?: number;
  /** The UTS namespace (docker's --uts): its own (absent or '') or `host` (the host's hostname; no `hostname` then). */
  utsMode?: string;
  /** The healthcheck (docker's --health-*, --no-healthcheck); merged over the image's at create, so the row keeps the one that runs. */
  healthcheck?: HealthConfig;
  /** Set by the pod service for a container of a pod sandbox (never by a client of the native API). */
  sandbox?: SandboxMembership;
};

/** `pageSize` as the cgroup files name it ("2MB", "1GB"); `limit` in bytes; `field` names the entry in errors. */
export type HugepageLimit = { pageSize: string; limit: number; field?: string };

/**
 * A host device for a container: the node at `hostPath` (followed through symlinks) appears at
 * `containerPath` (default the same path) and the device cgroup allows it `permissions` (one or
 * more of r, w, m; default rwm). `fields` names the request's fields in errors (the CRI's own).
 */
export type DeviceRequest = {
  hostPath: string;
  containerPath?: string;
  permissions?: string;
  fields?: { hostPath: string; containerPath: string; permissions: string };
};

/** A container process's Linux security settings (src/engine/security-options.ts applies them). */
export type SecurityOptions = {
  /** Every capability, no masked or read-only /proc paths, /sys writable (devices are not added). */
  privileged?: boolean;
  /** Capability names (CAP_ prefix optional, any case) or ALL, added to / dropped from docker's default set. */
  capAdd?: string[];
  capDrop?: string[];
  /** Raised into the ambient set (kept across execve for a non-root user). */
  ambientCaps?: string[];
  noNewPrivileges?: boolean;
  /** Replace the default masked and read-only /proc paths when given ([] for none). */
  maskedPaths?: string[];
  readonlyPaths?: string[];
  /** Namespaced kernel parameters (net.*, kernel.shm*, …), set by the runtime in the container's namespaces. */
  sysctls?: Record<string, string>;
  /** Supplementary group ids of the process, beside those of its user in /etc/group. */
  groups?: number[];
  /**
   * The CRI's supplemental_groups_policy (src/engine/process-setup.ts): the primary gid, the image's
   * groups of the user (`merge`; none under `strict`) and `groups`. Absent: docker's way.
   */
  groupsPolicy?: GroupsPolicy;
  /** The seccomp profile; berth's default (docker's) when absent. A privileged container gets none. */
  seccomp?: SeccompChoice;
};

/** How the image's /etc/group joins a process's supplementary groups (the CRI's Merge and Strict). */
export type GroupsPolicy = 'merge' | 'strict';

/**
 * berth's default profile; none; a profile document (docker's format or OCI linux.seccomp) in a file
 * on berthd's host (`field` names the request field in errors); or the document itself (what
 * `--security-opt seccomp=<file>` sends: clients read the file, as docker's CLI does).
 */
export type SeccompChoice =
  | { kind: 'default' }
  | { kind: 'unconfined' }
  | { kind: 'localhost'; path: string; field?: string }
  | { kind: 'inline'; json: string };

/**
 * What a container of a pod shares with its sandbox (src/engine/pod-service.ts): it joins the pod's
 * namespaces by path (or the host's, for NODE), its cgroup sits under the pod's parent, and its
 * /etc/hosts, /etc/hostname and /etc/resolv.conf are the pod's.
 */
export type SandboxMembership = {
  podId: string;
  /** The container's name within the pod, and which attempt of it this is (the CRI's metadata). */
  name: string;
  attempt: number;
  /** Namespaces joined by path; `host` ones are left out of the config (the host's are used). */
  join: { type: 'network' | 'ipc' | 'uts' | 'pid' | 'user'; path: string }[];
  host: ('network' | 'ipc' | 'pid' | 'uts')[];
  cgroupsParent: string;
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** Where the kubelet reads the container's log (the pod's log directory + the CRI's log_path); '' for none. */
  logPath?: string;
};

/** The document a container's metadata row keeps: the create request and the OCI spec built from it. */
export type ContainerConfig = { request: CreateRequest; spec: RuntimeConfig };

/** What `update` may change (docker update, the CRI's UpdateContainerResources); an absent field keeps its value. */
export type UpdateRequest = Pick<
  CreateRequest,
  'memory' | 'memorySwap' | 'cpus' | 'cpuShares' | 'cpusetCpus' | 'cpusetMems' | 'pidsLimit' | 'restart'
>;

export type ContainerSummary = {
  id: string;
  name: string;
  image: string;
  imageId: string;
  command: string;
  createdAt: string;
  status: ContainerStatus;
  /** Stopped, with a restart (its policy's) pending. */
  restarting: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  labels: Record<string, string>;
  /** Published ports as they are now (allocated host ports filled in); empty unless the container runs. */
  ports: PortMapping[];
  runtime: string;
  /** The pod sandbox the container belongs to (containers made through the CRI); absent otherwise. */
  pod?: string;
  /** Its healthcheck's status; absent for a container without one (docker's "none"). */
  health?: HealthState['status'];
};

export type ContainerDetails = ContainerSummary & {
  state: {
    status: ContainerStatus;
    running: boolean;
    paused: boolean;
    restarting: boolean;
    oomKilled: boolean;
    pid: number;
    shimPid: number;
    exitCode: number | null;
    error: string;
    startedAt: string | null;
    finishedAt: string | null;
    /** docker's State.Health; absent for a container without a healthcheck. */
    health?: HealthState;
  };
  restartPolicy: { name: RestartPolicyName; maximumRetryCount: number };
  restartCount: number;
  request: CreateRequest;
  spec: unknown;
  bundle: string;
  rootfs: string;
  logPath: string;
  /** Attach results of a running container, by network (ips, gateway, mac, ifName). */
  networks: Record<string, unknown>;
  /** What it is connected to, running or not, in the order connected (absent from an older berthd). */
  endpoints?: ContainerEndpoint[];
  /** Absent from a berthd older than port allocation. */
  networkSettings?: { ports: PortBindings };
  mounts: {
    type: string;
    source: string;
    destination: string;
    readOnly: boolean;
    propagation?: MountRequest['propagation'];
    recursiveReadOnly?: boolean;
  }[];
};

/** One more network to join at create, with its names there and the address it asks for. */
export type EndpointRequest = { network: string; aliases?: string[]; ipv4Address?: string; macAddress?: string };

/** A container's place on one network: its names there beside its own, and the address it asked for ('' for any). */
export type ContainerEndpoint = { network: string; aliases: string[]; ipv4Address: string; macAddress?: string };

export type ExitResult = { exitCode: number; signal: string | null; oomKilled: boolean; finishedAt: string };

export type ExecRequest = {
  cmd: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  tty?: boolean;
  openStdin?: boolean;
  /** The client attaches next (exec/{id}/attach): the output waits for it, so a command that exits at once is not missed. */
  attach?: boolean;
  /** With tty: the terminal's size from its start (the runtime sets it before the process runs; docker's ConsoleSize). */
  consoleSize?: { height: number; width: number };
};

/**
 * How a client attaches. `detachKeys`: bytes which, typed into the client's stdin, detach it (its
 * stream ends with a DETACHED frame; the process runs on); none: the client never detaches that way.
 */
export type AttachOptions = { detachKeys?: Uint8Array };

export type ContainerFilter = { all?: boolean; filters?: Record<string, string[]> };

export type LogOptions = {
  follow?: boolean;
  tail?: number;
  timestamps?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: string;
};
export type LogLine = { stream: 'stdout' | 'stderr'; time: string; log: string };

export type EngineEvent = {
  type: 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'pod';
  action: string;
  actor: { id: string; attributes: Record<string, string> };
  time: number;
  timeNano: string;
};
/** Values of one key are alternatives; keys are all required (docker's event filters). See event-filter.ts. */
export type EventFilter = {
  type?: string[];
  event?: string[];
  container?: string[];
  image?: string[];
  label?: string[];
  network?: string[];
  volume?: string[];
};

export type VolumeInfo = {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Record<string, string>;
  createdAt: string;
  usedBy: string[];
};

export type NetworkInfo = {
  name: string;
  driver: string;
  subnet?: string;
  gateway?: string;
  containers: string[];
  [k: string]: unknown;
};

export type StatsResult = {
  id: string;
  name: string;
  /** When the sample was read (ISO). */
  read: string;
  cpuUsageNs: number;
  /** The host's CPU time (all CPUs) at the same moment, ns: the container's share is the ratio of the two deltas. */
  systemCpuNs: number;
  onlineCpus: number;
  memoryUsage: number;
  memoryLimit: number;
  pids: number;
  raw: unknown;
};
export type TopResult = { titles: string[]; processes: string[][] };

export type VersionInfo = {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
  node: string;
  gitCommit?: string;
};
export type SystemInfo = {
  root: string;
  runRoot: string;
  containers: number;
  running: number;
  paused: number;
  stopped: number;
  images: number;
  snapshotter: string;
  runtimes: Record<string, string>;
  defaultRuntime: string;
  networking: string;
  hostname: string;
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  /** '1' or '2' ('' when no cgroup filesystem is mounted). */
  cgroupVersion: string;
  cgroupDriver: 'cgroupfs';
  ncpu: number;
  memTotal: number;
};
