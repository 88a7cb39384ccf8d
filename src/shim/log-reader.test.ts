import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type LogEntry, LineJoiner, parseLogLine, readLogs, timeToNanos } from './log-reader.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-shim-logs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T = (n: number) => `2026-01-02T03:04:05.00000000${n}Z`;

async function all(it: AsyncIterable<LogEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(`${e.stream}:${e.line}`);
  return out;
}

test('CRI lines: time, stream, P/F tag, the rest verbatim (spaces and an empty message included)', () => {
  assert.deepEqual(parseLogLine('cri', `${T(1)} stdout F hello  world `), {
    stream: 'stdout',
    time: T(1),
    partial: false,
    content: 'hello  world ',
  });
  assert.equal(parseLogLine('cri', `${T(1)} stderr P `)?.partial, true);
  assert.equal(parseLogLine('cri', `${T(1)} stderr F`)?.content, '');
  assert.equal(parseLogLine('cri', `${T(1)} other F x`), undefined);
  assert.equal(parseLogLine('cri', 'garbage'), undefined);
});

test('json-file lines: a log value without its newline is a piece of a line', () => {
  assert.deepEqual(parseLogLine('json-file', JSON.stringify({ log: 'a\tb\n', stream: 'stderr', time: T(2) })), {
    stream: 'stderr',
    time: T(2),
    partial: false,
    content: 'a\tb',
  });
  assert.equal(parseLogLine('json-file', JSON.stringify({ log: 'part', stream: 'stdout', time: T(2) }))?.partial, true);
  assert.equal(parseLogLine('json-file', '{"log":1}'), undefined);
  assert.equal(parseLogLine('json-file', 'not json'), undefined);
});

test("pieces are joined per stream, with the first piece's time; unfinished ones are flushed", () => {
  const j = new LineJoiner();
  assert.equal(j.push({ stream: 'stdout', time: T(1), partial: true, content: 'ab' }), undefined);
  assert.deepEqual(j.push({ stream: 'stderr', time: T(2), partial: false, content: 'err' }), {
    stream: 'stderr',
    time: T(2),
    line: 'err',
  });
  assert.equal(j.push({ stream: 'stdout', time: T(3), partial: true, content: 'cd' }), undefined);
  assert.deepEqual(j.push({ stream: 'stdout', time: T(4), partial: false, content: 'ef' }), {
    stream: 'stdout',
    time: T(1),
    line: 'abcdef',
  });
  j.push({ stream: 'stderr', time: T(5), partial: true, content: 'tail' });
  assert.deepEqual(j.flush(), [{ stream: 'stderr', time: T(5), line: 'tail' }]);
  assert.deepEqual(j.flush(), []);
});

test('times compare to the nanosecond, time zones included', () => {
  assert.equal(timeToNanos('1970-01-01T00:00:01.000000002Z'), 1_000_000_002n);
  assert.equal(timeToNanos('1970-01-01T01:00:01+01:00'), 1_000_000_000n);
  assert.throws(() => timeToNanos('yesterday'), /expected RFC 3339/);
});

test('rotated files are read oldest first; tail, since and timestamps apply to joined lines', async () => {
  const log = join(dir, 'rot.log');
  writeFileSync(`${log}.2`, `${T(1)} stdout F one\n${T(2)} stdout P tw\n`);
  writeFileSync(`${log}.1`, `${T(3)} stdout F o\n${T(4)} stderr F three\n`);
  writeFileSync(log, `${T(5)} stdout F four\n${T(6)} stdout P fi`); // the last line is being written
  assert.deepEqual(await all(readLogs(log, 'cri')), ['stdout:one', 'stdout:two', 'stderr:three', 'stdout:four']);
  assert.deepEqual(await all(readLogs(log, 'cri', { tail: 2 })), ['stderr:three', 'stdout:four']);
  assert.deepEqual(await all(readLogs(log, 'cri', { tail: 0 })), []);
  assert.deepEqual(await all(readLogs(log, 'cri', { since: T(4) })), ['stderr:three', 'stdout:four']);
  assert.deepEqual(await all(readLogs(log, 'cri', { tail: 1, timestamps: true })), [`stdout:${T(5)} four`]);
  await assert.rejects(all(readLogs(join(dir, 'missing.log'), 'cri')), /does not exist/);
  await assert.rejects(all(readLogs(log, 'cri', { tail: -1 })), /tail must be an integer/);
});

test('follow goes on with new data and ends at exit.json, after reading the log to its end', async () => {
  const log = join(dir, 'follow.log');
  const state = join(dir, 'state');
  rmSync(state, { recursive: true, force: true });
  writeFileSync(log, `${JSON.stringify({ log: 'first\n', stream: 'stdout', time: T(1) })}\n`);
  const got: string[] = [];
  const reading = (async () => {
    for await (const e of readLogs(log, 'json-file', { follow: true, stateDir: state, pollMs: 10 })) got.push(e.line);
  })();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, ['first']);
  writeFileSync(
    log,
    `${JSON.stringify({ log: 'first\n', stream: 'stdout', time: T(1) })}\n${JSON.stringify({ log: 'last', stream: 'stdout', time: T(2) })}\n`,
  );
  (await import('node:fs')).mkdirSync(state);
  writeFileSync(join(state, 'exit.json'), '{}');
  await reading;
  assert.deepEqual(got, ['first', 'last']);
});
