// Volume and network routes of the Docker API. The engine's default network is docker's `bridge`
// on the wire (container-shapes.ts converts the name both ways).
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/engine.ts';
import { pruneNetworks } from '../engine/system-prune.ts';
import type { NetworkInfo, VolumeInfo } from '../engine/types.ts';
import { failedPrecondition, invalidArgument } from '../errors/errors.ts';
import { dockerNetworkName, engineNetworkName } from './container-shapes.ts';
import { orNoSuch, refused } from './errors.ts';
import { filters, flag } from './query.ts';
import { Created, type DockerRouter, NO_CONTENT, readJsonBody } from './server.ts';

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

function dockerNetwork(e: Engine, n: NetworkInfo) {
  const name = dockerNetworkName(n.name, e.network.defaultNetwork);
  const driver = n.driver === 'bridge' || n.driver === 'host' || n.driver === 'null' ? n.driver : n.driver;
  return {
    Name: name,
    // berth's networks are known by name; docker clients only need the ID to be stable and unique.
    Id: n.name,
    Created: typeof n.createdAt === 'string' ? n.createdAt : '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: driver,
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
      n.containers.map((id) => [id, { Name: '', EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' }]),
    ),
    Options: {},
    Labels: (n.labels as Record<string, string> | undefined) ?? {},
  };
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
      if (k !== 'name' && k !== 'driver' && k !== 'id' && k !== 'type') throw invalidArgument(`invalid filter '${k}'`);
    return (await c.engine.network.list())
      .map((n) => dockerNetwork(c.engine, n))
      .filter(
        (n) =>
          (!f.name?.length || f.name.some((x) => n.Name.includes(x))) &&
          (!f.driver?.length || f.driver.includes(n.Driver)) &&
          (!f.id?.length || f.id.some((x) => n.Id.startsWith(x))),
      );
  });
  r.on('GET', '/networks/{id}', async (c) => {
    const name = engineNetworkName(c.params.id!, c.engine.network.defaultNetwork);
    return dockerNetwork(c.engine, await orNoSuch('network', c.params.id!, () => c.engine.network.inspect(name)));
  });
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
    const name = engineNetworkName(c.params.id!, c.engine.network.defaultNetwork);
    await orNoSuch('network', c.params.id!, () => c.engine.network.inspect(name));
    if (name === c.engine.network.defaultNetwork || name === 'host' || name === 'none')
      throw failedPrecondition(`${c.params.id} is a pre-defined network and cannot be removed`);
    const users = c.engine.store.containersOnNetwork(name);
    if (users.length > 0)
      throw failedPrecondition(
        `error while removing network: network ${c.params.id} has active endpoints (${users.map((u) => u.slice(0, 12)).join(', ')})`,
      );
    await c.engine.network.remove(name);
    c.engine.events.publish('network', 'destroy', name, {});
    return NO_CONTENT;
  });
  r.on('POST', '/networks/prune', async (c) => {
    if (Object.keys(filters(c.query)).length)
      throw refused('network prune --filter', 'berthd prunes every unused network');
    return { NetworksDeleted: await pruneNetworks(c.engine) };
  });
  r.on('POST', '/networks/{id}/connect', async () => {
    throw refused('network connect', 'the berth engine joins a container to one network at create');
  });
  r.on('POST', '/networks/{id}/disconnect', async () => {
    throw refused('network disconnect', 'the berth engine joins a container to one network at create');
  });
}
