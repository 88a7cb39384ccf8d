// One plain exchange with berthd over its unix socket, for the client's requests that are not
// streams: one request (a JSON body or none) on its own connection, one response read whole, or the
// socket itself after a 101 (attach, run). Over node:http (its parser, its framing): loaded through
// getBuiltinModule when the first request is made, never through an ESM import, whose namespace
// would load undici, crypto, tls, http2 and zlib too (~20 ms of every CLI start-up). No Agent: a
// CLI makes one to three requests, and the Agent's first one costs ~4 ms of set-up.
// Owns: the exchange. Must never: interpret a status (client.ts does).
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { unavailable } from '../errors/errors.ts';

/** Response headers, names lower-cased (as node:http gives them). */
export type Headers = Record<string, string>;
export type Http1Response = { status: number; headers: Headers; body: Buffer };
export type Http1Upgrade = { status: 101; headers: Headers; socket: Socket };

export type Http1Request = {
  socketPath: string;
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: Buffer;
  signal?: AbortSignal;
};

function headersOf(res: IncomingMessage): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** One request, one response (or, for a 101, the upgraded socket, paused, with any bytes after the headers pushed back). */
export function http1(req: Http1Request): Promise<Http1Response | Http1Upgrade> {
  const http = process.getBuiltinModule('node:http') as typeof import('node:http');
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  return new Promise((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(req.signal.reason ?? new DOMException('request aborted', 'AbortError'));
      return;
    }
    const headers: Record<string, string | number> = { host: 'berthd', ...(req.headers ?? {}) };
    if (req.body) headers['content-length'] = req.body.length;
    const r: ClientRequest = http.request({
      socketPath: req.socketPath,
      createConnection: () => net.connect(req.socketPath),
      method: req.method,
      path: req.path,
      headers,
    });
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      req.signal?.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = () => {
      settle(() => reject(req.signal!.reason ?? new DOMException('request aborted', 'AbortError')));
      r.destroy();
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    r.on('error', (e: NodeJS.ErrnoException) =>
      // node:http's "socket hang up": berthd closed the connection without a whole answer.
      settle(() =>
        reject(
          e.code === 'ECONNRESET'
            ? unavailable(`berthd closed the connection before its answer (${req.method} ${req.path})`, e)
            : e,
        ),
      ),
    );
    r.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.pause();
      if (head.length) socket.unshift(head);
      settle(() => resolve({ status: 101, headers: headersOf(res), socket }));
    });
    r.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e: Error) => settle(() => reject(e)));
      res.on('aborted', () =>
        settle(() =>
          reject(unavailable(`berthd closed the connection in the middle of its answer (${req.method} ${req.path})`)),
        ),
      );
      res.on('end', () => {
        settle(() => resolve({ status: res.statusCode ?? 500, headers: headersOf(res), body: Buffer.concat(chunks) }));
        r.destroy();
      });
    });
    r.end(req.body);
  });
}
