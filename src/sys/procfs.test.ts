import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSameLiveProcess, parseProcStat, procStat } from './procfs.ts';

describe('procfs', () => {
  it('parses a stat line whose comm has spaces and parentheses', () => {
    const line = '4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    assert.deepEqual(parseProcStat(line), { pid: 4242, state: 'S', ppid: 1, startTime: '987654' });
  });
  it('refuses malformed text', () => {
    assert.throws(() => parseProcStat('garbage'), /malformed/);
  });
  it('identifies this process, and not with another start time', () => {
    const me = procStat(process.pid);
    assert.ok(me);
    assert.equal(isSameLiveProcess(process.pid, me.startTime), true);
    assert.equal(isSameLiveProcess(process.pid, `${me.startTime}1`), false);
    assert.equal(procStat(0x3ffffff0), undefined);
  });
});
