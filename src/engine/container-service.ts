// Containers and their tasks: create (image → overlay snapshot → OCI bundle), start (mount the
// rootfs, network namespace and attachments, a shim that runs the runtime's create, then the
// runtime's start), stop/kill/wait, exit handling (record, clean up, restart policy), exec, pause,
// resume, stats, top, logs, and removal. The metadata row is the record; the shim's exit.json is the
// truth about the process (docs/engine.md).
//
// Lifecycle of the host resources a container holds, all made at start and released when its task
// exits (so a stopped container holds nothing but its snapshot, its directory and its row):
//   rootfs mount <root>/containers/<id>/rootfs, network namespace + attachments, shim + runtime state.
// Must never: leave one of those behind on a failed start, or restart a container the user stopped.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { failedPrecondition, invalidArgument, isBerthError, notFound } from '../errors/errors.ts';
import type { ImageService } from '../images/image-service.ts';
import type { ContainerRecord, MetadataStore } from '../metadata/metadata-store.ts';
import type { Mount, RuntimeConfig } from '../oci/runtime-spec.ts';
import { mountAll, unmountAll } from '../snapshots/mount.ts';
import { isMountPoint } from '../sys/mountinfo.ts';
import { procStat } from '../sys/procfs.ts';
import { readLogs } from './container-logs.ts';
import type { EventBus } from './event-bus.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import type { NetworkBackend } from './network-backend.ts';
import { faultPoint } from './fault-points.ts';
import { allocateHostPort, hostPortFree } from '../network/port-allocator.ts';
import { timingOn, timingSpan } from './timing.ts';
import { RuntimeCli } from './runtime-cli.ts';
import { prepareProcess } from './process-setup.ts';
import { buildSpec, parseRestartPolicy } from './spec-builder.ts';
import type { RuntimeClass } from './runtime-classes.ts';
import type { TaskExit, TaskHandle, TaskSupervisor } from './task-supervisor.ts';
import type { ContainerDetails, ContainerFilter, ContainerSummary, CreateRequest, ExecRequest, ExitResult, LogLine, LogOptions, PortBindings, PortMapping, StatsResult, TopResult } from './types.ts';
import type { VolumeService } from './volume-service.ts';

export type ContainerServiceOptions = {
  root: string;
  runRoot: string;
  store: MetadataStore;
  images: ImageService;
  events: EventBus;
  volumes: VolumeService;
  network: NetworkBackend;
  supervisor: TaskSupervisor;
  /** Runtime class name → binary path. */
  runtimes: Record<string, RuntimeClass>;
  defaultRuntime: string;
  log?: (msg: string) => void;
};

type ExecEntry = { id: string; containerId: string; handle: TaskHandle; logPath: string; exit?: TaskExit; tty: boolean };

const SNAPSHOT_PREFIX = 'berth-container-';
/** How long an exec's output waits for the client that said it attaches (one that died must not block the process for long). */
const EXEC_ATTACH_WAIT_MS = 10_000;
const ADJ = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'nimble', 'quiet', 'sharp', 'swift', 'witty', 'bold', 'clever', 'gentle', 'happy'];
const NOUN = ['otter', 'heron', 'lynx', 'puffin', 'marten', 'ibis', 'wren', 'gecko', 'tern', 'vole', 'kestrel', 'newt', 'stoat', 'plover', 'dunlin', 'skua'];

/** berthd's own hard RLIMIT_NOFILE: raising a container above it needs CAP_SYS_RESOURCE, which berthd may lack. */
function hostNofile(): number {
  try {
    const m = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m?.[1] === 'unlimited' || !m ? 1048576 : Math.min(1048576, Number(m[1]));
  } catch {
    return 1048576;
  }
}

function timeSince(iso: string | null): string {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${Math.floor(s)} second${Math.floor(s) === 1 ? '' : 's'}`;
  if (s < 3600) return `${Math.floor(s / 60)} minute${Math.floor(s / 60) === 1 ? '' : 's'}`;
  if (s < 86400) return `${Math.floor(s / 3600)} hour${Math.floor(s / 3600) === 1 ? '' : 's'}`;
  return `${Math.floor(s / 86400)} days`;
}

export class ContainerService {
  readonly #o: ContainerServiceOptions;
  readonly #lock = new KeyedMutex();
  readonly #tasks = new Map<string, TaskHandle>();
  readonly #waiters = new Map<string, ((r: ExitResult) => void)[]>();
  /** `wait --condition removed` callers: settled once the container is wholly gone (or its auto-removal failed). */
  readonly #removalWaiters = new Map<string, { resolve: (r: ExitResult) => void; reject: (e: unknown) => void }[]>();
  /** Exits of containers already removed (run --rm): a late `wait` still learns the status. */
  readonly #recentExits = new Map<string, ExitResult>();
  readonly #removing = new Set<string>();
  readonly #readers = new Map<string, number>();
  readonly #restartTimers = new Map<string, NodeJS.Timeout>();
  readonly #execs = new Map<string, ExecEntry>();
  readonly #namesInFlight = new Set<string>();
  /** Starts under way: their runtime may be between making /berth and /berth/<id> (see #pruneCgroupParent). */
  #startsInFlight = 0;
  #closed = false;

  constructor(o: ContainerServiceOptions) {
    this.#o = o;
  }

  #dir(id: string): string {
    return join(this.#o.root, 'containers', id);
  }
  /** Half the id: the shim's attach socket path must fit in sun_path (108 bytes) under any run root. */
  #stateDir(id: string): string {
    return join(this.#o.runRoot, 'shims', id.slice(0, 32));
  }
  #logPath(id: string): string {
    // A pod's container logs where its kubelet reads, in the CRI format (CreateRequest.sandbox.logPath).
    const cri = (this.#o.store.getContainer(id).config as { request: CreateRequest }).request.sandbox?.logPath;
    return cri || join(this.#dir(id), `${id}-json.log`);
  }
  #runtime(name: string): RuntimeCli {
    const cls = this.#o.runtimes[name];
    if (!cls) throw invalidArgument(`runtime ${JSON.stringify(name)}: unknown; expected one of ${Object.keys(this.#o.runtimes).join(', ')}`);
    return new RuntimeCli(cls.path, join(this.#o.runRoot, 'runtime', name), { inProcess: cls.inProcess });
  }
  #log(msg: string): void {
    this.#o.log?.(msg);
  }
  #attrs(c: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { name: c.name, image: c.imageRef, ...c.labels, ...extra };
  }

  // ---------------------------------------------------------------- create

  async create(req: CreateRequest): Promise<{ id: string; name: string; warnings: string[] }> {
    if (!req || typeof req.image !== 'string' || req.image === '') throw invalidArgument('create: "image" is required (expected an image reference)');
    const restart = parseRestartPolicy(req.restart);
    if (req.autoRemove && restart.name !== 'no') throw invalidArgument(`--rm and --restart ${req.restart} conflict: a removed container cannot be restarted`);
    const runtimeName = req.runtime ?? this.#o.defaultRuntime;
    const rt = this.#runtime(runtimeName);
    if (!existsSync(rt.binary)) throw failedPrecondition(`runtime ${runtimeName}: binary ${rt.binary} does not exist`);
    if (req.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(req.name)) throw invalidArgument(`container name ${JSON.stringify(req.name)}: expected [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
    if (req.network && req.network !== 'host' && req.network !== 'none') await this.#o.network.inspect(req.network);
    if ((req.ports?.length || req.publishAll) && (req.network === 'host' || req.network === 'none')) throw invalidArgument(`-p/-P: ports cannot be published on network ${req.network}`);
    for (const p of req.ports ?? []) {
      if (!(p.containerPort > 0 && p.containerPort < 65536) || !(p.hostPort >= 0 && p.hostPort < 65536)) throw invalidArgument(`port mapping ${JSON.stringify(p)}: expected ports in 1-65535`);
    }

    const span = timingSpan('create', req.name ?? req.image);
    let image: Awaited<ReturnType<ImageService['inspect']>>;
    try {
      image = await this.#o.images.inspect(req.image);
    } catch (e) {
      if (isBerthError(e, 'BERTH_ERR_NOT_FOUND')) throw notFound(`no such image: ${req.image} (pull or load it first)`, e);
      throw e;
    }
    if (!image.unpacked) throw failedPrecondition(`image ${image.name} is not unpacked; pull it again to unpack its layers`);
    const ports = [...(req.ports ?? [])];
    // -P: every port the image exposes, on a host port picked at start (as hostPort 0 always is).
    if (req.publishAll) {
      for (const k of Object.keys(image.config.config?.ExposedPorts ?? {})) {
        const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(k);
        if (!m) continue;
        const containerPort = Number(m[1]);
        const protocol = (m[2] ?? 'tcp') as 'tcp' | 'udp';
        if (!ports.some((p) => p.containerPort === containerPort && p.protocol === protocol)) ports.push({ hostIP: '127.0.0.1', hostPort: 0, containerPort, protocol });
      }
    }
    // Until the row exists, nothing else holds the image: a lease keeps an rmi -f plus prune from
    // collecting its content (its layers are kept by the snapshot prepared on them).
    const release = await this.#o.images.lease('create', [image.target.digest]);
    span.mark('image resolved');

    const id = randomBytes(32).toString('hex');
    const name = req.name ?? this.#generateName();
    // A generated name is free in the store but not yet in it: other creates under way must not
    // draw it too (16 × 16 names: 50 creates at once collided).
    this.#namesInFlight.add(name);
    const dir = this.#dir(id);
    const snapshotKey = `${SNAPSHOT_PREFIX}${id}`;
    let prepared = false;
    try {
      await mkdir(join(dir, 'rootfs'), { recursive: true, mode: 0o711 });
      faultPoint('create.dir-made');
      // The bundle's files and the snapshot are independent: made at once (a crash leaves either or
      // both without a row, which recovery removes).
      const snapshot = this.#o.images.snapshotter.prepare(snapshotKey, image.chainId, { labels: { 'berth.container': id } }).then(() => {
        prepared = true;
        faultPoint('create.snapshot-prepared');
        span.mark('snapshot prepared');
      });
      const bundle = (async () => {
        const hostname = req.hostname ?? id.slice(0, 12);
        // hosts.base is the container's own part; `hosts` (bind-mounted) is it plus its networks' names.
        const hostsBase = `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`;
        await Promise.all([
          writeFile(join(dir, 'hostname'), `${hostname}\n`),
          writeFile(join(dir, 'hosts.base'), hostsBase),
          writeFile(join(dir, 'hosts'), hostsBase),
          this.#resolvConf(req.network).then((text) => writeFile(join(dir, 'resolv.conf'), text)),
        ]);
        const mounts = await this.#resolveMounts(req.mounts ?? []);
        const spec = buildSpec({
          id,
          request: { ...req, name, ...(ports.length ? { ports } : {}) },
          image: image.config.config ?? {},
          etcFiles: { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: join(dir, 'resolv.conf') },
          mounts,
          nofile: hostNofile(),
        });
        await writeFile(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
        faultPoint('create.config-written');
        span.mark('dir, etc files, spec, config.json');
        return spec;
      })();
      const [snap, made] = await Promise.allSettled([snapshot, bundle]);
      if (made.status === 'rejected') throw made.reason;
      if (snap.status === 'rejected') throw snap.reason;
      const spec = made.value;
      this.#o.store.insertContainer({
        id,
        name,
        imageRef: req.image,
        imageId: image.target.digest,
        config: { request: { ...req, name, ...(ports.length ? { ports } : {}) }, spec },
        labels: req.labels ?? {},
        runtime: runtimeName,
        snapshotKey,
        createdAt: new Date().toISOString(),
        restartPolicy: restart.name,
        restartMax: restart.max,
      });
    } catch (e) {
      if (prepared) await this.#o.images.snapshotter.remove(snapshotKey).catch(() => {});
      await rm(dir, { recursive: true, force: true });
      throw e;
    } finally {
      this.#namesInFlight.delete(name);
      await release();
    }
    faultPoint('create.recorded');
    span.mark(`row inserted (id ${id.slice(0, 12)})`);
    this.#o.events.publish('container', 'create', id, { name, image: req.image, ...(req.labels ?? {}) });
    return { id, name, warnings: [] };
  }

  #generateName(): string {
    for (let i = 0; i < 100; i++) {
      const n = `${ADJ[Math.floor(Math.random() * ADJ.length)]}_${NOUN[Math.floor(Math.random() * NOUN.length)]}${i > 10 ? `_${i}` : ''}`;
      if (this.#namesInFlight.has(n)) continue;
      try {
        this.#o.store.findContainer(n);
      } catch {
        return n;
      }
    }
    return `berth_${randomBytes(4).toString('hex')}`;
  }

  async #resolvConf(network: string | undefined): Promise<string> {
    const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    // A loopback resolver of the host (systemd-resolved, dnsmasq) is unreachable from a container netns.
    const lines = host.split('\n').filter((l) => !(network !== 'host' && /^\s*nameserver\s+(127\.|::1)/.test(l)));
    if (!lines.some((l) => /^\s*nameserver/.test(l)) && network !== 'host') lines.push('nameserver 8.8.8.8');
    return `${lines.join('\n').trim()}\n`;
  }

  async #resolveMounts(reqs: CreateRequest['mounts'] & object): Promise<Mount[]> {
    const out: Mount[] = [];
    for (const m of reqs) {
      if (!m.target?.startsWith('/')) throw invalidArgument(`mount target ${JSON.stringify(m.target)}: expected an absolute path inside the container`);
      const ro = m.readOnly ? ['ro'] : [];
      if (m.type === 'volume') {
        if (!m.source) throw invalidArgument(`volume mount on ${m.target}: a volume name is required`);
        const v = await this.#o.volumes.ensure(m.source);
        out.push({ destination: m.target, type: 'bind', source: v.mountpoint, options: ['rbind', 'rprivate', ...ro] });
      } else if (m.type === 'bind') {
        if (!m.source?.startsWith('/')) throw invalidArgument(`bind mount on ${m.target}: source ${JSON.stringify(m.source)} must be an absolute host path`);
        if (!existsSync(m.source)) throw invalidArgument(`bind mount on ${m.target}: source ${m.source} does not exist on the host`);
        out.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', 'rprivate', ...ro] });
      } else if (m.type === 'tmpfs') {
        out.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.options ?? ['mode=1777']), ...ro] });
      } else throw invalidArgument(`mount type ${JSON.stringify((m as { type: string }).type)}: expected volume, bind or tmpfs`);
    }
    return out;
  }

  // ---------------------------------------------------------------- queries

  resolve(word: string): ContainerRecord {
    return this.#o.store.findContainer(word);
  }

  #summary(c: ContainerRecord): ContainerSummary {
    const spec = (c.config as { spec: RuntimeConfig }).spec;
    let statusText = 'Created';
    if (c.status === 'running') statusText = `Up ${timeSince(c.startedAt)}`;
    else if (c.status === 'paused') statusText = `Up ${timeSince(c.startedAt)} (Paused)`;
    else if (c.status === 'stopped') statusText = this.#restartTimers.has(c.id) ? `Restarting (${c.exitCode ?? 0}) ${timeSince(c.finishedAt)} ago` : `Exited (${c.exitCode ?? 0}) ${timeSince(c.finishedAt)} ago`;
    return {
      id: c.id,
      name: c.name,
      image: c.imageRef,
      imageId: c.imageId,
      command: (spec.process?.args ?? []).join(' '),
      createdAt: c.createdAt,
      status: c.status,
      statusText,
      exitCode: c.exitCode,
      labels: c.labels,
      ports: c.status === 'running' || c.status === 'paused' ? this.#livePorts(c.id) : [],
      runtime: c.runtime,
    };
  }

  list(f: ContainerFilter = {}): ContainerSummary[] {
    const filters = f.filters ?? {};
    const out: ContainerSummary[] = [];
    for (const c of this.#o.store.listContainers()) {
      if (!f.all && c.status !== 'running' && c.status !== 'paused' && !filters.status) continue;
      if (!this.#matches(c, filters)) continue;
      out.push(this.#summary(c));
    }
    return out;
  }

  #matches(c: ContainerRecord, filters: Record<string, string[]>): boolean {
    for (const [k, vals] of Object.entries(filters)) {
      if (vals.length === 0) continue;
      const ok = vals.some((v) => {
        switch (k) {
          case 'id':
            return c.id.startsWith(v);
          case 'name':
            return c.name.includes(v);
          case 'status':
            return v === c.status || (v === 'exited' && c.status === 'stopped');
          case 'label': {
            const eq = v.indexOf('=');
            return eq < 0 ? v in c.labels : c.labels[v.slice(0, eq)] === v.slice(eq + 1);
          }
          case 'ancestor':
            return c.imageRef === v || c.imageId.startsWith(v) || c.imageId === `sha256:${v}`;
          case 'exited':
            return c.status === 'stopped' && String(c.exitCode) === v;
          case 'runtime':
            return c.runtime === v;
          default:
            throw invalidArgument(`filter ${JSON.stringify(k)}: expected one of id, name, status, label, ancestor, exited, runtime`);
        }
      });
      if (!ok) return false;
    }
    return true;
  }

  inspect(word: string): ContainerDetails {
    const c = this.resolve(word);
    const req = (c.config as { request: CreateRequest }).request;
    const spec = (c.config as { spec: RuntimeConfig }).spec;
    const networks: Record<string, unknown> = {};
    for (const a of this.#o.store.attachments(c.id)) networks[a.network] = a.result;
    return {
      ...this.#summary(c),
      state: {
        status: c.status,
        running: c.status === 'running' || c.status === 'paused',
        paused: c.status === 'paused',
        restarting: this.#restartTimers.has(c.id),
        oomKilled: c.oomKilled,
        pid: c.pid,
        shimPid: c.shimPid,
        exitCode: c.exitCode,
        error: c.error,
        startedAt: c.startedAt,
        finishedAt: c.finishedAt,
      },
      restartPolicy: { name: c.restartPolicy, maximumRetryCount: c.restartMax },
      restartCount: c.restartCount,
      request: req,
      spec,
      bundle: this.#dir(c.id),
      rootfs: join(this.#dir(c.id), 'rootfs'),
      logPath: this.#logPath(c.id),
      networks,
      networkSettings: { ports: this.#portBindings(c, req) },
      mounts: (req.mounts ?? []).map((m) => ({ type: m.type, source: m.source ?? '', destination: m.target, readOnly: m.readOnly === true })),
    };
  }

  /** The mappings the container's attachments published (allocated host ports filled in). */
  #livePorts(id: string): PortMapping[] {
    return this.#o.store.attachments(id).flatMap((a) => ((a.result as { portMappings?: PortMapping[] }).portMappings ?? []).map((p) => ({ ...p, hostIP: p.hostIP === '' ? '0.0.0.0' : p.hostIP })));
  }

  /** docker's NetworkSettings.Ports: every requested port, with its host bindings while the container runs. */
  #portBindings(c: ContainerRecord, req: CreateRequest): PortBindings {
    if (c.status !== 'running' && c.status !== 'paused') return {};
    const out: PortBindings = {};
    for (const p of req.ports ?? []) out[`${p.containerPort}/${p.protocol}`] ??= null;
    for (const p of this.#livePorts(c.id)) {
      const k = `${p.containerPort}/${p.protocol}`;
      out[k] = [...(out[k] ?? []), { hostIp: p.hostIP, hostPort: String(p.hostPort) }];
    }
    return out;
  }

  /**
   * The mappings to publish now. Host port 0 (`-p 80`, `-P`) becomes the port this container was
   * given before, while it is still free on the host (restarts keep their port), else a new one from
   * the ephemeral range, recorded in the metadata database before it is published (claimPort: one
   * container per host port, even against a concurrent start). The rows go with the container.
   */
  async #publishedPorts(c: ContainerRecord, ports: PortMapping[]): Promise<PortMapping[]> {
    if (!ports.some((p) => p.hostPort === 0)) return ports;
    const mine = this.#o.store.portAllocations(c.id);
    const out: PortMapping[] = [];
    for (const p of ports) {
      if (p.hostPort !== 0) {
        out.push(p);
        continue;
      }
      const prev = mine.find((a) => a.containerPort === p.containerPort && a.protocol === p.protocol && a.hostIP === p.hostIP);
      if (prev && (await hostPortFree(p.hostIP, prev.hostPort, p.protocol))) {
        out.push({ ...p, hostPort: prev.hostPort });
        continue;
      }
      for (;;) {
        const taken = this.#takenPorts(p.protocol, out);
        const hostPort = await allocateHostPort({ taken: (x) => taken.has(x), free: (x) => hostPortFree(p.hostIP, x, p.protocol) });
        if (this.#o.store.claimPort({ containerId: c.id, containerPort: p.containerPort, protocol: p.protocol, hostIP: p.hostIP, hostPort })) {
          out.push({ ...p, hostPort });
          break;
        }
      }
    }
    return out;
  }

  /** Host ports of `protocol` berth already hands out: allocations, and every container's explicit -p H:C. */
  #takenPorts(protocol: string, alsoThese: PortMapping[]): Set<number> {
    const taken = new Set(this.#o.store.portAllocations().filter((a) => a.protocol === protocol).map((a) => a.hostPort));
    for (const c of this.#o.store.listContainers()) {
      for (const p of (c.config as { request: CreateRequest }).request.ports ?? []) if (p.hostPort !== 0 && p.protocol === protocol) taken.add(p.hostPort);
    }
    for (const p of alsoThese) if (p.protocol === protocol) taken.add(p.hostPort);
    return taken;
  }

  // ---------------------------------------------------------------- start

  async start(word: string): Promise<void> {
    const c0 = this.resolve(word);
    await this.#lock.run(c0.id, async () => {
      const c = this.#o.store.getContainer(c0.id);
      if (c.status === 'running' || c.status === 'paused') throw failedPrecondition(`container ${c.name} is already running`);
      this.#cancelRestart(c.id);
      this.#o.store.updateState(c.id, { manuallyStopped: false });
      await this.#startTask(c);
    });
  }

  /** Starts the container with a client attached before its process runs: no output is missed. */
  async startAttached(word: string): Promise<Duplex> {
    const c0 = this.resolve(word);
    let stream: Duplex | undefined;
    await this.#lock.run(c0.id, async () => {
      const c = this.#o.store.getContainer(c0.id);
      if (c.status === 'running' || c.status === 'paused') throw failedPrecondition(`container ${c.name} is already running`);
      this.#cancelRestart(c.id);
      this.#o.store.updateState(c.id, { manuallyStopped: false });
      try {
        await this.#startTask(c, async (h) => {
          stream = await h.attach();
        });
      } catch (e) {
        stream?.destroy();
        throw e;
      }
    });
    return stream!;
  }

  /**
   * `run` in one call: create, then start (with a client attached before the process runs, when
   * `attach`), so the CLI makes one request where it made two. A start that fails leaves the
   * container created, as docker's run does, except under --rm, which removes it.
   */
  async run(req: CreateRequest, o: { attach: true }): Promise<{ id: string; name: string; stream: Duplex }>;
  async run(req: CreateRequest, o: { attach: false }): Promise<{ id: string; name: string }>;
  async run(req: CreateRequest, o: { attach: boolean }): Promise<{ id: string; name: string; stream?: Duplex }> {
    const { id, name } = await this.create(req);
    try {
      if (o.attach) return { id, name, stream: await this.startAttached(id) };
      await this.start(id);
      return { id, name };
    } catch (e) {
      if (req.autoRemove) await this.remove(id, { force: true }).catch((x) => this.#log(`remove ${id} after its failed start: ${(x as Error).message}`));
      throw e;
    }
  }

  async #startTask(c: ContainerRecord, beforeStart?: (h: TaskHandle) => Promise<void>): Promise<void> {
    const id = c.id;
    const dir = this.#dir(id);
    const rootfs = join(dir, 'rootfs');
    const req = (c.config as { request: CreateRequest }).request;
    const spec = structuredClone((c.config as { spec: RuntimeConfig }).spec);
    const rt = this.#runtime(c.runtime);
    const network = req.network ?? this.#o.network.defaultNetwork;
    // A pod's container joins the pod's network namespace (req.sandbox): the pod service wired it.
    const useNetns = !req.sandbox && network !== 'host' && network !== 'none' && this.#o.network.name !== 'none';
    let handle: TaskHandle | undefined;
    let netnsMade = false;
    const attached: string[] = [];
    const span = timingSpan('start', id);
    this.#startsInFlight++;
    try {
      await mkdir(rootfs, { recursive: true });
      if (!isMountPoint(rootfs)) await mountAll(await this.#o.images.snapshotter.mounts(c.snapshotKey), rootfs);
      faultPoint('start.rootfs-mounted');
      span.mark('rootfs mounted');
      prepareProcess(rootfs, spec.process!, req.user);
      if (useNetns) {
        const netns = await this.#o.network.createNetns(id);
        netnsMade = true;
        faultPoint('start.netns-created');
        spec.linux!.namespaces = (spec.linux!.namespaces ?? []).map((n) => (n.type === 'network' ? { type: 'network', path: netns } : n));
        const result = await this.#o.network.attach(id, netns, network, { portMappings: await this.#publishedPorts(c, req.ports ?? []), aliases: [c.name] });
        attached.push(network);
        this.#o.store.putAttachment(id, network, result);
        faultPoint('start.network-attached');
        await this.#refreshHosts(network);
      }
      await writeFile(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
      faultPoint('start.config-written');
      span.mark('user, network, config.json');
      await rt.delete(id);
      const stateDir = this.#stateDir(id);
      await rm(stateDir, { recursive: true, force: true });
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      span.mark('stale runtime state, shim dir');
      handle = await this.#o.supervisor.start({
        id,
        bundle: dir,
        runtimeBinary: rt.binary,
        runtimeRoot: rt.root,
        stateDir,
        logPath: this.#logPath(id),
        ...(req.sandbox?.logPath ? { logFormat: 'cri' as const } : {}),
        terminal: req.tty === true,
        openStdin: req.openStdin === true,
      });
      span.mark('shim started (runtime create)');
      if (beforeStart) await beforeStart(handle);
      span.mark('before start (attach)');
      await rt.start(id);
      faultPoint('start.runtime-started');
      span.mark('runtime start');
      const pid = await handle.processPid();
      this.#tasks.set(id, handle);
      this.#o.store.updateState(id, { status: 'running', pid, shimPid: handle.shimPid, startedAt: new Date().toISOString(), finishedAt: null, exitCode: null, oomKilled: false, error: '' });
      faultPoint('start.recorded');
      span.mark('recorded running');
      this.#watch(id, handle);
    } catch (e) {
      this.#log(`start ${id}: ${(e as Error).message}; cleaning up`);
      if (handle) {
        await rt.kill(id, 'SIGKILL', true).catch(() => {});
        await handle.cleanup().catch(() => {});
      }
      await rt.delete(id);
      await this.#releaseNetwork(id, attached, netnsMade);
      try {
        unmountAll(rootfs);
      } catch {}
      this.#o.store.updateState(id, { status: c.status === 'created' ? 'created' : 'stopped', pid: 0, shimPid: 0, error: (e as Error).message });
      throw e;
    } finally {
      this.#startsInFlight--;
    }
    this.#o.events.publish('container', 'start', id, this.#attrs(c));
  }

  /**
   * Name resolution on a user network: every container attached to it gets, in its bind-mounted
   * hosts file, the names of all of them. The file is rewritten in place (same inode), so running
   * containers see a newcomer at once; a container without hosts.base (made before) is left alone.
   */
  async #refreshHosts(network: string): Promise<void> {
    try {
      const names = await this.#o.network.hostsFile(network);
      for (const cid of this.#o.store.containersOnNetwork(network)) {
        const base = await readFile(join(this.#dir(cid), 'hosts.base'), 'utf8').catch(() => undefined);
        if (base !== undefined) await writeFile(join(this.#dir(cid), 'hosts'), `${base}${names}`);
      }
    } catch (e) {
      this.#log(`hosts of network ${network}: ${(e as Error).message}`);
    }
  }

  async #releaseNetwork(id: string, networks: string[], netns: boolean): Promise<void> {
    const nsPath = join(this.#o.runRoot, 'netns', id);
    for (const n of networks) {
      await this.#o.network.detach(id, nsPath, n).catch((e) => this.#log(`detach ${id} from ${n}: ${(e as Error).message}`));
      this.#o.store.removeAttachment(id, n);
      await this.#refreshHosts(n);
    }
    if (netns) await this.#o.network.removeNetns(id).catch((e) => this.#log(`remove netns of ${id}: ${(e as Error).message}`));
  }

  #watch(id: string, handle: TaskHandle): void {
    handle.waitExit().then(
      (exit) => this.#onExit(id, handle, exit),
      (e) => this.#onExit(id, handle, { exitCode: 255, signal: null, exitedAt: new Date().toISOString(), oomKilled: false }, `lost the shim: ${(e as Error).message}`),
    );
  }

  // ---------------------------------------------------------------- exit handling

  #onExit(id: string, handle: TaskHandle | undefined, exit: TaskExit, error = ''): Promise<void> {
    const span = timingSpan('exit', id);
    if (timingOn) span.mark(`noticed ${(Date.now() - Date.parse(exit.exitedAt)).toFixed(0)}ms after the shim's exitedAt`);
    return this.#lock.run(id, async () => {
      if (this.#closed) return;
      if (handle && this.#tasks.get(id) !== handle) return;
      this.#tasks.delete(id);
      let c: ContainerRecord;
      try {
        c = this.#o.store.getContainer(id);
      } catch {
        return;
      }
      // Recorded before anything is released: releasing removes the shim's exit.json, and a crash
      // after that but before the record would leave recovery only "lost, 255". A stopped row whose
      // resources are still held is what recovery already releases.
      c = this.#o.store.updateState(id, { status: 'stopped', pid: 0, shimPid: 0, exitCode: exit.exitCode, oomKilled: exit.oomKilled, finishedAt: exit.exitedAt, error });
      faultPoint('exit.recorded');
      span.mark('recorded stopped');
      await this.#releaseTask(c, handle, span);
      span.mark('released');
      this.#o.events.publish('container', 'die', id, this.#attrs(c, { exitCode: String(exit.exitCode) }));
      if (exit.oomKilled) this.#o.events.publish('container', 'oom', id, this.#attrs(c));
      const result: ExitResult = { exitCode: exit.exitCode, signal: exit.signal, oomKilled: exit.oomKilled, finishedAt: exit.exitedAt };
      const req = (c.config as { request: CreateRequest }).request;
      const willRestart = !this.#removing.has(id) && !req.autoRemove && this.#shouldRestart(c);
      if (!willRestart) this.#resolveWaiters(id, result);
      if (req.autoRemove && !this.#removing.has(id)) {
        this.#recentExits.set(id, result);
        setTimeout(() => this.#recentExits.delete(id), 60_000).unref();
        void this.#autoRemove(id);
        return;
      }
      if (willRestart) this.#scheduleRestart(c);
      else this.#pruneCgroupParent();
    });
  }

  /** Releases the host resources of a task that has exited: runtime state, shim, network, rootfs mount. */
  async #releaseTask(c: ContainerRecord, handle: TaskHandle | undefined, span = timingSpan('release', c.id)): Promise<void> {
    // Three independent strands at once (each step is one recovery redoes if berthd dies midway,
    // in any combination: a stopped row's mount, shim state and attachments are each released at
    // start): the runtime's state then the rootfs (processes first, then their root), the shim,
    // and the network.
    const rt = this.#runtime(c.runtime);
    const runtimeAndRootfs = (async () => {
      await rt.delete(c.id);
      faultPoint('exit.runtime-deleted');
      span.mark('runtime delete');
      try {
        unmountAll(join(this.#dir(c.id), 'rootfs'));
      } catch (e) {
        this.#log(`unmount rootfs of ${c.id}: ${(e as Error).message}`);
      }
      faultPoint('exit.unmounted');
      span.mark('rootfs unmounted');
    })();
    const shim = (async () => {
      if (handle) await handle.cleanup().catch((e) => this.#log(`shim cleanup of ${c.id}: ${(e as Error).message}`));
      else await rm(this.#stateDir(c.id), { recursive: true, force: true });
      faultPoint('exit.shim-stopped');
      span.mark('shim stopped, its dir removed');
    })();
    const network = (async () => {
      const nets = this.#o.store.attachments(c.id).map((a) => a.network);
      await this.#releaseNetwork(c.id, nets, true);
      faultPoint('exit.network-released');
      span.mark('network released');
    })();
    const failed = (await Promise.allSettled([runtimeAndRootfs, shim, network])).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * The runtimes leave the /berth cgroup parent that berthd names in every spec (only berth-runtime's
   * own default parent is removed by it): when no container of this berthd runs, remove the empty
   * parent in every hierarchy. rmdir of a cgroup with children fails, so nothing live is touched.
   */
  #pruneCgroupParent(): void {
    // A start under way is not yet 'running', but its runtime may have made the parent already.
    if (this.#startsInFlight > 0 || this.#o.store.listContainers().some((c) => c.status === 'running' || c.status === 'paused')) return;
    const dirs = ['/sys/fs/cgroup/berth'];
    try {
      for (const h of readdirSync('/sys/fs/cgroup')) dirs.push(join('/sys/fs/cgroup', h, 'berth'));
    } catch {}
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        // Missing, or still in use by a container: both fine.
      }
    }
  }

  #shouldRestart(c: ContainerRecord): boolean {
    switch (c.restartPolicy) {
      case 'always':
        return !c.manuallyStopped;
      case 'unless-stopped':
        return !c.manuallyStopped;
      case 'on-failure':
        return !c.manuallyStopped && (c.exitCode ?? 0) !== 0 && (c.restartMax === 0 || c.restartCount < c.restartMax);
      default:
        return false;
    }
  }

  #scheduleRestart(c: ContainerRecord): void {
    // Docker's back-off: 100 ms doubling per consecutive restart, reset after 10 s of running.
    const ranFor = c.startedAt && c.finishedAt ? Date.parse(c.finishedAt) - Date.parse(c.startedAt) : 0;
    const n = ranFor > 10_000 ? 0 : Math.min(c.restartCount, 10);
    const delay = Math.min(100 * 2 ** n, 60_000);
    const t = setTimeout(() => {
      this.#restartTimers.delete(c.id);
      void this.#lock
        .run(c.id, async () => {
          const cur = this.#o.store.getContainer(c.id);
          if (cur.status === 'running' || cur.manuallyStopped || this.#removing.has(c.id) || this.#closed) return;
          this.#o.store.updateState(c.id, { restartCount: cur.restartCount + 1 });
          await this.#startTask(this.#o.store.getContainer(c.id));
          this.#o.events.publish('container', 'restart', c.id, this.#attrs(cur));
        })
        .catch((e) => {
          this.#log(`restart of ${c.id} failed: ${(e as Error).message}`);
          const cur = (() => {
            try {
              return this.#o.store.getContainer(c.id);
            } catch {
              return undefined;
            }
          })();
          if (cur && this.#shouldRestart(cur)) {
            this.#o.store.updateState(c.id, { restartCount: cur.restartCount + 1 });
            this.#scheduleRestart(this.#o.store.getContainer(c.id));
          } else if (cur) this.#resolveWaiters(c.id, { exitCode: cur.exitCode ?? 255, signal: null, oomKilled: false, finishedAt: cur.finishedAt ?? '' });
        });
    }, delay);
    this.#restartTimers.set(c.id, t);
  }

  #cancelRestart(id: string): void {
    const t = this.#restartTimers.get(id);
    if (t) clearTimeout(t);
    this.#restartTimers.delete(id);
  }

  #resolveWaiters(id: string, r: ExitResult): void {
    const ws = this.#waiters.get(id) ?? [];
    this.#waiters.delete(id);
    for (const w of ws) w(r);
  }

  async #autoRemove(id: string): Promise<void> {
    // Let followers of the log (run without -d) read the last lines before the directory goes.
    for (let i = 0; i < 100 && (this.#readers.get(id) ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    await this.remove(id, { force: true }).catch((e) => {
      this.#log(`auto-remove of ${id}: ${(e as Error).message}`);
      // The client waiting for the removal (run --rm) must not wait forever: it learns why.
      this.#settleRemovalWaiters(id, e);
    });
  }

  #settleRemovalWaiters(id: string, outcome: ExitResult | unknown, ok = false): void {
    const ws = this.#removalWaiters.get(id) ?? [];
    this.#removalWaiters.delete(id);
    for (const w of ws) ok ? w.resolve(outcome as ExitResult) : w.reject(outcome);
  }

  // ---------------------------------------------------------------- stop, kill, wait

  async stop(word: string, timeoutSec?: number): Promise<void> {
    const c = this.resolve(word);
    this.#o.store.updateState(c.id, { manuallyStopped: true });
    faultPoint('stop.marked');
    this.#cancelRestart(c.id);
    if (c.status !== 'running' && c.status !== 'paused') {
      this.#resolveWaitersIfIdle(c.id);
      return;
    }
    const handle = this.#tasks.get(c.id);
    const req = (c.config as { request: CreateRequest }).request;
    const timeout = (timeoutSec ?? req.stopTimeout ?? 10) * 1000;
    const rt = this.#runtime(c.runtime);
    const exited = handle ? this.#waitRecorded(c.id) : Promise.resolve();
    if (c.status === 'paused') await rt.resume(c.id).catch(() => {});
    await rt.kill(c.id, req.stopSignal ?? 'SIGTERM').catch(() => {});
    faultPoint('stop.signalled');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeout).unref());
    if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
      await rt.kill(c.id, 'SIGKILL', true).catch(() => {});
      await exited;
    }
    this.#o.events.publish('container', 'stop', c.id, this.#attrs(c));
  }

  #resolveWaitersIfIdle(id: string): void {
    const c = this.#o.store.getContainer(id);
    this.#resolveWaiters(id, { exitCode: c.exitCode ?? 0, signal: null, oomKilled: c.oomKilled, finishedAt: c.finishedAt ?? '' });
  }

  /** Resolves once the current task's exit has been recorded (or at once if none runs). */
  #waitRecorded(id: string): Promise<void> {
    const c = this.#o.store.getContainer(id);
    if (c.status !== 'running' && c.status !== 'paused') return Promise.resolve();
    return new Promise((resolve) => {
      const ws = this.#waiters.get(id) ?? [];
      ws.push(() => resolve());
      this.#waiters.set(id, ws);
      // A stop racing a restart: the next recorded exit also satisfies it.
    });
  }

  async kill(word: string, signal = 'SIGKILL'): Promise<void> {
    const c = this.resolve(word);
    if (c.status !== 'running' && c.status !== 'paused') throw failedPrecondition(`container ${c.name} is not running`);
    this.#o.store.updateState(c.id, { manuallyStopped: true });
    await this.#runtime(c.runtime).kill(c.id, signal);
    this.#o.events.publish('container', 'kill', c.id, this.#attrs(c, { signal }));
  }

  /** Resolves when the container is not running: its last exit, or the next one. */
  wait(word: string): Promise<ExitResult> {
    const recent = this.#recentExits.get(word);
    if (recent) return Promise.resolve(recent);
    let c: ContainerRecord;
    try {
      c = this.resolve(word);
    } catch (e) {
      for (const [id, r] of this.#recentExits) if (id.startsWith(word)) return Promise.resolve(r);
      throw e;
    }
    if ((c.status === 'stopped' || c.status === 'created') && !this.#restartTimers.has(c.id)) {
      if (c.status === 'stopped') return Promise.resolve({ exitCode: c.exitCode ?? 0, signal: null, oomKilled: c.oomKilled, finishedAt: c.finishedAt ?? '' });
    }
    return new Promise((resolve) => {
      const ws = this.#waiters.get(c.id) ?? [];
      ws.push(resolve);
      this.#waiters.set(c.id, ws);
    });
  }

  /**
   * Resolves once the container has been removed (its row, snapshot and directory gone), with its
   * last exit: docker's `wait --condition removed`, which `run --rm` waits on instead of polling.
   * A container removed already answers from the recent exits (for a minute), else not found.
   */
  waitRemoved(word: string): Promise<ExitResult> {
    let id: string;
    try {
      id = this.resolve(word).id;
    } catch (e) {
      // The row goes before the snapshot and the directory: a removal under way is not done yet.
      const removing = this.#removing.has(word) ? word : [...this.#removing].find((r) => r.startsWith(word));
      if (removing === undefined) {
        const recent = this.#recentExits.get(word) ?? [...this.#recentExits].find(([r]) => r.startsWith(word))?.[1];
        if (recent) return Promise.resolve(recent);
        throw e;
      }
      id = removing;
    }
    return new Promise((resolve, reject) => {
      const ws = this.#removalWaiters.get(id) ?? [];
      ws.push({ resolve, reject });
      this.#removalWaiters.set(id, ws);
    });
  }

  // ---------------------------------------------------------------- remove

  async remove(word: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c0 = this.resolve(word);
    const id = c0.id;
    if ((c0.status === 'running' || c0.status === 'paused') && !opts.force) throw failedPrecondition(`container ${c0.name} is ${c0.status}: stop it first, or remove it with -f`);
    this.#removing.add(id);
    const span = timingSpan('remove', id);
    try {
      this.#cancelRestart(id);
      if (c0.status === 'running' || c0.status === 'paused') {
        const exited = this.#waitRecorded(id);
        const rt = this.#runtime(c0.runtime);
        if (c0.status === 'paused') await rt.resume(id).catch(() => {});
        await rt.kill(id, 'SIGKILL', true).catch(() => {});
        faultPoint('remove.killed');
        const handle = this.#tasks.get(id);
        if (handle) await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
        else await this.#onExit(id, undefined, { exitCode: 137, signal: 'SIGKILL', exitedAt: new Date().toISOString(), oomKilled: false });
      }
      await this.#lock.run(id, async () => {
        span.mark('locked');
        const c = this.#o.store.getContainer(id);
        const handle = this.#tasks.get(id);
        if (handle) {
          // The exit did not arrive in time: release by force.
          this.#tasks.delete(id);
          await this.#releaseTask(c, handle);
        } else {
          await this.#runtime(c.runtime).delete(id);
          faultPoint('remove.runtime-deleted');
          try {
            unmountAll(join(this.#dir(id), 'rootfs'));
          } catch {}
          await this.#releaseNetwork(id, this.#o.store.attachments(id).map((a) => a.network), true);
          await rm(this.#stateDir(id), { recursive: true, force: true });
        }
        span.mark('task released');
        // The row goes first: a crash after it leaves only a snapshot and a directory without a row,
        // which recovery removes; the other order left a row whose rootfs was gone.
        this.#o.store.deleteContainer(id);
        faultPoint('remove.recorded');
        // From here `wait` no longer finds the row: it answers from the recent exits (for a minute).
        if (!this.#recentExits.has(id) && c.status === 'stopped') {
          this.#recentExits.set(id, { exitCode: c.exitCode ?? 0, signal: null, oomKilled: c.oomKilled, finishedAt: c.finishedAt ?? '' });
          setTimeout(() => this.#recentExits.delete(id), 60_000).unref();
        }
        span.mark('row deleted');
        // The snapshot and the directory are independent (the rootfs is unmounted): both at once,
        // each an orphan without a row that recovery removes if berthd dies first.
        const snapshot = this.#o.images.snapshotter
          .remove(c.snapshotKey)
          .catch((e) => {
            if (!isBerthError(e, 'BERTH_ERR_NOT_FOUND')) this.#log(`remove snapshot ${c.snapshotKey}: ${(e as Error).message}; recovery will retry`);
          })
          .then(() => {
            faultPoint('remove.snapshot-removed');
            span.mark('snapshot removed');
          });
        const dir = rm(this.#dir(id), { recursive: true, force: true }).then(() => {
          faultPoint('remove.dir-removed');
          span.mark('dir removed');
        });
        const [, dirDone] = await Promise.allSettled([snapshot, dir]);
        if (dirDone.status === 'rejected') throw dirDone.reason;
        this.#o.events.publish('container', 'destroy', id, this.#attrs(c));
        const req = (c.config as { request: CreateRequest }).request;
        if (opts.volumes) {
          for (const m of req.mounts ?? []) if (m.type === 'volume' && m.source) await this.#o.volumes.remove(m.source).catch(() => {});
        }
      });
      const last = this.#recentExits.get(id) ?? { exitCode: 0, signal: null, oomKilled: false, finishedAt: '' };
      this.#resolveWaiters(id, last);
      this.#settleRemovalWaiters(id, last, true);
    } catch (e) {
      this.#settleRemovalWaiters(id, e);
      throw e;
    } finally {
      this.#removing.delete(id);
    }
  }

  // ---------------------------------------------------------------- pause, resume, stats, top, logs

  async pause(word: string): Promise<void> {
    const c = this.resolve(word);
    if (c.status !== 'running') throw failedPrecondition(`container ${c.name} is ${c.status}, expected running`);
    await this.#runtime(c.runtime).pause(c.id);
    this.#o.store.updateState(c.id, { status: 'paused' });
    this.#o.events.publish('container', 'pause', c.id, this.#attrs(c));
  }

  async unpause(word: string): Promise<void> {
    const c = this.resolve(word);
    if (c.status !== 'paused') throw failedPrecondition(`container ${c.name} is ${c.status}, expected paused`);
    await this.#runtime(c.runtime).resume(c.id);
    this.#o.store.updateState(c.id, { status: 'running' });
    this.#o.events.publish('container', 'unpause', c.id, this.#attrs(c));
  }

  async stats(word: string): Promise<StatsResult> {
    const c = this.resolve(word);
    if (c.status !== 'running' && c.status !== 'paused') throw failedPrecondition(`container ${c.name} is not running`);
    const raw = (await this.#runtime(c.runtime).stats(c.id)) as {
      cpu?: { usage?: { total?: number } };
      memory?: { usage?: { usage?: number; limit?: number } };
      pids?: { current?: number };
    };
    return { id: c.id, name: c.name, cpuUsageNs: raw?.cpu?.usage?.total ?? 0, memoryUsage: raw?.memory?.usage?.usage ?? 0, memoryLimit: raw?.memory?.usage?.limit ?? 0, pids: raw?.pids?.current ?? 0, raw };
  }

  async top(word: string): Promise<TopResult> {
    const c = this.resolve(word);
    if (c.status !== 'running' && c.status !== 'paused') throw failedPrecondition(`container ${c.name} is not running`);
    const pids = await this.#runtime(c.runtime).pids(c.id);
    const processes: string[][] = [];
    for (const pid of pids) {
      try {
        const stat = procStat(pid);
        if (stat === undefined) continue;
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? '?';
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || stat.comm;
        processes.push([uid, String(pid), String(stat.ppid), stat.state, cmd]);
      } catch {
        // The process exited between ps and the read.
      }
    }
    return { titles: ['UID', 'PID', 'PPID', 'STAT', 'CMD'], processes };
  }

  async *logs(word: string, opts: LogOptions, signal?: AbortSignal): AsyncGenerator<LogLine> {
    const c = this.resolve(word);
    const id = c.id;
    this.#readers.set(id, (this.#readers.get(id) ?? 0) + 1);
    try {
      const running = () => {
        try {
          const s = this.#o.store.getContainer(id);
          return s.status === 'running' || s.status === 'paused' || this.#restartTimers.has(id);
        } catch {
          return false;
        }
      };
      yield* readLogs(this.#logPath(id), opts, running, signal);
    } finally {
      const left = (this.#readers.get(id) ?? 1) - 1;
      // No entry per container that was ever read: the map holds only readers under way.
      if (left > 0) this.#readers.set(id, left);
      else this.#readers.delete(id);
    }
  }

  // ---------------------------------------------------------------- attach, resize

  async attach(word: string): Promise<Duplex> {
    const c = this.resolve(word);
    const h = this.#tasks.get(c.id);
    if (!h) throw failedPrecondition(`container ${c.name} is not running`);
    return h.attach();
  }

  async resize(word: string, rows: number, cols: number): Promise<void> {
    const c = this.resolve(word);
    const h = this.#tasks.get(c.id);
    if (!h) throw failedPrecondition(`container ${c.name} is not running`);
    await h.resize(rows, cols);
  }

  // ---------------------------------------------------------------- exec

  async exec(word: string, r: ExecRequest): Promise<{ execId: string }> {
    const c = this.resolve(word);
    if (c.status !== 'running') throw failedPrecondition(`container ${c.name} is ${c.status}, expected running`);
    if (!Array.isArray(r.cmd) || r.cmd.length === 0) throw invalidArgument('exec: "cmd" must be a non-empty array');
    const spec = (c.config as { spec: RuntimeConfig }).spec;
    const execId = randomBytes(16).toString('hex');
    // Its own short directory: the attach socket's path must fit in sun_path.
    const dir = join(this.#o.runRoot, 'execs', execId);
    const rt = this.#runtime(c.runtime);
    const logPath = join(dir, 'exec-json.log');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let handle: TaskHandle;
    try {
      const proc = { ...spec.process!, args: r.cmd, terminal: r.tty === true, env: [...(spec.process!.env ?? []), ...(r.env ?? [])], cwd: r.workdir ?? spec.process!.cwd };
      // The exec's user is the container's unless it names its own (docker's rule).
      prepareProcess(join(this.#dir(c.id), 'rootfs'), proc, r.user || (c.config as { request: CreateRequest }).request.user, { makeCwd: false });
      const processPath = join(dir, 'process.json');
      await writeFile(processPath, JSON.stringify(proc));
      handle = await this.#o.supervisor.exec({ id: c.id, execId, bundle: this.#dir(c.id), runtimeBinary: rt.binary, runtimeRoot: rt.root, stateDir: dir, logPath, terminal: r.tty === true, openStdin: r.openStdin === true, processPath, ...(r.attach ? { awaitAttachMs: EXEC_ATTACH_WAIT_MS } : {}) });
    } catch (e) {
      // Exec records live in memory only: a directory left here would never be removed.
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    const entry: ExecEntry = { id: execId, containerId: c.id, handle, logPath, tty: r.tty === true };
    this.#execs.set(execId, entry);
    handle.waitExit().then(
      (e) => {
        entry.exit = e;
        this.#o.events.publish('container', 'exec_die', c.id, this.#attrs(c, { execID: execId, exitCode: String(e.exitCode) }));
        // The exec's record stays a minute for late readers, then its directory goes.
        setTimeout(() => {
          this.#execs.delete(execId);
          void handle.cleanup().catch(() => {});
        }, 60_000).unref();
      },
      () => {
        entry.exit = { exitCode: 255, signal: null, exitedAt: new Date().toISOString(), oomKilled: false };
        setTimeout(() => {
          this.#execs.delete(execId);
          void handle.cleanup().catch(() => {});
        }, 60_000).unref();
      },
    );
    this.#o.events.publish('container', 'exec_start', c.id, this.#attrs(c, { execID: execId, command: r.cmd.join(' ') }));
    return { execId };
  }

  #exec(execId: string): ExecEntry {
    const e = this.#execs.get(execId);
    if (!e) throw notFound(`no such exec instance: ${execId}`);
    return e;
  }

  async *execLogs(execId: string, signal?: AbortSignal): AsyncGenerator<LogLine> {
    const e = this.#exec(execId);
    yield* readLogs(e.logPath, { follow: true }, () => e.exit === undefined, signal);
  }

  async execWait(execId: string): Promise<ExitResult> {
    const e = this.#exec(execId);
    const x = e.exit ?? (await e.handle.waitExit());
    return { exitCode: x.exitCode, signal: x.signal, oomKilled: x.oomKilled, finishedAt: x.exitedAt };
  }

  execAttach(execId: string): Promise<Duplex> {
    return this.#exec(execId).handle.attach();
  }

  execResize(execId: string, rows: number, cols: number): Promise<void> {
    return this.#exec(execId).handle.resize(rows, cols);
  }

  // ---------------------------------------------------------------- recovery

  /**
   * After berthd (re)starts: reconnect to every shim, record exits that happened while it was down,
   * apply restart policies, and release what crashed operations left (mounts, netns, snapshots,
   * directories, shim state of containers that no longer exist). `otherNetnsOwners`: ids (pods) whose
   * network namespaces and attachments are not leftovers.
   */
  async recover(otherNetnsOwners: Iterable<string> = []): Promise<{ reconnected: string[]; exited: string[]; restarted: string[]; cleaned: string[] }> {
    const out = { reconnected: [] as string[], exited: [] as string[], restarted: [] as string[], cleaned: [] as string[] };
    const rows = this.#o.store.listContainers();
    const ids = new Set(rows.map((r) => r.id));
    for (const c of rows) {
      if (c.status === 'running' || c.status === 'paused') {
        const handle = await this.#o.supervisor.reconnect(this.#stateDir(c.id)).catch(() => undefined);
        const exit = handle?.exitNow();
        if (handle && !exit) {
          this.#tasks.set(c.id, handle);
          this.#watch(c.id, handle);
          out.reconnected.push(c.id);
          continue;
        }
        out.exited.push(c.id);
        if (!handle) await this.#runtime(c.runtime).kill(c.id, 'SIGKILL', true).catch(() => {});
        if (handle) this.#tasks.set(c.id, handle);
        await this.#onExit(c.id, handle, exit ?? { exitCode: 255, signal: null, exitedAt: new Date().toISOString(), oomKilled: false }, exit ? '' : 'the task was lost while berthd was down (no shim and no exit status)');
        if (this.#restartTimers.has(c.id)) out.restarted.push(c.id);
      } else {
        // A stopped container holds nothing on the host; a crash mid-start or mid-exit may have left some.
        const rootfs = join(this.#dir(c.id), 'rootfs');
        if (isMountPoint(rootfs)) {
          unmountAll(rootfs, { detach: true });
          out.cleaned.push(`mount ${rootfs}`);
        }
        if (existsSync(this.#stateDir(c.id))) {
          await this.#runtime(c.runtime).delete(c.id);
          const h = await this.#o.supervisor.reconnect(this.#stateDir(c.id)).catch(() => undefined);
          if (h) await h.cleanup().catch(() => {});
          await rm(this.#stateDir(c.id), { recursive: true, force: true });
          out.cleaned.push(`shim state ${c.id}`);
        }
        await this.#releaseNetwork(c.id, this.#o.store.attachments(c.id).map((a) => a.network), true);
        const req = (c.config as { request: CreateRequest }).request;
        if (req.autoRemove && c.status === 'stopped') {
          await this.remove(c.id, { force: true }).catch(() => {});
          continue;
        }
        // The machine rebooted (or the shim died with the host): honour always / unless-stopped.
        if (c.status === 'stopped' && c.startedAt && (c.restartPolicy === 'always' || c.restartPolicy === 'unless-stopped') && !c.manuallyStopped) {
          this.#scheduleRestart(c);
          out.restarted.push(c.id);
        }
      }
    }
    // Leftovers of creates and removes that crashed half-way.
    const snaps = await this.#o.images.snapshotter.list().catch(() => []);
    for (const s of snaps) {
      if (!s.name.startsWith(SNAPSHOT_PREFIX) || ids.has(s.name.slice(SNAPSHOT_PREFIX.length))) continue;
      const orphan = s.name.slice(SNAPSHOT_PREFIX.length);
      try {
        unmountAll(join(this.#dir(orphan), 'rootfs'), { detach: true });
      } catch {}
      await this.#o.images.snapshotter.remove(s.name).catch(() => {});
      out.cleaned.push(`snapshot ${s.name}`);
    }
    const { readdir } = await import('node:fs/promises');
    for (const d of await readdir(join(this.#o.root, 'containers')).catch(() => [] as string[])) {
      if (ids.has(d)) continue;
      try {
        unmountAll(join(this.#dir(d), 'rootfs'), { detach: true });
      } catch {}
      await rm(this.#dir(d), { recursive: true, force: true });
      out.cleaned.push(`directory ${d}`);
    }
    const shortIds = new Set([...ids].map((i) => i.slice(0, 32)));
    for (const d of await readdir(join(this.#o.runRoot, 'shims')).catch(() => [] as string[])) {
      if (shortIds.has(d)) continue;
      const h = await this.#o.supervisor.reconnect(join(this.#o.runRoot, 'shims', d)).catch(() => undefined);
      if (h) await h.cleanup().catch(() => {});
      await rm(join(this.#o.runRoot, 'shims', d), { recursive: true, force: true });
      out.cleaned.push(`shim ${d}`);
    }
    for (const d of await readdir(join(this.#o.runRoot, 'execs')).catch(() => [] as string[])) {
      // Exec records live in memory: after a restart nobody can ask for these any more.
      const h = await this.#o.supervisor.reconnect(join(this.#o.runRoot, 'execs', d)).catch(() => undefined);
      if (h) await h.cleanup().catch(() => {});
      await rm(join(this.#o.runRoot, 'execs', d), { recursive: true, force: true });
    }
    // Pods own network namespaces and attachments too (the pod service recovered them first).
    const live = new Set([...this.#o.store.listContainers().filter((c) => c.status === 'running' || c.status === 'paused').map((c) => c.id), ...otherNetnsOwners]);
    await this.#o.network.recover(live).catch((e) => this.#log(`network recovery: ${(e as Error).message}`));
    return out;
  }

  /** Stops serving: timers and watchers go; containers and shims keep running. */
  close(): void {
    this.#closed = true;
    for (const t of this.#restartTimers.values()) clearTimeout(t);
    this.#restartTimers.clear();
  }

  get portMappingsOf(): (id: string) => PortMapping[] {
    return (id) => ((this.#o.store.getContainer(id).config as { request: CreateRequest }).request.ports ?? []);
  }
}
