// The CRI's RuntimeService as calls of the engine's services (pods, containers): each method takes a
// request as protobufjs decodes it and returns the response object; grpc-server.ts does the wire.
// The idempotent calls (StopPodSandbox, RemovePodSandbox, StopContainer, RemoveContainer) succeed on
// an id that does not exist, as the CRI asks.
// Must never: hold state or policy of its own (the engine owns pods and containers), or map an error
// to a status code (status.ts does).
import { existsSync } from 'node:fs';
import type { Engine } from '../engine/engine.ts';
import { ENGINE_VERSION } from '../engine/engine.ts';
import { checkCdiName } from '../engine/container-devices.ts';
import { execSync } from '../engine/exec-sync.ts';
import { runtimeHandlerFeatures } from '../engine/runtime-features.ts';
import { type ContainerUsage, containerUsage, type InterfaceUsage, netnsInterfaces } from '../engine/usage.ts';
import type { PodInfo, PodNamespaces, PodRequest, PodUserns } from '../engine/pod-types.ts';
import type {
  ContainerDetails,
  CreateRequest,
  DeviceRequest,
  HugepageLimit,
  MountRequest,
  PortMapping,
  SeccompChoice,
  SecurityOptions,
} from '../engine/types.ts';
import { failedPrecondition, invalidArgument, isBerthError, unsupported } from '../errors/errors.ts';
import { idMatches, int64, labelsMatch, nanos, required } from './convert.ts';
import type { CriVersion } from './services.ts';
import { isNotFound } from './status.ts';
import type { CriStreaming } from './streaming.ts';

// The shapes below are the CRI messages as decoded (fields the adapter reads); see proto/cri-api.proto.
// biome-ignore lint/suspicious/noExplicitAny: decoded CRI messages; their shapes are proto/cri-api.proto's
type Msg = Record<string, any>;

const NS_MODE: Record<string, 'pod' | 'container' | 'node'> = { POD: 'pod', CONTAINER: 'container', NODE: 'node' };
const CRI_PROPAGATION: Record<string, MountRequest['propagation']> = {
  PROPAGATION_PRIVATE: 'rprivate',
  PROPAGATION_HOST_TO_CONTAINER: 'rslave',
  PROPAGATION_BIDIRECTIONAL: 'rshared',
};
const propagationName = (p: MountRequest['propagation']): string =>
  Object.keys(CRI_PROPAGATION).find((k) => CRI_PROPAGATION[k] === p) ?? 'PROPAGATION_PRIVATE';

async function idempotent(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

function nsOption(v: unknown, field: string, allowed: string[]): 'pod' | 'container' | 'node' {
  const name = typeof v === 'string' ? v : 'POD';
  const mode = NS_MODE[name];
  if (!mode || !allowed.includes(mode))
    throw invalidArgument(
      `${field}: ${name} is not supported by berth (expected ${allowed.map((a) => a.toUpperCase()).join(' or ')})`,
    );
  return mode;
}

/** PodSandboxConfig → the engine's pod request. */
export function podRequestOf(config: Msg | undefined, runtimeHandler: string | undefined): PodRequest {
  if (!config) throw invalidArgument('config: required (expected a PodSandboxConfig)');
  const md = config.metadata;
  if (!md) throw invalidArgument('config.metadata: required (expected name, uid, namespace, attempt)');
  const nsOpts = config.linux?.security_context?.namespace_options ?? {};
  const se = config.linux?.security_context?.selinux_options;
  if (se && (se.user || se.role || se.type || se.level))
    throw unsupported(
      'config.linux.security_context.selinux_options: SELinux is not supported by berth (expected none)',
    );
  const namespaces: PodNamespaces = {
    network: nsOption(nsOpts.network, 'config.linux.security_context.namespace_options.network', [
      'pod',
      'node',
    ]) as PodNamespaces['network'],
    // No namespace_options at all is the proto3 zero value, POD (as containerd): a kubelet always
    // sends CONTAINER explicitly unless the pod shares its process namespace.
    pid: nsOption(nsOpts.pid, 'config.linux.security_context.namespace_options.pid', ['pod', 'container', 'node']),
    ipc: nsOption(nsOpts.ipc, 'config.linux.security_context.namespace_options.ipc', [
      'pod',
      'node',
    ]) as PodNamespaces['ipc'],
  };
  const userns = usernsOf(nsOpts.userns_options, 'config.linux.security_context.namespace_options.userns_options');
  const ports: PortMapping[] = [];
  for (const [i, p] of ((config.port_mappings ?? []) as Msg[]).entries()) {
    const protocol = String(p.protocol ?? 'TCP').toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'udp')
      throw invalidArgument(
        `config.port_mappings[${i}].protocol: ${p.protocol} is not supported (expected TCP or UDP)`,
      );
    if (!(p.container_port > 0 && p.container_port < 65536))
      throw invalidArgument(`config.port_mappings[${i}].container_port: ${p.container_port} (expected 1-65535)`);
    // hostPort 0 asks for nothing on the host (the kubelet sends the pod's container ports so).
    if (p.host_port > 0)
      ports.push({ hostPort: p.host_port, containerPort: p.container_port, protocol, hostIP: p.host_ip || '' });
  }
  const dns = config.dns_config;
  return {
    name: required(md.name, 'config.metadata.name'),
    namespace: required(md.namespace, 'config.metadata.namespace'),
    uid: required(md.uid, 'config.metadata.uid'),
    attempt: Number(md.attempt ?? 0),
    ...(config.hostname ? { hostname: config.hostname } : {}),
    ...(config.log_directory ? { logDirectory: config.log_directory } : {}),
    ...(dns ? { dns: { servers: dns.servers ?? [], searches: dns.searches ?? [], options: dns.options ?? [] } } : {}),
    ...(ports.length ? { ports } : {}),
    labels: config.labels ?? {},
    annotations: config.annotations ?? {},
    ...(config.linux?.cgroup_parent ? { cgroupParent: config.linux.cgroup_parent } : {}),
    ...(Object.keys(config.linux?.sysctls ?? {}).length ? { sysctls: config.linux.sysctls } : {}),
    namespaces,
    ...(userns ? { userns } : {}),
    ...(runtimeHandler ? { runtime: runtimeHandler } : {}),
    ...(config.linux?.security_context?.privileged ? { privileged: true } : {}),
  };
}

/**
 * userns_options: NODE (the zero value, and what no options mean) is the host's user namespace, with
 * no mappings; POD a namespace of the pod's own with the kubelet's mappings (the engine checks them:
 * one range each, the pod's root mapped). CONTAINER and TARGET are refused, as containerd does.
 */
function usernsOf(u: Msg | null | undefined, field: string): PodUserns | undefined {
  if (!u) return undefined;
  const mode = typeof u.mode === 'string' ? u.mode : 'POD';
  const maps = (list: unknown, f: string) =>
    ((list ?? []) as Msg[]).map((m, i) => {
      for (const k of ['container_id', 'host_id', 'length'])
        if (m[k] === undefined || m[k] === null) throw invalidArgument(`${field}.${f}[${i}].${k}: required`);
      return { containerID: Number(m.container_id), hostID: Number(m.host_id), size: Number(m.length) };
    });
  const uids = maps(u.uids, 'uids');
  const gids = maps(u.gids, 'gids');
  if (mode === 'NODE') {
    if (uids.length || gids.length)
      throw invalidArgument(`${field}: mode NODE takes no uids or gids (the host's user namespace has its own)`);
    return undefined;
  }
  if (mode !== 'POD') throw invalidArgument(`${field}.mode: ${mode} is not supported by berth (expected NODE or POD)`);
  return { uidMappings: uids, gidMappings: gids };
}

/** An AppArmor profile (or the deprecated profile word) is refused naming the field; unconfined passes. */
function checkAppArmor(profile: Msg | null | undefined, legacy: string | undefined, field: string): void {
  if (profile) {
    if (profile.profile_type !== 'Unconfined')
      throw unsupported(
        `${field}.apparmor: ${profile.profile_type}${profile.localhost_ref ? ` ${profile.localhost_ref}` : ''} is not supported by berth yet (expected Unconfined)`,
      );
    return;
  }
  if (legacy && legacy !== 'unconfined')
    throw unsupported(
      `${field}.apparmor_profile: ${JSON.stringify(legacy)} is not supported by berth yet (expected "" or "unconfined")`,
    );
}

/**
 * The CRI's seccomp choice as the engine's: RuntimeDefault is berth's default profile, Localhost a
 * profile file on the node, and nothing at all Unconfined (as containerd; a kubelet sends Unconfined
 * or RuntimeDefault explicitly). The deprecated path words are those kubelets up to 1.22 send.
 */
export function seccompOf(sc: Msg, field: string): SeccompChoice {
  const profile = sc.seccomp as Msg | null | undefined;
  if (profile) {
    switch (profile.profile_type) {
      case 'RuntimeDefault':
        return { kind: 'default' };
      case 'Unconfined':
        return { kind: 'unconfined' };
      case 'Localhost':
        if (!profile.localhost_ref)
          throw invalidArgument(
            `${field}.seccomp.localhost_ref: empty (expected the absolute path of a seccomp profile on the node)`,
          );
        return { kind: 'localhost', path: profile.localhost_ref, field: `${field}.seccomp.localhost_ref` };
      default:
        throw invalidArgument(
          `${field}.seccomp.profile_type: ${JSON.stringify(profile.profile_type)} (expected RuntimeDefault, Unconfined or Localhost)`,
        );
    }
  }
  const legacy = (sc.seccomp_profile_path as string | undefined) ?? '';
  if (legacy === '' || legacy === 'unconfined') return { kind: 'unconfined' };
  if (legacy === 'runtime/default' || legacy === 'docker/default') return { kind: 'default' };
  if (legacy.startsWith('localhost/'))
    return { kind: 'localhost', path: legacy.slice('localhost/'.length), field: `${field}.seccomp_profile_path` };
  throw invalidArgument(
    `${field}.seccomp_profile_path: ${JSON.stringify(legacy)} (expected "", "unconfined", "runtime/default", "docker/default" or "localhost/<path>")`,
  );
}

export function securityOf(sc: Msg, field: string): SecurityOptions {
  checkAppArmor(sc.apparmor, sc.apparmor_profile, field);
  const se = sc.selinux_options;
  if (se && (se.user || se.role || se.type || se.level))
    throw unsupported(`${field}.selinux_options: SELinux is not supported by berth (expected none)`);
  const caps = sc.capabilities ?? {};
  const out: SecurityOptions = { seccomp: seccompOf(sc, field) };
  if (sc.privileged) out.privileged = true;
  if (caps.add_capabilities?.length) out.capAdd = caps.add_capabilities;
  if (caps.drop_capabilities?.length) out.capDrop = caps.drop_capabilities;
  if (caps.add_ambient_capabilities?.length) out.ambientCaps = caps.add_ambient_capabilities;
  if (sc.no_new_privs) out.noNewPrivileges = true;
  // An empty list keeps berth's defaults: proto3 cannot tell "none given" from "none".
  if (sc.masked_paths?.length) out.maskedPaths = sc.masked_paths;
  if (sc.readonly_paths?.length) out.readonlyPaths = sc.readonly_paths;
  if (sc.supplemental_groups?.length) out.groups = (sc.supplemental_groups as unknown[]).map((g) => int64(g));
  // The field's zero value is Merge, so every container of the CRI (v1alpha2 has no such field)
  // gets the Kubernetes groups: the primary gid, the image's groups of the user, the requested ones.
  const policy = sc.supplemental_groups_policy ?? 'Merge';
  if (policy !== 'Merge' && policy !== 'Strict')
    throw invalidArgument(`${field}.supplemental_groups_policy: ${policy} (expected Merge or Strict)`);
  out.groupsPolicy = policy === 'Strict' ? 'strict' : 'merge';
  return out;
}

/** LinuxContainerResources beyond memory and CPU quota: shares, cpuset, OOM score, hugepages; unified refused when set. */
function resourcesOf(
  res: Msg,
  field: string,
): Pick<CreateRequest, 'cpuShares' | 'cpusetCpus' | 'cpusetMems' | 'oomScoreAdj' | 'hugepageLimits'> {
  // The engine drops the zeros (a kubelet sends one per page size) and checks the rest against the host.
  const hugepageLimits: HugepageLimit[] = ((res.hugepage_limits ?? []) as Msg[]).map((h, i) => ({
    pageSize: String(h.page_size ?? ''),
    limit: int64(h.limit),
    field: `${field}.hugepage_limits[${i}]`,
  }));
  if (Object.keys(res.unified ?? {}).length)
    throw unsupported(`${field}.unified: cgroup v2 parameters are not supported by berth yet`);
  return {
    ...(hugepageLimits.length ? { hugepageLimits } : {}),
    ...(int64(res.cpu_shares) > 0 ? { cpuShares: Math.max(2, int64(res.cpu_shares)) } : {}),
    ...(res.cpuset_cpus ? { cpusetCpus: res.cpuset_cpus } : {}),
    ...(res.cpuset_mems ? { cpusetMems: res.cpuset_mems } : {}),
    ...(res.oom_score_adj !== undefined &&
    res.oom_score_adj !== null &&
    res.oom_score_adj !== '0' &&
    int64(res.oom_score_adj) !== 0
      ? { oomScoreAdj: int64(res.oom_score_adj) }
      : {}),
  };
}

function podMetadata(p: PodInfo): Msg {
  return { name: p.name, uid: p.uid, namespace: p.namespace, attempt: p.attempt };
}

function podState(p: PodInfo): string {
  return p.state === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY';
}

function nsOptionsOf(p: PodInfo): Msg {
  const up = (m: string) => m.toUpperCase();
  const ids = (l: PodUserns['uidMappings']) =>
    l.map((m) => ({ container_id: m.containerID, host_id: m.hostID, length: m.size }));
  return {
    network: up(p.namespaces.network),
    pid: up(p.namespaces.pid),
    ipc: up(p.namespaces.ipc),
    userns_options: p.userns
      ? { mode: 'POD', uids: ids(p.userns.uidMappings), gids: ids(p.userns.gidMappings) }
      : { mode: 'NODE' },
  };
}

function containerState(c: ContainerDetails): string {
  if (c.state.status === 'created') return 'CONTAINER_CREATED';
  if (c.state.running) return 'CONTAINER_RUNNING';
  return 'CONTAINER_EXITED';
}

export class CriRuntimeService {
  readonly #e: Engine;
  readonly #version: CriVersion;
  readonly #streaming: CriStreaming | undefined;

  constructor(engine: Engine, version: CriVersion, streaming?: CriStreaming) {
    this.#e = engine;
    this.#version = version;
    this.#streaming = streaming;
  }

  async Version(): Promise<Msg> {
    // `version` is the kubelet-facing API version of the CRI (0.1.0 in every published release).
    return {
      version: '0.1.0',
      runtime_name: 'berth',
      runtime_version: ENGINE_VERSION,
      runtime_api_version: this.#version,
    };
  }

  async Status(req: Msg): Promise<Msg> {
    const net = this.#e.network;
    const networkReady = net.name !== 'none';
    const conditions = [
      { type: 'RuntimeReady', status: true, reason: '', message: '' },
      {
        type: 'NetworkReady',
        status: networkReady,
        reason: networkReady ? '' : 'NetworkPluginNotReady',
        message: networkReady
          ? ''
          : 'berthd runs without CNI networking (--no-network, or network.enabled false): pods get no network but lo',
      },
    ];
    const info: Record<string, string> = {};
    if (req.verbose)
      info.config = JSON.stringify({
        runtimes: this.#e.runtimes,
        defaultRuntime: this.#e.defaultRuntime,
        networking: net.name,
        defaultNetwork: net.defaultNetwork,
        podCidr: this.#e.pods.network.current().podCidr,
        podNetwork: this.#e.pods.network.current().network,
        root: this.#e.root,
        runRoot: this.#e.runRoot,
      });
    return {
      status: { conditions },
      info,
      // The default handler also under the empty name, which a pod without runtime_handler (and
      // critest without --runtime-handler) asks for, as containerd lists it.
      runtime_handlers: await Promise.all(
        [['', this.#e.runtimes[this.#e.defaultRuntime]!] as const, ...Object.entries(this.#e.runtimes)].map(
          async ([name, rt]) => ({
            name,
            features: {
              recursive_read_only_mounts: (await runtimeHandlerFeatures(rt)).recursiveReadOnlyMounts,
              // Pods in a user namespace of their own: berth-runtime only (the engine's checkPodUserns).
              user_namespaces: rt.inProcess,
            },
          }),
        ),
      ),
      features: { supplemental_groups_policy: true },
    };
  }

  async RuntimeConfig(): Promise<Msg> {
    return { linux: { cgroup_driver: 'CGROUPFS' } };
  }

  // ---------------------------------------------------------------- pods

  async RunPodSandbox(req: Msg): Promise<Msg> {
    return { pod_sandbox_id: await this.#e.pods.run(podRequestOf(req.config, req.runtime_handler)) };
  }

  async StopPodSandbox(req: Msg): Promise<Msg> {
    await idempotent(() => this.#e.pods.stop(required(req.pod_sandbox_id, 'pod_sandbox_id')));
    return {};
  }

  async RemovePodSandbox(req: Msg): Promise<Msg> {
    await idempotent(() => this.#e.pods.remove(required(req.pod_sandbox_id, 'pod_sandbox_id')));
    return {};
  }

  async PodSandboxStatus(req: Msg): Promise<Msg> {
    const p = this.#e.pods.inspect(required(req.pod_sandbox_id, 'pod_sandbox_id'));
    return {
      status: {
        id: p.id,
        metadata: podMetadata(p),
        state: podState(p),
        created_at: nanos(p.createdAt),
        network: { ip: p.ips[0] ?? '', additional_ips: p.ips.slice(1).map((ip) => ({ ip })) },
        linux: { namespaces: { options: nsOptionsOf(p) } },
        labels: p.labels,
        annotations: p.annotations,
        runtime_handler: p.runtime,
      },
      info: req.verbose ? { info: JSON.stringify(p) } : {},
      timestamp: nanos(new Date().toISOString()),
    };
  }

  async ListPodSandbox(req: Msg): Promise<Msg> {
    const f = req.filter ?? {};
    const want = f.state ? (f.state.state ?? 'SANDBOX_READY') : undefined;
    const items = this.#e.pods
      .list()
      .filter(
        (p) => idMatches(f.id, p.id) && (!want || podState(p) === want) && labelsMatch(f.label_selector, p.labels),
      )
      .map((p) => ({
        id: p.id,
        metadata: podMetadata(p),
        state: podState(p),
        created_at: nanos(p.createdAt),
        labels: p.labels,
        annotations: p.annotations,
        runtime_handler: p.runtime,
      }));
    return { items };
  }

  // ---------------------------------------------------------------- containers

  async CreateContainer(req: Msg): Promise<Msg> {
    const podId = required(req.pod_sandbox_id, 'pod_sandbox_id');
    const config: Msg | undefined = req.config;
    if (!config) throw invalidArgument('config: required (expected a ContainerConfig)');
    if (!config.metadata) throw invalidArgument('config.metadata: required (expected name and attempt)');
    const name = required(config.metadata.name, 'config.metadata.name');
    const image = required(config.image?.image, 'config.image.image');
    const mounts: MountRequest[] = ((config.mounts ?? []) as Msg[]).map((m, i) => {
      required(m.container_path, `config.mounts[${i}].container_path`);
      required(m.host_path, `config.mounts[${i}].host_path`);
      const key = String(m.propagation ?? 'PROPAGATION_PRIVATE');
      const propagation = Object.hasOwn(CRI_PROPAGATION, key) ? CRI_PROPAGATION[key] : undefined;
      if (!propagation)
        throw invalidArgument(
          `config.mounts[${i}].propagation: ${m.propagation}: expected PROPAGATION_PRIVATE, PROPAGATION_HOST_TO_CONTAINER or PROPAGATION_BIDIRECTIONAL`,
        );
      // Where SELinux is not enabled relabelling is nothing to do (containerd's is a no-op there too;
      // critest always asks); where it is, berth cannot label and says so.
      if (m.selinux_relabel && existsSync('/sys/fs/selinux/enforce'))
        throw unsupported(`config.mounts[${i}].selinux_relabel: SELinux is not supported by berth`);
      if ((m.uidMappings ?? []).length || (m.gidMappings ?? []).length)
        throw unsupported(
          `config.mounts[${i}].uidMappings, gidMappings: idmapped mounts are not supported by berth yet (expected none; a pod's user namespace needs none for its containers to read the image)`,
        );
      if (m.recursive_read_only) {
        if (m.readonly !== true)
          throw invalidArgument(
            `config.mounts[${i}].recursive_read_only: needs readonly true (a recursively read-only mount is read-only)`,
          );
        if (propagation !== 'rprivate')
          throw invalidArgument(
            `config.mounts[${i}].recursive_read_only: needs propagation PROPAGATION_PRIVATE, got ${key} (a mount propagated in later would not be read-only)`,
          );
      }
      return {
        type: 'bind',
        source: m.host_path,
        target: m.container_path,
        readOnly: m.readonly === true,
        propagation,
        ...(m.recursive_read_only ? { recursiveReadOnly: true } : {}),
      };
    });
    const devices: DeviceRequest[] = ((config.devices ?? []) as Msg[]).map((d, i) => ({
      hostPath: required(d.host_path, `config.devices[${i}].host_path`),
      ...(d.container_path ? { containerPath: d.container_path } : {}),
      ...(d.permissions ? { permissions: d.permissions } : {}),
      fields: {
        hostPath: `config.devices[${i}].host_path`,
        containerPath: `config.devices[${i}].container_path`,
        permissions: `config.devices[${i}].permissions`,
      },
    }));
    const cdiDevices = ((config.CDI_devices ?? []) as Msg[]).map((d, i) => {
      checkCdiName(d.name, `config.CDI_devices[${i}].name`);
      return d.name as string;
    });
    const sc = config.linux?.security_context ?? {};
    const res = config.linux?.resources ?? {};
    let user: string | undefined;
    if (sc.run_as_username) user = sc.run_as_username;
    else if (sc.run_as_user) user = String(int64(sc.run_as_user.value));
    if (sc.run_as_group && user === undefined)
      throw invalidArgument(
        'config.linux.security_context.run_as_group: set without run_as_user or run_as_username (expected a user with the group)',
      );
    if (user !== undefined && sc.run_as_group) user = `${user}:${int64(sc.run_as_group.value)}`;
    const creq: Omit<
      CreateRequest,
      'sandbox' | 'name' | 'network' | 'hostname' | 'ports' | 'publishAll' | 'restart' | 'autoRemove'
    > = {
      image,
      ...((config.command ?? []).length ? { entrypoint: config.command } : {}),
      ...((config.args ?? []).length ? { cmd: config.args } : {}),
      ...(config.working_dir ? { workdir: config.working_dir } : {}),
      env: ((config.envs ?? []) as Msg[]).map((kv) => `${kv.key}=${kv.value ?? ''}`),
      ...(user !== undefined ? { user } : {}),
      tty: config.tty === true,
      openStdin: config.stdin === true,
      ...(config.stdin_once === true ? { stdinOnce: true } : {}),
      labels: config.labels ?? {},
      annotations: config.annotations ?? {},
      mounts,
      ...(devices.length ? { devices } : {}),
      ...(cdiDevices.length ? { cdiDevices } : {}),
      ...(sc.readonly_rootfs ? { readOnly: true } : {}),
      ...(int64(res.memory_limit_in_bytes) > 0 ? { memory: int64(res.memory_limit_in_bytes) } : {}),
      ...(int64(res.cpu_quota) > 0 && int64(res.cpu_period) > 0
        ? { cpus: int64(res.cpu_quota) / int64(res.cpu_period) }
        : {}),
      ...resourcesOf(res, 'config.linux.resources'),
      security: securityOf(sc, 'config.linux.security_context'),
    };
    const pod = this.#e.pods.inspect(podId);
    // The CRI: a privileged container needs a privileged sandbox (containerd refuses it too).
    if (sc.privileged && !pod.privileged)
      throw invalidArgument(
        `config.linux.security_context.privileged: pod ${pod.id} is not privileged (expected a pod whose linux.security_context.privileged is true)`,
      );
    if (mounts.some((m) => m.recursiveReadOnly)) {
      const rt = this.#e.runtimes[pod.runtime];
      if (!rt || !(await runtimeHandlerFeatures(rt)).recursiveReadOnlyMounts)
        throw failedPrecondition(
          `config.mounts: recursive_read_only: the pod's runtime handler ${JSON.stringify(pod.runtime)} does not support recursive read-only mounts (its features list no "rro")`,
        );
    }
    const logPath =
      config.log_path && pod.logDirectory ? `${pod.logDirectory.replace(/\/$/, '')}/${config.log_path}` : '';
    // The container's own PID namespace choice, when it makes one (absent: the pod's).
    const nsField = 'config.linux.security_context.namespace_options';
    const nsOpts = sc.namespace_options as Msg | undefined;
    let pid: { mode: 'pod' | 'container' | 'node' | 'target'; targetId?: string; field?: string } | undefined;
    if (nsOpts) {
      if (nsOpts.pid === 'TARGET')
        pid = {
          mode: 'target',
          targetId: required(nsOpts.target_id, `${nsField}.target_id`),
          field: `${nsField}.target_id`,
        };
      else pid = { mode: nsOption(nsOpts.pid, `${nsField}.pid`, ['pod', 'container', 'node']) };
    }
    const made = await this.#e.pods.createContainer(
      pod.id,
      { name, attempt: Number(config.metadata.attempt ?? 0), ...(logPath ? { logPath } : {}), ...(pid ? { pid } : {}) },
      creq,
    );
    return { container_id: made.id };
  }

  async StartContainer(req: Msg): Promise<Msg> {
    await this.#e.pods.startContainer(required(req.container_id, 'container_id'));
    return {};
  }

  async StopContainer(req: Msg): Promise<Msg> {
    const id = required(req.container_id, 'container_id');
    await idempotent(() => this.#e.containers.stop(id, int64(req.timeout)));
    return {};
  }

  async RemoveContainer(req: Msg): Promise<Msg> {
    const id = required(req.container_id, 'container_id');
    await idempotent(() => this.#e.containers.remove(id, { force: true }));
    return {};
  }

  /** Containers of pods only: a container made with `berth run` is no kubelet's business. */
  #criContainers(): ContainerDetails[] {
    return this.#e.containers
      .list({ all: true })
      .map((s) => this.#e.containers.inspect(s.id))
      .filter((c) => c.request.sandbox);
  }

  /**
   * Image names by image ID, for containers created by image ID (a kubelet creates every container so):
   * their status names the image by its first name, as containerd's does, not by the ID again.
   */
  async #imageNames(cs: ContainerDetails[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    if (!cs.some((c) => c.image === c.imageId)) return names;
    for (const s of await this.#e.images.list()) if (!names.has(s.id)) names.set(s.id, s.name);
    return names;
  }

  #container(c: ContainerDetails, names: Map<string, string>): Msg {
    const sb = c.request.sandbox;
    return {
      id: c.id,
      pod_sandbox_id: sb?.podId ?? '',
      metadata: { name: sb?.name ?? c.name, attempt: sb?.attempt ?? 0 },
      image: { image: (c.image === c.imageId && names.get(c.imageId)) || c.image },
      image_ref: c.imageId,
      image_id: c.imageId,
      state: containerState(c),
      created_at: nanos(c.createdAt),
      labels: c.labels,
      annotations: c.request.annotations ?? {},
    };
  }

  async ListContainers(req: Msg): Promise<Msg> {
    const f = req.filter ?? {};
    const want = f.state ? (f.state.state ?? 'CONTAINER_CREATED') : undefined;
    const all = this.#criContainers();
    const names = await this.#imageNames(all);
    const containers = all
      .filter(
        (c) =>
          idMatches(f.id, c.id) &&
          idMatches(f.pod_sandbox_id, c.request.sandbox!.podId) &&
          (!want || containerState(c) === want) &&
          labelsMatch(f.label_selector, c.labels),
      )
      .map((c) => this.#container(c, names));
    return { containers };
  }

  async ContainerStatus(req: Msg): Promise<Msg> {
    const c = this.#e.containers.inspect(required(req.container_id, 'container_id'));
    const state = containerState(c);
    let reason = '';
    if (state === 'CONTAINER_EXITED')
      reason = c.state.oomKilled ? 'OOMKilled' : c.state.exitCode === 0 ? 'Completed' : 'Error';
    const sb = c.request.sandbox;
    const user = this.#e.containers.processUser(c.id);
    return {
      status: {
        ...this.#container(c, await this.#imageNames([c])),
        started_at: nanos(c.state.startedAt),
        finished_at: state === 'CONTAINER_EXITED' ? nanos(c.state.finishedAt) : '0',
        exit_code: c.state.exitCode ?? 0,
        reason,
        message: c.state.error,
        mounts: c.mounts.map((m) => ({
          container_path: m.destination,
          host_path: m.source,
          readonly: m.readOnly,
          propagation: propagationName(m.propagation),
          recursive_read_only: m.recursiveReadOnly === true,
        })),
        log_path: sb?.logPath ?? '',
        ...(user
          ? { user: { linux: { uid: user.uid, gid: user.gid, supplemental_groups: user.additionalGids } } }
          : {}),
      },
      info: req.verbose
        ? { info: JSON.stringify({ pid: c.state.pid, bundle: c.bundle, runtime: c.runtime, spec: c.spec }) }
        : {},
    };
  }

  async ExecSync(req: Msg): Promise<Msg> {
    const id = required(req.container_id, 'container_id');
    if (!Array.isArray(req.cmd) || req.cmd.length === 0)
      throw invalidArgument('cmd: required (expected a non-empty command)');
    const timeoutSec = int64(req.timeout);
    const r = await execSync(this.#e.containers, id, req.cmd, timeoutSec > 0 ? { timeoutMs: timeoutSec * 1000 } : {});
    return { stdout: r.stdout, stderr: r.stderr, exit_code: r.exitCode };
  }

  // ---------------------------------------------------------------- streaming (streaming.ts)

  #streamer(): CriStreaming {
    if (!this.#streaming) throw unsupported('streaming: this CRI server has no streaming server');
    return this.#streaming;
  }

  /** A running container of a pod, for exec and attach. */
  #runningPodContainer(field: string, id: string): ContainerDetails {
    const c = this.#e.containers.inspect(required(id, field));
    if (!c.state.running)
      throw failedPrecondition(
        `container ${c.id} is not running (${containerState(c)}): exec and attach need a running container`,
      );
    return c;
  }

  /** Which streams: at least one, and stderr never with a tty (a terminal has one output). */
  #streamsOf(req: Msg, what: string): { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean } {
    const o = {
      tty: req.tty === true,
      stdin: req.stdin === true,
      stdout: req.stdout === true,
      stderr: req.stderr === true,
    };
    if (o.tty && o.stderr)
      throw invalidArgument(`${what}: tty and stderr cannot both be true (a terminal has one output stream)`);
    if (!o.stdin && !o.stdout && !o.stderr)
      throw invalidArgument(`${what}: one of stdin, stdout, or stderr must be set`);
    return o;
  }

  async Exec(req: Msg): Promise<Msg> {
    if (!Array.isArray(req.cmd) || req.cmd.length === 0)
      throw invalidArgument('cmd: required (expected a non-empty command)');
    const c = this.#runningPodContainer('container_id', req.container_id);
    return {
      url: await this.#streamer().url({
        kind: 'exec',
        containerId: c.id,
        cmd: req.cmd,
        ...this.#streamsOf(req, 'exec'),
      }),
    };
  }

  async Attach(req: Msg): Promise<Msg> {
    const c = this.#runningPodContainer('container_id', req.container_id);
    return {
      url: await this.#streamer().url({ kind: 'attach', containerId: c.id, ...this.#streamsOf(req, 'attach') }),
    };
  }

  async PortForward(req: Msg): Promise<Msg> {
    const p = this.#e.pods.inspect(required(req.pod_sandbox_id, 'pod_sandbox_id'));
    if (p.state !== 'ready') throw failedPrecondition(`pod ${p.id} is not ready: port-forward needs a running pod`);
    const ports = ((req.port ?? []) as number[]).map(Number);
    for (const [i, port] of ports.entries())
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw invalidArgument(`port[${i}]: ${port} (expected 1-65535)`);
    return { url: await this.#streamer().url({ kind: 'portforward', podId: p.id, ports }) };
  }

  async ReopenContainerLog(req: Msg): Promise<Msg> {
    await this.#e.pods.reopenContainerLog(required(req.container_id, 'container_id'));
    return {};
  }

  // ---------------------------------------------------------------- events

  /**
   * The kubelet's evented PLEG: every create, start, exit and removal of a pod's container, with the
   * pod's status and its containers' statuses at that moment. Live events only, until the caller
   * goes away.
   */
  async *GetContainerEvents(_req: Msg, signal: AbortSignal): AsyncGenerator<Msg> {
    const types: Record<string, string> = {
      create: 'CONTAINER_CREATED_EVENT',
      start: 'CONTAINER_STARTED_EVENT',
      die: 'CONTAINER_STOPPED_EVENT',
      destroy: 'CONTAINER_DELETED_EVENT',
    };
    // A removed container cannot be asked which pod it was in: remember it while it exists.
    const podOf = new Map(this.#criContainers().map((c) => [c.id, c.request.sandbox!.podId]));
    for await (const ev of this.#e.events.stream({ type: ['container'], event: Object.keys(types) }, {}, signal)) {
      const id = ev.actor.id;
      if (ev.action !== 'destroy' && !podOf.has(id)) {
        try {
          const sb = this.#e.containers.inspect(id).request.sandbox;
          if (sb) podOf.set(id, sb.podId);
        } catch {}
      }
      const podId = podOf.get(id);
      if (!podId) continue;
      if (ev.action === 'destroy') podOf.delete(id);
      const out: Msg = {
        container_id: id,
        container_event_type: types[ev.action],
        created_at: ev.timeNano,
        containers_statuses: [],
      };
      try {
        out.pod_sandbox_status = (await this.PodSandboxStatus({ pod_sandbox_id: podId })).status;
        for (const cid of this.#e.pods.inspect(podId).containers)
          out.containers_statuses.push((await this.ContainerStatus({ container_id: cid })).status);
      } catch (e) {
        // The pod (or a container) went meanwhile: the event still goes, with what is left.
        if (!isNotFound(e)) throw e;
      }
      yield out;
    }
  }

  // ---------------------------------------------------------------- stats

  /** One container's CRI stats: attributes always; usage while it runs (a stopped one has no cgroup). */
  async #containerStats(c: ContainerDetails): Promise<Msg> {
    const sb = c.request.sandbox;
    const out: Msg = {
      attributes: {
        id: c.id,
        metadata: { name: sb?.name ?? c.name, attempt: sb?.attempt ?? 0 },
        labels: c.labels,
        annotations: c.request.annotations ?? {},
      },
    };
    if (!c.state.running) return out;
    let u: ContainerUsage;
    try {
      u = containerUsage(await this.#e.containers.stats(c.id));
    } catch (e) {
      // It stopped between the listing and the read: no usage, as for any stopped container.
      if (isBerthError(e, 'BERTH_ERR_FAILED_PRECONDITION') || isNotFound(e)) return out;
      throw e;
    }
    const now = nanos(new Date().toISOString());
    const v = (n: number | undefined) => (n === undefined ? undefined : { value: String(n) });
    out.cpu = { timestamp: now, usage_core_nano_seconds: v(u.cpuNs) };
    out.memory = {
      timestamp: now,
      usage_bytes: v(u.memoryUsage),
      working_set_bytes: v(u.workingSet),
      rss_bytes: v(u.rss),
      page_faults: v(u.pageFaults),
      major_page_faults: v(u.majorPageFaults),
    };
    const layer = await this.#e.pods.writableLayerUsage(c.id).catch(() => undefined);
    if (layer)
      out.writable_layer = {
        timestamp: now,
        fs_id: { mountpoint: this.#e.root },
        used_bytes: v(layer.size),
        inodes_used: v(layer.inodes),
      };
    out.pids = u.pids;
    return out;
  }

  async ContainerStats(req: Msg): Promise<Msg> {
    return {
      stats: await this.#containerStats(this.#e.containers.inspect(required(req.container_id, 'container_id'))),
    };
  }

  async ListContainerStats(req: Msg): Promise<Msg> {
    const f = req.filter ?? {};
    const cs = this.#criContainers().filter(
      (c) =>
        c.state.running &&
        idMatches(f.id, c.id) &&
        idMatches(f.pod_sandbox_id, c.request.sandbox!.podId) &&
        labelsMatch(f.label_selector, c.labels),
    );
    return { stats: await Promise.all(cs.map((c) => this.#containerStats(c))) };
  }

  /** A pod's stats: its containers', their sums, its process count and its network namespace's interfaces. */
  async #podStats(p: PodInfo): Promise<Msg> {
    const containers = await Promise.all(
      p.containers.map((id) => this.#containerStats(this.#e.containers.inspect(id))),
    );
    const out: Msg = {
      attributes: { id: p.id, metadata: podMetadata(p), labels: p.labels, annotations: p.annotations },
    };
    if (p.state !== 'ready') return out;
    const now = nanos(new Date().toISOString());
    const sum = (pick: (c: Msg) => { value: string } | undefined) => ({
      value: String(containers.reduce((a, c) => a + Number(pick(c)?.value ?? 0), 0)),
    });
    const ifaces = p.namespaces.network === 'node' ? [] : await netnsInterfaces(p.pid);
    const wire = (i: InterfaceUsage) => ({
      name: i.name,
      rx_bytes: { value: String(i.rxBytes) },
      rx_errors: { value: String(i.rxErrors) },
      tx_bytes: { value: String(i.txBytes) },
      tx_errors: { value: String(i.txErrors) },
    });
    const eth0 = ifaces.find((i) => i.name === 'eth0') ?? ifaces[0];
    out.linux = {
      cpu: { timestamp: now, usage_core_nano_seconds: sum((c) => c.cpu?.usage_core_nano_seconds) },
      memory: {
        timestamp: now,
        usage_bytes: sum((c) => c.memory?.usage_bytes),
        working_set_bytes: sum((c) => c.memory?.working_set_bytes),
      },
      network: { timestamp: now, ...(eth0 ? { default_interface: wire(eth0) } : {}), interfaces: ifaces.map(wire) },
      process: { timestamp: now, process_count: { value: String(containers.reduce((n, c) => n + (c.pids ?? 0), 0)) } },
      containers: containers.map(({ pids: _, ...c }) => c),
    };
    return out;
  }

  async PodSandboxStats(req: Msg): Promise<Msg> {
    return { stats: await this.#podStats(this.#e.pods.inspect(required(req.pod_sandbox_id, 'pod_sandbox_id'))) };
  }

  async ListPodSandboxStats(req: Msg): Promise<Msg> {
    const f = req.filter ?? {};
    const pods = this.#e.pods
      .list()
      .filter((p) => p.state === 'ready' && idMatches(f.id, p.id) && labelsMatch(f.label_selector, p.labels));
    return { stats: await Promise.all(pods.map((p) => this.#podStats(p))) };
  }

  async UpdateContainerResources(req: Msg): Promise<Msg> {
    const id = required(req.container_id, 'container_id');
    const res: Msg = req.linux ?? {};
    const { cpuShares, cpusetCpus, cpusetMems, oomScoreAdj, hugepageLimits } = resourcesOf(res, 'linux');
    if (oomScoreAdj !== undefined)
      throw unsupported('linux.oom_score_adj: cannot be changed on a running container by berth (expected 0)');
    // A kubelet repeats the container's hugepage limits: the same ones pass, a change is refused.
    const had = hugepageLimits?.some((h) => h.limit > 0)
      ? (this.#e.containers.inspect(id).request.hugepageLimits ?? [])
      : [];
    for (const h of hugepageLimits ?? [])
      if (h.limit > 0 && !had.some((x) => x.pageSize === h.pageSize && x.limit === h.limit))
        throw unsupported(
          `${h.field}: ${h.pageSize} ${h.limit}: berth cannot change a running container's hugepage limits (it has ${had.map((x) => `${x.pageSize} ${x.limit}`).join(', ') || 'none'})`,
        );
    await this.#e.pods.updateContainerResources(id, {
      ...(int64(res.memory_limit_in_bytes) > 0 ? { memory: int64(res.memory_limit_in_bytes) } : {}),
      ...(int64(res.cpu_quota) > 0 && int64(res.cpu_period) > 0
        ? { cpus: int64(res.cpu_quota) / int64(res.cpu_period) }
        : {}),
      ...(cpuShares !== undefined ? { cpuShares } : {}),
      ...(cpusetCpus !== undefined ? { cpusetCpus } : {}),
      ...(cpusetMems !== undefined ? { cpusetMems } : {}),
    });
    return {};
  }

  /**
   * The node's pod CIDR (a kubelet with an API server sends it once known): pods created from now on
   * get their addresses from it; running pods keep theirs (the engine's PodNetwork).
   */
  async UpdateRuntimeConfig(req: Msg): Promise<Msg> {
    await this.#e.pods.network.setPodCidr(String(req.runtime_config?.network_config?.pod_cidr ?? ''));
    return {};
  }

  async ListMetricDescriptors(): Promise<Msg> {
    return { descriptors: [] };
  }

  async ListPodSandboxMetrics(): Promise<Msg> {
    return { pod_metrics: [] };
  }

  async CheckpointContainer(): Promise<Msg> {
    throw unsupported('CheckpointContainer: berth does not checkpoint containers');
  }
}
