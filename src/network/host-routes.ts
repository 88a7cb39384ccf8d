// What address space this host already uses, so that a new berth network never shadows it: every
// IPv4 route in every table, every address on every interface, and the subnets other CNI users
// configured in /etc/cni/net.d (podman's 10.88.0.0/16 is not routed until its first container).
// Read-only: it never changes a route or an address.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unavailable } from '../errors/errors.ts';
import { describeFailure, runCommand } from './run-command.ts';
import { type Ipv4Prefix, parseCidr, parseIpv4 } from './subnet.ts';

function prefixOf(dst: string, bits?: number): Ipv4Prefix | undefined {
  try {
    const [addr, len] = dst.includes('/') ? (dst.split('/') as [string, string]) : [dst, String(bits ?? 32)];
    const n = Number(len);
    const a = parseIpv4(addr);
    const m = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
    return { base: (a & m) >>> 0, bits: n };
  } catch {
    return undefined;
  }
}

/**
 * Prefixes in `ip -j -4 route show table all` output; default routes are ignored (they match
 * everything), and so are routes through `exceptDev` (a bridge berth is taking over).
 */
export function routePrefixes(json: string, exceptDev?: string): Ipv4Prefix[] {
  const out: Ipv4Prefix[] = [];
  for (const r of JSON.parse(json) as Array<{ dst?: string; dev?: string }>) {
    if (!r.dst || r.dst === 'default' || (exceptDev !== undefined && r.dev === exceptDev)) continue;
    const p = prefixOf(r.dst);
    if (p && p.bits > 0) out.push(p);
  }
  return out;
}

/** Prefixes in `ip -j -4 addr` output (the on-link network of each address), but `exceptDev`'s. */
export function addressPrefixes(json: string, exceptDev?: string): Ipv4Prefix[] {
  const out: Ipv4Prefix[] = [];
  for (const link of JSON.parse(json) as Array<{
    ifname?: string;
    addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
  }>) {
    if (exceptDev !== undefined && link.ifname === exceptDev) continue;
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' || !a.local) continue;
      const p = prefixOf(a.local, a.prefixlen);
      if (p) out.push(p);
    }
  }
  return out;
}

/** Subnets named anywhere in a CNI config (ipam.subnet, ipam.ranges[][].subnet), however nested. */
export function configSubnets(config: unknown): Ipv4Prefix[] {
  const out: Ipv4Prefix[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) visit(x);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'subnet' && typeof x === 'string') {
          try {
            out.push(parseCidr(x));
          } catch {
            // an IPv6 or malformed subnet of someone else's config is not ours to judge
          }
        } else visit(x);
      }
    }
  };
  visit(config);
  return out;
}

async function ipJson(args: string[]): Promise<string> {
  const r = await runCommand('ip', ['-j', '-4', ...args]);
  if (r.code !== 0) throw unavailable(`reading the host's routes: ${describeFailure('ip', ['-j', '-4', ...args], r)}`);
  return r.stdout;
}

/** What the host uses; `exceptDev`'s own addresses and routes do not count (a bridge berth takes over). */
export async function hostTakenPrefixes(
  cniConfDirs: readonly string[] = ['/etc/cni/net.d'],
  exceptDev?: string,
): Promise<Ipv4Prefix[]> {
  const taken = [
    ...routePrefixes(await ipJson(['route', 'show', 'table', 'all']), exceptDev),
    ...addressPrefixes(await ipJson(['addr']), exceptDev),
  ];
  for (const dir of cniConfDirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (!/\.(conflist|conf|json)$/.test(n)) continue;
      try {
        taken.push(...configSubnets(JSON.parse(await readFile(join(dir, n), 'utf8'))));
      } catch {
        // unreadable or not JSON: not a config we could collide with
      }
    }
  }
  return taken;
}
