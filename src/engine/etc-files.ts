// The /etc files berthd gives a container (bind-mounted by its spec): hostname, hosts and
// resolv.conf, in the bundle directory. `hosts.base` is the container's own part of hosts; on a user
// network berthd rewrites `hosts` as that plus every attached container's name (container-network.ts).
import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { invalidArgument } from '../errors/errors.ts';

export function hostsBase(hostname: string, extraHosts: readonly string[] = []): string {
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n${extraHosts.map(extraHostLine).join('')}`;
}

/** docker's --add-host `HOST:IP` (an IPv6 address after the first colon, bracketed or not) as a hosts line. */
export function extraHostLine(entry: string): string {
  const i = entry.indexOf(':');
  const host = i > 0 ? entry.slice(0, i) : '';
  const ip = i > 0 ? entry.slice(i + 1).replace(/^\[(.*)\]$/, '$1') : '';
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host) || isIP(ip) === 0)
    throw invalidArgument(`extra host ${JSON.stringify(entry)}: expected HOST:IP, such as db:10.0.0.5`);
  return `${ip}\t${host}\n`;
}

/** A container's own resolver settings (docker's --dns, --dns-search, --dns-option): each given part replaces the host's. */
export type DnsConfig = { servers?: string[]; search?: string[]; options?: string[] };

/**
 * The host's resolv.conf for a container on `network`: a loopback resolver of the host
 * (systemd-resolved, dnsmasq) is unreachable from a container's netns, so it goes, and a public
 * one stands in when none is left. On the host network the host's file is kept as it is. What
 * `dns` gives replaces the host's nameservers, search list or options, as docker's flags do.
 */
export function containerResolvConf(host: string, network: string | undefined, dns: DnsConfig = {}): string {
  let lines = host
    .split('\n')
    .filter((l) => l.trim() !== '' && !(network !== 'host' && /^\s*nameserver\s+(127\.|::1)/.test(l)));
  if (dns.servers?.length) {
    for (const s of dns.servers)
      if (isIP(s) === 0) throw invalidArgument(`--dns (dns.servers) ${JSON.stringify(s)}: expected an IP address`);
    lines = [...lines.filter((l) => !/^\s*nameserver\b/.test(l)), ...dns.servers.map((s) => `nameserver ${s}`)];
  }
  if (dns.search?.length) {
    for (const d of dns.search)
      if (!/^[A-Za-z0-9.-]+$/.test(d))
        throw invalidArgument(`--dns-search (dns.search) ${JSON.stringify(d)}: expected a domain name`);
    lines = [...lines.filter((l) => !/^\s*(search|domain)\b/.test(l)), `search ${dns.search.join(' ')}`];
  }
  if (dns.options?.length) {
    for (const o of dns.options)
      if (!/^[A-Za-z0-9_:.-]+$/.test(o))
        throw invalidArgument(
          `--dns-option (dns.options) ${JSON.stringify(o)}: expected a resolv.conf option such as ndots:2`,
        );
    lines = [...lines.filter((l) => !/^\s*options\b/.test(l)), `options ${dns.options.join(' ')}`];
  }
  if (!lines.some((l) => /^\s*nameserver/.test(l)) && network !== 'host') lines.push('nameserver 8.8.8.8');
  return `${lines.join('\n').trim()}\n`;
}

/**
 * A container's resolv.conf when berthd's embedded DNS server answers it (user networks): only
 * 127.0.0.11, with the host's search list and options (or those --dns-search and --dns-option give)
 * and `ndots:0` unless an ndots is given, as dockerd writes it. The servers (the host's or --dns)
 * are where the embedded server forwards.
 */
export function embeddedResolvConf(host: string, dns: DnsConfig = {}): string {
  const lines = host.split('\n');
  const search = dns.search?.length
    ? [`search ${dns.search.join(' ')}`]
    : lines.filter((l) => /^\s*(search|domain)\s/.test(l)).map((l) => l.trim());
  let options = dns.options?.length
    ? [...dns.options]
    : lines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  if (!options.some((o) => o.startsWith('ndots:'))) options = ['ndots:0', ...options];
  return ['nameserver 127.0.0.11', ...search, `options ${options.join(' ')}`, ''].join('\n');
}

/** Writes the files into the bundle `dir`; returns their paths, for the spec's mounts. */
export async function writeEtcFiles(
  dir: string,
  hostname: string,
  network: string | undefined,
  extraHosts: readonly string[] = [],
  dns: DnsConfig = {},
): Promise<{ hosts: string; hostname: string; resolvConf: string }> {
  const base = hostsBase(hostname, extraHosts);
  const paths = { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: join(dir, 'resolv.conf') };
  await Promise.all([
    writeFile(paths.hostname, `${hostname}\n`),
    writeFile(join(dir, 'hosts.base'), base),
    writeFile(paths.hosts, base),
    readFile('/etc/resolv.conf', 'utf8')
      .catch(() => '')
      .then((text) => writeFile(paths.resolvConf, containerResolvConf(text, network, dns))),
  ]);
  return paths;
}
