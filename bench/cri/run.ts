// The CRI benchmark (issue 10): a pod's start and teardown as a kubelet drives them, berthd against
// containerd 1.6's CRI plugin on the same machine, interleaved, with medians, the ratio and each
// step's share. One iteration: RunPodSandbox → PullImage (present) → CreateContainer → StartContainer
// → the container's first output in its CRI log (polled every 2 ms), then StopPodSandbox →
// RemovePodSandbox. Then exec latency (issue 16) in a running container of a pod: ExecSync of
// `true`, and a streamed exec of `true` as crictl makes it (Exec → the streaming server's URL →
// SPDY/3.1 with v4.channel.k8s.io, stdout and stderr, until the error stream's status).
//   node bench/cri/run.ts [--iterations N] [--warmup N] [--skip-pods] [--skip-exec] [--trace]
// --trace: berthd runs with BERTH_TRACE_TIMING=1, and its lines for the last berth pod are printed.
// Both daemons run here on temporary roots with CNI (bridge + host-local + portmap, their own
// bridges and subnets), runc for containerd (its default) and berth-runtime for berth (its
// default). Images come from Debian's docker-registry on loopback: busybox, and for containerd its
// pause image (registry.k8s.io/pause:3.6, here a one-file image of native/build/berth-pause) — berth
// needs none. Each daemon is stopped by pid and everything is removed, also on failure. Not part of
// the test suite.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { NetworkManager } from '../../src/network/network-manager.ts';
import { push } from '../../src/images/push.ts';
import { CriClient } from '../../test/lib/cri-client.ts';
import { spdyRun } from '../../test/lib/stream-clients.ts';
import { mountsUnder, stopPid } from '../../test/lib/interop/harness.ts';
import { startRegistry, type TestRegistry } from '../../test/lib/registry.ts';
import { buildImage, busyboxTar, tarOf } from '../../test/lib/test-images.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    'skip-pods': { type: 'boolean', default: false },
    'skip-exec': { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
if (!Number.isInteger(iterations) || iterations < 1)
  throw new Error(`--iterations: expected a positive integer, got ${values.iterations}`);
if (process.getuid?.() !== 0) throw new Error('bench/cri needs root');
for (const [p, pkg] of [
  ['/usr/bin/containerd', 'containerd'],
  ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
  ['/usr/bin/docker-registry', 'docker-registry'],
] as const) {
  if (!existsSync(p)) throw new Error(`${p} is missing: install the Debian package ${pkg}`);
}

const REPO = join(import.meta.dirname, '../..');
const NODE = process.execPath;
const tag = process.pid % 100000;
const work = mkdtempSync('/tmp/bcri-');
const STEPS = ['RunPodSandbox', 'PullImage', 'CreateContainer', 'StartContainer', 'first output'] as const;
type Sample = { steps: number[]; start: number; teardown: number };

async function pushImage(reg: TestRegistry, ref: string, tars: Buffer[], cmd: string[]): Promise<void> {
  const src = mkdtempSync(join(work, 'img-'));
  const content = new LocalContentStore(join(src, 'content'));
  const images = new ImageStore(src);
  const built = await buildImage(content, tars, { cmd });
  await images.put(ref, built.manifest);
  const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } } });
  await push(ref, { content, images, client });
  await client.close();
}

function waitSocket(path: string, child: ChildProcess, what: string, log: () => string): Promise<void> {
  return (async () => {
    for (let i = 0; i < 600; i++) {
      if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${log().slice(-2000)}`);
      if (existsSync(path)) return;
      await sleep(50);
    }
    throw new Error(`${what} did not create ${path} in 30 s: ${log().slice(-2000)}`);
  })();
}

type Peer = { name: string; cri: CriClient; logDir: string; stop: () => Promise<void>; log: () => string };

async function startBerthd(reg: TestRegistry): Promise<Peer> {
  const root = join(work, 'berth-root');
  const run = join(work, 'berth-run');
  spawnSync('mkdir', ['-p', root, run]);
  writeFileSync(join(root, 'registries.json'), JSON.stringify({ 'docker.io': { mirrors: [`http://${reg.host}`] } }));
  const cfg = join(work, 'berthd.json');
  writeFileSync(cfg, JSON.stringify({ network: { defaultNetwork: { name: 'berth', bridge: `bcb${tag}` } } }));
  const bin = existsSync(join(REPO, 'dist/bin/berthd'))
    ? [join(REPO, 'dist/bin/berthd')]
    : [NODE, join(REPO, 'src/cli/berthd/main.ts')];
  let err = '';
  const child = spawn(bin[0]!, [...bin.slice(1), '--root', root, '--run-root', run, '--config', cfg], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...(values.trace ? { BERTH_TRACE_TIMING: '1' } : {}) },
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const sock = join(run, 'cri.sock');
  await waitSocket(join(run, 'berthd.sock'), child, 'berthd', () => err);
  return {
    name: 'berth',
    cri: new CriClient(sock),
    logDir: join(work, 'logs-berth'),
    stop: () => stopPid(child.pid!, 10_000),
    log: () => err,
  };
}

async function startContainerd(reg: TestRegistry): Promise<Peer> {
  const dir = join(work, 'ctrd');
  spawnSync('mkdir', ['-p', join(dir, 'cni')]);
  writeFileSync(
    join(dir, 'cni', '10-bench.conflist'),
    JSON.stringify({
      cniVersion: '0.4.0',
      name: 'bench',
      plugins: [
        {
          type: 'bridge',
          bridge: `bcc${tag}`,
          isGateway: true,
          ipMasq: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: `10.${200 + (tag % 50)}.${tag % 250}.0/24` }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  const config = [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
    '[grpc]',
    `  address = "${dir}/containerd.sock"`,
    '[ttrpc]',
    `  address = "${dir}/containerd.sock.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '[plugins]',
    '  [plugins."io.containerd.internal.v1.opt"]',
    `    path = "${dir}/opt"`,
    '  [plugins."io.containerd.grpc.v1.cri"]',
    '    sandbox_image = "registry.k8s.io/pause:3.6"',
    '    restrict_oom_score_adj = true',
    '    netns_mounts_under_state_dir = true',
    '    [plugins."io.containerd.grpc.v1.cri".containerd]',
    '      default_runtime_name = "runc"',
    '      snapshotter = "overlayfs"',
    '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '        runtime_type = "io.containerd.runc.v2"',
    '    [plugins."io.containerd.grpc.v1.cri".cni]',
    '      bin_dir = "/usr/lib/cni"',
    `      conf_dir = "${dir}/cni"`,
    `    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]`,
    `      endpoint = ["http://${reg.host}"]`,
    `    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]`,
    `      endpoint = ["http://${reg.host}"]`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'config.toml'), config);
  let err = '';
  const child = spawn('/usr/bin/containerd', ['--config', join(dir, 'config.toml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-20000)));
  const sock = join(dir, 'containerd.sock');
  await waitSocket(sock, child, 'containerd', () => err);
  const cri = new CriClient(sock);
  // The CRI plugin answers a little after the socket appears.
  for (let i = 0; ; i++) {
    try {
      await cri.runtime.Version!({}, { deadlineMs: 2000 });
      break;
    } catch (e) {
      if (i > 100) throw new Error(`containerd's CRI did not answer: ${(e as Error).message}: ${err.slice(-2000)}`);
      await sleep(100);
    }
  }
  return {
    name: 'containerd',
    cri,
    logDir: join(work, 'logs-ctrd'),
    stop: () => stopPid(child.pid!, 10_000),
    log: () => err,
  };
}

const IMAGE = 'docker.io/library/busybox:1.36';
let seq = 0;

type PodConfig = { metadata: Record<string, unknown>; log_directory: string } & Record<string, unknown>;

/** A pod's config named `name` (its uid unique to this run), logging under `logDir`. */
function podConfig(name: string, logDir: string): PodConfig {
  return {
    metadata: { name, namespace: 'bench', uid: `bench-${process.pid}-${name}`, attempt: 0 },
    hostname: name,
    log_directory: logDir,
    linux: {},
  };
}

/** CreateContainer of busybox running `command` in `pod`, logging to <name>/0.log. */
async function createIn(p: Peer, pod: string, config: PodConfig, name: string, command: string[]): Promise<string> {
  const { container_id: c } = await p.cri.runtime.CreateContainer!({
    pod_sandbox_id: pod,
    config: { metadata: { name, attempt: 0 }, image: { image: IMAGE }, command, log_path: `${name}/0.log` },
    sandbox_config: config,
  });
  return c;
}

async function onePod(p: Peer): Promise<Sample> {
  seq++;
  const logDir = join(p.logDir, String(seq));
  const config = podConfig(`bench${seq}`, logDir);
  const marks: number[] = [];
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const t0 = now();
  const { pod_sandbox_id: pod } = await p.cri.runtime.RunPodSandbox!({ config });
  marks.push(now());
  await p.cri.image.PullImage!({ image: { image: IMAGE }, sandbox_config: config });
  marks.push(now());
  const c = await createIn(p, pod, config, 'hello', ['/bin/busybox', 'echo', 'first-output']);
  marks.push(now());
  await p.cri.runtime.StartContainer!({ container_id: c });
  marks.push(now());
  const log = join(logDir, 'hello/0.log');
  for (let i = 0; ; i++) {
    if (existsSync(log) && readFileSync(log, 'utf8').includes('first-output')) break;
    if (i > 5000) throw new Error(`${p.name}: no output in ${log} after 10 s`);
    await sleep(2);
  }
  marks.push(now());
  const t1 = now();
  await p.cri.runtime.StopPodSandbox!({ pod_sandbox_id: pod });
  await p.cri.runtime.RemovePodSandbox!({ pod_sandbox_id: pod });
  const t2 = now();
  const steps = marks.map((m, i) => m - (i === 0 ? t0 : marks[i - 1]!));
  return { steps, start: t1 - t0, teardown: t2 - t1 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const peers: Peer[] = [];
let reg: TestRegistry | undefined;
try {
  reg = await startRegistry();
  await pushImage(reg, `${reg.host}/library/busybox:1.36`, [await busyboxTar()], ['sh']);
  await pushImage(
    reg,
    `${reg.host}/pause:3.6`,
    [await tarOf([{ name: 'pause', data: readFileSync(join(REPO, 'native/build/berth-pause')), mode: 0o755 }])],
    ['/pause'],
  );
  peers.push(await startBerthd(reg), await startContainerd(reg));
  for (const p of peers) await p.cri.image.PullImage!({ image: { image: IMAGE } });
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const table = (title: string, rows: string[][]) => {
    const w = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
    process.stdout.write(`${title}\n`);
    for (const r of rows) process.stdout.write(`${r.map((c, col) => c.padEnd(w[col]!)).join('  ')}\n`);
    process.stdout.write('\n');
  };
  if (!values['skip-pods']) {
    const samples = new Map<string, Sample[]>(peers.map((p) => [p.name, []]));
    let traceFrom = 0;
    for (let i = 0; i < warmup + iterations; i++) {
      for (const p of i % 2 ? [...peers].reverse() : peers) {
        if (p.name === 'berth') traceFrom = p.log().length;
        const s = await onePod(p);
        if (i >= warmup) samples.get(p.name)!.push(s);
      }
    }
    const rows: string[][] = [['', ...peers.map((p) => p.name), 'ratio berth/containerd']];
    const med = (name: string, f: (s: Sample) => number) => median(samples.get(name)!.map(f));
    const row = (label: string, f: (s: Sample) => number) => {
      const [b, c] = peers.map((p) => med(p.name, f)) as [number, number];
      rows.push([label, `${b.toFixed(1)} ms`, `${c.toFixed(1)} ms`, `${(b / c).toFixed(2)}×`]);
    };
    row('pod start (to first output)', (s) => s.start);
    for (const [i, name] of STEPS.entries()) row(`  ${name}`, (s) => s.steps[i]!);
    row('teardown (StopPodSandbox + RemovePodSandbox)', (s) => s.teardown);
    table(`bench/cri: ${iterations} iterations (+${warmup} warm-up), interleaved; medians; load ${load()}`, rows);
    if (values.trace) {
      const lines = peers[0]!
        .log()
        .slice(traceFrom)
        .split('\n')
        .filter((l) => l.startsWith('berthd timing:'));
      process.stdout.write(`berthd's trace of its last pod:\n${lines.join('\n')}\n\n`);
    }
  }
  if (!values['skip-exec']) {
    // One pod with a sleeping container per daemon; then ExecSync and a streamed exec, interleaved.
    const targets = new Map<string, string>();
    for (const p of peers) {
      const config = podConfig('exec-target', join(p.logDir, 'exec'));
      const { pod_sandbox_id: pod } = await p.cri.runtime.RunPodSandbox!({ config });
      const c = await createIn(p, pod, config, 'sleeper', ['/bin/busybox', 'sleep', '100000']);
      await p.cri.runtime.StartContainer!({ container_id: c });
      targets.set(p.name, c);
    }
    const now = () => Number(process.hrtime.bigint()) / 1e6;
    const times = new Map<string, { sync: number[]; streamed: number[] }>(
      peers.map((p) => [p.name, { sync: [], streamed: [] }]),
    );
    for (let i = 0; i < warmup + iterations; i++) {
      for (const p of i % 2 ? [...peers].reverse() : peers) {
        const c = targets.get(p.name)!;
        let t0 = now();
        const r = await p.cri.runtime.ExecSync!({ container_id: c, cmd: ['/bin/busybox', 'true'], timeout: 30 });
        const sync = now() - t0;
        if (r.exit_code !== 0) throw new Error(`${p.name}: ExecSync true exited ${r.exit_code}`);
        t0 = now();
        const { url } = await p.cri.runtime.Exec!({
          container_id: c,
          cmd: ['/bin/busybox', 'true'],
          stdout: true,
          stderr: true,
        });
        const out = await spdyRun(url, { stdout: true, stderr: true });
        const streamed = now() - t0;
        if (out.error !== '' && !/"status":"Success"/.test(out.error))
          throw new Error(`${p.name}: streamed exec of true: ${out.error}`);
        if (i >= warmup) {
          times.get(p.name)!.sync.push(sync);
          times.get(p.name)!.streamed.push(streamed);
        }
      }
    }
    const rows: string[][] = [['', ...peers.map((p) => p.name), 'ratio berth/containerd']];
    for (const k of ['sync', 'streamed'] as const) {
      const [b, c] = peers.map((p) => median(times.get(p.name)![k])) as [number, number];
      rows.push([
        k === 'sync' ? 'ExecSync true' : 'Exec true, streamed (SPDY v4)',
        `${b.toFixed(1)} ms`,
        `${c.toFixed(1)} ms`,
        `${(b / c).toFixed(2)}×`,
      ]);
    }
    table(`bench/cri exec: ${iterations} iterations (+${warmup} warm-up), interleaved; medians; load ${load()}`, rows);
  }
} finally {
  for (const p of peers) {
    // Pods outlive their daemon by design: a failed iteration's pod is removed before the daemon stops.
    for (const pod of (await p.cri.runtime.ListPodSandbox!({}).catch(() => ({ items: [] }))).items)
      await p.cri.runtime.RemovePodSandbox!({ pod_sandbox_id: pod.id }).catch(() => {});
    p.cri.close();
    await p.stop().catch(() => {});
  }
  await reg?.stop().catch(() => {});
  // berth's network library removes its bridge and the iptables rules it made; containerd's CNI
  // bridge plugin leaves its bridge.
  if (existsSync(join(work, 'berth-root/network')))
    await (
      await NetworkManager.open({
        root: join(work, 'berth-root/network'),
        runDir: join(work, 'berth-run'),
        defaultNetwork: false,
      })
    )
      .destroy()
      .catch(() => {});
  spawnSync('ip', ['link', 'del', `bcc${tag}`]);
  for (const m of mountsUnder(work).reverse()) spawnSync('umount', ['-l', m]);
  await rm(work, { recursive: true, force: true });
}
