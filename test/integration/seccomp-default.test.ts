// The seccomp profile berthd gives the containers it creates (issues 10 and 11): docker's default
// unless privileged or unconfined, with the capability-conditioned rules following the container's
// capabilities; a profile file through the berth CLI; and the CRI's RuntimeDefault, Unconfined,
// Localhost and deprecated path words. A real berthd under temp roots, the real berth CLI, the
// project's CRI client, the real kernel (Seccomp: in /proc/self/status, syscalls answered EPERM).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { CriClient, criError, removeAllPods, Status } from '../lib/cri-client.ts';
import { berthCli, busyboxRootfsTar, type Daemon, finish, REPO, startBerthd, tempRoots } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
const BRIDGE = `bsd${process.pid % 100000}`;
const cfg = { defaultRuntime: RUNTIME, network: { defaultNetwork: { name: 'berth', bridge: BRIDGE } } };
const criSocket = join(runRoot, 'cri.sock');
const profiles = mkdtempSync('/tmp/berth-seccomp-profiles-');
let d: Daemon;
const berth = (...args: string[]) => berthCli(d.socket, ...args);

// mkdir answered EACCES (13) by a custom profile: a syscall every container may otherwise make.
const DENY_MKDIR = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
};
/** What a busybox shell reports: the seccomp mode, then whether a user-namespace unshare and a mkdir worked. */
const PROBE =
  'grep "^Seccomp:" /proc/self/status | tr -d "\\t "; unshare -U true 2>&1 && echo unshare=ok; mkdir /probe-dir 2>&1 && echo mkdir=ok; true';

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root (mounts, namespaces, cgroups)');
  if (!existsSync('/usr/lib/cni/bridge'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  for (const p of [
    join(REPO, 'native/build/berth-shim'),
    join(REPO, 'native/build/berth-pause'),
    join(REPO, 'dist/bin/berth-runtime'),
  ])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  writeFileSync(join(profiles, 'deny-mkdir.json'), JSON.stringify(DENY_MKDIR));
  writeFileSync(join(profiles, 'broken.json'), '{"defaultAction": "SCMP_ACT_ALLOW", ');
  d = await startBerthd(root, runRoot, [], cfg);
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(async () => {
  await finish(d, root, runRoot, {
    network: true,
    beforeStop: () => removeAllPods(criSocket),
  });
  rmSync(profiles, { recursive: true, force: true });
});

async function probe(...flags: string[]): Promise<string> {
  const r = await berth('run', '--rm', '--network', 'none', ...flags, 'busybox', 'sh', '-c', PROBE);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test("berth run: docker's default profile unless unconfined or privileged; CAP_SYS_ADMIN unlocks unshare", async () => {
  const def = await probe();
  assert.match(def, /^Seccomp:2$/m, 'filtered by default');
  assert.match(def, /unshare: .*Operation not permitted/, 'unshare is refused by the default profile');
  assert.match(def, /^mkdir=ok$/m);
  const admin = await probe('--cap-add', 'SYS_ADMIN');
  assert.match(admin, /^Seccomp:2$/m);
  assert.match(admin, /^unshare=ok$/m, 'CAP_SYS_ADMIN unlocks unshare, as docker');
  const unconfined = await probe('--security-opt', 'seccomp=unconfined');
  assert.match(unconfined, /^Seccomp:0$/m);
  assert.match(unconfined, /^unshare=ok$/m, 'no filter: the user namespace is made');
  assert.match(await probe('--privileged'), /^Seccomp:0$/m, 'a privileged container gets no filter');
  const custom = await probe('--security-opt', `seccomp=${join(profiles, 'deny-mkdir.json')}`);
  assert.match(custom, /^Seccomp:2$/m);
  assert.match(custom, /mkdir: .*Permission denied/, "the file's profile: mkdir is EACCES");
  assert.match(custom, /^unshare=ok$/m, 'and nothing else is refused');
  // exec'd processes run under the container's filter too.
  assert.equal((await berth('run', '-d', '--name', 'sd-exec', '--network', 'none', 'busybox', 'sleep', '300')).code, 0);
  const ex = await berth('exec', 'sd-exec', 'grep', '^Seccomp:', '/proc/self/status');
  assert.match(ex.stdout, /^Seccomp:\s+2$/m, ex.stderr);
  assert.equal((await berth('rm', '-f', 'sd-exec')).code, 0);
  const bad = await berth(
    'run',
    '--rm',
    '--security-opt',
    `seccomp=${join(profiles, 'broken.json')}`,
    'busybox',
    'true',
  );
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /security\.seccomp\.json: invalid JSON/);
});

let podSeq = 0;
const podConfig = () => {
  podSeq++;
  return {
    metadata: { name: `sd${podSeq}`, namespace: 'default', uid: `sd-${process.pid}-${podSeq}`, attempt: 0 },
    hostname: `sd${podSeq}`,
    labels: {},
    annotations: {},
    // privileged, so that one of its containers may be (the CRI's rule)
    linux: { security_context: { privileged: true } },
  };
};
const container = (name: string, security_context: object) => ({
  metadata: { name, attempt: 0 },
  image: { image: 'busybox:latest' },
  command: ['sh', '-c'],
  args: ['exec sleep 300'],
  labels: {},
  annotations: {},
  linux: { security_context },
});

for (const version of ['v1', 'v1alpha2'] as const) {
  test(`${version} CRI: RuntimeDefault, Unconfined, Localhost and the deprecated seccomp_profile_path words`, async () => {
    const cri = new CriClient(criSocket, version);
    const rt = cri.runtime;
    const config = podConfig();
    const { pod_sandbox_id: pod } = await rt.RunPodSandbox!({ config });
    try {
      const run = async (name: string, sc: object) => {
        const id = (
          await rt.CreateContainer!({ pod_sandbox_id: pod, config: container(name, sc), sandbox_config: config })
        ).container_id;
        await rt.StartContainer!({ container_id: id });
        return (await rt.ExecSync!({ container_id: id, cmd: ['sh', '-c', PROBE] })).stdout.toString();
      };
      const localhost = join(profiles, 'deny-mkdir.json');
      const cases: Array<[string, object, RegExp[]]> = [
        [
          'runtime-default',
          { seccomp: { profile_type: 'RuntimeDefault' } },
          [/^Seccomp:2$/m, /unshare: .*Operation not permitted/],
        ],
        ['unconfined', { seccomp: { profile_type: 'Unconfined' } }, [/^Seccomp:0$/m, /^unshare=ok$/m]],
        ['unset', {}, [/^Seccomp:0$/m]],
        [
          'localhost',
          { seccomp: { profile_type: 'Localhost', localhost_ref: localhost } },
          [/^Seccomp:2$/m, /mkdir: .*Permission denied/, /^unshare=ok$/m],
        ],
        ['privileged', { privileged: true, seccomp: { profile_type: 'RuntimeDefault' } }, [/^Seccomp:0$/m]],
        ['path-runtime-default', { seccomp_profile_path: 'runtime/default' }, [/^Seccomp:2$/m]],
        ['path-docker-default', { seccomp_profile_path: 'docker/default' }, [/^Seccomp:2$/m]],
        ['path-unconfined', { seccomp_profile_path: 'unconfined' }, [/^Seccomp:0$/m]],
        ['path-localhost', { seccomp_profile_path: `localhost/${localhost}` }, [/mkdir: .*Permission denied/]],
      ];
      for (const [name, sc, want] of cases) {
        const out = await run(name, sc);
        for (const re of want) assert.match(out, re, `${name}: ${out}`);
      }
      const refused = async (sc: object, field: string, path: string) => {
        const e = await criError(
          rt.CreateContainer!({ pod_sandbox_id: pod, config: container('refused', sc), sandbox_config: config }),
        );
        assert.equal(e.code, Status.InvalidArgument, e.details);
        assert.ok(e.details.includes(field) && e.details.includes(path), e.details);
      };
      const missing = join(profiles, 'missing.json');
      await refused(
        { seccomp: { profile_type: 'Localhost', localhost_ref: missing } },
        'config.linux.security_context.seccomp.localhost_ref',
        missing,
      );
      await refused(
        { seccomp: { profile_type: 'Localhost', localhost_ref: join(profiles, 'broken.json') } },
        'config.linux.security_context.seccomp.localhost_ref',
        join(profiles, 'broken.json'),
      );
      await refused(
        { seccomp_profile_path: `localhost/${missing}` },
        'config.linux.security_context.seccomp_profile_path',
        missing,
      );
      await refused({ seccomp_profile_path: 'bogus' }, 'config.linux.security_context.seccomp_profile_path', 'bogus');
      const left = (await rt.ListContainers!({ filter: { pod_sandbox_id: pod } })).containers.map(
        (c: { metadata: { name: string } }) => c.metadata.name,
      );
      assert.ok(!left.includes('refused'), 'a refused container leaves nothing behind');
    } finally {
      await rt.StopPodSandbox!({ pod_sandbox_id: pod }).catch(() => {});
      await rt.RemovePodSandbox!({ pod_sandbox_id: pod }).catch(() => {});
      cri.close();
    }
  });
}
