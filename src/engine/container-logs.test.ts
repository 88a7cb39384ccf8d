import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readLogs } from './container-logs.ts';

const dir = mkdtempSync('/tmp/berth-logs-');
after(() => rmSync(dir, { recursive: true, force: true }));

const cri = (n: number) => `2026-12-07T05:00:00.${String(n).padStart(9, '0')}Z stdout F line ${n}\n`;

test("follow across a rotation (the kubelet's rename + reopen, or the shim's): the lines written to the old file after the last read are not lost", async () => {
  const path = join(dir, '0.log');
  writeFileSync(path, cri(1));
  let running = true;
  const it = readLogs(path, { follow: true }, () => running);
  assert.equal((await it.next()).value?.log, 'line 1\n');
  // Between two reads of the follower: the writer adds a line, the file is renamed, and the writer
  // goes on in a new file at the old name.
  appendFileSync(path, cri(2));
  renameSync(path, `${path}.20261207-050000`);
  writeFileSync(path, cri(3));
  running = false;
  const rest: string[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.log);
  assert.deepEqual(rest, ['line 2\n', 'line 3\n']);
});

test('follow of a file that appears later, and of the same file growing, reads each line once', async () => {
  const path = join(dir, 'late.log');
  let running = true;
  const it = readLogs(path, { follow: true }, () => running);
  const first = it.next();
  writeFileSync(path, cri(1));
  assert.equal((await first).value?.log, 'line 1\n');
  appendFileSync(path, `${cri(2)}2026-12-07T05:00:00.3Z stdout F half`);
  assert.equal((await it.next()).value?.log, 'line 2\n');
  appendFileSync(path, ' a line\n');
  running = false;
  const rest: string[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.log);
  assert.deepEqual(rest, ['half a line\n']);
});
