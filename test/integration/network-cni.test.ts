// Root integration tests of src/network against the real kernel and Debian's CNI plugins
// (containernetworking-plugins in /usr/lib/cni): networks, namespaces, container ↔ container on one
// bridge, a port published on 127.0.0.1, CHECK, idempotent DEL, crash recovery, and a clean host
// afterwards. Only private addresses are used (subnets picked clear of the host's routes) and only
// interfaces, namespaces and rules these tests create are touched; the after hook removes them all.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode, isBerthError } from '../../src/errors/errors.ts';
import { cniChainName } from '../../src/network/iptables.ts';
import { removeBridgeRules } from '../../src/network/bridge-rules.ts';
import { type Attachment, NetworkManager } from '../../src/network/network-manager.ts';
import { overlaps, parseCidr } from '../../src/network/subnet.ts';
import { routePrefixes } from '../../src/network/host-routes.ts';

if (process.getuid?.() !== 0)
  throw new Error('network tests need root (network namespaces, bridges, iptables): run them as root');
for (const p of ['bridge', 'host-local', 'portmap', 'loopback']) {
  if (!existsSync(`/usr/lib/cni/${p}`))
    throw new Error(`network tests need /usr/lib/cni/${p}: apt-get install containernetworking-plugins`);
}
for (const tool of ['busybox', 'nsenter', 'unshare', 'iptables', 'iptables-save', 'ip', 'nft']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
    throw new Error(`network tests need ${tool} on PATH (busybox-static, util-linux, iptables, iproute2, nftables)`);
}

const SHARED_CHAINS = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-MASQ', 'CNI-FORWARD', 'CNI-ADMIN'];
const tag = `t${process.pid % 100000}`;
const NET = `${tag}-web`;
const DEF = `${tag}-def`;
const id = (n: string) => `${tag}-c${n}`;

let base: string;
let m: NetworkManager;
let tablesBefore: Set<string>;
let sharedBefore: boolean;
const bridges: string[] = [];
const servers: number[] = [];

function sh(file: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function nftTables(): Set<string> {
  const r = sh('nft', ['-j', 'list', 'tables']);
  const list = (JSON.parse(r.out) as { nftables: Array<{ table?: { family: string; name: string } }> }).nftables;
  return new Set(list.filter((x) => x.table).map((x) => `${x.table!.family} ${x.table!.name}`));
}

function iptablesSave(): string {
  return sh('iptables-save', []).out;
}

function chainsPresent(): string[] {
  const text = iptablesSave();
  return SHARED_CHAINS.filter((c) => text.includes(`:${c} `));
}

/** Rules at FORWARD's end that drop a bridge's traffic, as on a host whose FORWARD policy is DROP. */
function forwardDrops(bridge: string): string[][] {
  return [
    ['FORWARD', '-i', bridge, '-j', 'DROP'],
    ['FORWARD', '-o', bridge, '-j', 'DROP'],
  ];
}

function ping(fromId: string, ip: string): boolean {
  return sh('nsenter', [`--net=${m.netnsPath(fromId)}`, 'busybox', 'ping', '-c1', '-W1', ip]).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  tablesBefore = nftTables();
  sharedBefore = chainsPresent().length > 0;
  base = mkdtempSync('/tmp/berth-net-');
  m = await NetworkManager.open({
    root: join(base, 'state'),
    runDir: join(base, 'run'),
    defaultNetwork: { name: DEF, bridge: `bt${tag}d` },
  });
  bridges.push(`bt${tag}d`);
});

after(async () => {
  for (const pid of servers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  try {
    await m?.destroy();
  } finally {
    for (const b of bridges) {
      if (sh('ip', ['link', 'show', 'dev', b]).status === 0) sh('ip', ['link', 'del', 'dev', b]);
      await removeBridgeRules(b);
      for (const rule of forwardDrops(b)) sh('iptables', ['-w', '5', '-D', ...rule]);
    }
    // The plugins' shared chains are removed only if these tests brought them (none existed before).
    if (!sharedBefore) await m?.pruneSharedChains();
    // iptables-nft creates tables on first use; drop those these tests brought if they hold no rule.
    for (const t of nftTables()) {
      if (tablesBefore.has(t)) continue;
      const [family, name] = t.split(' ') as [string, string];
      const listing = sh('nft', ['-j', 'list', 'table', family, name]).out;
      const items = (JSON.parse(listing) as { nftables: Array<Record<string, { hook?: string }>> }).nftables;
      const inUse = items.some((i) => i.rule || i.set || i.map || (i.chain && !i.chain.hook));
      if (!inUse) sh('nft', ['delete', 'table', family, name]);
    }
    if (base) rmSync(base, { recursive: true, force: true });
  }
});

test('default network: created at open, on a private subnet clear of every host route', async () => {
  const [def] = (await m.listNetworks()).filter((n) => n.name === DEF);
  assert.ok(def, 'the default network exists');
  assert.equal(def.isDefault, true);
  assert.equal(def.bridge, `bt${tag}d`);
  // Its own bridge holds the gateway address (the subnet's claim on the host); no other route overlaps.
  const routes = routePrefixes(sh('ip', ['-j', '-4', 'route', 'show', 'table', 'all']).out, def.bridge);
  const subnet = parseCidr(def.subnet);
  assert.deepEqual(
    routes.filter((r) => overlaps(r, subnet)),
    [],
    `${def.subnet} must not overlap a host route`,
  );
  assert.match(sh('ip', ['-4', 'addr', 'show', 'dev', def.bridge]).out, new RegExp(`inet ${def.gateway}/`));
  assert.ok(JSON.parse(readFileSync(def.configPath, 'utf8')).plugins.length === 2);
  await assert.rejects(m.removeNetwork(DEF), (e) => isBerthError(e, ErrorCode.FailedPrecondition));
});

test('networks: create, list, inspect; a duplicate name, an overlapping or public subnet is refused', async () => {
  const net = await m.createNetwork(NET, { labels: { purpose: 'test' } });
  bridges.push(net.bridge);
  assert.equal(net.gateway, net.subnet.replace(/\.0\/\d+$/, '.1'));
  assert.deepEqual((await m.listNetworks()).map((n) => n.name).sort(), [DEF, NET].sort());
  const ins = await m.inspectNetwork(NET);
  assert.deepEqual(ins.attachments, []);
  assert.deepEqual(ins.labels, { purpose: 'test' });
  await assert.rejects(m.createNetwork(NET), (e) => isBerthError(e, ErrorCode.AlreadyExists));
  await assert.rejects(
    m.createNetwork(`${tag}-x`, { subnet: net.subnet.replace(/\/\d+$/, '/24') }),
    (e) => isBerthError(e, ErrorCode.FailedPrecondition) && e.message.includes('overlaps'),
  );
  await assert.rejects(m.createNetwork(`${tag}-x`, { subnet: '8.8.8.0/24' }), (e) =>
    isBerthError(e, ErrorCode.InvalidArgument),
  );
  // An interface that is not berth's: lo is on every host (eth0 is not: ens3, enp0s1 …).
  await assert.rejects(
    m.createNetwork(`${tag}-x`, { bridge: 'lo' }),
    (e) => isBerthError(e, ErrorCode.AlreadyExists) && e.message.includes('interface lo '),
  );
  await assert.rejects(m.inspectNetwork(`${tag}-nope`), (e) => isBerthError(e, ErrorCode.NotFound));
});

test('two berthds on two roots creating networks at once get subnets that do not overlap', async () => {
  // Each store knows only its own networks: the gateway address on each bridge is what the other sees.
  const other = await NetworkManager.open({
    root: join(base, 'state-other'),
    runDir: join(base, 'run-other'),
    defaultNetwork: false,
  });
  const made: Array<{ mgr: NetworkManager; name: string }> = [];
  try {
    const jobs = [0, 1, 2].flatMap((i) => [
      { mgr: m, name: `${tag}-ra${i}` },
      { mgr: other, name: `${tag}-rb${i}` },
    ]);
    const nets = await Promise.all(
      jobs.map(async (j) => {
        const n = await j.mgr.createNetwork(j.name);
        made.push(j);
        bridges.push(n.bridge);
        return n;
      }),
    );
    for (let i = 0; i < nets.length; i++) {
      assert.match(
        sh('ip', ['-4', 'addr', 'show', 'dev', nets[i]!.bridge]).out,
        new RegExp(`inet ${nets[i]!.gateway}/`),
      );
      for (let k = i + 1; k < nets.length; k++)
        assert.ok(
          !overlaps(parseCidr(nets[i]!.subnet), parseCidr(nets[k]!.subnet)),
          `${nets[i]!.name} ${nets[i]!.subnet} and ${nets[k]!.name} ${nets[k]!.subnet} overlap`,
        );
    }
  } finally {
    for (const j of made) await j.mgr.removeNetwork(j.name);
    await other.destroy();
  }
});

let a1: Attachment;
let a2: Attachment;
let hostPort: number;

test('two namespaces on one network reach each other; one on no network does not', async () => {
  hostPort = await freePort();
  const p1 = await m.createNetns(id('1'));
  const p2 = await m.createNetns(id('2'));
  const p3 = await m.createNetns(id('3'));
  assert.equal(p1, join(base, 'run/netns', id('1')));
  await assert.rejects(m.createNetns(id('1')), (e) => isBerthError(e, ErrorCode.AlreadyExists));
  a1 = await m.attach(id('1'), p1, NET, { aliases: ['web'], portMappings: [{ hostPort, containerPort: 8080 }] });
  a2 = await m.attach(id('2'), p2, NET, { aliases: ['db', 'database'] });
  assert.equal(a1.ifName, 'eth0');
  assert.match(a1.mac ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.notEqual(a1.ips[0], a2.ips[0]);
  assert.ok(ping(id('1'), a2.ips[0]!), `${id('1')} pings ${a2.ips[0]}`);
  assert.ok(ping(id('2'), a1.ips[0]!), `${id('2')} pings ${a1.ips[0]}`);
  assert.ok(ping(id('1'), '127.0.0.1'), 'loopback is up in a new namespace');
  assert.ok(!ping(id('3'), a1.ips[0]!), 'a namespace on no network reaches nothing (control)');
  await m.check(id('1'), NET);
  await m.check(id('2'), NET);
  const rules = iptablesSave();
  const bridge = (await m.inspectNetwork(NET)).bridge;
  const subnet = (await m.inspectNetwork(NET)).subnet;
  for (const rule of [
    `-A BERTH-FORWARD -i ${bridge} -j ACCEPT`,
    `-A BERTH-FORWARD -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A BERTH-MASQUERADE -s ${subnet} ! -o ${bridge} -j MASQUERADE`,
  ])
    assert.ok(rules.includes(rule), `the network's rule ${rule}:\n${rules}`);
  assert.ok(!rules.includes(`${a1.ips[0]}/32`), `no rule per container address:\n${rules}`);
  assert.ok(rules.includes(`--dport ${hostPort} -j DNAT --to-destination ${a1.ips[0]}:8080`), 'portmap made the DNAT');
  // On a host whose FORWARD drops what no rule accepts, the network's own rule lets it through.
  for (const rule of forwardDrops(bridge)) assert.equal(sh('iptables', ['-w', '5', '-A', ...rule]).status, 0);
  try {
    assert.ok(ping(id('1'), a2.ips[0]!), `${id('1')} pings ${a2.ips[0]} past FORWARD's DROP`);
    // The control, where bridged traffic passes through iptables at all (br_netfilter).
    const bridged = existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')
      ? readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() === '1'
      : false;
    if (bridged) {
      const accept = ['BERTH-FORWARD', '-i', bridge, '-j', 'ACCEPT'];
      assert.equal(sh('iptables', ['-w', '5', '-D', ...accept]).status, 0);
      try {
        assert.ok(!ping(id('1'), a2.ips[0]!), 'without the network rule, FORWARD drops it (control)');
      } finally {
        assert.equal(sh('iptables', ['-w', '5', '-I', 'BERTH-FORWARD', '1', '-i', bridge, '-j', 'ACCEPT']).status, 0);
      }
    }
  } finally {
    for (const rule of forwardDrops(bridge)) sh('iptables', ['-w', '5', '-D', ...rule]);
  }
  // portmap runs only for an attachment that publishes ports; each record keeps the list its ADD ran.
  assert.deepEqual(
    (await m.attachments.get(NET, id('1')))?.config.plugins.map((p) => p.type),
    ['bridge', 'portmap'],
  );
  assert.deepEqual(
    (await m.attachments.get(NET, id('2')))?.config.plugins.map((p) => p.type),
    ['bridge'],
  );
  await assert.rejects(m.attach(id('2'), p2, NET), (e) => isBerthError(e, ErrorCode.AlreadyExists));
  await assert.rejects(
    m.attach(id('3'), p3, NET, { portMappings: [{ hostPort, containerPort: 1 }] }),
    (e) => isBerthError(e, ErrorCode.AlreadyExists) && e.message.includes(String(hostPort)),
  );
  assert.deepEqual(
    await m.hostsEntries(NET),
    [
      { ip: a1.ips[0], names: ['web'] },
      { ip: a2.ips[0], names: ['db', 'database'] },
    ].sort((x, y) => (x.ip! < y.ip! ? -1 : 1)),
  );
  assert.deepEqual((await m.inspectNetwork(NET)).attachments.map((a) => a.containerId).sort(), [id('1'), id('2')]);
});

test('a port published on 127.0.0.1 reaches a server in the namespace; an unpublished one does not', async () => {
  const www = join(base, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'hello from the namespace\n');
  const srv = spawn('nsenter', [`--net=${m.netnsPath(id('1'))}`, 'busybox', 'httpd', '-f', '-p', '8080', '-h', www], {
    stdio: 'ignore',
  });
  servers.push(srv.pid!);
  let body = '';
  let lastErr: unknown;
  for (let i = 0; i < 50 && body === ''; i++) {
    try {
      body = await httpGet(hostPort);
    } catch (e) {
      lastErr = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.equal(body, 'hello from the namespace\n', `GET 127.0.0.1:${hostPort}: ${String(lastErr)}`);
  const other = await freePort();
  await assert.rejects(httpGet(other), 'a port nobody published is refused (control)');
  process.kill(srv.pid!, 'SIGKILL');
});

test('removing a network that has attachments is refused', async () => {
  await assert.rejects(
    m.removeNetwork(NET),
    (e) => isBerthError(e, ErrorCode.FailedPrecondition) && e.message.includes(id('1')),
  );
  assert.ok((await m.listNetworks()).some((n) => n.name === NET));
});

test("detach runs DEL once per attachment and is idempotent; the container's rules and lease go", async () => {
  await m.detach(id('2'), NET);
  await m.detach(id('2'), NET);
  await m.detach(id('never'), NET);
  const rules = iptablesSave();
  assert.ok(!rules.includes(`id: \\"${id('2')}\\"`), 'no rule tagged with the detached container');
  assert.ok(!rules.includes(cniChainName(NET, id('2'))), 'its masquerade chain is gone');
  assert.ok(!rules.includes(`${a2.ips[0]}/32`), 'no rule for its address');
  assert.ok(!existsSync(join(base, 'state/ipam', NET, a2.ips[0]!)), 'its address is released');
  assert.ok(!ping(id('1'), a2.ips[0]!), 'it is no longer reachable');
  await assert.rejects(m.check(id('2'), NET), (e) => isBerthError(e, ErrorCode.NotFound));
});

test('recover: DEL and namespace removal for what is not live, an interrupted ADD included', async () => {
  const a3 = await m.attach(id('3'), m.netnsPath(id('3')), NET);
  await m.check(id('3'), NET);
  // CHECK must notice a broken attachment (control); and the DEL below then has no interface to read
  // the addresses from, so the bridge plugin cannot remove its masquerade rules: berth must.
  assert.equal(sh('nsenter', [`--net=${m.netnsPath(id('3'))}`, 'ip', 'link', 'del', 'eth0']).status, 0);
  await assert.rejects(m.check(id('3'), NET), (e) => isBerthError(e) && e.message.includes('CHECK'));
  // A crash between the ADD and the result's write: the record has no result.
  const recPath = join(base, 'state/results', `${NET}-${id('3')}.json`);
  const rec = JSON.parse(readFileSync(recPath, 'utf8'));
  delete rec.result;
  writeFileSync(recPath, JSON.stringify(rec));
  await m.createNetns(id('4')); // a stray namespace with no attachment
  // berthd restarts: a new manager over the same directories.
  const m2 = await NetworkManager.open({
    root: join(base, 'state'),
    runDir: join(base, 'run'),
    defaultNetwork: { name: DEF, bridge: `bt${tag}d` },
  });
  const report = await m2.recover([id('1')]);
  assert.deepEqual(report.errors, []);
  assert.deepEqual(report.detached, [{ containerId: id('3'), network: NET }]);
  assert.deepEqual(report.netnsRemoved.sort(), [id('2'), id('3'), id('4')]);
  const rules = iptablesSave();
  assert.ok(!rules.includes(`${a3.ips[0]}/32`), 'the interrupted ADD left no rule');
  assert.ok(!rules.includes(`id: \\"${id('3')}\\"`));
  assert.ok(!existsSync(join(base, 'state/ipam', NET, a3.ips[0]!)));
  assert.deepEqual(
    (await m2.listAttachments()).map((a) => a.containerId),
    [id('1')],
  );
  assert.ok(ping(id('1'), a1.gateway!), 'the live container keeps its network');
  assert.deepEqual((await m2.recover([id('1')])).netnsRemoved, [], 'a second recovery finds nothing');
});

test('a failed ADD is rolled back by DEL through every plugin: no record, lease, rule or interface stays', async () => {
  const BAD = `${tag}-bad`;
  const net = await m.createNetwork(BAD);
  bridges.push(net.bridge);
  // A last plugin that fails after bridge and portmap have done their work.
  const stored = (await m.store.get(BAD))!;
  const conflist = {
    ...stored.conflist,
    plugins: [...stored.conflist.plugins, { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.berth_no_such_knob': '1' } }],
  };
  await m.store.put(conflist, stored.meta);
  const p5 = await m.createNetns(id('5'));
  await assert.rejects(
    m.attach(id('5'), p5, BAD, { portMappings: [{ hostPort: await freePort(), containerPort: 80 }] }),
    (e) => isBerthError(e) && e.message.includes('"tuning"'),
  );
  assert.deepEqual(await m.listAttachments(id('5')), []);
  const leases = join(base, 'state/ipam', BAD);
  assert.deepEqual(
    existsSync(leases) ? readdirSync(leases).filter((f) => /^\d/.test(f)) : [],
    [],
    'no address stays leased',
  );
  const rules = iptablesSave();
  assert.ok(!rules.includes(id('5')), `no rule for the container:\n${rules}`);
  assert.notEqual(sh('nsenter', [`--net=${p5}`, 'ip', 'link', 'show', 'eth0']).status, 0, 'no eth0 in its namespace');
  await m.removeNetns(id('5'));
  await m.removeNetwork(BAD);
  assert.notEqual(sh('ip', ['link', 'show', 'dev', net.bridge]).status, 0, `bridge ${net.bridge} is gone`);
});

test('removing the networks deletes their bridges and rules: nothing is left on the host', async () => {
  await m.detach(id('1'), NET);
  await m.removeNetns(id('1'));
  await m.removeNetns(id('1'));
  await m.removeNetwork(NET);
  const netBridge = bridges[1]!; // NET's
  assert.notEqual(sh('ip', ['link', 'show', 'dev', netBridge]).status, 0, `bridge ${netBridge} is gone`);
  await m.destroy();
  for (const b of bridges) assert.notEqual(sh('ip', ['link', 'show', 'dev', b]).status, 0, `bridge ${b} is gone`);
  const rules = iptablesSave();
  assert.ok(!rules.includes(tag), `no rule names these tests' networks or containers:\n${rules}`);
  // The plugins' shared chains: these tests remove them only if they brought them, and can expect
  // them gone only if no other CNI user (a podman test running alongside) has a rule in them now.
  if (!sharedBefore) {
    await m.pruneSharedChains();
    if (!/CNI-DN-|-A CNI-FORWARD -[sd] /.test(rules))
      assert.deepEqual(chainsPresent(), [], 'the shared CNI chains these tests brought are gone');
  }
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(base), 'no mount left under the test directory');
});
