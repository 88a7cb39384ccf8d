// System routes: /_ping (GET and HEAD), /version, /info. /info says what is true of this berthd
// (its storage driver is the snapshotter, its runtimes the OCI runtimes it has), never dockerd's
// defaults: scripts read it to decide what the host offers.
import { ENGINE_VERSION } from '../engine/engine.ts';
import { parseEventFilter } from '../engine/event-filter.ts';
import type { EngineEvent } from '../engine/types.ts';
import { invalidArgument } from '../errors/errors.ts';
import { dockerNetworkName } from './container-shapes.ts';
import { filters } from './query.ts';
import type { DockerRouter } from './server.ts';
import { STREAMED } from './server.ts';
import { MAX_API_VERSION, MIN_API_VERSION } from './versions.ts';

/** Go's names for Node's architectures (docker clients compare them with GOARCH). */
export function goArch(arch: string = process.arch): string {
  return (
    (
      {
        x64: 'amd64',
        ia32: '386',
        arm64: 'arm64',
        arm: 'arm',
        ppc64: 'ppc64le',
        s390x: 's390x',
        riscv64: 'riscv64',
      } as Record<string, string>
    )[arch] ?? arch
  );
}

/** Docker's since/until for events: unix seconds (with a fraction) or RFC 3339, as nanoseconds. */
function eventTime(q: URLSearchParams, k: string): string | undefined {
  const v = q.get(k);
  if (v === null || v === '') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return `${m[1]}${(m[2] ?? '').padEnd(9, '0')}`;
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw invalidArgument(`invalid value for ${k}: ${JSON.stringify(v)}: expected unix seconds or an RFC 3339 time`);
  return `${BigInt(t) * 1_000_000n}`;
}

function dockerEvent(ev: EngineEvent, defaultNetwork: string) {
  const id = ev.type === 'network' ? dockerNetworkName(ev.actor.id, defaultNetwork) : ev.actor.id;
  return {
    // The fields before Type are the ones API clients before 1.22 read; docker still sends them for containers.
    ...(ev.type === 'container' ? { status: ev.action, id, from: ev.actor.attributes.image ?? '' } : {}),
    Type: ev.type,
    Action: ev.action,
    Actor: { ID: id, Attributes: ev.actor.attributes },
    scope: 'local',
    time: ev.time,
    timeNano: Number(ev.timeNano),
  };
}

export function systemRoutes(r: DockerRouter): void {
  r.on('GET', '/events', async (c) => {
    const since = eventTime(c.query, 'since');
    const until = eventTime(c.query, 'until');
    const f = parseEventFilter(filters(c.query));
    const events = c.engine.events.stream(
      f,
      { ...(since ? { sinceNano: since } : {}), ...(until ? { untilNano: until } : {}) },
      c.signal,
    );
    // The headers go at once: clients wait for them before they do what they want to see.
    c.res.writeHead(200, { 'content-type': 'application/json' });
    c.res.flushHeaders();
    for await (const ev of events) {
      if (c.signal.aborted) break;
      // Pod sandboxes (the CRI's) have no Docker event type.
      if (ev.type === 'pod') continue;
      c.res.write(`${JSON.stringify(dockerEvent(ev, c.engine.network.defaultNetwork))}\n`);
    }
    return STREAMED;
  });

  const ping = async (c: Parameters<Parameters<DockerRouter['on']>[2]>[0]) => {
    c.res.writeHead(200, {
      'api-version': MAX_API_VERSION,
      'docker-experimental': 'false',
      ostype: 'linux',
      'cache-control': 'no-cache, no-store, must-revalidate',
      pragma: 'no-cache',
      'content-type': 'text/plain; charset=utf-8',
      'content-length': c.req.method === 'HEAD' ? '0' : '2',
    });
    c.res.end(c.req.method === 'HEAD' ? undefined : 'OK');
    return STREAMED;
  };
  r.on('GET', '/_ping', ping);
  r.on('HEAD', '/_ping', ping);

  r.on('GET', '/version', async (c) => {
    const info = await c.engine.info();
    const details = {
      ApiVersion: MAX_API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: info.kernelVersion,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
    };
    return {
      Platform: { Name: `berth ${ENGINE_VERSION}` },
      Components: [
        { Name: 'Engine', Version: ENGINE_VERSION, Details: { ...details, Experimental: 'false', BuildTime: '' } },
        ...Object.entries(info.runtimes).map(([name, path]) => ({ Name: name, Version: '', Details: { Path: path } })),
      ],
      Version: ENGINE_VERSION,
      ...details,
      BuildTime: '',
    };
  });

  r.on('GET', '/info', async (c) => {
    const i = await c.engine.info();
    return {
      ID: '',
      Containers: i.containers,
      ContainersRunning: i.running,
      ContainersPaused: i.paused,
      ContainersStopped: i.stopped,
      Images: i.images,
      Driver: i.snapshotter,
      DriverStatus: [],
      DockerRootDir: i.root,
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: false,
      IPv4Forwarding: true,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: i.cgroupDriver,
      CgroupVersion: i.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: i.kernelVersion,
      OperatingSystem: i.operatingSystem,
      OSVersion: i.osVersion,
      OSType: 'linux',
      Architecture: goArch(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      NCPU: i.ncpu,
      MemTotal: i.memTotal,
      GenericResources: null,
      HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
      HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
      NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
      Name: i.hostname,
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: Object.fromEntries(Object.entries(i.runtimes).map(([name, path]) => [name, { path }])),
      DefaultRuntime: i.defaultRuntime,
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      // berth's default seccomp profile is docker's; no AppArmor or SELinux label.
      SecurityOptions: ['name=seccomp,profile=builtin'],
      Warnings: [],
    };
  });
}
