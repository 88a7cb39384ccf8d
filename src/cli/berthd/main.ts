// berthd: the engine daemon's entry. Parses flags and the JSON config, opens the engine (which
// recovers every pod, container and shim), serves the native API and the CRI on unix sockets, and
// writes a pid file. On SIGTERM or SIGINT it stops serving and exits; containers and their shims run on, and the
// next berthd finds them again.
// Must never: stop containers on exit, or hold logic beyond wiring.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveCriSocket } from '../../cri/cri-socket.ts';
import { parseStreamAddress } from '../../cri/stream-requests.ts';
import { apiSocketPath, resolveGroup, serveLazily } from '../../engine/api-socket.ts';
import { Engine } from '../../engine/engine.ts';
import { NoNetworking, type NetworkBackend } from '../../engine/network-backend.ts';
import { CniNetworking } from '../../engine/network-cni.ts';
import { secureOwnedPaths } from '../../engine/owned-modes.ts';
import type { RuntimeClassConfig } from '../../engine/runtime-classes.ts';
import { shedWhenIdle } from '../../engine/idle-shed.ts';
import { ShimSupervisor } from '../../engine/shim-supervisor.ts';
import { errorMessage, invalidArgument } from '../../errors/errors.ts';
import { shedMemory } from '../../sys/native.ts';
import { type FlagSpec, parseFlags } from '../runtime/args.ts';

export type BerthdConfig = {
  root?: string;
  runRoot?: string;
  socket?: string;
  /** The CRI's gRPC socket; '' serves no CRI. */
  criSocket?: string;
  /** Owns the API sockets (mode 0660) and may read container logs: a group name or gid (default root's). */
  group?: string | number;
  /** The Docker Engine API's socket; '' serves no Docker API. */
  dockerSocket?: string;
  /** HOST:PORT of the CRI streaming server (exec, attach, port-forward URLs); default 127.0.0.1:0. */
  streamAddress?: string;
  debug?: boolean;
  defaultRuntime?: string;
  /** The IPC mode of a container created without one (dockerd's default-ipc-mode): private (default) or shareable. */
  defaultIpcMode?: string;
  /** name → path, or {path, inProcess} (src/engine/runtime-classes.ts). */
  runtimes?: Record<string, RuntimeClassConfig>;
  snapshotter?: 'auto' | 'overlay' | 'native';
  shimBinary?: string;
  /** Where CDI spec files (JSON or YAML) are read, lowest priority first; default /etc/cdi, /var/run/cdi. */
  cdiSpecDirs?: string[];
  network?: {
    enabled?: boolean;
    pluginDirs?: string[];
    defaultNetwork?: { name?: string; bridge?: string; subnet?: string };
    /** The embedded DNS server's upstreams (IP, IP:PORT, [IPV6]:PORT); default the host's resolv.conf nameservers. */
    dns?: { upstreams?: string[] };
  };
};

const USAGE = `berthd: the berth engine daemon

usage: berthd [--root DIR] [--run-root DIR] [--socket PATH] [--cri-socket PATH] [--docker-socket PATH] [--stream-address HOST:PORT] [--group GROUP] [--config FILE] [--debug]

  --root DIR         persistent state (default /var/lib/berth)
  --run-root DIR     runtime state: shims, runtime state, netns (default /run/berth)
  --socket PATH      the API socket (default <run-root>/berthd.sock); unix sockets only
  --cri-socket PATH  the CRI (Kubernetes) gRPC socket (default <run-root>/cri.sock; '' for none)
  --docker-socket PATH  the Docker Engine API socket (default <run-root>/docker.sock; '' for none)
  --stream-address HOST:PORT
                     where the CRI streaming server (exec, attach, port-forward) listens once first
                     used (default 127.0.0.1:0, an ephemeral port on loopback)
  -G, --group GROUP  the group that owns the API sockets (0660) and may read container logs
                     (a name or gid; default root's): its members can run containers as root
  --config FILE      JSON: {root, runRoot, socket, criSocket, dockerSocket, streamAddress, group, defaultRuntime, defaultIpcMode, runtimes, snapshotter, shimBinary,
                     cdiSpecDirs, network: {enabled, pluginDirs, defaultNetwork: {name, bridge, subnet},
                     dns: {upstreams: ["IP[:PORT]"]}}}
  --no-network       no CNI: every container gets a private network namespace with only lo
  --debug            log every API error and recovery step
`;

const FLAGS: FlagSpec[] = [
  { names: ['root'], kind: 'string' },
  { names: ['run-root'], kind: 'string' },
  { names: ['socket', 'H'], kind: 'string' },
  { names: ['cri-socket'], kind: 'string' },
  { names: ['group', 'G'], kind: 'string' },
  { names: ['docker-socket'], kind: 'string' },
  { names: ['stream-address'], kind: 'string' },
  { names: ['config'], kind: 'string' },
  { names: ['no-network'], kind: 'bool' },
  { names: ['debug', 'D'], kind: 'bool' },
  { names: ['help', 'h'], kind: 'bool' },
];

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('berthd');
  } catch {
    return false;
  }
}

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv, FLAGS, false);
  if (flags.help) {
    process.stdout.write(USAGE);
    return;
  }
  let cfg: BerthdConfig = {};
  if (flags.config) {
    try {
      cfg = JSON.parse(readFileSync(String(flags.config), 'utf8')) as BerthdConfig;
    } catch (e) {
      throw invalidArgument(`--config ${flags.config}: ${errorMessage(e)} (expected a JSON object)`);
    }
  }
  const root = resolve(String(flags.root ?? cfg.root ?? '/var/lib/berth'));
  const runRoot = resolve(String(flags['run-root'] ?? cfg.runRoot ?? '/run/berth'));
  const socket = apiSocketPath(String(flags.socket ?? cfg.socket ?? join(runRoot, 'berthd.sock')));
  const criFlag = flags['cri-socket'] ?? cfg.criSocket;
  const criSocket = criFlag === '' ? undefined : apiSocketPath(String(criFlag ?? join(runRoot, 'cri.sock')));
  const gid = resolveGroup(flags.group === undefined ? cfg.group : String(flags.group));
  const dockerFlag = flags['docker-socket'] ?? cfg.dockerSocket;
  const dockerSocket =
    dockerFlag === '' ? undefined : apiSocketPath(String(dockerFlag ?? join(runRoot, 'docker.sock')));
  const streamFlag = flags['stream-address'] ?? cfg.streamAddress;
  const streamAddress =
    streamFlag === undefined
      ? undefined
      : parseStreamAddress(
          String(streamFlag),
          flags['stream-address'] !== undefined ? '--stream-address' : 'streamAddress in the --config file',
        );
  const debug = flags.debug === true || cfg.debug === true;
  const log = (m: string) => process.stderr.write(`${new Date().toISOString()} berthd[${process.pid}]: ${m}\n`);
  const dlog = debug ? log : () => {};

  // The modes berthd makes are the ones in its table (docs/security.md), whatever umask it was
  // started with: a wider one would open files up, a narrower one would hide /etc/hosts and the
  // like from a container's non-root users.
  process.umask(0o022);
  const repaired = secureOwnedPaths({ root, runRoot, gid });
  if (repaired.length)
    log(
      `modes repaired (docs/security.md): ${repaired.length} paths, ${repaired.slice(0, 5).join(', ')}${repaired.length > 5 ? ', …' : ''}`,
    );
  const pidFile = join(runRoot, 'berthd.pid');
  if (existsSync(pidFile)) {
    const old = Number(readFileSync(pidFile, 'utf8').trim());
    if (old && old !== process.pid && pidAlive(old))
      throw invalidArgument(`berthd is already running with pid ${old} on run root ${runRoot} (pid file ${pidFile})`);
  }
  writeFileSync(pidFile, `${process.pid}\n`);

  let network: NetworkBackend = new NoNetworking();
  if (!flags['no-network'] && cfg.network?.enabled !== false) {
    network = await CniNetworking.open({
      root,
      runRoot,
      ...(cfg.network?.pluginDirs ? { pluginDirs: cfg.network.pluginDirs } : {}),
      ...(cfg.network?.defaultNetwork ? { defaultNetwork: cfg.network.defaultNetwork } : {}),
      bridgeConfigKey: 'network.defaultNetwork.bridge in the --config file',
      ...(cfg.network?.dns?.upstreams ? { dnsUpstreams: cfg.network.dns.upstreams } : {}),
    });
  }
  const engine = await Engine.open({
    root,
    runRoot,
    supervisor: new ShimSupervisor(cfg.shimBinary ? { shimBinary: cfg.shimBinary } : {}),
    network,
    ...(cfg.runtimes ? { runtimes: cfg.runtimes } : {}),
    ...(cfg.defaultRuntime ? { defaultRuntime: cfg.defaultRuntime } : {}),
    ...(cfg.defaultIpcMode !== undefined ? { defaultIpcMode: cfg.defaultIpcMode } : {}),
    ...(cfg.snapshotter ? { snapshotter: cfg.snapshotter } : {}),
    ...(cfg.cdiSpecDirs ? { cdiSpecDirs: cdiDirs(cfg.cdiSpecDirs) } : {}),
    log,
  });
  // Bound before the native API: a client that waits for berthd's API finds the CRI socket ready too
  // (a stale cri.sock of a killed berthd would refuse it meanwhile). The gRPC server itself loads at
  // the first CRI client (docs/cri.md): no cost for a berthd no kubelet uses.
  const cri = criSocket
    ? await serveCriSocket(engine, criSocket, log, gid, streamAddress ? { streamAddress } : {})
    : undefined;
  if (criSocket) log(`serving the CRI (runtime.v1, runtime.v1alpha2) on ${criSocket}`);
  // The native and Docker APIs likewise: node:http, the routers and the Docker API's code are
  // imported at each socket's first connection.
  const docker = dockerSocket
    ? await serveLazily(dockerSocket, gid, 'the Docker Engine API', log, async () => {
        const [{ dockerServer }, { dockerRouter }] = await Promise.all([
          import('../../docker-api/server.ts'),
          import('../../docker-api/routes.ts'),
        ]);
        return dockerServer(engine, dockerRouter(), dlog);
      })
    : undefined;
  if (dockerSocket) log(`serving the Docker Engine API on ${dockerSocket}`);
  const api = await serveLazily(socket, gid, 'the native API', log, async () => {
    const [{ apiServer }, { apiRouter }] = await Promise.all([
      import('../../api/server.ts'),
      import('../../api/routes.ts'),
    ]);
    return apiServer(engine, apiRouter(), dlog);
  });
  log(`serving the native API on ${socket} (root ${root}, run root ${runRoot}, networking ${network.name})`);
  // Start-up is done: what only it used (the node binary's snapshot and symbol table, the code of
  // recovery and of module loading, glibc's freed memory) is given back (docs/engine.md, "berthd's
  // memory"); what serving uses is mapped back as it runs.
  shedMemory();
  // And again after each busy spell, once berthd is quiet (a full collection with it).
  const stopShedding = shedWhenIdle();

  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping; containers keep running`);
    stopShedding();
    await api.close().catch(() => {});
    await cri?.close().catch(() => {});
    await docker?.close().catch(() => {});
    await engine.close().catch(() => {});
    rmSync(pidFile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // Shims and runtimes are not berthd's children after their double fork; nothing to reap here.
}

/** Runs berthd with this process's arguments; dist/bin/berthd calls it (scripts/bundle.ts). */
export function runMain(): void {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`berthd: ${errorMessage(e)}\n`);
    if (process.argv.includes('--debug') && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  });
}

function cdiDirs(v: unknown): string[] {
  if (!Array.isArray(v) || v.some((d) => typeof d !== 'string' || !d.startsWith('/')))
    throw invalidArgument(
      `cdiSpecDirs in the --config file: ${JSON.stringify(v)} (expected a list of absolute directories)`,
    );
  return v as string[];
}

if (import.meta.main) runMain();
