// The engine's container records in Docker's shapes: the list entry (GET /containers/json) and the
// inspect document (GET /containers/{id}/json). Naming differences are converted here: Docker's
// state `exited` is berth's `stopped`, names carry a leading `/`, the engine's default network is
// `bridge`, image IDs are config digests.
import type {
  ContainerDetails,
  ContainerEndpoint,
  ContainerSummary,
  MountRequest,
  PortBindings,
  PortMapping,
} from '../engine/types.ts';
import { endpointDnsNames } from '../engine/container-names.ts';
import { containerStatusText, dockerHealth, dockerHealthcheck } from '../engine/status-text.ts';
import type { ImageRuntimeConfig } from '../oci/image-spec.ts';
import { atLeast } from './versions.ts';

/** Docker's State.Status for a berth container. */
export function dockerState(status: string, restarting = false): string {
  if (restarting) return 'restarting';
  return status === 'stopped' ? 'exited' : status;
}

/** Docker calls the default network `bridge`; berthd without networking has none to rename (its default is `none`). */
export function dockerNetworkName(name: string, defaultNetwork: string): string {
  return name === defaultNetwork && defaultNetwork !== 'none' && defaultNetwork !== 'host' ? 'bridge' : name;
}

/** The engine's name for a network docker names (`bridge` is the default network). */
export function engineNetworkName(name: string, defaultNetwork: string): string {
  return name === 'bridge' && defaultNetwork !== 'none' && defaultNetwork !== 'host' ? defaultNetwork : name;
}

const unixSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

type Attach = { ips?: string[]; gateway?: string; mac?: string; prefixLength?: number };

function endpoint(
  id: string,
  name: string,
  a: Attach,
  aliases: string[] | null,
  ipv4Address: string,
  dnsNames: string[] | null,
  requestedMac: string,
) {
  const cidr = a.ips?.find((ip) => ip.includes('.')) ?? '';
  const [ip = '', len] = cidr.split('/');
  return {
    IPAMConfig: ipv4Address ? { IPv4Address: ipv4Address } : null,
    Links: null,
    Aliases: aliases,
    MacAddress: a.mac ?? requestedMac,
    NetworkID: name,
    EndpointID: ip ? `${id.slice(0, 32)}${name}`.slice(0, 64) : '',
    Gateway: a.gateway ?? '',
    IPAddress: ip,
    IPPrefixLen: len ? Number(len) : ip ? (a.prefixLength ?? 0) : 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: dnsNames,
  };
}

type NetworkedContainer = {
  id: string;
  name: string;
  networks: Record<string, unknown>;
  endpoints?: ContainerEndpoint[] | undefined;
  request: { network?: string | undefined; aliases?: string[] | undefined; hostname?: string | undefined };
};

/**
 * NetworkSettings.Networks: every network the container is connected to (docker shows those of a
 * stopped container too, without an address), with what it got where it runs. On a user network,
 * as dockerd reports: before API 1.45 Aliases end with the short ID (compose reads that to leave
 * the container be), from 1.45 they are the ones asked for; from 1.44 DNSNames lists every name the
 * embedded DNS server answers for it there (name, aliases, short ID, hostname). A container on
 * `host` or `none` shows that network.
 */
export function networksOf(
  c: NetworkedContainer,
  defaultNetwork: string,
  version: string,
): Record<string, ReturnType<typeof endpoint>> {
  const out: Record<string, ReturnType<typeof endpoint>> = {};
  const want = c.request.network ?? defaultNetwork;
  const eps: ContainerEndpoint[] =
    want === 'host' || want === 'none'
      ? [{ network: want, aliases: [], ipv4Address: '' }]
      : (c.endpoints ??
        // A berthd older than endpoints: what runs, or the one network of its create.
        (Object.keys(c.networks).length
          ? Object.keys(c.networks).map((n) => ({ network: n, aliases: c.request.aliases ?? [], ipv4Address: '' }))
          : [{ network: want, aliases: c.request.aliases ?? [], ipv4Address: '' }]));
  const dnsField = atLeast(version, '1.44');
  const asked = atLeast(version, '1.45');
  for (const ep of eps) {
    const n = ep.network;
    const user = n !== defaultNetwork && n !== 'host' && n !== 'none';
    const aliases = asked ? (ep.aliases.length ? ep.aliases : null) : [...new Set([...ep.aliases, c.id.slice(0, 12)])];
    const e = endpoint(
      c.id,
      n,
      (c.networks[n] ?? {}) as Attach,
      user ? aliases : null,
      ep.ipv4Address,
      user ? endpointDnsNames({ id: c.id, name: c.name, hostname: c.request.hostname }, ep.aliases) : null,
      // A stopped container shows the address it asked for, which it gets again at its start.
      ep.macAddress ?? '',
    );
    if (!dnsField) delete (e as { DNSNames?: unknown }).DNSNames;
    out[dockerNetworkName(n, defaultNetwork)] = e;
  }
  return out;
}

/** The top-level NetworkSettings address fields: dockerd fills them from the default `bridge` network only. */
export function legacyAddress(networks: Record<string, ReturnType<typeof endpoint>>) {
  const b = networks.bridge;
  return {
    Gateway: b?.Gateway ?? '',
    IPAddress: b?.IPAddress ?? '',
    IPPrefixLen: b?.IPPrefixLen ?? 0,
    MacAddress: b?.MacAddress ?? '',
    EndpointID: b?.EndpointID ?? '',
  };
}

export function networkMode(req: { network?: string | undefined }): string {
  return req.network ?? 'bridge';
}

function dockerPorts(p: PortBindings | undefined): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const [k, v] of Object.entries(p ?? {}))
    out[k] = v === null ? null : v.map((b) => ({ HostIp: b.hostIp, HostPort: b.hostPort }));
  return out;
}

function mountsOf(ms: MountRequest[], volumeMountpoint: (name: string) => string) {
  return ms.map((m) => {
    const rw = m.readOnly !== true;
    if (m.type === 'volume')
      return {
        Type: 'volume',
        Name: m.source ?? '',
        Source: volumeMountpoint(m.source ?? ''),
        Destination: m.target,
        Driver: 'local',
        Mode: rw ? 'z' : 'ro',
        RW: rw,
        Propagation: '',
      };
    if (m.type === 'bind')
      return {
        Type: 'bind',
        Source: m.source ?? '',
        Destination: m.target,
        Mode: rw ? '' : 'ro',
        RW: rw,
        Propagation: 'rprivate',
      };
    return { Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW: rw, Propagation: '' };
  });
}

export type ListExtras = {
  imageId: string | undefined;
  defaultNetwork: string;
  networks: Record<string, unknown>;
  endpoints?: ContainerEndpoint[] | undefined;
  request: { network?: string | undefined; aliases?: string[] | undefined; hostname?: string | undefined };
  mounts: MountRequest[];
  volumeMountpoint: (n: string) => string;
  /** The API version asked for (its endpoint fields). */
  version: string;
};

export function toListEntry(s: ContainerSummary, x: ListExtras) {
  const d = { id: s.id, name: s.name, networks: x.networks, endpoints: x.endpoints, request: x.request };
  const entry: Record<string, unknown> = {
    Id: s.id,
    Names: [`/${s.name}`],
    Image: s.image,
    ImageID: x.imageId ?? s.imageId,
    Command: s.command,
    Created: unixSeconds(s.createdAt),
    Ports: s.ports.map((p) => ({
      IP: p.hostIP,
      PrivatePort: p.containerPort,
      PublicPort: p.hostPort,
      Type: p.protocol,
    })),
    Labels: s.labels,
    State: dockerState(s.status, s.restarting),
    Status: containerStatusText(s),
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: networksOf(d, x.defaultNetwork, x.version) },
    Mounts: mountsOf(x.mounts, x.volumeMountpoint),
  };
  return entry;
}

function requestedBindings(ports: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) {
    const k = `${p.containerPort}/${p.protocol}`;
    const list = out[k] ?? [];
    const hostPort = p.hostPort ? `${p.hostPort}${p.hostPortEnd === undefined ? '' : `-${p.hostPortEnd}`}` : '';
    list.push({ HostIp: p.hostIP === '0.0.0.0' ? '' : p.hostIP, HostPort: hostPort });
    out[k] = list;
  }
  return out;
}

export type InspectExtras = {
  imageId: string | undefined;
  imageConfig: ImageRuntimeConfig | undefined;
  defaultNetwork: string;
  driver: string;
  volumeMountpoint: (n: string) => string;
};

export function toInspect(c: ContainerDetails, x: InspectExtras, version: string) {
  const req = c.request;
  const spec = c.spec as {
    process?: { args?: string[]; env?: string[]; cwd?: string; user?: unknown; terminal?: boolean };
    hostname?: string;
  };
  const args = spec.process?.args ?? [];
  const networks = networksOf(c, x.defaultNetwork, version);
  const legacy = legacyAddress(networks);
  const exposed: Record<string, object> = { ...(x.imageConfig?.ExposedPorts ?? {}) };
  for (const p of req.ports ?? []) exposed[`${p.containerPort}/${p.protocol}`] = {};
  const restarting = c.state.restarting;
  const networkSettings: Record<string, unknown> = {
    Bridge: '',
    SandboxID: c.state.pid ? c.id : '',
    SandboxKey: '',
    Ports: dockerPorts(c.networkSettings?.ports),
    Gateway: legacy.Gateway,
    IPAddress: legacy.IPAddress,
    IPPrefixLen: legacy.IPPrefixLen,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: legacy.MacAddress,
    EndpointID: legacy.EndpointID,
    Networks: networks,
  };
  // 1.44 dropped the fields dockerd had kept for the legacy links network.
  if (!atLeast(version, '1.44'))
    Object.assign(networkSettings, {
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
    });
  const hostConfig = {
    Binds: (req.mounts ?? [])
      .filter((m) => m.type !== 'tmpfs')
      .map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: networkMode(req),
    PortBindings: requestedBindings(req.ports ?? []),
    RestartPolicy: { Name: c.restartPolicy.name, MaximumRetryCount: c.restartPolicy.maximumRetryCount },
    AutoRemove: req.autoRemove === true,
    VolumeDriver: '',
    VolumesFrom: null,
    Devices: (req.devices ?? []).map((d) => ({
      PathOnHost: d.hostPath,
      PathInContainer: d.containerPath || d.hostPath,
      CgroupPermissions: d.permissions || 'rwm',
    })),
    DeviceCgroupRules: req.deviceCgroupRules ?? null,
    CapAdd: req.security?.capAdd ?? null,
    CapDrop: req.security?.capDrop ?? null,
    Dns: req.dns?.servers ?? [],
    DnsOptions: req.dns?.options ?? [],
    DnsSearch: req.dns?.search ?? [],
    ExtraHosts: req.extraHosts ?? null,
    GroupAdd: req.security?.groups?.map(String) ?? null,
    IpcMode: req.ipcMode || 'private',
    Cgroup: '',
    Links: null,
    OomScoreAdj: req.oomScoreAdj ?? 0,
    PidMode: req.pidMode ?? '',
    Privileged: req.security?.privileged === true,
    PublishAllPorts: req.publishAll === true,
    ReadonlyRootfs: req.readOnly === true,
    SecurityOpt: req.security?.noNewPrivileges ? ['no-new-privileges'] : null,
    Tmpfs: Object.fromEntries(
      (req.mounts ?? []).filter((m) => m.type === 'tmpfs').map((m) => [m.target, (m.options ?? []).join(',')]),
    ),
    UTSMode: req.utsMode ?? '',
    UsernsMode: '',
    ShmSize: req.shmSize || 67108864,
    Runtime: c.runtime,
    Isolation: '',
    CpuShares: req.cpuShares ?? 0,
    CpusetCpus: req.cpusetCpus ?? '',
    CpusetMems: req.cpusetMems ?? '',
    Sysctls: req.security?.sysctls,
    Memory: req.memory ?? 0,
    MemorySwap: req.memorySwap ?? 0,
    NanoCpus: req.cpus ? Math.round(req.cpus * 1e9) : 0,
    CgroupParent: '',
    PidsLimit: req.pidsLimit ?? null,
    Ulimits: req.ulimits?.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) ?? null,
    Init: req.init === true ? true : null,
  };
  return {
    Id: c.id,
    Created: c.createdAt,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: dockerState(c.state.status, restarting),
      Running: c.state.running,
      Paused: c.state.paused,
      Restarting: restarting,
      OOMKilled: c.state.oomKilled,
      Dead: false,
      Pid: c.state.running ? c.state.pid : 0,
      ExitCode: c.state.exitCode ?? 0,
      Error: c.state.error,
      StartedAt: c.state.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: c.state.finishedAt ?? '0001-01-01T00:00:00Z',
      ...(c.state.health ? { Health: dockerHealth(c.state.health) } : {}),
    },
    Image: x.imageId ?? c.imageId,
    ResolvConfPath: `${c.bundle}/resolv.conf`,
    HostnamePath: `${c.bundle}/hostname`,
    HostsPath: `${c.bundle}/hosts`,
    LogPath: c.logPath,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: x.driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfig,
    GraphDriver: { Name: x.driver, Data: { MergedDir: c.rootfs } },
    Mounts: mountsOf(req.mounts ?? [], x.volumeMountpoint),
    Config: {
      Hostname: spec.hostname ?? req.hostname ?? c.id.slice(0, 12),
      Domainname: '',
      User: req.user ?? '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
      Tty: req.tty === true,
      OpenStdin: req.openStdin === true,
      StdinOnce: false,
      Env: spec.process?.env ?? req.env ?? [],
      // An entrypoint given at create drops the image's Cmd (the engine's rule, and docker's).
      Cmd: req.cmd ?? (req.entrypoint ? null : (x.imageConfig?.Cmd ?? null)),
      Image: c.image,
      Volumes: x.imageConfig?.Volumes ?? null,
      WorkingDir: req.workdir ?? spec.process?.cwd ?? '',
      Entrypoint: req.entrypoint ?? x.imageConfig?.Entrypoint ?? null,
      OnBuild: null,
      Labels: c.labels,
      // The container-wide field of clients before API 1.44 (the main network's endpoint since).
      ...(req.macAddress && !atLeast(version, '1.44') ? { MacAddress: req.macAddress } : {}),
      ...(req.stopSignal ? { StopSignal: req.stopSignal } : {}),
      ...(req.stopTimeout !== undefined ? { StopTimeout: req.stopTimeout } : {}),
      ...(req.healthcheck ? { Healthcheck: dockerHealthcheck(req.healthcheck, atLeast(version, '1.44')) } : {}),
    },
    NetworkSettings: networkSettings,
  };
}
