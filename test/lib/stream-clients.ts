// The tests' clients of berthd's CRI streaming server, speaking as the kubelet's clients do
// (client-go's remotecommand and portforward, crictl): SPDY/3.1 after an HTTP upgrade, with the
// project's own framing (src/cri/spdy-session.ts, client side), and WebSocket (`ws`) with the
// channel.k8s.io framings. Each gives raw access (streams, messages) for tests that act mid-stream,
// and a one-call form that runs a command to its end.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Duplex, type Writable } from 'node:stream';
import * as wsLib from 'ws';
import { WebSocket } from 'ws';
import { SpdySession, type SpdyStream } from '../../src/cri/spdy-session.ts';

// ws's frame codec (exported by the package, absent from @types/ws).
type FrameSender = {
  send(
    data: Buffer,
    o: { binary: boolean; fin: boolean; mask: boolean; compress: boolean },
    cb?: (e?: Error | null) => void,
  ): void;
};
const { Receiver, Sender } = wsLib as unknown as {
  Receiver: new (o: { isServer: boolean; binaryType: string }) => Writable;
  Sender: new (socket: Socket) => FrameSender;
};

export type Upgraded = { session: SpdySession; socket: Socket; protocol: string };
export type HttpRefusal = { status: number; body: string };

/** Sends the upgrade request and reads the response head; a non-101 answer is returned as a refusal. */
export async function spdyUpgrade(url: string, protocols: string[]): Promise<Upgraded | HttpRefusal> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const lines = [
    `POST ${u.pathname}${u.search} HTTP/1.1`,
    `Host: ${u.host}`,
    'Connection: Upgrade',
    'Upgrade: SPDY/3.1',
    ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
    'Content-Length: 0',
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  const head = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const text = buf.subarray(0, end).toString('latin1');
      buf = buf.subarray(end + 4);
      resolve(text);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', () => reject(new Error(`the server closed the connection before answering: ${buf.toString()}`)));
  });
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
  if (status !== 101) {
    const rest = await new Promise<string>((resolve) => {
      socket.on('data', (c: Buffer) => (buf = Buffer.concat([buf, c])));
      socket.once('close', () => resolve(buf.toString()));
      socket.resume();
    });
    return { status, body: rest };
  }
  const protocol = /^x-stream-protocol-version: *(.*)$/im.exec(head)?.[1]?.trim() ?? '';
  const session = new SpdySession(socket, { server: false });
  socket.resume();
  session.feed(buf);
  return { session, socket, protocol };
}

export function isRefusal(x: Upgraded | HttpRefusal): x is HttpRefusal {
  return 'status' in x;
}

export type CommandOptions = { stdin?: boolean; stdout?: boolean; stderr?: boolean; tty?: boolean };
export type CommandResult = { stdout: string; stderr: string; error: string; protocol: string };

/** Reads a stream to its end. */
export function collect(s: Duplex | undefined): Promise<string> {
  if (!s) return Promise.resolve('');
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    s.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    s.once('close', () => resolve(Buffer.concat(parts).toString('utf8')));
    s.on('error', () => {});
  });
}

export type SpdyCommand = {
  up: Upgraded;
  streams: Partial<Record<'error' | 'stdin' | 'stdout' | 'stderr' | 'resize', SpdyStream>>;
  /** Everything each output stream carried, and the error stream, once they all ended. */
  result: Promise<CommandResult>;
};

/** Opens the streams as client-go does: error first, then stdin, stdout, stderr, resize (v3+ with a tty). */
export async function spdyCommand(
  url: string,
  o: CommandOptions,
  protocols = ['v4.channel.k8s.io'],
): Promise<SpdyCommand> {
  const up = await spdyUpgrade(url, protocols);
  if (isRefusal(up)) throw new Error(`upgrade refused: ${up.status} ${up.body}`);
  const version = up.protocol === '' || up.protocol === 'channel.k8s.io' ? 1 : Number(up.protocol[1]);
  type Kind = keyof SpdyCommand['streams'];
  const types: Kind[] = [
    'error',
    ...(o.stdin ? (['stdin'] as const) : []),
    ...(o.stdout !== false ? (['stdout'] as const) : []),
    ...(o.stderr ? (['stderr'] as const) : []),
    ...(o.tty && version >= 3 ? (['resize'] as const) : []),
  ];
  const streams: SpdyCommand['streams'] = {};
  for (const t of types) {
    const s = up.session.openStream({ streamtype: t });
    await s.replied();
    streams[t] = s;
  }
  const result = Promise.all([collect(streams.stdout), collect(streams.stderr), collect(streams.error)]).then(
    ([stdout, stderr, error]) => ({ stdout, stderr, error, protocol: up.protocol }),
  );
  return { up, streams, result };
}

/** Runs a command to its end: stdin given is sent then closed. */
export async function spdyRun(
  url: string,
  o: CommandOptions & { input?: Buffer | string },
  protocols?: string[],
): Promise<CommandResult> {
  const c = await spdyCommand(url, { ...o, stdin: o.stdin ?? o.input !== undefined }, protocols);
  if (c.streams.stdin) c.streams.stdin.end(o.input ?? '');
  const r = await c.result;
  c.up.socket.destroy();
  return r;
}

// ------------------------------------------------------------------------------ WebSocket

export type WsSession = {
  ws: WebSocket;
  protocol: string;
  channels: Map<number, Buffer[]>;
  closed: Promise<{ code: number }>;
  send(channel: number, data: Buffer | string): void;
};

export function wsUrl(url: string): string {
  return url.replace(/^http/, 'ws');
}

/** Opens a WebSocket with `protocols`; binary messages are sorted by their channel byte. */
export async function wsOpen(url: string, protocols: string[]): Promise<WsSession | HttpRefusal> {
  const ws = new WebSocket(wsUrl(url), protocols);
  const channels = new Map<number, Buffer[]>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    // Binary: the channel byte, then data; text (the base64 protocols): the channel as a digit, then base64.
    const ch = isBinary ? data[0]! : data[0]! - 48;
    const payload = isBinary ? Buffer.from(data.subarray(1)) : Buffer.from(data.subarray(1).toString('utf8'), 'base64');
    if (!channels.has(ch)) channels.set(ch, []);
    channels.get(ch)!.push(payload);
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.once('close', (code) => resolve({ code })));
  const opened = await new Promise<true | HttpRefusal>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (e) => resolve({ status: 0, body: e.message }));
  });
  if (opened !== true) return opened;
  return {
    ws,
    protocol: ws.protocol,
    channels,
    closed,
    send: (channel, data) => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)])),
  };
}

export function channelText(s: WsSession, channel: number): string {
  return Buffer.concat(s.channels.get(channel) ?? []).toString('utf8');
}

/** A command over WebSocket to its end: input sent on channel 0, then (v5) the CLOSE signal [255, 0]. */
export async function wsRun(
  url: string,
  protocols: string[],
  o: { input?: string; closeStdin?: boolean } = {},
): Promise<CommandResult & { firstMessages: number[] }> {
  const s = await wsOpen(url, protocols);
  if ('status' in s) throw new Error(`websocket refused: ${s.status} ${s.body}`);
  const order: number[] = [];
  s.ws.on('message', (d: Buffer) => order.push(d[0]!));
  if (o.input !== undefined) s.send(0, o.input);
  if (o.closeStdin) s.ws.send(Buffer.from([255, 0]));
  await s.closed;
  return {
    stdout: channelText(s, 1),
    stderr: channelText(s, 2),
    error: channelText(s, 3),
    protocol: s.protocol,
    firstMessages: order,
  };
}

// ------------------------------------------------------------------------------ port-forward

let requestSeq = 0;

/** One forwarded connection over a SPDY port-forward session: its data stream and its error stream's text. */
export async function spdyForward(
  session: SpdySession,
  port: number,
): Promise<{ data: SpdyStream; error: Promise<string> }> {
  const requestid = String(requestSeq++);
  const error = session.openStream({ streamtype: 'error', port: String(port), requestid });
  await error.replied();
  error.end();
  const data = session.openStream({ streamtype: 'data', port: String(port), requestid });
  await data.replied();
  return { data, error: collect(error) };
}

/** A minimal HTTP/1.0 GET through a forwarded connection: the whole answer. */
export async function httpGetOver(stream: Duplex, path = '/'): Promise<string> {
  const done = collect(stream);
  stream.write(`GET ${path} HTTP/1.0\r\nHost: pod\r\n\r\n`);
  return done;
}

/**
 * A SPDY session carried in a WebSocket (the tunnelling subprotocol SPDY/3.1+portforward.k8s.io, as
 * client-go's SPDY-over-WebSocket dialer sends it). `ws`'s client refuses that name (a '/' is not a
 * token character in RFC 6455), so the handshake is made here and `ws`'s own frame Sender (masked, as
 * a client must) and Receiver carry the bytes.
 */
export async function tunnelSession(url: string): Promise<{ session: SpdySession; socket: Socket }> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  socket.write(
    [
      `GET ${u.pathname} HTTP/1.1`,
      `Host: ${u.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io',
      '',
      '',
    ].join('\r\n'),
  );
  let buf = Buffer.alloc(0);
  while (buf.indexOf('\r\n\r\n') < 0) buf = Buffer.concat([buf, (await once(socket, 'data'))[0] as Buffer]);
  socket.pause();
  const end = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, end).toString('latin1');
  if (!/^HTTP\/1\.1 101/.test(head)) throw new Error(`tunnel refused: ${head}`);
  if (!/^sec-websocket-protocol: SPDY\/3\.1\+portforward\.k8s\.io$/im.test(head))
    throw new Error(`tunnel: the server chose another subprotocol: ${head}`);
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  if (!head.includes(accept)) throw new Error(`tunnel: wrong Sec-WebSocket-Accept: ${head}`);
  const sender = new Sender(socket);
  const receiver = new Receiver({ isServer: false, binaryType: 'nodebuffer' });
  const bytes = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      sender.send(chunk, { binary: true, fin: true, mask: true, compress: false }, cb);
    },
  });
  receiver.on('message', (d: Buffer) => bytes.push(d));
  receiver.on('conclude', () => bytes.push(null));
  receiver.on('error', () => socket.destroy());
  socket.on('close', () => bytes.destroy());
  receiver.write(buf.subarray(end + 4));
  socket.pipe(receiver);
  socket.resume();
  return { session: new SpdySession(bytes, { server: false }), socket };
}
