// The build benchmark (issue 13): one three-stage Dockerfile (busybox; a stage whose RUN writes
// 5,000 files; a stage that COPYs a 50 MB context; a final stage copying from both) built by
// berth (berthd + `berth build`), Debian's dockerd with its classic builder (DOCKER_BUILDKIT=0;
// there is no buildx plugin here) and podman build (buildah's library), interleaved round-robin so
// all see the same machine: cold (--no-cache), warm (nothing changed) and after one changed source
// file. Medians and ratios vs the fastest peer.
//   node bench/build/run.ts [--iterations N] [--mb 50] [--files 5000]
// Every engine builds without network (berthd --no-network, dockerd --bridge=none, podman
// --network none). Daemons are started on temp roots and removed even on failure or Ctrl-C. An
// engine whose first build fails is left out of the table, with its error. Not part of the test suite.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBerthd, tempRoots } from '../../test/integration/engine-harness.ts';
import { BUSYBOX_REF } from '../../test/lib/interop/busybox-archive.ts';
import { DOCKER, DockerdPeer } from '../../test/lib/interop/dockerd.ts';
import { cleanEnv, type InteropRuntime, RUNC } from '../../test/lib/interop/harness.ts';
import { PODMAN, PodmanPeer } from '../../test/lib/interop/podman.ts';
import { busyboxRootfsTar, finish } from '../../test/integration/engine-harness.ts';
import { Readable } from 'node:stream';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '3' },
    mb: { type: 'string', default: '50' },
    files: { type: 'string', default: '5000' },
  },
});
const iterations = Number(values.iterations);
const MB = Number(values.mb);
const FILES = Number(values.files);
if (process.getuid?.() !== 0) throw new Error('bench/build needs root');

const REPO = join(import.meta.dirname, '../..');
const BERTH_CLI = existsSync(join(REPO, 'dist/bin/berth'))
  ? [join(REPO, 'dist/bin/berth')]
  : [process.execPath, join(REPO, 'src/cli/berth/main.ts')];
const PEER_RT: InteropRuntime = { name: 'runc', binary: RUNC };
type Engine = 'berth' | 'docker' | 'podman';
type Phase = 'cold' | 'warm' | 'changed';

const ctx = mkdtempSync('/tmp/bbuild-ctx-');
mkdirSync(join(ctx, 'src'));
for (let i = 0; i < MB; i++) writeFileSync(join(ctx, 'src', `blob${i}.bin`), randomBytes(1024 * 1024));
writeFileSync(join(ctx, 'src', 'changed.txt'), 'v0\n');
writeFileSync(
  join(ctx, 'Dockerfile'),
  [
    'ARG BASE',
    'FROM $BASE AS gen',
    `RUN mkdir /gen && cd /gen && i=0 && while [ $i -lt ${FILES} ]; do echo $i > f$i; i=$((i+1)); done`,
    'FROM $BASE AS app',
    'COPY src/ /src/',
    'FROM $BASE',
    'COPY --from=gen /gen /gen',
    'COPY --from=app /src /src',
    '',
  ].join('\n'),
);

const roots = tempRoots();
let berth: Awaited<ReturnType<typeof startBerthd>> | undefined;
let docker: DockerdPeer | undefined;
let podman: PodmanPeer | undefined;

function podmanFlags(p: PodmanPeer): string[] {
  const f = p.globalFlags();
  const i = f.indexOf('--runtime');
  if (i >= 0) f[i + 1] = RUNC;
  return f;
}

function command(e: Engine, noCache: boolean): { bin: string; args: string[]; env: NodeJS.ProcessEnv } {
  const nc = noCache ? ['--no-cache'] : [];
  switch (e) {
    case 'berth':
      return {
        bin: BERTH_CLI[0]!,
        args: [
          ...BERTH_CLI.slice(1),
          '--host',
          berth!.socket,
          'build',
          '-q',
          ...nc,
          '--build-arg',
          'BASE=busybox',
          '-t',
          'bench:1',
          ctx,
        ],
        env: cleanEnv(),
      };
    case 'docker':
      return {
        bin: DOCKER,
        args: [
          '-H',
          `unix://${docker!.socket}`,
          'build',
          '-q',
          ...nc,
          '--network',
          'none',
          '--build-arg',
          `BASE=${BUSYBOX_REF}`,
          '-t',
          'bench:1',
          ctx,
        ],
        env: cleanEnv({ DOCKER_BUILDKIT: '0', DOCKER_CONFIG: docker!.root.path('client', true) }),
      };
    case 'podman':
      return {
        bin: PODMAN,
        args: [
          ...podmanFlags(podman!),
          'build',
          '-q',
          ...nc,
          '--network',
          'none',
          '--pull=never',
          '--layers',
          '--build-arg',
          `BASE=${BUSYBOX_REF}`,
          '-t',
          'bench:1',
          ctx,
        ],
        env: podman!.env(),
      };
  }
}

function time(e: Engine, noCache: boolean): number {
  const c = command(e, noCache);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.bin, c.args, { encoding: 'utf8', env: c.env, timeout: 600_000, killSignal: 'SIGKILL' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0)
    throw new Error(`${e} build → ${r.status ?? r.signal}: ${(r.stderr || r.stdout || '').trim().slice(-600)}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : Number.NaN;
};

async function cleanup(): Promise<void> {
  if (berth)
    await finish(berth, roots.root, roots.runRoot).catch((e: Error) =>
      process.stderr.write(`berth cleanup: ${e.message}\n`),
    );
  for (const n of (await docker?.stop().catch((e: Error) => [e.message])) ?? []) process.stderr.write(`docker: ${n}\n`);
  for (const n of (await podman?.stop().catch((e: Error) => [e.message])) ?? []) process.stderr.write(`podman: ${n}\n`);
  await rm(ctx, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

try {
  process.stderr.write('starting berthd, dockerd, podman on temp roots…\n');
  berth = await startBerthd(roots.root, roots.runRoot, ['--no-network']);
  await berth.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  docker = await DockerdPeer.start(PEER_RT);
  await docker.loadBusybox(BUSYBOX_REF);
  podman = await PodmanPeer.start(PEER_RT);
  await podman.loadBusybox(BUSYBOX_REF);
  const engines: Engine[] = [];
  const excluded: string[] = [];
  for (const e of ['berth', 'docker', 'podman'] as const) {
    try {
      time(e, true);
      engines.push(e);
    } catch (err) {
      excluded.push(`${e}: ${(err as Error).message}`);
    }
  }
  const times: Record<Phase, Record<Engine, number[]>> = {
    cold: { berth: [], docker: [], podman: [] },
    warm: { berth: [], docker: [], podman: [] },
    changed: { berth: [], docker: [], podman: [] },
  };
  for (let i = 0; i < iterations; i++) {
    for (let k = 0; k < engines.length; k++) {
      const e = engines[(i + k) % engines.length]!;
      times.cold[e].push(time(e, true));
      times.warm[e].push(time(e, false));
      writeFileSync(join(ctx, 'src', 'changed.txt'), `${e} ${i}\n`);
      times.changed[e].push(time(e, false));
    }
    process.stderr.write(`round ${i + 1}/${iterations}\n`);
  }
  const lines = [
    `### build: ${FILES} files by RUN, a ${MB} MB COPY, 3 stages (${iterations} interleaved rounds; medians in ms, ratio vs the fastest)`,
    '',
    '| phase | ' + engines.join(' | ') + ' | berth ÷ fastest peer |',
    `|---|${engines.map(() => '---:').join('|')}|---:|`,
  ];
  for (const ph of ['cold', 'warm', 'changed'] as const) {
    const meds = engines.map((e) => median(times[ph][e]));
    const peers = engines.filter((e) => e !== 'berth').map((e) => median(times[ph][e]));
    const fastestPeer = Math.min(...peers);
    lines.push(
      `| ${ph} | ${meds.map((m) => m.toFixed(0)).join(' | ')} | ${(median(times[ph].berth) / fastestPeer).toFixed(2)}× |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
  process.stdout.write(
    `Notes: ${new Date().toISOString()}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}; berth: berthd from src, the bundled berth CLI, berth-runtime, overlay snapshots; docker: Debian dockerd 20.10, classic builder (DOCKER_BUILDKIT=0), overlay2, runc; podman: Debian podman 4.3 (buildah), --layers, overlay, runc.\n`,
  );
  for (const x of excluded) process.stdout.write(`Left out: ${x}\n`);
} finally {
  await cleanup();
}
