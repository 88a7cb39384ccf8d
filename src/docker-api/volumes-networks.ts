// Volume and network routes of the Docker API. The engine's default network is docker's `bridge`
// on the wire (container-shapes.ts converts the name both ways).
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/engine.ts';
import { networkPruneKeep, pruneNetworks } from '../engine/system-prune.ts';
import { checkMacAddress } from '../engine/container-request.ts';
import type { NetworkInfo, VolumeInfo } from '../engine/types.ts';
import { ErrorCode, errorMessage, failedPrecondition, invalidArgument, isBerthError } from '../errors/errors.ts';
import { dockerNetworkName, engineNetworkName } from './container-shapes.ts';
import { DockerStatusError, orNoSuch, refused } from './errors.ts';
import { filters, flag } from './query.ts';
import type { ServerResponse } from 'node:http';
import { atLeast } from './versions.ts';
import { Created, type DockerRouter, NO_CONTENT, readJsonBody, STREAMED } from './server.ts';

function dockerVolume(v: VolumeInfo) {
  return {
    Name: v.name,
    Driver: v.driver,
    Mountpoint: v.mountpoint,
    CreatedAt: v.createdAt,
    Labels: v.labels,
    Scope: 'local',
    Options: {},
    UsageData: { Size: -1, RefCount: v.usedBy.length },
  };
}

/** dockerd's pre-defined networks beside `bridge`: on the Docker face whether or not the engine lists them. */
const PREDEFINED: NetworkInfo[] = [
  { name: 'host', driver: 'host', containers: [] },
  { name: 'none', driver: 'null', containers: [] },
];

async function dockerNetworks(e: Engine): Promise<NetworkInfo[]> {
  const list = await e.network.list();
  return [...list, ...PREDEFINED.filter((p) => !list.some((n) => n.name === p.name))];
}

async function inspectNetwork(e: Engine, word: string): Promise<NetworkInfo> {
  const name = engineNetworkName(word, e.network.defaultNetwork);
  const pre = PREDEFINED.find((p) => p.name === name);
  return orNoSuch('network', word, async () => {
    try {
      return await e.network.inspect(name);
    } catch (err) {
      if (pre) return pre;
      throw err;
    }
  });
}

type Attached = { containerId: string; ips?: string[]; prefixLength?: number; mac?: string };

function dockerNetwork(e: Engine, n: NetworkInfo) {
  const name = dockerNetworkName(n.name, e.network.defaultNetwork);
  const builtin = name === 'bridge' || name === 'host' || name === 'none';
  // The attachments (ips, mac) where the engine's inspect gives them; ids alone in a list.
  const attached = new Map(((n.attachments as Attached[] | undefined) ?? []).map((a) => [a.containerId, a]));
  const containerName = (id: string) => {
    try {
      return e.containers.resolve(id).name;
    } catch {
      return '';
    }
  };
  const created = typeof n.created === 'string' ? n.created : typeof n.createdAt === 'string' ? n.createdAt : '';
  return {
    Name: name,
    // berth's networks are known by name; docker clients only need the ID to be stable and unique.
    Id: n.name,
    Created: created || '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: {},
      Config: n.subnet ? [{ Subnet: n.subnet, ...(n.gateway ? { Gateway: n.gateway } : {}) }] : [],
    },
    Internal: n.internal === true,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(
      n.containers.map((id) => {
        const a = attached.get(id);
        const ip = a?.ips?.[0];
        return [
          id,
          {
            Name: containerName(id),
            EndpointID: ip ? `${id.slice(0, 32)}${n.name}`.slice(0, 64) : '',
            MacAddress: a?.mac ?? '',
            IPv4Address: ip ? `${ip}/${a?.prefixLength ?? 32}` : '',
            IPv6Address: '',
          },
        ];
      }),
    ),
    Options: {},
    Labels: (n.labels as Record<string, string> | undefined) ?? {},
    _builtin: builtin,
  };
}

type DockerNetwork = ReturnType<typeof dockerNetwork>;

/** `label=K` or `label=K=V` against a label map (docker's filter words). */
function labelsMatch(want: string[], labels: Record<string, string>): boolean {
  return want.every((l) => {
    const i = l.indexOf('=');
    return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
  });
}

/** docker's network filters: driver, id, label, name, scope, type (custom|builtin), dangling. */
function networkMatches(n: DockerNetwork, f: Record<string, string[]>, inUse: boolean): boolean {
  const typeOk = (t: string) => {
    if (t !== 'custom' && t !== 'builtin') throw invalidArgument(`invalid filter: 'type'='${t}'`);
    return (t === 'builtin') === n._builtin;
  };
  const dangling = (v: string) => {
    if (!['true', 'false', '1', '0'].includes(v)) throw invalidArgument(`invalid filter 'dangling=${v}'`);
    // dockerd: a dangling network is a custom one no container is connected to.
    return (v === 'true' || v === '1') === (!n._builtin && !inUse);
  };
  return (
    (!f.name?.length || f.name.some((x) => n.Name.includes(x))) &&
    (!f.driver?.length || f.driver.includes(n.Driver)) &&
    (!f.id?.length || f.id.some((x) => n.Id.startsWith(x))) &&
    (!f.scope?.length || f.scope.includes(n.Scope)) &&
    (!f.label?.length || labelsMatch(f.label, n.Labels)) &&
    (!f.type?.length || f.type.some(typeOk)) &&
    (!f.dangling?.length || f.dangling.some(dangling))
  );
}

function usersOf(e: Engine, network: string): string[] {
  return network === 'host' || network === 'none' ? [] : e.store.containersOnNetwork(network);
}

/** The wire shape: without berth's own marks. */
function wire(n: DockerNetwork) {
  const { _builtin, ...rest } = n;
  return rest;
}

/** dockerd's answer to connect and disconnect: 200 with no body. */
function okEmpty(res: ServerResponse): typeof STREAMED {
  res.writeHead(200, { 'content-length': '0' });
  res.end();
  return STREAMED;
}

export function volumeNetworkRoutes(r: DockerRouter): void {
  r.on('GET', '/volumes', async (c) => {
    const f = filters(c.query);
    for (const k of Object.keys(f))
      if (k !== 'name' && k !== 'dangling' && k !== 'label' && k !== 'driver')
        throw invalidArgument(`invalid filter '${k}'`);
    const vols = c.engine.volumes
      .list()
      .filter(
        (v) =>
          (!f.name?.length || f.name.some((n) => v.name.includes(n))) &&
          (!f.dangling?.length || f.dangling.some((d) => (d === 'true' || d === '1') === (v.usedBy.length === 0))) &&
          (!f.driver?.length || f.driver.includes(v.driver)) &&
          (!f.label?.length ||
            f.label.every((l) =>
              l.includes('=') ? v.labels[l.slice(0, l.indexOf('='))] === l.slice(l.indexOf('=') + 1) : l in v.labels,
            )),
      );
    return { Volumes: vols.map(dockerVolume), Warnings: [] };
  });
  r.on('POST', '/volumes/create', async (c) => {
    const b = await readJsonBody<{
      Name?: string;
      Driver?: string;
      DriverOpts?: Record<string, string> | null;
      Labels?: Record<string, string> | null;
    }>(c.req, 'volume create');
    if (b.Driver && b.Driver !== 'local')
      throw refused(`volume driver ${b.Driver}`, 'berth volumes are local directories');
    if (b.DriverOpts && Object.keys(b.DriverOpts).length)
      throw refused('volume --opt (DriverOpts)', 'berth volumes are local directories');
    const name = b.Name || randomBytes(32).toString('hex');
    const existing = c.engine.volumes.list().find((v) => v.name === name);
    // docker's create of an existing name answers that volume.
    if (existing) return new Created(dockerVolume(existing));
    return new Created(dockerVolume(await c.engine.volumes.create(name, b.Labels ? { labels: b.Labels } : {})));
  });
  r.on('POST', '/volumes/prune', async (c) => {
    const f = filters(c.query);
    if (Object.keys(f).length) throw refused('volume prune --filter', 'berthd prunes every unused volume');
    return { VolumesDeleted: await c.engine.volumes.prune(), SpaceReclaimed: 0 };
  });
  r.on('GET', '/volumes/{name}', async (c) =>
    dockerVolume(await orNoSuch('volume', c.params.name!, () => c.engine.volumes.inspect(c.params.name!))),
  );
  r.on('DELETE', '/volumes/{name}', async (c) => {
    const v = await orNoSuch('volume', c.params.name!, () => c.engine.volumes.inspect(c.params.name!));
    if (v.usedBy.length && !flag(c.query, 'force'))
      throw failedPrecondition(`remove ${v.name}: volume is in use - [${v.usedBy.join(', ')}]`);
    await c.engine.volumes.remove(v.name, { force: flag(c.query, 'force') });
    return NO_CONTENT;
  });

  r.on('GET', '/networks', async (c) => {
    const f = filters(c.query);
    for (const k of Object.keys(f))
      if (!['name', 'driver', 'id', 'type', 'label', 'scope', 'dangling'].includes(k))
        throw invalidArgument(`invalid filter '${k}'`);
    const out = [];
    for (const n of await dockerNetworks(c.engine)) {
      const dn = dockerNetwork(c.engine, n);
      if (networkMatches(dn, f, n.containers.length > 0 || usersOf(c.engine, n.name).length > 0)) out.push(wire(dn));
    }
    return out;
  });
  r.on('GET', '/networks/{id}', async (c) =>
    wire(dockerNetwork(c.engine, await inspectNetwork(c.engine, c.params.id!))),
  );
  r.on('POST', '/networks/create', async (c) => {
    const b = await readJsonBody<{
      Name?: string;
      Driver?: string;
      Internal?: boolean;
      Labels?: Record<string, string> | null;
      IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null } | null;
      EnableIPv6?: boolean;
      Options?: Record<string, string> | null;
      Attachable?: boolean;
      Ingress?: boolean;
      ConfigOnly?: boolean;
      ConfigFrom?: unknown;
    }>(c.req, 'network create');
    if (!b.Name) throw invalidArgument('network name must not be empty');
    if (b.Driver && b.Driver !== 'bridge') throw refused(`network driver ${b.Driver}`, 'berth makes bridge networks');
    if (b.Internal) throw refused('network create --internal', 'the berth engine does not make internal networks yet');
    if (b.EnableIPv6) throw refused('network create --ipv6', 'berth networks are IPv4');
    if (b.Options && Object.keys(b.Options).length)
      throw refused('network create --opt (Options)', 'the berth engine takes no driver options');
    if (b.Ingress || b.ConfigOnly || b.ConfigFrom)
      throw refused('network create --ingress/--config-only/--config-from', 'berth has no swarm');
    const ipam = b.IPAM?.Config ?? [];
    if (ipam.length > 1) throw refused('network create with several subnets', 'a berth network has one subnet');
    if (ipam[0]?.IPRange) throw refused('network create --ip-range', 'berth gives addresses from the whole subnet');
    if (b.Name === 'bridge' || b.Name === 'host' || b.Name === 'none')
      throw failedPrecondition(`network with name ${b.Name} already exists`);
    const n = await c.engine.network.create(b.Name, {
      driver: 'bridge',
      ...(ipam[0]?.Subnet ? { subnet: ipam[0].Subnet } : {}),
      ...(ipam[0]?.Gateway ? { gateway: ipam[0].Gateway } : {}),
      ...(b.Labels ? { labels: b.Labels } : {}),
    });
    c.engine.events.publish('network', 'create', b.Name, {});
    return new Created({ Id: n.name, Warning: '' });
  });
  r.on('DELETE', '/networks/{id}', async (c) => {
    const n = await inspectNetwork(c.engine, c.params.id!);
    const name = n.name;
    // libnetwork's refusals are 403 Forbidden.
    if (name === c.engine.network.defaultNetwork || name === 'host' || name === 'none')
      throw new DockerStatusError(403, `${c.params.id} is a pre-defined network and cannot be removed`);
    const users = c.engine.store.containersOnNetwork(name);
    if (users.length > 0)
      throw new DockerStatusError(
        403,
        `error while removing network: network ${c.params.id} id ${name} has active endpoints (${users.map((u) => u.slice(0, 12)).join(', ')})`,
      );
    await c.engine.network.remove(name);
    c.engine.events.publish('network', 'destroy', name, {});
    return NO_CONTENT;
  });
  r.on('POST', '/networks/prune', async (c) => ({
    NetworksDeleted: await pruneNetworks(c.engine, networkPruneKeep(filters(c.query))),
  }));
  r.on('POST', '/networks/{id}/connect', async (c) => {
    const b = await readJsonBody<{
      Container?: string;
      EndpointConfig?: {
        Aliases?: string[] | null;
        IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
        Links?: string[] | null;
        MacAddress?: string;
        DriverOpts?: Record<string, string> | null;
        [k: string]: unknown;
      } | null;
    }>(c.req, 'network connect');
    if (!b.Container) throw invalidArgument('network connect: Container is required');
    const ep = b.EndpointConfig ?? {};
    if (ep.IPAMConfig?.IPv6Address) throw refused('network connect --ip6', 'berth networks are IPv4');
    if (ep.IPAMConfig?.LinkLocalIPs?.length)
      throw refused('network connect --link-local-ip', 'berth networks are IPv4');
    if (ep.Links?.length) throw refused('network connect --link', 'legacy links are not supported; use a user network');
    if (ep.DriverOpts && Object.keys(ep.DriverOpts).length)
      throw refused('network connect --driver-opt', 'the berth engine takes no driver options');
    const name = (await inspectNetwork(c.engine, c.params.id!)).name;
    const ctr = await orNoSuch('container', b.Container, () => c.engine.containers.resolve(b.Container!));
    try {
      await c.engine.containers.connect(ctr.id, name, {
        ...(ep.Aliases?.length ? { aliases: ep.Aliases } : {}),
        ...(ep.IPAMConfig?.IPv4Address ? { ipv4Address: ep.IPAMConfig.IPv4Address } : {}),
        // The field came with API 1.44 (dockerd itself honours it on connect from 1.54).
        ...(ep.MacAddress && atLeast(c.version, '1.44')
          ? { macAddress: checkMacAddress(ep.MacAddress, 'EndpointConfig.MacAddress') }
          : {}),
      });
    } catch (e) {
      // libnetwork's refusal of a second endpoint by one name is a 403 Forbidden.
      if (isBerthError(e, ErrorCode.AlreadyExists))
        throw new DockerStatusError(
          403,
          `endpoint with name ${ctr.name} already exists in network ${dockerNetworkName(name, c.engine.network.defaultNetwork)}`,
          e,
        );
      throw e;
    }
    return okEmpty(c.res);
  });
  r.on('POST', '/networks/{id}/disconnect', async (c) => {
    const b = await readJsonBody<{ Container?: string; Force?: boolean }>(c.req, 'network disconnect');
    if (!b.Container) throw invalidArgument('network disconnect: Container is required');
    const def = c.engine.network.defaultNetwork;
    const name = engineNetworkName(c.params.id!, def);
    const net = await inspectNetwork(c.engine, c.params.id!).catch((e) => {
      // dockerd: with Force, a network that is gone no longer stops the container's endpoint from going.
      if (b.Force && isBerthError(e, ErrorCode.NotFound)) return undefined;
      throw e;
    });
    const ctr = await orNoSuch('container', b.Container, () => c.engine.containers.resolve(b.Container!));
    try {
      await c.engine.containers.disconnect(ctr.id, net ? name : c.params.id!);
    } catch (e) {
      // dockerd answers "not connected" with a plain 500, naming the network as its client does.
      if (isBerthError(e, ErrorCode.FailedPrecondition) && / is not connected to /.test(errorMessage(e)))
        throw new DockerStatusError(500, errorMessage(e).replace(/ \S+$/, ` ${dockerNetworkName(name, def)}`), e);
      throw e;
    }
    return okEmpty(c.res);
  });
}
