// berthd's memory: resident set of the built daemon (dist/bin/berthd) when fresh and idle (before
// its first connection, and after a first request has loaded the native API's server), after an
// image is imported (which loads the transfer code), with N containers running, and once they are
// removed; and the growth per running container. RSS is split into anonymous memory and file pages
// (the node binary's and its libraries'). berthd runs on temp roots with --no-network; the
// containers are busybox `sleep 1000`, created and started through the native API, 10 at a time.
//   node bench/engine/memory.ts [--containers N]
// Not part of the test suite. Everything is removed at the end, even on failure or Ctrl-C.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BerthClient } from '../../src/client/client.ts';
import { busyboxLayer } from '../../test/lib/interop/busybox-archive.ts';
import { cleanEnv, mountsUnder, processesUnder, stopPid } from '../../test/lib/interop/harness.ts';

const { values } = parseArgs({ options: { containers: { type: 'string', default: '50' } } });
const N = Number(values.containers);
if (!Number.isInteger(N) || N < 1)
  throw new Error(`--containers: expected a positive integer, got ${values.containers}`);
if (process.getuid?.() !== 0) throw new Error('bench/engine/memory.ts needs root');

const REPO = join(import.meta.dirname, '../..');
const BERTHD = join(REPO, 'dist/bin/berthd');
if (!existsSync(BERTHD)) throw new Error(`${BERTHD} does not exist: bash scripts/build.sh`);

type Sample = { what: string; rss: number; anon: number; file: number; pssAnon: number };

/** VmRSS, RssAnon, RssFile (status) and Pss_Anon (smaps_rollup) of `pid`, in KiB. */
function sample(pid: number, what: string): Sample {
  const field = (text: string, name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    what,
    rss: field(status, 'VmRSS'),
    anon: field(status, 'RssAnon'),
    file: field(status, 'RssFile'),
    pssAnon: field(rollup, 'Pss_Anon'),
  };
}

const root = mkdtempSync('/tmp/bbm-');
const runRoot = mkdtempSync('/tmp/bbn-');
const socket = join(runRoot, 'berthd.sock');
const client = new BerthClient(socket);
let proc: ChildProcess | undefined;
let log = '';

async function cleanup(): Promise<void> {
  if (proc?.pid && proc.exitCode === null) {
    for (const c of await client.list({ all: true }).catch(() => []))
      await client.remove(c.id, { force: true }).catch(() => {});
    await stopPid(proc.pid, 10_000);
  }
  for (const dir of [root, runRoot]) {
    for (const pid of processesUnder(dir)) await stopPid(pid, 3000, 'SIGKILL');
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
    await rm(dir, { recursive: true, force: true });
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

try {
  proc = spawn(BERTHD, ['--root', root, '--run-root', runRoot, '--no-network'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: cleanEnv(),
  });
  proc.stderr!.on('data', (b: Buffer) => (log += b));
  // Up once it says it serves the native API (no connection before the first sample).
  for (let i = 0; i < 600 && !log.includes('serving the native API'); i++) {
    if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}: ${log}`);
    await sleep(50);
  }
  if (!log.includes('serving the native API')) throw new Error(`berthd did not come up: ${log}`);
  const pid = proc.pid!;
  const samples: Sample[] = [];
  await sleep(2000);
  samples.push(sample(pid, 'fresh, idle (no connection yet)'));
  // The first connection loads the API server: seconds on a loaded machine (ping gives up after 2 s).
  for (let i = 0; i < 30 && !(await client.ping()); i++) await sleep(100);
  if (!(await client.ping())) throw new Error(`berthd does not answer /_ping: ${log}`);
  await client.list({ all: true });
  await sleep(2000);
  samples.push(sample(pid, 'fresh, idle (after the first requests)'));
  await client.importRootfs(Readable.from([await busyboxLayer()]), 'busybox:latest');
  const imported = Date.now();
  await sleep(2000);
  samples.push(sample(pid, 'after importing an image'));
  const ids: string[] = [];
  for (let i = 0; i < N; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, N - i) }, async () => {
        const { id } = await client.create({ image: 'busybox', cmd: ['sleep', '1000'] });
        await client.start(id);
        ids.push(id);
      }),
    );
  }
  await sleep(2000);
  samples.push(sample(pid, `${N} containers running`));
  // berthd sheds memory at its first quiet 10 s after a busy spell (src/engine/idle-shed.ts).
  await sleep(25_000);
  samples.push(sample(pid, `${N} containers running, quiet for 25 s`));
  for (const id of ids) await client.remove(id, { force: true });
  await sleep(2000);
  samples.push(sample(pid, 'after removing them'));
  // The layer apply worker stops 30 s after its last layer (src/archive/apply-layer.ts).
  await sleep(Math.max(25_000, imported + 32_000 - Date.now()));
  samples.push(sample(pid, 'idle again, 25 s after the removal'));
  const mib = (k: number) => (k / 1024).toFixed(1);
  const lines = [
    '### berthd memory (dist/bin/berthd, --no-network)',
    '',
    `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    '',
    '| state | VmRSS MiB | RssAnon MiB | RssFile MiB | Pss_Anon MiB |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const s of samples)
    lines.push(`| ${s.what} | ${mib(s.rss)} | ${mib(s.anon)} | ${mib(s.file)} | ${mib(s.pssAnon)} |`);
  const [, , before, running] = samples;
  lines.push(
    '',
    `Growth per running container: ${((running!.rss - before!.rss) / N).toFixed(0)} KiB RSS, ${((running!.pssAnon - before!.pssAnon) / N).toFixed(0)} KiB Pss_Anon (${N} containers).`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await cleanup();
}
