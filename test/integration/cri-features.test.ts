// berthd's CRI, as root, through the project's gRPC client: the features a runtime handler or the
// runtime advertises in Status, which critest runs only where they are advertised (containerd 1.6
// advertises none): supplemental groups policy (Merge, Strict, ContainerStatus.user), recursive
// read-only mounts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { CriClient, criError, criPrerequisites, removeAllPods, Status } from '../lib/cri-client.ts';
import { tarOf } from '../lib/test-images.ts';
import { type Daemon, finish, REPO, startBerthd, tempRoots, until } from './engine-harness.ts';
import { join } from 'node:path';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
const BRIDGE = `btf${process.pid % 100000}`;
// A runtime class whose `features` lists no rro (runc underneath): what a runtime without it gets.
const toolDir = mkdtempSync('/tmp/berth-nrro-');
const NO_RRO = join(toolDir, 'runc-without-rro');
const cfg = {
  defaultRuntime: RUNTIME,
  network: { defaultNetwork: { name: 'berth', bridge: BRIDGE } },
  runtimes: { 'no-rro': NO_RRO },
};
const criSocket = join(runRoot, 'cri.sock');
let d: Daemon;

/** critest's test-image-predefined-group: default-user (1000:1000) is a member of group 50000 in the image. */
const GROUPS_IMAGE = 'groups:latest';
const APPLETS = ['sh', 'id', 'sleep', 'cat', 'echo', 'touch', 'grep', 'mount', 'mkdir', 'true'];

async function groupsRootfs(): Promise<Buffer> {
  return tarOf([
    { name: 'bin/' },
    { name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    ...APPLETS.map((a) => ({ name: `bin/${a}`, linkname: 'busybox' })),
    { name: 'etc/' },
    {
      name: 'etc/passwd',
      data: Buffer.from(
        'root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000::/home/default-user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
      ),
    },
    {
      name: 'etc/group',
      data: Buffer.from(
        'root:x:0:\nwheel:x:10:root\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\nnogroup:x:65534:\n',
      ),
    },
    { name: 'tmp/', mode: 0o1777 },
    { name: 'root/' },
    { name: 'home/' },
    { name: 'home/default-user/' },
  ]);
}

before(async () => {
  criPrerequisites(REPO);
  chmodSync(toolDir, 0o755);
  writeFileSync(NO_RRO, '#!/bin/sh\n[ "$1" = features ] && { echo "{}"; exit 0; }\nexec runc "$@"\n', { mode: 0o755 });
  d = await startBerthd(root, runRoot, [], cfg);
  await d.client.importRootfs(Readable.from([await groupsRootfs()]), GROUPS_IMAGE);
});

after(async () => {
  try {
    await finish(d, root, runRoot, { network: true, beforeStop: () => removeAllPods(criSocket) });
  } finally {
    rmSync(toolDir, { recursive: true, force: true });
  }
});

let podSeq = 0;
function podConfig(extra: Record<string, unknown> = {}) {
  podSeq++;
  return {
    metadata: { name: `feat${podSeq}`, namespace: 'default', uid: `uid-feat-${process.pid}-${podSeq}`, attempt: 0 },
    hostname: `feat${podSeq}`,
    linux: { security_context: { namespace_options: { pid: 'CONTAINER' } } },
    ...extra,
  };
}

/** A running container of `image` in a new pod; its first process writes `id -G` to /tmp/first-groups. */
async function runContainer(
  cri: CriClient,
  security: Record<string, unknown>,
  image = GROUPS_IMAGE,
): Promise<{ pod: string; id: string }> {
  const config = podConfig();
  const pod = (await cri.runtime.RunPodSandbox!({ config })).pod_sandbox_id;
  const { container_id: id } = await cri.runtime.CreateContainer!({
    pod_sandbox_id: pod,
    config: {
      metadata: { name: 'c', attempt: 0 },
      image: { image },
      command: ['sh', '-c', 'id -G > /tmp/first-groups; exec sleep 1000'],
      linux: { security_context: security },
    },
    sandbox_config: config,
  });
  await cri.runtime.StartContainer!({ container_id: id });
  return { pod, id };
}

async function execOut(cri: CriClient, id: string, cmd: string[]): Promise<string> {
  const r = await cri.runtime.ExecSync!({ container_id: id, cmd, timeout: 60 });
  assert.equal(r.exit_code, 0, `${cmd.join(' ')}: ${Buffer.from(r.stderr).toString()}`);
  return Buffer.from(r.stdout).toString();
}

/** What the container's first process wrote to /tmp/first-groups (`id -G`), once it has. */
async function firstGroups(cri: CriClient, id: string): Promise<string> {
  let out = '';
  await until(
    'the first process wrote its groups',
    async () => {
      const r = await cri.runtime.ExecSync!({ container_id: id, cmd: ['cat', '/tmp/first-groups'], timeout: 60 });
      out = r.exit_code === 0 ? Buffer.from(r.stdout).toString() : '';
      return out.endsWith('\n');
    },
    60_000,
  );
  return out;
}

async function removePod(cri: CriClient, pod: string): Promise<void> {
  await cri.runtime.StopPodSandbox!({ pod_sandbox_id: pod });
  await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: pod });
}

test('v1: Status advertises the supplemental groups policy', async () => {
  const cri = new CriClient(criSocket, 'v1');
  try {
    const s = await cri.runtime.Status!({});
    assert.equal(s.features?.supplemental_groups_policy, true);
  } finally {
    cri.close();
  }
});

for (const version of ['v1', 'v1alpha2'] as const) {
  test(`${version}: supplemental groups policy Merge (the default) adds the image's groups of the user; ContainerStatus.user reports them`, async () => {
    const cri = new CriClient(criSocket, version);
    try {
      const { pod, id } = await runContainer(cri, {
        run_as_user: { value: 1000 },
        supplemental_groups: [1234],
        ...(version === 'v1' ? { supplemental_groups_policy: 'Merge' } : {}),
      });
      // The kernel sorts the groups: the primary gid (from /etc/passwd), the requested one, the image's.
      assert.equal(await firstGroups(cri, id), '1000 1234 50000\n');
      assert.equal(await execOut(cri, id, ['id', '-G']), '1000 1234 50000\n', 'an exec gets the same groups');
      assert.equal(await execOut(cri, id, ['id', '-g']), '1000\n');
      const st = (await cri.runtime.ContainerStatus!({ container_id: id })).status;
      assert.equal(st.state, 'CONTAINER_RUNNING');
      const u = st.user.linux;
      assert.deepEqual(
        [Number(u.uid), Number(u.gid), u.supplemental_groups.map(Number).sort((a: number, b: number) => a - b)],
        [1000, 1000, [1000, 1234, 50000]],
      );
      await removePod(cri, pod);
    } finally {
      cri.close();
    }
  });
}

test('v1: supplemental groups policy Strict leaves out the image groups', async () => {
  const cri = new CriClient(criSocket, 'v1');
  try {
    const { pod, id } = await runContainer(cri, {
      run_as_user: { value: 1000 },
      supplemental_groups: [1234],
      supplemental_groups_policy: 'Strict',
    });
    assert.equal(await firstGroups(cri, id), '1000 1234\n');
    assert.equal(await execOut(cri, id, ['id', '-G']), '1000 1234\n');
    const u = (await cri.runtime.ContainerStatus!({ container_id: id })).status.user.linux;
    assert.deepEqual(
      [Number(u.uid), Number(u.gid), u.supplemental_groups.map(Number).sort((a: number, b: number) => a - b)],
      [1000, 1000, [1000, 1234]],
    );
    // root's groups under Merge come from the image too (wheel lists root), as containerd and docker give them.
    const root = await runContainer(cri, {});
    assert.equal(await execOut(cri, root.id, ['id', '-G']), '0 10\n');
    await removePod(cri, root.pod);
    await removePod(cri, pod);
  } finally {
    cri.close();
  }
});

test('v1: recursive read-only mounts: advertised for berth-runtime (and the default handler ""), not for a runtime whose features lack rro; an rro bind is read-only in the mounts under it; refused without readonly, with propagation, or on a runtime without rro', async () => {
  const cri = new CriClient(criSocket, 'v1');
  const host = mkdtempSync('/tmp/berth-rro-');
  const sub = join(host, 'tmpfs');
  mkdirSync(sub);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', sub], { encoding: 'utf8' });
  assert.equal(m.status, 0, `mount a tmpfs on ${sub}: ${m.stderr}`);
  try {
    const handlers = Object.fromEntries(
      (await cri.runtime.Status!({})).runtime_handlers.map((h: { name: string; features: Record<string, boolean> }) => [
        h.name,
        h.features,
      ]),
    );
    assert.equal(handlers[RUNTIME]?.recursive_read_only_mounts, true);
    assert.equal(handlers['']?.recursive_read_only_mounts, true, 'the default handler, under ""');
    assert.equal(handlers['no-rro']?.recursive_read_only_mounts, false, 'a runtime whose features lack rro');

    const config = podConfig();
    const pod = (await cri.runtime.RunPodSandbox!({ config })).pod_sandbox_id;
    const create = (mount: Record<string, unknown>, name: string) =>
      cri.runtime.CreateContainer!({
        pod_sandbox_id: pod,
        config: {
          metadata: { name, attempt: 0 },
          image: { image: GROUPS_IMAGE },
          command: ['sleep', '1000'],
          mounts: [{ host_path: host, container_path: '/mnt', readonly: true, recursive_read_only: true, ...mount }],
        },
        sandbox_config: config,
      });
    const { container_id: id } = await create({}, 'rro');
    await cri.runtime.StartContainer!({ container_id: id });
    const touch = await cri.runtime.ExecSync!({ container_id: id, cmd: ['touch', '/mnt/tmpfs/f'], timeout: 60 });
    assert.notEqual(touch.exit_code, 0);
    assert.match(Buffer.from(touch.stderr).toString(), /Read-only file system/);
    const st = (await cri.runtime.ContainerStatus!({ container_id: id })).status;
    assert.deepEqual(
      st.mounts.map((x: Record<string, unknown>) => [x.container_path, x.readonly, x.recursive_read_only]),
      [['/mnt', true, true]],
    );
    let e = await criError(create({ readonly: false }, 'rw'));
    assert.equal(e.code, Status.InvalidArgument);
    assert.match(e.details, /config\.mounts\[0\]\.recursive_read_only: needs readonly true/);
    e = await criError(create({ propagation: 'PROPAGATION_HOST_TO_CONTAINER' }, 'slave'));
    assert.equal(e.code, Status.InvalidArgument);
    assert.match(e.details, /recursive_read_only: needs propagation PROPAGATION_PRIVATE/);
    await removePod(cri, pod);

    {
      const rconfig = podConfig();
      const rpod = (await cri.runtime.RunPodSandbox!({ config: rconfig, runtime_handler: 'no-rro' })).pod_sandbox_id;
      const r = await criError(
        cri.runtime.CreateContainer!({
          pod_sandbox_id: rpod,
          config: {
            metadata: { name: 'rro', attempt: 0 },
            image: { image: GROUPS_IMAGE },
            command: ['sleep', '1000'],
            mounts: [{ host_path: host, container_path: '/mnt', readonly: true, recursive_read_only: true }],
          },
          sandbox_config: rconfig,
        }),
      );
      assert.equal(r.code, Status.FailedPrecondition);
      assert.match(r.details, /runtime handler "no-rro" does not support recursive read-only mounts/);
      await removePod(cri, rpod);
    }
  } finally {
    cri.close();
    spawnSync('umount', ['-l', sub]);
    rmSync(host, { recursive: true, force: true });
  }
});

test('v1: user namespaces: advertised for berth-runtime; mode POD gives the pod a user namespace of its own with the kubelet mappings, which every container joins; NODE is the host one; bad mappings and modes are refused naming the field', async () => {
  const cri = new CriClient(criSocket, 'v1');
  const field = 'config.linux.security_context.namespace_options.userns_options';
  // A range of its own per test process, so that runs side by side never share ids.
  const hostId = 1_000_000 + (process.pid % 1000) * 65536;
  const mapping = [{ container_id: 0, host_id: hostId, length: 65536 }];
  const userns = (u: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    podConfig({
      linux: { security_context: { namespace_options: { pid: 'CONTAINER', userns_options: u, ...extra } } },
    });
  try {
    const handlers = Object.fromEntries(
      (await cri.runtime.Status!({})).runtime_handlers.map((h: { name: string; features: Record<string, boolean> }) => [
        h.name,
        h.features,
      ]),
    );
    assert.equal(handlers[RUNTIME]?.user_namespaces, true);
    assert.equal(handlers['']?.user_namespaces, true);
    assert.equal(handlers['no-rro']?.user_namespaces, false, 'a runtime that is not berth-runtime');

    const refused = async (config: object, code: number, re: RegExp, runtime_handler?: string) => {
      const e = await criError(cri.runtime.RunPodSandbox!({ config, ...(runtime_handler ? { runtime_handler } : {}) }));
      assert.equal(e.code, code, e.details);
      assert.match(e.details, re);
    };
    const two = [...mapping, { container_id: 0, host_id: hostId + 65536, length: 65536 }];
    await refused(
      userns({ mode: 'POD', uids: two, gids: two }),
      Status.InvalidArgument,
      /userns\.uidMappings: 2 mappings \(expected exactly one range\)/,
    );
    const from1 = [{ container_id: 1, host_id: hostId, length: 65536 }];
    await refused(
      userns({ mode: 'POD', uids: from1, gids: from1 }),
      Status.InvalidArgument,
      /containerID: 1 \(expected 0: the pod's root must be mapped\)/,
    );
    await refused(
      userns({ mode: 'CONTAINER' }),
      Status.InvalidArgument,
      new RegExp(`${field}\\.mode: CONTAINER is not supported`),
    );
    await refused(userns({ mode: 'TARGET' }), Status.InvalidArgument, /mode: TARGET is not supported/);
    await refused(
      userns({ mode: 'NODE', uids: mapping, gids: mapping }),
      Status.InvalidArgument,
      /mode NODE takes no uids or gids/,
    );
    await refused(
      userns({ mode: 'POD', uids: mapping, gids: mapping }, { network: 'NODE' }),
      Status.InvalidArgument,
      /cannot use the host's network namespace/,
    );
    await refused(
      userns({ mode: 'POD', uids: mapping, gids: mapping }),
      Status.FailedPrecondition,
      /runtime handler no-rro cannot join a pod's user namespace/,
      'no-rro',
    );
    assert.deepEqual((await cri.runtime.ListPodSandbox!({})).items, [], 'no refused pod is left');

    // NODE: the host's user namespace.
    const node = await runContainer(cri, {}, GROUPS_IMAGE);
    assert.match(await execOut(cri, node.id, ['cat', '/proc/self/uid_map']), /^\s+0\s+0\s+4294967295\n$/);
    await removePod(cri, node.pod);

    // POD: the pause process makes the user namespace; two containers join it.
    const config = userns({ mode: 'POD', uids: mapping, gids: mapping });
    const pod = (await cri.runtime.RunPodSandbox!({ config })).pod_sandbox_id;
    const ps = await cri.runtime.PodSandboxStatus!({ pod_sandbox_id: pod, verbose: true });
    const ur = ps.status.linux.namespaces.options.userns_options;
    assert.equal(ur.mode, 'POD');
    assert.deepEqual(
      ur.uids.map((m: Record<string, unknown>) => Number(m.host_id)),
      [hostId],
    );
    const pausePid = JSON.parse(ps.info.info).pid as number;
    const ids: string[] = [];
    for (const name of ['a', 'b']) {
      const { container_id } = await cri.runtime.CreateContainer!({
        pod_sandbox_id: pod,
        config: { metadata: { name, attempt: 0 }, image: { image: GROUPS_IMAGE }, command: ['sleep', '1000'] },
        sandbox_config: config,
      });
      await cri.runtime.StartContainer!({ container_id });
      ids.push(container_id);
    }
    const line = new RegExp(`^\\s+0\\s+${hostId}\\s+65536\\n$`);
    for (const id of ids) {
      assert.match(await execOut(cri, id, ['cat', '/proc/self/uid_map']), line);
      assert.match(await execOut(cri, id, ['cat', '/proc/self/gid_map']), line);
      assert.equal(await execOut(cri, id, ['id', '-u']), '0\n');
      // The image is the host's (not idmapped): root of the pod reads and runs it, and writes where
      // the image lets anyone (/tmp is 1777), but the image's root-owned directories are not its own.
      assert.equal(await execOut(cri, id, ['sh', '-c', 'touch /tmp/ok && echo ok']), 'ok\n');
      const r = await cri.runtime.ExecSync!({ container_id: id, cmd: ['touch', '/root-owned'], timeout: 60 });
      assert.notEqual(r.exit_code, 0);
      const pid = JSON.parse((await cri.runtime.ContainerStatus!({ container_id: id, verbose: true })).info.info).pid;
      assert.equal(
        readlinkSync(`/proc/${pid}/ns/user`),
        readlinkSync(`/proc/${pausePid}/ns/user`),
        'the pod user namespace',
      );
      assert.notEqual(readlinkSync(`/proc/${pid}/ns/user`), readlinkSync('/proc/self/ns/user'));
      assert.match(
        readFileSync(`/proc/${pid}/status`, 'utf8'),
        new RegExp(`^Uid:\\s+${hostId}\\s`, 'm'),
        'root of the pod is the mapped host uid',
      );
    }
    await removePod(cri, pod);

    // A per-mount id mapping (an idmapped mount) is refused naming the field.
    const plain = podConfig();
    const p2 = (await cri.runtime.RunPodSandbox!({ config: plain })).pod_sandbox_id;
    const e = await criError(
      cri.runtime.CreateContainer!({
        pod_sandbox_id: p2,
        config: {
          metadata: { name: 'idm', attempt: 0 },
          image: { image: GROUPS_IMAGE },
          command: ['sleep', '1000'],
          mounts: [{ host_path: '/tmp', container_path: '/mnt', uidMappings: mapping, gidMappings: mapping }],
        },
        sandbox_config: plain,
      }),
    );
    assert.equal(e.code, Status.Unimplemented);
    assert.match(e.details, /config\.mounts\[0\]\.uidMappings, gidMappings: idmapped mounts are not supported/);
    await removePod(cri, p2);
  } finally {
    cri.close();
  }
});
