// The pull benchmark: cold pull and unpack of a realistic multi-layer image (test/lib/debootstrap-
// image.ts: Debian bookworm minbase in 5 gzip layers, ~163 MB uncompressed) from Debian's
// docker-registry on 127.0.0.1, by berth and its peers, interleaved round-robin (the order rotates
// each iteration), then medians and ratios vs the fastest peer as a markdown table.
//   node bench/pull/run.ts [--iterations N] [--peers berth,berth-cli,skopeo-umoci,containerd,podman,docker]
//   node bench/pull/run.ts --apply-only [--iterations N]   (applyLayer vs tar -xzf; see apply-only.ts)
//
// "Cold" means: a fresh, empty root for every pull (and, for daemons, a daemon started on it before
// the clock starts and stopped after). The page cache is not dropped: the registry's blobs are read
// from memory by everyone alike, so this measures the clients, not the disk.
// Peers: berth in-process (library pull into an OverlaySnapshotter), berth's CLI (dist/bin/berth,
// when built), skopeo copy + umoci unpack, containerd's `ctr image pull` (containerd 1.6 started by
// the bench), `podman pull`, and `docker pull` (a dockerd started by the bench).
// Needs (Debian): docker-registry containerd podman docker.io skopeo umoci debootstrap.
// Never touches the machine's own services: every daemon gets its own root, state, socket and
// pidfile under the bench's temp dir, is stopped by its pid, and its mounts are removed, even on
// failure or SIGINT/SIGTERM. Not part of the test suite.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { applyLayer } from '../../src/archive/apply-layer.ts';
import { applyOnly } from './apply-only.ts';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { pull } from '../../src/images/pull.ts';
import { push } from '../../src/images/push.ts';
import { chainIds } from '../../src/snapshots/chain-id.ts';
import { OverlaySnapshotter } from '../../src/snapshots/overlay-snapshotter.ts';
import { debootstrapImage, importDebootstrapImage } from '../../test/lib/debootstrap-image.ts';
import { startRegistry, type TestRegistry } from '../../test/lib/registry.ts';

const ALL_PEERS = ['berth', 'berth-cli', 'skopeo-umoci', 'containerd', 'podman', 'docker'] as const;
type PeerName = (typeof ALL_PEERS)[number];

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '3' },
    peers: { type: 'string', default: ALL_PEERS.join(',') },
    'apply-only': { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
if (!Number.isInteger(iterations) || iterations < 1)
  throw new Error(`--iterations: expected a positive integer, got ${values.iterations}`);
const wanted = values.peers
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as PeerName[];
for (const p of wanted)
  if (!ALL_PEERS.includes(p)) throw new Error(`--peers: unknown peer ${p}; expected some of ${ALL_PEERS.join(',')}`);

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const BERTH_CLI = join(REPO_ROOT, 'dist/bin/berth');
const NEEDS: Record<PeerName, [string, string][]> = {
  berth: [],
  'berth-cli': [[BERTH_CLI, 'npm run build']],
  'skopeo-umoci': [
    ['/usr/bin/skopeo', 'apt-get install skopeo'],
    ['/usr/bin/umoci', 'apt-get install umoci'],
  ],
  containerd: [
    ['/usr/bin/containerd', 'apt-get install containerd'],
    ['/usr/bin/ctr', 'apt-get install containerd'],
  ],
  podman: [['/usr/bin/podman', 'apt-get install podman']],
  docker: [
    ['/usr/sbin/dockerd', 'apt-get install docker.io'],
    ['/usr/bin/docker', 'apt-get install docker.io'],
  ],
};

// ------------------------------------------------------------------ cleanup (always)

let work = '';
const daemons = new Set<ChildProcess>();

/** Mount points under `dir`, deepest first (from this process's mount table). */
function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

function unmountUnder(dir: string): void {
  for (let pass = 0; pass < 5; pass++) {
    const mps = mountsUnder(dir);
    if (mps.length === 0) return;
    for (const mp of mps) spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
  }
}

async function stopDaemon(child: ChildProcess, name: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && child.pid) {
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {}
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null && child.signalCode === null) {
      process.stderr.write(`${name} (pid ${child.pid}) ignored SIGTERM for 15 s; SIGKILL\n`);
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
      await Promise.race([exited, sleep(5000)]);
    }
  }
  daemons.delete(child);
}

function killDaemonsNow(): void {
  for (const d of daemons)
    if (d.pid && d.exitCode === null)
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {}
}

let registry: TestRegistry | undefined;
async function cleanupAll(): Promise<void> {
  for (const d of [...daemons]) await stopDaemon(d, 'daemon');
  if (work) {
    unmountUnder(work);
    await rm(work, { recursive: true, force: true });
  }
  await registry?.stop().catch(() => {});
}

for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: stopping daemons and removing ${work}\n`);
    killDaemonsNow();
    cleanupAll().finally(() => process.exit(code));
  });
}

// ------------------------------------------------------------------ helpers

function log(m: string): void {
  process.stderr.write(`${m}\n`);
}

/**
 * Runs a command to completion (async: the event loop keeps running) under GNU time; resolves with
 * the CPU time (user+system, ms) of the command and its waited-for children. Throws with its
 * stderr on failure.
 */
function runAsync(argv: string[], cpuFile: string): Promise<number> {
  return new Promise((res, rej) => {
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, ...argv], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.once('error', rej);
    child.once('exit', (code, sig) => {
      if (code !== 0) return rej(new Error(`${argv.join(' ')}: exit ${code ?? sig}: ${err.slice(-2000)}`));
      const [u, s] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
      res(((u ?? Number.NaN) + (s ?? Number.NaN)) * 1000);
    });
  });
}

const CLK_TCK = 100;

/** CPU ms used so far by `pid` and every live descendant (plus the children they reaped). */
function treeCpuMs(pid: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text = '';
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state, ppid, …, utime (index 11), stime, cutime, cstime.
    stats.set(Number(name), {
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    });
  }
  let total = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    total += stats.get(p)?.ticks ?? 0;
    for (const [c, st] of stats) if (st.ppid === p) todo.push(c);
  }
  return (total * 1000) / CLK_TCK;
}

/** A daemon-backed pull: the client's CPU plus what the daemon's process tree used meanwhile. */
async function daemonPull(daemon: ChildProcess, argv: string[], cpuFile: string): Promise<number> {
  const before = treeCpuMs(daemon.pid!);
  const client = await runAsync(argv, cpuFile);
  return client + treeCpuMs(daemon.pid!) - before;
}

async function waitFor(
  what: string,
  ok: () => boolean,
  child: ChildProcess,
  logFile: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with ${child.exitCode}: ${readFileSync(logFile, 'utf8').slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(`${what} not ready after ${timeoutMs} ms: ${readFileSync(logFile, 'utf8').slice(-3000)}`);
    await sleep(50);
  }
}

function startDaemon(argv: string[], logFile: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const fd = openSync(logFile, 'a');
  // Its own process group, so a ctrl-C on the bench reaches the bench (which stops it) first.
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd], detached: true, env: env ?? process.env });
  closeSync(fd);
  daemons.add(child);
  return child;
}

function socketReady(sock: string, probe: string[]): () => boolean {
  return () =>
    existsSync(sock) && spawnSync(probe[0]!, probe.slice(1), { stdio: 'ignore', timeout: 5000 }).status === 0;
}

// ------------------------------------------------------------------ peers

type Peer = {
  name: PeerName;
  label: string;
  /** Untimed: make a fresh root (start a daemon on it). Returns the timed pull (resolving with its CPU ms) and the teardown. */
  setup(dir: string): Promise<{ pullOnce(): Promise<number>; teardown(): Promise<void> }>;
};

function makePeers(ref: string, host: string, expectedChain: string): Peer[] {
  const peers: Record<PeerName, Peer> = {
    berth: {
      name: 'berth',
      label: 'berth (library, in-process, overlay)',
      async setup(dir) {
        const content = new LocalContentStore(join(dir, 'content'));
        const images = new ImageStore(dir);
        const snapshotter = new OverlaySnapshotter(join(dir, 'snapshots'));
        const client = new RegistryClient({ hosts: { [host]: { insecure: true } } });
        return {
          async pullOnce() {
            const c0 = process.cpuUsage();
            const r = await pull(ref, { content, images, client, unpack: { snapshotter, applyLayer } });
            const c = process.cpuUsage(c0);
            if (r.chainId !== expectedChain)
              throw new Error(`berth pulled chain ${r.chainId}, expected ${expectedChain}`);
            return (c.user + c.system) / 1000;
          },
          async teardown() {
            snapshotter.close();
            await client.close();
          },
        };
      },
    },
    'berth-cli': {
      name: 'berth-cli',
      label: '`berth pull` (CLI, dist/bin/berth)',
      async setup(dir) {
        return {
          pullOnce: () =>
            runAsync([BERTH_CLI, '--root', dir, '--snapshotter', 'overlay', 'pull', '-q', ref], join(dir, 'cpu')),
          async teardown() {},
        };
      },
    },
    'skopeo-umoci': {
      name: 'skopeo-umoci',
      label: '`skopeo copy` + `umoci unpack`',
      async setup(dir) {
        return {
          async pullOnce() {
            const cpu = await runAsync(
              [
                'skopeo',
                'copy',
                '--quiet',
                '--src-tls-verify=false',
                `docker://${ref}`,
                `oci:${join(dir, 'oci')}:bench`,
              ],
              join(dir, 'cpu'),
            );
            return (
              cpu +
              (await runAsync(
                ['umoci', 'unpack', '--image', `${join(dir, 'oci')}:bench`, join(dir, 'bundle')],
                join(dir, 'cpu'),
              ))
            );
          },
          async teardown() {},
        };
      },
    },
    containerd: {
      name: 'containerd',
      label: '`ctr image pull` (containerd 1.6, overlayfs)',
      async setup(dir) {
        const sock = join(dir, 'containerd.sock');
        const config = join(dir, 'config.toml');
        writeFileSync(
          config,
          [
            'version = 2',
            `root = "${join(dir, 'root')}"`,
            `state = "${join(dir, 'state')}"`,
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
            '[grpc]',
            `  address = "${sock}"`,
            '[ttrpc]',
            `  address = "${sock}.ttrpc"`,
            '[debug]',
            `  address = ""`,
            '[metrics]',
            `  address = ""`,
            '',
          ].join('\n'),
        );
        const logFile = join(dir, 'containerd.log');
        const child = startDaemon(['/usr/bin/containerd', '--config', config, '--log-level', 'warn'], logFile);
        await waitFor('containerd', socketReady(sock, ['ctr', '--address', sock, 'version']), child, logFile);
        return {
          pullOnce: () =>
            daemonPull(
              child,
              ['ctr', '--address', sock, '--namespace', 'bench', 'image', 'pull', '--plain-http', ref],
              join(dir, 'cpu'),
            ),
          teardown: () => stopDaemon(child, 'containerd'),
        };
      },
    },
    podman: {
      name: 'podman',
      label: '`podman pull` (podman 4.3, overlay)',
      async setup(dir) {
        const base = [
          'podman',
          '--root',
          join(dir, 'root'),
          '--runroot',
          join(dir, 'runroot'),
          '--tmpdir',
          join(dir, 'tmp'),
          '--cgroup-manager',
          'cgroupfs',
          '--events-backend',
          'file',
          '--storage-driver',
          'overlay',
        ];
        return {
          pullOnce: () => runAsync([...base, 'pull', '--quiet', '--tls-verify=false', ref], join(dir, 'cpu')),
          async teardown() {
            // containers/storage leaves its overlay home mounted (private bind); the sweep below unmounts it.
            unmountUnder(dir);
          },
        };
      },
    },
    docker: {
      name: 'docker',
      label: '`docker pull` (dockerd 20.10, overlay2)',
      async setup(dir) {
        const sock = join(dir, 'docker.sock');
        const daemonJson = join(dir, 'daemon.json');
        writeFileSync(daemonJson, '{}\n');
        const logFile = join(dir, 'dockerd.log');
        const child = startDaemon(
          [
            '/usr/sbin/dockerd',
            '--config-file',
            daemonJson,
            '--data-root',
            join(dir, 'data'),
            '--exec-root',
            join(dir, 'exec'),
            '--pidfile',
            join(dir, 'docker.pid'),
            '-H',
            `unix://${sock}`,
            '--insecure-registry',
            host,
            '--bridge=none',
            '--iptables=false',
            '--ip-masq=false',
            '--storage-driver',
            'overlay2',
            '--log-level',
            'error',
          ],
          logFile,
        );
        await waitFor(
          'dockerd',
          socketReady(sock, ['/usr/bin/docker', '-H', `unix://${sock}`, 'version']),
          child,
          logFile,
          60_000,
        );
        return {
          pullOnce: () =>
            daemonPull(child, ['/usr/bin/docker', '-H', `unix://${sock}`, 'pull', '--quiet', ref], join(dir, 'cpu')),
          teardown: () => stopDaemon(child, 'dockerd'),
        };
      },
    },
  };
  return wanted.map((n) => peers[n]);
}

// ------------------------------------------------------------------ main

const median = (xs: number[]) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '–');

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/pull must run as root (overlay mounts, daemons)');
  work = await mkdtemp('/tmp/berth-bench-pull-');
  const missing = new Map<PeerName, string>();
  for (const p of wanted)
    for (const [bin, how] of NEEDS[p]) if (!existsSync(bin)) missing.set(p, `${bin} missing (${how})`);

  log('building (or reusing) the cached debootstrap image…');
  const image = await debootstrapImage(log);
  registry = await startRegistry();
  const ref = `${registry.host}/bench/debian:bookworm`;
  {
    const src = join(work, 'src');
    const content = new LocalContentStore(join(src, 'content'));
    const images = new ImageStore(src);
    await importDebootstrapImage(content, images, ref, image);
    const client = new RegistryClient({ hosts: { [registry.host]: { insecure: true } } });
    try {
      await push(ref, { content, images, client });
    } finally {
      await client.close();
    }
    await rm(src, { recursive: true, force: true });
  }
  const expectedChain = chainIds(image.layers.map((l) => l.diffId)).at(-1)!;
  const peers = makePeers(ref, registry.host, expectedChain).filter((p) => !missing.has(p.name));
  const times = new Map<PeerName, number[]>(peers.map((p) => [p.name, []]));
  const cpu = new Map<PeerName, number[]>(peers.map((p) => [p.name, []]));
  // A failed pull is reported, and the peer still runs in later iterations (a CLI being rebuilt
  // meanwhile, a daemon slow to start once).
  const failures = new Map<PeerName, string[]>();
  const load0 = loadavg();
  log(
    `image ${ref}: ${image.layers.length} layers, ${(image.layers.reduce((a, l) => a + l.size, 0) / 1e6).toFixed(1)} MB compressed, ${(image.uncompressedSize / 1e6).toFixed(1)} MB uncompressed`,
  );

  for (let it = 0; it < iterations; it++) {
    // Rotate the order so that no peer always runs first (or right after a daemon's shutdown).
    const order = peers.map((_, i) => peers[(i + it) % peers.length]!);
    for (const peer of order) {
      const dir = join(work, `${peer.name}-${it}`);
      await mkdir(dir, { recursive: true });
      let env: Awaited<ReturnType<Peer['setup']>> | undefined;
      try {
        env = await peer.setup(dir);
        const t0 = performance.now();
        const cpuMs = await env.pullOnce();
        const ms = performance.now() - t0;
        times.get(peer.name)!.push(ms);
        cpu.get(peer.name)!.push(cpuMs);
        log(`iteration ${it + 1}/${iterations}: ${peer.name} ${fmt(ms)} s (CPU ${fmt(cpuMs)} s)`);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        failures.set(peer.name, [...(failures.get(peer.name) ?? []), why]);
        log(`iteration ${it + 1}/${iterations}: ${peer.name} failed: ${why}`);
      } finally {
        await env?.teardown().catch((e: unknown) => log(`${peer.name} teardown: ${String(e)}`));
        unmountUnder(dir);
        await rm(dir, { recursive: true, force: true });
      }
    }
  }

  const medians = new Map(peers.map((p) => [p.name, median(times.get(p.name)!)] as const));
  const others = peers.filter(
    (p) => p.name !== 'berth' && p.name !== 'berth-cli' && Number.isFinite(medians.get(p.name)!),
  );
  const fastest = others.reduce<Peer | undefined>(
    (a, p) => (a === undefined || medians.get(p.name)! < medians.get(a.name)! ? p : a),
    undefined,
  );
  const fastestMs = fastest ? medians.get(fastest.name)! : Number.NaN;
  const lines: string[] = [];
  lines.push(
    `Cold pull + unpack of ${ref.replace(registry.host, '127.0.0.1:PORT')} (${image.layers.length} gzip layers, ${(image.layers.reduce((a, l) => a + l.size, 0) / 1e6).toFixed(1)} MB compressed, ${(image.uncompressedSize / 1e6).toFixed(1)} MB uncompressed), ${iterations} iteration(s), interleaved; page cache not dropped.`,
    '',
    `| client | n | median s | min s | max s | vs fastest peer${fastest ? ` (${fastest.name})` : ''} | CPU s (median) |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const p of [...peers].sort((a, b) => (medians.get(a.name)! || Infinity) - (medians.get(b.name)! || Infinity))) {
    const xs = times.get(p.name)!;
    const med = medians.get(p.name)!;
    const ratio = Number.isFinite(med) && Number.isFinite(fastestMs) ? `${(med / fastestMs).toFixed(2)}×` : '–';
    lines.push(
      `| ${p.label} | ${xs.length} | ${fmt(med)} | ${fmt(Math.min(...xs))} | ${fmt(Math.max(...xs))} | ${ratio} | ${fmt(median(cpu.get(p.name)!))} |`,
    );
  }
  const load1 = loadavg();
  for (const [name, why] of missing) lines.push('', `- ${name}: not measured: ${why}`);
  for (const [name, whys] of failures)
    lines.push(
      '',
      `- ${name}: ${whys.length} of ${iterations} pulls failed (not in the times); first: ${whys[0]!.split('\n')[0]!.slice(0, 400)}`,
    );
  lines.push(
    '',
    '- Every pull starts from an empty root; daemons (containerd, dockerd) are started on it before the clock starts and stopped after it stops.',
    '- berth (library) runs in the bench process, so after the first iteration its code is warm (JIT); the CLI row pays Node start-up each time.',
    "- CPU: user+system seconds of the pull, all threads: the bench process for berth (library); the command and its children (GNU time) for CLIs; the client plus the daemon's process tree (/proc) for ctr and docker.",
    `- Machine: ${cpus().length} CPUs; load average ${load0.map((x) => x.toFixed(1)).join(' ')} at the start, ${load1.map((x) => x.toFixed(1)).join(' ')} at the end (other work on the machine skews the times).`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (values['apply-only']) {
  await applyOnly(iterations, log);
} else {
  try {
    await main();
  } finally {
    await cleanupAll();
  }
}
