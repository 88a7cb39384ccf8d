// IPv4 prefixes for berth's networks: parsing, overlap, and choosing a subnet that collides with
// nothing the host already routes. Pure: it never reads the host itself (host-routes.ts does, and
// passes what it found in).
import { invalidArgument } from '../errors/errors.ts';

export interface Ipv4Prefix {
  /** The network address as an unsigned 32-bit number (host bits cleared). */
  readonly base: number;
  readonly bits: number;
}

export function parseIpv4(text: string, what = 'address'): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw invalidArgument(`${what} "${text}": expected a dotted IPv4 address such as 10.89.0.1`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** "10.89.0.0/16" → prefix. Host bits must be zero, as CNI's host-local expects a network address. */
export function parseCidr(text: string, what = 'subnet'): Ipv4Prefix {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const bad = () => invalidArgument(`${what} "${text}": expected an IPv4 prefix such as 10.89.0.0/16`);
  if (!m || Number(m[2]) > 32) throw bad();
  let addr: number;
  try {
    addr = parseIpv4(m[1]!, what);
  } catch {
    throw bad();
  }
  const bits = Number(m[2]);
  const base = (addr & mask(bits)) >>> 0;
  if (base !== addr)
    throw invalidArgument(`${what} "${text}": host bits are set (expected ${formatIpv4(base)}/${bits})`);
  return { base, bits };
}

export function formatCidr(p: Ipv4Prefix): string {
  return `${formatIpv4(p.base)}/${p.bits}`;
}

export function contains(p: Ipv4Prefix, addr: number): boolean {
  return (addr & mask(p.bits)) >>> 0 === p.base;
}

export function overlaps(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  const bits = Math.min(a.bits, b.bits);
  return (a.base & mask(bits)) >>> 0 === (b.base & mask(bits)) >>> 0;
}

/** RFC 1918 ranges: berth only ever hands out addresses from these. */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((c) => parseCidr(c));

export function isPrivate(p: Ipv4Prefix): boolean {
  return PRIVATE.some((r) => r.bits <= p.bits && contains(r, p.base));
}

/** The gateway CNI's bridge gets: the first host address of the subnet. */
export function firstHost(p: Ipv4Prefix): string {
  if (p.bits > 30) throw invalidArgument(`subnet ${formatCidr(p)}: too small for a bridge network (at most /30)`);
  return formatIpv4(p.base + 1);
}

/**
 * The pool automatic subnets come from, in order: 10.89.0.0/16 … 10.254.0.0/16. It starts above
 * 10.88.0.0/16 because that is podman's default CNI network (cni-podman0), often configured on
 * hosts where it is not yet routed; docker's defaults (172.17+/16, 192.168.x) are avoided too.
 */
export function* defaultPool(): Generator<Ipv4Prefix> {
  for (let second = 89; second <= 254; second++) yield { base: ((10 << 24) | (second << 16)) >>> 0, bits: 16 };
}

/** The first prefix of `pool` that overlaps none of `taken`, or undefined. */
export function pickFree(
  taken: readonly Ipv4Prefix[],
  pool: Iterable<Ipv4Prefix> = defaultPool(),
): Ipv4Prefix | undefined {
  for (const p of pool) if (!taken.some((t) => overlaps(p, t))) return p;
  return undefined;
}
