import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerStatusText, formatBytes, table, timeAgo } from './format.ts';
import { ProgressRenderer } from './progress.ts';

const L1 = `sha256:${'a'.repeat(64)}`;
const L2 = `sha256:${'b'.repeat(64)}`;
const CFG = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 10 };

function sink() {
  const chunks: string[] = [];
  return { chunks, write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

describe('ProgressRenderer', () => {
  it('off a terminal prints one plain line per layer state change, never ANSI codes', () => {
    const out = sink();
    let t = 0;
    const r = new ProgressRenderer(out, { tty: false, now: () => t });
    r.pull({
      kind: 'manifest',
      digest: CFG.digest,
      config: CFG,
      layers: [
        { ...CFG, digest: L1, size: 2000 },
        { ...CFG, digest: L2, size: 5 },
      ],
    });
    r.pull({ kind: 'unpack', digest: L1, chainId: L1, state: 'unpacking' });
    for (const cur of [0, 500, 1000, 2000]) {
      t += 300;
      r.pull({ kind: 'blob', role: 'layer', digest: L1, state: 'downloading', current: cur, total: 2000 });
    }
    r.pull({ kind: 'blob', role: 'layer', digest: L1, state: 'done', current: 2000, total: 2000 });
    r.pull({ kind: 'unpack', digest: L1, chainId: L1, state: 'done' });
    r.pull({ kind: 'blob', role: 'layer', digest: L2, state: 'exists', current: 5, total: 5 });
    r.pull({ kind: 'unpack', digest: L2, chainId: L2, state: 'exists' });
    r.finish();
    assert.deepEqual(out.text().split('\n').filter(Boolean), [
      'aaaaaaaaaaaa: waiting',
      'bbbbbbbbbbbb: waiting',
      'aaaaaaaaaaaa: downloading 0B/2.00kB',
      'aaaaaaaaaaaa: extracting 2.00kB/2.00kB',
      'aaaaaaaaaaaa: done 2.00kB/2.00kB',
      'bbbbbbbbbbbb: exists 5B/5B',
    ]);
    assert.doesNotMatch(out.text(), /\x1b/);
  });

  it('on a terminal redraws every layer in place with cursor movement, a bar and a speed', () => {
    const out = sink();
    let t = 1000;
    const r = new ProgressRenderer(out, { tty: true, now: () => t, columns: 120 });
    r.push({ kind: 'plan', blobs: [CFG, { ...CFG, digest: L1, size: 1_000_000 }] });
    r.push({ kind: 'blob', digest: CFG.digest, size: 10, state: 'exists' });
    t += 300;
    r.push({ kind: 'blob', digest: L1, size: 1_000_000, state: 'pushing', current: 0 });
    t += 500;
    r.push({ kind: 'blob', digest: L1, size: 1_000_000, state: 'pushing', current: 500_000 });
    const mid = r.lines();
    assert.match(mid[1]!, /^aaaaaaaaaaaa {2}uploading +\[=+> +\] 500kB\/1.00MB {2}\d[\d.]*[kM]B\/s$/);
    r.push({ kind: 'blob', digest: L1, size: 1_000_000, state: 'uploaded' });
    r.finish();
    const text = out.text();
    assert.match(text, /\x1b\[2A/, 'moves the cursor up over the two lines it drew');
    assert.match(text, /\x1b\[2K/, 'clears each line before redrawing it');
    assert.deepEqual(r.lines(), ['cccccccccccc  exists      10B/10B', 'aaaaaaaaaaaa  done        1.00MB/1.00MB']);
  });
});

describe('format', () => {
  it('prints sizes as docker does, times relative, tables aligned', () => {
    assert.equal(formatBytes(999), '999B');
    assert.equal(formatBytes(1_052_773), '1.05MB');
    assert.equal(formatBytes(45_600_000), '45.6MB');
    assert.equal(timeAgo(new Date(10_000).toISOString(), 10_000 + 3 * 3600_000), '3 hours ago');
    assert.equal(table(['A', 'BB'], [['xyz', '1']]), 'A     BB\nxyz   1\n');
  });

  it("prints a container's status as docker's ps does, from its recorded state", () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    const c = {
      status: 'running',
      restarting: false,
      startedAt: '2026-01-01T00:57:00Z',
      finishedAt: null,
      exitCode: null,
    };
    assert.equal(containerStatusText(c, now), 'Up 3 minutes');
    assert.equal(containerStatusText({ ...c, status: 'paused' }, now), 'Up 3 minutes (Paused)');
    assert.equal(containerStatusText({ ...c, startedAt: '2026-01-01T00:59:59.500Z' }, now), 'Up Less than a second');
    const stopped = { ...c, status: 'stopped', finishedAt: '2026-01-01T00:58:00Z', exitCode: 3 };
    assert.equal(containerStatusText(stopped, now), 'Exited (3) 2 minutes ago');
    assert.equal(containerStatusText({ ...stopped, restarting: true }, now), 'Restarting (3) 2 minutes ago');
    assert.equal(containerStatusText({ ...c, status: 'created', startedAt: null }, now), 'Created');
  });
});
