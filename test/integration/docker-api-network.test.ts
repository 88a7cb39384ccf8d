// berthd's Docker Engine API with CNI networking, driven by the docker CLI 28 and Debian's
// docker.io 20.10 client: the default network is docker's `bridge` (network ls, inspect's
// NetworkSettings.IPAddress and Networks), -p publishes on loopback and shows in ps and port, a
// user network is made, used by name and removed. Bridge and subnets are this test's own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { hostPortFree } from '../../src/network/port-allocator.ts';
import { type FakeDns, startFakeDns } from '../lib/fake-dns.ts';
import { busyboxRootfsTar, type Daemon, fetchText, finish, startBerthd, tempRoots } from './engine-harness.ts';

const CLIENTS = [
  { name: 'docker 28', bin: '/usr/local/bin/docker' },
  { name: 'docker.io 20.10', bin: '/usr/bin/docker' },
] as const;
const { root, runRoot } = tempRoots();
let d: Daemon;
let fakeDns: FakeDns | undefined;
const BRIDGE = `bdk${process.pid % 100000}`;
// Explicit, so that a berthd of another test file starting at the same moment never picks the same subnet.
const SUBNET = `10.${160 + (process.pid % 30)}.${process.pid % 250}.0/24`;

type Run = { code: number; stdout: string; stderr: string };
function docker(bin: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['-H', `unix://${join(runRoot, 'docker.sock')}`, ...args],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DOCKER_CONFIG: join(root, 'docker-config') } },
      (err, stdout, stderr) => {
        resolve({
          code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the Docker API tests need root');
  for (const c of CLIENTS)
    if (!existsSync(c.bin)) throw new Error(`${c.bin} is missing: install it (scripts/setup.sh)`);
  if (!existsSync('/usr/lib/cni/portmap'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  // The host's resolvers, for the embedded DNS server to forward to (no internet here).
  fakeDns = await startFakeDns({ 'outside.test': '192.0.2.77' });
  d = await startBerthd(root, runRoot, [], {
    network: {
      defaultNetwork: { name: 'berth', bridge: BRIDGE, subnet: SUBNET },
      dns: { upstreams: [`127.0.0.1:${fakeDns.port}`] },
    },
  });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(async () => {
  fakeDns?.close();
  await finish(d, root, runRoot, { network: true });
});

for (const c of CLIENTS) {
  test(`${c.name}: the default network is bridge; -p publishes; IPAddress is the container's`, async () => {
    const ls = await docker(c.bin, 'network', 'ls', '--format', '{{.Name}} {{.Driver}}');
    assert.ok(ls.stdout.split('\n').includes('bridge bridge'), ls.stdout + ls.stderr);
    const ins = await docker(c.bin, 'network', 'inspect', '--format', '{{(index .IPAM.Config 0).Subnet}}', 'bridge');
    assert.equal(ins.stdout.trim(), SUBNET, ins.stderr);
    const name = `web${c.bin.length}`;
    const r = await docker(
      c.bin,
      'run',
      '-d',
      '--name',
      name,
      '-p',
      '127.0.0.1::80',
      'busybox',
      'sh',
      '-c',
      'mkdir -p /w && echo served > /w/index.html && exec httpd -f -p 80 -h /w',
    );
    assert.equal(r.code, 0, r.stderr);
    const ip = (
      await docker(
        c.bin,
        'inspect',
        '--format',
        '{{.NetworkSettings.IPAddress}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}',
        name,
      )
    ).stdout.trim();
    const [addr, net] = ip.split(' ');
    assert.match(addr!, /^10\.\d+\.\d+\.\d+$/);
    assert.equal(net, 'bridge');
    const port = await docker(c.bin, 'port', name, '80/tcp');
    const m = /^127\.0\.0\.1:(\d+)$/m.exec(port.stdout);
    assert.ok(m, port.stdout + port.stderr);
    assert.equal((await fetchText(`http://127.0.0.1:${m[1]}/`)).trim(), 'served');
    const ps = await docker(c.bin, 'ps', '--filter', `name=${name}`, '--format', '{{.Ports}}');
    assert.equal(ps.stdout.trim(), `127.0.0.1:${m[1]}->80/tcp`);
    assert.equal(
      (
        await docker(
          c.bin,
          'ps',
          '--filter',
          'network=bridge',
          '--filter',
          `publish=${m[1]}`,
          '--filter',
          'expose=80/tcp',
          '--format',
          '{{.Names}}',
        )
      ).stdout.trim(),
      name,
    );
    assert.equal(
      (await docker(c.bin, 'ps', '--filter', 'network=no-such-net', '--format', '{{.Names}}')).stdout.trim(),
      '',
    );
    assert.equal((await docker(c.bin, 'rm', '-f', name)).code, 0);
  });
}

/** A base port below the ephemeral range (so no berthd allocation takes it) with `n` free ports of `protocol` on 127.0.0.1. */
async function freeRun(n: number, protocol: 'tcp' | 'udp', avoid: number[] = []): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    if (avoid.some((a) => Math.abs(a - base) < 16)) continue;
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await hostPortFree('127.0.0.1', p, protocol);
    if (ok) return base;
  }
  throw new Error(`no run of ${n} free ${protocol} ports found`);
}

for (const c of CLIENTS) {
  test(`${c.name}: host port ranges: -p H1-H2:C1-C2 maps port by port (tcp and udp); -p H1-H2:C takes the first free host port; port and ps show them`, async () => {
    const a = await freeRun(3, 'tcp');
    const u = await freeRun(2, 'udp', [a]);
    const r0 = await freeRun(3, 'tcp', [a, u]);
    // The range's first port is busy (this test holds it): the container gets the next one.
    const holder = createServer();
    await new Promise<void>((res) => holder.listen(r0, '127.0.0.1', res));
    const name = `ranges${c.bin.length}`;
    try {
      const r = await docker(
        c.bin,
        'run',
        '-d',
        '--name',
        name,
        '-p',
        `127.0.0.1:${a}-${a + 2}:80-82`,
        '-p',
        `127.0.0.1:${u}-${u + 1}:80-81/udp`,
        '-p',
        `127.0.0.1:${r0}-${r0 + 2}:8080`,
        'busybox',
        'sh',
        '-c',
        'mkdir -p /w && echo ranged > /w/index.html && httpd -p 81 -h /w && exec httpd -f -p 8080 -h /w',
      );
      assert.equal(r.code, 0, r.stderr);
      const expected = [
        `80/tcp -> 127.0.0.1:${a}`,
        `81/tcp -> 127.0.0.1:${a + 1}`,
        `82/tcp -> 127.0.0.1:${a + 2}`,
        `80/udp -> 127.0.0.1:${u}`,
        `81/udp -> 127.0.0.1:${u + 1}`,
        `8080/tcp -> 127.0.0.1:${r0 + 1}`,
      ];
      const port = await docker(c.bin, 'port', name);
      assert.deepEqual(port.stdout.trim().split('\n').sort(), [...expected].sort(), port.stderr);
      assert.equal((await docker(c.bin, 'port', name, '8080')).stdout.trim(), `127.0.0.1:${r0 + 1}`);
      assert.equal((await fetchText(`http://127.0.0.1:${a + 1}/`)).trim(), 'ranged');
      assert.equal((await fetchText(`http://127.0.0.1:${r0 + 1}/`)).trim(), 'ranged');
      const hc = await docker(c.bin, 'inspect', '--format', '{{json .HostConfig.PortBindings}}', name);
      assert.deepEqual(JSON.parse(hc.stdout)['8080/tcp'], [{ HostIp: '127.0.0.1', HostPort: `${r0}-${r0 + 2}` }]);
      const ps = await docker(c.bin, 'ps', '--filter', `name=${name}`, '--format', '{{.Ports}}');
      assert.match(ps.stdout, new RegExp(`127\\.0\\.0\\.1:${r0 + 1}->8080/tcp`));
      // The berth CLI takes the same forms and prints docker's lines.
      const { berthCli } = await import('./engine-harness.ts');
      const bp = await berthCli(d.socket, 'port', name);
      assert.deepEqual(bp.stdout.trim().split('\n').sort(), [...expected].sort(), bp.stderr);
      // r0 is held, r0+1 is the docker container's: berth's container in the same range gets r0+2.
      const br = await berthCli(
        d.socket,
        'run',
        '-d',
        '--name',
        `${name}b`,
        '-p',
        `127.0.0.1:${r0}-${r0 + 2}:8080`,
        'busybox',
        'sleep',
        '100',
      );
      assert.equal(br.code, 0, br.stderr);
      assert.equal((await berthCli(d.socket, 'port', `${name}b`)).stdout, `8080/tcp -> 127.0.0.1:${r0 + 2}\n`);
    } finally {
      await docker(c.bin, 'rm', '-f', `${name}b`);
      await docker(c.bin, 'rm', '-f', name);
      await new Promise((res) => holder.close(res));
    }
  });
}

test('docker 28: network create, run on it by name, network rm (refused while in use)', async () => {
  const bin = CLIENTS[0].bin;
  const subnet = `10.${190 + (process.pid % 30)}.${process.pid % 250}.0/24`;
  const net = `dnet${process.pid % 100000}`;
  const mk = await docker(bin, 'network', 'create', '--subnet', subnet, net);
  assert.equal(mk.code, 0, mk.stderr);
  try {
    const r = await docker(bin, 'run', '-d', '--name', 'onnet', '--network', net, 'busybox', 'sleep', '100');
    assert.equal(r.code, 0, r.stderr);
    const ip = (
      await docker(bin, 'inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, 'onnet')
    ).stdout.trim();
    assert.ok(ip.startsWith(subnet.split('.').slice(0, 3).join('.')), ip);
    const busy = await docker(bin, 'network', 'rm', net);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /has active endpoints/);
    assert.equal((await docker(bin, 'rm', '-f', 'onnet')).code, 0);
  } finally {
    const rm = await docker(bin, 'network', 'rm', net);
    assert.equal(rm.code, 0, rm.stderr);
  }
  const gone = await docker(bin, 'network', 'inspect', net);
  assert.match(gone.stderr, new RegExp(`network ${net} not found`));
});

test("Debian's docker-compose 1.29: up -d of a web service (published port, named volume) and a client that reaches it by service name; ps, logs, exec, down -v leaves nothing", async () => {
  const COMPOSE = '/usr/bin/docker-compose';
  if (!existsSync(COMPOSE))
    throw new Error(`${COMPOSE} is missing: install the Debian package docker-compose (scripts/setup.sh)`);
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { rm } = await import('node:fs/promises');
  const dir = mkdtempSync('/tmp/bdk-compose-');
  const project = `bdk${process.pid % 100000}`;
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    `version: "2.4"
services:
  web:
    image: busybox
    command: sh -c 'mkdir -p /w && echo hello-compose > /w/index.html && echo kept > /data/f && exec httpd -f -p 80 -h /w'
    ports:
      - "127.0.0.1::80"
    volumes:
      - webdata:/data
  client:
    image: busybox
    command: sh -c 'until wget -qO- http://web/; do sleep 0.2; done; exec sleep 1000'
    depends_on:
      - web
volumes:
  webdata:
`,
  );
  const compose = (...args: string[]) =>
    new Promise<Run>((resolve) => {
      execFile(
        COMPOSE,
        ['-p', project, ...args],
        {
          cwd: dir,
          encoding: 'utf8',
          timeout: 120_000,
          env: {
            ...process.env,
            DOCKER_HOST: `unix://${join(runRoot, 'docker.sock')}`,
            DOCKER_CONFIG: join(root, 'docker-config'),
          },
        },
        (err, stdout, stderr) => {
          resolve({
            code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0,
            stdout,
            stderr,
          });
        },
      );
    });
  try {
    const up = await compose('up', '-d');
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const ps = await compose('ps');
    assert.match(ps.stdout, new RegExp(`${project}_web_1 .* Up +127\\.0\\.0\\.1:\\d+->80/tcp`));
    assert.equal(ps.stdout.split('\n').filter((l) => l.startsWith(`${project}_`)).length, 2, ps.stdout);
    const { until } = await import('./engine-harness.ts');
    await until(
      'the client reached web by its service name',
      async () => (await compose('logs', 'client')).stdout.includes('hello-compose'),
      30_000,
    );
    // dockerd's embedded DNS: the client's resolver is 127.0.0.11, which berthd answers for the
    // project's service names and forwards the rest to the host's resolvers (the test's server).
    const webIp = (
      await docker(
        CLIENTS[0].bin,
        'inspect',
        '--format',
        `{{(index .NetworkSettings.Networks "${project}_default").IPAddress}}`,
        `${project}_web_1`,
      )
    ).stdout.trim();
    assert.match(webIp, /^\d+\.\d+\.\d+\.\d+$/);
    const resolv = await compose('exec', '-T', 'client', 'cat', '/etc/resolv.conf');
    assert.match(resolv.stdout, /^nameserver 127\.0\.0\.11$/m);
    assert.doesNotMatch(resolv.stdout, /^nameserver (?!127\.0\.0\.11)/m);
    const ns = await compose('exec', '-T', 'client', 'nslookup', 'web');
    assert.equal(ns.code, 0, ns.stdout + ns.stderr);
    assert.match(ns.stdout, new RegExp(`Address: ${webIp.replace(/\./g, '\\.')}\\b`));
    const ping = await compose('exec', '-T', 'client', 'ping', '-c', '1', '-W', '5', 'web');
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, new RegExp(webIp.replace(/\./g, '\\.')));
    const out = await compose('exec', '-T', 'client', 'nslookup', 'outside.test');
    assert.match(out.stdout, /Address: 192\.0\.2\.77\b/, out.stdout + out.stderr);
    const nx = await compose('exec', '-T', 'client', 'nslookup', 'nowhere.test');
    assert.match(nx.stdout + nx.stderr, /NXDOMAIN/);
    const ex = await compose('exec', '-T', 'web', 'cat', '/data/f');
    assert.deepEqual([ex.code, ex.stdout], [0, 'kept\n'], ex.stderr);
    const down = await compose('down', '-v');
    assert.equal(down.code, 0, down.stdout + down.stderr);
    assert.doesNotMatch(down.stderr, /not found/);
    const bin = CLIENTS[0].bin;
    assert.equal((await docker(bin, 'ps', '-aq')).stdout, '');
    assert.equal((await docker(bin, 'volume', 'ls', '-q')).stdout, '');
    assert.deepEqual((await docker(bin, 'network', 'ls', '--format', '{{.Name}}')).stdout.trim().split('\n').sort(), [
      'bridge',
      'host',
      'none',
    ]);
  } finally {
    await compose('down', '-v');
    await rm(dir, { recursive: true, force: true });
  }
});
