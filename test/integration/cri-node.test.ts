// berthd's CRI, the node's part of a container, as root through the project's gRPC client
// (test/lib/cri-client.ts), runtime.v1 and runtime.v1alpha2: the pod CIDR of UpdateRuntimeConfig
// reaching the CNI config of later pods (and surviving a restart of berthd), host devices and CDI
// devices with their device-cgroup permissions, hugepage limits where the host has them, and a
// container's own PID namespace options (CONTAINER, TARGET).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cgroupV1Dir } from '../lib/host.ts';
import { CriClient, shContainer, criError, criUnderTest, removeAllPods, Status } from '../lib/cri-client.ts';
import { type Daemon, finish, startBerthd, startCriBerthd, tempRoots } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
const BRIDGE = `btn${process.pid % 100000}`;
// CDI specs: the static directory first, the dynamic one second (it wins), both the test's own.
const cdiDirs = [join(root, 'cdi-static'), join(root, 'cdi-dynamic')];
const cfg = {
  defaultRuntime: RUNTIME,
  network: { defaultNetwork: { name: 'berth', bridge: BRIDGE } },
  cdiSpecDirs: cdiDirs,
};
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

/** A container of a fresh pod, started; its ExecSync as a function of a shell line (stdout, or the error). */
async function podWith(cri: CriClient, name: string, extra: Record<string, unknown>) {
  const config = podConfig();
  const { pod_sandbox_id: pod } = await cri.runtime.RunPodSandbox!({ config });
  const id = (
    await cri.runtime.CreateContainer!({
      pod_sandbox_id: pod,
      config: container(name, ['exec sleep 300'], extra),
      sandbox_config: config,
    })
  ).container_id;
  await cri.runtime.StartContainer!({ container_id: id });
  const sh = async (line: string) => {
    const r = await cri.runtime.ExecSync!({ container_id: id, cmd: ['sh', '-c', line] });
    return `${r.stdout.toString()}${r.stderr.toString()}`.trim();
  };
  return { pod, id, sh, config };
}

/** A loop device over a file of known bytes, or why there is none here (no loop module, no losetup). */
function loopDevice(dir: string): { dev: string; detach: () => void } | string {
  const file = join(dir, 'disk.img');
  writeFileSync(file, Buffer.concat([Buffer.from('BERTHDISK\n'), Buffer.alloc(64 * 1024 - 10)]));
  const r = spawnSync('losetup', ['--find', '--show', file], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim().startsWith('/dev/loop'))
    return `no loop device on this host (losetup: ${r.error?.message ?? r.stderr.trim()})`;
  const dev = r.stdout.trim();
  return { dev, detach: () => void spawnSync('losetup', ['-d', dev]) };
}

for (const version of ['v1', 'v1alpha2'] as const) {
  test(`${version}: devices: the host node in the container, allowed in the device cgroup only as asked; bad ones refused naming the field`, {
    skip,
  }, async (t) => {
    const cri = new CriClient(criSocket, version);
    const dir = mkdtempSync('/tmp/btdev-');
    const pods: string[] = [];
    let loop: ReturnType<typeof loopDevice> = 'not made';
    try {
      // A character device under another name: a copy of /dev/null's node.
      const node = join(dir, 'null-copy');
      assert.equal(spawnSync('mknod', [node, 'c', '1', '3']).status, 0, 'mknod');
      const c = await podWith(cri, 'dev', {
        devices: [{ host_path: node, container_path: '/dev/xnull', permissions: 'rwm' }],
      });
      pods.push(c.pod);
      assert.match(await c.sh('ls -l /dev/xnull'), /^c.* 1, +3 .*\/dev\/xnull$/);
      assert.equal(await c.sh('echo hi > /dev/xnull && echo written'), 'written');

      // A block device: read through it with r, refused by the device cgroup without.
      loop = loopDevice(dir);
      if (typeof loop === 'string') t.diagnostic(`block device part skipped: ${loop}`);
      else {
        const rw = await podWith(cri, 'disk', {
          devices: [{ host_path: loop.dev, container_path: '/dev/xdisk', permissions: 'mrw' }],
        });
        pods.push(rw.pod);
        assert.equal(await rw.sh('head -c 9 /dev/xdisk'), 'BERTHDISK');
        const wo = await podWith(cri, 'wonly', {
          devices: [{ host_path: loop.dev, container_path: '/dev/xdisk', permissions: 'w' }],
        });
        pods.push(wo.pod);
        assert.match(await wo.sh('head -c 9 /dev/xdisk 2>&1; echo " rc=$?"'), /Operation not permitted\s+rc=1$/);
        assert.match(await wo.sh('ls -l /dev/xdisk'), /^b/, 'the node is there; the cgroup refuses reading it');
      }

      const config = podConfig();
      const { pod_sandbox_id: pod } = await cri.runtime.RunPodSandbox!({ config });
      pods.push(pod);
      const refused = async (devices: object[], code: number, field: RegExp) => {
        const e = await criError(
          cri.runtime.CreateContainer!({
            pod_sandbox_id: pod,
            config: container('bad', ['true'], { devices }),
            sandbox_config: config,
          }),
        );
        assert.equal(e.code, code, e.details);
        assert.match(e.details, field);
      };
      await refused(
        [{ host_path: join(dir, 'none'), container_path: '/dev/x', permissions: 'rw' }],
        Status.InvalidArgument,
        /config\.devices\[0\]\.host_path: .*none does not exist/,
      );
      await refused(
        [{ host_path: join(dir, 'disk.img'), container_path: '/dev/x', permissions: 'rw' }],
        Status.InvalidArgument,
        /config\.devices\[0\]\.host_path: .* is not a character or block device/,
      );
      for (const bad of ['rx', 'rr', 'rwmw'])
        await refused(
          [{ host_path: node, container_path: '/dev/x', permissions: bad }],
          Status.InvalidArgument,
          /config\.devices\[0\]\.permissions/,
        );
      await refused(
        [{ host_path: '', container_path: '/dev/x' }],
        Status.InvalidArgument,
        /config\.devices\[0\]\.host_path/,
      );
      assert.deepEqual(
        (await cri.runtime.ListContainers!({ filter: { pod_sandbox_id: pod } })).containers,
        [],
        'nothing made for a refused create',
      );
    } finally {
      for (const p of pods) await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: p }).catch(() => {});
      if (typeof loop !== 'string') loop.detach();
      cri.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('CDI devices: resolved from JSON and YAML specs in the configured directories (the later one wins), their nodes, env and mounts applied; unknown ones refused', {
  skip,
}, async () => {
  const cri = new CriClient(criSocket);
  const pods: string[] = [];
  try {
    for (const d of cdiDirs) mkdirSync(d, { recursive: true });
    const node = join(root, 'cdi-null');
    if (!existsSync(node)) assert.equal(spawnSync('mknod', [node, 'c', '1', '3']).status, 0, 'mknod');
    writeFileSync(join(root, 'cdi-file'), 'from the CDI mount\n');
    // The static directory: JSON, one device also in the dynamic directory (which wins).
    writeFileSync(
      join(cdiDirs[0]!, 'berth-test.json'),
      JSON.stringify({
        cdiVersion: '0.6.0',
        kind: 'berth.test/dev',
        containerEdits: { env: ['CDI_KIND=berth.test/dev'] },
        devices: [
          {
            name: 'null',
            containerEdits: {
              env: ['CDI_WHO=static'],
              deviceNodes: [{ path: '/dev/cdi-null', hostPath: node, permissions: 'rw' }],
              mounts: [
                { hostPath: join(root, 'cdi-file'), containerPath: '/etc/cdi-file', options: ['ro', 'nosuid', 'bind'] },
              ],
            },
          },
          { name: 'shadowed', containerEdits: { env: ['CDI_SHADOW=static'] } },
        ],
      }),
    );
    writeFileSync(
      join(cdiDirs[1]!, 'berth-test.yaml'),
      [
        'cdiVersion: "0.6.0"',
        'kind: berth.test/other',
        'devices:',
        '  - name: shadowed',
        '    containerEdits:',
        '      env: ["CDI_SHADOW=dynamic"]',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(cdiDirs[1]!, 'berth-test2.yaml'),
      [
        'cdiVersion: "0.6.0"',
        'kind: berth.test/dev',
        'devices:',
        '  - name: shadowed',
        '    containerEdits:',
        '      env: ["CDI_SHADOW=dynamic"]',
        '      deviceNodes:',
        `        - {path: /dev/cdi-zero, hostPath: /dev/zero}`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(cdiDirs[1]!, 'broken.json'), '{not json');

    const c = await podWith(cri, 'cdi', {
      CDI_devices: [{ name: 'berth.test/dev=null' }, { name: 'berth.test/dev=shadowed' }],
    });
    pods.push(c.pod);
    assert.equal(await c.sh('echo $CDI_KIND $CDI_WHO $CDI_SHADOW'), 'berth.test/dev static dynamic');
    assert.match(await c.sh('ls -l /dev/cdi-null'), /^c.* 1, +3 /);
    assert.match(await c.sh('ls -l /dev/cdi-zero'), /^c.* 1, +5 /);
    assert.equal(await c.sh('echo x > /dev/cdi-null && head -c 3 /dev/cdi-zero | wc -c'), '3');
    assert.equal(await c.sh('cat /etc/cdi-file'), 'from the CDI mount');
    assert.match(await c.sh('echo y > /etc/cdi-file'), /Read-only file system/);

    const config = podConfig();
    const { pod_sandbox_id: pod } = await cri.runtime.RunPodSandbox!({ config });
    pods.push(pod);
    const refused = async (name: string, field: RegExp) => {
      const e = await criError(
        cri.runtime.CreateContainer!({
          pod_sandbox_id: pod,
          config: container('bad', ['true'], { CDI_devices: [{ name }] }),
          sandbox_config: config,
        }),
      );
      assert.equal(e.code, Status.InvalidArgument, e.details);
      assert.match(e.details, field);
    };
    await refused(
      'berth.test/dev=nope',
      /CDI device berth\.test\/dev=nope: no such device .*kind berth\.test\/dev has null, shadowed.*broken\.json/,
    );
    await refused('vendor.example/none=x', /no spec of kind vendor\.example\/none/);
    await refused('no-kind', /config\.CDI_devices\[0\]\.name: "no-kind" \(expected a fully-qualified CDI device name/);
  } finally {
    for (const p of pods) await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: p }).catch(() => {});
    cri.close();
  }
});

/** Where this host's hugetlb controller is for berth (a v1 hierarchy, or the cgroup2 root on a v2-only host), or why none. */
function hugetlbDir(): { dir: string; v2: boolean } | string {
  const v1 = cgroupV1Dir('hugetlb');
  if (v1) return { dir: v1, v2: false };
  if (cgroupV1Dir('memory')) return 'the hugetlb controller is not mounted as a cgroup v1 hierarchy';
  const controllers = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8')
    : '';
  return controllers.split(/\s+/).includes('hugetlb')
    ? { dir: '/sys/fs/cgroup', v2: true }
    : 'no hugetlb controller in cgroup2';
}

for (const version of ['v1', 'v1alpha2'] as const) {
  test(`${version}: hugepage_limits: zeros dropped; a limit honoured where the host has hugetlb and the page size, else refused naming the field and why`, {
    skip,
  }, async () => {
    const cri = new CriClient(criSocket, version);
    const pods: string[] = [];
    try {
      const zero = await podWith(cri, 'hp0', {
        linux: {
          resources: {
            hugepage_limits: [
              { page_size: '2MB', limit: 0 },
              { page_size: '1GB', limit: 0 },
            ],
          },
        },
      });
      pods.push(zero.pod);
      const spec = JSON.parse(
        (await cri.runtime.ContainerStatus!({ container_id: zero.id, verbose: true })).info.info,
      ).spec;
      assert.equal(spec.linux.resources.hugepageLimits, undefined, 'limits of 0 mean nothing');

      const config = podConfig();
      const { pod_sandbox_id: pod } = await cri.runtime.RunPodSandbox!({ config });
      pods.push(pod);
      const create = (limits: object[]) =>
        cri.runtime.CreateContainer!({
          pod_sandbox_id: pod,
          config: container('hp', ['exec sleep 300'], { linux: { resources: { hugepage_limits: limits } } }),
          sandbox_config: config,
        });
      const bad = await criError(create([{ page_size: '2XB', limit: 2097152 }]));
      assert.equal(bad.code, Status.InvalidArgument, bad.details);
      assert.match(bad.details, /config\.linux\.resources\.hugepage_limits\[0\]: page size "2XB"/);

      const limit = 4 * 2097152;
      const hugetlb = hugetlbDir();
      const has2MB = existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB');
      if (typeof hugetlb === 'string' || !has2MB) {
        const e = await criError(create([{ page_size: '2MB', limit }]));
        assert.equal(e.code, Status.Unimplemented, e.details);
        assert.match(
          e.details,
          typeof hugetlb === 'string' ? /hugepage_limits\[0\]: .*hugetlb/ : /hugepage_limits\[0\]: .*no 2MB huge pages/,
        );
        return;
      }
      const { container_id: id } = await create([{ page_size: '2MB', limit }]);
      await cri.runtime.StartContainer!({ container_id: id });
      const cgroupsPath = JSON.parse(
        (await cri.runtime.ContainerStatus!({ container_id: id, verbose: true })).info.info,
      ).spec.linux.cgroupsPath;
      const file = join(hugetlb.dir, cgroupsPath, hugetlb.v2 ? 'hugetlb.2MB.max' : 'hugetlb.2MB.limit_in_bytes');
      assert.equal(readFileSync(file, 'utf8').trim(), String(limit));
      // The kubelet repeats the limits in UpdateContainerResources: the same ones pass, another is refused.
      await cri.runtime.UpdateContainerResources!({
        container_id: id,
        linux: { hugepage_limits: [{ page_size: '2MB', limit }] },
      });
      const change = await criError(
        cri.runtime.UpdateContainerResources!({
          container_id: id,
          linux: { hugepage_limits: [{ page_size: '2MB', limit: 2 * limit }] },
        }),
      );
      assert.equal(change.code, Status.Unimplemented, change.details);
    } finally {
      for (const p of pods) await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: p }).catch(() => {});
      cri.close();
    }
  });
}

for (const version of ['v1', 'v1alpha2'] as const) {
  test(`${version}: a container's own namespace_options.pid: CONTAINER, POD and TARGET (another container's) in a pod of PID CONTAINER`, {
    skip,
  }, async () => {
    const cri = new CriClient(criSocket, version);
    const config = podConfig();
    const { pod_sandbox_id: pod } = await cri.runtime.RunPodSandbox!({ config });
    try {
      const make = async (name: string, args: string, pid?: object) => {
        const id = (
          await cri.runtime.CreateContainer!({
            pod_sandbox_id: pod,
            config: container(name, [args], pid ? { linux: { security_context: { namespace_options: pid } } } : {}),
            sandbox_config: config,
          })
        ).container_id;
        await cri.runtime.StartContainer!({ container_id: id });
        return async (line: string) =>
          (await cri.runtime.ExecSync!({ container_id: id, cmd: ['sh', '-c', line] })).stdout.toString().trim();
      };
      const target = await make('target', 'exec sleep 301', { pid: 'CONTAINER' });
      const targetId = (await cri.runtime.ListContainers!({ filter: { pod_sandbox_id: pod } })).containers[0].id;
      assert.equal(await target('cat /proc/1/cmdline | tr "\\0" " "'), 'sleep 301');
      const debug = await make('debug', 'exec sleep 302', { pid: 'TARGET', target_id: targetId });
      const seen = await debug('ps -o args');
      assert.match(seen, /sleep 301/, "the target's processes");
      assert.match(seen, /sleep 302/, 'and its own');
      assert.equal(await debug('cat /proc/1/cmdline | tr "\\0" " "'), 'sleep 301', "pid 1 is the target's init");
      const inPod = await make('inpod', 'exec sleep 303', { pid: 'POD' });
      assert.equal(
        await inPod('cat /proc/1/cmdline | tr "\\0" " "'),
        '/pause',
        "the pod's PID namespace: the pause process",
      );
      const own = await make('own', 'exec sleep 304', { pid: 'CONTAINER' });
      assert.doesNotMatch(await own('ps -o args'), /sleep 30[123]/, 'its own');

      const refused = async (pid: object, code: number, field: RegExp) => {
        const e = await criError(
          cri.runtime.CreateContainer!({
            pod_sandbox_id: pod,
            config: container('bad', ['true'], { linux: { security_context: { namespace_options: pid } } }),
            sandbox_config: config,
          }),
        );
        assert.equal(e.code, code, e.details);
        assert.match(e.details, field);
      };
      await refused(
        { pid: 'TARGET', target_id: 'nope' },
        Status.InvalidArgument,
        /namespace_options\.target_id: "nope"/,
      );
      await refused({ pid: 'TARGET' }, Status.InvalidArgument, /namespace_options\.target_id: required/);
    } finally {
      await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: pod }).catch(() => {});
      cri.close();
    }
  });
}
