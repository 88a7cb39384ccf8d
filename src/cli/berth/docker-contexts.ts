// What a `--format` template sees: for each verb, the fields docker's CLI exposes under the same
// names (`docker ps --format '{{.ID}} {{.Names}}'`, `docker inspect -f '{{.State.Status}}'`), built
// from the native API's shapes, and the column names a `table` template's header row shows.
// Pure: data in, data out. Must never: call the daemon.
import type {
  ContainerDetails,
  ContainerSummary,
  EngineEvent,
  NetworkInfo,
  PortMapping,
  StatsResult,
  SystemInfo,
  VersionInfo,
  VolumeInfo,
} from '../../api/types.ts';
import { dockerHealth, dockerHealthcheck } from '../../engine/status-text.ts';
import { containerStatusText, formatBytes, shortDigest, timeAgo } from './format.ts';
import { goMap } from './go-template.ts';
import { labelsText } from './template-format.ts';

/** docker's word for a state: berth's `stopped` is docker's `exited`. */
export const dockerState = (s: string) => (s === 'stopped' ? 'exited' : s);

/** Go's time.Time printed with %v, in UTC: "2024-01-02 15:04:05 +0000 UTC". */
export function goTime(iso: string | null | undefined): string {
  if (!iso) return '0001-01-01 00:00:00 +0000 UTC';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')} +0000 UTC`;
}

const labelFn = (labels: Record<string, string> | undefined) => (k: unknown) => labels?.[String(k)] ?? '';
const portsText = (p: PortMapping[]) =>
  p.map((x) => `${x.hostIP}:${x.hostPort}->${x.containerPort}/${x.protocol}`).join(', ');

export const PS_HEADERS = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  LocalVolumes: 'LOCAL VOLUMES',
  Runtime: 'RUNTIME',
};

/**
 * A container's image as `ps` shows it: the reference it was created with, but a container created
 * by image ID (as a kubelet creates every one) shows the short ID, as docker does.
 */
export function psImage(c: Pick<ContainerSummary, 'image' | 'imageId'>, noTrunc = false): string {
  if (noTrunc || c.image !== c.imageId) return c.image;
  return c.image.replace(/^sha256:/, '').slice(0, 12);
}

export function psContext(c: ContainerSummary, o: { noTrunc?: boolean } = {}) {
  return {
    ID: o.noTrunc ? c.id : c.id.slice(0, 12),
    Image: psImage(c, o.noTrunc),
    Command: o.noTrunc || c.command.length <= 22 ? `"${c.command}"` : `"${c.command.slice(0, 20)}…"`,
    CreatedAt: goTime(c.createdAt),
    RunningFor: timeAgo(c.createdAt),
    Ports: portsText(c.ports),
    State: dockerState(c.status),
    Status: containerStatusText(c),
    Size: '0B',
    Names: c.name,
    Labels: labelsText(c.labels),
    Label: labelFn(c.labels),
    Mounts: '',
    Networks: '',
    LocalVolumes: '0',
    Runtime: c.runtime,
  };
}

export const IMAGES_HEADERS = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

export function imageContext(
  i: { repository: string; tag: string; id: string; digest: string; created?: string; size: number },
  o: { noTrunc?: boolean } = {},
) {
  return {
    ID: o.noTrunc ? i.id : shortDigest(i.id),
    Repository: i.repository,
    Tag: i.tag,
    Digest: i.digest,
    CreatedSince: i.created === undefined ? 'N/A' : timeAgo(i.created),
    CreatedAt: i.created === undefined ? 'N/A' : goTime(i.created),
    Size: formatBytes(i.size),
    Containers: 'N/A',
    SharedSize: 'N/A',
    UniqueSize: 'N/A',
    VirtualSize: formatBytes(i.size),
  };
}

export const VOLUME_HEADERS = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
};

export function volumeContext(v: VolumeInfo) {
  return {
    Name: v.name,
    Driver: v.driver,
    Scope: 'local',
    Mountpoint: v.mountpoint,
    Labels: labelsText(v.labels),
    Label: labelFn(v.labels),
    Links: String(v.usedBy.length),
    Size: 'N/A',
  };
}

export const NETWORK_HEADERS = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
  Subnet: 'SUBNET',
  Gateway: 'GATEWAY',
};

export function networkContext(n: NetworkInfo, o: { noTrunc?: boolean } = {}) {
  const labels = (n.labels ?? {}) as Record<string, string>;
  const id = typeof n.id === 'string' ? n.id : n.name;
  return {
    ID: o.noTrunc ? id : id.slice(0, 12),
    Name: n.name,
    Driver: n.driver,
    Scope: 'local',
    IPv6: 'false',
    Internal: String(n.internal === true),
    Labels: labelsText(labels),
    Label: labelFn(labels),
    CreatedAt: goTime(typeof n.createdAt === 'string' ? n.createdAt : undefined),
    Subnet: n.subnet ?? '',
    Gateway: n.gateway ?? '',
  };
}

export const STATS_HEADERS = {
  Container: 'CONTAINER',
  Name: 'NAME',
  ID: 'CONTAINER ID',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

export function statsContext(word: string, s: StatsResult, cpuPerc: string) {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)}MiB`;
  const limited = s.memoryLimit && s.memoryLimit < 2 ** 60;
  return {
    Container: word,
    Name: s.name,
    ID: s.id.slice(0, 12),
    CPUPerc: cpuPerc,
    MemUsage: `${mib(s.memoryUsage)} / ${limited ? mib(s.memoryLimit) : 'unlimited'}`,
    MemPerc: limited ? `${((s.memoryUsage / s.memoryLimit) * 100).toFixed(2)}%` : '--',
    NetIO: '--',
    BlockIO: '--',
    PIDs: String(s.pids),
  };
}

/** docker's events.Message, with its legacy fields (Status, ID, From). */
export function eventContext(e: EngineEvent) {
  return {
    Type: e.type,
    Action: e.action,
    Actor: { ID: e.actor.id, Attributes: goMap({ ...e.actor.attributes }) },
    Scope: 'local',
    Time: e.time,
    TimeNano: Number(e.timeNano),
    Status: e.action,
    ID: e.actor.id,
    From: e.actor.attributes.image ?? '',
  };
}

/** `info --format`: docker's system info field names (and berth's, under Berth). */
export function infoContext(v: VersionInfo, i: SystemInfo) {
  return {
    ID: '',
    Containers: i.containers,
    ContainersRunning: i.running,
    ContainersPaused: i.paused,
    ContainersStopped: i.stopped,
    Images: i.images,
    Driver: i.snapshotter,
    DockerRootDir: i.root,
    DefaultRuntime: i.defaultRuntime,
    Runtimes: goMap(Object.fromEntries(Object.entries(i.runtimes).map(([k, p]) => [k, { Path: p }]))),
    ServerVersion: v.version,
    OSType: v.os,
    OperatingSystem: v.os,
    Architecture: v.arch,
    Name: '',
    Berth: { RunRoot: i.runRoot, Networking: i.networking, Node: v.node, APIVersion: v.apiVersion },
  };
}

/** A container's details in docker's inspect shape (State, Config, HostConfig, NetworkSettings, Mounts). */
export function containerInspectContext(d: ContainerDetails) {
  const r = d.request;
  const spec = (d.spec ?? {}) as { process?: { args?: string[]; env?: string[]; cwd?: string }; hostname?: string };
  const args = spec.process?.args ?? [];
  const networks: Record<string, unknown> = {};
  let primary = { IPAddress: '', Gateway: '', IPPrefixLen: 0, MacAddress: '' };
  // Every network it is connected to (a stopped container's too, without an address), then any
  // attachment an older berthd reported without endpoints.
  const names = [...new Set([...(d.endpoints ?? []).map((e) => e.network), ...Object.keys(d.networks ?? {})])];
  for (const name of names) {
    // berthd's attach result: ips as "a.b.c.d/len" strings, gateway and mac beside them.
    const res = (d.networks?.[name] ?? {}) as { ips?: string[]; gateway?: string; mac?: string; prefixLength?: number };
    const [addr = '', len] = (res.ips?.find((ip) => ip.includes('.')) ?? '').split('/');
    const ep = d.endpoints?.find((e) => e.network === name);
    const n = {
      IPAddress: addr,
      IPPrefixLen: Number(len ?? res.prefixLength ?? 0),
      Gateway: res.gateway ?? '',
      MacAddress: res.mac ?? '',
      NetworkID: name,
      Aliases: ep?.aliases.length ? ep.aliases : null,
      IPAMConfig: ep?.ipv4Address ? { IPv4Address: ep.ipv4Address } : null,
    };
    networks[name] = n;
    if (!primary.IPAddress)
      primary = { IPAddress: n.IPAddress, Gateway: n.Gateway, IPPrefixLen: n.IPPrefixLen, MacAddress: n.MacAddress };
  }
  const ports: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d.networkSettings?.ports ?? {}))
    ports[k] = v
      ? (v as { hostIp: string; hostPort: string }[]).map((b) => ({ HostIp: b.hostIp, HostPort: b.hostPort }))
      : null;
  return {
    Id: d.id,
    Created: d.createdAt,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: dockerState(d.state.status),
      Running: d.state.running && !d.state.paused,
      Paused: d.state.paused,
      Restarting: d.state.restarting,
      OOMKilled: d.state.oomKilled,
      Dead: false,
      Pid: d.state.pid,
      ExitCode: d.state.exitCode ?? 0,
      Error: d.state.error,
      StartedAt: d.state.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: d.state.finishedAt ?? '0001-01-01T00:00:00Z',
      ...(d.state.health ? { Health: dockerHealth(d.state.health) } : {}),
    },
    Image: d.imageId,
    ResolvConfPath: `${d.bundle}/resolv.conf`,
    HostnamePath: `${d.bundle}/hostname`,
    HostsPath: `${d.bundle}/hosts`,
    LogPath: d.logPath,
    Name: `/${d.name}`,
    RestartCount: d.restartCount,
    Driver: 'overlay',
    Platform: 'linux',
    HostConfig: {
      Binds: (r.mounts ?? [])
        .filter((m) => m.type !== 'tmpfs' && m.source)
        .map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
      NetworkMode: r.network ?? 'berth',
      PortBindings: goMap(
        Object.fromEntries(
          (r.ports ?? []).map((p) => [
            `${p.containerPort}/${p.protocol}`,
            [{ HostIp: p.hostIP, HostPort: p.hostPort ? String(p.hostPort) : '' }],
          ]),
        ),
      ),
      RestartPolicy: { Name: d.restartPolicy.name, MaximumRetryCount: d.restartPolicy.maximumRetryCount },
      AutoRemove: r.autoRemove === true,
      CapAdd: r.security?.capAdd ?? null,
      CapDrop: r.security?.capDrop ?? null,
      Privileged: r.security?.privileged === true,
      ReadonlyRootfs: r.readOnly === true,
      Memory: r.memory ?? 0,
      NanoCpus: r.cpus ? Math.round(r.cpus * 1e9) : 0,
      PidsLimit: r.pidsLimit ?? null,
      Runtime: d.runtime,
      PublishAllPorts: r.publishAll === true,
      PidMode: r.pidMode ?? '',
      IpcMode: r.ipcMode || 'private',
      UTSMode: r.utsMode ?? '',
      ...extraHostConfig(r as Record<string, unknown>),
    },
    Mounts: d.mounts.map((m) => ({
      Type: m.type,
      ...(m.type === 'volume' ? { Name: m.source } : {}),
      Source: m.source,
      Destination: m.destination,
      Mode: m.readOnly ? 'ro' : '',
      RW: !m.readOnly,
      Propagation: '',
    })),
    Config: {
      Hostname: spec.hostname ?? r.hostname ?? d.id.slice(0, 12),
      User: r.user ?? '',
      Tty: r.tty === true,
      OpenStdin: r.openStdin === true,
      Env: spec.process?.env ?? r.env ?? [],
      Cmd: r.cmd ?? null,
      Image: d.image,
      WorkingDir: spec.process?.cwd ?? r.workdir ?? '',
      Entrypoint: r.entrypoint ?? null,
      Labels: goMap({ ...d.labels }),
      StopSignal: r.stopSignal ?? 'SIGTERM',
      ...(r.healthcheck ? { Healthcheck: dockerHealthcheck(r.healthcheck) } : {}),
    },
    NetworkSettings: { ...primary, Ports: goMap(ports), Networks: goMap(networks) },
  };
}

/** Create fields added after the first shape (extra hosts, ulimits, init): shown when the request has them. */
function extraHostConfig(r: Record<string, unknown>) {
  const out: Record<string, unknown> = { ExtraHosts: r.extraHosts ?? null, Init: r.init === true ? true : null };
  const u = r.ulimits as { name: string; soft: number; hard: number }[] | undefined;
  out.Ulimits = u ? u.map((x) => ({ Name: x.name, Soft: x.soft, Hard: x.hard })) : null;
  return out;
}

type ImageDetailsLike = {
  name: string;
  id: string;
  target: { digest: string };
  size: number;
  createdAt: string;
  config: {
    created?: string;
    author?: string;
    architecture?: string;
    os?: string;
    variant?: string;
    config?: Record<string, unknown>;
    rootfs?: { type?: string; diff_ids?: string[] };
  };
};

/** A name's repository: without its tag or digest. */
function repositoryOf(name: string): string {
  const base = name.split('@')[0]!;
  const colon = base.lastIndexOf(':');
  return colon > base.lastIndexOf('/') ? base.slice(0, colon) : base;
}

/** An image's details in docker's inspect shape. */
export function imageInspectContext(d: ImageDetailsLike) {
  const c = (d.config.config ?? {}) as {
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    WorkingDir?: string;
    User?: string;
    Labels?: Record<string, string>;
    ExposedPorts?: Record<string, unknown>;
    Volumes?: Record<string, unknown>;
    StopSignal?: string;
  };
  return {
    Id: d.id,
    RepoTags: [d.name],
    RepoDigests: [`${repositoryOf(d.name)}@${d.target.digest}`],
    Created: d.config.created ?? '',
    Author: d.config.author ?? '',
    Architecture: d.config.architecture ?? '',
    Variant: d.config.variant ?? '',
    Os: d.config.os ?? '',
    Size: d.size,
    Config: {
      User: c.User ?? '',
      Env: c.Env ?? null,
      Cmd: c.Cmd ?? null,
      Entrypoint: c.Entrypoint ?? null,
      WorkingDir: c.WorkingDir ?? '',
      Labels: c.Labels ? goMap({ ...c.Labels }) : null,
      ExposedPorts: c.ExposedPorts ? goMap({ ...c.ExposedPorts }) : null,
      Volumes: c.Volumes ? goMap({ ...c.Volumes }) : null,
      StopSignal: c.StopSignal ?? '',
    },
    RootFS: { Type: d.config.rootfs?.type ?? 'layers', Layers: d.config.rootfs?.diff_ids ?? [] },
  };
}
