// The embedded DNS server in a network namespace of this test's own, as root, without berthd: the
// addon makes its sockets in the namespace, the NAT rule there sends 127.0.0.11:53 to them, and a
// client inside (sockets made there too) asks over UDP and TCP: the names the lookup knows get A
// records, their AAAA is empty, other names are forwarded to a DNS server this test runs on the
// host's loopback (its answers and NXDOMAIN relayed; SERVFAIL when it does not answer), a server of
// the namespace's own on port 53 binds and answers beside it, and close() frees the ports.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import * as dnsPacket from 'dns-packet';
import { redirectDns } from '../../src/network/dns-redirect.ts';
import { EmbeddedDns } from '../../src/network/embedded-dns.ts';
import { NetnsDir } from '../../src/network/netns.ts';
import { netnsBind, netnsSocket } from '../../src/sys/native.ts';
import { type FakeDns, startFakeDns } from '../lib/fake-dns.ts';

const runDir = mkdtempSync('/tmp/bdns-');
const dir = new NetnsDir(runDir);
let netns = '';
let dns: EmbeddedDns;
let upstream: FakeDns;

/** A query from inside the namespace over UDP to `port` on `address`. */
async function askUdp(name: string, type: 'A' | 'AAAA', address = '127.0.0.11', port = 53) {
  const { fd } = netnsBind(netns, 'udp', '127.0.0.1', 0);
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind({ fd }, () => r()));
  try {
    const id = Math.floor(Math.random() * 65535);
    const q = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
    return await new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no UDP answer for ${name}`)), 15_000);
      s.on('message', (m) => {
        clearTimeout(timer);
        resolve(dnsPacket.decode(m));
      });
      s.send(q, port, address);
    });
  } finally {
    s.close();
  }
}

/** A query from inside the namespace over TCP to 127.0.0.11:53. */
async function askTcp(name: string, type: 'A' | 'AAAA') {
  const s = new Socket({ fd: netnsSocket(netns), readable: true, writable: true });
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(53, '127.0.0.11', () => resolve());
    });
    const q = dnsPacket.encode({
      type: 'query',
      id: 7,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name }],
    });
    const head = Buffer.alloc(2);
    head.writeUInt16BE(q.length);
    s.write(Buffer.concat([head, q]));
    let buf = Buffer.alloc(0);
    return await new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no TCP answer for ${name}`)), 15_000);
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          clearTimeout(timer);
          resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        }
      });
    });
  } finally {
    s.destroy();
  }
}

const rcode = (p: dnsPacket.DecodedPacket) => (p as { rcode?: string }).rcode;
const addresses = (p: dnsPacket.DecodedPacket) =>
  (p.answers ?? []).map((a) => String((a as { data?: unknown }).data)).sort();

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the embedded DNS test needs root (a network namespace)');
  netns = await dir.create(`dns${process.pid}`);
  execFileSync('nsenter', [`--net=${netns}`, 'ip', 'link', 'set', 'lo', 'up']);
  upstream = await startFakeDns({ 'outside.test': '192.0.2.77' });
  const names: Record<string, string[]> = { web: ['10.1.2.3'], multi: ['10.1.2.4', '10.1.2.5'] };
  dns = await EmbeddedDns.open(
    netns,
    (n) => names[n],
    () => [{ host: '127.0.0.1', port: upstream.port }],
  );
  await redirectDns(netns, dns.udpPort, dns.tcpPort);
});

after(async () => {
  dns?.close();
  upstream?.close();
  await dir.remove(`dns${process.pid}`).catch(() => {});
  await dir.release().catch(() => {});
  await rm(runDir, { recursive: true, force: true });
});

test('names the lookup knows: A over UDP and TCP, AAAA empty (NOERROR), case and trailing dot ignored', async () => {
  for (const ask of [askUdp, askTcp]) {
    const a = await ask('web', 'A');
    assert.equal(rcode(a), 'NOERROR');
    assert.deepEqual(addresses(a), ['10.1.2.3']);
    assert.equal(a.flag_ra, true);
    assert.deepEqual(addresses(await ask('WEB.', 'A')), ['10.1.2.3']);
    assert.deepEqual(addresses(await ask('multi', 'A')), ['10.1.2.4', '10.1.2.5']);
    const aaaa = await ask('web', 'AAAA');
    assert.equal(rcode(aaaa), 'NOERROR');
    assert.deepEqual(aaaa.answers, []);
  }
});

test('other names are forwarded to the upstream server: its answer and its NXDOMAIN relayed', async () => {
  for (const ask of [askUdp, askTcp]) {
    const out = await ask('outside.test', 'A');
    assert.equal(rcode(out), 'NOERROR');
    assert.deepEqual(addresses(out), ['192.0.2.77']);
    assert.equal(rcode(await ask('nowhere.test', 'A')), 'NXDOMAIN');
  }
});

test('SERVFAIL when the upstream does not answer', async () => {
  upstream.answering = false;
  try {
    assert.equal(rcode(await askUdp('silent.test', 'A')), 'SERVFAIL');
  } finally {
    upstream.answering = true;
  }
});

test("a DNS server of the namespace's own binds port 53 and answers beside the embedded one", async () => {
  const { fd } = netnsBind(netns, 'udp', '0.0.0.0', 53);
  const own = createSocket('udp4');
  await new Promise<void>((r) => own.bind({ fd }, () => r()));
  own.on('message', (m, rinfo) => {
    const q = dnsPacket.decode(m);
    own.send(
      dnsPacket.encode({
        type: 'response',
        id: q.id ?? 0,
        questions: q.questions ?? [],
        answers: [{ type: 'A', name: q.questions![0]!.name, class: 'IN', data: '198.51.100.1' }],
      }),
      rinfo.port,
      rinfo.address,
    );
  });
  try {
    assert.deepEqual(addresses(await askUdp('anything', 'A', '127.0.0.1', 53)), ['198.51.100.1']);
    assert.deepEqual(addresses(await askUdp('web', 'A')), ['10.1.2.3']);
  } finally {
    own.close();
  }
});

test('close() frees both ports', async () => {
  const other = await EmbeddedDns.open(
    netns,
    () => undefined,
    () => [],
  );
  const ports = { udp: other.udpPort, tcp: other.tcpPort };
  other.close();
  // Bindable again once the sockets are closed (close is synchronous for UDP; the listener closes at once too).
  const waitFree = async (type: 'udp' | 'tcp', port: number) => {
    for (let i = 0; i < 100; i++) {
      try {
        closeSync(netnsBind(netns, type, '127.0.0.11', port).fd);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`${type} port ${port} still taken`);
  };
  await waitFree('udp', ports.udp);
  await waitFree('tcp', ports.tcp);
});
