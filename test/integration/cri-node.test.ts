// berthd's CRI, the node's part of a container, as root through the project's gRPC client
// (test/lib/cri-client.ts), runtime.v1 and runtime.v1alpha2: the pod CIDR of UpdateRuntimeConfig
// reaching the CNI config of later pods (and surviving a restart of berthd), host devices and CDI
// devices with their device-cgroup permissions, hugepage limits where the host has them, and a
// container's own PID namespace options (CONTAINER, TARGET).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CriClient, shContainer, criError, criUnderTest, removeAllPods, Status } from '../lib/cri-client.ts';
import { type Daemon, finish, startBerthd, startCriBerthd, tempRoots } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
const BRIDGE = `btn${process.pid % 100000}`;
const cfg = { defaultRuntime: RUNTIME, network: { defaultNetwork: { name: 'berth', bridge: BRIDGE } } };
const skip = criUnderTest() === 'containerd' ? 'berthd only: its own daemon, state files and configuration' : false;
const criSocket = join(runRoot, 'cri.sock');
let d: Daemon;

before(async () => {
  if (skip) return;
  d = await startCriBerthd(root, runRoot, cfg);
});

after(async () => {
  if (skip) return;
  await finish(d, root, runRoot, { network: true, beforeStop: () => removeAllPods(criSocket) });
});

let podSeq = 0;
function podConfig(extra: Record<string, unknown> = {}) {
  podSeq++;
  return {
    metadata: { name: `node${podSeq}`, namespace: 'default', uid: `uid-${process.pid}-${podSeq}`, attempt: 0 },
    hostname: `node${podSeq}`,
    linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } },
    ...extra,
  };
}
const container = shContainer;

/** Whether the IPv4 address lies in the prefix. */
function inCidr(ip: string, cidr: string): boolean {
  const n = (a: string) => a.split('.').reduce((x, p) => x * 256 + Number(p), 0);
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

/** Random /24s in 172.16.0.0/12 that no route or address of this host touches (other tests' bridges). */
function freeSlash24s(count: number): string[] {
  const used = spawnSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout;
  const taken = [...used.matchAll(/\b(172\.(\d+)\.(\d+))\.\d+(?:\/(\d+))?/g)].map((m) => [Number(m[2]), Number(m[3])]);
  const out: string[] = [];
  while (out.length < count) {
    const a = 16 + Math.floor(Math.random() * 16);
    const b = Math.floor(Math.random() * 256);
    const cidr = `172.${a}.${b}.0/24`;
    // A wider route over 172.a counts as taken too (docker's 172.17.0.0/16, say).
    if (taken.some(([x, y]) => x === a && (y === b || y === 0)) || out.includes(cidr)) continue;
    out.push(cidr);
  }
  return out;
}

async function runPod(cri: CriClient): Promise<{ id: string; ip: string }> {
  const { pod_sandbox_id: id } = await cri.runtime.RunPodSandbox!({ config: podConfig() });
  const ip = (await cri.runtime.PodSandboxStatus!({ pod_sandbox_id: id })).status.network.ip as string;
  return { id, ip };
}

async function verboseConfig(cri: CriClient): Promise<{ podCidr: string; podNetwork: string; defaultNetwork: string }> {
  return JSON.parse((await cri.runtime.Status!({ verbose: true })).info.config);
}

const bridgeOf = async (network: string) =>
  (await d.client.networks()).find((n: { name: string }) => n.name === network) as
    | { name: string; bridge: string; subnet: string }
    | undefined;

test("UpdateRuntimeConfig: the pod CIDR reaches later pods' CNI config, running pods keep theirs, and it survives a restart", {
  skip,
}, async () => {
  const [cidr1, cidr2] = freeSlash24s(2) as [string, string];
  let cri = new CriClient(criSocket);
  try {
    const before = await runPod(cri);
    const defaultNet = await bridgeOf('berth');
    assert.ok(defaultNet && inCidr(before.ip, defaultNet.subnet), `${before.ip} in ${defaultNet?.subnet}`);
    assert.equal((await verboseConfig(cri)).podCidr, '');

    // Malformed: InvalidArgument naming the field; IPv6 (berth's bridges are IPv4): Unimplemented.
    for (const bad of ['banana', '10.1.2.0/33', '10.1.2.3/24', '10.1.2/24']) {
      const e = await criError(
        cri.runtime.UpdateRuntimeConfig!({ runtime_config: { network_config: { pod_cidr: bad } } }),
      );
      assert.equal(e.code, Status.InvalidArgument, `${bad}: ${e.details}`);
      assert.match(e.details, /runtime_config\.network_config\.pod_cidr/);
    }
    const v6 = await criError(
      cri.runtime.UpdateRuntimeConfig!({ runtime_config: { network_config: { pod_cidr: 'fd00:10::/64' } } }),
    );
    assert.equal(v6.code, Status.Unimplemented, v6.details);
    assert.match(v6.details, /runtime_config\.network_config\.pod_cidr: fd00:10::\/64 is an IPv6 prefix/);
    // Not a private range: refused before anything is made.
    const pub = await criError(
      cri.runtime.UpdateRuntimeConfig!({ runtime_config: { network_config: { pod_cidr: '203.0.113.0/24' } } }),
    );
    assert.equal(pub.code, Status.InvalidArgument, pub.details);
    assert.match(pub.details, /pod_cidr: 203\.0\.113\.0\/24: .*private range/);
    assert.equal(existsSync(join(root, 'pod-network.json')), false, 'nothing recorded for a refused CIDR');

    await cri.runtime.UpdateRuntimeConfig!({ runtime_config: { network_config: { pod_cidr: cidr1 } } });
    await cri.runtime.UpdateRuntimeConfig!({ runtime_config: { network_config: { pod_cidr: cidr1 } } }); // again: the same
    await cri.runtime.UpdateRuntimeConfig!({ runtime_config: { network_config: { pod_cidr: '' } } }); // "none": unchanged
    const info = await verboseConfig(cri);
    assert.equal(info.podCidr, cidr1);
    assert.deepEqual(JSON.parse(readFileSync(join(root, 'pod-network.json'), 'utf8')), {
      podCidr: cidr1,
      network: info.podNetwork,
    });
    const net1 = await bridgeOf(info.podNetwork);
    assert.equal(net1?.subnet, cidr1, 'a CNI network with the pod CIDR as its host-local range');
    const conflist = JSON.parse(readFileSync(join(root, 'network/networks', `${info.podNetwork}.conflist`), 'utf8'));
    assert.equal(conflist.plugins[0].ipam.type, 'host-local');
    assert.equal(conflist.plugins[0].ipam.ranges[0][0].subnet, cidr1);

    const p1 = await runPod(cri);
    assert.ok(inCidr(p1.ip, cidr1), `new pod ${p1.ip} in ${cidr1}`);
    assert.equal(
      (await cri.runtime.PodSandboxStatus!({ pod_sandbox_id: before.id })).status.network.ip,
      before.ip,
      'the running pod keeps its address',
    );
    // Reachable: the pod answers a ping through its own bridge.
    const c = (
      await cri.runtime.CreateContainer!({
        pod_sandbox_id: p1.id,
        config: container('ip', ['exec sleep 300']),
        sandbox_config: podConfig(),
      })
    ).container_id;
    await cri.runtime.StartContainer!({ container_id: c });
    const addr = await cri.runtime.ExecSync!({ container_id: c, cmd: ['ip', '-4', '-o', 'addr', 'show', 'eth0'] });
    assert.match(addr.stdout.toString(), new RegExp(`inet ${p1.ip.replaceAll('.', '\\.')}/24`));
    const gateway = cidr1.replace(/0\/24$/, '1');
    const ping = await cri.runtime.ExecSync!({ container_id: c, cmd: ['ping', '-c', '1', '-W', '5', gateway] });
    assert.equal(
      ping.exit_code,
      0,
      `the pod reaches its gateway ${gateway} on the pod network's bridge: ${ping.stdout}${ping.stderr}`,
    );

    // A restart of berthd: the recorded CIDR still decides.
    cri.close();
    await d.stop();
    d = await startBerthd(root, runRoot, [], cfg);
    cri = new CriClient(criSocket, 'v1alpha2');
    assert.equal((await verboseConfig(cri)).podCidr, cidr1, 'the pod CIDR after a restart');
    const p2 = await runPod(cri);
    assert.ok(inCidr(p2.ip, cidr1), `${p2.ip} in ${cidr1} after the restart`);

    // A new CIDR: later pods use it; the old network stays while its pods do, and goes with the last.
    await cri.runtime.UpdateRuntimeConfig!({ runtime_config: { network_config: { pod_cidr: cidr2 } } });
    const info2 = await verboseConfig(cri);
    assert.equal(info2.podCidr, cidr2);
    const p3 = await runPod(cri);
    assert.ok(inCidr(p3.ip, cidr2), `${p3.ip} in ${cidr2}`);
    assert.ok(await bridgeOf(info.podNetwork), 'the old pod network stays while pods are on it');
    await cri.runtime.StopPodSandbox!({ pod_sandbox_id: p1.id });
    await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: p1.id });
    assert.ok(await bridgeOf(info.podNetwork), 'one pod still on it');
    await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: p2.id });
    assert.equal(await bridgeOf(info.podNetwork), undefined, 'removed with its last pod');
    assert.equal(
      spawnSync('ip', ['link', 'show', net1!.bridge], { encoding: 'utf8' }).status,
      1,
      'and its bridge with it',
    );

    // Back to the default network's own subnet: selects it.
    await cri.runtime.UpdateRuntimeConfig!({ runtime_config: { network_config: { pod_cidr: defaultNet.subnet } } });
    assert.equal((await verboseConfig(cri)).podNetwork, 'berth');
    assert.ok(await bridgeOf(info2.podNetwork), 'the replaced network stays while its pod does');
    for (const p of [before, p3]) await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: p.id });
    assert.equal(await bridgeOf(info2.podNetwork), undefined, 'removed with its last pod');
    assert.ok(await bridgeOf('berth'), 'the default network is never removed');
  } finally {
    cri.close();
  }
});
