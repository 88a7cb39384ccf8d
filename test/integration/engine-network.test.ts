// berthd with CNI networking, as root: the default bridge network, -p publishing reachable from the
// host on 127.0.0.1, a user network whose containers reach each other, and every namespace, bridge
// and attachment gone afterwards. Uses its own bridge names and subnets so as not to meet a real
// berthd's.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { busyboxRootfsTar, type Daemon, fetchText, finish, startBerthd, tempRoots } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;
const BRIDGE = `bte${process.pid % 100000}`;

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root');
  if (!existsSync('/usr/lib/cni/bridge')) throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  d = await startBerthd(root, runRoot, [], { defaultRuntime: RUNTIME, network: { defaultNetwork: { name: 'berth', bridge: BRIDGE } } });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(() =>
  finish(d, root, runRoot, {
    network: true,
    beforeStop: async (d) => {
      for (const n of await d.client.networks().catch(() => [])) if (n.name !== 'berth') await d.client.networkRemove(n.name).catch(() => {});
    },
  }),
);

test('default network: an address on the bridge, and -p reachable from the host on 127.0.0.1', async () => {
  const port = 20000 + (process.pid % 10000);
  const { id } = await d.client.create({
    image: 'busybox',
    cmd: ['sh', '-c', 'mkdir -p /tmp/www && echo served-by-berth > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www'],
    ports: [{ hostIP: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }],
  });
  await d.client.start(id);
  const i = await d.client.inspect(id);
  const att = i.networks.berth as { ips: string[] };
  assert.ok(att && att.ips.length === 1, JSON.stringify(i.networks));
  assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'served-by-berth\n');
  assert.equal(await fetchText(`http://${att.ips[0]}:80/`), 'served-by-berth\n');
  await d.client.remove(id, { force: true });
});

test('a user network: containers reach each other by address; network rm refuses while attached', async () => {
  await d.client.networkCreate('bte-net');
  const srv = await d.client.create({ image: 'busybox', network: 'bte-net', cmd: ['sh', '-c', 'mkdir -p /w && echo peer > /w/index.html && exec httpd -f -p 8080 -h /w'] });
  await d.client.start(srv.id);
  const ip = ((await d.client.inspect(srv.id)).networks['bte-net'] as { ips: string[] }).ips[0]!;
  await assert.rejects(d.client.networkRemove('bte-net'), /has containers attached/);
  const cli = await d.client.create({ image: 'busybox', network: 'bte-net', cmd: ['sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://${ip}:8080/ && exit 0; sleep 0.3; done; exit 1`] });
  await d.client.start(cli.id);
  assert.equal((await d.client.wait(cli.id)).exitCode, 0);
  let out = '';
  for await (const l of d.client.logs(cli.id)) out += l.log;
  assert.equal(out, 'peer\n');
  await d.client.remove(cli.id);

  // Name resolution: a container started later is named in the hosts file of one already running
  // (rewritten in place), and the newcomer names the server; after the newcomer stops it is gone.
  const named = await d.client.create({ image: 'busybox', name: 'bte-named', network: 'bte-net', cmd: ['sh', '-c', 'cat /etc/hosts; sleep 30'] });
  await d.client.start(named.id);
  const srvName = (await d.client.inspect(srv.id)).name;
  const hostsOf = async (id: string) => {
    const { execId } = await d.client.exec(id, { cmd: ['cat', '/etc/hosts'] });
    await d.client.execWait(execId);
    let text = '';
    for await (const l of d.client.execLogs(execId)) text += l.log;
    return text;
  };
  const namedIp = ((await d.client.inspect(named.id)).networks['bte-net'] as { ips: string[] }).ips[0]!;
  assert.match(await hostsOf(srv.id), new RegExp(`^${namedIp.replaceAll('.', '\\.')}\\tbte-named$`, 'm'));
  assert.match(await hostsOf(named.id), new RegExp(`^${ip.replaceAll('.', '\\.')}\\t${srvName}$`, 'm'));
  await d.client.remove(named.id, { force: true });
  assert.doesNotMatch(await hostsOf(srv.id), /bte-named/);

  await d.client.remove(srv.id, { force: true });
  await d.client.networkRemove('bte-net');
});
