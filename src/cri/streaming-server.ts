// berthd's streaming server: the HTTP endpoint behind the URLs that the CRI's Exec, Attach and
// PortForward return (streaming.ts). It listens on its own TCP address (default 127.0.0.1 on an
// ephemeral port), accepts only upgrade requests for /exec/TOKEN, /attach/TOKEN and
// /portforward/TOKEN, takes the token (once: a second use, or one older than a minute, is 404),
// and speaks SPDY/3.1 or WebSocket as the client asks (remote-command.ts, port-forward.ts).
// Loaded on the first streaming call only.
// Must never: serve a request without a valid token, or listen beyond the configured address.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Engine } from '../engine/engine.ts';
import { errorMessage } from '../errors/errors.ts';
import {
  PORT_FORWARD_PROTOCOL,
  servePortForwardSpdy,
  servePortForwardWs,
  WS_PORT_FORWARD_PROTOCOLS,
  WS_TUNNEL_PROTOCOL,
} from './port-forward.ts';
import {
  offeredProtocols,
  runRemoteCommand,
  SPDY_COMMAND_PROTOCOLS,
  spdyCommandChannels,
  WS_COMMAND_PROTOCOLS,
  wsCommandChannels,
} from './remote-command.ts';
import { SpdySession } from './spdy-session.ts';
import type { StreamTokens } from './stream-tokens.ts';
import type { StreamAddress, StreamRequest } from './stream-requests.ts';

const TUNNEL_ALIAS = 'x-berth-spdy-tunnel';

export type StreamingServer = { baseUrl: string; address: AddressInfo; close(): Promise<void> };

function refuse(
  socket: Duplex,
  code: number,
  reason: string,
  text: string,
  headers: Record<string, string> = {},
): void {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const body = `${text}\n`;
  socket.end(
    `HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

/** The client's protocol preference order, the first the server speaks (as apimachinery's httpstream.Handshake). */
function negotiate(offered: string[], supported: string[]): string | undefined {
  return offered.find((p) => supported.includes(p));
}

export async function startStreamingServer(
  engine: Engine,
  tokens: StreamTokens<StreamRequest>,
  address: StreamAddress,
  log: (m: string) => void,
): Promise<StreamingServer> {
  const connections = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 << 20 });
  const server = createServer((_req, res) => {
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(
      'berthd streaming server: connect with an upgrade to SPDY/3.1 or websocket, at the URL the CRI call returned\n',
    );
  });
  server.on('connection', (s: Socket) => {
    connections.add(s);
    s.once('close', () => connections.delete(s));
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)(?:\?.*)?$/.exec(req.url ?? '');
    if (!m)
      return refuse(
        socket,
        404,
        'Not Found',
        `no such streaming endpoint: ${req.url} (expected /exec/TOKEN, /attach/TOKEN or /portforward/TOKEN)`,
      );
    const kind = m[1]!;
    const r = tokens.take(m[2]!);
    if (!r || r.kind !== kind)
      return refuse(
        socket,
        404,
        'Not Found',
        `invalid or expired token for /${kind}: a streaming URL may be used once, within a minute of the CRI call that returned it`,
      );
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    try {
      if (upgrade === 'websocket') serveWebSocket(req, socket, head, r);
      else if (
        upgrade
          .split(',')
          .map((s) => s.trim())
          .includes('spdy/3.1')
      )
        serveSpdy(req, socket, head, r);
      else
        refuse(
          socket,
          400,
          'Bad Request',
          `unsupported upgrade ${JSON.stringify(req.headers.upgrade ?? '')} (expected SPDY/3.1 or websocket)`,
        );
    } catch (e) {
      log(`streaming: ${errorMessage(e)}`);
      socket.destroy();
    }
  });

  const serveSpdy = (req: IncomingMessage, socket: Duplex, head: Buffer, r: StreamRequest) => {
    const supported = r.kind === 'portforward' ? [PORT_FORWARD_PROTOCOL] : SPDY_COMMAND_PROTOCOLS;
    const offered = offeredProtocols(req);
    // A client that names no protocol speaks the first one (v1 for remote command), as the kubelet allows.
    const protocol =
      offered.length === 0 ? (r.kind === 'portforward' ? PORT_FORWARD_PROTOCOL : '') : negotiate(offered, supported);
    if (protocol === undefined) {
      return refuse(
        socket,
        403,
        'Forbidden',
        `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server supports ${JSON.stringify(supported)}`,
        { 'X-Supported-Protocol-Versions': supported.join(', ') },
      );
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n${protocol ? `X-Stream-Protocol-Version: ${protocol}\r\n` : ''}\r\n`,
    );
    const session = new SpdySession(socket, { server: true, log });
    if (r.kind === 'portforward') servePortForwardSpdy(engine, r, session, log);
    else {
      spdyCommandChannels(session, protocol, r, log)
        .then((ch) => (ch ? runRemoteCommand(engine, r, ch, log) : undefined))
        .catch((e: unknown) => {
          log(`streaming: ${r.kind}: ${errorMessage(e)}`);
          session.destroy();
        });
    }
    session.feed(head);
  };

  const serveWebSocket = (req: IncomingMessage, socket: Duplex, head: Buffer, r: StreamRequest) => {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const supported =
      r.kind === 'portforward' ? [WS_TUNNEL_PROTOCOL, ...WS_PORT_FORWARD_PROTOCOLS] : WS_COMMAND_PROTOCOLS;
    const protocol = negotiate(offered, supported);
    if (offered.length > 0 && protocol === undefined) {
      return refuse(
        socket,
        400,
        'Bad Request',
        `requested protocol(s) ${JSON.stringify(offered)} are not supported (expected one of ${supported.join(', ')})`,
      );
    }
    let ports: number[] = [];
    if (r.kind === 'portforward' && protocol !== WS_TUNNEL_PROTOCOL) {
      const q = new URL(req.url ?? '/', 'http://x').searchParams.getAll('port').flatMap((p) => p.split(','));
      ports = q.length ? q.map(Number) : r.ports;
      const bad = q.find((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535);
      if (bad !== undefined)
        return refuse(
          socket,
          400,
          'Bad Request',
          `query parameter port: ${JSON.stringify(bad)} is not a port (expected 1-65535)`,
        );
      if (ports.length === 0) return refuse(socket, 400, 'Bad Request', 'query parameter "port" is required');
    }
    // The tunnelling subprotocol's name has a '/', which RFC 6455's token grammar (and so `ws`) refuses;
    // Go's clients send it anyway. It is handed to `ws` under a token alias and answered by its real name.
    if (offered.includes(WS_TUNNEL_PROTOCOL))
      req.headers['sec-websocket-protocol'] = offered
        .map((p) => (p === WS_TUNNEL_PROTOCOL ? TUNNEL_ALIAS : p))
        .filter((p) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(p))
        .join(', ');
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (r.kind === 'portforward') {
        if (ws.protocol === WS_TUNNEL_PROTOCOL) {
          // The tunnelling subprotocol: the SPDY session's bytes ride in binary messages.
          const session = new SpdySession(createWebSocketStream(ws), { server: true, log });
          servePortForwardSpdy(engine, r, session, log);
        } else servePortForwardWs(engine, ports, r.podId, ws);
        return;
      }
      runRemoteCommand(engine, r, wsCommandChannels(ws, r), log).catch((e: unknown) => {
        log(`streaming: ${r.kind}: ${errorMessage(e)}`);
        ws.terminate();
      });
    });
  };
  // ws picks the subprotocol itself: the first the client offers that this server speaks.
  wss.options.handleProtocols = (offered: Set<string>, req: IncomingMessage) => {
    const kind = /^\/(\w+)\//.exec(req.url ?? '')?.[1];
    const supported =
      kind === 'portforward' ? [WS_TUNNEL_PROTOCOL, ...WS_PORT_FORWARD_PROTOCOLS] : WS_COMMAND_PROTOCOLS;
    return (
      negotiate(
        [...offered].map((p) => (p === TUNNEL_ALIAS ? WS_TUNNEL_PROTOCOL : p)),
        supported,
      ) ?? false
    );
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  log(`CRI streaming server listening on http://${host}:${addr.port}`);
  return {
    baseUrl: `http://${host}:${addr.port}`,
    address: addr,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of connections) s.destroy();
        wss.close();
      }),
  };
}
