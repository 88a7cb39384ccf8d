// The engine benchmark: `run --rm busybox true` through berth (berthd + berth CLI), Debian's dockerd,
// podman and containerd's ctr, interleaved round-robin so all see the same machine, with medians and
// ratios vs docker; then 50 `run -d busybox sleep 1000` started at once (berth, docker, podman), timed
// until all 50 run; then memory per running container with those 50 up: the supervisor's PSS
// (berth-shim, containerd-shim-runc-v2, conmon; /proc/<pid>/smaps_rollup) averaged over the 50, and
// each daemon's PSS growth divided by 50. Between the two: `exec <running container> true` through
// each (`ctr tasks exec` for containerd), interleaved the same way.
//   node bench/engine/run.ts [--iterations N] [--parallel N] [--skip-parallel] [--skip-run] [--skip-exec]
//                            [--engines berth,docker,podman,ctr] [--trace]
// --engines starts only the engines named (ratios are then vs the first of docker, ctr, podman named).
// --trace: berthd runs with BERTH_TRACE_TIMING=1 (docs/engine.md, "Timing trace"), and after the
// table one more traced `berth run --rm` prints its breakdown, the CLI's lines and berthd's.
// Every peer gets no network: berthd --no-network and `run --network none`, dockerd --bridge=none
// --iptables=false with `--network none`, podman `--network none`, ctr without CNI (its default: a
// fresh netns with only lo). Peers run runc (docker's and containerd's default; podman is given
// /usr/sbin/runc), berth runs berth-runtime (its default). Each daemon is started by the bench on
// temp roots (test/lib/interop/* for the peers), stopped by pid, and everything is removed even on
// failure or Ctrl-C. Not part of the test suite.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BerthClient } from '../../src/client/client.ts';
import { BUSYBOX_REF, busyboxLayer } from '../../test/lib/interop/busybox-archive.ts';
import { ContainerdPeer, CTR } from '../../test/lib/interop/containerd.ts';
import { DOCKER, DockerdPeer } from '../../test/lib/interop/dockerd.ts';
import {
  cleanEnv,
  type InteropRuntime,
  mountsUnder,
  processesUnder,
  RUNC,
  stopPid,
} from '../../test/lib/interop/harness.ts';
import { PODMAN, PodmanPeer } from '../../test/lib/interop/podman.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    parallel: { type: 'string', default: '50' },
    'skip-parallel': { type: 'boolean', default: false },
    'skip-run': { type: 'boolean', default: false },
    'skip-exec': { type: 'boolean', default: false },
    engines: { type: 'string', default: 'berth,docker,podman,ctr' },
    trace: { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const PARALLEL = Number(values.parallel);
if (!Number.isInteger(iterations) || iterations < 1)
  throw new Error(`--iterations: expected a positive integer, got ${values.iterations}`);
if (!Number.isInteger(PARALLEL) || PARALLEL < 1)
  throw new Error(`--parallel: expected a positive integer, got ${values.parallel}`);
if (process.getuid?.() !== 0) throw new Error('bench/engine needs root');
const ALL_ENGINES = ['berth', 'docker', 'podman', 'ctr'] as const;
const selected = values.engines.split(',').map((e) => e.trim());
for (const e of selected)
  if (!(ALL_ENGINES as readonly string[]).includes(e))
    throw new Error(`--engines: unknown engine '${e}', expected some of ${ALL_ENGINES.join(',')}`);

const REPO = join(import.meta.dirname, '../..');
const NODE = process.execPath;
const BERTH_CLI = existsSync(join(REPO, 'dist/bin/berth'))
  ? [join(REPO, 'dist/bin/berth')]
  : [NODE, join(REPO, 'src/cli/berth/main.ts')];
const PEER_RT: InteropRuntime = { name: 'runc', binary: RUNC };

type Engine = (typeof ALL_ENGINES)[number];
const engines = ALL_ENGINES.filter((e) => selected.includes(e));
type Cmd = { bin: string; args: string[]; env?: NodeJS.ProcessEnv };

// ------------------------------------------------------------------ helpers

function runSync(c: Cmd, what: string): { ms: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.bin, c.args, {
    encoding: 'utf8',
    env: c.env ?? cleanEnv(),
    timeout: 120_000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0)
    throw new Error(
      `${what}: \`${c.bin} ${c.args.join(' ')}\` → ${r.status ?? r.signal}: ${(r.stderr || r.stdout || r.error?.message || '').trim().slice(-800)}`,
    );
  return { ms, stdout: r.stdout };
}

function runTraced(c: Cmd): { ms: number; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.bin, c.args, {
    encoding: 'utf8',
    env: c.env ?? cleanEnv(),
    timeout: 120_000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, stderr: r.stderr };
}

function runAsync(c: Cmd): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(c.bin, c.args, { env: c.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b));
    p.stderr.on('data', (b: Buffer) => (out += b));
    p.on('close', (code) => resolve({ code, out }));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** PSS in KiB of one process (smaps_rollup), 0 if it is gone; `anon` counts anonymous memory only. */
function pssKiB(pid: number, field: 'Pss' | 'Pss_Anon' = 'Pss'): number {
  try {
    return Number(
      new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0,
    );
  } catch {
    return 0;
  }
}

/** Pids whose argv[0] ends with `name` and whose command line mentions `needle`. */
function pidsOf(name: string, needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith(name) && argv.join(' ').includes(needle)) out.push(Number(p));
    } catch {}
  }
  return out;
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
}

function fmt(ms: number): string {
  return Number.isFinite(ms) ? ms.toFixed(0) : '—';
}

// ------------------------------------------------------------------ berth

class BerthPeer {
  readonly root = mkdtempSync('/tmp/bbe-');
  readonly runRoot = mkdtempSync('/tmp/bbr-');
  readonly socket = join(this.runRoot, 'berthd.sock');
  readonly client = new BerthClient(this.socket);
  proc: ChildProcess | undefined;
  // berthd's stderr goes to a file, never to a pipe of ours: the rounds are spawnSync calls that
  // block this loop, and a traced berthd filled the pipe and hung on its next write (after ~6 runs).
  readonly logPath = `${this.root}.stderr`;
  get log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  async start(): Promise<void> {
    const logFd = openSync(this.logPath, 'a', 0o600);
    this.proc = spawn(
      NODE,
      [join(REPO, 'src/cli/berthd/main.ts'), '--root', this.root, '--run-root', this.runRoot, '--no-network'],
      { stdio: ['ignore', 'ignore', logFd], env: cleanEnv(values.trace ? { BERTH_TRACE_TIMING: '1' } : {}) },
    );
    closeSync(logFd);
    for (let i = 0; i < 300; i++) {
      if (this.proc.exitCode !== null) throw new Error(`berthd exited with ${this.proc.exitCode}: ${this.log}`);
      if (existsSync(this.socket) && (await this.client.ping())) break;
      await sleep(50);
    }
    if (!(await this.client.ping())) throw new Error(`berthd did not come up: ${this.log}`);
    const layer = await busyboxLayer();
    await this.client.importRootfs(Readable.from([layer]), 'busybox:latest');
  }

  cli(args: string[]): Cmd {
    return { bin: BERTH_CLI[0]!, args: [...BERTH_CLI.slice(1), '--host', this.socket, ...args] };
  }

  async stop(): Promise<string[]> {
    const notes: string[] = [];
    try {
      if (this.proc && this.proc.exitCode === null) {
        for (const c of await this.client.list({ all: true }).catch(() => []))
          await this.client.remove(c.id, { force: true }).catch((e: Error) => notes.push(`rm ${c.id}: ${e.message}`));
      }
    } catch (e) {
      notes.push(`berth cleanup: ${(e as Error).message}`);
    }
    if (this.proc?.pid && this.proc.exitCode === null) await stopPid(this.proc.pid, 10_000);
    for (const dir of [this.root, this.runRoot]) {
      for (const pid of processesUnder(dir)) {
        notes.push(`killed leftover ${pid}`);
        await stopPid(pid, 3000, 'SIGKILL');
      }
      for (const m of mountsUnder(dir)) {
        spawnSync('umount', ['-l', m]);
        notes.push(`unmounted ${m}`);
      }
    }
    await rm(this.root, { recursive: true, force: true });
    await rm(this.runRoot, { recursive: true, force: true });
    await rm(this.logPath, { force: true });
    return notes;
  }
}

// ------------------------------------------------------------------ the peers' commands

type Peers = { berth: BerthPeer; docker: DockerdPeer; podman: PodmanPeer; ctr: ContainerdPeer };

function podmanFlags(p: PodmanPeer): string[] {
  // The peer's flags name its tracing wrapper as the runtime: give podman runc itself.
  const f = p.globalFlags();
  const i = f.indexOf('--runtime');
  if (i >= 0) f[i + 1] = RUNC;
  return f;
}

let ctrSeq = 0;
/** `ctr` against the bench's containerd and namespace. */
function ctrCmd(p: Peers, args: string[]): Cmd {
  return { bin: CTR, args: ['--address', p.ctr.address, '--namespace', p.ctr.namespace, ...args] };
}

function runRmCmd(e: Engine, p: Peers): Cmd {
  switch (e) {
    case 'berth':
      return p.berth.cli(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    case 'docker':
      return {
        bin: DOCKER,
        args: ['-H', `unix://${p.docker.socket}`, 'run', '--rm', '--network', 'none', BUSYBOX_REF, 'true'],
        env: cleanEnv({ DOCKER_CONFIG: p.docker.root.path('client', true) }),
      };
    case 'podman':
      return {
        bin: PODMAN,
        args: [
          ...podmanFlags(p.podman),
          'run',
          '--rm',
          '--network',
          'none',
          '--ulimit',
          'nofile=4096:4096',
          '--ulimit',
          'nproc=4096:4096',
          ...p.podman.runFlags(),
          BUSYBOX_REF,
          'true',
        ],
        env: p.podman.env(),
      };
    case 'ctr':
      return ctrCmd(p, ['run', '--rm', ...p.ctr.fifoFlags(), BUSYBOX_REF, `bench-${process.pid}-${ctrSeq++}`, 'true']);
  }
}

function runDetachedCmd(e: Exclude<Engine, 'ctr'>, p: Peers, i: number): Cmd {
  const name = `par-${i}`;
  switch (e) {
    case 'berth':
      return p.berth.cli(['run', '-d', '--network', 'none', '--name', name, 'busybox', 'sleep', '1000']);
    case 'docker':
      return {
        bin: DOCKER,
        args: [
          '-H',
          `unix://${p.docker.socket}`,
          'run',
          '-d',
          '--network',
          'none',
          '--name',
          name,
          BUSYBOX_REF,
          'sleep',
          '1000',
        ],
        env: cleanEnv({ DOCKER_CONFIG: p.docker.root.path('client', true) }),
      };
    case 'podman':
      return {
        bin: PODMAN,
        args: [
          ...podmanFlags(p.podman),
          'run',
          '-d',
          '--network',
          'none',
          '--ulimit',
          'nofile=4096:4096',
          '--ulimit',
          'nproc=4096:4096',
          ...p.podman.runFlags(),
          '--name',
          name,
          BUSYBOX_REF,
          'sleep',
          '1000',
        ],
        env: p.podman.env(),
      };
  }
}

const LONG = 'bench-exec';
let execSeq = 0;

/** The container that the exec rounds run in: `sleep` for as long as the bench may take. */
function startLongCmd(e: Engine, p: Peers): Cmd {
  if (e !== 'ctr') {
    const c = runDetachedCmd(e, p, 0);
    return { ...c, args: c.args.map((a) => (a === 'par-0' ? LONG : a === '1000' ? '100000' : a)) };
  }
  return ctrCmd(p, ['run', '-d', ...p.ctr.fifoFlags(), BUSYBOX_REF, `${LONG}-${process.pid}`, 'sleep', '100000']);
}

function execCmd(e: Engine, p: Peers): Cmd {
  switch (e) {
    case 'berth':
      return p.berth.cli(['exec', LONG, 'true']);
    case 'docker':
      return {
        bin: DOCKER,
        args: ['-H', `unix://${p.docker.socket}`, 'exec', LONG, 'true'],
        env: cleanEnv({ DOCKER_CONFIG: p.docker.root.path('client', true) }),
      };
    case 'podman':
      return { bin: PODMAN, args: [...podmanFlags(p.podman), 'exec', LONG, 'true'], env: p.podman.env() };
    case 'ctr':
      return ctrCmd(p, [
        'tasks',
        'exec',
        ...p.ctr.fifoFlags(),
        '--exec-id',
        `e${execSeq++}`,
        `${LONG}-${process.pid}`,
        'true',
      ]);
  }
}

/** Ends the exec target (the peers' stop removes what is left). */
function stopLong(e: Engine, p: Peers): void {
  if (e === 'berth') return; // BerthPeer.stop removes every container
  if (e === 'ctr') {
    p.ctr.ctr(['tasks', 'kill', '-s', 'SIGKILL', `${LONG}-${process.pid}`], 20_000);
    for (let i = 0; i < 100 && p.ctr.ctr(['tasks', 'delete', `${LONG}-${process.pid}`], 20_000).status !== 0; i++)
      spawnSync('sleep', ['0.1']);
    p.ctr.ctr(['containers', 'delete', `${LONG}-${process.pid}`], 20_000);
    return;
  }
  const c = execCmd(e, p);
  const i = c.args.indexOf('exec');
  runSync({ ...c, args: [...c.args.slice(0, i), 'rm', '-f', LONG] }, `${e} rm -f`);
}

async function runningCount(e: Exclude<Engine, 'ctr'>, p: Peers): Promise<number> {
  if (e === 'berth') return (await p.berth.client.list()).filter((c) => c.status === 'running').length;
  const c: Cmd =
    e === 'docker'
      ? {
          bin: DOCKER,
          args: ['-H', `unix://${p.docker.socket}`, 'ps', '-q', '--filter', 'status=running'],
          env: cleanEnv({ DOCKER_CONFIG: p.docker.root.path('client', true) }),
        }
      : {
          bin: PODMAN,
          args: [...podmanFlags(p.podman), 'ps', '-q', '--filter', 'status=running'],
          env: p.podman.env(),
        };
  return runSync(c, `${e} ps`)
    .stdout.split('\n')
    .filter((l) => l.trim()).length;
}

async function removeAll(e: Exclude<Engine, 'ctr'>, p: Peers): Promise<void> {
  if (e === 'berth') {
    await Promise.all(
      (await p.berth.client.list({ all: true })).map((c) => p.berth.client.remove(c.id, { force: true })),
    );
    return;
  }
  const c: Cmd =
    e === 'docker'
      ? {
          bin: DOCKER,
          args: [
            '-H',
            `unix://${p.docker.socket}`,
            'rm',
            '-f',
            ...Array.from({ length: PARALLEL }, (_, i) => `par-${i}`),
          ],
          env: cleanEnv({ DOCKER_CONFIG: p.docker.root.path('client', true) }),
        }
      : {
          bin: PODMAN,
          args: [
            ...podmanFlags(p.podman),
            'rm',
            '-f',
            '-t',
            '0',
            ...Array.from({ length: PARALLEL }, (_, i) => `par-${i}`),
          ],
          env: p.podman.env(),
        };
  runSync(c, `${e} rm -f`);
}

/** The supervisors of `e`'s running containers and the daemons whose growth is shared among them. */
function memoryPids(e: Exclude<Engine, 'ctr'>, p: Peers): { supervisors: number[]; daemons: number[] } {
  switch (e) {
    case 'berth':
      return {
        supervisors: pidsOf('berth-shim', p.berth.runRoot),
        daemons: p.berth.proc?.pid ? [p.berth.proc.pid] : [],
      };
    case 'docker':
      return {
        supervisors: pidsOf('containerd-shim-runc-v2', p.docker.root.dir),
        daemons: [...pidsOf('dockerd', p.docker.root.dir), ...pidsOf('containerd', p.docker.root.dir)],
      };
    case 'podman':
      // Podman has no daemon: conmon is all that stays per container.
      return { supervisors: pidsOf('conmon', p.podman.root.dir), daemons: [] };
  }
}

// ------------------------------------------------------------------ main

const peers: Partial<Peers> = {};
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const [name, peer] of Object.entries(peers)) {
      try {
        const notes = await peer.stop();
        const odd = notes.filter((n) => !/^(unmounted|removed cgroup)/.test(n));
        if (odd.length) process.stderr.write(`${name} cleanup: ${odd.join('; ')}\n`);
      } catch (e) {
        process.stderr.write(`${name} cleanup failed: ${(e as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`${sig}: cleaning up\n`);
    void cleanup().then(() => process.exit(130));
  });
}

try {
  process.stderr.write(`starting ${engines.join(', ')} on temp roots…\n`);
  if (engines.includes('berth')) {
    peers.berth = new BerthPeer();
    await peers.berth.start();
  }
  if (engines.includes('docker')) {
    peers.docker = await DockerdPeer.start(PEER_RT);
    await peers.docker.loadBusybox(BUSYBOX_REF);
  }
  if (engines.includes('podman')) {
    peers.podman = await PodmanPeer.start(PEER_RT);
    runSync(
      {
        bin: PODMAN,
        args: [
          ...podmanFlags(peers.podman),
          'load',
          '-i',
          await (async () => {
            const { writeBusyboxArchive } = await import('../../test/lib/interop/busybox-archive.ts');
            const a = peers.podman!.root.path('busybox.tar');
            await writeBusyboxArchive(a);
            return a;
          })(),
        ],
        env: peers.podman.env(),
      },
      'podman load',
    );
  }
  if (engines.includes('ctr')) {
    peers.ctr = await ContainerdPeer.start(PEER_RT);
    await peers.ctr.importBusybox(BUSYBOX_REF);
  }
  const p = peers as Peers;
  const reference = (['docker', 'ctr', 'podman', 'berth'] as const).find((e) => engines.includes(e))!;
  const label: Record<Engine, string> = {
    berth: 'berth (berthd, berth-runtime)',
    docker: 'docker (dockerd 20.10, runc)',
    podman: 'podman (podman 4.3, conmon, runc)',
    ctr: 'ctr (containerd 1.6, runc v2 shim)',
  };

  /** Runs `cmd` for every engine, interleaved with a rotating order; prints the table. */
  const interleaved = (title: string, cmd: (e: Engine) => Cmd): void => {
    const times: Record<Engine, number[]> = { berth: [], docker: [], podman: [], ctr: [] };
    for (let i = 0; i < warmup + iterations; i++) {
      // Rotate the order so no engine always runs right after the same other one.
      for (let k = 0; k < engines.length; k++) {
        const e = engines[(i + k) % engines.length]!;
        const { ms } = runSync(cmd(e), `${e} ${title}`);
        if (i >= warmup) times[e].push(ms);
      }
      process.stderr.write(`${title}: round ${i + 1}/${warmup + iterations}\n`);
    }
    const refMed = median(times[reference]);
    const lines: string[] = [
      `### ${title} (${iterations} interleaved iterations after ${warmup} warm-up; no network for every engine; load ${loadavg()})`,
      '',
      `| engine | median ms | min ms | max ms | ratio vs ${reference} |`,
      '|---|---:|---:|---:|---:|',
    ];
    for (const e of engines) {
      const m = median(times[e]);
      lines.push(
        `| ${label[e]} | ${fmt(m)} | ${fmt(Math.min(...times[e]))} | ${fmt(Math.max(...times[e]))} | ${(m / refMed).toFixed(2)}× |`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n\n`);
  };

  // ---- run --rm true, interleaved
  if (!values['skip-run']) interleaved('run --rm busybox true', (e) => runRmCmd(e, p));

  if (values.trace && engines.includes('berth') && !values['skip-run']) {
    // One more run, traced end to end: the CLI's steps, then berthd's for this run only (spawnSync
    // blocks this loop, so berthd's stderr of the earlier runs is read in first).
    await sleep(200);
    const from = p.berth.log.length;
    const c = runRmCmd('berth', p);
    const { ms, stderr } = runTraced({ ...c, env: cleanEnv({ BERTH_TRACE_TIMING: '1' }) });
    await sleep(200); // berthd's last lines (the removal) follow the CLI's exit by a moment
    const traced = [...stderr.split('\n'), ...p.berth.log.slice(from).split('\n')].filter((l) =>
      /^(berth|berthd|berth-runtime) timing:/.test(l),
    );
    process.stdout.write(`### one traced berth run --rm (${fmt(ms)} ms)\n\n\`\`\`\n${traced.join('\n')}\n\`\`\`\n\n`);
  }

  // ---- exec <running> true, interleaved
  if (!values['skip-exec']) {
    for (const e of engines) runSync(startLongCmd(e, p), `${e} run -d (exec target)`);
    interleaved('exec <running container> true', (e) => execCmd(e, p));
    if (values.trace && engines.includes('berth')) {
      await sleep(200);
      const from = p.berth.log.length;
      const { ms, stderr } = runTraced({ ...execCmd('berth', p), env: cleanEnv({ BERTH_TRACE_TIMING: '1' }) });
      await sleep(200);
      const traced = [...stderr.split('\n'), ...p.berth.log.slice(from).split('\n')].filter((l) =>
        /^(berth|berthd|berth-runtime) timing:/.test(l),
      );
      process.stdout.write(`### one traced berth exec (${fmt(ms)} ms)\n\n\`\`\`\n${traced.join('\n')}\n\`\`\`\n\n`);
    }
    for (const e of engines) stopLong(e, p);
  }

  // ---- N at once, then memory with them running
  if (!values['skip-parallel'] && engines.some((e) => e !== 'ctr')) {
    const par: string[] = [
      `### ${PARALLEL} × run -d busybox sleep 1000, all started at once`,
      '',
      '| engine | all running after ms | failed starts |',
      '|---|---:|---:|',
    ];
    const mem: string[] = [
      `### memory per running container (${PARALLEL} running)`,
      '',
      '| engine | supervisor | supervisor PSS KiB (mean) | supervisors found | daemon anon PSS growth / container KiB | total per container KiB |',
      '|---|---|---:|---:|---:|---:|',
    ];
    const supName = { berth: 'berth-shim', docker: 'containerd-shim-runc-v2', podman: 'conmon' } as const;
    for (const e of engines) {
      if (e === 'ctr') continue;
      const daemonsBefore = memoryPids(e, p).daemons;
      // Anonymous PSS only: a daemon's file-backed PSS (its binary's text) moves with however many
      // other processes happen to map the same file (the 50 CLIs, other node processes).
      const pssBefore = daemonsBefore.reduce((s, pid) => s + pssKiB(pid, 'Pss_Anon'), 0);
      const t0 = Date.now();
      const rs = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => runAsync(runDetachedCmd(e, p, i))));
      const failed = rs.filter((r) => r.code !== 0);
      if (failed.length)
        process.stderr.write(`${e}: ${failed.length} starts failed, e.g. ${failed[0]!.out.trim().slice(-300)}\n`);
      const want = PARALLEL - failed.length;
      while ((await runningCount(e, p)) < want && Date.now() - t0 < 300_000) await sleep(100);
      const ms = Date.now() - t0;
      par.push(`| ${e} | ${ms} | ${failed.length} |`);
      process.stderr.write(`${e}: ${want} running after ${ms} ms\n`);
      await sleep(2000); // let lazily touched pages settle before measuring
      const { supervisors, daemons } = memoryPids(e, p);
      const sup = supervisors.map((pid) => pssKiB(pid));
      const supMean = sup.length ? sup.reduce((a, b) => a + b, 0) / sup.length : Number.NaN;
      const pssAfter = daemons.reduce((s, pid) => s + pssKiB(pid, 'Pss_Anon'), 0);
      const growth = daemons.length ? (pssAfter - pssBefore) / Math.max(1, want) : 0;
      mem.push(
        `| ${e} | ${supName[e]} | ${supMean.toFixed(0)} | ${sup.length} | ${daemons.length ? growth.toFixed(0) : 'no daemon'} | ${(supMean + growth).toFixed(0)} |`,
      );
      await removeAll(e, p);
    }
    process.stdout.write(`${par.join('\n')}\n\n${mem.join('\n')}\n\n`);
  }
  const notes = [
    `Notes: ${new Date().toISOString()}, ${loadavg()} load;`,
    'berth: berthd from src (node type stripping) with --no-network, the bundled berth CLI (dist/bin/berth), berth-runtime;',
    'docker: Debian dockerd with --bridge=none --iptables=false, default-ulimits nofile 4096, cgroupfs, its managed containerd, runc; image from a docker-archive built from busybox-static;',
    'podman: --root/--runroot temp, cgroupfs, --ulimit nofile=4096:4096 --ulimit nproc=4096:4096, --network none, conmon, runc;',
    'ctr: containerd started with a temp config (CRI off), `ctr run --rm` without CNI (a fresh netns with lo only), runc v2 shim.',
    'Memory: supervisor PSS from /proc/<pid>/smaps_rollup; daemon growth = (daemon Pss_Anon with N running − before) / N (dockerd + containerd for docker; berthd for berth; podman has no daemon).',
  ];
  process.stdout.write(`${notes.join('\n')}\n`);
} catch (e) {
  // What berthd said last is usually why a berth command failed or hung.
  if (peers.berth?.log) process.stderr.write(`berthd's log, last lines:\n${peers.berth.log.slice(-4000)}\n`);
  throw e;
} finally {
  await cleanup();
}
