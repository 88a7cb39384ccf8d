// The CRI's streaming calls (Exec, Attach, PortForward) as the kubelet sees them: each validated
// request becomes a one-time token (stream-tokens.ts) and the answer is a URL of berthd's streaming
// server, which the client then connects to (SPDY/3.1 or WebSocket). The server itself
// (streaming-server.ts: node:http, ws, SPDY) is imported and listens only when the first streaming
// call comes, so a berthd whose kubelet never execs pays nothing for it.
// Must never: run a command or open a connection itself (streaming-server.ts does, when a client comes).
import { invalidArgument } from '../errors/errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { StreamingServer } from './streaming-server.ts';
import type { StreamAddress, StreamRequest } from './stream-requests.ts';
import { StreamTokens } from './stream-tokens.ts';

export class CriStreaming {
  readonly tokens = new StreamTokens<StreamRequest>();
  readonly #engine: Engine;
  readonly #address: StreamAddress;
  readonly #log: (m: string) => void;
  #server: Promise<StreamingServer> | undefined;
  #closed = false;

  constructor(engine: Engine, address: StreamAddress, log: (m: string) => void) {
    this.#engine = engine;
    this.#address = address;
    this.#log = log;
  }

  /** The URL the client connects to for `req` (starting the server on first use). */
  async url(req: StreamRequest): Promise<string> {
    const server = await this.#start();
    return `${server.baseUrl}/${req.kind}/${this.tokens.issue(req)}`;
  }

  /** The server's base URL once it listens (tests); undefined before the first streaming call. */
  async started(): Promise<StreamingServer | undefined> {
    return this.#server;
  }

  #start(): Promise<StreamingServer> {
    if (this.#closed) return Promise.reject(invalidArgument('streaming: berthd is shutting down'));
    this.#server ??= import('./streaming-server.ts').then((m) =>
      m.startStreamingServer(this.#engine, this.tokens, this.#address, this.#log),
    );
    // A failed start (address in use) is retried by the next call rather than remembered.
    this.#server.catch(() => {
      this.#server = undefined;
    });
    return this.#server;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const s = await this.#server?.catch(() => undefined);
    await s?.close();
  }
}
