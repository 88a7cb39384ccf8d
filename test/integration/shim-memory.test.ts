// berth-shim's memory: PSS from /proc/<pid>/smaps_rollup of shims supervising running containers
// that write output to the log and to an attached client. Target (issue 6): ≤ 2 MB PSS per shim.
// Prints the numbers (one shim alone, and each of several at once, which share the binary's pages).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { attach, waitExit } from '../../src/shim/index.ts';
import { shimTest } from './shim-harness.ts';

function rollup(pid: number): { pss: number; rss: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]);
  return { pss: kb('Pss'), rss: kb('Rss') };
}

const TARGET_KB = 2048;
const CHATTY = 'i=0; while true; do echo "line $i $(date)"; echo "err $i" >&2; i=$((i+1)); sleep 0.01; done';

shimTest('PSS of a shim with a running, chatty container and an attached client', async (s, t) => {
  const shims: { id: string; stateDir: string; shimPid: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const id = s.id();
    const info = await s.start(id, {
      bundle: s.bundle({ args: ['sh', '-c', CHATTY] }),
      logFormat: i % 2 ? 'cri' : 'json-file',
      stdin: true,
      logMaxSize: 100_000,
      logMaxFiles: 2,
    });
    s.runtime('start', id);
    shims.push({ id, stateDir: info.stateDir, shimPid: info.shimPid });
  }
  let seen = 0;
  const sink = new (await import('node:stream')).Writable({
    write(chunk: Buffer, _e, cb) {
      seen += chunk.length;
      cb();
    },
  });
  const a = attach(shims[0]!.stateDir, { stdout: sink });
  await a.ready;
  a.write(Buffer.from('ignored input\n'));
  await new Promise((r) => setTimeout(r, 1500)); // output flows through logs, rotation and the client
  assert.ok(seen > 0, 'the attached client got output');
  const all = shims.map((x) => rollup(x.shimPid));
  const mean = Math.round(all.reduce((n, r) => n + r.pss, 0) / all.length);
  const max = Math.max(...all.map((r) => r.pss));
  const msg = `berth-shim PSS with 5 shims running: ${all.map((r) => r.pss).join(', ')} kB (mean ${mean} kB, max ${max} kB; RSS ${all[0]!.rss} kB)`;
  t.diagnostic(msg);
  console.log(msg);
  a.close();
  for (const x of shims) s.runtime('kill', x.id, 'KILL');
  for (const x of shims) await waitExit(x.stateDir);
  assert.ok(max <= TARGET_KB, `every shim ≤ ${TARGET_KB} kB PSS, got ${max} kB`);
});

shimTest('PSS of one shim alone (it pays for every page of its binary it touched)', async (s, t) => {
  const id = s.id();
  const info = await s.start(id, {
    bundle: s.bundle({ args: ['sh', '-c', CHATTY], terminal: true }),
    terminal: true,
    stdin: true,
  });
  s.runtime('start', id);
  await new Promise((r) => setTimeout(r, 500));
  const r = rollup(info.shimPid);
  const msg = `berth-shim PSS alone (terminal mode): ${r.pss} kB (RSS ${r.rss} kB)`;
  t.diagnostic(msg);
  console.log(msg);
  s.runtime('kill', id, 'KILL');
  await waitExit(info.stateDir);
  assert.ok(r.pss <= TARGET_KB, `≤ ${TARGET_KB} kB PSS, got ${r.pss} kB`);
});
