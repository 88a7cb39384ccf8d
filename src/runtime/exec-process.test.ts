import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Process } from '../oci/runtime-spec.ts';
import { execProcess, mergeEnv } from './exec-process.ts';

const base: Process = {
  terminal: true,
  user: { uid: 0, gid: 0 },
  args: ['sh'],
  env: ['PATH=/bin', 'A=1'],
  cwd: '/',
  capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
};

describe('exec process', () => {
  it('takes the container process and applies the overrides', () => {
    const p = execProcess(base, {
      args: ['ls', '-l'],
      env: ['A=2', 'B=3'],
      cwd: '/tmp',
      user: '1000:100',
      additionalGids: ['5'],
      caps: ['CAP_CHOWN'],
      noNewPrivs: true,
    });
    assert.deepEqual(p.args, ['ls', '-l']);
    assert.deepEqual(p.env, ['PATH=/bin', 'A=2', 'B=3']);
    assert.equal(p.cwd, '/tmp');
    assert.equal(p.terminal, false);
    assert.deepEqual(p.user, { uid: 1000, gid: 100, additionalGids: [5] });
    assert.deepEqual(p.capabilities?.bounding, ['CAP_KILL', 'CAP_CHOWN']);
    assert.equal(p.capabilities?.inheritable, undefined);
    assert.equal(p.noNewPrivileges, true);
    assert.deepEqual(base.args, ['sh'], 'the base is not modified');
  });
  it('keeps the gid when only a uid is given', () => {
    assert.deepEqual(execProcess({ ...base, user: { uid: 0, gid: 7 } }, { args: ['x'], user: '9' }).user, {
      uid: 9,
      gid: 7,
    });
  });
  it('refuses bad input, naming the flag', () => {
    assert.throws(() => execProcess(base, { args: [] }), /a command is required/);
    assert.throws(() => execProcess(base, { args: ['x'], user: 'root' }), /--user: expected a numeric id/);
    assert.throws(() => execProcess(base, { args: ['x'], user: '1:2:3' }), /--user: expected uid or uid:gid/);
    assert.throws(() => execProcess(base, { args: ['x'], apparmor: 'p' }), /--apparmor/);
  });
  it('merges env by key, later wins', () => {
    assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C']), ['A=1', 'B=3', 'C']);
  });
});
