import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { isSameLiveProcess, parseProcStat, procStat } from './procfs.ts';

describe('procfs', () => {
  it('parses a stat line whose comm has spaces and parentheses', () => {
    const line =
      '4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    assert.deepEqual(parseProcStat(line), { pid: 4242, comm: 'a) b (c', state: 'S', ppid: 1, startTime: '987654' });
  });
  it('keeps a comm that is only ")" or has a space before the state-like text', () => {
    const line = '7 ()) S 1) R 2 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0';
    assert.deepEqual(parseProcStat(line), { pid: 7, comm: ')) S 1', state: 'R', ppid: 2, startTime: '55' });
  });
  it('refuses malformed text with an InvalidArgument error', () => {
    assert.throws(
      () => parseProcStat('garbage'),
      (e) => isBerthError(e, ErrorCode.InvalidArgument) && /malformed \/proc\/<pid>\/stat/.test(e.message),
    );
    assert.throws(
      () => parseProcStat('1 (x) S 1 1'),
      (e) => isBerthError(e, ErrorCode.InvalidArgument),
    );
  });
  it('identifies this process, and not with another start time', () => {
    const me = procStat(process.pid);
    assert.ok(me);
    assert.equal(isSameLiveProcess(process.pid, me.startTime), true);
    assert.equal(isSameLiveProcess(process.pid, `${me.startTime}1`), false);
    assert.equal(procStat(0x3ffffff0), undefined);
  });
});
