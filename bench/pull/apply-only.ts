// The unpack microbenchmark (`node bench/pull/run.ts --apply-only [--iterations N]`): applyLayer of
// each cached debootstrap layer blob (test/lib/debootstrap-image.ts) from disk into a fresh
// directory, against GNU `tar -xzf` of the same blob into another, interleaved, medians. Without a
// registry or daemons, so a change to src/archive can be measured in a minute.
//
// Rows: one per layer, then all layers one after the other, then all layers at once (what pull does
// for overlay snapshotters: every layer extracts into its own empty upperdir side by side). A third
// column, "gunzip+sha256", is the floor for berth: reading, decompressing (256 KiB chunks, as
// applyLayer) and hashing the blob on the main thread without writing anything.
// Nothing is deleted until the end (~1 GB of trees per iteration): on ext4 without a journal (this
// machine's root), inodes freed in the last 60–360 s are skipped when new ones are allocated, so
// creating files right after a big `rm -rf` costs up to twice as much, and whoever ran after the
// delete would pay for it.
// Needs root (owners, devices, trusted.* xattrs) and GNU tar. Leaves nothing behind.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { applyLayer } from '../../src/archive/apply-layer.ts';
import { debootstrapImage } from '../../test/lib/debootstrap-image.ts';

type Layer = Awaited<ReturnType<typeof debootstrapImage>>['layers'][number];

const median = (xs: number[]) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(3) : '–');

function tarExtract(file: string, dir: string): Promise<void> {
  return new Promise((res, rej) => {
    // As root GNU tar keeps owners and modes by default; --xattrs so it sets them too, as berth does.
    const child = spawn('tar', ['--xattrs', '--xattrs-include=*', '-xzf', file, '-C', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.once('error', rej);
    child.once('exit', (code) => (code === 0 ? res() : rej(new Error(`tar -xzf ${file}: exit ${code}: ${err}`))));
  });
}

async function berthApply(layer: Layer, dir: string): Promise<void> {
  const r = await applyLayer(createReadStream(layer.file), {
    mediaType: layer.mediaType,
    targetDir: dir,
    format: 'overlay',
    context: `bench layer ${layer.what}`,
    onWarning: () => {},
  });
  if (r.diffId !== layer.diffId) throw new Error(`layer ${layer.what}: DiffID ${r.diffId}, expected ${layer.diffId}`);
}

async function gunzipHash(layer: Layer): Promise<void> {
  const hash = createHash('sha256');
  // The same chunk size as applyLayer's inflater (extract-layer.ts), so that this is its floor.
  await pipeline(
    createReadStream(layer.file),
    zlib.createGunzip({ chunkSize: 256 * 1024 }),
    async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) hash.update(c);
    },
  );
  if (`sha256:${hash.digest('hex')}` !== layer.diffId)
    throw new Error(`layer ${layer.what}: gunzip+sha256 gave another DiffID`);
}

type Row = { label: string; berth: number[]; tar: number[]; floor: number[] };

export async function applyOnly(iterations: number, log: (m: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('--apply-only must run as root (owners, devices, trusted.* xattrs)');
  const image = await debootstrapImage(log);
  const work = await mkdtemp('/tmp/berth-bench-apply-');
  const rows: Row[] = image.layers.map((l, i) => ({
    label: `${i}: ${l.what} (${(l.uncompressedSize / 1e6).toFixed(1)} MB)`,
    berth: [],
    tar: [],
    floor: [],
  }));
  const seq: Row = { label: 'all layers, one after the other', berth: [], tar: [], floor: [] };
  const par: Row = { label: 'all layers at once (as pull does)', berth: [], tar: [], floor: [] };
  const load0 = loadavg();
  let n = 0;
  const fresh = async () => {
    const d = join(work, `d${n++}`);
    await mkdir(d);
    return d;
  };
  const timed = async (f: () => Promise<unknown>) => {
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
  };
  try {
    for (let it = 0; it < iterations; it++) {
      // Alternate which tool goes first, so neither always meets a warmer page cache.
      const berthFirst = it % 2 === 0;
      for (const [i, layer] of image.layers.entries()) {
        const row = rows[i]!;
        const runs: [number[], () => Promise<unknown>][] = [
          [row.berth, async () => berthApply(layer, await fresh())],
          [row.tar, async () => tarExtract(layer.file, await fresh())],
        ];
        if (!berthFirst) runs.reverse();
        // mkdir of the target is inside the timing for both: microseconds.
        for (const [xs, f] of runs) xs.push(await timed(f));
        row.floor.push(await timed(() => gunzipHash(layer)));
      }
      const sequential: [number[], (d: string, l: Layer) => Promise<unknown>][] = [
        [seq.berth, (d, l) => berthApply(l, d)],
        [seq.tar, (d, l) => tarExtract(l.file, d)],
      ];
      if (!berthFirst) sequential.reverse();
      for (const [xs, f] of sequential) {
        const dirs = await Promise.all(image.layers.map(() => fresh()));
        xs.push(
          await timed(async () => {
            for (const [i, l] of image.layers.entries()) await f(dirs[i]!, l);
          }),
        );
        const pdirs = await Promise.all(image.layers.map(() => fresh()));
        (xs === seq.berth ? par.berth : par.tar).push(
          await timed(() => Promise.all(image.layers.map((l, i) => f(pdirs[i]!, l)))),
        );
      }
      seq.floor.push(
        await timed(async () => {
          for (const l of image.layers) await gunzipHash(l);
        }),
      );
      par.floor.push(await timed(() => Promise.all(image.layers.map((l) => gunzipHash(l)))));
      log(
        `iteration ${it + 1}/${iterations}: all layers: berth ${fmt(seq.berth.at(-1)!)} s, tar ${fmt(seq.tar.at(-1)!)} s`,
      );
    }
  } finally {
    // GNU rm: several times faster than fs.rm's threadpool walk over ~100,000 entries per iteration.
    const r = spawnSync('rm', ['-rf', '--one-file-system', work], { stdio: 'inherit' });
    if (r.status !== 0) log(`rm -rf ${work} failed (status ${r.status}); remove it by hand`);
  }
  const load1 = loadavg();
  const lines = [
    `applyLayer (overlay format, from the cached blob on disk) vs GNU tar -xzf --xattrs, ${iterations} iteration(s), medians in seconds; page cache not dropped.`,
    '',
    '| layer | berth applyLayer | GNU tar | berth / tar | gunzip+sha256 (floor) |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of [...rows, seq, par]) {
    const b = median(r.berth);
    const t = median(r.tar);
    lines.push(`| ${r.label} | ${fmt(b)} | ${fmt(t)} | ${(b / t).toFixed(2)}× | ${fmt(median(r.floor))} |`);
  }
  lines.push(
    '',
    `- Machine: ${cpus().length} CPUs; load average ${load0.map((x) => x.toFixed(1)).join(' ')} at the start, ${load1.map((x) => x.toFixed(1)).join(' ')} at the end.`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}
