// A berthd killed (SIGKILL at a fault point, src/engine/fault-points.ts) in the middle of a
// RunPodSandbox, as root with CNI: the next berthd lists the pod NOTREADY (or READY when it was
// killed after recording that), holds nothing of a not-ready pod (no netns, no attachment, no pause
// process), and RemovePodSandbox then leaves nothing at all; the kubelet can run the pod again.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NetworkManager } from '../../src/network/network-manager.ts';
import { CriClient, criError, removeAllPods } from '../lib/cri-client.ts';
import { type Daemon, finish, REPO, startBerthd, tempRoots, until } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
const BRIDGE = `bcf${process.pid % 100000}`;
const cfg = { defaultRuntime: RUNTIME, network: { defaultNetwork: { name: 'berth', bridge: BRIDGE } } };
const criSocket = join(runRoot, 'cri.sock');
let d: Daemon | undefined;

before(() => {
  if (process.getuid?.() !== 0) throw new Error('CRI integration tests need root');
  if (!existsSync('/usr/lib/cni/bridge'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  if (!existsSync(join(REPO, 'native/build/berth-pause')))
    throw new Error('native/build/berth-pause is missing: run scripts/build.sh');
});

after(async () => {
  // Each test stops its berthd; a fresh one removes whatever a failed test left, then finish checks.
  d = await startBerthd(root, runRoot, [], cfg).catch(() => undefined);
  await finish(d, root, runRoot, {
    network: true,
    beforeStop: () => removeAllPods(criSocket),
  });
});

/** Processes in the pod's cgroup (the pause process sits under /berth-pods/<id>). */
function podProcesses(podId: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(podId)) out.push(Number(p));
    } catch {}
  }
  return out;
}

let seq = 0;
for (const point of [
  'pod.recorded',
  'pod.netns-created',
  'pod.network-attached',
  'pod.pause-started',
  'pod.ready',
] as const) {
  test(`berthd killed at ${point} during RunPodSandbox: recovered without leftovers, removable, runnable again`, async () => {
    seq++;
    const config = {
      metadata: { name: `fault${seq}`, namespace: 'default', uid: `uid-${process.pid}-${seq}`, attempt: 0 },
      hostname: `fault${seq}`,
    };
    d = await startBerthd(root, runRoot, [], cfg, { BERTH_FAULT_POINT: point });
    let cri = new CriClient(criSocket);
    const failed = await criError(cri.runtime.RunPodSandbox!({ config }));
    assert.ok(failed.code !== 0, `the call failed with berthd (${failed.details})`);
    cri.close();
    await d.exited;
    d = await startBerthd(root, runRoot, [], cfg);
    cri = new CriClient(criSocket);
    try {
      const pods = (await cri.runtime.ListPodSandbox!({})).items as {
        id: string;
        state: string;
        metadata: { name: string };
      }[];
      const mine = pods.filter((p) => p.metadata.name === config.metadata.name);
      assert.equal(mine.length, 1, `the pod row written first is there: ${JSON.stringify(pods)}`);
      const pod = mine[0]!;
      const ready = point === 'pod.ready';
      assert.equal(pod.state, ready ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY');
      const netns = existsSync(join(runRoot, 'netns')) ? readdirSync(join(runRoot, 'netns')) : [];
      const m = await NetworkManager.open({ root: join(root, 'network'), runDir: runRoot, defaultNetwork: false });
      const attached = (await m.listAttachments()).map((a) => a.containerId);
      if (ready) {
        assert.ok(netns.includes(pod.id) && attached.includes(pod.id), 'a ready pod keeps its network');
      } else {
        assert.deepEqual(
          [netns.includes(pod.id), attached.includes(pod.id)],
          [false, false],
          'a not-ready pod holds no netns and no attachment',
        );
        await until('no process of the pod left', () => podProcesses(pod.id).length === 0);
      }
      await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: pod.id });
      assert.deepEqual(
        (await m.listAttachments()).map((a) => a.containerId).filter((c) => c === pod.id),
        [],
      );
      assert.ok(!existsSync(join(runRoot, 'netns', pod.id)));
      // The kubelet's next attempt with the same metadata works.
      const again = await cri.runtime.RunPodSandbox!({ config });
      assert.equal(
        (await cri.runtime.PodSandboxStatus!({ pod_sandbox_id: again.pod_sandbox_id })).status.state,
        'SANDBOX_READY',
      );
      await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: again.pod_sandbox_id });
    } finally {
      cri.close();
      await d.stop();
    }
  });
}
