// A container's whole lifecycle under the real drivers, berth-runtime against runc: `podman run
// --rm busybox true` (podman 4.3, conmon: create, start, state, delete …) and `ctr run --rm`
// through containerd 1.6's runc v2 shim (create, start, state, kill, delete …), interleaved
// round-robin, medians and the ratio of berth-runtime to runc per driver. Each driver is given the
// runtime binary itself (not the interop tests' tracing wrapper). Peers run on temp roots (the
// interop harness, test/lib/interop) and are stopped and removed even on failure or Ctrl-C.
//   node bench/runtime/drivers.ts [--iterations N] [--warmup N]
// Not part of the test suite.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUSYBOX_REF } from '../../test/lib/interop/busybox-archive.ts';
import { ContainerdPeer, CTR } from '../../test/lib/interop/containerd.ts';
import { cleanEnv, type InteropRuntime, RUNC } from '../../test/lib/interop/harness.ts';
import { PODMAN, PodmanPeer } from '../../test/lib/interop/podman.ts';

const { values } = parseArgs({
  options: { iterations: { type: 'string', default: '10' }, warmup: { type: 'string', default: '2' } },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
if (!Number.isInteger(iterations) || iterations < 1)
  throw new Error(`--iterations: expected a positive integer, got ${values.iterations}`);
if (process.getuid?.() !== 0) throw new Error('bench/runtime/drivers.ts needs root');

const BERTH_RUNTIME = join(import.meta.dirname, '../../dist/bin/berth-runtime');
if (!existsSync(BERTH_RUNTIME)) throw new Error(`${BERTH_RUNTIME} does not exist: bash scripts/build.sh`);
const runtimes: InteropRuntime[] = [
  { name: 'berth', binary: BERTH_RUNTIME },
  { name: 'runc', binary: RUNC },
];

type Case = {
  driver: 'podman' | 'ctr';
  rt: InteropRuntime;
  argv: () => { bin: string; args: string[]; env: NodeJS.ProcessEnv };
};

const podmans = new Map<string, PodmanPeer>();
let ctrd: ContainerdPeer | undefined;
let seq = 0;

function time(c: Case): number {
  const { bin, args, env } = c.argv();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    env,
    timeout: 120_000,
    killSignal: 'SIGKILL',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0)
    throw new Error(
      `${c.driver} with ${c.rt.name}: \`${bin} ${args.join(' ')}\` → ${r.status ?? r.signal}: ${(r.stderr || r.error?.message || '').trim().slice(-600)}`,
    );
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function cleanup(): Promise<void> {
  for (const [name, p] of [...podmans, ...(ctrd ? [['containerd', ctrd] as const] : [])]) {
    try {
      const notes = (await p.stop()).filter((n) => !/^(unmounted|removed cgroup)/.test(n));
      if (notes.length) process.stderr.write(`${name} cleanup: ${notes.join('; ')}\n`);
    } catch (e) {
      process.stderr.write(`${name} cleanup failed: ${(e as Error).message}\n`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

try {
  const cases: Case[] = [];
  for (const rt of runtimes) {
    const p = await PodmanPeer.start(rt);
    podmans.set(`podman (${rt.name})`, p);
    await p.loadBusybox(BUSYBOX_REF);
    // The peer names its tracing wrapper as the runtime: give podman the binary itself.
    const flags = p.globalFlags();
    flags[flags.indexOf('--runtime') + 1] = rt.binary;
    cases.push({
      driver: 'podman',
      rt,
      argv: () => ({
        bin: PODMAN,
        args: [...flags, 'run', '--rm', '--network', 'none', ...p.runFlags(), BUSYBOX_REF, 'true'],
        env: p.env(),
      }),
    });
  }
  ctrd = await ContainerdPeer.start(runtimes[0]!);
  await ctrd.importBusybox(BUSYBOX_REF);
  const c = ctrd;
  for (const rt of runtimes) {
    const runcRoot = c.root.path(`runc-root-${rt.name}`, true);
    cases.push({
      driver: 'ctr',
      rt,
      argv: () => ({
        bin: CTR,
        args: [
          '--address',
          c.address,
          '--namespace',
          c.namespace,
          'run',
          '--rm',
          ...c.fifoFlags(),
          '--runtime',
          'io.containerd.runc.v2',
          '--runc-binary',
          rt.binary,
          '--runc-root',
          runcRoot,
          BUSYBOX_REF,
          `bench-${rt.name}-${seq++}`,
          'true',
        ],
        env: cleanEnv(),
      }),
    });
  }
  const times = new Map<Case, number[]>(cases.map((k) => [k, []]));
  for (let i = 0; i < warmup + iterations; i++) {
    for (let k = 0; k < cases.length; k++) {
      const k2 = cases[(i + k) % cases.length]!;
      const ms = time(k2);
      if (i >= warmup) times.get(k2)!.push(ms);
    }
    process.stderr.write(`round ${i + 1}/${warmup + iterations}\n`);
  }
  const lines = [
    `### a container's lifecycle under the real drivers (${iterations} interleaved iterations after ${warmup} warm-up)`,
    '',
    '| driver | runtime | median ms | min ms | max ms | berth-runtime / runc |',
    '|---|---|---:|---:|---:|---:|',
  ];
  const label = { podman: '`podman run --rm busybox true`', ctr: '`ctr run --rm busybox true` (runc v2 shim)' };
  for (const k of cases) {
    const xs = times.get(k)!;
    const other = cases.find((o) => o.driver === k.driver && o.rt.name === 'runc')!;
    const ratio = k.rt.name === 'berth' ? `${(median(xs) / median(times.get(other)!)).toFixed(2)}×` : '';
    lines.push(
      `| ${label[k.driver]} | ${k.rt.name} | ${median(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)} | ${Math.max(...xs).toFixed(1)} | ${ratio} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await cleanup();
}
