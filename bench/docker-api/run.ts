// The Docker API benchmark: the same docker client (Debian's docker.io 20.10, /usr/bin/docker)
// against berthd's Docker API and against Debian's dockerd (its own temp roots, runc, managed
// containerd), interleaved: `run --rm --network none busybox true`, `ps`, `exec <running> true`.
// Medians and the ratio berthd/dockerd. Both daemons without networking: berthd --no-network,
// dockerd --bridge=none (test/lib/interop/dockerd.ts), so neither pays for CNI or a bridge.
// Usage: node bench/docker-api/run.ts [--iterations N] [--warmup N]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BerthClient } from '../../src/client/client.ts';
import { BUSYBOX_REF, busyboxLayer } from '../../test/lib/interop/busybox-archive.ts';
import { DOCKER, DockerdPeer } from '../../test/lib/interop/dockerd.ts';
import { cleanEnv, mountsUnder, processesUnder, RUNC, stopPid } from '../../test/lib/interop/harness.ts';

const { values } = parseArgs({
  options: { iterations: { type: 'string', default: '10' }, warmup: { type: 'string', default: '2' } },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
if (!Number.isInteger(iterations) || iterations < 1)
  throw new Error(`--iterations: expected a positive integer, got ${values.iterations}`);
if (process.getuid?.() !== 0) throw new Error('bench/docker-api needs root');

const REPO = join(import.meta.dirname, '../..');
const BERTHD = existsSync(join(REPO, 'dist/bin/berthd'))
  ? [join(REPO, 'dist/bin/berthd')]
  : [process.execPath, join(REPO, 'src/cli/berthd/main.ts')];

function timed(socket: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(DOCKER, ['-H', `unix://${socket}`, ...args], {
    encoding: 'utf8',
    env,
    timeout: 120_000,
    killSignal: 'SIGKILL',
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0)
    throw new Error(
      `docker ${args.join(' ')} via ${socket} → ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-500)}`,
    );
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function startBerthd(): Promise<{ socket: string; proc: ChildProcess; root: string; runRoot: string }> {
  const root = mkdtempSync('/tmp/bda-');
  const runRoot = mkdtempSync('/tmp/bdr-');
  const proc = spawn(BERTHD[0]!, [...BERTHD.slice(1), '--root', root, '--run-root', runRoot, '--no-network'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: cleanEnv(),
  });
  let log = '';
  proc.stderr!.on('data', (b: Buffer) => (log += b));
  const client = new BerthClient(join(runRoot, 'berthd.sock'));
  for (let i = 0; i < 300 && !(await client.ping()); i++) {
    if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}: ${log}`);
    await sleep(50);
  }
  await client.importRootfs(Readable.from([await busyboxLayer()]), BUSYBOX_REF);
  return { socket: join(runRoot, 'docker.sock'), proc, root, runRoot };
}

async function main(): Promise<void> {
  const berth = await startBerthd();
  const docker = await DockerdPeer.start({ name: 'runc', binary: RUNC });
  const env = cleanEnv({ DOCKER_CONFIG: mkdtempSync('/tmp/bdc-') });
  const peers = [
    { name: 'berthd', socket: berth.socket },
    { name: 'dockerd', socket: docker.socket },
  ];
  try {
    await docker.loadBusybox(BUSYBOX_REF);
    for (const p of peers)
      timed(p.socket, ['run', '-d', '--name', 'bench-long', '--network', 'none', BUSYBOX_REF, 'sleep', '3600'], env);
    const ops: Record<string, string[]> = {
      'run --rm busybox true': ['run', '--rm', '--network', 'none', BUSYBOX_REF, 'true'],
      ps: ['ps'],
      'exec true': ['exec', 'bench-long', 'true'],
    };
    const samples = new Map<string, number[]>();
    for (let i = 0; i < warmup + iterations; i++) {
      for (const [op, args] of Object.entries(ops)) {
        // Interleaved, alternating which goes first, so drift on the host falls on both alike.
        for (const p of i % 2 ? [...peers].reverse() : peers) {
          const ms = timed(p.socket, args, env);
          if (i >= warmup) samples.set(`${op}|${p.name}`, [...(samples.get(`${op}|${p.name}`) ?? []), ms]);
        }
      }
    }
    process.stdout.write(
      `bench/docker-api: ${DOCKER} (docker.io 20.10) against berthd (berth-runtime) and dockerd (runc); ${iterations} iterations (+${warmup} warm-up), interleaved; medians in ms\n\n`,
    );
    process.stdout.write('| operation | berthd | dockerd | berthd/dockerd |\n|---|---|---|---|\n');
    for (const op of Object.keys(ops)) {
      const b = median(samples.get(`${op}|berthd`)!);
      const d = median(samples.get(`${op}|dockerd`)!);
      process.stdout.write(`| ${op} | ${b.toFixed(0)} | ${d.toFixed(0)} | ${(b / d).toFixed(2)}× |\n`);
    }
  } finally {
    for (const p of peers)
      spawnSync(DOCKER, ['-H', `unix://${p.socket}`, 'rm', '-f', 'bench-long'], { env, timeout: 60_000 });
    const notes = await docker.stop();
    if (berth.proc.pid && berth.proc.exitCode === null) await stopPid(berth.proc.pid, 10_000);
    for (const dir of [berth.root, berth.runRoot]) {
      for (const pid of processesUnder(dir)) await stopPid(pid, 3000, 'SIGKILL');
      for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
      await rm(dir, { recursive: true, force: true });
    }
    await rm(env.DOCKER_CONFIG!, { recursive: true, force: true });
    if (notes.length) process.stderr.write(`dockerd cleanup: ${notes.join('; ')}\n`);
  }
}

await main();
