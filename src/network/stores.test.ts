import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { AttachmentStore } from './attachment-store.ts';
import { attachmentList, bridgeConfList, bridgeNameFor, masquerades } from './bridge-conflist.ts';
import { resultFromLeases } from './ipam-leases.ts';
import { NetworkStore } from './network-store.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-net-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const meta = {
  driver: 'bridge' as const,
  bridge: 'berth0',
  subnet: '10.89.0.0/16',
  gateway: '10.89.0.1',
  created: '2026-01-01T00:00:00.000Z',
  labels: { a: 'b' },
};

test('network store: a conflist any CNI tool can read, with berth facts beside it; no temp files left', async () => {
  const s = new NetworkStore(join(dir, 'networks'));
  await s.init();
  const conf = bridgeConfList({
    name: 'web',
    bridge: 'berth0',
    subnet: meta.subnet,
    gateway: meta.gateway,
    ipamDataDir: '/x/ipam',
  });
  await s.put(conf, meta);
  const raw = JSON.parse(await readFile(join(dir, 'networks/web.conflist'), 'utf8'));
  assert.equal(raw.name, 'web');
  assert.deepEqual(
    raw.plugins.map((p: { type: string }) => p.type),
    ['bridge', 'portmap'],
  );
  assert.equal(masquerades(conf), false, "masquerade is the network's rule, not the bridge plugin's");
  assert.deepEqual(raw.plugins[0].ipam.ranges, [[{ subnet: '10.89.0.0/16', gateway: '10.89.0.1' }]]);
  assert.deepEqual(raw.berth, meta);
  assert.deepEqual((await s.get('web'))?.meta, meta);
  assert.deepEqual(
    (await s.list()).map((n) => n.name),
    ['web'],
  );
  assert.deepEqual(await readdir(join(dir, 'networks')), ['web.conflist']);
  assert.equal(await s.get('nope'), undefined);
  assert.throws(
    () => s.path('../evil'),
    (e) => isBerthError(e) && e.message.includes('../evil'),
  );
  await writeFile(join(dir, 'networks/torn.conflist'), '{"cniVersion":');
  await assert.rejects(s.get('torn'), /torn\.conflist: not JSON/);
  await rm(join(dir, 'networks/torn.conflist'));
  await s.remove('web');
  assert.deepEqual(await s.list(), []);
});

test('bridge names fit the 15-byte limit and differ per network', () => {
  assert.match(bridgeNameFor('frontend'), /^berth-[0-9a-f]{8}$/);
  assert.notEqual(bridgeNameFor('a'), bridgeNameFor('b'));
  assert.throws(() =>
    bridgeConfList({
      name: 'x',
      bridge: 'a-very-long-bridge-name',
      subnet: '10.1.0.0/16',
      gateway: '10.1.0.1',
      ipamDataDir: '/x',
    }),
  );
});

test("an attachment's list: portmap only with published ports; an older network's firewall and ipMasq dropped", () => {
  const conf = bridgeConfList({
    name: 'web',
    bridge: 'berth0',
    subnet: '10.89.0.0/16',
    gateway: '10.89.0.1',
    ipamDataDir: '/x',
  });
  const types = (l: { plugins: Array<{ type: string }> }) => l.plugins.map((p) => p.type);
  assert.deepEqual(types(attachmentList(conf, true)), ['bridge', 'portmap']);
  assert.deepEqual(types(attachmentList(conf, false)), ['bridge']);
  // As berth stored networks before their rules were per bridge.
  const older = {
    ...conf,
    plugins: [{ ...conf.plugins[0]!, ipMasq: true }, conf.plugins[1]!, { type: 'firewall', backend: 'iptables' }],
  };
  assert.equal(masquerades(older), true);
  const list = attachmentList(older, true);
  assert.deepEqual(types(list), ['bridge', 'portmap']);
  assert.equal(masquerades(list), false);
  assert.equal(older.plugins[0]!.ipMasq, true, 'the stored list is not changed');
});

test('attachment records: "<net>-<id>" ambiguity is detected, not silently mixed up', async () => {
  const s = new AttachmentStore(join(dir, 'results'));
  await s.init();
  const config = bridgeConfList({
    name: 'a-b',
    bridge: 'br0',
    subnet: meta.subnet,
    gateway: meta.gateway,
    ipamDataDir: '/x',
  });
  const rec = {
    version: 1 as const,
    network: 'a-b',
    containerId: 'c',
    ifName: 'eth0',
    netns: '/n',
    config,
    capabilityArgs: {},
    aliases: [],
    created: meta.created,
  };
  await s.put(rec);
  assert.equal((await s.get('a-b', 'c'))?.containerId, 'c');
  assert.equal(await s.get('a', 'b-c'), undefined);
  await assert.rejects(
    s.put({ ...rec, network: 'a', containerId: 'b-c' }),
    (e) => isBerthError(e) && e.message.includes('already holds'),
  );
  await s.remove('a', 'b-c');
  assert.equal((await s.list()).length, 1);
  await s.remove('a-b', 'c');
  assert.deepEqual(await s.list(), []);
});

test('host-local leases rebuild the addresses of an ADD whose result was lost', async () => {
  const data = join(dir, 'ipam');
  const config = bridgeConfList({
    name: 'n1',
    bridge: 'br0',
    subnet: '10.89.0.0/16',
    gateway: '10.89.0.1',
    ipamDataDir: data,
  });
  assert.equal(await resultFromLeases(config, 'c1', 'eth0'), undefined);
  await import('node:fs/promises').then((fs) => fs.mkdir(join(data, 'n1'), { recursive: true }));
  await writeFile(join(data, 'n1/10.89.0.7'), 'c1\r\neth0');
  await writeFile(join(data, 'n1/10.89.0.8'), 'c2\r\neth0');
  await writeFile(join(data, 'n1/last_reserved_ip.0'), '10.89.0.8');
  assert.deepEqual(await resultFromLeases(config, 'c1', 'eth0'), {
    cniVersion: '1.0.0',
    interfaces: [],
    ips: [{ address: '10.89.0.7/16', gateway: '10.89.0.1' }],
  });
  assert.equal(await resultFromLeases(config, 'c1', 'eth1'), undefined);
});
