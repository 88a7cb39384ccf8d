// Kubernetes' port-forward protocol over berthd's streaming server:
//  - SPDY/3.1, subprotocol portforward.k8s.io (also carried inside a WebSocket by the tunnelling
//    subprotocol SPDY/3.1+portforward.k8s.io): each forwarded connection is a pair of streams the
//    client opens, `streamType: error` and `streamType: data`, with the same `port` and `requestID`
//    headers; any number of ports and connections share the session.
//  - WebSocket, v4.channel.k8s.io (binary) or v4.base64.channel.k8s.io: one connection per port
//    given in the `port` query parameters (or the request's ports), channel 2i its data and 2i+1 its
//    errors; the first message on each carries the port as a little-endian u16.
// Facts from kubernetes' kubelet/pkg/cri/streaming/portforward. Each connection reaches
// 127.0.0.1:PORT inside the pod's network namespace through the engine (connectInPod); errors go to
// the error stream as the kubelet words them.
// Must never: leave a pod connection open once its stream or the session has ended.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Engine } from '../engine/engine.ts';
import { connectInPod } from '../engine/pod-port-forward.ts';
import { errorMessage } from '../errors/errors.ts';
import type { SpdySession, SpdyStream } from './spdy-session.ts';
import type { PortForwardStreamRequest } from './stream-requests.ts';

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
export const WS_PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];
export const WS_TUNNEL_PROTOCOL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;
/** How long the second stream of a pair may lag behind the first (the kubelet's stream creation timeout). */
const PAIR_TIMEOUT_MS = 30_000;
/** After one direction ended, how long the other may go on (containerd gives one second). */
const HALF_CLOSE_GRACE_MS = 1000;

function forwardError(port: number, podId: string, e: unknown): string {
  return `error forwarding port ${port} to pod ${podId}, uid : ${errorMessage(e)}`;
}

/** Copies both ways between a client stream and a pod connection until both ended (or the grace after one). */
function splice(client: SpdyStream | import('node:stream').Duplex, pod: Socket): Promise<void> {
  return new Promise((resolve) => {
    let ended = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      pod.destroy();
      resolve();
    };
    const oneEnded = () => {
      if (++ended === 2) return finish();
      timer ??= setTimeout(finish, HALF_CLOSE_GRACE_MS).unref();
    };
    client.pipe(pod);
    pod.pipe(client);
    client.once('end', oneEnded);
    pod.once('end', oneEnded);
    client.once('close', finish);
    pod.once('close', finish);
    pod.on('error', () => {});
    client.on('error', () => {});
  });
}

/** Serves the pairs of streams a SPDY port-forward client opens, until the session ends. */
export function servePortForwardSpdy(
  engine: Engine,
  req: PortForwardStreamRequest,
  session: SpdySession,
  log: (m: string) => void,
): void {
  const pending = new Map<string, { error?: SpdyStream; data?: SpdyStream; timer: NodeJS.Timeout }>();
  const open = new Set<Socket>();
  session.on('stream', (s: SpdyStream) => {
    const type = s.headers.streamtype;
    const port = Number(s.headers.port);
    if ((type !== 'error' && type !== 'data') || !Number.isInteger(port) || port < 1 || port > 65535) {
      log(
        `streaming: port-forward stream with streamType ${JSON.stringify(type)} and port ${JSON.stringify(s.headers.port)} refused (expected error or data, and a port 1-65535)`,
      );
      s.reset();
      return;
    }
    s.reply();
    s.on('error', () => {});
    // Clients without requestID pair a data stream with the error stream opened just before it.
    const key = s.headers.requestid ?? String(type === 'data' ? s.id - 2 : s.id);
    const entry = pending.get(key) ?? { timer: setTimeout(() => expire(key), PAIR_TIMEOUT_MS).unref() };
    entry[type] = s;
    pending.set(key, entry);
    if (!entry.error || !entry.data) return;
    clearTimeout(entry.timer);
    pending.delete(key);
    const { error, data } = entry;
    error.resume();
    void (async () => {
      try {
        const pod = await connectInPod(engine.pods, req.podId, port);
        open.add(pod);
        await splice(data, pod);
        open.delete(pod);
      } catch (e) {
        error.write(forwardError(port, req.podId, e));
        data.end();
      }
      error.end();
    })();
  });
  const expire = (key: string) => {
    const e = pending.get(key);
    pending.delete(key);
    e?.error?.reset();
    e?.data?.reset();
  };
  session.once('close', () => {
    for (const e of pending.values()) clearTimeout(e.timer);
    pending.clear();
    for (const s of open) s.destroy();
  });
}

/** Serves a WebSocket port-forward session: one connection per port, opened at once. */
export function servePortForwardWs(engine: Engine, ports: number[], podId: string, ws: WebSocket): void {
  const base64 = ws.protocol.includes('base64');
  const send = (channel: number, data: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    if (base64) ws.send(String.fromCharCode(48 + channel) + data.toString('base64'));
    else ws.send(Buffer.concat([Buffer.from([channel]), data]));
  };
  const sockets: (Socket | undefined)[] = [];
  const early: Buffer[][] = ports.map(() => []);
  let left = ports.length;
  const doneOne = () => {
    if (--left === 0) ws.close(1000);
  };
  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    let b = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
    if (b.length === 0) return;
    let channel = b[0]!;
    if (!isBinary || base64) {
      channel = b[0]! - 48;
      b = Buffer.concat([Buffer.from([channel]), Buffer.from(b.subarray(1).toString('utf8'), 'base64')]);
    }
    const i = channel >> 1;
    if (channel % 2 !== 0 || i >= ports.length) return;
    const data = b.subarray(1);
    const s = sockets[i];
    if (s) s.write(data);
    else early[i]!.push(Buffer.from(data));
  });
  ws.on('error', () => {});
  ws.once('close', () => {
    for (const s of sockets) s?.destroy();
  });
  ports.forEach((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port, 0);
    send(2 * i, portBytes);
    send(2 * i + 1, portBytes);
    connectInPod(engine.pods, podId, port).then(
      (sock) => {
        if (ws.readyState !== ws.OPEN) {
          sock.destroy();
          return;
        }
        sockets[i] = sock;
        for (const b of early[i]!.splice(0)) sock.write(b);
        sock.on('data', (d: Buffer) => send(2 * i, d));
        sock.on('error', () => {});
        sock.once('close', doneOne);
      },
      (e: unknown) => {
        send(2 * i + 1, Buffer.from(forwardError(port, podId, e)));
        doneOne();
      },
    );
  });
  if (ports.length === 0) ws.close(1000);
}
