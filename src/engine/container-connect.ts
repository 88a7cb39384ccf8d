// network connect and disconnect: a container's endpoints (container_endpoints rows) change while
// it exists, running or not. The row is the intent and is written first; for a running container
// the CNI ADD into its namespace (or the DEL) follows, then the attachment row and the hosts files.
// A crash between the two leaves a running container whose attachments disagree with its endpoints:
// `reconcileEndpoints` (run by recovery for every running container) makes them agree again.
// Must never: touch another container's endpoints, or leave an ADD without a row that names it.
import { join } from 'node:path';
import { isIP } from 'node:net';
import { alreadyExists, failedPrecondition, invalidArgument } from '../errors/errors.ts';
import { isLive } from '../metadata/container-status.ts';
import type { EndpointRecord } from '../metadata/metadata-store.ts';
import type { Container, ContainerContext } from './container-context.ts';
import { CONTAINER_NAME } from './container-names.ts';
import { checkMacAddress } from './container-request.ts';
import { ensureDns, writeDnsResolvConf } from './container-dns.ts';
import { refreshHosts, releaseNetwork, rewriteHosts } from './container-network.ts';
import { faultPoint } from './fault-points.ts';

export type ConnectOptions = { aliases?: string[]; ipv4Address?: string; macAddress?: string };

/** The interface a running container's next network gets: the first ethN none of its attachments has. */
async function freeIfName(ctx: ContainerContext, id: string): Promise<string> {
  return firstFree(new Set((await ctx.o.network.attachments(id)).map((a) => a.ifName)));
}

function netnsOf(ctx: ContainerContext, id: string): string {
  return join(ctx.o.runRoot, 'netns', id);
}

/** docker's rules for which container may join which network (its words, so scripts match them). */
async function checkConnect(ctx: ContainerContext, c: Container, network: string, o: ConnectOptions): Promise<void> {
  const req = c.config.request;
  const mode = req.network ?? ctx.o.network.defaultNetwork;
  if (network === 'host')
    throw invalidArgument('cannot connect container to host network - container must be created in host network mode');
  if (req.sandbox || mode === 'host')
    throw invalidArgument(
      'container sharing network namespace with another container or host cannot be connected to any other network',
    );
  if (mode === 'none' || network === 'none')
    throw invalidArgument(
      'container cannot be connected to multiple networks with one of the networks in private (none) mode',
    );
  await checkEndpoint(ctx, network, o, 'network connect');
}

/** The flags (with the request's fields) that an endpoint's errors name: a connect's by default. */
export type EndpointFields = { aliases: string; ipv4Address: string; macAddress: string };
const CONNECT_FIELDS: EndpointFields = {
  aliases: '--alias (aliases)',
  ipv4Address: '--ip (ipv4Address)',
  macAddress: 'macAddress',
};

/**
 * docker's rules for one endpoint on a user or the default network (connect, and each network of a
 * create): the network exists, aliases and a requested address only on a user network, the address
 * in its subnet. `verb` names the request in the errors that are berth's own; each rule's message
 * names the flag of `fields` before docker's words.
 */
export async function checkEndpoint(
  ctx: ContainerContext,
  network: string,
  o: ConnectOptions,
  verb: string,
  fields: EndpointFields = CONNECT_FIELDS,
): Promise<void> {
  if (ctx.o.network.name === 'none')
    throw failedPrecondition(`${verb} ${network}: networking is not available on this berthd`);
  const info = await ctx.o.network.inspect(network);
  const user = network !== ctx.o.network.defaultNetwork;
  for (const a of o.aliases ?? [])
    if (typeof a !== 'string' || !CONTAINER_NAME.test(a))
      throw invalidArgument(
        `${fields.aliases} ${JSON.stringify(a)}: expected a name such as web or db.internal ([a-zA-Z0-9][a-zA-Z0-9_.-]*)`,
      );
  if (o.aliases?.length && !user)
    throw invalidArgument(
      `${fields.aliases}: network-scoped alias is supported only for containers in user defined networks`,
    );
  if (o.ipv4Address !== undefined) {
    if (typeof o.ipv4Address !== 'string' || isIP(o.ipv4Address) !== 4 || o.ipv4Address === '0.0.0.0')
      throw invalidArgument(`${fields.ipv4Address}: invalid IPv4 address: ${o.ipv4Address}`);
    if (!user)
      throw invalidArgument(
        `${fields.ipv4Address}: user specified IP address is supported on user defined networks only`,
      );
    if (typeof info.subnet === 'string' && !inSubnet(o.ipv4Address, info.subnet))
      throw invalidArgument(
        `${fields.ipv4Address}: no configured subnet or ip-range contain the IP address ${o.ipv4Address}`,
      );
  }
  if (o.macAddress !== undefined) checkMacAddress(o.macAddress, fields.macAddress);
}

function inSubnet(ip: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const n = (s: string) => s.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  return (n(ip) & mask) >>> 0 === (n(base) & mask) >>> 0;
}

/**
 * Connects the container to `network`. A stopped one joins it at its next start; a running one
 * joins now, on its next free interface. Already connected: refused while running (docker's
 * words), accepted as it is while stopped (as dockerd does).
 */
export async function connectNetwork(
  ctx: ContainerContext,
  id: string,
  network: string,
  o: ConnectOptions = {},
): Promise<void> {
  await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    await checkConnect(ctx, c, network, o);
    const ep: EndpointRecord = {
      network,
      aliases: [...new Set(o.aliases ?? [])],
      ipv4Address: o.ipv4Address ?? '',
      ...(o.macAddress ? { macAddress: checkMacAddress(o.macAddress, 'macAddress') } : {}),
    };
    const live = isLive(c.status);
    if (!ctx.store.addEndpoint(id, ep)) {
      if (live) throw alreadyExists(`endpoint with name ${c.name} already exists in network ${network}`);
      return;
    }
    faultPoint('connect.recorded');
    if (live) {
      try {
        await attachEndpoint(ctx, c, ep, await freeIfName(ctx, id));
      } catch (e) {
        ctx.store.removeEndpoint(id, network);
        throw e;
      }
      // Its first user network: names resolve through berthd's 127.0.0.11 from now on.
      await writeDnsResolvConf(ctx, c);
      await ensureDns(ctx, c);
    }
    ctx.o.events.publish('network', 'connect', network, { container: id, name: network, type: 'bridge' });
  });
}

/** CNI ADD of one endpoint into the running container's namespace, recorded, and the names shared. */
async function attachEndpoint(ctx: ContainerContext, c: Container, ep: EndpointRecord, ifName: string): Promise<void> {
  const result = await ctx.o.network.attach(c.id, netnsOf(ctx, c.id), ep.network, {
    portMappings: [],
    aliases: [c.name, ...ep.aliases],
    ifName,
    ...(ep.ipv4Address ? { ipv4Address: ep.ipv4Address } : {}),
    ...(ep.macAddress ? { macAddress: ep.macAddress } : {}),
    ...(ifName !== 'eth0' ? { defaultRoute: false } : {}),
  });
  ctx.store.putAttachment(c.id, ep.network, result);
  faultPoint('connect.attached');
  await refreshHosts(ctx, ep.network);
}

/**
 * Disconnects the container from `network`: the endpoint goes, and a running container leaves the
 * network now (CNI DEL). Not connected: docker's error (`force` changes nothing for a network that
 * exists, as for dockerd on one host).
 */
export async function disconnectNetwork(ctx: ContainerContext, id: string, network: string): Promise<void> {
  await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    const mode = c.config.request.network ?? ctx.o.network.defaultNetwork;
    if (network === 'host' && mode === 'host')
      throw invalidArgument(
        'cannot disconnect container from host network - container was created in host network mode',
      );
    const live = isLive(c.status);
    if (!ctx.store.removeEndpoint(id, network))
      throw failedPrecondition(
        live
          ? `container ${id} is not connected to network ${network}`
          : `container ${id} is not connected to the network ${network}`,
      );
    faultPoint('disconnect.recorded');
    if (live) {
      await releaseNetwork(ctx, id, [network], false);
      faultPoint('disconnect.detached');
      await rewriteHosts(ctx, id);
    }
    ctx.o.events.publish('network', 'disconnect', network, { container: id, name: network, type: 'bridge' });
  });
}

/**
 * After a crash: a running container's attachments made to agree with its endpoints. An endpoint
 * without an attachment row is adopted from the backend's complete record or attached now; an
 * attachment (row or backend record) without an endpoint is detached. Errors are logged, not thrown.
 */
export async function reconcileEndpoints(ctx: ContainerContext, c: Container): Promise<string[]> {
  const done: string[] = [];
  if (c.config.request.sandbox || ctx.o.network.name === 'none') return done;
  const endpoints = ctx.store.endpoints(c.id);
  const want = new Set(endpoints.map((e) => e.network));
  const rows = new Set(ctx.store.attachments(c.id).map((a) => a.network));
  const backend = await ctx.o.network.attachments(c.id).catch(() => []);
  try {
    const stray = [...new Set([...rows, ...backend.map((b) => b.network)])].filter((n) => !want.has(n));
    if (stray.length) {
      await releaseNetwork(ctx, c.id, stray, false);
      done.push(...stray.map((n) => `detached ${c.id} from ${n}`));
    }
    for (const ep of endpoints) {
      if (rows.has(ep.network)) continue;
      const rec = backend.find((b) => b.network === ep.network);
      if (rec?.complete) {
        ctx.store.putAttachment(c.id, ep.network, rec.result);
        await refreshHosts(ctx, ep.network);
        done.push(`adopted ${c.id} on ${ep.network}`);
        continue;
      }
      const used = new Set(backend.filter((b) => b.network !== ep.network).map((b) => b.ifName));
      const ifName = rec?.ifName ?? firstFree(used);
      await attachEndpoint(ctx, c, ep, ifName);
      used.add(ifName);
      done.push(`attached ${c.id} to ${ep.network}`);
    }
    if (done.length) await rewriteHosts(ctx, c.id);
  } catch (e) {
    ctx.log(`network endpoints of ${c.id}: ${(e as Error).message}`);
  }
  return done;
}

function firstFree(used: Set<string>): string {
  let i = 0;
  while (used.has(`eth${i}`)) i++;
  return `eth${i}`;
}
