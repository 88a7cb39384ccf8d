// berthd's embedded DNS server of one container, dockerd's 127.0.0.11: UDP and TCP sockets made by
// berthd inside the container's network namespace (the addon's netnsBind: no process runs there),
// on ports the kernel picks, with the container's 127.0.0.11:53 redirected to them by a NAT rule in
// that namespace (dns-redirect.ts), so a DNS server of the container's own on port 53 is not in the
// way. A query for a name the caller's `lookup` knows (containers and aliases on the asker's
// networks) is answered here: A with the addresses, AAAA and other types empty (NOERROR: the name
// exists, it has no such record); any other query is forwarded as it is, from the host's namespace,
// to the upstream servers (the host's resolvers, or the container's --dns), and their answer relayed;
// SERVFAIL when none answers. The wire format is dns-packet's.
// Owns: its two sockets and the forwarding sockets of queries under way. Must never: run a process,
// answer for a name on a network the asker is not on (the caller's lookup decides), or outlive close().
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import type * as DnsPacket from 'dns-packet';
import { invalidArgument } from '../errors/errors.ts';
import { netnsBind } from '../sys/native.ts';

export const EMBEDDED_DNS_ADDRESS = '127.0.0.11';

/** The IPv4 addresses of a name on the asker's networks, or undefined when it is not one of theirs. */
export type DnsLookup = (name: string) => Promise<string[] | undefined> | string[] | undefined;
export type DnsUpstream = { host: string; port: number };

const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
/** Per upstream server and attempt. */
const FORWARD_TIMEOUT_MS = 2000;
/** A container's names change whenever one connects; short enough that a stale answer does not linger. */
const TTL = 10;
const MAX_TCP_MESSAGE = 65535;
/** dns-packet, imported by the first server's open(): not at berthd's start. */
let dnsPacket: typeof DnsPacket;

export class EmbeddedDns {
  readonly udpPort: number;
  readonly tcpPort: number;
  readonly #udp: UdpSocket;
  readonly #tcp: Server;
  readonly #lookup: DnsLookup;
  readonly #upstreams: () => DnsUpstream[];
  readonly #log: (msg: string) => void;
  readonly #conns = new Set<Socket>();
  #closed = false;

  private constructor(
    udp: { socket: UdpSocket; port: number },
    tcp: { server: Server; port: number },
    lookup: DnsLookup,
    upstreams: () => DnsUpstream[],
    log: (msg: string) => void,
  ) {
    this.#udp = udp.socket;
    this.udpPort = udp.port;
    this.#tcp = tcp.server;
    this.tcpPort = tcp.port;
    this.#lookup = lookup;
    this.#upstreams = upstreams;
    this.#log = log;
    this.#udp.on('message', (msg, rinfo) => {
      void this.#answer(msg, false).then((out) => {
        if (out && !this.#closed) this.#udp.send(out, rinfo.port, rinfo.address);
      });
    });
    this.#udp.on('error', (e) => this.#log(`embedded DNS (udp): ${e.message}`));
    this.#tcp.on('connection', (s) => this.#serveTcp(s));
    this.#tcp.on('error', (e) => this.#log(`embedded DNS (tcp): ${e.message}`));
  }

  /** Listens on 127.0.0.11 in the namespace at `netnsPath` (UDP and TCP, ports the kernel picks). */
  static async open(
    netnsPath: string,
    lookup: DnsLookup,
    upstreams: () => DnsUpstream[],
    log: (msg: string) => void = () => {},
  ): Promise<EmbeddedDns> {
    dnsPacket ??= await import('dns-packet');
    const u = netnsBind(netnsPath, 'udp', EMBEDDED_DNS_ADDRESS, 0);
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ fd: u.fd }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      socket.close();
      throw e;
    }
    let t: { fd: number; port: number };
    try {
      t = netnsBind(netnsPath, 'tcp', EMBEDDED_DNS_ADDRESS, 0);
    } catch (e) {
      socket.close();
      throw e;
    }
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd: t.fd }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((e) => {
      socket.close();
      server.close();
      throw e;
    });
    return new EmbeddedDns({ socket, port: u.port }, { server, port: t.port }, lookup, upstreams, log);
  }

  /** Stops answering: both sockets and every TCP connection close. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#udp.close();
    this.#tcp.close();
    for (const s of this.#conns) s.destroy();
  }

  #serveTcp(s: Socket): void {
    this.#conns.add(s);
    s.on('close', () => this.#conns.delete(s));
    s.on('error', () => {});
    s.setTimeout(30_000, () => s.destroy());
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.#answer(msg, true).then((out) => {
          if (!out || s.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length);
          s.write(Buffer.concat([head, out]));
        });
      }
    });
  }

  /** The reply to one query message; undefined for what is not a query (dropped, as resolvers do). */
  async #answer(msg: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    let q: DnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return msg.length >= 12 ? headerOnly(msg, RCODE_FORMERR) : undefined;
    }
    if (q.type === 'response') return undefined;
    const question = q.questions?.[0];
    if (!question || q.questions!.length !== 1) return reply(q, RCODE_FORMERR);
    if ((question.class ?? 'IN') === 'IN') {
      const name = question.name.replace(/\.$/, '').toLowerCase();
      let ips: string[] | undefined;
      try {
        ips = await this.#lookup(name);
      } catch (e) {
        this.#log(`embedded DNS lookup of ${name}: ${(e as Error).message}`);
      }
      if (ips)
        return reply(
          q,
          0,
          question.type === 'A'
            ? ips.map((data) => ({ type: 'A' as const, name: question.name, class: 'IN' as const, ttl: TTL, data }))
            : [],
        );
    }
    for (const up of this.#upstreams()) {
      if (this.#closed) return undefined;
      try {
        return tcp ? await forwardTcp(msg, up) : await forwardUdp(msg, q.id ?? 0, up);
      } catch {
        // The next server; SERVFAIL when none answers.
      }
    }
    return reply(q, RCODE_SERVFAIL);
  }
}

function reply(q: DnsPacket.DecodedPacket, rcode: number, answers: DnsPacket.Answer[] = []): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: q.id ?? 0,
    flags: (q.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: q.questions ?? [],
    answers,
  });
}

/** The 12-byte header of an undecodable message, turned into a response with `rcode` and no sections. */
function headerOnly(msg: Buffer, rcode: number): Buffer {
  const h = Buffer.alloc(12);
  msg.copy(h, 0, 0, 2);
  h.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x7800) | 0x0080 | rcode, 2);
  return h;
}

function forwardUdp(msg: Buffer, id: number, up: DnsUpstream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket(up.host.includes(':') ? 'udp6' : 'udp4');
    const done = (e?: Error, out?: Buffer) => {
      clearTimeout(timer);
      s.close();
      if (e) reject(e);
      else resolve(out!);
    };
    const timer = setTimeout(() => done(new Error(`no answer from ${up.host}:${up.port}`)), FORWARD_TIMEOUT_MS);
    s.on('error', (e) => done(e));
    s.on('message', (out, rinfo) => {
      // Only the server asked, answering this query.
      if (rinfo.port !== up.port || out.length < 2 || out.readUInt16BE(0) !== id) return;
      done(undefined, out);
    });
    s.send(msg, up.port, up.host);
  });
}

function forwardTcp(msg: Buffer, up: DnsUpstream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no answer from ${up.host}:${up.port}`)), FORWARD_TIMEOUT_MS);
    const finish = (e?: Error, out?: Buffer) => {
      clearTimeout(timer);
      s.destroy();
      if (e) reject(e);
      else resolve(out!);
    };
    s.on('error', (e) => finish(e));
    s.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      s.write(Buffer.concat([head, msg]));
    });
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len > MAX_TCP_MESSAGE) finish(new Error('oversized answer'));
        else if (buf.length >= 2 + len) finish(undefined, buf.subarray(2, 2 + len));
      }
    });
    s.on('end', () => finish(new Error(`${up.host}:${up.port} closed the connection`)));
  });
}

/** The nameservers of a resolv.conf text, as upstreams on port 53 (IPv4 and IPv6 addresses). */
export function resolvConfUpstreams(text: string): DnsUpstream[] {
  const out: DnsUpstream[] = [];
  for (const l of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(l);
    if (m && m[1] !== EMBEDDED_DNS_ADDRESS) out.push({ host: m[1]!.replace(/%.*$/, ''), port: 53 });
  }
  return out;
}

/** `host`, `host:port` or `[v6]:port` (berthd's network.dns.upstreams); `where` names the setting in errors. */
export function parseUpstream(s: string, where = 'DNS server'): DnsUpstream {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(s);
  const host = v6?.[1] ?? v4?.[1] ?? (isIP(s) === 6 ? s : '');
  const port = Number(v6?.[2] ?? v4?.[2] ?? 53);
  if (isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535)
    throw invalidArgument(`${where} ${JSON.stringify(s)}: expected IP, IP:PORT or [IPV6]:PORT`);
  return { host, port };
}
