import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, test } from 'node:test';
import { RegistryClient, tokenExpiry } from './registry-client.ts';

test('tokenExpiry: issued_at plus expires_in (default 60 s), 5 s early; a future issued_at counts from now', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  assert.equal(tokenExpiry({ expires_in: 300 }, now), now + 295_000);
  assert.equal(tokenExpiry({}, now), now + 55_000);
  assert.equal(tokenExpiry({ expires_in: 300, issued_at: '2026-01-01T00:00:00Z' }, now), now - 600_000 + 295_000);
  assert.equal(tokenExpiry({ expires_in: 60, issued_at: '2026-01-01T00:00:00Z' }, now) < now, true, 'already expired');
  assert.equal(tokenExpiry({ expires_in: 60, issued_at: '2026-01-01T01:00:00Z' }, now), now + 55_000);
  assert.equal(tokenExpiry({ expires_in: 'x', issued_at: 'not a time' }, now), now + 55_000);
});

/** A registry whose /v2/ takes only the newest token its token server issued; the token server counts its grants. */
async function fakeRegistry(answer: (n: number) => Record<string, unknown>) {
  const issued: { n: number; body: string; method: string }[] = [];
  let newest = '';
  const servers: Server[] = [];
  const listen = async (s: Server) => {
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as { port: number }).port;
  };
  const read = (req: IncomingMessage) =>
    new Promise<string>((r) => {
      let b = '';
      req.on('data', (c) => {
        b += c;
      });
      req.on('end', () => r(b));
    });
  const tokenPort = await listen(
    createServer(async (req, res) => {
      const body = await read(req);
      const n = issued.length + 1;
      issued.push({ n, body, method: req.method ?? '' });
      newest = `t${n}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: newest, ...answer(n) }));
    }),
  );
  const regPort = await listen(
    createServer((req, res) => {
      if (req.headers.authorization === `Bearer ${newest}` && newest !== '') return void res.writeHead(200).end('{}');
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="http://127.0.0.1:${tokenPort}/token",service="fake"`,
          'content-type': 'application/json',
        })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"token revoked"}]}');
    }),
  );
  const host = `127.0.0.1:${regPort}`;
  return {
    host,
    issued,
    revoke: () => {
      newest = 'revoked';
    },
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))),
  };
}

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

test('a cached token the registry refuses (401) is dropped and the request retried once with a fresh one', async () => {
  const reg = await fakeRegistry(() => ({ expires_in: 300 }));
  closers.push(reg.close);
  const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } }, retries: 0 });
  closers.push(() => client.close());
  await client.ping(reg.host);
  assert.equal(reg.issued.length, 1);
  await client.ping(reg.host);
  assert.equal(reg.issued.length, 1, 'the second request uses the cached token');
  reg.revoke();
  await client.ping(reg.host);
  assert.equal(reg.issued.length, 2, 'one fresh token after the 401');
  assert.equal(client.cachedTokens, 1);
});

test('a token already expired by issued_at + expires_in is not cached; expired entries are dropped', async () => {
  const reg = await fakeRegistry(() => ({ expires_in: 60, issued_at: '2000-01-01T00:00:00Z' }));
  closers.push(reg.close);
  const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } }, retries: 0 });
  closers.push(() => client.close());
  await client.ping(reg.host);
  await client.ping(reg.host);
  assert.equal(reg.issued.length, 2, 'each request fetched its own token');
  assert.equal(client.cachedTokens, 0);
});

test('an identity token is exchanged at the token server (POST grant_type=refresh_token), never sent as Basic', async () => {
  const reg = await fakeRegistry(() => ({ access_token: 'unused', expires_in: 300 }));
  closers.push(reg.close);
  const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } }, retries: 0 });
  closers.push(() => client.close());
  await client.ping(reg.host, { username: '', password: '', identityToken: 'refresh-me' });
  assert.equal(reg.issued[0]?.method, 'POST');
  const form = new URLSearchParams(reg.issued[0]?.body);
  assert.equal(form.get('grant_type'), 'refresh_token');
  assert.equal(form.get('refresh_token'), 'refresh-me');
  assert.equal(form.get('service'), 'fake');
});
