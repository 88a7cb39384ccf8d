import assert from 'node:assert/strict';
import { test } from 'node:test';
import { terminalScreen as screen } from '../../../test/lib/terminal-screen.ts';
import { BuildProgress, progressMode } from './build-progress.ts';

function sink() {
  const chunks: string[] = [];
  return { chunks, write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

test('plain: one line per step, CACHED, output as it comes, warnings on stderr', () => {
  const out = sink();
  const err = sink();
  const p = new BuildProgress({ mode: 'plain', out, err });
  p.event({ kind: 'step', stage: '0', step: 1, total: 2, instruction: 'FROM busybox', line: 1, cached: false });
  p.event({ kind: 'step-done', step: 1 });
  p.event({ kind: 'step', stage: '0', step: 2, total: 2, instruction: 'RUN echo hi', line: 2, cached: true });
  p.event({ kind: 'output', text: 'hi\n', step: 2 });
  p.event({ kind: 'warning', text: 'careful' });
  p.finish(true);
  assert.equal(out.text(), '#1 [0] FROM busybox\n#2 [0] RUN echo hi CACHED\nhi\n');
  assert.equal(err.text(), 'warning: careful\n');
  assert.ok(!out.text().includes('\x1b'));
});

test('tty: steps redrawn in place with state and time, the running step output folded below, a final summary', () => {
  let now = 1000;
  const out = sink();
  const err = sink();
  const p = new BuildProgress({ mode: 'tty', out, err, now: () => now, columns: 80, rows: 30 });
  p.event({ kind: 'step', stage: 'gen', step: 1, total: 3, instruction: 'FROM busybox', line: 1, cached: false });
  p.event({ kind: 'step-done', step: 1 });
  p.event({ kind: 'step', stage: 'gen', step: 2, total: 3, instruction: 'COPY a /a', line: 2, cached: true });
  now += 500;
  p.event({ kind: 'step', stage: 'gen', step: 3, total: 3, instruction: 'RUN make', line: 3, cached: false });
  for (let i = 1; i <= 9; i++) p.event({ kind: 'output', text: `line ${i}\n`, step: 3 });
  now += 1200;
  p.event({ kind: 'output', text: 'partial', step: 3 });
  let s = screen(out.text());
  assert.match(s[0]!, /^\[\+\] Building 1\.7s \(2\/3\)$/);
  assert.match(s[1]!, /^ => \[gen\] FROM busybox +0\.0s$/);
  assert.match(s[2]!, /^ => CACHED \[gen\] COPY a \/a +0\.0s$/);
  assert.match(s[3]!, /^ => \[gen\] RUN make +1\.2s$/);
  // The last 6 lines of its output, the partial line last.
  assert.deepEqual(
    s.slice(4).map((l) => l.replace(/^ => => # /, '')),
    ['line 5', 'line 6', 'line 7', 'line 8', 'line 9', 'partial'],
  );
  assert.ok(
    s.every((l) => l.length < 80),
    'no line wraps',
  );
  assert.match(out.text(), /\x1b\[\d+A/, 'moves up to redraw');
  now += 300;
  p.event({ kind: 'step-done', step: 3 });
  p.event({ kind: 'warning', text: 'a build arg was not consumed' });
  p.finish(true);
  s = screen(out.text());
  assert.equal(s.length, 4, s.join('\n'));
  assert.match(s[0]!, /^\[\+\] Building 2\.0s \(3\/3\) FINISHED$/);
  assert.match(s[3]!, /^ => \[gen\] RUN make +1\.5s$/);
  assert.equal(err.text(), 'warning: a build arg was not consumed\n');
});

test('tty: a failed build marks the running step ERROR and keeps its output; steps beyond the height go above', () => {
  let now = 0;
  const out = sink();
  const p = new BuildProgress({ mode: 'tty', out, err: sink(), now: () => now, columns: 60, rows: 8 });
  for (let i = 1; i <= 10; i++) {
    p.event({ kind: 'step', stage: '0', step: i, total: 11, instruction: `ENV A${i}=1`, line: i, cached: false });
    p.event({ kind: 'step-done', step: i });
  }
  p.event({
    kind: 'step',
    stage: '0',
    step: 11,
    total: 11,
    instruction: `RUN ${'x'.repeat(100)}`,
    line: 11,
    cached: false,
  });
  p.event({ kind: 'output', text: 'boom\n', step: 11 });
  now += 100;
  p.finish(false);
  const s = screen(out.text());
  const header = s.findIndex((l) => l.startsWith('[+]'));
  assert.match(s[header]!, /ERROR$/);
  assert.ok(
    s.slice(0, header).some((l) => /ENV A1=1/.test(l)),
    'finished steps that did not fit were written above',
  );
  const err = s.findIndex((l) => l.startsWith(' => ERROR [0] RUN xxx'));
  assert.ok(err > header, s.join('\n'));
  assert.ok(s[err]!.length < 60 && s[err]!.includes('…'), 'a long instruction is cut to the width');
  assert.equal(s[err + 1], ' => => # boom');
  assert.equal(new Set(s.filter((l) => /ENV A1=1/.test(l))).size, 1);
});

test('progressMode: auto is tty on a terminal, plain off one; plain and tty as given', () => {
  assert.equal(progressMode(undefined, true), 'tty');
  assert.equal(progressMode('auto', false), 'plain');
  assert.equal(progressMode('plain', true), 'plain');
  assert.equal(progressMode('tty', false), 'tty');
});
