// The runtime benchmark: create, start, delete and `run` of /bin/true, `run` of /bin/true with a
// memory (64 MiB) and pids (100) limit, `exec <id> true` into a running container, and `state` of
// and `kill <id> CONT` to that container (harmless to it: the verbs' own cost, status derivation
// and signalling), with berth-runtime, runc and crun, interleaved round-robin in one process so
// that all see the same machine, then medians, p90, ratios vs runc and each runtime's peak RSS,
// as a markdown table.
//   node bench/runtime/run.ts [--iterations N] [--runtimes berth,berth-node,runc,crun] [--breakdown]
// berth is berth-runtime as installed: create, run and exec go to its plan server (docs/native.md),
// which its first call starts (the warm-up cycles absorb that); berth-node is the same binary with
// BERTH_RUNTIME_PLAN_SERVER=0, every create, run and exec starting Node. The plan server's RSS is
// reported apart: GNU time sees only the front it serves.
// --breakdown adds where berth's time goes: Node start-up, module loading, `state` of a running
// container, berth-init on its own (a foreground plan CLONE 0 + EXEC /bin/true, fed as a file on
// its sync fd), and whatever berth-runtime prints to stderr with BERTH_TRACE_TIMING=1.
// It never fails because berth is missing: it reports it as missing. Not part of the test suite.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeFrame, encodePlan, Frame, int, op, PlanMode, str, strs } from '../../src/sys/plan.ts';
import { makeBundle } from '../../test/lib/bundle.ts';
import {
  CRUN,
  REPO_ROOT,
  removeCgroups,
  resolveRuntime,
  type RuntimeUnderTest,
  runtimeEnv,
} from '../../test/lib/runtime.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '20' },
    runtimes: { type: 'string', default: 'berth,berth-node,runc,crun' },
    breakdown: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '2' },
  },
});
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
if (!Number.isInteger(iterations) || iterations < 1)
  throw new Error(`--iterations: expected a positive integer, got ${values.iterations}`);

const GNU_TIME = '/usr/bin/time';
const OPS = ['create', 'start', 'state', 'kill', 'delete', 'run', 'run-limits', 'exec'] as const;
type Op = (typeof OPS)[number];

interface Bench {
  rt: RuntimeUnderTest;
  root: string;
  times: Record<Op, number[]>;
  rssKiB: Record<Op, number[]>;
  failures: string[];
  ids: Set<string>;
  /** The running container that `exec` goes into (made before the timed cycles), if it started. */
  execId?: string;
  /** Added to every command's environment. */
  env: NodeJS.ProcessEnv;
}

const work = mkdtempSync('/tmp/berth-bench-');
const cgroupsPath = `/berth-bench-${randomBytes(4).toString('hex')}`;
const bundle = makeBundle(join(work, 'bundle'), { args: ['/bin/true'], cgroupsPath });
const MEMORY_LIMIT = 64 * 1024 * 1024;
const PIDS_LIMIT = 100;
const limitsCgroupsPath = `${cgroupsPath}-limits`;
const limitsBundle = makeBundle(join(work, 'bundle-limits'), {
  args: ['/bin/true'],
  cgroupsPath: limitsCgroupsPath,
  edit: (spec) => {
    spec.linux.resources = { ...spec.linux.resources, memory: { limit: MEMORY_LIMIT }, pids: { limit: PIDS_LIMIT } };
  },
});
const cgroupsToRemove = [cgroupsPath, limitsCgroupsPath];

const benches: Bench[] = values.runtimes
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '')
  .map((name) => ({
    rt: name === 'berth-node' ? { ...resolveRuntime('berth'), name } : resolveRuntime(name),
    env: name === 'berth-node' ? { BERTH_RUNTIME_PLAN_SERVER: '0' } : {},
    root: mkdtempSync(join(work, `root-${name.replace(/\W/g, '_')}-`)),
    times: { create: [], start: [], state: [], kill: [], delete: [], run: [], 'run-limits': [], exec: [] },
    rssKiB: { create: [], start: [], state: [], kill: [], delete: [], run: [], 'run-limits': [], exec: [] },
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
function invoke(b: Bench, args: string[], rss = false, env: NodeJS.ProcessEnv = runtimeEnv(b.env)): Timed {
  const [bin, ...pre] = b.rt.argv;
  const argv = [...pre, '--root', b.root, ...args];
  const rssFile = join(work, 'rss');
  const [cmd, cmdArgs] = rss ? [GNU_TIME, ['-f', '%M', '-o', rssFile, bin!, ...argv]] : [bin!, argv];
  // stderr goes to a file, never a pipe: a created container inherits it, and a pipe it holds open
  // would keep spawnSync waiting until the container exits.
  const errFile = join(work, 'stderr');
  const errFd = openSync(errFile, 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, cmdArgs, {
    stdio: ['ignore', 'ignore', errFd],
    timeout: 60_000,
    killSignal: 'SIGKILL',
    env,
  });
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
    const r = spawnSync(b.rt.argv[0]!, [...b.rt.argv.slice(1), '--root', b.root, 'state', id], {
      encoding: 'utf8',
      timeout: 10_000,
      env: runtimeEnv(b.env),
    });
    if (r.status !== 0) throw new Error(`${b.rt.name}: state ${id} failed: ${(r.stderr ?? '').trim()}`);
    if ((JSON.parse(r.stdout) as { status: string }).status === 'stopped') return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
  throw new Error(`${b.rt.name}: container ${id} did not stop within 10 s`);
}

/**
 * Starts the long-running container that `exec` goes into, with its own bundle and cgroup (the
 * runtimes' containers live side by side). A failure is recorded and leaves `exec` unmeasured.
 */
function startExecTarget(b: Bench): void {
  const name = b.rt.name.replace(/\W/g, '_');
  const cg = `${cgroupsPath}-exec-${name}`;
  cgroupsToRemove.push(cg);
  const dir = join(work, `bundle-exec-${name}`);
  makeBundle(dir, { args: ['/bin/sleep', '1000000'], cgroupsPath: cg });
  const id = `berth-bench-${name}-exec-${randomBytes(3).toString('hex')}`;
  b.ids.add(id);
  for (const args of [
    ['create', '--bundle', dir, id],
    ['start', id],
  ]) {
    const t = invoke(b, args);
    if (!t.ok) {
      b.failures.push(`exec target ${args[0]}: ${t.stderr.trim().split('\n').at(-1)}`);
      return;
    }
  }
  b.execId = id;
}

/** One create/start/delete cycle, one run, one run with limits, one exec; records times unless `record` is false. */
function cycle(b: Bench, n: number, record: boolean, rss: boolean): void {
  const id = `berth-bench-${b.rt.name}-${n}-${randomBytes(3).toString('hex')}`;
  b.ids.add(id);
  const note = (which: Op, t: Timed) => {
    if (!t.ok) {
      b.failures.push(`${which}: ${t.stderr.trim().split('\n').at(-1)}`);
      return false;
    }
    if (record && !rss) b.times[which].push(t.ms);
    if (rss && t.rssKiB !== undefined) b.rssKiB[which].push(t.rssKiB);
    return true;
  };
  // create/start/delete depend on each other; run, run-limits and exec do not depend on them.
  const lifecycle = () => {
    if (!note('create', invoke(b, ['create', '--bundle', bundle.dir, id], rss))) return;
    if (!note('start', invoke(b, ['start', id], rss))) return;
    try {
      waitStopped(b, id);
    } catch (err) {
      b.failures.push(`wait for stopped: ${(err as Error).message}`);
      return;
    }
    note('delete', invoke(b, ['delete', id], rss));
  };
  lifecycle();
  const runId = `${id}-run`;
  b.ids.add(runId);
  note('run', invoke(b, ['run', '--bundle', bundle.dir, runId], rss));
  const limitsId = `${id}-lim`;
  b.ids.add(limitsId);
  note('run-limits', invoke(b, ['run', '--bundle', limitsBundle.dir, limitsId], rss));
  if (b.execId) {
    note('exec', invoke(b, ['exec', b.execId, 'true'], rss));
    note('state', invoke(b, ['state', b.execId], rss));
    // SIGCONT: a running process ignores it, so the target runs on for the next cycle.
    note('kill', invoke(b, ['kill', b.execId, 'CONT'], rss));
  }
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
  removeCgroups(cgroupsToRemove);
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

/**
 * berth-init on its own: a foreground plan that forks without new namespaces and execs /bin/true
 * on the host. The PLAN frame sits in a regular file given as the sync fd (berth-init reads it from
 * offset 0 and, the fd being no socket, writes its PID frame after it with write(2)).
 */
function timeBerthInit(n: number): { ms: number[]; error?: string } {
  const init = join(REPO_ROOT, 'native/build/berth-init');
  if (!existsSync(init)) return { ms: [], error: `${init} does not exist (bash scripts/build.sh)` };
  const plan = encodePlan([
    op('MODE', int(PlanMode.foreground)),
    op('CLONE', int(0)),
    op('EXEC', str('/bin/true'), strs(['/bin/true']), strs([])),
  ]);
  const frame = encodeFrame(Frame.PLAN, plan);
  const file = join(work, 'init-sync');
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    writeFileSync(file, frame);
    const fd = openSync(file, 'r+');
    const t0 = process.hrtime.bigint();
    const r = spawnSync(init, ['3'], { stdio: ['ignore', 'ignore', 'pipe', fd], timeout: 30_000, encoding: 'utf8' });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    closeSync(fd);
    // A PID frame (8 bytes of header, a pid, the start time) after the plan says the clone happened.
    if (r.status !== 0 || statSync(file).size <= frame.length + 8) {
      return {
        ms,
        error: `berth-init exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim() || String(r.error ?? '')}`,
      };
    }
    ms.push(t);
  }
  return { ms };
}

/** The plan servers of this checkout's berth-runtime (their command line names its Node bundle). */
function planServers(): number[] {
  const bundlePath = join(REPO_ROOT, 'dist/bin/berth-runtime-node');
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes('--plan-server') && argv.includes(bundlePath)) out.push(Number(entry));
    } catch {}
  }
  return out;
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
  for (const b of live) startExecTarget(b);
  for (let i = 0; i < warmup + iterations; i++) {
    // Rotate who goes first so that no runtime always runs right after another's teardown.
    for (let k = 0; k < live.length; k++) cycle(live[(i + k) % live.length]!, i, i >= warmup, false);
  }
  if (haveTime) for (let i = 0; i < 3; i++) for (const b of live) cycle(b, 10_000 + i, false, true);

  const runc = benches.find((b) => b.rt.kind === 'runc' && !b.rt.missing);
  const lines: string[] = [];
  lines.push(`### berth runtime benchmark (${iterations} iterations, interleaved; /bin/true in a busybox bundle)`);
  lines.push('');
  lines.push(
    `\`run-limits\`: \`run\` with linux.resources.memory.limit ${MEMORY_LIMIT / 1024 / 1024} MiB and pids.limit ${PIDS_LIMIT}; \`exec\`: \`exec <id> true\` into a running container (busybox sleep); \`state\` and \`kill <id> CONT\`: of that running container.`,
  );
  lines.push('');
  lines.push('| op | runtime | median ms | p90 ms | vs runc (median) | peak RSS MiB |');
  lines.push('|---|---|---:|---:|---:|---:|');
  for (const o of OPS) {
    for (const b of benches) {
      if (b.rt.missing) {
        lines.push(`| ${o} | ${b.rt.name} | missing | | | |`);
        continue;
      }
      const med = median(b.times[o]);
      const ratio = runc ? med / median(runc.times[o]) : Number.NaN;
      const rss = b.rssKiB[o].length ? Math.max(...b.rssKiB[o]) / 1024 : Number.NaN;
      lines.push(
        `| ${o} | ${b.rt.name} | ${fmt(med)} | ${fmt(quantile(b.times[o], 0.9))} | ${Number.isFinite(ratio) ? `${fmt(ratio, 2)}×` : 'n/a'} | ${fmt(rss)} |`,
      );
    }
  }
  lines.push('');
  for (const b of benches) {
    if (b.rt.missing) lines.push(`- ${b.rt.name}: missing (${b.rt.missing})`);
    else if (b.failures.length)
      lines.push(`- ${b.rt.name}: ${b.failures.length} failed operations, first: ${b.failures[0]}`);
  }
  if (benches.some((b) => b.rt.kind === 'crun' && !b.rt.missing)) {
    const wrap = median(
      timeTrivial(['unshare', '-m', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec /bin/true'], 10),
    );
    lines.push(
      `- crun runs through a wrapper (unshare -m, umount of the cgroup2 mount; ${CRUN} 1.8 refuses the hybrid layout): its times include that wrapper, ${fmt(wrap)} ms median on its own.`,
    );
  }
  for (const pid of planServers()) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]) / 1024;
    const hwm = Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1]) / 1024;
    lines.push(
      `- berth-runtime's plan server (pid ${pid}, serving berth's create, run and exec; not in the peak RSS column, which is the front's): RSS ${fmt(rss)} MiB now, ${fmt(hwm)} MiB at most.`,
    );
  }
  if (!haveTime) lines.push(`- peak RSS needs GNU time at ${GNU_TIME} (apt-get install time)`);
  else
    lines.push('- peak RSS: the largest maxrss (GNU time %M) over 3 extra cycles, measured apart from the timed ones.');
  process.stdout.write(`${lines.join('\n')}\n`);

  if (values.breakdown) {
    const berth = benches.find((b) => b.rt.kind === 'berth');
    const out: string[] = ['', '### berth-runtime breakdown', ''];
    if (!berth || berth.rt.missing) {
      out.push(`berth-runtime missing: ${berth?.rt.missing ?? 'not in --runtimes'}`);
    } else {
      const bin = berth.rt.binary;
      // berth-runtime is the native front; the verbs that need Node run the bundle beside it.
      const nodeBin = join(dirname(bin), 'berth-runtime-node');
      const shebang = existsSync(nodeBin) ? (readFileSync(nodeBin, 'utf8').split('\n', 1)[0] ?? '') : '';
      const node = shebang.startsWith('#!')
        ? (shebang.slice(2).trim().split(/\s+/)[0] ?? process.execPath)
        : process.execPath;
      const n = Math.max(10, iterations);
      const nodeStart = median(timeTrivial([node, '-e', '0'], n));
      // Through its shebang, as the front execs it: with its compile cache.
      const loadOnly = median(timeTrivial([nodeBin, '--version'], n));
      const stateMissing = median(timeTrivial([bin, '--root', berth.root, 'state', 'berth-bench-no-such-id'], n));
      const stateRunning = berth.execId
        ? median(timeTrivial([bin, '--root', berth.root, 'state', berth.execId], n))
        : Number.NaN;
      const trueAlone = median(timeTrivial(['/bin/true'], n));
      const init = timeBerthInit(n);
      const initMs = median(init.ms);
      out.push('| measurement | median ms |', '|---|---:|');
      out.push(`| \`/bin/true\` spawned directly | ${fmt(trueAlone)} |`);
      out.push(
        `| \`berth-init\` alone: foreground plan MODE 1, CLONE 0, EXEC /bin/true (memfd re-exec, decode, fork, exec, wait) | ${init.error ? `failed: ${init.error}` : fmt(initMs)} |`,
      );
      out.push(`| \`node -e 0\` (${node}) | ${fmt(nodeStart)} |`);
      out.push(`| \`berth-runtime-node --version\` (the Node part: start-up + module loading) | ${fmt(loadOnly)} |`);
      out.push(`| \`berth-runtime state <missing id>\` (+ argument parsing, state lookup) | ${fmt(stateMissing)} |`);
      out.push(
        `| \`berth-runtime state <running id>\` (the native front: reading the verbs file, checking the init's pid and start time) | ${berth.execId ? fmt(stateRunning) : 'n/a (no running container)'} |`,
      );
      for (const o of OPS) out.push(`| \`${o}\` (from the table above) | ${fmt(median(berth.times[o]))} |`);
      out.push('');
      out.push(
        `berth-init's share: ${fmt(initMs)} ms for a whole foreground plan, ${fmt(initMs - trueAlone)} ms more than spawning /bin/true directly, against ${fmt(nodeStart)} ms for \`node -e 0\` alone (berth-init / node -e 0 = ${fmt(initMs / nodeStart, 2)}).`,
      );
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
      berth.ids.add(`${id}-lim`);
      const later: Array<[string, string[]]> = [
        ['delete', ['delete', id]],
        ['run', ['run', '--bundle', bundle.dir, `${id}-run`]],
        ['run-limits', ['run', '--bundle', limitsBundle.dir, `${id}-lim`]],
      ];
      if (berth.execId) later.push(['exec', ['exec', berth.execId, 'true']]);
      for (const [name, args] of later) {
        const t = invoke(berth, args, false, env);
        out.push(`- ${name} (${fmt(t.ms)} ms):`, '```', t.stderr.trim() || '(nothing on stderr)', '```');
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
} finally {
  cleanup();
}
