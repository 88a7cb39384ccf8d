// The container's terminal, from the runtime's side. Two cases, as runc has them:
//  - --console-socket PATH: berth-init sends the pty master (made inside the container) to that
//    socket; whoever listens there (containerd's shim, conmon) owns the terminal.
//  - a foreground `run`/`exec` with process.terminal and no socket: berth-runtime listens itself,
//    on a private socketpair, receives the master, and relays it to its own stdio (raw mode on a
//    terminal), so an interactive session works from a real terminal.
import { closeSync, createReadStream, createWriteStream } from 'node:fs';
import type { Socket } from 'node:net';
import { BerthError, ErrorCode, invalidArgument } from '../errors/errors.ts';
import * as native from '../sys/native.ts';

export class ConsoleEndpoint {
  /** The fd to hand to berth-init as its console socket. */
  readonly fd: number;
  private readonly sock: Socket | undefined;
  private readonly pair: [number, number] | undefined;

  private constructor(fd: number, sock?: Socket, pair?: [number, number]) {
    this.fd = fd;
    this.sock = sock;
    this.pair = pair;
  }

  /** Opens the endpoint the process's terminal needs, or undefined when it has none. */
  static async open(
    consoleSocket: string | undefined,
    terminal: boolean,
    foreground: boolean,
  ): Promise<ConsoleEndpoint | undefined> {
    if (consoleSocket) {
      if (!terminal) throw invalidArgument('--console-socket given but process.terminal is false');
      const sock = await connectUnix(consoleSocket);
      return new ConsoleEndpoint(fdOf(sock), sock);
    }
    if (!terminal) return undefined;
    if (!foreground)
      throw invalidArgument(
        'process.terminal is true: --console-socket is required unless the process runs in the foreground',
      );
    const pair = native.socketpair();
    return new ConsoleEndpoint(pair[1], undefined, pair);
  }

  /** For a foreground terminal: the pty master berth-init sent (it has, once READY arrived). */
  receiveMaster(): number | undefined {
    if (!this.pair) return undefined;
    const { fds } = native.recvFds(this.pair[0], 1, 4096);
    if (fds.length !== 1) throw new BerthError(ErrorCode.Internal, 'berth-init sent no pty master');
    return fds[0];
  }

  close(): void {
    this.sock?.destroy();
    if (this.pair) for (const fd of this.pair) closeSync(fd);
  }
}

/** The window size to start a foreground terminal with: the caller's terminal's, when it has one. */
export function callerWindowSize(): { height: number; width: number } | undefined {
  const out = process.stdout;
  return out.isTTY && out.rows && out.columns ? { height: out.rows, width: out.columns } : undefined;
}

/**
 * Relays a pty master to this process's stdio until the process ends: stdin (raw, when it is a
 * terminal) to the master, the master to stdout. Resolves when the master reports EOF or EIO
 * (every slave fd closed), or `exited` resolves and the output has drained.
 */
export function relayTerminal(master: number, exited: Promise<number>): Promise<void> {
  const input = createWriteStream('', { fd: master, autoClose: false });
  const output = createReadStream('', { fd: master, autoClose: false, highWaterMark: 16384 });
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  stdin.on('data', (d) => input.write(d));
  stdin.resume();
  output.on('data', (d) => process.stdout.write(d));
  const done = new Promise<void>((resolve) => {
    output.on('end', resolve);
    output.on('error', () => resolve()); // EIO: the last slave fd closed
  });
  return Promise.race([done, exited.then(() => new Promise<void>((r) => setTimeout(r, 200)))]).finally(() => {
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    stdin.removeAllListeners('data');
    output.destroy();
    try {
      closeSync(master);
    } catch {}
  });
}

function connectUnix(path: string): Promise<Socket> {
  return new Promise((res, rej) => {
    // node:net is loaded only by the commands that use a console socket (a few ms of start-up).
    const s = (process.getBuiltinModule('node:net') as typeof import('node:net')).connect(path);
    s.once('connect', () => res(s));
    s.once('error', (e) => rej(invalidArgument(`--console-socket ${path}: ${e.message}`)));
  });
}

function fdOf(sock: Socket): number {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0)
    throw new BerthError(ErrorCode.Internal, 'cannot get the fd of the console socket');
  return fd;
}
