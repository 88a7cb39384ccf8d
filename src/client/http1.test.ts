import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { http1 } from './http1.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-http1-'));
const sock = join(dir, 's.sock');
let server: Server;

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (req.url === '/json') {
        const out = JSON.stringify({
          method: req.method,
          body,
          type: req.headers['content-type'],
          host: req.headers.host,
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
        res.end(out);
      } else if (req.url === '/none') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('ab');
        setTimeout(() => res.end('cdé'), 10);
      } else {
        res.writeHead(404, { 'x-berth-error': 'BERTH_ERR_NOT_FOUND', 'content-length': 2 });
        res.end('{}');
      }
    });
  });
  server.on('upgrade', (req, socket, head) => {
    assert.equal(req.headers.upgrade, 'berth-attach');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: berth-attach\r\nX-Id: abc\r\n\r\nframes-right-after',
    );
    socket.on('data', (c: Buffer) => socket.end(`echo:${c}`));
    if (head.length) socket.end(`head:${head}`);
  });
  await new Promise<void>((r) => server.listen(sock, r));
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a JSON request and its Content-Length answer', async () => {
  const r = await http1({
    socketPath: sock,
    method: 'POST',
    path: '/json',
    headers: { 'Content-Type': 'application/json' },
    body: Buffer.from('{"a":1}'),
  });
  assert.ok('body' in r);
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body.toString()), {
    method: 'POST',
    body: '{"a":1}',
    type: 'application/json',
    host: 'berthd',
  });
});

test('204 without a body, a chunked answer joined, an error status with its headers', async () => {
  const none = await http1({ socketPath: sock, method: 'POST', path: '/none' });
  assert.equal(none.status, 204);
  assert.ok('body' in none && none.body.length === 0);
  const ch = await http1({ socketPath: sock, method: 'GET', path: '/chunked' });
  assert.ok('body' in ch);
  assert.equal(ch.body.toString(), 'abcdé');
  const nf = await http1({ socketPath: sock, method: 'GET', path: '/missing' });
  assert.equal(nf.status, 404);
  assert.equal(nf.headers['x-berth-error'], 'BERTH_ERR_NOT_FOUND');
});

test('101: the socket, with the bytes that followed the headers pushed back', async () => {
  const r = await http1({
    socketPath: sock,
    method: 'POST',
    path: '/up',
    headers: { Connection: 'Upgrade', Upgrade: 'berth-attach' },
  });
  assert.equal(r.status, 101);
  assert.ok('socket' in r);
  assert.equal(r.headers['x-id'], 'abc');
  const got: Buffer[] = [];
  r.socket.on('data', (c: Buffer) => got.push(c));
  r.socket.resume(); // handed over paused, as node:http hands over an upgraded socket
  r.socket.write('ping');
  await new Promise((res) => r.socket.on('close', res));
  assert.equal(Buffer.concat(got).toString(), 'frames-right-afterecho:ping');
});

test('no daemon, or one that closes without answering: the error says so', async () => {
  await assert.rejects(http1({ socketPath: join(dir, 'absent.sock'), method: 'GET', path: '/json' }), {
    code: 'ENOENT',
  });
  const mute = join(dir, 'mute.sock');
  const m = createNetServer((s) => s.end());
  await new Promise<void>((r) => m.listen(mute, r));
  try {
    await assert.rejects(
      http1({ socketPath: mute, method: 'GET', path: '/json' }),
      /closed the connection before its answer/,
    );
  } finally {
    m.close();
  }
});

test('an abort signal ends the exchange', async () => {
  const hang = join(dir, 'hang.sock');
  const h = createNetServer(() => {});
  await new Promise<void>((r) => h.listen(hang, r));
  try {
    await assert.rejects(http1({ socketPath: hang, method: 'GET', path: '/', signal: AbortSignal.timeout(50) }), {
      name: 'TimeoutError',
    });
  } finally {
    h.close();
  }
});
