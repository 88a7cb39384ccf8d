// A DNS server on the host's loopback for the tests (no internet here): UDP and TCP on one port, A
// records from a table, NXDOMAIN for any other name. It stands for the host's resolvers that
// berthd's embedded DNS server forwards to.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import * as dnsPacket from 'dns-packet';

export type FakeDns = { port: number; answering: boolean; close: () => void };

function reply(msg: Buffer, records: Record<string, string>): Buffer {
  const q = dnsPacket.decode(msg);
  const question = q.questions?.[0];
  const name = question?.name ?? '';
  const ip = records[name];
  return dnsPacket.encode({
    type: 'response',
    id: q.id ?? 0,
    flags: dnsPacket.RECURSION_AVAILABLE | (ip ? 0 : 3),
    questions: q.questions ?? [],
    answers: ip && question?.type === 'A' ? [{ type: 'A', name, class: 'IN', ttl: 60, data: ip }] : [],
  });
}

/** Listens on 127.0.0.1 (a port free for both UDP and TCP); set `answering` false to have it stay silent. */
export async function startFakeDns(records: Record<string, string>): Promise<FakeDns> {
  for (let i = 0; i < 20; i++) {
    const u: UdpSocket = createSocket('udp4');
    await new Promise<void>((r) => u.bind(0, '127.0.0.1', () => r()));
    const port = u.address().port;
    const t: Server = createServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('error', () => {});
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const out = reply(buf.subarray(2, 2 + buf.readUInt16BE(0)), records);
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length);
          s.end(Buffer.concat([head, out]));
        }
      });
    });
    const listening = await new Promise<boolean>((r) => {
      t.once('error', () => r(false));
      t.listen(port, '127.0.0.1', () => r(true));
    });
    if (!listening) {
      u.close();
      continue;
    }
    const dns: FakeDns = {
      port,
      answering: true,
      close: () => {
        u.close();
        t.close();
      },
    };
    u.on('message', (m, rinfo) => {
      if (dns.answering) u.send(reply(m, records), rinfo.port, rinfo.address);
    });
    return dns;
  }
  throw new Error('no port free for both UDP and TCP on 127.0.0.1');
}
