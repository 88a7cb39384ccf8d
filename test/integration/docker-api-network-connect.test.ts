// network connect and disconnect through berthd's Docker API, driven by the docker CLI 28 and
// Debian's docker.io 20.10 client, and through berth's own CLI: a running container joins a second
// network on its next interface (with an alias and a requested address, the default route kept on
// its first), is found by name there and leaves it again; a stopped one's endpoints change for its
// next start; docker's errors and status codes; the endpoints survive a restart of berthd; and
// berthd killed between recording a connect or disconnect and its CNI ADD or DEL comes back with
// the container's interfaces agreeing with its endpoints. Bridges and subnets are this file's own.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { containerAddrs, containerDefaultRoute, DOCKER_CLIENTS, dockerCli, dockerRequest } from '../lib/docker-cli.ts';
import {
  berthCli,
  type Daemon,
  finish,
  startBerthd,
  startDockerNetworkBerthd,
  tempRoots,
  until,
} from './engine-harness.ts';

const { root, runRoot } = tempRoots();
const SOCK = join(runRoot, 'docker.sock');
const p = process.pid;
const CFG = {
  network: {
    defaultNetwork: { name: 'berth', bridge: `bdc${p % 100000}`, subnet: `10.${100 + (p % 30)}.${p % 250}.0/24` },
  },
};
const NET_A = `dca${p % 100000}`;
const SUBNET_A = `10.${130 + (p % 30)}.${p % 250}.0/24`;
const prefixA = SUBNET_A.split('.').slice(0, 3).join('.');
const NET_B = `dcb${p % 100000}`;
const SUBNET_B = `172.${16 + (p % 16)}.${p % 250}.0/24`;
const prefixB = SUBNET_B.split('.').slice(0, 3).join('.');
let d: Daemon;

const docker = (bin: string, ...args: string[]) => dockerCli(bin, SOCK, join(root, 'docker-config'), ...args);
const d28 = (...args: string[]) => docker(DOCKER_CLIENTS[0].bin, ...args);

async function ok(r: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const x = await r;
  assert.equal(x.code, 0, `${x.stdout}${x.stderr}`);
  return x.stdout;
}

const addrs = (name: string) => containerAddrs(d28, name);
const defaultRoute = (name: string) => containerDefaultRoute(d28, name);

async function networksOf(name: string): Promise<Record<string, { IPAddress: string; Aliases: string[] | null }>> {
  return JSON.parse(await ok(d28('inspect', '--format', '{{json .NetworkSettings.Networks}}', name)));
}

before(async () => {
  d = await startDockerNetworkBerthd(root, runRoot, CFG);
  await ok(d28('network', 'create', '--subnet', SUBNET_A, NET_A));
  await ok(d28('network', 'create', '--subnet', SUBNET_B, NET_B));
});

after(() => finish(d, root, runRoot, { network: true }));

for (const c of DOCKER_CLIENTS) {
  test(`${c.name}: a running container joins a second network (alias, --ip), is found there by name, and leaves it`, async () => {
    const tag = c.bin.length;
    const one = `one${tag}`;
    const peer = `peer${tag}`;
    const ip = `${prefixA}.${50 + tag}`;
    await ok(docker(c.bin, 'run', '-d', '--name', one, 'busybox', 'sleep', '1000'));
    await ok(docker(c.bin, 'run', '-d', '--name', peer, '--network', NET_A, 'busybox', 'sleep', '1000'));
    const before = await addrs(one);
    assert.deepEqual(Object.keys(before), ['eth0']);
    const route0 = await defaultRoute(one);

    await ok(docker(c.bin, 'network', 'connect', '--alias', `web${tag}`, '--ip', ip, NET_A, one));
    assert.deepEqual(await addrs(one), { ...before, eth1: ip });
    // The default route stays on the first network.
    assert.equal(await defaultRoute(one), route0);
    const nets = await networksOf(one);
    assert.deepEqual(Object.keys(nets).sort(), ['bridge', NET_A].sort());
    assert.equal(nets[NET_A]!.IPAddress, ip);
    assert.ok(nets[NET_A]!.Aliases?.includes(`web${tag}`), JSON.stringify(nets[NET_A]));
    assert.equal(
      (await ok(d28('inspect', '--format', '{{.NetworkSettings.IPAddress}}', one))).trim(),
      nets.bridge!.IPAddress,
      "the top-level address is the default bridge network's, as dockerd's",
    );
    assert.equal(
      (
        await ok(
          d28('inspect', '--format', `{{(index .NetworkSettings.Networks "${NET_A}").IPAMConfig.IPv4Address}}`, one),
        )
      ).trim(),
      ip,
    );
    // The peer on that network reaches it by its alias and by its name.
    for (const name of [`web${tag}`, one])
      await until(
        `${peer} pings ${name}`,
        async () => (await d28('exec', peer, 'ping', '-c', '1', '-W', '2', name)).code === 0,
        30_000,
        200,
      );
    assert.match(
      await ok(d28('exec', peer, 'cat', '/etc/hosts')),
      new RegExp(`${ip.replace(/\./g, '\\.')}\\s.*web${tag}`),
    );
    const ls = await ok(docker(c.bin, 'ps', '--filter', `network=${NET_A}`, '--format', '{{.Names}}'));
    assert.deepEqual(ls.trim().split('\n').sort(), [one, peer].sort());

    // Connected already: libnetwork's 403, in its words.
    const again = await docker(c.bin, 'network', 'connect', NET_A, one);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`endpoint with name ${one} already exists in network ${NET_A}`));
    const raw = await dockerRequest(SOCK, 'POST', `/v1.41/networks/${NET_A}/connect`, { Container: one });
    assert.equal(raw.status, 403, raw.body);

    await ok(docker(c.bin, 'network', 'disconnect', NET_A, one));
    assert.deepEqual(await addrs(one), before);
    assert.deepEqual(Object.keys(await networksOf(one)), ['bridge']);
    assert.doesNotMatch(await ok(d28('exec', peer, 'cat', '/etc/hosts')), new RegExp(`web${tag}`));
    const twice = await docker(c.bin, 'network', 'disconnect', NET_A, one);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, new RegExp(`container [0-9a-f]{64} is not connected to network ${NET_A}`));
    const raw2 = await dockerRequest(SOCK, 'POST', `/networks/${NET_A}/disconnect`, { Container: one });
    assert.equal(raw2.status, 500, raw2.body);
    await ok(docker(c.bin, 'rm', '-f', one, peer));
  });
}

test("docker 28: a stopped container's endpoints change for its next start; they survive a restart of berthd", async () => {
  await ok(d28('create', '--name', 'idle', 'busybox', 'sleep', '1000'));
  await ok(d28('network', 'connect', NET_B, 'idle'));
  // A stopped container connected twice: accepted as it is, as dockerd does.
  await ok(d28('network', 'connect', NET_B, 'idle'));
  let nets = await networksOf('idle');
  assert.deepEqual(Object.keys(nets).sort(), ['bridge', NET_B].sort());
  assert.equal(nets[NET_B]!.IPAddress, '');
  await ok(d28('network', 'disconnect', 'bridge', 'idle'));
  await ok(d28('start', 'idle'));
  // Its only network is now its first: eth0, with the default route.
  const a = await addrs('idle');
  assert.deepEqual(Object.keys(a), ['eth0']);
  assert.ok(a.eth0!.startsWith(`${prefixB}.`), a.eth0);
  assert.match(await defaultRoute('idle'), new RegExp(`^default via ${prefixB}\\.1 dev eth0`));
  await ok(d28('network', 'connect', NET_A, 'idle'));
  const both = await addrs('idle');

  await d.stop();
  d = await startBerthd(root, runRoot, [], CFG);
  nets = await networksOf('idle');
  assert.deepEqual(Object.keys(nets).sort(), [NET_A, NET_B].sort());
  assert.equal(nets[NET_A]!.IPAddress, both.eth1);
  assert.deepEqual(await addrs('idle'), both);
  await ok(d28('restart', '-t', '1', 'idle'));
  const again = await addrs('idle');
  assert.deepEqual(Object.keys(again).sort(), ['eth0', 'eth1']);
  assert.ok(again.eth0!.startsWith(`${prefixB}.`) && again.eth1!.startsWith(`${prefixA}.`), JSON.stringify(again));
  await ok(d28('rm', '-f', 'idle'));
});

test('docker 28: the errors of connect and disconnect are dockerd’s, with its status codes', async () => {
  await ok(d28('run', '-d', '--name', 'errs', 'busybox', 'sleep', '1000'));
  await ok(d28('run', '-d', '--name', 'hosted', '--network', 'host', 'busybox', 'sleep', '1000'));
  const cases: { args: string[]; status: number; path: string; body: object; msg: RegExp }[] = [
    {
      args: ['network', 'connect', 'host', 'errs'],
      path: '/networks/host/connect',
      body: { Container: 'errs' },
      status: 400,
      msg: /cannot connect container to host network - container must be created in host network mode/,
    },
    {
      args: ['network', 'connect', NET_A, 'hosted'],
      path: `/networks/${NET_A}/connect`,
      body: { Container: 'hosted' },
      status: 400,
      msg: /container sharing network namespace with another container or host cannot be connected to any other network/,
    },
    {
      args: ['network', 'connect', 'no-such-net', 'errs'],
      path: '/networks/no-such-net/connect',
      body: { Container: 'errs' },
      status: 404,
      msg: /network no-such-net not found/,
    },
    {
      args: ['network', 'connect', NET_A, 'no-such-ctr'],
      path: `/networks/${NET_A}/connect`,
      body: { Container: 'no-such-ctr' },
      status: 404,
      msg: /No such container: no-such-ctr/,
    },
    {
      args: ['network', 'connect', '--alias', 'x', 'bridge', 'errs'],
      path: '/networks/bridge/connect',
      body: { Container: 'errs', EndpointConfig: { Aliases: ['x'] } },
      status: 400,
      msg: /network-scoped alias is supported only for containers in user defined networks/,
    },
    {
      args: ['network', 'connect', '--ip', `${prefixB}.9`, NET_A, 'errs'],
      path: `/networks/${NET_A}/connect`,
      body: { Container: 'errs', EndpointConfig: { IPAMConfig: { IPv4Address: `${prefixB}.9` } } },
      status: 400,
      msg: new RegExp(`no configured subnet or ip-range contain the IP address ${prefixB}\\.9`),
    },
  ];
  for (const k of cases) {
    const r = await d28(...k.args);
    assert.equal(r.code, 1, k.args.join(' '));
    assert.match(r.stderr, k.msg, k.args.join(' '));
    const raw = await dockerRequest(SOCK, 'POST', k.path, k.body);
    assert.equal(raw.status, k.status, `${k.path}: ${raw.body}`);
    assert.match(JSON.parse(raw.body).message, k.msg);
  }
  assert.deepEqual(Object.keys(await networksOf('errs')), ['bridge']);
  await ok(d28('rm', '-f', 'errs', 'hosted'));
});

test("docker 28: network ls has dockerd's pre-defined networks and filters; inspect names the containers; prune filters", async () => {
  const names = async (...args: string[]) =>
    (await ok(d28('network', 'ls', '--format', '{{.Name}}', ...args))).trim().split('\n').filter(Boolean).sort();
  const all = await ok(d28('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}'));
  for (const l of ['bridge bridge local', 'host host local', 'none null local', `${NET_A} bridge local`])
    assert.ok(all.split('\n').includes(l), all);
  assert.deepEqual(await names('--filter', 'type=builtin'), ['bridge', 'host', 'none']);
  assert.ok((await names('--filter', 'type=custom')).includes(NET_A));
  assert.ok(!(await names('--filter', 'type=custom')).includes('bridge'));
  const lab = `dcl${p % 100000}`;
  await ok(
    d28('network', 'create', '--label', 'team=x', '--subnet', `172.${16 + (p % 16)}.${(p % 250) + 1}.0/24`, lab),
  );
  assert.deepEqual(await names('--filter', 'label=team=x'), [lab]);
  assert.deepEqual(await names('--filter', 'label=team'), [lab]);
  assert.ok((await names('--filter', 'dangling=true')).includes(lab));
  assert.ok(!(await names('--filter', 'dangling=true')).includes('bridge'));
  const bad = await d28('network', 'ls', '--filter', 'type=odd');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid filter/);

  await ok(d28('run', '-d', '--name', 'member', '--network', lab, 'busybox', 'sleep', '1000'));
  assert.ok(!(await names('--filter', 'dangling=true')).includes(lab));
  const ip = (
    await ok(d28('inspect', '--format', `{{(index .NetworkSettings.Networks "${lab}").IPAddress}}`, 'member'))
  ).trim();
  assert.equal(
    (
      await ok(d28('network', 'inspect', '--format', '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}', lab))
    ).trim(),
    `member ${ip}/24`,
  );
  const inUse = await dockerRequest(SOCK, 'DELETE', `/networks/${lab}`);
  assert.equal(inUse.status, 403, inUse.body);
  assert.match(JSON.parse(inUse.body).message, /has active endpoints/);
  await ok(d28('rm', '-f', 'member'));

  const pre = await d28('network', 'rm', 'bridge');
  assert.equal(pre.code, 1);
  assert.match(pre.stderr, /bridge is a pre-defined network and cannot be removed/);
  assert.equal((await dockerRequest(SOCK, 'DELETE', '/networks/host')).status, 403);

  // Made just now: neither another label nor "older than an hour" takes it.
  await ok(d28('network', 'prune', '-f', '--filter', 'label=team=y'));
  await ok(d28('network', 'prune', '-f', '--filter', 'until=1h'));
  await ok(d28('network', 'prune', '-f', '--filter', 'until=1h30m'));
  assert.deepEqual(await names('--filter', `name=${lab}`), [lab]);
  // until is image and container prune's: a bad value is refused in dockerd's words, nothing taken.
  const badUntil = await d28('network', 'prune', '-f', '--filter', 'until=xyz');
  assert.equal(badUntil.code, 1);
  assert.match(badUntil.stderr, /failed to parse value as time or duration: "xyz"/);
  assert.deepEqual(await names('--filter', `name=${lab}`), [lab]);
  // A negative duration is a time after now: made before it, so taken (its label keeps the others).
  const pruned = await ok(d28('network', 'prune', '-f', '--filter', 'label=team=x', '--filter', 'until=-1h'));
  assert.match(pruned, new RegExp(`Deleted Networks:\\n${lab}\\n`));
  assert.deepEqual(await names('--filter', `name=${lab}`), []);
  assert.deepEqual(await names('--filter', `name=${NET_A}`), [NET_A]);
});

test('embedded DNS: names on the networks a container shares, not across; a server of its own on port 53; made again after berthd restarts', async () => {
  await ok(d28('run', '-d', '--name', 'dnsa', '--network', NET_A, 'busybox', 'sleep', '1000'));
  await ok(
    d28('run', '-d', '--name', 'dnsb', '--network', NET_A, '--network-alias', 'bee', 'busybox', 'sleep', '1000'),
  );
  await ok(d28('run', '-d', '--name', 'dnsc', '--network', NET_B, 'busybox', 'sleep', '1000'));
  const ipB = (
    await ok(d28('inspect', '--format', `{{(index .NetworkSettings.Networks "${NET_A}").IPAddress}}`, 'dnsb'))
  ).trim();
  const resolves = async (from: string, name: string) => {
    const r = await d28('exec', from, 'nslookup', name);
    return r.code === 0 && new RegExp(`Address: ${ipB.replace(/\./g, '\\.')}\\b`).test(r.stdout);
  };
  assert.match(await ok(d28('exec', 'dnsa', 'cat', '/etc/resolv.conf')), /^nameserver 127\.0\.0\.11$/m);
  assert.ok(await resolves('dnsa', 'dnsb'), 'by name');
  assert.ok(await resolves('dnsa', 'bee'), 'by alias');
  assert.ok(await resolves('dnsa', 'DNSB'), 'names are case-insensitive');
  assert.ok(!(await resolves('dnsc', 'dnsb')), 'not from a network it does not share');
  // A server of the container's own on port 53 (TCP here: busybox has no UDP server) binds beside it.
  await ok(d28('exec', 'dnsa', 'sh', '-c', 'mkdir -p /w && echo own > /w/index.html && httpd -p 53 -h /w'));
  assert.match(await ok(d28('exec', 'dnsa', 'netstat', '-ltn')), /\s(0\.0\.0\.0|:::?):53\s/);
  assert.ok(await resolves('dnsa', 'dnsb'));
  // Connected to NET_A now, dnsc finds dnsb too.
  await ok(d28('network', 'connect', NET_A, 'dnsc'));
  assert.ok(await resolves('dnsc', 'dnsb'));
  await d.stop();
  d = await startBerthd(root, runRoot, [], CFG);
  assert.ok(await resolves('dnsa', 'bee'), 'after berthd restarted');
  await ok(d28('rm', '-f', 'dnsa', 'dnsb', 'dnsc'));
});

test('berth network connect and disconnect', async () => {
  const r = await berthCli(d.socket, 'run', '-d', '--name', 'bcli', 'busybox', 'sleep', '1000');
  assert.equal(r.code, 0, r.stderr);
  const con = await berthCli(d.socket, 'network', 'connect', '--alias', 'bweb', NET_A, 'bcli');
  assert.equal(con.code, 0, con.stderr);
  const ins = await berthCli(
    d.socket,
    'inspect',
    '--format',
    `{{(index .NetworkSettings.Networks "${NET_A}").IPAddress}} {{(index .NetworkSettings.Networks "${NET_A}").Aliases}}`,
    'bcli',
  );
  assert.match(ins.stdout.trim(), new RegExp(`^${prefixA.replace(/\./g, '\\.')}\\.\\d+ \\[bweb\\]$`), ins.stderr);
  assert.equal((await addrs('bcli')).eth1, ins.stdout.trim().split(' ')[0]);
  const dis = await berthCli(d.socket, 'network', 'disconnect', NET_A, 'bcli');
  assert.equal(dis.code, 0, dis.stderr);
  assert.deepEqual(Object.keys(await addrs('bcli')), ['eth0']);
  const twice = await berthCli(d.socket, 'network', 'disconnect', NET_A, 'bcli');
  assert.notEqual(twice.code, 0);
  assert.match(twice.stderr, /is not connected to network/);
  assert.equal((await berthCli(d.socket, 'rm', '-f', 'bcli')).code, 0);
});

// berthd killed at each point of a connect and a disconnect: the next berthd leaves the running
// container's interfaces agreeing with its endpoints (what the connect recorded, it gets; what the
// disconnect recorded gone, it loses).
for (const point of ['connect.recorded', 'network.attached', 'connect.attached']) {
  test(`berthd killed at ${point}: after a restart the container is on the network it was connected to`, async () => {
    await ok(d28('run', '-d', '--name', 'crash', 'busybox', 'sleep', '1000'));
    await d.stop();
    d = await startBerthd(root, runRoot, [], CFG, { BERTH_FAULT_POINT: point });
    const r = await d28('network', 'connect', NET_A, 'crash');
    await d.exited;
    assert.notEqual(r.code, 0, 'berthd died before it answered');
    d = await startBerthd(root, runRoot, [], CFG);
    const nets = await networksOf('crash');
    assert.deepEqual(Object.keys(nets).sort(), ['bridge', NET_A].sort());
    const a = await addrs('crash');
    assert.deepEqual(Object.keys(a).sort(), ['eth0', 'eth1']);
    assert.equal(a.eth1, nets[NET_A]!.IPAddress);
    await ok(d28('network', 'disconnect', NET_A, 'crash'));
    assert.deepEqual(Object.keys(await addrs('crash')), ['eth0']);
    await ok(d28('rm', '-f', 'crash'));
  });
}

for (const point of ['disconnect.recorded', 'network.detached', 'disconnect.detached']) {
  test(`berthd killed at ${point}: after a restart the container has left the network`, async () => {
    await ok(d28('run', '-d', '--name', 'crash', '--network', NET_A, 'busybox', 'sleep', '1000'));
    await ok(d28('network', 'connect', NET_B, 'crash'));
    await d.stop();
    d = await startBerthd(root, runRoot, [], CFG, { BERTH_FAULT_POINT: point });
    const r = await d28('network', 'disconnect', NET_B, 'crash');
    await d.exited;
    assert.notEqual(r.code, 0, 'berthd died before it answered');
    d = await startBerthd(root, runRoot, [], CFG);
    assert.deepEqual(Object.keys(await networksOf('crash')), [NET_A]);
    assert.deepEqual(Object.keys(await addrs('crash')), ['eth0']);
    // The address it had there is free again: a new container on that network may get it.
    const m = await (await import('../../src/network/network-manager.ts')).NetworkManager.open({
      root: join(root, 'network'),
      runDir: runRoot,
      defaultNetwork: false,
    });
    const id = (await ok(d28('inspect', '--format', '{{.Id}}', 'crash'))).trim();
    assert.deepEqual(
      (await m.listAttachments(id)).map((x) => x.network),
      [NET_A],
    );
    await ok(d28('rm', '-f', 'crash'));
  });
}
