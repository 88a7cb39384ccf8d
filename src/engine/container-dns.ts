// The embedded DNS server of a running container on a user network (dockerd's 127.0.0.11): its
// resolv.conf names 127.0.0.11, berthd listens in its network namespace (src/network/embedded-dns.ts,
// with the redirect of port 53 in dns-redirect.ts) and answers the names of the containers on the
// user networks the asker is attached to — their names and aliases, compose's service names among
// them —, forwarding the rest to the container's --dns servers, else berthd's upstreams (the host's
// resolvers). Made at start (or when a running container connects to its first user network),
// closed when its task is released, made again for running containers after berthd restarts.
// A container only on the default network, on host or none, or in a pod keeps the host's resolvers,
// as dockerd's default bridge does.
// Must never: answer a name from a network the asker is not on, or keep a server for a container
// that is not running.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EmbeddedDns, type DnsUpstream } from '../network/embedded-dns.ts';
import { redirectDns } from '../network/dns-redirect.ts';
import type { Container, ContainerContext } from './container-context.ts';
import { endpointDnsNames } from './container-names.ts';
import { embeddedResolvConf } from './etc-files.ts';

const servers = new WeakMap<ContainerContext, Map<string, EmbeddedDns>>();

function serversOf(ctx: ContainerContext): Map<string, EmbeddedDns> {
  let m = servers.get(ctx);
  if (!m) {
    m = new Map();
    servers.set(ctx, m);
  }
  return m;
}

/** The user networks (not the default) among `networks`. */
function userNetworks(ctx: ContainerContext, networks: string[]): string[] {
  const def = ctx.o.network.defaultNetwork;
  return networks.filter((n) => n !== def && n !== 'host' && n !== 'none');
}

/** Whether the container gets the embedded DNS server: a container (not a pod's) with a user network among its endpoints. */
export function usesEmbeddedDns(ctx: ContainerContext, c: Container): boolean {
  if (c.config.request.sandbox || ctx.o.network.name === 'none') return false;
  return (
    userNetworks(
      ctx,
      ctx.store.endpoints(c.id).map((e) => e.network),
    ).length > 0
  );
}

/**
 * The container's resolv.conf for its next start: 127.0.0.11 with the host's (or --dns-search /
 * --dns-option) search list and options when it gets the embedded server, else left as create wrote it.
 */
export async function writeDnsResolvConf(ctx: ContainerContext, c: Container): Promise<void> {
  if (!usesEmbeddedDns(ctx, c)) return;
  const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  await writeFile(join(ctx.dir(c.id), 'resolv.conf'), embeddedResolvConf(host, c.config.request.dns ?? {}));
}

/** Starts the running container's server if it gets one and has none; logged, never thrown (names still resolve through /etc/hosts). */
export async function ensureDns(ctx: ContainerContext, c: Container): Promise<void> {
  const m = serversOf(ctx);
  if (m.has(c.id) || !usesEmbeddedDns(ctx, c)) return;
  const netns = join(ctx.o.runRoot, 'netns', c.id);
  const own = c.config.request.dns?.servers ?? [];
  try {
    const upstreams: DnsUpstream[] = own.length
      ? own.map((host) => ({ host, port: 53 }))
      : await ctx.o.network.dnsUpstreams();
    const server = await EmbeddedDns.open(
      netns,
      (name) => lookupName(ctx, c.id, name),
      () => upstreams,
      (msg) => ctx.log(`${c.id.slice(0, 12)}: ${msg}`),
    );
    try {
      await redirectDns(netns, server.udpPort, server.tcpPort);
    } catch (e) {
      server.close();
      throw e;
    }
    m.set(c.id, server);
  } catch (e) {
    ctx.log(`embedded DNS of ${c.id}: ${(e as Error).message}`);
  }
}

/** Closes the container's server (its task is going). */
export function stopDns(ctx: ContainerContext, id: string): void {
  const m = serversOf(ctx);
  m.get(id)?.close();
  m.delete(id);
}

/** Closes every server (berthd is stopping: containers keep running, the next berthd makes them again). */
export function stopAllDns(ctx: ContainerContext): void {
  for (const id of [...serversOf(ctx).keys()]) stopDns(ctx, id);
}

/**
 * The IPv4 addresses `name` has on the user networks the asker is attached to (its own name
 * included), or undefined when no container there has it: the query is then forwarded. As dockerd's
 * resolver, which owns each network's domain: a container's names there (endpointDnsNames: its
 * name, aliases, short ID, hostname) alone and followed by `.<network>`.
 */
async function lookupName(ctx: ContainerContext, askerId: string, name: string): Promise<string[] | undefined> {
  const nets = userNetworks(
    ctx,
    ctx.store.attachments(askerId).map((a) => a.network),
  );
  const q = name.toLowerCase();
  const ips = new Set<string>();
  for (const n of nets) {
    const suffix = `.${n.toLowerCase()}`;
    const wanted = q.endsWith(suffix) ? [q, q.slice(0, -suffix.length)] : [q];
    for (const id of ctx.store.containersOnNetwork(n)) {
      const ip = addressOn(ctx, id, n, wanted);
      if (ip) ips.add(ip);
    }
  }
  return ips.size ? [...ips] : undefined;
}

/** The container's address on `network` when one of its names there is among `wanted`. */
function addressOn(ctx: ContainerContext, id: string, network: string, wanted: string[]): string | undefined {
  let c: Container;
  try {
    c = ctx.store.getContainer(id);
  } catch {
    return undefined; // removed meanwhile
  }
  const ep = ctx.store.endpoints(id).find((e) => e.network === network);
  const names = endpointDnsNames({ id, name: c.name, hostname: c.config.request.hostname }, ep?.aliases ?? []);
  if (!names.some((x) => wanted.includes(x.toLowerCase()))) return undefined;
  const result = ctx.store.attachments(id).find((a) => a.network === network)?.result as { ips?: string[] } | undefined;
  return result?.ips?.find((ip) => ip.includes('.'))?.split('/')[0];
}
