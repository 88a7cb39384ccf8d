// berthd with CNI networking, as root: the default bridge network, -p publishing reachable from the
// host on 127.0.0.1, a user network whose containers reach each other, networks isolated from each
// other, bridges a stopped berthd left taken over by the next (another or a wiped root), someone
// else's bridge refused, and every namespace, bridge, attachment and iptables rule gone afterwards.
// Uses its own bridge names and subnets so as not to meet a real berthd's or another test's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { removeBridgeRules } from '../../src/network/bridge-rules.ts';
import {
  busyboxRootfsTar,
  type Daemon,
  fetchText,
  finish,
  leftovers,
  removeRoots,
  startBerthd,
  tempRoots,
} from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;
const BRIDGE = `bte${process.pid % 100000}`;
// 10.241-248.x.0/24: no other test uses these (engine-ports takes 10.200-239, engine-faults 10.231.7).
const subnet = (n: number) => `10.${241 + (process.pid % 8)}.${(process.pid % 200) + n}.0/24`;
/** Bridges the tests make besides BRIDGE: deleted, with their rules, whatever happens. */
const extraBridges: string[] = [];
const extraDaemons: Daemon[] = [];
const extraRoots: string[] = [];

const sh = (file: string, args: string[]) => spawnSync(file, args, { encoding: 'utf8', timeout: 20_000 });
const linkExists = (name: string) => sh('ip', ['link', 'show', 'dev', name]).status === 0;
/** The iptables rules (filter and nat) that name any of `words`: a bridge, a subnet's first octets. */
function rulesNaming(...words: string[]): string[] {
  const r = sh('iptables-save', []);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.startsWith('-A ') && words.some((w) => l.includes(w)));
}
const octets = (cidr: string) => cidr.replace(/0\/24$/, '');

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root');
  if (!existsSync('/usr/lib/cni/bridge'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  d = await startBerthd(root, runRoot, [], {
    defaultRuntime: RUNTIME,
    network: { defaultNetwork: { name: 'berth', bridge: BRIDGE } },
  });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(async () => {
  try {
    await finish(d, root, runRoot, {
      network: true,
      beforeStop: async (d) => {
        for (const n of await d.client.networks().catch(() => []))
          if (n.name !== 'berth') await d.client.networkRemove(n.name).catch(() => {});
      },
    });
  } finally {
    for (const x of extraDaemons) await x.stop();
    for (const b of extraBridges) {
      if (linkExists(b)) sh('ip', ['link', 'del', 'dev', b]);
      await removeBridgeRules(b);
    }
    // A run root whose berthd failed midway keeps its netns directory's self bind mount.
    for (const dir of extraRoots)
      if (leftovers(dir, dir).includes(`mount ${dir}/netns`)) sh('umount', ['-l', `${dir}/netns`]);
    await removeRoots(...extraRoots);
  }
});

/** Whether a container on `network` gets an answer to one ping of `ip`. */
async function pings(network: string, ip: string): Promise<boolean> {
  const { id } = await d.client.create({ image: 'busybox', network, cmd: ['ping', '-c', '1', '-w', '5', ip] });
  await d.client.start(id);
  const { exitCode } = await d.client.wait(id);
  await d.client.remove(id);
  return exitCode === 0;
}

test('default network: an address on the bridge, and -p reachable from the host on 127.0.0.1', async () => {
  const port = 20000 + (process.pid % 10000);
  const { id } = await d.client.create({
    image: 'busybox',
    cmd: [
      'sh',
      '-c',
      'mkdir -p /tmp/www && echo served-by-berth > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www',
    ],
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
  const srv = await d.client.create({
    image: 'busybox',
    network: 'bte-net',
    cmd: ['sh', '-c', 'mkdir -p /w && echo peer > /w/index.html && exec httpd -f -p 8080 -h /w'],
  });
  await d.client.start(srv.id);
  const ip = ((await d.client.inspect(srv.id)).networks['bte-net'] as { ips: string[] }).ips[0]!;
  await assert.rejects(d.client.networkRemove('bte-net'), /has containers attached/);
  const cli = await d.client.create({
    image: 'busybox',
    network: 'bte-net',
    cmd: [
      'sh',
      '-c',
      `for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://${ip}:8080/ && exit 0; sleep 0.3; done; exit 1`,
    ],
  });
  await d.client.start(cli.id);
  assert.equal((await d.client.wait(cli.id)).exitCode, 0);
  let out = '';
  for await (const l of d.client.logs(cli.id)) out += l.log;
  assert.equal(out, 'peer\n');
  await d.client.remove(cli.id);

  // Name resolution: a container started later is named in the hosts file of one already running
  // (rewritten in place), and the newcomer names the server; after the newcomer stops it is gone.
  const named = await d.client.create({
    image: 'busybox',
    name: 'bte-named',
    network: 'bte-net',
    cmd: ['sh', '-c', 'cat /etc/hosts; sleep 30'],
  });
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

test('bridge networks are isolated from each other in both directions; published ports still answer', async () => {
  await d.client.networkCreate('bte-iso', { subnet: subnet(0) });
  const port = 20000 + ((process.pid + 1) % 10000);
  const web = ['sh', '-c', 'mkdir -p /w && echo iso > /w/index.html && exec httpd -f -p 80 -h /w'];
  const onDefault = await d.client.create({
    image: 'busybox',
    cmd: web,
    ports: [{ hostIP: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }],
  });
  const onUser = await d.client.create({ image: 'busybox', network: 'bte-iso', cmd: web });
  await d.client.start(onDefault.id);
  await d.client.start(onUser.id);
  const defaultIp = ((await d.client.inspect(onDefault.id)).networks.berth as { ips: string[] }).ips[0]!;
  const userIp = ((await d.client.inspect(onUser.id)).networks['bte-iso'] as { ips: string[] }).ips[0]!;
  // Controls: each network's own containers reach each other, and the host reaches both.
  assert.equal(await pings('berth', defaultIp), true, 'default to default');
  assert.equal(await pings('bte-iso', userIp), true, 'user network to user network');
  assert.equal(await fetchText(`http://${userIp}:80/`), 'iso\n');
  assert.equal(await pings('berth', userIp), false, 'default network to user network');
  assert.equal(await pings('bte-iso', defaultIp), false, 'user network to default network');
  assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'iso\n', 'the published port still answers');
  await d.client.remove(onDefault.id, { force: true });
  await d.client.remove(onUser.id, { force: true });
  await d.client.networkRemove('bte-iso');
});

test("a berthd on a wiped root takes over the bridges berth left; network rm and clean-up leave no rule; someone else's bridge is refused", async () => {
  const bridge = `btw${process.pid % 100000}`;
  const cfg = { defaultRuntime: RUNTIME, network: { defaultNetwork: { name: 'berth', bridge, subnet: subnet(1) } } };
  extraBridges.push(bridge);
  const before = rulesNaming(bridge, octets(subnet(1)), octets(subnet(2)));
  assert.deepEqual(before, [], 'nothing names these bridges or subnets yet');

  const first = tempRoots();
  extraRoots.push(first.root, first.runRoot);
  const d1 = await startBerthd(first.root, first.runRoot, [], cfg);
  extraDaemons.push(d1);
  const userBridge = String((await d1.client.networkCreate('btw-net', { subnet: subnet(2) })).bridge);
  extraBridges.push(userBridge);
  await d1.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  for (const network of ['berth', 'btw-net']) {
    const { id } = await d1.client.create({ image: 'busybox', network, cmd: ['true'] });
    await d1.client.start(id);
    await d1.client.wait(id);
    await d1.client.remove(id);
  }
  await d1.stop();
  assert.ok(
    linkExists(bridge) && linkExists(userBridge),
    'a stopped berthd leaves its bridges, as dockerd leaves docker0',
  );
  await removeRoots(first.root);

  // The user starts over with an empty state directory (the run directory is the same: /run/berth).
  const second = { root: mkdtempSync('/tmp/bte-'), runRoot: first.runRoot };
  extraRoots.push(second.root);
  const d2 = await startBerthd(second.root, second.runRoot, [], cfg);
  extraDaemons.push(d2);
  await d2.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  assert.equal((await d2.client.networkInspect('berth')).bridge, bridge);
  // Without a subnet, a network taking over a bridge keeps the bridge's (still free) subnet.
  const again = await d2.client.networkCreate('btw-net');
  assert.deepEqual(
    [again.bridge, again.subnet],
    [userBridge, subnet(2)],
    'the user network takes its old bridge over too',
  );
  const port = 20000 + ((process.pid + 2) % 10000);
  const { id } = await d2.client.create({
    image: 'busybox',
    network: 'btw-net',
    cmd: ['sh', '-c', 'mkdir -p /w && echo again > /w/index.html && exec httpd -f -p 80 -h /w'],
    ports: [{ hostIP: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }],
  });
  await d2.client.start(id);
  assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'again\n');
  assert.notDeepEqual(rulesNaming(userBridge, octets(subnet(2))), [], 'the network has rules while in use');
  await d2.client.remove(id, { force: true });
  await d2.client.networkRemove('btw-net');
  assert.equal(linkExists(userBridge), false, 'network rm deletes the bridge');
  assert.deepEqual(rulesNaming(userBridge, octets(subnet(2))), [], 'network rm leaves no rule naming the network');
  await finish(d2, second.root, second.runRoot, { network: true });
  assert.deepEqual(
    rulesNaming(bridge, userBridge, octets(subnet(1)), octets(subnet(2))),
    before,
    'clean-up leaves no rule behind',
  );

  // A bridge berth did not make is refused, naming the setting that picks another.
  const foreign = `btx${process.pid % 100000}`;
  extraBridges.push(foreign);
  assert.equal(sh('ip', ['link', 'add', 'name', foreign, 'type', 'bridge']).status, 0);
  const third = tempRoots();
  extraRoots.push(third.root, third.runRoot);
  await assert.rejects(
    startBerthd(third.root, third.runRoot, [], {
      ...cfg,
      network: { defaultNetwork: { name: 'berth', bridge: foreign, subnet: subnet(3) } },
    }),
    new RegExp(
      `network berth: interface ${foreign} already exists on this host and berth did not make it .*pick another bridge for the default network with network\\.defaultNetwork\\.bridge`,
    ),
  );
  assert.equal(linkExists(foreign), true, "someone else's bridge is left alone");
});
