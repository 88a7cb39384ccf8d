import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { httpLazyServer, type LazyServer } from '../engine/api-socket.ts';
import type { Engine } from '../engine/engine.ts';
import { timingSpan } from '../engine/timing.ts';
import { readUpgradeBody } from '../engine/upgrade-body.ts';
import { errorMessage, invalidArgument, notFound } from '../errors/errors.ts';
import { ERROR_HEADER, errorCodeOf, httpStatusOf, streamErrorLine } from './errors.ts';
import { API_PREFIX, ATTACH_PROTOCOL } from './types.ts';

export type Ctx = {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  engine: Engine;
  signal: AbortSignal;
};
type Handler = (c: Ctx) => Promise<unknown>;
/** An upgrade's stream, or the stream and headers for the 101 (a `run` names the container it made). */
export type UpgradeResult = Duplex | { stream: Duplex; headers: Record<string, string> };
type UpgradeHandler = (
  engine: Engine,
  params: Record<string, string>,
  query: URLSearchParams,
  body: () => Promise<Buffer>,
) => Promise<UpgradeResult>;

/** Marks a handler that wrote its own response (a stream). */
export const STREAMED = Symbol('streamed');

type Route = { method: string; re: RegExp; keys: string[]; fn: Handler };

function compile(path: string): { re: RegExp; keys: string[] } {
  const keys: string[] = [];
  const src = path.replace(/\{(\w+)\}/g, (_, k: string) => {
    keys.push(k);
    return '([^/]+)';
  });
  return { re: new RegExp(`^${API_PREFIX}${src}$`), keys };
}

export class Router {
  readonly routes: Route[] = [];
  readonly upgrades: { re: RegExp; keys: string[]; fn: UpgradeHandler }[] = [];

  on(method: string, path: string, fn: Handler): this {
    this.routes.push({ method, ...compile(path), fn });
    return this;
  }

  upgrade(path: string, fn: UpgradeHandler): this {
    this.upgrades.push({ ...compile(path), fn });
    return this;
  }

  match<T extends { re: RegExp; keys: string[] }>(
    list: T[],
    path: string,
    pred: (r: T) => boolean = () => true,
  ): { route: T; params: Record<string, string> } | 'method' | undefined {
    let pathHit = false;
    for (const r of list) {
      const m = r.re.exec(path);
      if (!m) continue;
      pathHit = true;
      if (!pred(r)) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1]!);
      });
      return { route: r, params };
    }
    return pathHit ? 'method' : undefined;
  }
}

export async function readJson<T>(req: IncomingMessage, what: string): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 16 << 20) throw invalidArgument(`${what}: request body larger than 16 MiB`);
    chunks.push(c);
  }
  return parseJson<T>(Buffer.concat(chunks), what);
}

/** A request body as JSON (an empty body is `{}`). */
export function parseJson<T>(body: Buffer, what: string): T {
  const text = body.toString('utf8');
  if (text.trim() === '') return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw invalidArgument(`${what}: request body is not JSON (${errorMessage(e)})`);
  }
}

function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    // A stream already under way: its last line says what went wrong.
    if (!res.writableEnded) res.end(`${JSON.stringify(streamErrorLine(e))}\n`);
    return;
  }
  const body = JSON.stringify({ message: errorMessage(e) });
  res.writeHead(httpStatusOf(e), {
    'content-type': 'application/json',
    [ERROR_HEADER]: errorCodeOf(e),
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Starts a JSON-lines response; returns a writer that respects back-pressure. */
export function jsonLines(res: ServerResponse): (v: unknown) => Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
  res.flushHeaders();
  return (v) =>
    new Promise((resolve) => {
      if (res.destroyed) return resolve();
      if (res.write(`${JSON.stringify(v)}\n`)) resolve();
      else res.once('drain', resolve);
    });
}

/**
 * The native API's server for `router`, fed the connections of berthd's API socket, which
 * serveLazily (src/engine/api-socket.ts) listens on and loads this at the first connection.
 */
export function apiServer(engine: Engine, router: Router, log: (m: string) => void = () => {}): LazyServer {
  const server = createServer(async (req, res) => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const url = new URL(req.url ?? '/', 'http://berthd');
    const span = timingSpan('api', `${req.method} ${url.pathname}`);
    res.on('finish', () => span.mark('replied'));
    try {
      if (url.pathname === '/_ping') {
        res.end('OK');
        return;
      }
      const hit = router.match(router.routes, url.pathname, (r) => r.method === req.method);
      if (hit === undefined) throw notFound(`no such API route: ${req.method} ${url.pathname}`);
      if (hit === 'method') throw invalidArgument(`${url.pathname}: method ${req.method} is not allowed here`);
      const out = await hit.route.fn({
        req,
        res,
        params: hit.params,
        query: url.searchParams,
        engine,
        signal: ac.signal,
      });
      if (out === STREAMED) {
        if (!res.writableEnded) res.end();
        return;
      }
      if (out === undefined) {
        res.writeHead(204);
        res.end();
        return;
      }
      const body = JSON.stringify(out);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (e) {
      if (httpStatusOf(e) >= 500) log(`${req.method} ${url.pathname}: ${errorMessage(e)}`);
      sendError(res, e);
    }
  });
  server.on('upgrade', async (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://berthd');
    const span = timingSpan('api', `upgrade ${url.pathname}`);
    try {
      if ((req.headers.upgrade ?? '').toLowerCase() !== ATTACH_PROTOCOL)
        throw invalidArgument(`Upgrade: expected ${ATTACH_PROTOCOL}`);
      const hit = router.match(router.upgrades, url.pathname);
      if (!hit || hit === 'method') throw notFound(`no such API route: ${req.method} ${url.pathname} (upgrade)`);
      let rest = head;
      const body = async () => {
        const r = await readUpgradeBody(req, socket, head);
        rest = r.rest;
        return r.body;
      };
      const out = await hit.route.fn(engine, hit.params, url.searchParams, body);
      const { stream, headers } =
        'stream' in out && !('pipe' in out) ? out : { stream: out as Duplex, headers: {} as Record<string, string> };
      if (socket.destroyed) {
        // The client went while we worked (a run's container is then the engine's to finish).
        stream.destroy();
        return;
      }
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${ATTACH_PROTOCOL}\r\n${extra}\r\n`,
      );
      span.mark('switched');
      socket.once('close', () => span.mark('closed'));
      if (rest.length) stream.write(rest);
      // Either side closing ends both: the client gone, or the shim said EXIT and closed.
      pipeline(socket, stream).catch(() => {});
      pipeline(stream, socket).catch(() => {});
    } catch (e) {
      const body = JSON.stringify({ message: errorMessage(e) });
      socket.end(
        `HTTP/1.1 ${httpStatusOf(e)} Error\r\ncontent-type: application/json\r\n${ERROR_HEADER}: ${errorCodeOf(e)}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
  });
  return httpLazyServer(server);
}
