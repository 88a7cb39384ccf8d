import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkPsArgs, parsePsOutput, psTop } from './ps-top.ts';

const AUX = `USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           1  0.0  0.1 167744 11904 ?        Ss   15:00   0:02 /sbin/init splash
root        4242  0.0  0.0   2268  1360 ?        Ss   15:24   0:00 sleep 300
root        4250  0.0  0.0   4400  3000 pts/0    S+   15:25   0:00 sh -c echo  two   spaces
`;

test('ps output: the header gives the titles; rows are the given pids; the last column keeps its spaces', () => {
  const t = parsePsOutput(AUX, [4242, 4250, 99999]);
  assert.deepEqual(t.titles, ['USER', 'PID', '%CPU', '%MEM', 'VSZ', 'RSS', 'TTY', 'STAT', 'START', 'TIME', 'COMMAND']);
  assert.deepEqual(t.processes, [
    ['root', '4242', '0.0', '0.0', '2268', '1360', '?', 'Ss', '15:24', '0:00', 'sleep 300'],
    ['root', '4250', '0.0', '0.0', '4400', '3000', 'pts/0', 'S+', '15:25', '0:00', 'sh -c echo two spaces'],
  ]);
  assert.deepEqual(parsePsOutput(AUX, []).processes, []);
});

test('ps output: a PID column anywhere; thread rows follow their process; no PID column is dockerd’s error', () => {
  const threads = `COMMAND  PID   TID\nsleep    4242  -\n-        -     4242\n-        -     4243\nother    7     -\n-        -     7\n`;
  assert.deepEqual(parsePsOutput(threads, [4242]).processes, [
    ['sleep', '4242', '-'],
    ['-', '-', '4242'],
    ['-', '-', '4243'],
  ]);
  assert.deepEqual(parsePsOutput('COMMAND PID\nsleep 4242\n', [4242]).titles, ['COMMAND', 'PID']);
  assert.throws(() => parsePsOutput('COMMAND\nsleep\n', [1]), { message: "Couldn't find PID field in ps output" });
  assert.throws(() => parsePsOutput('PID CMD\nx y\n', [1]), { message: "Unexpected pid 'x' in ps output" });
});

test('ps options that would name another column PID are refused, as dockerd refuses them', () => {
  assert.throws(() => checkPsArgs(['-o', 'pid,user=PID']), { message: 'specifying "pid,user=PID" is not allowed' });
  assert.throws(() => checkPsArgs(['-o', 'comm=PID']), { message: 'specifying "comm=PID" is not allowed' });
  checkPsArgs(['-o', 'pid=PID,comm']);
  checkPsArgs(['aux']);
  checkPsArgs(['-o', 'pid,comm=NAME']);
});

test("the host's ps: the rows of the given pids only, its failure relayed naming the arguments", async () => {
  const t = await psTop(['-o', 'pid,comm'], [process.pid]);
  assert.deepEqual(t.titles, ['PID', 'COMMAND']);
  assert.deepEqual(t.processes, [[String(process.pid), readFileSync('/proc/self/comm', 'utf8').trim()]]);
  // aux refuses nothing with -q; f (a forest) does, and is run again without it.
  const f = await psTop(['axf', '-o', 'pid,args'], [process.pid]);
  assert.equal(f.processes.length, 1);
  assert.equal(f.processes[0]![0], String(process.pid));
  await assert.rejects(psTop(['--bogus-option'], [process.pid]), {
    code: 'BERTH_ERR_INVALID_ARGUMENT',
    message: /^ps --bogus-option: error: /,
  });
  await assert.rejects(psTop(['-o', 'comm'], [process.pid]), { message: "Couldn't find PID field in ps output" });
});
