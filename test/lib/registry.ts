// Test harness: Debian's docker-registry on 127.0.0.1 (a free port, filesystem storage in a temp
// dir) with optional htpasswd basic auth, token auth (with a small node:http token server signing
// RS256 JWTs with an openssl-made certificate) and TLS with an openssl-made test CA; plus a
// fault-injecting HTTP proxy. Everything is stopped by pid and its temp dir removed by stop().
// Fails loudly when a tool is missing: never skips.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

const REGISTRY_BIN = '/usr/bin/docker-registry';

function need(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg} (scripts/setup.sh)`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${await log()}`);
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`docker-registry did not listen on 127.0.0.1:${port} within 10s: ${await log()}`);
}

export type TestCA = { dir: string; caCert: string; caPem: string; serverCert: string; serverKey: string };

/** A CA and a server certificate for 127.0.0.1 signed by it (openssl). */
export async function makeTestCA(dir: string): Promise<TestCA> {
  need('/usr/bin/openssl', 'openssl');
  const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=berth test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  o([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caPem: await readFile(join(dir, 'ca.crt'), 'utf8'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
}

export type TokenServer = {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Every scope requested, with the user ('' = anonymous). */
  requests: { user: string; scopes: string[] }[];
  /** While true, tokens grant nothing (the registry answers 401 to them): a token gone bad in a client's cache. */
  grantNothing: boolean;
  stop(): Promise<void>;
};

/**
 * A token server: GET /token?service=&scope=… with optional Basic credentials; grants every
 * requested action to known users and only `pull` to anonymous callers (when allowed).
 */
export async function startTokenServer(opts: {
  users: Record<string, string>;
  anonymousPull: boolean;
  /** OAuth refresh tokens (docker's identity tokens) → user: POST grant_type=refresh_token exchanges them. */
  refreshTokens?: Record<string, string>;
}): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-token-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'token.key',
      '-out',
      'token.crt',
      '-days',
      '2',
      '-subj',
      '/CN=berth test token issuer',
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  const key = await readFile(join(dir, 'token.key'), 'utf8');
  const certDer = Buffer.from(
    (await readFile(join(dir, 'token.crt'), 'utf8')).replace(/-----[^-]+-----|\s/g, ''),
    'base64',
  );
  const service = 'berth-test-registry';
  const issuer = 'berth-test-issuer';
  const requests: TokenServer['requests'] = [];
  const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    let user = '';
    const auth = req.headers.authorization;
    if (req.method === 'POST') {
      let body = '';
      for await (const c of req) body += c;
      const form = new URLSearchParams(body);
      const known = opts.refreshTokens?.[form.get('refresh_token') ?? ''];
      if (form.get('grant_type') !== 'refresh_token' || !known) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'unknown refresh token' }] }));
        return;
      }
      user = known;
      for (const sc of (form.get('scope') ?? '').split(' ').filter(Boolean)) u.searchParams.append('scope', sc);
    } else if (auth?.startsWith('Basic ')) {
      const [name, ...pw] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (!name || opts.users[name] !== pw.join(':')) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad username or password' }] }));
        return;
      }
      user = name;
    }
    const scopes = u.searchParams.getAll('scope');
    requests.push({ user, scopes });
    const access = scopes.flatMap((s) => {
      const [type, name, actions] = s.split(':');
      const granted = (actions ?? '')
        .split(',')
        .filter((a) => !ts.grantNothing && (user !== '' || (opts.anonymousPull && a === 'pull')));
      return type && name ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: issuer,
      sub: user,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signing = `${b64u(header)}.${b64u(claims)}`;
    const sig = createSign('RSA-SHA256').update(signing).sign(key).toString('base64url');
    const token = `${signing}.${sig}`;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const ts: TokenServer = {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath: join(dir, 'token.crt'),
    requests,
    grantNothing: false,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  return ts;
}

export type RegistryOptions = {
  htpasswd?: Record<string, string>;
  token?: TokenServer;
  tls?: boolean;
};

export type TestRegistry = {
  /** host:port, as used in references. */
  host: string;
  url: string;
  ca?: TestCA;
  dir: string;
  pid: number;
  stop(): Promise<void>;
};

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  need(REGISTRY_BIN, 'docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'berth-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  let ca: TestCA | undefined;
  if (opts.tls) {
    ca = await makeTestCA(dir);
    lines.push('  tls:', `    certificate: ${ca.serverCert}`, `    key: ${ca.serverKey}`);
  }
  if (opts.htpasswd) {
    need('/usr/bin/htpasswd', 'apache2-utils');
    const file = join(dir, 'htpasswd');
    const entries = Object.entries(opts.htpasswd).map(([u, p]) =>
      execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim(),
    );
    await writeFile(file, `${entries.join('\n')}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${file}`);
  } else if (opts.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${opts.token.realm}`,
      `    service: ${opts.token.service}`,
      `    issuer: ${opts.token.issuer}`,
      `    rootcertbundle: ${opts.token.certPath}`,
    );
  }
  const config = join(dir, 'config.yml');
  await writeFile(config, `${lines.join('\n')}\n`);
  const logPath = join(dir, 'registry.log');
  const { openSync, closeSync } = await import('node:fs');
  const logFd = openSync(logPath, 'a');
  const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const log = () => readFile(logPath, 'utf8').catch(() => '');
  try {
    await waitForPort(port, child, log);
  } catch (e) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const host = `127.0.0.1:${port}`;
  const reg: TestRegistry = {
    host,
    url: `${opts.tls ? 'https' : 'http'}://${host}`,
    dir,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid!, 'SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (ca) reg.ca = ca;
  return reg;
}

export type ProxyAction =
  | { kind: 'pass' }
  | { kind: 'status'; status: number }
  | { kind: 'cut'; afterBytes: number }
  | { kind: 'throttle'; bytesPerSecond: number };

export type FaultProxy = {
  host: string;
  seen: { method: string; path: string; range?: string }[];
  stop(): Promise<void>;
};

/** A plain-HTTP proxy to `upstream` that applies `decide`'s action to each request. */
export async function startFaultProxy(
  upstream: string,
  decide: (req: IncomingMessage, n: number) => ProxyAction,
): Promise<FaultProxy> {
  const seen: FaultProxy['seen'] = [];
  let n = 0;
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const entry: FaultProxy['seen'][number] = { method: req.method ?? 'GET', path: req.url ?? '/' };
    if (typeof req.headers.range === 'string') entry.range = req.headers.range;
    seen.push(entry);
    const action = decide(req, n++);
    if (action.kind === 'status') {
      req.resume();
      res
        .writeHead(action.status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected failure' }] }));
      return;
    }
    try {
      const headers = { ...req.headers } as Record<string, string>;
      delete headers.host;
      delete headers.connection;
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const up = await request(`${upstream}${req.url}`, {
        method: req.method as 'GET',
        headers,
        ...(hasBody ? { body: req } : {}),
      });
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers))
        if (v !== undefined && k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') out[k] = v;
      // Location headers point at the upstream; rewrite them to the proxy.
      if (typeof out.location === 'string') out.location = out.location.replace(upstream, `http://${req.headers.host}`);
      res.writeHead(up.statusCode, out);
      let sent = 0;
      for await (const chunk of up.body as AsyncIterable<Buffer>) {
        if (action.kind === 'cut' && sent + chunk.length > action.afterBytes) {
          res.write(chunk.subarray(0, action.afterBytes - sent));
          await sleep(20);
          res.socket?.destroy();
          up.body.destroy();
          return;
        }
        if (action.kind === 'throttle') {
          for (let i = 0; i < chunk.length; i += 16384) {
            const piece = chunk.subarray(i, i + 16384);
            if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
            if (res.destroyed) return;
            await sleep((piece.length / action.bytesPerSecond) * 1000);
          }
        } else res.write(chunk);
        sent += chunk.length;
      }
      res.end();
    } catch {
      res.socket?.destroy();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
