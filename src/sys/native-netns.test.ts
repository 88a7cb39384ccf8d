// netnsSocket: a socket made in another network namespace belongs to it (a server listening on
// 127.0.0.1 there is reached; the host's loopback is not), the thread is back in its own namespace
// afterwards, and a path that is not a network namespace is refused naming it. netnsCreate: a new
// namespace, mounted on a file, its loopback up, the thread back in its own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { test } from 'node:test';
import { join } from 'node:path';
import { constants, mount, netnsBind, netnsCreate, netnsSocket, umount2 } from './native.ts';

const root = process.getuid?.() === 0;

test("a socket made in a network namespace connects to its loopback, not the host's", {
  skip: !root && 'setns needs root (CAP_SYS_ADMIN)',
}, async () => {
  const before = readlinkSync('/proc/thread-self/ns/net');
  // A fresh network namespace held by a child of our own (unshare -n), its lo up, a listener inside.
  const port = 40000 + (process.pid % 20000);
  const server = `require('net').createServer((s) => s.end('inside\\n')).listen(${port}, '127.0.0.1')`;
  const child = spawn(
    'unshare',
    ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" -e "$1"', process.execPath, server],
    { stdio: 'ignore' },
  );
  try {
    const ns = `/proc/${child.pid}/ns/net`;
    // The host's loopback has a listener on the same port: a socket made there would reach it.
    const host = createServer((s) => s.end('host\n')).listen(port, '127.0.0.1');
    await once(host, 'listening');
    let got = '';
    for (let i = 0; i < 100 && got === ''; i++) {
      const s = new Socket({ fd: netnsSocket(ns), readable: true, writable: true });
      got = await new Promise<string>((resolve) => {
        let text = '';
        s.on('data', (b: Buffer) => (text += b));
        s.once('close', () => resolve(text));
        s.once('error', () => resolve(''));
        s.connect(port, '127.0.0.1');
      });
      if (got === '') await new Promise((r) => setTimeout(r, 50));
    }
    host.close();
    assert.equal(got.trim(), 'inside');
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), before, 'the thread is back in its namespace');
  } finally {
    child.kill('SIGKILL');
  }
});

test('a path that is not a network namespace is refused, naming it', { skip: !root && 'setns needs root' }, () => {
  assert.throws(
    () => netnsSocket('/proc/self/ns/uts'),
    (e: NodeJS.ErrnoException) =>
      e.code === 'EINVAL' && /setns/.test(e.message) && e.message.includes('/proc/self/ns/uts'),
  );
  assert.throws(
    () => netnsSocket('/nonexistent/netns'),
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.message.includes('/nonexistent/netns'),
  );
});

test('netnsCreate: a new network namespace on a file, its loopback up; the thread stays in its own', {
  skip: !root && 'unshare(CLONE_NEWNET) needs root (CAP_SYS_ADMIN)',
}, async () => {
  const before = readlinkSync('/proc/thread-self/ns/net');
  // The kernel refuses a namespace bind on a mount that propagates: a private bind of the directory.
  const dir = mkdtempSync('/tmp/berth-netns-test-');
  mount(dir, dir, null, constants.MS_BIND);
  const file = join(dir, 'ns');
  try {
    mount(null, dir, null, constants.MS_PRIVATE);
    closeSync(openSync(file, 'w'));
    netnsCreate(file);
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), before, 'the thread is back in its namespace');
    assert.notEqual(statSync(file).ino, statSync('/proc/thread-self/ns/net').ino, 'another namespace');
    // Its loopback is up: a server bound to 127.0.0.1 there answers a socket made there.
    const { fd } = netnsBind(file, 'tcp', '127.0.0.1', 0);
    const server = createServer((s) => s.end('inside\n'));
    server.listen({ fd });
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const got = await new Promise<string>((resolve, reject) => {
      const s = new Socket({ fd: netnsSocket(file), readable: true, writable: true });
      let text = '';
      s.on('data', (b: Buffer) => (text += b));
      s.once('close', () => resolve(text));
      s.once('error', reject);
      s.connect(port, '127.0.0.1');
    });
    server.close();
    assert.equal(got, 'inside\n');
    assert.throws(
      () => netnsCreate(join(dir, 'missing', 'ns')),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.message.includes(join(dir, 'missing', 'ns')),
    );
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), before, 'and back after a failure too');
  } finally {
    try {
      umount2(file, constants.MNT_DETACH);
    } catch {
      // not mounted (the test failed before)
    }
    umount2(dir, constants.MNT_DETACH);
    rmSync(dir, { recursive: true, force: true });
  }
});
