import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDefaultIpcMode, checkNamespaceModes, joinedContainer } from './namespace-modes.ts';
import { buildSpec } from './spec-builder.ts';
import type { CreateRequest } from './types.ts';

const spec = (more: Partial<CreateRequest>) =>
  buildSpec({ id: 'abcdef0123456789', request: { image: 'x', cmd: ['true'], ...more }, image: {} });
const types = (s: ReturnType<typeof spec>) => s.linux!.namespaces!.map((n) => n.type).sort();
const shm = (s: ReturnType<typeof spec>) => s.mounts!.filter((m) => m.destination === '/dev/shm');

test('host modes leave the namespace out; the host UTS namespace has no hostname of ours', () => {
  assert.deepEqual(types(spec({})), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.deepEqual(types(spec({ pidMode: 'host', ipcMode: 'host', utsMode: 'host' })), ['mount', 'network']);
  const s = spec({ utsMode: 'host' });
  assert.equal(s.hostname, undefined);
  assert.equal(spec({}).hostname, 'abcdef012345');
});

test('/dev/shm follows the IPC mode: private keeps the tmpfs, none has none, host binds the host one', () => {
  for (const ipcMode of [undefined, '', 'private'])
    assert.deepEqual(
      shm(spec(ipcMode === undefined ? {} : { ipcMode })).map((m) => m.type),
      ['tmpfs'],
    );
  assert.deepEqual(shm(spec({ ipcMode: 'none' })), []);
  assert.deepEqual(
    shm(spec({ ipcMode: 'host' })).map((m) => [m.type, m.source]),
    [['bind', '/dev/shm']],
  );
  // shareable and container: get their bind at start (the tmpfs mounted then, the donor's path).
  assert.deepEqual(shm(spec({ ipcMode: 'shareable' })), []);
  assert.deepEqual(shm(spec({ ipcMode: 'container:db' })), []);
  assert.deepEqual(types(spec({ ipcMode: 'container:db', pidMode: 'container:db' })), [
    'ipc',
    'mount',
    'network',
    'pid',
    'uts',
  ]);
});

test('bad values are refused in dockerd words, naming the flag and the field', () => {
  for (const [req, re] of [
    [{ pidMode: 'bogus' }, /invalid PID mode: bogus \(--pid, pidMode: expected host, container:<name\|id>\)$/],
    [{ pidMode: 'container:' }, /invalid PID mode: container: \(--pid, pidMode/],
    [{ ipcMode: 'shared' }, /invalid IPC mode: shared \(--ipc, ipcMode: expected host, private, shareable, none/],
    [{ ipcMode: 7 }, /invalid IPC mode: 7 \(--ipc, ipcMode/],
    [{ utsMode: 'container:x' }, /invalid UTS mode: container:x \(--uts, utsMode: expected host\)$/],
    [{ utsMode: 'host', hostname: 'h' }, /conflicting options: hostname and the UTS mode/],
  ] as const)
    assert.throws(() => checkNamespaceModes({ image: 'x', ...(req as Partial<CreateRequest>) }), re);
  for (const req of [{ pidMode: 'host' }, { ipcMode: 'shareable' }, { ipcMode: 'container:a' }, { utsMode: '' }])
    checkNamespaceModes({ image: 'x', ...req });
  assert.equal(joinedContainer('container:web'), 'web');
  assert.equal(joinedContainer('host'), undefined);
});

test("berthd's default IPC mode: private or shareable, else refused naming the config key", () => {
  assert.equal(checkDefaultIpcMode(undefined), 'private');
  assert.equal(checkDefaultIpcMode('private'), 'private');
  assert.equal(checkDefaultIpcMode('shareable'), 'shareable');
  assert.throws(
    () => checkDefaultIpcMode('host'),
    /defaultIpcMode "host" in berthd's config: expected private or shareable/,
  );
});
