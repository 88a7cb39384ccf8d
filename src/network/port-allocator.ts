// Host ports for `-p CONTAINER_PORT` (no host port given): picked, as dockerd does, from the
// kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default), free
// on the host (a bind test on the address it will be published on) and not already taken by berth
// (the caller's `taken`: other containers' allocations and explicit mappings). The caller records
// the choice durably; this module only chooses.
// Must never: keep a socket open past the check, or pick a port outside the range.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { unavailable } from '../errors/errors.ts';

export const DEFAULT_EPHEMERAL_RANGE: readonly [number, number] = [32768, 60999];

/** The kernel's ip_local_port_range, or docker's default when it cannot be read or makes no sense. */
export function ephemeralPortRange(text?: string): [number, number] {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    } catch {
      return [...DEFAULT_EPHEMERAL_RANGE];
    }
  }
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(t);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || !(lo >= 1024 && hi <= 65535 && lo <= hi)) return [...DEFAULT_EPHEMERAL_RANGE];
  return [lo, hi];
}

/** True when nothing on the host is bound to `port` on `hostIP` ('' = every address). */
export function hostPortFree(hostIP: string, port: number, protocol: 'tcp' | 'udp' | 'sctp' = 'tcp'): Promise<boolean> {
  const host = hostIP === '' ? '0.0.0.0' : hostIP;
  if (protocol === 'udp') {
    return new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
    });
  }
  // sctp has no socket in Node: its ports are judged by berth's own records alone.
  if (protocol === 'sctp') return Promise.resolve(true);
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export type AllocateOptions = {
  range?: [number, number];
  /** Ports berth already publishes or has handed out (any container, this protocol). */
  taken: (port: number) => boolean;
  /** The host-side check; default hostPortFree on the mapping's address. */
  free: (port: number) => Promise<boolean>;
  /** Where the scan starts; default a random point, so concurrent callers rarely meet. */
  start?: number;
  /** What `range` is, for the error when it is full; default the kernel's ip_local_port_range. */
  rangeName?: string;
};

/** The first port from `start` (wrapping once through the range) that is neither taken nor busy. */
export async function allocateHostPort(o: AllocateOptions): Promise<number> {
  const [lo, hi] = o.range ?? ephemeralPortRange();
  const n = hi - lo + 1;
  const first = o.start !== undefined ? Math.min(Math.max(o.start, lo), hi) : lo + Math.floor(Math.random() * n);
  for (let i = 0; i < n; i++) {
    const port = lo + ((first - lo + i) % n);
    if (o.taken(port)) continue;
    if (await o.free(port)) return port;
  }
  throw unavailable(
    `no free host port left in ${lo}-${hi} (${o.rangeName ?? "the kernel's ip_local_port_range"}) to publish on`,
  );
}
