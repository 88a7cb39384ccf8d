// Pod sandboxes (the CRI's pods, docs/cri.md): a group of containers sharing network, IPC, UTS and
// optionally PID namespaces, a cgroup parent and /etc files. A sandbox's namespaces are held by its
// pause process (native/pause.c, berth-pause) run through the pod's OCI runtime from a directory of
// its own (no image), supervised by a berth-shim like any container's init; its network namespace is
// made and wired by the engine's network backend (CNI) before the pause process starts.
//
// The pods row is written before anything is made and deleted after everything is released, so
// recovery finds every pod a crash interrupted: a ready pod whose shim is gone becomes notready and
// its network is released; containers of a pod are container rows (ContainerService) whose request
// names the pod (CreateRequest.sandbox).
// Must never: stop or remove a pod's containers other than through the container service, or leave a
// netns, attachment, shim or cgroup behind when a pod is stopped or removed.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname as hostHostname } from 'node:os';
import { dirname, join } from 'node:path';
import { failedPrecondition, invalidArgument, isBerthError } from '../errors/errors.ts';
import { isLive } from '../metadata/container-status.ts';
import type { ImageService } from '../images/image-service.ts';
import type { MetadataStore } from '../metadata/metadata-store.ts';
import type { PodRecord } from '../metadata/pod-store.ts';
import { defaultSpec } from '../oci/runtime-default-spec.ts';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';
import { berthRoot } from '../sys/paths.ts';
import type { ContainerService } from './container-service.ts';
import type { EventBus } from './event-bus.ts';
import { faultPoint } from './fault-points.ts';
import { timingSpan } from './timing.ts';
import { removeEmptyCgroups } from './cgroup-parent.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import type { AttachResult, NetworkBackend } from './network-backend.ts';
import { MODES } from './owned-modes.ts';
import { PodNetwork } from './pod-network.ts';
import type { PodInfo, PodNamespaces, PodRequest, PodUserns } from './pod-types.ts';
import type { RuntimeCli } from './runtime-cli.ts';
import { type RuntimeClass, runtimeOfClass } from './runtime-classes.ts';
import type { TaskExit, TaskHandle, TaskSupervisor } from './task-supervisor.ts';
import type { ContainerConfig, CreateRequest, SandboxMembership } from './types.ts';

export type PodServiceOptions = {
  root: string;
  runRoot: string;
  store: MetadataStore<ContainerConfig>;
  events: EventBus;
  /** For the writable layers of its containers (their snapshots). */
  images: ImageService;
  network: NetworkBackend;
  supervisor: TaskSupervisor;
  containers: ContainerService;
  runtimes: Record<string, RuntimeClass>;
  defaultRuntime: string;
  /** berth-pause (default: native/build/berth-pause of this checkout; env BERTH_PAUSE overrides). */
  pauseBinary?: string;
  log?: (msg: string) => void;
};

/** The cgroup parent of a pod the caller gave none: under it sit the pause process and every container. */
const DEFAULT_CGROUP_ROOT = '/berth-pods';
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function pauseBinary(): string {
  return process.env.BERTH_PAUSE || join(berthRoot(), 'native/build/berth-pause');
}

/** What the pod service stores in a pod's row besides the request: decided once, at run. */
type PodConfig = { request: PodRequest; hostname: string; cgroupParent: string; ownCgroupParent: boolean };

function configOf(p: PodRecord): PodConfig {
  return p.config as PodConfig;
}

export class PodService {
  readonly #o: PodServiceOptions;
  readonly #lock = new KeyedMutex();
  readonly #tasks = new Map<string, TaskHandle>();
  /** The network new pods join (the kubelet's pod CIDR, UpdateRuntimeConfig). */
  readonly network: PodNetwork;
  #closed = false;

  constructor(o: PodServiceOptions) {
    this.#o = o;
    this.network = new PodNetwork(o.root, o.network);
  }

  #dir(id: string): string {
    return join(this.#o.root, 'pods', id);
  }
  /** Beside (not in) the containers' shims directory: its leftovers are judged by the container service. */
  #stateDir(id: string): string {
    return join(this.#o.runRoot, 'pod-shims', id.slice(0, 32));
  }
  #runtime(name: string): RuntimeCli {
    return runtimeOfClass(this.#o.runtimes, this.#o.runRoot, name, 'runtime handler');
  }
  #log(m: string): void {
    this.#o.log?.(m);
  }

  // ---------------------------------------------------------------- run

  async run(req: PodRequest): Promise<string> {
    for (const f of ['name', 'namespace', 'uid'] as const) {
      if (typeof req[f] !== 'string' || req[f] === '')
        throw invalidArgument(`pod ${f}: required (expected a non-empty string)`);
    }
    const key = `${req.name}_${req.namespace}_${req.uid}_${req.attempt ?? 0}`;
    if (!NAME_RE.test(key))
      throw invalidArgument(
        `pod name, namespace and uid ${JSON.stringify(key)}: expected [a-zA-Z0-9][a-zA-Z0-9_.-]* each`,
      );
    const ns = { network: 'pod', pid: 'container', ipc: 'pod', ...(req.namespaces ?? {}) };
    if (!['pod', 'node'].includes(ns.network))
      throw invalidArgument(`pod namespaces.network ${JSON.stringify(ns.network)}: expected pod or node`);
    if (!['pod', 'node'].includes(ns.ipc))
      throw invalidArgument(`pod namespaces.ipc ${JSON.stringify(ns.ipc)}: expected pod or node`);
    if (!['pod', 'container', 'node'].includes(ns.pid))
      throw invalidArgument(`pod namespaces.pid ${JSON.stringify(ns.pid)}: expected pod, container or node`);
    for (const k of Object.keys(req.sysctls ?? {})) {
      // Set in a namespace the host shares, it would change the host itself.
      if (ns.network === 'node' && k.startsWith('net.'))
        throw invalidArgument(
          `pod sysctls: ${k} with the host network (namespaces.network node) would change the host's (expected none of net.*)`,
        );
      if (ns.ipc === 'node' && /^(kernel\.(shm|msg|sem)|fs\.mqueue\.)/.test(k))
        throw invalidArgument(
          `pod sysctls: ${k} with the host IPC namespace (namespaces.ipc node) would change the host's`,
        );
      if (!/^(net\.|kernel\.(shm|msg|sem)|fs\.mqueue\.)/.test(k))
        throw invalidArgument(
          `pod sysctls: ${k} is not a namespaced parameter a pod may set (expected net.*, kernel.shm*, kernel.msg*, kernel.sem or fs.mqueue.*)`,
        );
    }
    const request: PodRequest = { ...req, attempt: req.attempt ?? 0, namespaces: ns as PodRequest['namespaces'] };
    const runtimeName = req.runtime || this.#o.defaultRuntime;
    const rt = this.#runtime(runtimeName);
    if (req.userns) checkPodUserns(req.userns, ns as PodNamespaces, runtimeName, rt.inProcess);
    if (!existsSync(rt.binary))
      throw failedPrecondition(`runtime handler ${runtimeName}: binary ${rt.binary} does not exist`);
    const pause = this.#o.pauseBinary ?? pauseBinary();
    if (!existsSync(pause))
      throw failedPrecondition(`pause binary ${pause} does not exist (build it: scripts/build.sh)`);
    // Without one, the host's hostname, as containerd does: a pod's name may be longer than the
    // 64 bytes a hostname can have (critest's are 68), and a kubelet always gives one.
    const hostname = req.hostname || hostHostname();
    const id = randomBytes(32).toString('hex');
    const ownCgroupParent = !req.cgroupParent;
    const cgroupParent = req.cgroupParent || `${DEFAULT_CGROUP_ROOT}/${id}`;
    if (!cgroupParent.startsWith('/'))
      throw invalidArgument(
        `pod cgroup parent ${JSON.stringify(cgroupParent)}: expected an absolute cgroup path (cgroupfs driver)`,
      );
    const config: PodConfig = { request, hostname, cgroupParent, ownCgroupParent };
    // The row first: whatever is made below, a crash leaves a row that recovery releases from.
    this.#o.store.pods.insert({
      id,
      name: key,
      config,
      labels: req.labels ?? {},
      runtime: runtimeName,
      createdAt: new Date().toISOString(),
    });
    faultPoint('pod.recorded');
    try {
      await this.#lock.run(id, () => this.#start(id, rt, pause));
    } catch (e) {
      await this.#lock
        .run(id, () => this.#release(this.#o.store.pods.get(id)))
        .catch((x: Error) => this.#log(`release of pod ${id} after its failed run: ${x.message}`));
      await rm(this.#dir(id), { recursive: true, force: true });
      this.#removeCgroupParent(config);
      this.#o.store.pods.delete(id);
      throw e;
    }
    this.#o.events.publish('pod', 'start', id, { name: req.name, namespace: req.namespace, ...(req.labels ?? {}) });
    return id;
  }

  async #start(id: string, rt: RuntimeCli, pause: string): Promise<void> {
    const span = timingSpan('pod run', id);
    const p = this.#o.store.pods.get(id);
    const cfg = configOf(p);
    const req = cfg.request;
    const dir = this.#dir(id);
    const rootfs = join(dir, 'rootfs');
    await mkdir(rootfs, { recursive: true, mode: 0o711 });
    await Promise.all([mkdir(join(rootfs, 'proc')), mkdir(join(rootfs, 'dev')), writeFile(join(rootfs, 'pause'), '')]);
    const hostNet = req.namespaces?.network === 'node';
    await writeFile(join(dir, 'hostname'), `${cfg.hostname}\n`);
    await writeFile(join(dir, 'resolv.conf'), await this.#resolvConf(req, hostNet));
    await writeFile(join(dir, 'hosts'), hostsText(cfg.hostname, undefined));
    span.mark('dir, etc files');

    let netnsPath = '';
    const wired = !hostNet && this.#o.network.name !== 'none';
    if (wired) {
      netnsPath = await this.#o.network.createNetns(id);
      this.#o.store.pods.update(id, { netns: netnsPath });
      faultPoint('pod.netns-created');
      span.mark('netns created');
    }
    // The CNI ADD and the pause process's create are independent (the pause process only holds the
    // namespace, it never looks at the network), and each takes a few hundred ms: run at once. A
    // failure of either is released by run()'s cleanup; a crash leaves a not-ready row recovery
    // releases, whichever of the two got further.
    const network = (async () => {
      if (!wired) return;
      const result: AttachResult = await this.network.use(async (name) => {
        const r = await this.#o.network.attach(id, netnsPath, name, { portMappings: req.ports ?? [], aliases: [] });
        this.#o.store.pods.update(id, { network: { name, ...r } });
        return r;
      });
      faultPoint('pod.network-attached');
      span.mark('CNI attached');
      await writeFile(join(dir, 'hosts'), hostsText(cfg.hostname, result.ips[0]));
    })();
    const pauseProcess = (async () => {
      const spec = pauseSpec(id, cfg, netnsPath, pause);
      await writeFile(join(dir, 'config.json'), JSON.stringify(spec, null, 2), { mode: MODES.spec });
      await rt.delete(id);
      const stateDir = this.#stateDir(id);
      await rm(stateDir, { recursive: true, force: true });
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      span.mark('config.json, stale state');
      const h = await this.#o.supervisor.start({
        id,
        bundle: dir,
        runtimeBinary: rt.binary,
        runtimeRoot: rt.root,
        stateDir,
        logPath: join(dir, 'pause.log'),
        terminal: false,
        openStdin: false,
        driveCreate: rt.createDriver(id, dir),
      });
      this.#tasks.set(id, h);
      span.mark('shim started (runtime create)');
      await rt.start(id);
      faultPoint('pod.pause-started');
      span.mark('runtime start');
      return h;
    })();
    const [net, started] = await Promise.allSettled([network, pauseProcess]);
    if (net.status === 'rejected') throw net.reason;
    if (started.status === 'rejected') throw started.reason;
    const handle = started.value;
    const pid = await handle.processPid();
    this.#o.store.pods.update(id, { state: 'ready', pid, shimPid: handle.shimPid, error: '' });
    faultPoint('pod.ready');
    span.mark('recorded ready');
    this.#watch(id, handle);
  }

  async #resolvConf(req: PodRequest, hostNet: boolean): Promise<string> {
    const dns = req.dns;
    if (dns && (dns.servers.length || dns.searches.length || dns.options.length)) {
      const lines = [
        ...(dns.searches.length ? [`search ${dns.searches.join(' ')}`] : []),
        ...dns.servers.map((s) => `nameserver ${s}`),
        ...(dns.options.length ? [`options ${dns.options.join(' ')}`] : []),
      ];
      return `${lines.join('\n')}\n`;
    }
    const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    if (hostNet) return host;
    // A loopback resolver of the host is unreachable from the pod's network namespace.
    const lines = host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l));
    return `${lines.join('\n').trim()}\n`;
  }

  #watch(id: string, handle: TaskHandle): void {
    handle.waitExit().then(
      (exit) => this.#onExit(id, handle, exit),
      (e: Error) => this.#onExit(id, handle, undefined, `lost the pause process's shim: ${e.message}`),
    );
  }

  /** The pause process ended (killed from outside, or by stop): the pod is not ready any more. */
  #onExit(id: string, handle: TaskHandle, exit: TaskExit | undefined, error = ''): Promise<void> {
    return this.#lock.run(id, async () => {
      if (this.#closed || this.#tasks.get(id) !== handle) return;
      this.#tasks.delete(id);
      let p: PodRecord;
      try {
        p = this.#o.store.pods.get(id);
      } catch {
        return;
      }
      this.#o.store.pods.update(id, {
        state: 'notready',
        pid: 0,
        shimPid: 0,
        error: error || (exit ? `the pause process exited with ${exit.exitCode}` : ''),
      });
      await this.#release(p, handle);
      this.#o.events.publish('pod', 'die', id, { name: configOf(p).request.name });
    });
  }

  /** Releases what a pod holds on the host but its directory and row: pause process, shim, runtime state, network. */
  async #release(p: PodRecord, handle = this.#tasks.get(p.id)): Promise<void> {
    const rt = this.#runtime(p.runtime);
    this.#tasks.delete(p.id);
    if (p.state === 'ready' || handle) await rt.kill(p.id, 'SIGKILL').catch(() => {});
    if (handle) {
      await handle.waitExit().catch(() => {});
      await handle.cleanup().catch((e: Error) => this.#log(`shim cleanup of pod ${p.id}: ${e.message}`));
    } else {
      const h = await this.#o.supervisor.reconnect(this.#stateDir(p.id)).catch(() => undefined);
      if (h) await h.cleanup().catch(() => {});
    }
    await rm(this.#stateDir(p.id), { recursive: true, force: true });
    await rt.delete(p.id);
    const net = p.network as { name?: string };
    if (net.name) {
      await this.#o.network
        .detach(p.id, p.netns, net.name)
        .catch((e: Error) => this.#log(`detach pod ${p.id} from ${net.name}: ${e.message}`));
      await this.network
        .released(net.name)
        .catch((e: Error) => this.#log(`removing the replaced pod network ${net.name}: ${e.message}`));
    }
    if (p.netns)
      await this.#o.network
        .removeNetns(p.id)
        .catch((e: Error) => this.#log(`remove netns of pod ${p.id}: ${e.message}`));
    this.#o.store.pods.update(p.id, { state: 'notready', pid: 0, shimPid: 0, netns: '', network: {} });
  }

  #removeCgroupParent(cfg: PodConfig): void {
    if (cfg.ownCgroupParent) removeEmptyCgroups([cfg.cgroupParent, DEFAULT_CGROUP_ROOT]);
  }

  // ---------------------------------------------------------------- stop, remove

  /** Stops every container of the pod (SIGKILL after `timeoutSec`), then its pause process; releases its network. Idempotent. */
  async stop(word: string, timeoutSec = 0): Promise<void> {
    const p0 = this.#o.store.pods.find(word);
    for (const c of this.containersOf(p0.id)) {
      if (isLive(c.status))
        await this.#o.containers.stop(c.id, timeoutSec).catch((e) => {
          if (!isBerthError(e, 'BERTH_ERR_NOT_FOUND')) throw e;
        });
    }
    await this.#lock.run(p0.id, async () => {
      const p = this.#o.store.pods.get(p0.id);
      const wasReady = p.state === 'ready';
      await this.#release(p);
      if (wasReady) this.#o.events.publish('pod', 'stop', p.id, { name: configOf(p).request.name });
    });
  }

  /** Removes the pod's containers (by force), stops it, and removes its directory, cgroup parent and row. */
  async remove(word: string): Promise<void> {
    const p0 = this.#o.store.pods.find(word);
    for (const c of this.containersOf(p0.id))
      await this.#o.containers.remove(c.id, { force: true }).catch((e) => {
        if (!isBerthError(e, 'BERTH_ERR_NOT_FOUND')) throw e;
      });
    await this.#lock.run(p0.id, async () => {
      const p = this.#o.store.pods.get(p0.id);
      await this.#release(p);
      await rm(this.#dir(p.id), { recursive: true, force: true });
      this.#removeCgroupParent(configOf(p));
      this.#o.store.pods.delete(p.id);
    });
    this.#o.events.publish('pod', 'remove', p0.id, { name: configOf(p0).request.name });
  }

  // ---------------------------------------------------------------- queries

  /** The container rows of a pod, newest first. */
  containersOf(podId: string) {
    return this.#o.store.listContainers().filter((c) => c.config.request.sandbox?.podId === podId);
  }

  inspect(word: string): PodInfo {
    return this.#info(this.#o.store.pods.find(word));
  }

  list(): PodInfo[] {
    return this.#o.store.pods.list().map((p) => this.#info(p));
  }

  #info(p: PodRecord): PodInfo {
    const cfg = configOf(p);
    const net = p.network as { ips?: string[] };
    return {
      id: p.id,
      name: cfg.request.name,
      namespace: cfg.request.namespace,
      uid: cfg.request.uid,
      attempt: cfg.request.attempt ?? 0,
      state: p.state,
      createdAt: p.createdAt,
      labels: p.labels,
      annotations: cfg.request.annotations ?? {},
      hostname: cfg.hostname,
      ips: net.ips ?? [],
      namespaces: cfg.request.namespaces ?? { network: 'pod', pid: 'container', ipc: 'pod' },
      ...(cfg.request.userns ? { userns: cfg.request.userns } : {}),
      runtime: p.runtime,
      privileged: cfg.request.privileged === true,
      cgroupParent: cfg.cgroupParent,
      pid: p.pid,
      netns: p.netns,
      logDirectory: cfg.request.logDirectory ?? '',
      containers: this.containersOf(p.id).map((c) => c.id),
      error: p.error,
    };
  }

  // ---------------------------------------------------------------- containers of a pod

  /**
   * Creates a container in the pod: it joins the pod's namespaces, sits under its cgroup parent and
   * shares its /etc files. The pod must be ready (its pause process holds the namespaces).
   */
  async createContainer(
    podWord: string,
    member: {
      name: string;
      attempt: number;
      logPath?: string;
      /** The container's own PID namespace choice (the CRI's container namespace_options.pid); default the pod's. */
      pid?: { mode: 'pod' | 'container' | 'node' | 'target'; targetId?: string; field?: string };
    },
    req: Omit<
      CreateRequest,
      'sandbox' | 'name' | 'network' | 'hostname' | 'ports' | 'publishAll' | 'restart' | 'autoRemove'
    >,
  ): Promise<{ id: string; name: string }> {
    const p = this.#o.store.pods.find(podWord);
    if (p.state !== 'ready' || !p.pid)
      throw failedPrecondition(
        `pod sandbox ${p.id} is not ready (its pause process is not running): a container cannot join it`,
      );
    if (!NAME_RE.test(member.name))
      throw invalidArgument(`container name ${JSON.stringify(member.name)}: expected [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
    const cfg = configOf(p);
    const ns = cfg.request.namespaces ?? { network: 'pod', pid: 'container', ipc: 'pod' };
    const proc = (t: string) => `/proc/${p.pid}/ns/${t}`;
    const sandbox: SandboxMembership = {
      podId: p.id,
      name: member.name,
      attempt: member.attempt,
      join: [],
      host: [],
      cgroupsParent: cfg.cgroupParent,
      etcFiles: {
        hosts: join(this.#dir(p.id), 'hosts'),
        hostname: join(this.#dir(p.id), 'hostname'),
        resolvConf: join(this.#dir(p.id), 'resolv.conf'),
      },
      ...(member.logPath ? { logPath: member.logPath } : {}),
    };
    if (ns.network === 'node') sandbox.host.push('network');
    else sandbox.join.push({ type: 'network', path: p.netns || proc('net') });
    if (ns.ipc === 'node') sandbox.host.push('ipc');
    else sandbox.join.push({ type: 'ipc', path: proc('ipc') });
    // A host-network pod uses the host's UTS namespace too (as the kubelet expects of hostNetwork).
    if (ns.network === 'node') sandbox.host.push('uts');
    else sandbox.join.push({ type: 'uts', path: proc('uts') });
    const pid = member.pid?.mode ?? ns.pid;
    if (pid === 'node') sandbox.host.push('pid');
    else if (pid === 'pod') sandbox.join.push({ type: 'pid', path: proc('pid') });
    else if (pid === 'target') {
      // Another running container of the same pod (a kubelet's ephemeral debug container, say).
      const field = member.pid?.field ?? 'target_id';
      const target = member.pid?.targetId
        ? this.containersOf(p.id).find((c) => c.id === member.pid!.targetId)
        : undefined;
      if (!target)
        throw invalidArgument(
          `${field}: ${JSON.stringify(member.pid?.targetId ?? '')} is not a container of pod ${p.id}`,
        );
      const details = this.#o.containers.inspect(target.id);
      if (!details.state.running || !details.state.pid)
        throw failedPrecondition(`${field}: container ${target.id} is not running: its PID namespace cannot be joined`);
      sandbox.join.push({ type: 'pid', path: `/proc/${details.state.pid}/ns/pid` });
    }
    // The pod's user namespace, which owns its IPC, UTS and PID namespaces (the pause process made them in it).
    if (cfg.request.userns) sandbox.join.push({ type: 'user', path: proc('user') });
    // Without CAP_SYS_RESOURCE berthd cannot lower a process's OOM score below its own (containerd's
    // restrict_oom_score_adj): a kubelet's guaranteed pods ask for -997.
    const own = ownOomScore();
    if (req.oomScoreAdj !== undefined && own !== undefined && req.oomScoreAdj < own) req = { ...req, oomScoreAdj: own };
    const name = `${member.name}_${p.name}_${member.attempt}`.slice(0, 250);
    // The kubelet makes the pod's log directory; the container's subdirectory may be the runtime's to make.
    if (member.logPath) await mkdir(dirname(member.logPath), { recursive: true, mode: 0o755 });
    // The pod's runtime handler runs all of it: its containers too.
    const made = await this.#o.containers.create({
      ...req,
      name,
      hostname: cfg.hostname,
      runtime: p.runtime,
      ...(ns.network === 'node' ? { network: 'host' } : {}),
      // The kubelet probes a pod's containers itself; an image's HEALTHCHECK is docker's (containerd ignores it too).
      healthcheck: { test: ['NONE'] },
      sandbox,
    });
    return { id: made.id, name: made.name };
  }

  /** Starts a container; one of a pod only while the pod is ready (its namespaces are the pause process's). */
  async startContainer(word: string): Promise<void> {
    const c = this.#o.containers.resolve(word);
    const sb = c.config.request.sandbox;
    if (sb) {
      const p = this.#o.store.pods.get(sb.podId);
      if (p.state !== 'ready')
        throw failedPrecondition(
          `container ${c.id}: its pod sandbox ${p.id} is not ready (stopped, or its pause process ended); expected a ready pod`,
        );
    }
    await this.#o.containers.start(c.id);
  }

  /**
   * Has the shim of a running container of a pod reopen its CRI log (the kubelet renamed the file to
   * rotate it). The shim's directory is the container service's layout (<run-root>/shims/<id[:32]>).
   */
  async reopenContainerLog(word: string): Promise<void> {
    const c = this.#o.containers.resolve(word);
    if (c.status !== 'running' && c.status !== 'paused')
      throw failedPrecondition(`container ${c.id} is ${c.status}: only a running container's log can be reopened`);
    if (!c.config.request.sandbox?.logPath)
      throw failedPrecondition(`container ${c.id} has no CRI log (it was created without a log_path)`);
    const h = await this.#o.supervisor.reconnect(join(this.#o.runRoot, 'shims', c.id.slice(0, 32)));
    if (!h) throw failedPrecondition(`container ${c.id}: its shim is gone`);
    await h.reopenLog();
  }

  /**
   * Changes a running container's CPU and memory limits in place (the CRI's UpdateContainerResources).
   * The engine's one update verb (container-update.ts): checked as at create, recorded for the next start.
   */
  async updateContainerResources(
    word: string,
    r: Pick<CreateRequest, 'memory' | 'cpus' | 'cpuShares' | 'cpusetCpus' | 'cpusetMems'>,
  ): Promise<void> {
    const c = this.#o.containers.resolve(word);
    if (c.status !== 'running' && c.status !== 'paused')
      throw failedPrecondition(`container ${c.id} is ${c.status}: only a running container's resources can be updated`);
    await this.#o.containers.update(c.id, r);
  }

  /** Bytes and inodes of a container's writable layer (its active snapshot). */
  writableLayerUsage(word: string): Promise<{ size: number; inodes: number }> {
    return this.#o.images.snapshotter.usage(this.#o.containers.resolve(word).snapshotKey);
  }

  // ---------------------------------------------------------------- recovery

  /**
   * After berthd (re)starts: reconnects to the shims of ready pods; a pod whose pause process is
   * gone becomes notready and its network is released. Returns the ids of pods that still hold a
   * network namespace (the container service's recovery must not take those).
   */
  async recover(): Promise<string[]> {
    const holding: string[] = [];
    for (const p of this.#o.store.pods.list()) {
      if (p.state === 'ready') {
        const handle = await this.#o.supervisor.reconnect(this.#stateDir(p.id)).catch(() => undefined);
        if (handle && !handle.exitNow()) {
          this.#tasks.set(p.id, handle);
          this.#watch(p.id, handle);
          if (p.netns) holding.push(p.id);
          continue;
        }
        this.#log(`pod ${p.id}: its pause process ended while berthd was down; the pod is not ready`);
        this.#o.store.pods.update(p.id, { error: 'the pause process ended while berthd was down' });
      }
      // Not ready, or no longer: nothing of it may stay on the host (a crash may have left some).
      await this.#lock
        .run(p.id, () => this.#release(this.#o.store.pods.get(p.id), undefined))
        .catch((e: Error) => this.#log(`recovery of pod ${p.id}: ${e.message}`));
    }
    return holding;
  }

  close(): void {
    this.#closed = true;
  }
}

/** berthd's own oom_score_adj when it lacks CAP_SYS_RESOURCE (the floor for its containers); undefined when it may go lower. */
function ownOomScore(): number | undefined {
  try {
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (capEff && (BigInt(`0x${capEff}`) >> 24n) & 1n) return undefined;
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  } catch {
    return undefined;
  }
}

function hostsText(hostname: string, ip: string | undefined): string {
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip ? `${ip}\t${hostname}` : `127.0.1.1\t${hostname}`}\n`;
}

/** The pause process's OCI config: no image; the pod's namespaces are made here, for the containers to join. */
function pauseSpec(id: string, cfg: PodConfig, netnsPath: string, pause: string): RuntimeConfig {
  const ns = cfg.request.namespaces ?? { network: 'pod', pid: 'container', ipc: 'pod' };
  const spec = defaultSpec({ cgroupNamespace: false });
  spec.process = {
    ...spec.process!,
    terminal: false,
    user: { uid: 0, gid: 0 },
    args: ['/pause'],
    env: ['PATH=/'],
    cwd: '/',
    noNewPrivileges: true,
    capabilities: { bounding: [], effective: [], permitted: [] },
  };
  spec.root = { path: 'rootfs', readonly: true };
  spec.hostname = cfg.hostname;
  // Only what the runtimes need to start a process; /sys and mqueue are left out (a host-network
  // or host-IPC pod may not mount them).
  spec.mounts = (spec.mounts ?? []).filter((m) => m.destination === '/proc' || m.destination.startsWith('/dev'));
  spec.mounts = spec.mounts.filter((m) => m.destination !== '/dev/mqueue');
  spec.mounts.push({ destination: '/pause', type: 'bind', source: pause, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
  const linux = spec.linux!;
  linux.cgroupsPath = `${cfg.cgroupParent}/${id}`;
  if (cfg.request.sysctls && Object.keys(cfg.request.sysctls).length) linux.sysctl = { ...cfg.request.sysctls };
  linux.namespaces = (linux.namespaces ?? [])
    .filter(
      (n) =>
        !(n.type === 'network' && ns.network === 'node') &&
        !(n.type === 'ipc' && ns.ipc === 'node') &&
        !(n.type === 'pid' && ns.pid === 'node') &&
        !(n.type === 'uts' && ns.network === 'node'),
    )
    .map((n) => (n.type === 'network' && netnsPath ? { type: 'network', path: netnsPath } : n));
  if (ns.network === 'node') delete spec.hostname;
  const userns = cfg.request.userns;
  if (userns) {
    // Made by clone together with the pod's IPC, UTS and PID namespaces, so the user namespace owns
    // them and the containers that join it may mount mqueue and proc there; the network namespace
    // (berthd's, for CNI) stays the host's.
    linux.namespaces.push({ type: 'user' });
    linux.uidMappings = userns.uidMappings.map((m) => ({ ...m }));
    linux.gidMappings = userns.gidMappings.map((m) => ({ ...m }));
  }
  spec.annotations = { 'org.berth.pod.id': id, 'org.berth.pod.name': cfg.request.name };
  return spec;
}

/**
 * A pod's user namespace as Kubernetes asks for one: one uid and one gid range with the pod's root
 * (container id 0) in it, within 32 bits, never together with the host's network, PID or IPC
 * namespace (Kubernetes refuses hostUsers false with those), and on a runtime class that is
 * berth-runtime: its containers join the user namespace after the host-owned network namespace
 * (docs/cri.md), which a runtime that joins the user namespace first cannot do.
 */
function checkPodUserns(u: PodUserns, ns: PodNamespaces, runtime: string, inProcess: boolean): void {
  for (const k of ['uidMappings', 'gidMappings'] as const) {
    const list = u[k];
    if (!Array.isArray(list) || list.length !== 1)
      throw invalidArgument(
        `pod userns.${k}: ${Array.isArray(list) ? list.length : 'no'} mappings (expected exactly one range)`,
      );
    const m = list[0]!;
    for (const f of ['containerID', 'hostID', 'size'] as const)
      if (!Number.isInteger(m[f]) || m[f] < 0 || m[f] > 0xffffffff)
        throw invalidArgument(`pod userns.${k}[0].${f}: ${m[f]} (expected an integer 0-4294967295)`);
    if (m.containerID !== 0)
      throw invalidArgument(
        `pod userns.${k}[0].containerID: ${m.containerID} (expected 0: the pod's root must be mapped)`,
      );
    if (m.size < 1 || m.hostID + m.size > 0xffffffff)
      throw invalidArgument(
        `pod userns.${k}[0]: host ids ${m.hostID}+${m.size} (expected a range of 1 or more within 32 bits)`,
      );
  }
  for (const t of ['network', 'pid', 'ipc'] as const)
    if (ns[t] === 'node')
      throw invalidArgument(
        `pod userns: a pod in a user namespace of its own cannot use the host's ${t} namespace (namespaces.${t} node)`,
      );
  if (!inProcess)
    throw failedPrecondition(
      `pod userns: runtime handler ${runtime} cannot join a pod's user namespace after the pod's network namespace (expected berth-runtime)`,
    );
}
