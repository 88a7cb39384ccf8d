// A container on several networks from its create, through berthd's Docker API driven by the docker
// CLI 28 (API 1.50) and Debian's docker.io 20.10 client (API 1.41), and through berth's own CLI:
// `run --network a --network b` joins both (each endpoint with its aliases and requested address,
// the default route on the first) from API 1.44, and is refused as dockerd refused it before.
// Bridges and subnets (192.168.x.0/24, which no other test uses) are this file's own.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  cliOk,
  containerAddrs,
  containerDefaultRoute,
  DOCKER_CLIENTS,
  dockerCli,
  dockerRequest,
} from '../lib/docker-cli.ts';
import { berthCli, type Daemon, finish, startDockerNetworkBerthd, tempRoots, until } from './engine-harness.ts';

const { root, runRoot } = tempRoots();
const SOCK = join(runRoot, 'docker.sock');
const p = process.pid;
const third = (p % 80) * 3;
const CFG = {
  network: { defaultNetwork: { name: 'berth', bridge: `bdm${p % 100000}`, subnet: `192.168.${third}.0/24` } },
};
const NET_A = `dma${p % 100000}`;
const PREFIX_A = `192.168.${third + 1}`;
const NET_B = `dmb${p % 100000}`;
const PREFIX_B = `192.168.${third + 2}`;
let d: Daemon;

const docker = (bin: string, ...args: string[]) => dockerCli(bin, SOCK, join(root, 'docker-config'), ...args);
const d28 = (...args: string[]) => docker(DOCKER_CLIENTS[0].bin, ...args);

const ok = cliOk;

const addrs = (name: string) => containerAddrs(d28, name);
const defaultRoute = (name: string) => containerDefaultRoute(d28, name);

type Ep = { IPAddress: string; Aliases: string[] | null; MacAddress: string; DNSNames?: string[] | null };
async function networksOf(name: string, bin: string = DOCKER_CLIENTS[0].bin): Promise<Record<string, Ep>> {
  return JSON.parse(await ok(docker(bin, 'inspect', '--format', '{{json .NetworkSettings.Networks}}', name)));
}

const pings = (from: string, name: string) =>
  until(
    `${from} pings ${name}`,
    async () => (await d28('exec', from, 'ping', '-c', '1', '-W', '2', name)).code === 0,
    30_000,
    200,
  );

before(async () => {
  d = await startDockerNetworkBerthd(root, runRoot, CFG);
  await ok(d28('network', 'create', '--subnet', `${PREFIX_A}.0/24`, NET_A));
  await ok(d28('network', 'create', '--subnet', `${PREFIX_B}.0/24`, NET_B));
});

after(() => finish(d, root, runRoot, { network: true }));

test('docker 28: run --network a --network b joins both (aliases and address per endpoint, the default route on the first), kept across a restart', async () => {
  const ip = `${PREFIX_A}.40`;
  await ok(d28('run', '-d', '--name', 'pa', '--network', NET_A, 'busybox', 'sleep', '1000'));
  await ok(d28('run', '-d', '--name', 'pb', '--network', NET_B, 'busybox', 'sleep', '1000'));
  await ok(
    d28(
      'run',
      '-d',
      '--name',
      'multi',
      '--network',
      NET_A,
      '--network-alias',
      'front',
      '--ip',
      ip,
      '--network',
      `name=${NET_B},alias=back`,
      'busybox',
      'sleep',
      '1000',
    ),
  );
  const a = await addrs('multi');
  assert.equal(a.eth0, ip);
  assert.match(a.eth1 ?? '', new RegExp(`^${PREFIX_B.replace(/\./g, '\\.')}\\.`));
  assert.match(await defaultRoute('multi'), new RegExp(`^default via ${PREFIX_A.replace(/\./g, '\\.')}\\.1 `));
  const nets = await networksOf('multi');
  assert.deepEqual(Object.keys(nets).sort(), [NET_A, NET_B].sort());
  assert.equal(nets[NET_A]!.IPAddress, ip);
  assert.equal(nets[NET_B]!.IPAddress, a.eth1);
  assert.ok(nets[NET_A]!.Aliases?.includes('front'), JSON.stringify(nets));
  assert.ok(nets[NET_B]!.Aliases?.includes('back'), JSON.stringify(nets));
  // Each network's peers find it by its names there.
  for (const n of ['multi', 'front']) await pings('pa', n);
  for (const n of ['multi', 'back']) await pings('pb', n);
  const ls = await ok(d28('ps', '--filter', `network=${NET_B}`, '--format', '{{.Names}}'));
  assert.deepEqual(ls.trim().split('\n').sort(), ['multi', 'pb']);

  // docker create with both, then start: the same endpoints, in the same order, after a stop too.
  await ok(d28('create', '--name', 'made', '--network', NET_B, '--network', NET_A, 'busybox', 'sleep', '1000'));
  assert.deepEqual(Object.keys(await networksOf('made')).sort(), [NET_A, NET_B].sort());
  await ok(d28('start', 'made'));
  await ok(d28('stop', '-t', '0', 'made'));
  await ok(d28('start', 'made'));
  const m = await addrs('made');
  assert.match(m.eth0 ?? '', new RegExp(`^${PREFIX_B.replace(/\./g, '\\.')}\\.`));
  assert.match(m.eth1 ?? '', new RegExp(`^${PREFIX_A.replace(/\./g, '\\.')}\\.`));
  assert.match(await defaultRoute('made'), new RegExp(`^default via ${PREFIX_B.replace(/\./g, '\\.')}\\.1 `));

  // A network that does not exist: docker's 404 (on which its CLI tries a pull), nothing made.
  const gone = await dockerRequest(SOCK, 'POST', '/containers/create?name=nope', {
    Image: 'busybox',
    HostConfig: { NetworkMode: NET_A },
    NetworkingConfig: { EndpointsConfig: { [NET_A]: {}, nosuchnet: {} } },
  });
  assert.equal(gone.status, 404, gone.body);
  assert.equal(JSON.parse(gone.body).message, 'network nosuchnet not found');
  assert.equal((await d28('inspect', 'nope')).code, 1);
  await ok(d28('rm', '-f', 'multi', 'made', 'pa', 'pb'));
});

test('before API 1.44 several endpoints at create are refused as dockerd refused them (400, its words)', async () => {
  const body = {
    Image: 'busybox',
    Cmd: ['true'],
    HostConfig: { NetworkMode: NET_A },
    NetworkingConfig: { EndpointsConfig: { [NET_A]: {}, [NET_B]: {} } },
  };
  for (const v of ['1.41', '1.43']) {
    const r = await dockerRequest(SOCK, 'POST', `/v${v}/containers/create`, body);
    assert.equal(r.status, 400, r.body);
    assert.equal(
      JSON.parse(r.body).message,
      `Container cannot be created with multiple network endpoints: ${NET_A}, ${NET_B}`,
    );
  }
  const r = await dockerRequest(SOCK, 'POST', '/v1.44/containers/create?name=raw44', body);
  assert.equal(r.status, 201, r.body);
  assert.deepEqual(Object.keys(await networksOf('raw44')).sort(), [NET_A, NET_B].sort());
  await ok(d28('rm', 'raw44'));
  // The 20.10 client speaks 1.41: its run fails with the daemon's words and 125.
  const old = await docker(DOCKER_CLIENTS[1].bin, 'run', '--rm', '--network', NET_A, '--network', NET_B, 'busybox');
  assert.equal(old.code, 125, old.stderr);
  assert.match(old.stderr, /Container cannot be created with multiple network endpoints/);
});

test("berth's own CLI: run --network a --network b joins both", async () => {
  const r = await berthCli(
    d.socket,
    'run',
    '-d',
    '--name',
    'bmulti',
    '--network',
    NET_B,
    '--network',
    NET_A,
    'busybox',
    'sleep',
    '1000',
  );
  assert.equal(r.code, 0, r.stderr);
  const a = await addrs('bmulti');
  assert.match(a.eth0 ?? '', new RegExp(`^${PREFIX_B.replace(/\./g, '\\.')}\\.`));
  assert.match(a.eth1 ?? '', new RegExp(`^${PREFIX_A.replace(/\./g, '\\.')}\\.`));
  const twice = await berthCli(d.socket, 'run', '-d', '--network', NET_A, '--network', NET_A, 'busybox', 'true');
  assert.notEqual(twice.code, 0);
  assert.match(twice.stderr, new RegExp(`network "${NET_A}" is specified multiple times`));
  await ok(d28('rm', '-f', 'bmulti'));
});

test("berth's own CLI: --ip, --mac-address and --network-alias on the first network, the long form's on the others; network connect --alias a,b --ip; --dns flags", async () => {
  const b = (...args: string[]) => berthCli(d.socket, ...args);
  const [m1, m2] = ['02:42:c0:a8:20:01', '02:42:c0:a8:20:02'];
  const ip = `${PREFIX_A}.50`;
  const macOf = async (name: string, ifName: string) =>
    (await ok(b('exec', name, 'cat', `/sys/class/net/${ifName}/address`))).trim();
  await ok(
    b(
      'run',
      '-d',
      '--name',
      'bflags',
      '--network',
      NET_A,
      '--network-alias',
      'bfront',
      '--net-alias',
      'bfront2',
      '--ip',
      ip,
      '--mac-address',
      m1.toUpperCase(),
      '--network',
      `name=${NET_B},alias=bback,mac-address=${m2}`,
      'busybox',
      'sleep',
      '1000',
    ),
  );
  await ok(b('run', '-d', '--name', 'bpeera', '--network', NET_A, 'busybox', 'sleep', '1000'));
  await ok(b('run', '-d', '--name', 'bpeerb', '--network', NET_B, 'busybox', 'sleep', '1000'));
  const a = await containerAddrs(b, 'bflags');
  assert.equal(a.eth0, ip);
  assert.match(a.eth1 ?? '', new RegExp(`^${PREFIX_B.replace(/\./g, '\\.')}\\.`));
  assert.equal(await macOf('bflags', 'eth0'), m1);
  assert.equal(await macOf('bflags', 'eth1'), m2);
  const nets = await networksOf('bflags');
  assert.equal(nets[NET_A]!.IPAddress, ip);
  assert.equal(nets[NET_A]!.MacAddress, m1);
  assert.deepEqual(nets[NET_A]!.Aliases, ['bfront', 'bfront2']);
  assert.deepEqual(nets[NET_B]!.Aliases, ['bback']);
  // The embedded DNS server answers each network's peers with the names given there, and only there.
  const resolves = async (from: string, name: string, addr: string) => {
    const r = await b('exec', from, 'nslookup', name);
    return r.code === 0 && new RegExp(`Address: ${addr.replace(/\./g, '\\.')}\\b`).test(r.stdout);
  };
  for (const n of ['bfront', 'bfront2'])
    await until(`bpeera resolves ${n}`, () => resolves('bpeera', n, ip), 30_000, 200);
  await until('bpeerb resolves bback', () => resolves('bpeerb', 'bback', a.eth1!), 30_000, 200);
  assert.notEqual(
    (await b('exec', 'bpeerb', 'nslookup', 'bfront')).code,
    0,
    'bfront is a name on the first network only',
  );

  // network connect: --alias takes a comma-separated list, as docker's; --ip an address of the network.
  const ipc = `${PREFIX_B}.77`;
  await ok(b('network', 'connect', '--alias', 'ca,cb', '--alias', 'cc', '--ip', ipc, NET_B, 'bpeera'));
  assert.equal((await containerAddrs(b, 'bpeera')).eth1, ipc);
  assert.deepEqual((await networksOf('bpeera'))[NET_B]!.Aliases, ['ca', 'cb', 'cc']);
  for (const n of ['ca', 'cb', 'cc'])
    await until(`bflags resolves ${n}`, () => resolves('bflags', n, ipc), 30_000, 200);
  // Its bad values: status 1, the flag named, bpeerb left on its one network.
  const badConnect: [string[], RegExp][] = [
    [
      ['--ip6', '2001:db8::33', NET_A],
      /^berth: --ip6 "2001:db8::33": not supported: berth's networks are IPv4 only\n$/,
    ],
    [['--ip', '10.0.0.300', NET_A], /^berth: --ip \(ipv4Address\): invalid IPv4 address: 10\.0\.0\.300\n$/],
    [
      ['--ip', `${PREFIX_B}.78`, NET_A],
      new RegExp(
        `^berth: --ip \\(ipv4Address\\): no configured subnet or ip-range contain the IP address ${PREFIX_B}\\.78\n$`,
      ),
    ],
    [['--alias', 'ok,-bad', NET_A], /^berth: --alias \(aliases\) "-bad": expected a name/],
    [
      ['--alias', 'x', 'berth'],
      /^berth: --alias \(aliases\): network-scoped alias is supported only for containers in user defined networks\n$/,
    ],
  ];
  for (const [args, msg] of badConnect) {
    const r = await b('network', 'connect', ...args, 'bpeerb');
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg, args.join(' '));
  }
  assert.deepEqual(Object.keys(await networksOf('bpeerb')), [NET_B]);
  await ok(b('rm', '-f', 'bflags', 'bpeera', 'bpeerb'));

  // --dns, --dns-search, --dns-option: resolv.conf's parts on the default network; behind the
  // embedded server (127.0.0.11, which forwards to --dns) on a user network.
  const conf = (...flags: string[]) =>
    ok(
      b(
        'run',
        '--rm',
        ...flags,
        '--dns-search',
        'corp.example',
        '--dns-opt',
        'ndots:2',
        'busybox',
        'cat',
        '/etc/resolv.conf',
      ),
    );
  const onDefault = await conf('--dns', '10.9.9.9');
  assert.deepEqual(onDefault.match(/^nameserver .*$/gm), ['nameserver 10.9.9.9'], onDefault);
  assert.match(onDefault, /^search corp\.example$/m);
  assert.match(onDefault, /^options ndots:2$/m);
  const onUser = await conf('--network', NET_A, '--dns', '10.9.9.9');
  assert.deepEqual(onUser.match(/^nameserver .*$/gm), ['nameserver 127.0.0.11'], onUser);
  assert.match(onUser, /^search corp\.example$/m);
  assert.match(onUser, /^options .*\bndots:2\b/m);
});

test("berth's own CLI: bad --ip, --mac-address, --network-alias, --dns and --ip6 values are refused naming the flag (125), nothing made", async () => {
  const cases: [string[], RegExp][] = [
    [['--network', NET_A, '--mac-address', '02:42'], /--mac-address \(macAddress\) "02:42": expected a MAC address/],
    [
      ['--network', NET_A, '--mac-address', '01:00:5e:00:00:01'],
      /--mac-address \(macAddress\) 01:00:5e:00:00:01: a multicast/,
    ],
    [
      ['--network', NET_A, '--network', `name=${NET_B},mac-address=zz`],
      new RegExp(`--network name=${NET_B},mac-address \\(networks\\[0\\]\\.macAddress\\) "zz"`),
    ],
    [
      ['--network', 'none', '--mac-address', '02:42:ac:11:00:02'],
      /conflicting options: mac-address and the network mode/,
    ],
    [['--network', NET_A, '--ip', '10.0.0.300'], /--ip \(ipv4Address\) "10\.0\.0\.300": expected an IPv4 address/],
    [
      ['--ip', `${PREFIX_A}.51`],
      /--ip \(ipv4Address\): user specified IP address is supported on user defined networks only/,
    ],
    [
      ['--network', 'berth', '--ip', `${PREFIX_A}.51`],
      /--ip \(ipv4Address\): user specified IP address is supported on user defined networks only/,
    ],
    [
      ['--network', NET_A, '--ip', `${PREFIX_B}.9`],
      new RegExp(`--ip \\(ipv4Address\\): no configured subnet or ip-range contain the IP address ${PREFIX_B}\\.9`),
    ],
    [
      ['--network', NET_A, '--network', `name=${NET_B},ip=${PREFIX_A}.9`],
      new RegExp(`--network name=${NET_B},ip \\(networks\\[0\\]\\.ipv4Address\\): no configured subnet`),
    ],
    [
      ['--network', NET_A, '--network', `name=${NET_B},alias=-x`],
      new RegExp(`--network name=${NET_B},alias \\(networks\\[0\\]\\.aliases\\) "-x": expected a name`),
    ],
    [['--network', NET_A, '--network-alias', '-bad'], /--network-alias \(aliases\[0\]\) "-bad": expected a name/],
    [
      ['--network-alias', 'web'],
      /--network-alias \(aliases\): network-scoped alias is supported only for containers in user defined networks/,
    ],
    [
      ['--network', 'none', '--network-alias', 'web'],
      /--network-alias \(aliases\): network none has no names to resolve/,
    ],
    [['--dns', 'not-an-ip'], /--dns \(dns\.servers\) "not-an-ip": expected an IP address/],
    [['--dns-search', 'a b'], /--dns-search \(dns\.search\) "a b": expected a domain name/],
    [
      ['--network', NET_A, '--ip6', '2001:db8::33'],
      /--ip6 "2001:db8::33": not supported: berth's networks are IPv4 only/,
    ],
    [
      ['--network', `name=${NET_A},alias=x`, '--network-alias', 'y'],
      /conflicting options: cannot specify both --network-alias and per-network alias/,
    ],
  ];
  for (const [i, [flags, msg]] of cases.entries())
    for (const verb of ['run', 'create']) {
      const name = `bbad${i}${verb}`;
      const r = await berthCli(d.socket, verb, '--name', name, ...flags, 'busybox', 'true');
      assert.equal(r.code, 125, `${verb} ${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg, `${verb} ${flags.join(' ')}`);
      assert.equal((await berthCli(d.socket, 'inspect', name)).code, 1, `${name} was not made`);
    }
});

test("embedded DNS as dockerd's: a short ID, name.network and alias.network on the networks shared; DNSNames from API 1.44", async () => {
  await ok(d28('run', '-d', '--name', 'web', '--network', NET_A, '--network-alias', 'www', 'busybox', 'sleep', '1000'));
  await ok(d28('run', '-d', '--name', 'asker', '--network', NET_A, 'busybox', 'sleep', '1000'));
  await ok(d28('run', '-d', '--name', 'stranger', '--network', NET_B, 'busybox', 'sleep', '1000'));
  const id = (await ok(d28('inspect', '--format', '{{.Id}}', 'web'))).trim();
  const short = id.slice(0, 12);
  const ip = (await networksOf('web'))[NET_A]!.IPAddress;
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
  const answers = async (from: string, name: string) => {
    const r = await d28('exec', from, 'nslookup', name);
    return r.code === 0 && new RegExp(`Address: ${ip.replace(/\./g, '\\.')}\\b`).test(r.stdout);
  };
  for (const name of [short, `web.${NET_A}`, `www.${NET_A}`, `${short}.${NET_A}`, 'web', 'www'])
    await until(`asker resolves ${name}`, () => answers('asker', name), 30_000, 200);
  await pings('asker', short);
  await pings('asker', `web.${NET_A}`);
  // Not on the asker's networks: neither the name nor name.network of a network it is not on.
  for (const name of [short, `web.${NET_A}`, 'web']) assert.equal(await answers('stranger', name), false, name);
  assert.equal(await answers('asker', `web.${NET_B}`), false);

  // inspect: DNSNames (1.44+) in dockerd's order; Aliases as asked from 1.45, with the short ID before.
  const n50 = (await networksOf('web'))[NET_A]!;
  assert.deepEqual(n50.DNSNames, ['web', 'www', short]);
  assert.deepEqual(n50.Aliases, ['www']);
  const n41 = JSON.parse((await dockerRequest(SOCK, 'GET', '/v1.41/containers/web/json')).body).NetworkSettings
    .Networks[NET_A];
  assert.deepEqual(n41.Aliases, ['www', short]);
  assert.equal('DNSNames' in n41, false);
  const old = await networksOf('web', DOCKER_CLIENTS[1].bin);
  assert.deepEqual(old[NET_A]!.Aliases, ['www', short]);
  await ok(d28('rm', '-f', 'web', 'asker', 'stranger'));
});

test('--mac-address: set through CNI, seen inside the container and in inspect, kept across stop/start; per endpoint from API 1.44', async () => {
  const macOf = async (name: string, ifName: string) =>
    (await ok(d28('exec', name, 'cat', `/sys/class/net/${ifName}/address`))).trim();
  const [m1, m2, m3, m4] = ['02:42:c0:a8:10:01', '02:42:c0:a8:10:02', '02:42:c0:a8:10:03', '02:42:c0:a8:10:04'];
  // docker 28 (API 1.50): the main endpoint's MacAddress, and a second network's own.
  await ok(
    d28(
      'run',
      '-d',
      '--name',
      'mac28',
      '--network',
      NET_A,
      '--mac-address',
      m1.toUpperCase(),
      '--network',
      `name=${NET_B},mac-address=${m2}`,
      'busybox',
      'sleep',
      '1000',
    ),
  );
  assert.equal(await macOf('mac28', 'eth0'), m1);
  assert.equal(await macOf('mac28', 'eth1'), m2);
  const nets = await networksOf('mac28');
  assert.equal(nets[NET_A]!.MacAddress, m1);
  assert.equal(nets[NET_B]!.MacAddress, m2);
  await ok(d28('stop', '-t', '0', 'mac28'));
  assert.equal((await networksOf('mac28'))[NET_A]!.MacAddress, m1);
  await ok(d28('start', 'mac28'));
  assert.equal(await macOf('mac28', 'eth0'), m1);
  assert.equal(await macOf('mac28', 'eth1'), m2);

  // The 20.10 client (API 1.41) sends Config.MacAddress: the default network's interface gets it.
  await ok(
    docker(DOCKER_CLIENTS[1].bin, 'run', '-d', '--name', 'mac20', '--mac-address', m3, 'busybox', 'sleep', '1000'),
  );
  assert.equal(await macOf('mac20', 'eth0'), m3);
  assert.equal((await ok(d28('inspect', '--format', '{{.NetworkSettings.MacAddress}}', 'mac20'))).trim(), m3);
  // connect with EndpointConfig.MacAddress (API 1.44 and later).
  const con = await dockerRequest(SOCK, 'POST', `/v1.50/networks/${NET_B}/connect`, {
    Container: 'mac20',
    EndpointConfig: { MacAddress: m4 },
  });
  assert.equal(con.status, 200, con.body);
  assert.equal(await macOf('mac20', 'eth1'), m4);
  assert.equal((await networksOf('mac20'))[NET_B]!.MacAddress, m4);

  // Hostile values: 400 naming the field (docker run exits 125), nothing made.
  const multi = await d28('run', '-d', '--name', 'macbad', '--mac-address', '01:00:5e:00:00:01', 'busybox', 'true');
  assert.equal(multi.code, 125, multi.stderr);
  assert.match(multi.stderr, /MacAddress\) 01:00:5e:00:00:01: a multicast address/);
  const zero = await dockerRequest(SOCK, 'POST', '/v1.50/containers/create', {
    Image: 'busybox',
    HostConfig: { NetworkMode: NET_A },
    NetworkingConfig: { EndpointsConfig: { [NET_A]: { MacAddress: '00:00:00:00:00:00' } } },
  });
  assert.equal(zero.status, 400, zero.body);
  assert.match(
    JSON.parse(zero.body).message,
    new RegExp(`EndpointsConfig\\.${NET_A}\\.MacAddress\\) 00:00:00:00:00:00: the all-zero`),
  );
  const badConnect = await dockerRequest(SOCK, 'POST', `/v1.50/networks/${NET_A}/connect`, {
    Container: 'mac20',
    EndpointConfig: { MacAddress: '02:42' },
  });
  assert.equal(badConnect.status, 400, badConnect.body);
  assert.match(JSON.parse(badConnect.body).message, /^EndpointConfig\.MacAddress "02:42": expected a MAC address/);
  assert.equal((await d28('inspect', 'macbad')).code, 1);
  await ok(d28('rm', '-f', 'mac28', 'mac20'));
});

test('docker rm -f of many peers on one network at once: each removal rewrites the others’ hosts, and none fails', async () => {
  // docker rm removes its arguments in parallel: a peer's removal rewrote the hosts file of one
  // being removed at the same moment, and gave its emptied directory a file back (ENOTEMPTY).
  for (let round = 0; round < 2; round++) {
    const names = [0, 1, 2, 3, 4, 5].map((i) => `peer${round}x${i}`);
    for (const n of names) await ok(d28('run', '-d', '--name', n, '--network', NET_A, 'busybox', 'sleep', '1000'));
    await ok(d28('rm', '-f', ...names));
    const left = await ok(d28('ps', '-a', '--filter', `network=${NET_A}`, '--format', '{{.Names}}'));
    assert.deepEqual(
      left.split('\n').filter((n) => n.startsWith(`peer${round}x`)),
      [],
    );
  }
});
