import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpLazyServer, type LazyServer } from '../engine/api-socket.ts';
import type { Engine } from '../engine/engine.ts';
import { timingSpan } from '../engine/timing.ts';
import { readUpgradeBody } from '../engine/upgrade-body.ts';
import { errorMessage, invalidArgument, notFound } from '../errors/errors.ts';
import { dockerErrorBody, dockerStatusOf } from './errors.ts';
import { DockerState } from './state.ts';
import { MAX_API_VERSION, splitVersion } from './versions.ts';

export type Ctx = {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the request speaks (its path prefix, else the newest served). */
  version: string;
  engine: Engine;
  state: DockerState;
  signal: AbortSignal;
};
type Handler = (c: Ctx) => Promise<unknown>;

/** What a hijacking route gives the server: the 101's content type, and what runs on the socket after it. */
export type Hijack = { contentType: string; run: (socket: Socket, rest: Buffer) => void };
/** A hijacking route's answer when it takes no stream after all (a detached exec start): 200, no body. */
export const EMPTY_OK = Symbol('empty 200');
export type HijackCtx = Omit<Ctx, 'res' | 'signal'> & {
  body: () => Promise<Buffer>;
  /** Whether the client asked to upgrade (an `Upgrade` header); dockerd hijacks either way. */
  upgrade: boolean;
};
type HijackHandler = (c: HijackCtx) => Promise<Hijack | typeof EMPTY_OK>;

/** Marks a handler that wrote its own response (a stream, or a status other than 200 with JSON). */
export const STREAMED = Symbol('streamed');
/** A handler's result sent as 204 No Content. */
export const NO_CONTENT = Symbol('no content');
/** A 201 Created with the JSON body (docker's status for create calls). */
export class Created {
  readonly body: unknown;
  constructor(body: unknown) {
    this.body = body;
  }
}

type Route = { method: string; re: RegExp; keys: string[]; fn: Handler };
type HijackRoute = { method: string; re: RegExp; keys: string[]; fn: HijackHandler };

function compile(path: string): { re: RegExp; keys: string[] } {
  const keys: string[] = [];
  // {name*} takes the rest of the path (image names carry slashes: /images/localhost:5000/a/b/json).
  const src = path.replace(/\{(\w+)(\*?)\}/g, (_, k: string, rest: string) => {
    keys.push(k);
    return rest ? '(.+?)' : '([^/]+)';
  });
  return { re: new RegExp(`^${src}$`), keys };
}

function match<T extends { method: string; re: RegExp; keys: string[] }>(
  list: T[],
  method: string,
  path: string,
): { route: T; params: Record<string, string> } | 'method' | undefined {
  let pathHit = false;
  for (const r of list) {
    const m = r.re.exec(path);
    if (!m) continue;
    pathHit = true;
    if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => {
      params[k] = decodeURIComponent(m[i + 1]!);
    });
    return { route: r, params };
  }
  return pathHit ? 'method' : undefined;
}

export class DockerRouter {
  readonly routes: Route[] = [];
  readonly hijacks: HijackRoute[] = [];
  on(method: string, path: string, fn: Handler): this {
    this.routes.push({ method, ...compile(path), fn });
    return this;
  }
  /**
   * A route that takes over the connection: with `Upgrade: tcp` the answer is 101, without it 200
   * with a raw-stream content type, and the stream follows either way, as dockerd does.
   */
  hijack(method: string, path: string, fn: HijackHandler): this {
    this.hijacks.push({ method, ...compile(path), fn });
    return this;
  }
}

/** Whether `req` (its headers just parsed) is for a hijacking route. */
function isHijackRequest(router: DockerRouter, req: IncomingMessage): boolean {
  try {
    const { path } = splitVersion(new URL(req.url ?? '/', 'http://berthd').pathname);
    const hit = match(router.hijacks, req.method ?? 'GET', path);
    return hit !== undefined && hit !== 'method';
  } catch {
    return false; // a bad version prefix: the request route answers it
  }
}

type HttpParser = { onIncoming?: (req: IncomingMessage & { upgrade?: boolean }, keepAlive: boolean) => unknown };

/**
 * dockerd hijacks an attach or exec start that does not ask to upgrade too. node:http hands a
 * request to 'upgrade' only when llhttp saw both `Connection: Upgrade` and `Upgrade`, so a request
 * for a hijacking route is marked as one when its headers are parsed, the way node:http marks a
 * real one (its `upgrade` set; node:http then tells llhttp to stop at the headers). No byte after
 * the headers, which may be the client's stdin already, ever reaches the HTTP parser. This reaches
 * into node:http's connection (its parser's onIncoming, set per connection); the pinned Node is
 * what the raw attach tests run on (test/integration/docker-api-attach.test.ts).
 */
function hijackWithoutUpgrade(router: DockerRouter, socket: Socket): void {
  const parser = (socket as Socket & { parser?: HttpParser | null }).parser;
  const onIncoming = parser?.onIncoming;
  if (!parser || typeof onIncoming !== 'function') return;
  parser.onIncoming = (req, keepAlive) => {
    if (!req.upgrade && isHijackRequest(router, req)) req.upgrade = true;
    return onIncoming(req, keepAlive);
  };
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 16 << 20) throw invalidArgument('request body larger than 16 MiB');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export function parseJsonBody<T>(body: Buffer, what: string): T {
  const text = body.toString('utf8');
  if (text.trim() === '') return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw invalidArgument(`${what}: invalid JSON: ${errorMessage(e)}`);
  }
}

export async function readJsonBody<T>(req: IncomingMessage, what: string): Promise<T> {
  return parseJsonBody<T>(await readBody(req), what);
}

function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    // A stream under way (pull progress, wait): its last message says what went wrong.
    if (!res.writableEnded)
      res.end(`${JSON.stringify({ errorDetail: { message: errorMessage(e) }, error: errorMessage(e) })}\n`);
    return;
  }
  const body = dockerErrorBody(e);
  res.writeHead(dockerStatusOf(e), {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'api-version': MAX_API_VERSION,
  });
  res.end(body);
}

export function dockerRequestListener(
  engine: Engine,
  router: DockerRouter,
  state: DockerState,
  log: (m: string) => void,
) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    res.setHeader('api-version', MAX_API_VERSION);
    res.setHeader('server', `berthd (linux)`);
    const url = new URL(req.url ?? '/', 'http://berthd');
    const span = timingSpan('docker-api', `${req.method} ${url.pathname}`);
    res.on('finish', () => span.mark('replied'));
    try {
      const { version, path } = splitVersion(url.pathname);
      const hit = match(router.routes, req.method ?? 'GET', path);
      if (hit === undefined) throw notFound(`page not found: ${req.method} ${url.pathname}`);
      if (hit === 'method') throw notFound(`page not found: ${req.method} ${url.pathname} (method not allowed)`);
      const out = await hit.route.fn({
        req,
        res,
        params: hit.params,
        query: url.searchParams,
        version,
        engine,
        state,
        signal: ac.signal,
      });
      if (out === STREAMED) {
        if (!res.writableEnded) res.end();
        return;
      }
      if (out === NO_CONTENT || out === undefined) {
        res.writeHead(204);
        res.end();
        return;
      }
      const status = out instanceof Created ? 201 : 200;
      const body = JSON.stringify(out instanceof Created ? out.body : out);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      if (dockerStatusOf(e) >= 500) log(`docker API ${req.method} ${url.pathname}: ${errorMessage(e)}`);
      sendError(res, e);
    }
  };
}

/**
 * The Docker Engine API's server for `router`, fed the connections of berthd's Docker socket,
 * which serveLazily (src/engine/api-socket.ts) listens on and loads this at the first connection.
 */
export function dockerServer(engine: Engine, router: DockerRouter, log: (m: string) => void = () => {}): LazyServer {
  const state = new DockerState();
  const server = createServer(dockerRequestListener(engine, router, state, log));
  // After node:http's own listener, which gives the connection its parser.
  server.on('connection', (socket: Socket) => hijackWithoutUpgrade(router, socket));
  server.on('upgrade', async (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://berthd');
    const span = timingSpan('docker-api', `upgrade ${url.pathname}`);
    const upgrade = req.headers.upgrade !== undefined;
    try {
      const { version, path } = splitVersion(url.pathname);
      const hit = match(router.hijacks, req.method ?? 'POST', path);
      if (!hit || hit === 'method') throw notFound(`page not found: ${req.method} ${url.pathname} (upgrade)`);
      let rest = head;
      const body = async () => {
        const r = await readUpgradeBody(req, socket, head);
        rest = r.rest;
        return r.body;
      };
      const out = await hit.route.fn({
        req,
        params: hit.params,
        query: url.searchParams,
        version,
        engine,
        state,
        body,
        upgrade,
      });
      if (socket.destroyed) return;
      if (out === EMPTY_OK) {
        // node:http no longer reads this connection, so it ends with the answer.
        socket.end(
          `HTTP/1.1 200 OK\r\nApi-Version: ${MAX_API_VERSION}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        );
        return;
      }
      span.mark('switched');
      socket.once('close', () => span.mark('closed'));
      // Without an Upgrade header dockerd answers 200 and names the raw stream whatever the framing.
      socket.write(
        upgrade
          ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${out.contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${MAX_API_VERSION}\r\n\r\n`
          : `HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\nApi-Version: ${MAX_API_VERSION}\r\n\r\n`,
      );
      out.run(socket, rest);
    } catch (e) {
      if (dockerStatusOf(e) >= 500) log(`docker API upgrade ${req.method} ${url.pathname}: ${errorMessage(e)}`);
      const body = dockerErrorBody(e);
      socket.end(
        `HTTP/1.1 ${dockerStatusOf(e)} Error\r\nContent-Type: application/json\r\nApi-Version: ${MAX_API_VERSION}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
  });
  return httpLazyServer(server, async () => state.close());
}
