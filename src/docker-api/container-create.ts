// POST /containers/create's body (Config, HostConfig, NetworkingConfig) as the engine's
// CreateRequest. What the engine honours is converted; a field it does not honour is refused with
// a 400 naming it when the client set it (the docker CLI sends most fields at their zero value on
// every create, so a zero value is not "set"). Pure: no engine calls.
import type {
  HealthConfig,
  CreateRequest,
  EndpointRequest,
  MountRequest,
  PortMapping,
  SecurityOptions,
  UpdateRequest,
} from '../engine/types.ts';
import { checkMacAddress } from '../engine/container-request.ts';
import { invalidArgument } from '../errors/errors.ts';
import { refused } from './errors.ts';
import { atLeast } from './versions.ts';

export type DockerMount = {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
    Subpath?: string;
  };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] };
};

export type DockerHostConfig = Record<string, unknown> & {
  Privileged?: boolean;
  Devices?: { PathOnHost?: string; PathInContainer?: string; CgroupPermissions?: string }[] | null;
  DeviceCgroupRules?: string[] | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  SecurityOpt?: string[] | null;
  Sysctls?: Record<string, string> | null;
  GroupAdd?: string[] | null;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  CpuShares?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  OomScoreAdj?: number;
  ExtraHosts?: string[] | null;
  Ulimits?: { Name?: string; Soft?: number; Hard?: number }[] | null;
  Init?: boolean | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  Binds?: string[] | null;
  Mounts?: DockerMount[] | null;
  Tmpfs?: Record<string, string> | null;
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
  PublishAllPorts?: boolean;
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null;
  AutoRemove?: boolean;
  NetworkMode?: string;
  PidMode?: string;
  IpcMode?: string;
  UTSMode?: string;
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  PidsLimit?: number | null;
  ReadonlyRootfs?: boolean;
  Runtime?: string;
  LogConfig?: { Type?: string; Config?: Record<string, string> } | null;
};

export type DockerConfig = Record<string, unknown> & {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  Image?: string;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StopSignal?: string;
  StopTimeout?: number | null;
  ExposedPorts?: Record<string, unknown> | null;
  HostConfig?: DockerHostConfig | null;
  NetworkingConfig?: {
    EndpointsConfig?: Record<
      string,
      { Aliases?: string[] | null; IPAMConfig?: unknown; Links?: string[] | null; [k: string]: unknown } | null
    > | null;
  } | null;
};

/** A value the docker CLI sends when the user did not set the field. */
function unset(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v as object).every(unset);
  return false;
}

/** HostConfig fields the engine does not honour (yet), with what the user typed to set them. */
const UNSUPPORTED_HOST: Record<string, string> = {
  DeviceRequests: '--gpus',
  VolumesFrom: '--volumes-from',
  Links: '--link',
  UsernsMode: '--userns',
  CgroupnsMode: '--cgroupns',
  Cgroup: '--cgroup',
  CgroupParent: '--cgroup-parent',
  OomKillDisable: '--oom-kill-disable',
  StorageOpt: '--storage-opt',
  CpuRealtimePeriod: '--cpu-rt-period',
  CpuRealtimeRuntime: '--cpu-rt-runtime',
  BlkioWeight: '--blkio-weight',
  BlkioWeightDevice: '--blkio-weight-device',
  BlkioDeviceReadBps: '--device-read-bps',
  BlkioDeviceWriteBps: '--device-write-bps',
  BlkioDeviceReadIOps: '--device-read-iops',
  BlkioDeviceWriteIOps: '--device-write-iops',
  MemoryReservation: '--memory-reservation',
  KernelMemory: '--kernel-memory',
  VolumeDriver: '--volume-driver',
  Isolation: '--isolation',
};
const UNSUPPORTED_CONFIG: Record<string, string> = {
  Domainname: '--domainname',
  OnBuild: 'OnBuild',
  Shell: 'Shell',
};

const strings = (v: string[] | string | null | undefined): string[] | undefined =>
  v === null || v === undefined ? undefined : typeof v === 'string' ? [v] : v;

function parsePortKey(key: string): { port: number; protocol: 'tcp' | 'udp' } {
  const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(key);
  if (!m) {
    if (/^\d+\/sctp$/.test(key)) throw refused(`port ${key}`, 'sctp ports are not published by berth');
    throw invalidArgument(`invalid port specification: "${key}"`);
  }
  return { port: Number(m[1]), protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' };
}

function portBindings(pb: DockerHostConfig['PortBindings']): PortMapping[] {
  const out: PortMapping[] = [];
  for (const [key, list] of Object.entries(pb ?? {})) {
    const { port, protocol } = parsePortKey(key);
    for (const b of list ?? [{}]) {
      const hp = b.HostPort ?? '';
      // A host port, none (berthd picks one), or a range to pick the first free one from (`-p 8000-8010:80`).
      const m = /^(\d+)(?:-(\d+))?$/.exec(hp);
      if (hp !== '' && !m) throw invalidArgument(`invalid port specification: "${hp}"`);
      const lo = m ? Number(m[1]) : 0;
      const hi = m?.[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) throw invalidArgument(`invalid port range: ${hp}: the end is below the start`);
      // docker's empty HostIp is every address.
      out.push({
        hostIP: b.HostIp || '0.0.0.0',
        hostPort: lo,
        containerPort: port,
        protocol,
        ...(hi > lo ? { hostPortEnd: hi } : {}),
      });
    }
  }
  return out;
}

function bindMount(spec: string): MountRequest {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1])
    throw invalidArgument(`invalid volume specification: '${spec}'`);
  const [src, dst, opts = ''] = parts as [string, string, string?];
  let readOnly = false;
  for (const o of opts.split(',').filter(Boolean)) {
    if (o === 'ro') readOnly = true;
    else if (o === 'rw' || o === 'z' || o === 'Z' || o === 'rprivate' || o === 'private') continue;
    else if (o === 'nocopy' && !src.startsWith('/')) continue;
    else throw refused(`volume option '${o}' in '${spec}'`, 'berth honours ro and rw');
  }
  if (!dst.startsWith('/'))
    throw invalidArgument(`invalid volume specification: '${spec}': invalid mount config: mount path must be absolute`);
  return src.startsWith('/')
    ? { type: 'bind', source: src, target: dst, readOnly }
    : { type: 'volume', source: src, target: dst, readOnly };
}

function mountOf(m: DockerMount, i: number): MountRequest {
  const where = `HostConfig.Mounts[${i}]`;
  if (!m.Target) throw invalidArgument(`${where}: Target must not be empty`);
  if (
    m.BindOptions &&
    !unset({ ...m.BindOptions, Propagation: m.BindOptions.Propagation === 'rprivate' ? '' : m.BindOptions.Propagation })
  )
    throw refused(`${where}.BindOptions`, 'berth binds rprivate and recursive');
  if (m.VolumeOptions && !unset({ ...m.VolumeOptions, NoCopy: false, Labels: undefined }))
    throw refused(`${where}.VolumeOptions`, 'berth volumes are local directories');
  switch (m.Type) {
    case 'bind':
      if (!m.Source) throw invalidArgument(`${where}: Source must not be empty for a bind mount`);
      return { type: 'bind', source: m.Source, target: m.Target, readOnly: m.ReadOnly === true };
    case 'volume':
      // Without a Source the volume is anonymous: the engine names it at create.
      return {
        type: 'volume',
        ...(m.Source ? { source: m.Source } : {}),
        target: m.Target,
        readOnly: m.ReadOnly === true,
      };
    case 'tmpfs': {
      const opts: string[] = [];
      const t = m.TmpfsOptions ?? {};
      if (t.SizeBytes) opts.push(`size=${t.SizeBytes}`);
      opts.push(`mode=${(t.Mode ?? 0o1777).toString(8)}`);
      for (const o of t.Options ?? []) opts.push(o.join('='));
      return { type: 'tmpfs', target: m.Target, readOnly: m.ReadOnly === true, options: opts };
    }
    default:
      throw refused(`${where}.Type ${JSON.stringify(m.Type)}`, 'expected bind, volume or tmpfs');
  }
}

/** HostConfig's security fields as the engine's SecurityOptions (undefined when none is set). */
function securityOf(hc: DockerHostConfig): SecurityOptions | undefined {
  const sec: SecurityOptions = {};
  if (hc.Privileged) sec.privileged = true;
  if (hc.CapAdd?.length) sec.capAdd = hc.CapAdd;
  if (hc.CapDrop?.length) sec.capDrop = hc.CapDrop;
  for (const o of hc.SecurityOpt ?? []) {
    // docker's CLI sends seccomp=<the profile's JSON>, which has its own '=' and ':'.
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(o);
    const [k, v = 'true'] = [m?.[1], m?.[2]];
    if (k === 'seccomp' && v === 'unconfined') sec.seccomp = { kind: 'unconfined' };
    else if (k === 'seccomp' && v.startsWith('{')) sec.seccomp = { kind: 'inline', json: v };
    else if (k === 'no-new-privileges' && (v === 'true' || v === 'false')) sec.noNewPrivileges = v === 'true';
    else
      throw refused(
        `--security-opt ${o.length > 80 ? `${o.slice(0, 80)}…` : o}`,
        'berth takes seccomp=unconfined, seccomp=<profile JSON> and no-new-privileges; no AppArmor or SELinux label',
      );
  }
  if (hc.Sysctls && Object.keys(hc.Sysctls).length) sec.sysctls = hc.Sysctls;
  if (hc.GroupAdd?.length) {
    const bad = hc.GroupAdd.find((g) => !/^\d+$/.test(g));
    if (bad !== undefined) throw refused(`--group-add ${bad}`, 'give a numeric gid');
    sec.groups = hc.GroupAdd.map(Number);
  }
  if (hc.MaskedPaths?.length) sec.maskedPaths = hc.MaskedPaths;
  if (hc.ReadonlyPaths?.length) sec.readonlyPaths = hc.ReadonlyPaths;
  return Object.keys(sec).length ? sec : undefined;
}

function restartOf(p: DockerHostConfig['RestartPolicy']): string | undefined {
  if (!p?.Name || p.Name === 'no') return undefined;
  if (p.Name === 'on-failure') return p.MaximumRetryCount ? `on-failure:${p.MaximumRetryCount}` : 'on-failure';
  if (p.Name === 'always' || p.Name === 'unless-stopped') return p.Name;
  throw invalidArgument(`invalid restart policy '${p.Name}'`);
}

/** docker's --cpus (NanoCpus) or --cpu-quota/--cpu-period as the engine's CPU count; undefined when none is given. */
function cpusOf(hc: Pick<DockerHostConfig, 'NanoCpus' | 'CpuQuota' | 'CpuPeriod'>): number | undefined {
  if (hc.NanoCpus) return hc.NanoCpus / 1e9;
  if (hc.CpuQuota && hc.CpuQuota > 0) return hc.CpuQuota / (hc.CpuPeriod || 100_000);
  if (hc.CpuPeriod) throw refused('--cpu-period without --cpu-quota', 'give --cpus');
  return undefined;
}

/**
 * The body of `POST /containers/{id}/update` (docker update: Resources and RestartPolicy) as the
 * engine's update. The CLI sends every field, zero where a flag was not given: zero keeps the value.
 */
export function toUpdateRequest(body: DockerHostConfig): UpdateRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidArgument('container update: the body must be a JSON object (Resources and RestartPolicy)');
  for (const [k, flag] of Object.entries(UNSUPPORTED_HOST))
    if (k in body && !unset(body[k])) throw refused(`${flag} (${k})`, 'the berth engine does not honour it yet');
  const u: UpdateRequest = {};
  if (body.Memory) u.memory = body.Memory;
  if (body.MemorySwap) u.memorySwap = body.MemorySwap;
  const cpus = cpusOf(body);
  if (cpus) u.cpus = cpus;
  if (body.CpuShares) u.cpuShares = body.CpuShares;
  if (body.CpusetCpus) u.cpusetCpus = body.CpusetCpus;
  if (body.CpusetMems) u.cpusetMems = body.CpusetMems;
  // dockerd: 0 or less is unlimited; null is no change.
  if (typeof body.PidsLimit === 'number') u.pidsLimit = body.PidsLimit > 0 ? body.PidsLimit : -1;
  const p = body.RestartPolicy;
  if (p?.Name) u.restart = p.Name === 'no' ? 'no' : restartOf(p);
  return u;
}

/** The network a container joins: docker's 'default' and 'bridge' are the engine's default network. */
export function networkOf(mode: string | undefined, defaultNetwork: string): string | undefined {
  if (!mode || mode === 'default' || mode === 'bridge' || mode === defaultNetwork) return undefined;
  if (mode.startsWith('container:'))
    throw refused(`--network ${mode}`, "joining another container's network namespace is not supported");
  return mode;
}

type DockerEndpoint = NonNullable<NonNullable<DockerConfig['NetworkingConfig']>['EndpointsConfig']>[string];

type Endpoint = { aliases: string[]; ipv4Address?: string; macAddress?: string };

/**
 * One endpoint of NetworkingConfig: its aliases, IPv4 address and (from API 1.44, which added the
 * field; dockerd discards it before) MAC address; anything else it sets is refused naming it.
 */
function endpointOf(n: string, ep: DockerEndpoint, version: string): Endpoint {
  const ipam = (ep?.IPAMConfig ?? {}) as { IPv4Address?: string };
  if (
    ep &&
    !unset({
      ...ep,
      NetworkID: '',
      EndpointID: '',
      Aliases: null,
      DNSNames: null,
      MacAddress: '',
      IPAMConfig: { ...ipam, IPv4Address: '' },
    })
  )
    throw refused(
      `NetworkingConfig.EndpointsConfig.${n}`,
      'berth takes Aliases, IPAMConfig.IPv4Address and MacAddress',
    );
  const mac = atLeast(version, '1.44') && typeof ep?.MacAddress === 'string' ? ep.MacAddress : '';
  return {
    aliases: ep?.Aliases ?? [],
    ...(ipam.IPv4Address ? { ipv4Address: ipam.IPv4Address } : {}),
    ...(mac
      ? { macAddress: checkMacAddress(mac, `--mac-address (NetworkingConfig.EndpointsConfig.${n}.MacAddress)`) }
      : {}),
  };
}

/**
 * Config.MacAddress, the container-wide MAC address of API versions before 1.44 (deprecated from
 * 1.44, still taken until 1.52): the main network's, as dockerd moves it there; from 1.44 an
 * endpoint's own MacAddress must then be the same (dockerd's words).
 */
function containerWideMac(
  body: DockerConfig,
  hc: DockerHostConfig,
  main: Endpoint,
  mode: string | undefined,
): Endpoint {
  const wide = typeof body.MacAddress === 'string' ? body.MacAddress : '';
  if (!wide) return main;
  if (mode === 'host' || mode === 'none' || mode?.startsWith('container:') || hc.NetworkMode === 'host')
    throw invalidArgument('conflicting options: mac-address and the network mode');
  const mac = checkMacAddress(wide, '--mac-address (Config.MacAddress)');
  if (main.macAddress && main.macAddress !== mac)
    throw invalidArgument(
      'the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty',
    );
  return { ...main, macAddress: mac };
}

/**
 * HostConfig.NetworkMode and NetworkingConfig as the engine's networks: the mode's network first
 * (with its endpoint's aliases and address), then the other endpoints in the body's order. Before
 * API 1.44 dockerd refused more than one endpoint at create; from 1.44 it joins them all.
 */
function endpointsOf(body: DockerConfig, hc: DockerHostConfig, defaultNetwork: string, version: string) {
  const given = Object.entries(body.NetworkingConfig?.EndpointsConfig ?? {});
  // dockerd's first step: 'default' (mode and endpoint key) is the default network, `bridge`.
  const mode = !hc.NetworkMode || hc.NetworkMode === 'default' ? undefined : hc.NetworkMode;
  const eps = given.map(([k, ep]) => [k === 'default' ? 'bridge' : k, ep] as const);
  if (eps.length > 1 && !atLeast(version, '1.44'))
    throw invalidArgument(
      `Container cannot be created with multiple network endpoints: ${eps.map(([k]) => k).join(', ')}`,
    );
  const modeName = mode ?? eps[0]?.[0];
  const network = networkOf(modeName, defaultNetwork);
  const same = (k: string) => networkOf(k, defaultNetwork) === network;
  const firstEp = eps.find(([k]) => modeName === undefined || k === modeName || same(k));
  const first = containerWideMac(
    body,
    hc,
    firstEp ? endpointOf(firstEp[0], firstEp[1], version) : { aliases: [] },
    modeName,
  );
  // dockerd's rule: the default network resolves no names but the container's own.
  if (first.aliases.length && !network)
    throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
  const networks: EndpointRequest[] = [];
  for (const [k, ep] of eps) {
    if (ep === firstEp?.[1] && k === firstEp[0]) continue;
    const e = endpointOf(k, ep, version);
    networks.push({
      network: networkOf(k, defaultNetwork) ?? defaultNetwork,
      ...(e.aliases.length ? { aliases: [...new Set(e.aliases)] } : {}),
      ...(e.ipv4Address ? { ipv4Address: e.ipv4Address } : {}),
      ...(e.macAddress ? { macAddress: e.macAddress } : {}),
    });
  }
  return { network, aliases: first.aliases, ipv4Address: first.ipv4Address, macAddress: first.macAddress, networks };
}

export function toCreateRequest(
  body: DockerConfig,
  name: string | undefined,
  defaultNetwork: string,
  version = '1.50',
): CreateRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidArgument('container create: the body must be a JSON object (Config with HostConfig)');
  if (!body.Image) throw invalidArgument('No image was specified');
  const hc: DockerHostConfig = body.HostConfig ?? {};
  for (const [k, flag] of Object.entries(UNSUPPORTED_HOST))
    if (!unset(hc[k])) throw refused(`${flag} (HostConfig.${k})`, 'the berth engine does not honour it yet');
  for (const [k, flag] of Object.entries(UNSUPPORTED_CONFIG))
    if (!unset(body[k])) throw refused(`${flag} (Config.${k})`, 'the berth engine does not honour it yet');
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== null && hc.MemorySwappiness !== -1)
    throw refused('--memory-swappiness (HostConfig.MemorySwappiness)', 'the berth engine does not honour it yet');
  const log = hc.LogConfig?.Type;
  if (log && log !== 'json-file') throw refused(`--log-driver ${log}`, 'berth logs to json-file');
  if (hc.LogConfig?.Config && Object.keys(hc.LogConfig.Config).length)
    throw refused('--log-opt', 'berth keeps its own json-file rotation');

  const mounts: MountRequest[] = [...(hc.Binds ?? []).map(bindMount), ...(hc.Mounts ?? []).map(mountOf)];
  for (const [target, opts] of Object.entries(hc.Tmpfs ?? {}))
    mounts.push({ type: 'tmpfs', target, options: opts ? opts.split(',') : ['mode=1777'] });
  // Config.Volumes (`-v /path`, an image's VOLUME named again): an anonymous volume where nothing else is mounted.
  for (const target of Object.keys((body.Volumes as Record<string, unknown> | null | undefined) ?? {})) {
    if (!target.startsWith('/'))
      throw invalidArgument(`invalid volume specification: '${target}': mount path must be absolute`);
    if (!mounts.some((m) => m.target === target)) mounts.push({ type: 'volume', target });
  }

  const ports = portBindings(hc.PortBindings);
  if (hc.PublishAllPorts) {
    // -P publishes the Config's exposed ports too (the engine adds the image's).
    for (const key of Object.keys(body.ExposedPorts ?? {})) {
      const { port, protocol } = parsePortKey(key);
      if (!ports.some((p) => p.containerPort === port && p.protocol === protocol))
        ports.push({ hostIP: '0.0.0.0', hostPort: 0, containerPort: port, protocol });
    }
  }

  const { network, aliases, ipv4Address, macAddress, networks } = endpointsOf(body, hc, defaultNetwork, version);
  const cpus = cpusOf(hc);

  const cmd = strings(body.Cmd);
  const entrypoint = strings(body.Entrypoint);
  const req: CreateRequest = { image: body.Image };
  if (name) req.name = name;
  if (cmd) req.cmd = cmd;
  // The CLI's `--entrypoint ""` is [""]: clear the image's entrypoint.
  if (entrypoint) req.entrypoint = entrypoint.length === 1 && entrypoint[0] === '' ? [] : entrypoint;
  if (body.Env?.length) req.env = body.Env;
  if (body.WorkingDir) req.workdir = body.WorkingDir;
  if (body.User) req.user = body.User;
  if (body.Hostname) req.hostname = body.Hostname;
  // The engine checks the namespace modes (docker's words, naming the field).
  if (hc.PidMode !== undefined && hc.PidMode !== '') req.pidMode = hc.PidMode;
  if (hc.IpcMode !== undefined && hc.IpcMode !== '') req.ipcMode = hc.IpcMode;
  if (hc.UTSMode !== undefined && hc.UTSMode !== '') req.utsMode = hc.UTSMode;
  if (hc.ShmSize !== undefined && hc.ShmSize !== 0) req.shmSize = hc.ShmSize as number;
  if (body.Tty) req.tty = true;
  if (body.OpenStdin) req.openStdin = true;
  if (body.Labels && Object.keys(body.Labels).length) req.labels = body.Labels;
  if (mounts.length) req.mounts = mounts;
  if (ports.length) req.ports = ports;
  if (hc.PublishAllPorts) req.publishAll = true;
  if (network) req.network = network;
  if (aliases.length) req.aliases = [...new Set(aliases)];
  if (ipv4Address) req.ipv4Address = ipv4Address;
  if (macAddress) req.macAddress = macAddress;
  if (networks.length) req.networks = networks;
  if (hc.Memory) req.memory = hc.Memory;
  if (hc.MemorySwap) req.memorySwap = hc.MemorySwap;
  if (cpus) req.cpus = cpus;
  if (hc.PidsLimit && hc.PidsLimit > 0) req.pidsLimit = hc.PidsLimit;
  if (hc.ReadonlyRootfs) req.readOnly = true;
  if (hc.Devices?.length)
    req.devices = hc.Devices.map((d, i) => {
      if (!d?.PathOnHost) throw invalidArgument(`HostConfig.Devices[${i}].PathOnHost is required`);
      const field = (f: string) => `--device (HostConfig.Devices[${i}].${f})`;
      return {
        hostPath: d.PathOnHost,
        ...(d.PathInContainer ? { containerPath: d.PathInContainer } : {}),
        ...(d.CgroupPermissions ? { permissions: d.CgroupPermissions } : {}),
        fields: {
          hostPath: field('PathOnHost'),
          containerPath: field('PathInContainer'),
          permissions: field('CgroupPermissions'),
        },
      };
    });
  if (hc.DeviceCgroupRules?.length) req.deviceCgroupRules = hc.DeviceCgroupRules;
  const restart = restartOf(hc.RestartPolicy);
  if (restart) req.restart = restart;
  if (hc.Runtime) req.runtime = hc.Runtime;
  if (hc.AutoRemove) req.autoRemove = true;
  const security = securityOf(hc);
  if (security) req.security = security;
  if (hc.CpuShares) req.cpuShares = hc.CpuShares;
  if (hc.CpusetCpus) req.cpusetCpus = hc.CpusetCpus;
  if (hc.CpusetMems) req.cpusetMems = hc.CpusetMems;
  if (hc.OomScoreAdj) req.oomScoreAdj = hc.OomScoreAdj;
  // docker 1.44+ clients may write host=ip; the engine takes docker's older host:ip.
  if (hc.ExtraHosts?.length) req.extraHosts = hc.ExtraHosts.map((h) => (/^[^:=]+=/.test(h) ? h.replace('=', ':') : h));
  if (hc.Ulimits?.length) {
    req.ulimits = hc.Ulimits.map((u, i) => {
      if (!u.Name || typeof u.Soft !== 'number' || typeof u.Hard !== 'number')
        throw invalidArgument(`HostConfig.Ulimits[${i}]: expected Name, Soft and Hard`);
      return { name: u.Name.toLowerCase(), soft: u.Soft, hard: u.Hard };
    });
  }
  if (hc.Init) req.init = true;
  const health = healthcheckOf(body.Healthcheck, version);
  if (health) req.healthcheck = health;
  const dns = {
    ...(hc.Dns?.length ? { servers: hc.Dns } : {}),
    ...(hc.DnsSearch?.length ? { search: hc.DnsSearch } : {}),
    ...(hc.DnsOptions?.length ? { options: hc.DnsOptions } : {}),
  };
  if (Object.keys(dns).length) req.dns = dns;
  const ann = hc.Annotations as Record<string, string> | undefined | null;
  if (ann && Object.keys(ann).length) req.annotations = ann;
  if (body.StopSignal) req.stopSignal = body.StopSignal;
  if (typeof body.StopTimeout === 'number') req.stopTimeout = body.StopTimeout;
  return req;
}

/**
 * Config.Healthcheck: durations in nanoseconds as docker sends them; StartInterval only from API
 * 1.44 (dockerd drops it for older clients). The engine checks the values in dockerd's words.
 */
function healthcheckOf(h: unknown, version: string): HealthConfig | undefined {
  if (h === undefined || h === null) return undefined;
  if (typeof h !== 'object' || Array.isArray(h)) throw invalidArgument('Config.Healthcheck: expected an object');
  const x = h as Record<string, unknown>;
  const out: HealthConfig = {};
  if (x.Test !== undefined && x.Test !== null) out.test = x.Test as string[];
  const n = (k: string): number | undefined => {
    const v = x[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') throw invalidArgument(`Config.Healthcheck.${k}: expected a number`);
    return v;
  };
  const set = (k: keyof HealthConfig, v: number | undefined) => {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  };
  set('interval', n('Interval'));
  set('timeout', n('Timeout'));
  set('startPeriod', n('StartPeriod'));
  if (atLeast(version, '1.44')) set('startInterval', n('StartInterval'));
  set('retries', n('Retries'));
  return Object.keys(out).length ? out : undefined;
}
