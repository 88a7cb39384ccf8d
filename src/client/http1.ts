// A minimal HTTP/1.1 exchange over berthd's unix socket, for the client's plain requests: one
// request (a JSON body or none) on its own connection (`Connection: close`), one response read whole
// (Content-Length, chunked, or up to EOF), or the socket itself after a 101 (attach, run).
// Why not node:http: loading it (its agent, client and parser modules) and its first request cost
// ~7 ms of every CLI start-up, on the path of every `berth run`. Streaming responses (logs, events,
// pull, save) and streamed request bodies (load, import) still use node:http (client.ts).
// Owns: request framing and response parsing. Must never: interpret a status (client.ts does).
import type { Socket } from 'node:net';

const { connect } = process.getBuiltinModule('node:net') as typeof import('node:net');

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

/** The reason an exchange failed before a response came: the socket's error (code ENOENT, ECONNREFUSED, …). */
function ended(what: string): Error {
  return Object.assign(new Error(`berthd closed the connection ${what}`), { code: 'ECONNRESET' });
}

/** One request, one response (or, for a 101, the upgraded socket, paused, with any bytes after the headers pushed back). */
export function http1(req: Http1Request): Promise<Http1Response | Http1Upgrade> {
  return new Promise((resolve, reject) => {
    const sock = connect(req.socketPath);
    let buf: Buffer = Buffer.alloc(0);
    let head: { status: number; headers: Headers } | undefined;
    let settled = false;
    const done = (err: unknown, v?: Http1Response | Http1Upgrade) => {
      if (settled) return;
      settled = true;
      req.signal?.removeEventListener('abort', onAbort);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      if (err) {
        sock.destroy();
        reject(err);
      } else resolve(v!);
    };
    const onAbort = () => done(req.signal!.reason ?? new Error('request aborted'));
    const onError = (e: Error) => done(e);
    const bodyOf = (final: boolean): Buffer | undefined => {
      const h = head!.headers;
      if (h['content-length'] !== undefined) {
        const n = Number(h['content-length']);
        return buf.length >= n ? buf.subarray(0, n) : undefined;
      }
      if ((h['transfer-encoding'] ?? '').toLowerCase() === 'chunked') return dechunk(buf);
      return final ? buf : undefined; // delimited by the end of the connection
    };
    const onData = (c: Buffer) => {
      try {
        take(c);
      } catch (e) {
        done(e);
      }
    };
    const take = (c: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      if (!head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > 64 << 10) done(new Error('berthd sent response headers larger than 64 KiB'));
          return;
        }
        head = parseHead(buf.subarray(0, end).toString('latin1'));
        buf = buf.subarray(end + 4);
        if (head.status === 101) {
          done(undefined, { status: 101, headers: head.headers, socket: sock });
          sock.pause();
          if (buf.length) sock.unshift(buf);
          return;
        }
      }
      const body = bodyOf(false);
      if (body) {
        done(undefined, { ...head, body });
        sock.destroy();
      }
    };
    const onEnd = () => {
      if (!head) return done(ended('before its answer'));
      let body: Buffer | undefined;
      try {
        body = bodyOf(true);
      } catch (e) {
        return done(e);
      }
      if (!body) return done(ended('in the middle of its answer'));
      done(undefined, { ...head, body });
      sock.destroy();
    };
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onError);
    const lines = [`${req.method} ${req.path} HTTP/1.1`, 'Host: berthd'];
    let connection = false;
    for (const [k, v] of Object.entries(req.headers ?? {})) {
      if (k.toLowerCase() === 'connection') connection = true;
      lines.push(`${k}: ${v}`);
    }
    if (!connection) lines.push('Connection: close');
    if (req.body) lines.push(`Content-Length: ${req.body.length}`);
    const headBytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    sock.write(req.body ? Buffer.concat([headBytes, req.body]) : headBytes);
  });
}

function parseHead(text: string): { status: number; headers: Headers } {
  const [statusLine = '', ...rest] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`berthd sent a malformed status line ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers: Headers = {};
  for (const l of rest) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers };
}

/** A whole chunked body, or undefined while its last chunk has not arrived. */
function dechunk(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', off);
    if (eol < 0) return undefined;
    const size = Number.parseInt(buf.subarray(off, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error('berthd sent a malformed chunk size');
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    off = eol + 2 + size + 2;
  }
}
