// Kubernetes' remote-command protocol (exec and attach) over berthd's streaming server, both
// transports the kubelet's clients use:
//  - SPDY/3.1 (spdy-session.ts): the client opens one stream per channel, named by its `streamType`
//    header (error, stdin, stdout, stderr, resize); subprotocols v1–v5.channel.k8s.io, negotiated
//    with X-Stream-Protocol-Version. v4 and v5 write the error stream as a JSON metav1.Status with the
//    exit code; v1–v3 as plain text, and only on failure; v1 and v2 have no resize stream.
//  - WebSocket (`ws`): binary messages whose first byte is the channel (0 stdin, 1 stdout, 2 stderr,
//    3 error, 4 resize), or text messages with the channel as a digit and base64 data for the
//    base64.channel.k8s.io variants; v5.channel.k8s.io adds message [255, channel] closing a channel
//    (the client's stdin EOF).
// Facts from kubernetes' kubelet/pkg/cri/streaming/remotecommand and apimachinery's wsstream.
// Exec runs through the engine's exec (berth-shim's exec mode); attach attaches to the container's
// shim. A client that goes away mid-stream detaches; its exec'd process is killed (it has no reader
// left, and must not keep a shim alive), the container never.
// Must never: keep a shim connection open after its client is gone.
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Engine } from '../engine/engine.ts';
import { processStreams } from '../engine/process-streams.ts';
import { errorMessage } from '../errors/errors.ts';
import type { SpdySession, SpdyStream } from './spdy-session.ts';
import type { AttachStreamRequest, ExecStreamRequest } from './stream-requests.ts';

export const SPDY_COMMAND_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
];
export const WS_COMMAND_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'channel.k8s.io',
  'base64.channel.k8s.io',
];

/** How long an exec with a tty waits for the client's first terminal size before it starts anyway. */
export const FIRST_SIZE_WAIT_MS = 1000;

/** How long a SPDY client has to open its streams (the kubelet's default stream creation timeout). */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

const Channel = { Stdin: 0, Stdout: 1, Stderr: 2, Error: 3, Resize: 4, Close: 255 } as const;

/** metav1.Status as the kubelet writes it (v4+). */
export type CommandStatus = {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason: string; message: string }[] };
};

export function successStatus(): CommandStatus {
  return { metadata: {}, status: 'Success' };
}

export function exitStatus(cmd: string[], code: number): CommandStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command ${goList(cmd)}, exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function internalStatus(message: string): CommandStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ reason: '', message }] },
  };
}

/** Go's %v of a []string, as containerd's exit error names the command. */
function goList(cmd: string[]): string {
  return `[${cmd.join(' ')}]`;
}

/** The channels of one remote-command session, whatever carries them. */
export interface CommandChannels {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: Readable;
  writeStatus(s: CommandStatus): void;
  /** Ends every channel and the connection once what was written is sent. */
  finish(): void;
  /** Resolves if the client goes away before finish(). */
  gone: Promise<void>;
}

type Opts = { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean };

/** Bridges `ch` to the exec'd process or the container until it ends or the client goes. */
export async function runRemoteCommand(
  engine: Engine,
  req: ExecStreamRequest | AttachStreamRequest,
  ch: CommandChannels,
  log: (m: string) => void,
): Promise<void> {
  const c = engine.containers;
  let execId: string | undefined;
  let conn: import('node:stream').Duplex;
  // Sizes the client sends; with a tty, an exec waits briefly for the first so that its terminal has
  // the client's size from the start (a command like `stty size` runs before any later resize).
  const sizes: { width: number; height: number }[] = [];
  let onSize: ((w: number, h: number) => void) | undefined;
  let firstSize: Promise<void> = Promise.resolve();
  if (ch.resize) {
    firstSize = new Promise<void>((resolve) => {
      onSize = (width, height) => {
        sizes.push({ width, height });
        resolve();
      };
      setTimeout(resolve, FIRST_SIZE_WAIT_MS).unref();
    });
    readResizes(ch.resize, (w, h) => onSize?.(w, h));
  }
  try {
    if (req.kind === 'exec') {
      if (req.tty) await firstSize;
      const first = sizes.shift();
      const consoleSize = first ? { height: first.height, width: first.width } : undefined;
      execId = (
        await c.exec(req.containerId, {
          cmd: req.cmd,
          tty: req.tty,
          openStdin: req.stdin,
          attach: true,
          ...(consoleSize ? { consoleSize } : {}),
        })
      ).execId;
      conn = await c.execAttach(execId);
    } else {
      conn = await c.attach(req.containerId);
    }
  } catch (e) {
    ch.writeStatus(
      internalStatus(
        `error ${req.kind === 'exec' ? 'executing command in' : 'attaching to'} container: ${errorMessage(e)}`,
      ),
    );
    ch.finish();
    return;
  }
  const ps = processStreams(conn, {
    ...(ch.stdout ? { stdout: ch.stdout } : {}),
    ...(ch.stderr ? { stderr: ch.stderr } : { stderr: ch.stdout }),
  });
  if (ch.stdin) {
    ch.stdin.on('data', (b: Buffer) => ps.write(b));
    // The client closed its stdin: an exec's process reads EOF; an attach closes the container's
    // stdin only when it was made with stdin_once (the engine decides), else leaves it open.
    if (req.kind === 'exec' || c.stdinEndsWithClient(req.containerId)) ch.stdin.on('end', () => ps.closeStdin());
    ch.stdin.on('error', () => {});
  }
  for (const s of sizes.splice(0)) ps.resize(s.height, s.width);
  onSize = (w, h) => ps.resize(h, w);
  const outcome = await Promise.race([ps.done.then((exit) => ({ exit })), ch.gone.then(() => 'gone' as const)]);
  if (outcome === 'gone') {
    ps.detach();
    if (execId)
      await c.execKill(execId).catch((e: unknown) => log(`streaming: kill exec ${execId}: ${errorMessage(e)}`));
    return;
  }
  // Every byte of output is queued before the status, then the ends (a client reads the status last).
  await Promise.all([ch.stdout, ch.stderr].map((w) => (w ? flushed(w) : undefined)));
  let code = outcome.exit?.exitCode;
  if (execId && code === undefined)
    code = await c.execWait(execId).then(
      (x) => x.exitCode,
      () => undefined,
    );
  if (req.kind === 'exec' && code === undefined)
    ch.writeStatus(internalStatus('error executing command in container: its exit status is unknown'));
  else if (req.kind === 'exec' && code !== 0) ch.writeStatus(exitStatus(req.cmd, code!));
  else ch.writeStatus(successStatus());
  ch.finish();
}

/** Resolves once everything written to `w` before has been handed on (an empty write's callback comes after them). */
function flushed(w: Writable): Promise<void> {
  if (w.destroyed || w.writableEnded) return Promise.resolve();
  return new Promise((resolve) => w.write(Buffer.alloc(0), () => resolve()));
}

/** The resize channel: a sequence of JSON objects {"Width":W,"Height":H} (Go's json.Decoder reads them back to back). */
export function readResizes(r: Readable, onSize: (width: number, height: number) => void): void {
  let buf = '';
  r.setEncoding('utf8');
  r.on('data', (s: string) => {
    buf += s;
    if (buf.length > 64 * 1024) buf = '';
    for (;;) {
      const start = buf.indexOf('{');
      if (start < 0) {
        buf = '';
        return;
      }
      const end = buf.indexOf('}', start);
      if (end < 0) {
        buf = buf.slice(start);
        return;
      }
      const text = buf.slice(start, end + 1);
      buf = buf.slice(end + 1);
      try {
        const v = JSON.parse(text) as { Width?: unknown; Height?: unknown };
        if (Number.isInteger(v.Width) && Number.isInteger(v.Height)) onSize(v.Width as number, v.Height as number);
      } catch {
        // Not a size: skipped, as the kubelet's decoder would stop; the session goes on.
      }
    }
  });
  r.on('error', () => {});
}

// ------------------------------------------------------------------------------ SPDY transport

/** Waits for the streams the options call for, replying to each, then hands out the channels. */
export function spdyCommandChannels(
  session: SpdySession,
  protocol: string,
  o: Opts,
  log: (m: string) => void,
): Promise<CommandChannels | undefined> {
  const version = protocol === '' || protocol === 'channel.k8s.io' ? 1 : Number(/^v(\d)\./.exec(protocol)?.[1] ?? 1);
  const expected = 1 + (o.stdin ? 1 : 0) + (o.stdout ? 1 : 0) + (o.stderr ? 1 : 0) + (o.tty && version >= 3 ? 1 : 0);
  const got: Partial<Record<string, SpdyStream>> = {};
  let count = 0;
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => {
      log(`streaming: the client opened ${count} of ${expected} streams within ${STREAM_CREATION_TIMEOUT_MS / 1000} s`);
      settle(undefined);
      session.destroy();
    }, STREAM_CREATION_TIMEOUT_MS);
    const onClose = () => settle(undefined);
    const settle = (v: CommandChannels | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
      resolve(v);
    };
    const onStream = (s: SpdyStream) => {
      const type = s.headers.streamtype ?? '';
      if (!['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type) || got[type]) {
        log(`streaming: unexpected stream type ${JSON.stringify(type)}`);
        s.reset();
        return;
      }
      s.reply();
      got[type] = s;
      if (++count < expected) return;
      const errorStream = got.error;
      const all = Object.values(got) as SpdyStream[];
      const gone = new Promise<void>((res) => session.once('close', () => res()));
      // v1 closed the stdin stream at once (1.0 kubelets did; kept for such clients).
      if (version === 1 && got.stdin) got.stdin.end();
      for (const st of all) st.on('error', () => {});
      // Nothing reads the error stream's or the output streams' incoming halves: drained.
      for (const st of [got.error, got.stdout, got.stderr]) st?.resume();
      settle({
        ...(got.stdin ? { stdin: got.stdin } : {}),
        ...(got.stdout ? { stdout: got.stdout } : {}),
        ...(got.stderr ? { stderr: got.stderr } : {}),
        ...(got.resize ? { resize: got.resize } : {}),
        writeStatus: (st) => {
          if (!errorStream) return;
          if (version >= 4) errorStream.write(JSON.stringify(st));
          else if (st.status !== 'Success') errorStream.write(st.message ?? 'error');
        },
        finish: () => {
          for (const st of all) if (!st.destroyed && !st.writableEnded) st.end();
          session.goAway();
        },
        gone,
      });
    };
    session.on('stream', onStream);
    session.once('close', onClose);
  });
}

// ------------------------------------------------------------------------------ WebSocket transport

/** The channels of a WebSocket remote-command session (the protocol `ws` negotiated). */
export function wsCommandChannels(ws: WebSocket, o: Opts): CommandChannels {
  const protocol = ws.protocol;
  const base64 = protocol.includes('base64');
  const v4 = protocol.startsWith('v4.') || protocol.startsWith('v5.');
  const v5 = protocol.startsWith('v5.');
  const stdin = o.stdin ? new PassThrough() : undefined;
  const resize = new PassThrough();
  let finished = false;
  const send = (channel: number, data: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    if (base64) ws.send(String.fromCharCode(48 + channel) + data.toString('base64'));
    else ws.send(Buffer.concat([Buffer.from([channel]), data]));
  };
  const writer = (channel: number): Writable =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        send(channel, chunk);
        cb();
      },
    });
  const stdout = o.stdout ? writer(Channel.Stdout) : undefined;
  const stderr = o.stderr ? writer(Channel.Stderr) : undefined;
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    let b = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (b.length === 0) return;
    let channel = b[0]!;
    if (!isBinary || base64) {
      channel = b[0]! - 48;
      b = Buffer.concat([Buffer.from([channel]), Buffer.from(b.subarray(1).toString('utf8'), 'base64')]);
    }
    const payload = b.subarray(1);
    if (channel === Channel.Stdin && stdin && !stdin.writableEnded) stdin.write(payload);
    else if (channel === Channel.Resize) resize.write(payload);
    else if (v5 && channel === Channel.Close && payload[0] === Channel.Stdin) stdin?.end();
  });
  const gone = new Promise<void>((res) =>
    ws.once('close', () => {
      stdin?.end();
      resize.end();
      if (!finished) res();
    }),
  );
  ws.on('error', () => {});
  // An empty message on the lowest writable channel tells the client the session is open (the kubelet does so).
  send(o.stdout ? Channel.Stdout : o.stderr ? Channel.Stderr : Channel.Error, Buffer.alloc(0));
  return {
    ...(stdin ? { stdin } : {}),
    ...(stdout ? { stdout } : {}),
    ...(stderr ? { stderr } : {}),
    resize,
    writeStatus: (st) => {
      if (v4) send(Channel.Error, Buffer.from(JSON.stringify(st)));
      else if (st.status !== 'Success') send(Channel.Error, Buffer.from(st.message ?? 'error'));
    },
    finish: () => {
      finished = true;
      ws.close(1000);
    },
    gone,
  };
}

/** X-Stream-Protocol-Version values of a request (repeated headers, or comma-joined by Node). */
export function offeredProtocols(req: IncomingMessage): string[] {
  const raw = req.headersDistinct['x-stream-protocol-version'] ?? [];
  return raw
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}
