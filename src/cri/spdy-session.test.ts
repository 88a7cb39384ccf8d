// SPDY sessions end to end over a loopback TCP connection: a client and a server of this module
// open, reply, carry data both ways past SPDY's 64 KiB window (the peer never sends WINDOW_UPDATE,
// as moby/spdystream does not), half-close, reset, ping, and GOAWAY ends the connection once the
// streams have.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { SpdySession, type SpdyStream } from './spdy-session.ts';

async function pair(maxStreams?: number): Promise<{ client: SpdySession; server: SpdySession; close(): void }> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  const c = connect(port, '127.0.0.1');
  const [s] = (await once(srv, 'connection')) as [Socket];
  srv.close();
  return {
    client: new SpdySession(c, { server: false }),
    server: new SpdySession(s, { server: true, ...(maxStreams ? { maxStreams } : {}) }),
    close: () => c.destroy(),
  };
}

function readAll(s: SpdyStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (b: Buffer) => parts.push(b));
  return once(s, 'end').then(() => Buffer.concat(parts));
}

test('streams carry data both ways, beyond 64 KiB, and half-close', async () => {
  const { client, server, close } = await pair();
  server.on('stream', (s: SpdyStream) => {
    assert.equal(s.id % 2, 1, 'a client opens odd streams');
    s.reply({ ok: 'yes' });
    // Echo, then FIN once the client's half ended.
    s.pipe(s);
  });
  const big = Buffer.alloc(300_000, 7);
  const st = client.openStream({ streamtype: 'stdin' });
  await st.replied();
  assert.deepEqual(st.replyHeaders, { ok: 'yes' });
  const got = readAll(st);
  st.end(big);
  assert.deepEqual(await got, big);
  await client.ping();
  close();
});

test('a reset ends the stream on both sides; GOAWAY ends the connection when streams are done', async () => {
  const { client, server } = await pair();
  const seen: SpdyStream[] = [];
  server.on('stream', (s: SpdyStream) => {
    seen.push(s);
    s.reply();
  });
  const a = client.openStream({ n: '1' });
  await a.replied();
  const closed = once(seen[0]!, 'close');
  a.reset();
  await closed;
  assert.equal(seen[0]!.resetByPeer, true);
  const b = client.openStream({ n: '2' });
  await b.replied();
  const ended = once(client, 'close');
  server.goAway();
  b.end();
  seen[1]!.end();
  seen[1]!.resume();
  b.resume();
  await ended;
  assert.equal(server.streamCount, 0);
});

test('a peer cannot hold more streams open than the session allows: the extra one is refused', async () => {
  const { client, server, close } = await pair(2);
  server.on('stream', (s: SpdyStream) => s.reply());
  const a = client.openStream({ n: '1' });
  const b = client.openStream({ n: '2' });
  await Promise.all([a.replied(), b.replied()]);
  const c = client.openStream({ n: '3' });
  await once(c, 'close');
  assert.equal(c.resetByPeer, true);
  assert.equal(server.streamCount, 2);
  close();
});
