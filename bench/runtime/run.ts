// The runtime benchmark: create, start, delete and `run` of /bin/true with berth-runtime, runc and
// crun, interleaved round-robin in one process so that all see the same machine, then medians, p90,
// ratios vs runc and each runtime's peak RSS, as a markdown table.
//   node bench/runtime/run.ts [--iterations N] [--runtimes berth,runc,crun] [--breakdown]
// --breakdown adds where berth's time goes: Node start-up, module loading, and whatever
// berth-runtime prints to stderr with BERTH_TRACE_TIMING=1.
// It never fails because berth is missing: it reports it as missing. Not part of the test suite.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeBundle } from '../../test/lib/bundle.ts';
import { CRUN, removeCgroups, resolveRuntime, type RuntimeUnderTest, runtimeEnv } from '../../test/lib/runtime.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '20' },
    runtimes: { type: 'string', default: 'berth,runc,crun' },
    breakdown: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '2' },
  },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations: expected a positive integer, got ${values.iterations}`);

const GNU_TIME = '/usr/bin/time';
const OPS = ['create', 'start', 'delete', 'run'] as const;
type Op = (typeof OPS)[number];

interface Bench {
  rt: RuntimeUnderTest;
  root: string;
  times: Record<Op, number[]>;
  rssKiB: Record<Op, number[]>;
  failures: string[];
  ids: Set<string>;
}

const work = mkdtempSync('/tmp/berth-bench-');
const cgroupsPath = `/berth-bench-${randomBytes(4).toString('hex')}`;
const bundle = makeBundle(join(work, 'bundle'), { args: ['/bin/true'], cgroupsPath });

const benches: Bench[] = values.runtimes
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '')
  .map((name) => ({
    rt: resolveRuntime(name),
    root: mkdtempSync(join(work, `root-${name.replace(/\W/g, '_')}-`)),
    times: { create: [], start: [], delete: [], run: [] },
    rssKiB: { create: [], start: [], delete: [], run: [] },
    failures: [],
    ids: new Set<string>(),
  }));

interface Timed {
  ms: number;
  ok: boolean;
  stderr: string;
  rssKiB?: number;
}

/** Runs one runtime command; with `rss`, under GNU time for the peak RSS (timed separately). */
function invoke(b: Bench, args: string[], rss = false, env: NodeJS.ProcessEnv = runtimeEnv()): Timed {
  const [bin, ...pre] = b.rt.argv;
  const argv = [...pre, '--root', b.root, ...args];
  const rssFile = join(work, 'rss');
  const [cmd, cmdArgs] = rss ? [GNU_TIME, ['-f', '%M', '-o', rssFile, bin!, ...argv]] : [bin!, argv];
  // stderr goes to a file, never a pipe: a created container inherits it, and a pipe it holds open
  // would keep spawnSync waiting until the container exits.
  const errFile = join(work, 'stderr');
  const errFd = openSync(errFile, 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, cmdArgs, { stdio: ['ignore', 'ignore', errFd], timeout: 60_000, killSignal: 'SIGKILL', env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  closeSync(errFd);
  const stderr = readFileSync(errFile, 'utf8') + (r.error ? String(r.error) : '');
  const out: Timed = { ms, ok: r.status === 0, stderr };
  if (rss && existsSync(rssFile)) {
    const n = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
    if (Number.isFinite(n)) out.rssKiB = n;
    rmSync(rssFile, { force: true });
  }
  return out;
}

function waitStopped(b: Bench, id: string): void {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = spawnSync(b.rt.argv[0]!, [...b.rt.argv.slice(1), '--root', b.root, 'state', id], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`${b.rt.name}: state ${id} failed: ${(r.stderr ?? '').trim()}`);
    if ((JSON.parse(r.stdout) as { status: string }).status === 'stopped') return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
  throw new Error(`${b.rt.name}: container ${id} did not stop within 10 s`);
}

/** One create/start/delete cycle and one run; records times unless `record` is false. */
function cycle(b: Bench, n: number, record: boolean, rss: boolean): void {
  const id = `berth-bench-${b.rt.name}-${n}-${randomBytes(3).toString('hex')}`;
  b.ids.add(id);
  const note = (op: Op, t: Timed) => {
    if (!t.ok) {
      b.failures.push(`${op}: ${t.stderr.trim().split('\n').at(-1)}`);
      return false;
    }
    if (record && !rss) b.times[op].push(t.ms);
    if (rss && t.rssKiB !== undefined) b.rssKiB[op].push(t.rssKiB);
    return true;
  };
  if (!note('create', invoke(b, ['create', '--bundle', bundle.dir, id], rss))) return;
  if (!note('start', invoke(b, ['start', id], rss))) return;
  try {
    waitStopped(b, id);
  } catch (err) {
    b.failures.push(`wait for stopped: ${(err as Error).message}`);
    return;
  }
  note('delete', invoke(b, ['delete', id], rss));
  const runId = `${id}-run`;
  b.ids.add(runId);
  note('run', invoke(b, ['run', '--bundle', bundle.dir, runId], rss));
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}
const median = (xs: number[]) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function cleanup(): void {
  for (const b of benches) {
    if (b.rt.missing) continue;
    for (const id of b.ids) invoke(b, ['delete', '--force', id]);
  }
  removeCgroups([cgroupsPath]);
  rmSync(work, { recursive: true, force: true });
}
for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(code);
  });
}

function timeTrivial(argv: string[], n: number, env?: NodeJS.ProcessEnv): number[] {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 30_000, ...(env ? { env } : {}) });
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return xs;
}

try {
  const live = benches.filter((b) => !b.rt.missing);
  const haveTime = existsSync(GNU_TIME);
  for (let i = 0; i < warmup + iterations; i++) {
    // Rotate who goes first so that no runtime always runs right after another's teardown.
    for (let k = 0; k < live.length; k++) cycle(live[(i + k) % live.length]!, i, i >= warmup, false);
  }
  if (haveTime) for (let i = 0; i < 3; i++) for (const b of live) cycle(b, 10_000 + i, false, true);

  const runc = benches.find((b) => b.rt.kind === 'runc' && !b.rt.missing);
  const lines: string[] = [];
  lines.push(`### berth runtime benchmark (${iterations} iterations, interleaved; /bin/true in a busybox bundle)`);
  lines.push('');
  lines.push('| op | runtime | median ms | p90 ms | vs runc (median) | peak RSS MiB |');
  lines.push('|---|---|---:|---:|---:|---:|');
  for (const op of OPS) {
    for (const b of benches) {
      if (b.rt.missing) {
        lines.push(`| ${op} | ${b.rt.name} | missing | | | |`);
        continue;
      }
      const med = median(b.times[op]);
      const ratio = runc ? med / median(runc.times[op]) : Number.NaN;
      const rss = b.rssKiB[op].length ? Math.max(...b.rssKiB[op]) / 1024 : Number.NaN;
      lines.push(`| ${op} | ${b.rt.name} | ${fmt(med)} | ${fmt(quantile(b.times[op], 0.9))} | ${Number.isFinite(ratio) ? `${fmt(ratio, 2)}×` : 'n/a'} | ${fmt(rss)} |`);
    }
  }
  lines.push('');
  for (const b of benches) {
    if (b.rt.missing) lines.push(`- ${b.rt.name}: missing (${b.rt.missing})`);
    else if (b.failures.length) lines.push(`- ${b.rt.name}: ${b.failures.length} failed operations, first: ${b.failures[0]}`);
  }
  if (benches.some((b) => b.rt.kind === 'crun' && !b.rt.missing)) {
    const wrap = median(timeTrivial(['unshare', '-m', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec /bin/true'], 10));
    lines.push(`- crun runs through a wrapper (unshare -m, umount of the cgroup2 mount; ${CRUN} 1.8 refuses the hybrid layout): its times include that wrapper, ${fmt(wrap)} ms median on its own.`);
  }
  if (!haveTime) lines.push(`- peak RSS needs GNU time at ${GNU_TIME} (apt-get install time)`);
  else lines.push('- peak RSS: the largest maxrss (GNU time %M) over 3 extra cycles, measured apart from the timed ones.');
  process.stdout.write(`${lines.join('\n')}\n`);

  if (values.breakdown) {
    const berth = benches.find((b) => b.rt.kind === 'berth');
    const out: string[] = ['', '### berth-runtime breakdown', ''];
    if (!berth || berth.rt.missing) {
      out.push(`berth-runtime missing: ${berth?.rt.missing ?? 'not in --runtimes'}`);
    } else {
      const bin = berth.rt.binary;
      const shebang = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
      const node = shebang.startsWith('#!') ? (shebang.slice(2).trim().split(/\s+/)[0] ?? process.execPath) : process.execPath;
      const n = Math.max(10, iterations);
      const nodeStart = median(timeTrivial([node, '-e', '0'], n));
      const loadOnly = median(timeTrivial([node, bin, '--version'], n));
      const stateMissing = median(timeTrivial([bin, '--root', berth.root, 'state', 'berth-bench-no-such-id'], n));
      out.push('| measurement | median ms |', '|---|---:|');
      out.push(`| \`node -e 0\` (${node}) | ${fmt(nodeStart)} |`);
      out.push(`| \`berth-runtime --version\` (start-up + module loading) | ${fmt(loadOnly)} |`);
      out.push(`| \`berth-runtime state <missing id>\` (+ argument parsing, state lookup) | ${fmt(stateMissing)} |`);
      for (const op of OPS) out.push(`| \`${op}\` (from the table above) | ${fmt(median(berth.times[op]))} |`);
      out.push('', 'With BERTH_TRACE_TIMING=1 (whatever berth-runtime prints to stderr):', '');
      const env = runtimeEnv({ BERTH_TRACE_TIMING: '1' });
      const id = `berth-bench-trace-${randomBytes(3).toString('hex')}`;
      berth.ids.add(id);
      berth.ids.add(`${id}-run`);
      const steps: Array<[string, string[]]> = [
        ['create', ['create', '--bundle', bundle.dir, id]],
        ['start', ['start', id]],
      ];
      for (const [name, args] of steps) {
        const t = invoke(berth, args, false, env);
        out.push(`- ${name} (${fmt(t.ms)} ms):`, '```', t.stderr.trim() || '(nothing on stderr)', '```');
      }
      try {
        waitStopped(berth, id);
      } catch (err) {
        out.push(`- ${(err as Error).message}`);
      }
      for (const [name, args] of [
        ['delete', ['delete', id]],
        ['run', ['run', '--bundle', bundle.dir, `${id}-run`]],
      ] as Array<[string, string[]]>) {
        const t = invoke(berth, args, false, env);
        out.push(`- ${name} (${fmt(t.ms)} ms):`, '```', t.stderr.trim() || '(nothing on stderr)', '```');
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
} finally {
  cleanup();
}
