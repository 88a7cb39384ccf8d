// `-p CONTAINER_PORT` without a host port, as root with CNI: berthd picks a free port from the
// kernel's ephemeral range for each container (two containers, two ports), publishes it on
// 127.0.0.1 through portmap, shows it in inspect (networkSettings.ports), ps and `berth port`,
// keeps it across a stop and start, and releases it with the container.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { ephemeralPortRange, hostPortFree } from '../../src/network/port-allocator.ts';
import {
  busyboxRootfsTar,
  type Daemon,
  fetchText,
  finish,
  NODE,
  REPO,
  startBerthd,
  tempRoots,
} from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;
const BRIDGE = `btp${process.pid % 100000}`;
// Explicit, so that a berthd of another test file starting at the same moment never picks the same subnet.
const SUBNET = `10.${200 + (process.pid % 40)}.${process.pid % 250}.0/24`;

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root');
  if (!existsSync('/usr/lib/cni/portmap'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  d = await startBerthd(root, runRoot, [], {
    defaultRuntime: RUNTIME,
    network: { defaultNetwork: { name: 'berth', bridge: BRIDGE, subnet: SUBNET } },
  });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(() => finish(d, root, runRoot, { network: true }));

function berth(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(NODE, [join(REPO, 'src/cli/berth/main.ts'), '--host', d.socket, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const httpd = (text: string) => [
  'sh',
  '-c',
  `mkdir -p /w && echo ${text} > /w/index.html && exec httpd -f -p 80 -h /w`,
];

async function hostPortOf(id: string): Promise<number> {
  const b = (await d.client.inspect(id)).networkSettings?.ports['80/tcp'];
  assert.ok(b && b.length === 1 && b[0]!.hostIp === '127.0.0.1', JSON.stringify(b));
  return Number(b[0]!.hostPort);
}

function allocations(): { container_id: string; host_port: number }[] {
  const db = new DatabaseSync(join(root, 'berthd.db'), { readOnly: true });
  try {
    return db.prepare('SELECT container_id, host_port FROM port_allocations ORDER BY host_port').all() as {
      container_id: string;
      host_port: number;
    }[];
  } finally {
    db.close();
  }
}

test('-p 80 on two containers: two free ephemeral ports, both reachable on 127.0.0.1, shown by inspect, ps and port, kept across stop/start, released by rm', async () => {
  const [lo, hi] = ephemeralPortRange();
  const a = await d.client.create({
    image: 'busybox',
    name: 'ports-a',
    cmd: httpd('from-a'),
    ports: [{ hostIP: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }],
  });
  await d.client.start(a.id);
  const run = berth('run', '-d', '--name', 'ports-b', '-p', '127.0.0.1::80', 'busybox', ...httpd('from-b'));
  assert.equal(run.code, 0, run.err);
  const bId = run.out.trim();
  const pa = await hostPortOf(a.id);
  const pb = await hostPortOf(bId);
  assert.notEqual(pa, pb);
  for (const p of [pa, pb]) assert.ok(p >= lo && p <= hi, `${p} is in the ephemeral range ${lo}-${hi}`);
  assert.equal(await fetchText(`http://127.0.0.1:${pa}/`), 'from-a\n');
  assert.equal(await fetchText(`http://127.0.0.1:${pb}/`), 'from-b\n');
  assert.deepEqual(
    allocations()
      .map((r) => [r.container_id, r.host_port])
      .sort(),
    [
      [a.id, pa],
      [bId, pb],
    ].sort(),
  );

  assert.deepEqual(berth('port', 'ports-a'), { code: 0, out: `80/tcp -> 127.0.0.1:${pa}\n`, err: '' });
  assert.deepEqual(berth('port', 'ports-b', '80/tcp'), { code: 0, out: `127.0.0.1:${pb}\n`, err: '' });
  const none = berth('port', 'ports-a', '81');
  assert.equal(none.code, 1);
  assert.match(none.err, /no public port '81\/tcp' published for ports-a/);
  const ps = berth('ps');
  assert.match(ps.out, new RegExp(`127\\.0\\.0\\.1:${pa}->80/tcp\\s+ports-a`));
  assert.match(ps.out, new RegExp(`127\\.0\\.0\\.1:${pb}->80/tcp\\s+ports-b`));
  const summary = (await d.client.list()).find((c) => c.id === a.id)!;
  assert.deepEqual(summary.ports, [{ hostIP: '127.0.0.1', hostPort: pa, containerPort: 80, protocol: 'tcp' }]);

  await d.client.stop(a.id, 1);
  assert.deepEqual((await d.client.inspect(a.id)).networkSettings?.ports, {}, 'a stopped container publishes nothing');
  assert.equal(await hostPortFree('127.0.0.1', pa), true);
  await d.client.start(a.id);
  assert.equal(await hostPortOf(a.id), pa, 'a restart keeps the port');
  assert.equal(await fetchText(`http://127.0.0.1:${pa}/`), 'from-a\n');

  await d.client.remove(a.id, { force: true });
  await d.client.remove(bId, { force: true });
  assert.deepEqual(allocations(), [], 'the allocations went with their containers');
  await assert.rejects(
    fetch(`http://127.0.0.1:${pa}/`, { signal: AbortSignal.timeout(2000) }),
    'nothing answers on a released port',
  );
});
