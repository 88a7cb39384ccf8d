// A kubelet's life of a static pod, played by the project's gRPC client against berthd's CRI (a
// built kubelet cannot be committed): the calls, configs, labels and annotations a kubelet 1.20+
// sends, PLEG-style relisting and GetContainerEvents, a container killed from outside restarted
// as a kubelet does, its log files and their rotation, and a teardown that leaves nothing behind.
// Then berth as one engine for docker and Kubernetes: the pod's containers through the real berth
// CLI, and an image built with `berth build` running in a pod without being pushed anywhere.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { CriClient, removeAllPods } from '../lib/cri-client.ts';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { push } from '../../src/images/push.ts';
import { startRegistry, type TestRegistry } from '../lib/registry.ts';
import { buildImage, busyboxTar } from '../lib/test-images.ts';
import {
  berthCli,
  busyboxRootfsTar,
  type Daemon,
  fetchText,
  finish,
  NODE,
  REPO,
  startBerthd,
  tempRoots,
  until,
} from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
const BRIDGE = `bkl${process.pid % 100000}`;
// A subnet of its own: on the default one, another test file's pod at the same address answered this
// file's hostPort (the DNAT went to whichever bridge routed that address).
const SUBNET = `10.${230 + (process.pid % 10)}.${process.pid % 250}.0/24`;
const cfg = { defaultRuntime: RUNTIME, network: { defaultNetwork: { name: 'berth', bridge: BRIDGE, subnet: SUBNET } } };
const criSocket = join(runRoot, 'cri.sock');
let d: Daemon;
let reg: TestRegistry;
let imageRef: string;
const temps: string[] = [];

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('CRI integration tests need root');
  if (!existsSync('/usr/lib/cni/portmap'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  if (!existsSync(join(REPO, 'native/build/berth-pause')))
    throw new Error('native/build/berth-pause is missing: run scripts/build.sh');
  d = await startBerthd(root, runRoot, [], cfg);
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  // The kubelet pulls its images: a busybox image on a registry on loopback.
  reg = await startRegistry();
  imageRef = `${reg.host}/library/busybox:kubelet`;
  const src = mkdtempSync('/tmp/bkl-push-');
  temps.push(src);
  const content = new LocalContentStore(join(src, 'content'));
  const images = new ImageStore(src);
  const built = await buildImage(content, [await busyboxTar()], { cmd: ['sh'] });
  await images.put(imageRef, built.manifest);
  const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } } });
  await push(imageRef, { content, images, client });
  await client.close();
});

after(async () => {
  await reg?.stop();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
  await finish(d, root, runRoot, {
    network: true,
    beforeStop: () => removeAllPods(criSocket),
  });
});

// biome-ignore lint/suspicious/noExplicitAny: decoded CRI messages; their shapes are proto/cri-api.proto's
type Msg = Record<string, any>;

/** The kubelet's default masked and read-only paths (pkg/securitycontext, DefaultProcMount). */
const MASKED = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const READONLY = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const NS = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' };

type Pod = { name: string; namespace: string; uid: string; logDir: string; podDir: string; hostPort: number };

/** RunPodSandbox's config as kubelet's generatePodSandboxConfig makes it for a static pod. */
function sandboxConfig(p: Pod): Msg {
  return {
    metadata: { name: p.name, namespace: p.namespace, uid: p.uid, attempt: 0 },
    hostname: p.name,
    log_directory: p.logDir,
    dns_config: {
      servers: ['10.96.0.10'],
      searches: [`${p.namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'],
      options: ['ndots:5'],
    },
    port_mappings: [{ protocol: 'TCP', container_port: 8080, host_port: p.hostPort }],
    labels: {
      app: 'web',
      'io.kubernetes.pod.name': p.name,
      'io.kubernetes.pod.namespace': p.namespace,
      'io.kubernetes.pod.uid': p.uid,
    },
    annotations: {
      'kubernetes.io/config.source': 'file',
      'kubernetes.io/config.seen': new Date().toISOString(),
      'kubernetes.io/config.hash': p.uid,
    },
    linux: { cgroup_parent: '', security_context: { namespace_options: NS } },
  };
}

/** CreateContainer's config as kubelet's generateContainerConfig makes it (BestEffort QoS). */
function containerConfig(
  p: Pod,
  name: string,
  attempt: number,
  image: string,
  script: string,
  ports: object[] = [],
): Msg {
  // The kubelet's per-pod files: /etc/hosts and the termination-message file, bind-mounted.
  const hosts = join(p.podDir, 'etc-hosts');
  writeFileSync(hosts, `127.0.0.1\tlocalhost\n10.0.0.1\t${p.name}\n`);
  const termDir = join(p.podDir, 'containers', name);
  mkdirSync(termDir, { recursive: true });
  const term = join(termDir, `term-${attempt}`);
  writeFileSync(term, '');
  mkdirSync(join(p.logDir, name), { recursive: true });
  return {
    metadata: { name, attempt },
    image: { image },
    command: ['sh', '-c'],
    args: [script],
    envs: [{ key: 'POD_NAME', value: p.name }],
    mounts: [
      { container_path: '/etc/hosts', host_path: hosts },
      { container_path: '/dev/termination-log', host_path: term },
    ],
    labels: {
      'io.kubernetes.container.name': name,
      'io.kubernetes.pod.name': p.name,
      'io.kubernetes.pod.namespace': p.namespace,
      'io.kubernetes.pod.uid': p.uid,
    },
    annotations: {
      'io.kubernetes.container.hash': '3a1b2c4d',
      'io.kubernetes.container.restartCount': String(attempt),
      'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
      'io.kubernetes.container.terminationMessagePolicy': 'File',
      'io.kubernetes.pod.terminationGracePeriod': '30',
      ...(ports.length ? { 'io.kubernetes.container.ports': JSON.stringify(ports) } : {}),
    },
    log_path: `${name}/${attempt}.log`,
    linux: {
      resources: { cpu_shares: 2, oom_score_adj: 1000 },
      security_context: { namespace_options: NS, masked_paths: MASKED, readonly_paths: READONLY },
    },
  };
}

/** The kubelet's PLEG: relists and turns the difference from the last listing into pod events. */
class Pleg {
  #last = new Map<string, string>();
  /** Every event the relists produced. */
  readonly seen: string[] = [];
  readonly rt: Record<string, (r?: Msg) => Promise<Msg>>;
  constructor(rt: Record<string, (r?: Msg) => Promise<Msg>>) {
    this.rt = rt;
  }
  async relist(): Promise<{ events: string[]; containers: Msg[]; sandboxes: Msg[] }> {
    const sandboxes = (await this.rt.ListPodSandbox!({})).items as Msg[];
    const containers = (await this.rt.ListContainers!({})).containers as Msg[];
    const now = new Map<string, string>(containers.map((c) => [c.id, c.state]));
    const events: string[] = [];
    for (const [id, state] of now) {
      const was = this.#last.get(id);
      if (was === state) continue;
      if (state === 'CONTAINER_RUNNING') events.push(`ContainerStarted ${id}`);
      if (state === 'CONTAINER_EXITED') events.push(`ContainerDied ${id}`);
    }
    for (const id of this.#last.keys()) if (!now.has(id)) events.push(`ContainerRemoved ${id}`);
    this.#last = now;
    this.seen.push(...events);
    return { events, containers, sandboxes };
  }
  /** Relists (every 100 ms, the kubelet's is 1 s) until `want` is among the events seen. */
  async until(want: string): Promise<void> {
    await until(
      `PLEG event ${want}`,
      async () => this.seen.includes(want) || (await this.relist()).events.includes(want),
    ).catch((e) => {
      throw new Error(`${(e as Error).message}; saw ${this.seen.join(', ') || 'none'}`);
    });
  }
}

function cgroupDirsOf(id: string): string[] {
  const out: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup'))
    if (existsSync(join('/sys/fs/cgroup', h, 'berth-pods', id))) out.push(join(h, 'berth-pods', id));
  return out;
}
const iptablesNaming = (...words: string[]) => {
  const r = spawnSync('iptables-save', [], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.startsWith('-A ') && words.some((w) => l.includes(w)));
};
/** What on the host still names any of `ids`: mounts and processes (shims, pause, workloads). */
function hostTraces(ids: string[]): string[] {
  const out: string[] = [];
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n'))
    if (ids.some((id) => l.includes(id))) out.push(`mount ${l.split(' ')[4]}`);
  for (const pid of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (ids.some((id) => cmd.includes(id))) out.push(`process ${pid}: ${cmd.replace(/\0/g, ' ').slice(0, 160)}`);
    } catch {}
  }
  return out;
}
/** The CRI log lines of `files`, each checked to be in the CRI format. */
function criLines(files: string[]): { stream: string; tag: string; text: string }[] {
  const out: { stream: string; tag: string; text: string }[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    assert.ok(text === '' || text.endsWith('\n'), `${f} ends with a whole line`);
    for (const l of text.split('\n').slice(0, -1)) {
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) (F|P) (.*)$/.exec(l);
      assert.ok(m, `${f}: not a CRI log line: ${JSON.stringify(l)}`);
      out.push({ stream: m[2]!, tag: m[3]!, text: m[4]! });
    }
  }
  return out;
}

let podSeq = 0;
/** A port no one listens on now, picked by the kernel: a fixed range met other test files' servers. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function newPod(): Promise<Pod> {
  podSeq++;
  const name = `static-web-${podSeq}`;
  const uid = `${process.pid.toString(16).padStart(8, '0')}-0000-4000-8000-${String(podSeq).padStart(12, '0')}`;
  const base = mkdtempSync('/tmp/bkl-node-');
  temps.push(base);
  // /var/log/pods/<namespace>_<name>_<uid> and /var/lib/kubelet/pods/<uid>, as the kubelet makes them.
  const logDir = join(base, 'var/log/pods', `default_${name}_${uid}`);
  const podDir = join(base, 'var/lib/kubelet/pods', uid);
  mkdirSync(logDir, { recursive: true });
  mkdirSync(podDir, { recursive: true });
  return { name, namespace: 'default', uid, logDir, podDir, hostPort: await freePort() };
}

const HTTPD = 'mkdir -p /w && echo "static pod $POD_NAME" > /w/index.html && exec httpd -f -p 8080 -h /w';
const LOGGER =
  'i=0; while true; do i=$((i+1)); echo "line $i"; [ $((i % 10)) = 0 ] && echo "err $i" >&2; sleep 0.02; done';

for (const version of ['v1', 'v1alpha2'] as const) {
  test(`${version}: a kubelet's static pod of two containers: up, PLEG and events, a kill and a restart, logs and their rotation, torn down leaving nothing`, async () => {
    const cri = new CriClient(criSocket, version);
    const rt = cri.runtime;
    const pleg = new Pleg(rt);
    const events: Msg[] = [];
    const stream = cri.streams.GetContainerEvents!({});
    stream.on('data', (m) => events.push(m));
    stream.on('error', () => {});
    try {
      if (version === 'v1') await new Promise((r) => stream.once('metadata', r));
      else {
        // v1alpha2 has no GetContainerEvents: a 1.20 kubelet relies on its PLEG alone.
        const err = await new Promise<{ code: number }>((r) => stream.once('error', r));
        assert.equal(err.code, 12, 'v1alpha2 GetContainerEvents is Unimplemented');
      }
      await pleg.relist();
      const p = await newPod();

      // Images: ImageStatus says absent, PullImage, ImageStatus has its id (the kubelet's imageRef).
      assert.equal((await cri.image.ImageStatus!({ image: { image: imageRef } })).image, null, 'not pulled yet');
      const pulled = (await cri.image.PullImage!({ image: { image: imageRef }, sandbox_config: sandboxConfig(p) }))
        .image_ref;
      const status = (await cri.image.ImageStatus!({ image: { image: imageRef } })).image;
      assert.equal(status.id, pulled);
      assert.ok(status.repo_tags.includes(imageRef), JSON.stringify(status.repo_tags));

      const config = sandboxConfig(p);
      const { pod_sandbox_id: pod } = await rt.RunPodSandbox!({ config, runtime_handler: '' });
      const sst = (await rt.PodSandboxStatus!({ pod_sandbox_id: pod })).status;
      assert.equal(sst.state, 'SANDBOX_READY');
      assert.deepEqual(sst.labels, config.labels);
      assert.deepEqual(sst.annotations, config.annotations);

      // The kubelet creates and starts each container with the image id it pulled.
      const web = (
        await rt.CreateContainer!({
          pod_sandbox_id: pod,
          config: containerConfig(p, 'web', 0, pulled, HTTPD, [
            { hostPort: p.hostPort, containerPort: 8080, protocol: 'TCP' },
          ]),
          sandbox_config: config,
        })
      ).container_id;
      await rt.StartContainer!({ container_id: web });
      const logger = (
        await rt.CreateContainer!({
          pod_sandbox_id: pod,
          config: containerConfig(p, 'logger', 0, pulled, LOGGER),
          sandbox_config: config,
        })
      ).container_id;
      await rt.StartContainer!({ container_id: logger });
      await pleg.until(`ContainerStarted ${web}`);
      await pleg.until(`ContainerStarted ${logger}`);
      const byUid = (
        await rt.ListContainers!({ filter: { label_selector: { 'io.kubernetes.pod.uid': p.uid } } })
      ).containers.map((c: Msg) => c.id);
      assert.deepEqual(byUid.sort(), [web, logger].sort(), "the kubelet's label selector on the pod uid");
      const listed = (await pleg.relist()).containers.find((c) => c.id === web)!;
      assert.equal(listed.pod_sandbox_id, pod);
      assert.deepEqual(listed.metadata, { name: 'web', attempt: 0 });
      assert.equal(
        listed.labels['io.kubernetes.container.name'],
        'web',
        'the kubelet finds its containers by these labels',
      );
      assert.equal(listed.annotations['io.kubernetes.container.restartCount'], '0');
      assert.equal(listed.image_ref, pulled);
      // Created by image ID, as a kubelet does: named by the image's name (containerd's answer), and
      // `berth ps` shows the short ID (docker's), not the whole digest.
      assert.equal(listed.image.image, imageRef, 'ListContainers names the image');
      const ws = (await rt.ContainerStatus!({ container_id: web })).status;
      assert.equal(ws.image.image, imageRef, 'ContainerStatus names the image');
      const psRow = (await berthCli(d.socket, 'ps')).stdout.split('\n').find((l) => l.startsWith(web.slice(0, 12)));
      assert.equal(psRow?.split(/\s+/)[1], pulled.replace('sha256:', '').slice(0, 12), `berth ps: ${psRow}`);
      assert.equal(ws.log_path, join(p.logDir, 'web/0.log'));
      assert.deepEqual(
        ws.mounts.map((m: Msg) => m.container_path),
        ['/etc/hosts', '/dev/termination-log'],
      );

      // The HTTP server answers on the hostPort (portmap) on 127.0.0.1.
      assert.equal(await fetchText(`http://127.0.0.1:${p.hostPort}/`), `static pod ${p.name}\n`);
      const dnat = iptablesNaming(pod);
      assert.ok(dnat.length > 0, 'portmap rules name the pod');

      // Killed from outside: the PLEG and an event see it exited; the kubelet restarts it as a new
      // container with attempt+1 in the same sandbox, and removes the dead one.
      const pid = JSON.parse((await rt.ContainerStatus!({ container_id: web, verbose: true })).info.info).pid;
      assert.ok(pid > 0);
      process.kill(pid, 'SIGKILL');
      await pleg.until(`ContainerDied ${web}`);
      const dead = (await rt.ContainerStatus!({ container_id: web })).status;
      assert.equal(dead.state, 'CONTAINER_EXITED');
      assert.equal(dead.exit_code, 137);
      assert.equal(dead.reason, 'Error');
      if (version === 'v1')
        await until('the stopped event', () =>
          events.some((e) => e.container_id === web && e.container_event_type === 'CONTAINER_STOPPED_EVENT'),
        );
      const web1 = (
        await rt.CreateContainer!({
          pod_sandbox_id: pod,
          config: containerConfig(p, 'web', 1, pulled, HTTPD),
          sandbox_config: config,
        })
      ).container_id;
      await rt.StartContainer!({ container_id: web1 });
      await rt.RemoveContainer!({ container_id: web });
      await pleg.until(`ContainerRemoved ${web}`);
      assert.equal((await rt.ContainerStatus!({ container_id: web1 })).status.metadata.attempt, 1);
      assert.equal(
        await fetchText(`http://127.0.0.1:${p.hostPort}/`),
        `static pod ${p.name}\n`,
        'the restarted server answers on the same hostPort',
      );
      assert.equal(
        (await rt.PodSandboxStatus!({ pod_sandbox_id: pod })).status.state,
        'SANDBOX_READY',
        'the sandbox outlived the container',
      );
      assert.deepEqual(readdirSync(join(p.logDir, 'web')).sort(), ['0.log', '1.log'], 'each attempt its own log file');
      if (version === 'v1') {
        // The event stream may deliver the deletion after the relist has seen it.
        await until('the deleted event', () =>
          events.some((e) => e.container_id === web && e.container_event_type === 'CONTAINER_DELETED_EVENT'),
        );
        const mine = events
          .filter((e) => [web, web1].includes(e.container_id))
          .map((e) => `${e.container_event_type}${e.container_id === web ? '' : '+1'}`);
        assert.deepEqual(mine, [
          'CONTAINER_CREATED_EVENT',
          'CONTAINER_STARTED_EVENT',
          'CONTAINER_STOPPED_EVENT',
          'CONTAINER_CREATED_EVENT+1',
          'CONTAINER_STARTED_EVENT+1',
          'CONTAINER_DELETED_EVENT',
        ]);
      }

      // The logger's file, then rotated as the kubelet's container log manager does: rename, then
      // ReopenContainerLog; the new lines land in the new file and none is lost across the rename.
      const logPath = join(p.logDir, 'logger/0.log');
      await until(
        'the logger has written',
        () => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('err 10'),
      );
      // And `berth logs -f` follows the container through the rotation.
      const follower = spawn(NODE, [join(REPO, 'src/cli/berth/main.ts'), '--host', d.socket, 'logs', '-f', logger], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let followed = '';
      follower.stdout.on('data', (b: Buffer) => {
        followed += b.toString();
      });
      const followerExit = new Promise<number | null>((r) => follower.once('exit', r));
      await until('berth logs -f has begun', () => followed.includes('line 3\n'));
      const rotated = `${logPath}.20261207-050000`;
      renameSync(logPath, rotated);
      await rt.ReopenContainerLog!({ container_id: logger });
      await until(
        'lines in the new file',
        () => existsSync(logPath) && (readFileSync(logPath, 'utf8').match(/stdout F line/g)?.length ?? 0) >= 5,
      );

      // The manifest removed: the kubelet stops each container and the sandbox, then its garbage
      // collection removes the containers and the sandbox.
      const ids = [web1, logger];
      for (const id of ids) await rt.StopContainer!({ container_id: id, timeout: 2 });
      await rt.StopPodSandbox!({ pod_sandbox_id: pod });
      assert.equal((await rt.PodSandboxStatus!({ pod_sandbox_id: pod })).status.state, 'SANDBOX_NOTREADY');
      const lines = criLines([rotated, logPath]);
      const nums = lines.filter((l) => l.stream === 'stdout').map((l) => Number(/^line (\d+)$/.exec(l.text)?.[1]));
      assert.ok(nums.length > 10);
      assert.deepEqual(
        nums,
        nums.map((_, i) => i + 1),
        'every line once, in order, across the rotation',
      );
      assert.ok(lines.every((l) => l.tag === 'F'));
      assert.equal(await followerExit, 0, 'berth logs -f ends with the container');
      assert.deepEqual(
        followed.split('\n').filter((l) => l.startsWith('line ')),
        nums.map((n) => `line ${n}`),
        'berth logs -f lost no line across the rotation',
      );
      assert.ok(lines.some((l) => l.stream === 'stderr' && l.text === 'err 10'));
      assert.deepEqual(criLines([join(p.logDir, 'web/1.log')]), [], 'httpd -f logs nothing');

      for (const id of ids) await rt.RemoveContainer!({ container_id: id });
      await rt.RemovePodSandbox!({ pod_sandbox_id: pod });
      const last = await pleg.relist();
      assert.deepEqual(
        last.sandboxes.filter((s) => s.id === pod),
        [],
      );
      assert.deepEqual(
        last.containers.filter((c) => [...ids, web].includes(c.id)),
        [],
      );
      assert.ok(!existsSync(join(runRoot, 'netns', pod)), 'the pod netns is gone');
      assert.deepEqual(cgroupDirsOf(pod), [], 'the pod cgroups are gone');
      // A shim may still be on its way out when RemoveContainer has answered (it exits on its own
      // once its record is written): nothing may be left once it is.
      await until('no trace of the pod', () => hostTraces([pod, web, ...ids]).length === 0).catch(() => {});
      assert.deepEqual(hostTraces([pod, web, ...ids]), [], 'no mount, shim or process names the pod or its containers');
      assert.deepEqual(iptablesNaming(pod, `--dport ${p.hostPort}`), [], 'the portmap rules are gone');
      assert.ok(existsSync(rotated) && existsSync(logPath), "the logs stay: they are the kubelet's");
      await cri.image.RemoveImage!({ image: { image: imageRef } });
    } finally {
      // A failure above leaves neither its pod nor the image to the next test.
      for (const p of (await rt.ListPodSandbox!({}).catch(() => ({ items: [] }))).items)
        await rt.RemovePodSandbox!({ pod_sandbox_id: p.id }).catch(() => {});
      await cri.image.RemoveImage!({ image: { image: imageRef } }).catch(() => {});
      stream.cancel();
      cri.close();
    }
  });
}

test("one engine: a pod's containers in berth ps (with their pod), berth logs and berth exec; images built with berth build and loaded with berth load run in a pod unpushed", async () => {
  const cri = new CriClient(criSocket);
  const rt = cri.runtime;
  const berth = (...args: string[]) => berthCli(d.socket, ...args);
  const ok = (r: { code: number; stdout: string; stderr: string }, what: string) => {
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    return r.stdout;
  };
  const ctx = mkdtempSync('/tmp/bkl-ctx-');
  temps.push(ctx);
  writeFileSync(
    join(ctx, 'Dockerfile'),
    'FROM busybox:latest\nRUN echo built-by-berth > /greeting\nCMD ["sh", "-c", "cat /greeting; echo to-stderr >&2; exec sleep 300"]\n',
  );
  try {
    ok(await berth('build', '-q', '-t', 'kube-local:1', ctx), 'berth build');
    const local = (await cri.image.ImageStatus!({ image: { image: 'kube-local:1' } })).image;
    assert.ok(
      local?.repo_tags.some((t: string) => /kube-local:1$/.test(t)),
      `the kubelet sees the built image: ${JSON.stringify(local)}`,
    );

    const p = await newPod();
    const config = sandboxConfig(p);
    const { pod_sandbox_id: pod } = await rt.RunPodSandbox!({ config });
    const spec = containerConfig(p, 'app', 0, 'kube-local:1', '');
    delete spec.command;
    delete spec.args;
    const c = (await rt.CreateContainer!({ pod_sandbox_id: pod, config: spec, sandbox_config: config })).container_id;
    await rt.StartContainer!({ container_id: c });
    assert.equal((await rt.ContainerStatus!({ container_id: c })).status.image_ref, local.id);

    const ps = ok(await berth('ps'), 'berth ps');
    const row = ps.split('\n').find((l) => l.startsWith(c.slice(0, 12)));
    assert.ok(row, `berth ps lists the pod's container: ${ps}`);
    assert.match(row, new RegExp(`\\skube-local:1\\s.*\\s${pod.slice(0, 12)}\\s+\\S+$`), 'with its image and its pod');
    await until('the greeting in the log', async () =>
      (await berth('logs', c.slice(0, 12))).stdout.includes('built-by-berth'),
    );
    const logs = await berth('logs', c);
    assert.deepEqual(
      [logs.code, logs.stdout, logs.stderr],
      [0, 'built-by-berth\n', 'to-stderr\n'],
      'berth logs reads the CRI log file, streams apart',
    );
    assert.equal(
      ok(await berth('exec', c, 'sh', '-c', 'cat /greeting; echo $POD_NAME; hostname'), 'berth exec'),
      `built-by-berth\n${p.name}\n${p.name}\n`,
      'berth exec runs in the pod container',
    );
    const failed = await berth('exec', c, 'sh', '-c', 'exit 7');
    assert.equal(failed.code, 7, 'berth exec passes the exit status on');
    // What berth does to the container the kubelet sees.
    ok(await berth('kill', c), 'berth kill');
    await until(
      'the CRI sees it exited',
      async () => (await rt.ContainerStatus!({ container_id: c })).status.state === 'CONTAINER_EXITED',
    );
    await rt.RemoveContainer!({ container_id: c });

    // Saved, removed and loaded back with berth: the kubelet runs it by name, nothing pushed.
    const tar = join(ctx, 'kube-loaded.tar');
    ok(await berth('tag', 'kube-local:1', 'kube-loaded:2'), 'berth tag');
    ok(await berth('save', '-o', tar, 'kube-loaded:2'), 'berth save');
    ok(await berth('rmi', 'kube-loaded:2'), 'berth rmi');
    assert.equal((await cri.image.ImageStatus!({ image: { image: 'kube-loaded:2' } })).image, null);
    assert.match(ok(await berth('load', '-i', tar), 'berth load'), /kube-loaded:2/);
    const spec2 = containerConfig(
      p,
      'loaded',
      0,
      'kube-loaded:2',
      'cat /greeting; echo all-done > /dev/termination-log',
    );
    const l = (await rt.CreateContainer!({ pod_sandbox_id: pod, config: spec2, sandbox_config: config })).container_id;
    await rt.StartContainer!({ container_id: l });
    await until(
      'the loaded image ran',
      async () => (await rt.ContainerStatus!({ container_id: l })).status.state === 'CONTAINER_EXITED',
    );
    const ls = (await rt.ContainerStatus!({ container_id: l })).status;
    assert.deepEqual([ls.exit_code, ls.reason], [0, 'Completed']);
    // The kubelet reads the termination message from its host file after the exit.
    assert.equal(readFileSync(join(p.podDir, 'containers/loaded/term-0'), 'utf8'), 'all-done\n');
    assert.deepEqual(
      criLines([join(p.logDir, 'loaded/0.log')]).map((x) => x.text),
      ['built-by-berth'],
    );
    await rt.StopPodSandbox!({ pod_sandbox_id: pod });
    await rt.RemovePodSandbox!({ pod_sandbox_id: pod });
    assert.equal(
      ok(await berth('ps', '-a', '-q', '--no-trunc'), 'berth ps -a')
        .split('\n')
        .filter((x) => x === c || x === l).length,
      0,
      'gone for berth too',
    );
  } finally {
    for (const p of (await rt.ListPodSandbox!({}).catch(() => ({ items: [] }))).items)
      await rt.RemovePodSandbox!({ pod_sandbox_id: p.id }).catch(() => {});
    cri.close();
  }
});

test("a kubelet before 1.26 sends the socket's path as :authority (grpc-go over unix://): every call is served, on one connection, past HPACK's dynamic table filling up", async () => {
  // Node's HTTP/2 server refused such a stream with PROTOCOL_ERROR: Debian's kubelet 1.20 exited at
  // its first Version call (src/cri/authority-fix.ts).
  for (const version of ['v1', 'v1alpha2'] as const) {
    const cri = new CriClient(criSocket, version, { 'grpc.default_authority': criSocket });
    try {
      assert.equal((await cri.runtime.Version!({ version: '0.1.0' })).runtime_name, 'berth');
      // Distinct deadlines and filters make new header fields for the table on every call; 200 calls
      // overflow its 4 KiB many times, so tables that drifted apart would garble a later header.
      for (let i = 0; i < 200; i++) {
        const r = await cri.runtime.ListContainers!(
          { filter: { label_selector: { [`io.kubernetes.pod.uid-${i}`]: `x${i}` } } },
          { deadlineMs: 60_000 + i * 1_001 },
        );
        assert.deepEqual(r.containers, []);
      }
      assert.ok((await cri.image.ImageFsInfo!({})).image_filesystems.length > 0);
    } finally {
      cri.close();
    }
  }
});
