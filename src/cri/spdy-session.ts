// A SPDY/3.1 session over one connection (after the HTTP upgrade), for berthd's streaming server and
// the tests' client: streams as Node Duplexes, PING answered, GOAWAY, RST_STREAM. Frames are
// spdy-frames.ts's; why berth writes SPDY itself is said there.
// Flow control: windows are announced (WINDOW_UPDATE as data is consumed) but the peer's windows are
// not enforced on sending: moby/spdystream, which every Kubernetes client uses, never sends a
// WINDOW_UPDATE, so a sender that honoured SPDY/3.1's 64 KiB windows would stall after 64 KiB. TCP
// carries the backpressure instead: a stream that cannot take more pauses the connection's reading.
// Must never: know what a stream carries (remote-command.ts and port-forward.ts do).
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import {
  DATA_CHUNK,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameDecoder,
  FrameEncoder,
  GoAwayStatus,
  RstStatus,
  type SpdyFrame,
  type SpdyHeaders,
  SpdyProtocolError,
} from './spdy-frames.ts';

export class SpdyStream extends Duplex {
  readonly id: number;
  /** The SYN_STREAM's headers (for a stream this side opened: the ones it sent). */
  readonly headers: SpdyHeaders;
  /** The SYN_REPLY's headers, once the peer replied to a stream this side opened. */
  replyHeaders: SpdyHeaders | undefined;
  readonly #session: SpdySession;
  readonly #local: boolean;
  #replied: boolean;
  #onReply: (() => void)[] = [];
  localFin = false;
  remoteFin = false;
  resetByPeer = false;

  constructor(session: SpdySession, id: number, headers: SpdyHeaders, local: boolean) {
    super({ allowHalfOpen: true });
    this.#session = session;
    this.id = id;
    this.headers = headers;
    this.#local = local;
    this.#replied = false;
  }

  /** Answers the peer's SYN_STREAM (required before any data flows on it). */
  reply(headers: SpdyHeaders = {}, fin = false): void {
    if (this.#local || this.#replied) return;
    this.#replied = true;
    if (fin) this.localFin = true;
    this.#session.send({ type: 'syn_reply', streamId: this.id, flags: fin ? FLAG_FIN : 0, headers });
    if (fin) this.#maybeDone();
  }

  /** Ends the stream both ways at once (RST_STREAM). */
  reset(status: number = RstStatus.Cancel): void {
    if (this.localFin && this.remoteFin) return;
    this.localFin = true;
    this.remoteFin = true;
    this.#session.send({ type: 'rst_stream', streamId: this.id, status });
    this.#session.forget(this.id);
    this.destroy();
  }

  /** Resolves once the peer replied to a stream this side opened. */
  replied(): Promise<void> {
    if (this.#replied) return Promise.resolve();
    return new Promise((resolve) => this.#onReply.push(resolve));
  }

  /** @internal session → stream */
  onFrame(f: SpdyFrame): void {
    if (f.type === 'syn_reply') {
      if (!this.#local || this.#replied) return;
      this.#replied = true;
      this.replyHeaders = f.headers;
      for (const r of this.#onReply.splice(0)) r();
      if (f.flags & FLAG_FIN) this.#remoteEnd();
    } else if (f.type === 'data') {
      if (this.remoteFin) {
        this.#session.send({ type: 'rst_stream', streamId: this.id, status: RstStatus.StreamAlreadyClosed });
        return;
      }
      if (f.data.length) {
        this.#session.consumed(this.id, f.data.length);
        if (!this.push(f.data)) this.#session.pauseFor(this);
      }
      if (f.flags & FLAG_FIN) this.#remoteEnd();
    } else if (f.type === 'headers') {
      if (f.flags & FLAG_FIN) this.#remoteEnd();
    } else if (f.type === 'rst_stream') {
      this.resetByPeer = true;
      this.localFin = true;
      this.remoteFin = true;
      this.#session.forget(this.id);
      this.destroy();
    }
  }

  /** @internal the connection went away */
  onSessionEnd(): void {
    if (this.localFin && this.remoteFin) return;
    this.localFin = true;
    this.remoteFin = true;
    this.destroy();
  }

  /** @internal a SYN_STREAM already carried FIN / UNIDIRECTIONAL */
  initialFlags(flags: number): void {
    if (flags & FLAG_FIN) this.#remoteEnd();
    if (flags & FLAG_UNIDIRECTIONAL) {
      this.localFin = true;
      this.end();
    }
  }

  #remoteEnd(): void {
    if (this.remoteFin) return;
    this.remoteFin = true;
    this.push(null);
    this.#maybeDone();
  }

  #maybeDone(): void {
    if (this.localFin && this.remoteFin) this.#session.forget(this.id);
  }

  override _read(): void {
    this.#session.resumeFor(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const go = () => {
      if (this.localFin) return cb(new Error(`SPDY stream ${this.id}: written after it was closed`));
      let ok = true;
      for (let off = 0; off < chunk.length; off += DATA_CHUNK)
        ok = this.#session.send({
          type: 'data',
          streamId: this.id,
          flags: 0,
          data: chunk.subarray(off, off + DATA_CHUNK),
        });
      // Queued on the connection in order; the next write waits only while the connection is full.
      if (ok) cb();
      else this.#session.whenDrained(() => cb());
    };
    if (this.#local && !this.#replied) this.replied().then(go);
    else go();
  }

  override _final(cb: (e?: Error | null) => void): void {
    const go = () => {
      if (!this.localFin) {
        this.localFin = true;
        this.#session.send({ type: 'data', streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) });
        this.#maybeDone();
      }
      cb();
    };
    if (this.#local && !this.#replied) this.replied().then(go);
    else go();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    // Destroyed before both halves closed: the peer must learn that the stream is gone.
    if (!(this.localFin && this.remoteFin)) {
      this.localFin = true;
      this.remoteFin = true;
      this.#session.send({ type: 'rst_stream', streamId: this.id, status: RstStatus.Cancel });
      this.#session.forget(this.id);
    }
    cb(err);
  }
}

export type SpdySessionOptions = {
  server: boolean;
  log?: (
    m: string,
  ) => void /** Streams the peer may hold open at once; more are refused (RST_STREAM REFUSED_STREAM). */;
  maxStreams?: number;
};

/** A peer's open streams are bounded: each costs memory here (and, for port-forward, a connection). */
export const DEFAULT_MAX_STREAMS = 1000;

/**
 * Events: 'stream' (a SpdyStream the peer opened; answer it with reply() or reset()), 'close'
 * (the connection ended; every stream has ended too).
 */
export class SpdySession extends EventEmitter {
  readonly #socket: Duplex;
  readonly #server: boolean;
  readonly #enc = new FrameEncoder();
  readonly #dec = new FrameDecoder();
  readonly #streams = new Map<number, SpdyStream>();
  readonly #pausedBy = new Set<SpdyStream>();
  readonly #pings = new Map<number, () => void>();
  #nextId: number;
  #nextPing: number;
  #lastPeerId = 0;
  #goneAway = false;
  #closed = false;
  #log: (m: string) => void;
  readonly #maxStreams: number;

  constructor(socket: Duplex, o: SpdySessionOptions) {
    super();
    this.#socket = socket;
    this.#server = o.server;
    this.#nextId = o.server ? 2 : 1;
    this.#nextPing = o.server ? 2 : 1;
    this.#log = o.log ?? (() => {});
    this.#maxStreams = o.maxStreams ?? DEFAULT_MAX_STREAMS;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
    socket.on('end', () => socket.end());
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /** Feeds bytes that arrived with the upgrade request (Node's `head`). */
  feed(head: Buffer): void {
    if (head.length) this.#onData(head);
  }

  /** Opens a stream (the side that opens: a client's odd ids, a server's even ones). */
  openStream(headers: SpdyHeaders, o: { fin?: boolean } = {}): SpdyStream {
    const id = this.#nextId;
    this.#nextId += 2;
    const s = new SpdyStream(this, id, headers, true);
    this.#streams.set(id, s);
    if (o.fin) s.localFin = true;
    this.send({ type: 'syn_stream', streamId: id, associatedId: 0, priority: 0, flags: o.fin ? FLAG_FIN : 0, headers });
    if (o.fin) s.end();
    return s;
  }

  ping(): Promise<void> {
    const id = this.#nextPing;
    this.#nextPing += 2;
    return new Promise((resolve) => {
      this.#pings.set(id, resolve);
      this.send({ type: 'ping', id });
    });
  }

  /** Says no new streams are taken (GOAWAY); the connection ends once the streams have. */
  goAway(status: number = GoAwayStatus.Ok): void {
    if (this.#goneAway) return;
    this.#goneAway = true;
    this.send({ type: 'goaway', lastGoodStreamId: this.#lastPeerId, status });
    if (this.#streams.size === 0) this.#socket.end();
  }

  /** Ends the connection now: every stream ends. */
  destroy(): void {
    this.#socket.destroy();
  }

  /** @internal queues a frame; false when the connection's buffer is full (whenDrained then). */
  send(f: SpdyFrame): boolean {
    if (this.#closed || this.#socket.destroyed || this.#socket.writableEnded) return true;
    return this.#socket.write(this.#enc.encode(f));
  }

  /** @internal */
  whenDrained(cb: () => void): void {
    if (this.#closed || this.#socket.destroyed) {
      cb();
      return;
    }
    const done = () => {
      this.#socket.off('drain', done);
      this.#socket.off('close', done);
      cb();
    };
    this.#socket.on('drain', done);
    this.#socket.on('close', done);
  }

  /** @internal data of a stream was taken in: the peer may send as much again. */
  consumed(id: number, n: number): void {
    this.send({ type: 'window_update', streamId: id, delta: n });
    this.send({ type: 'window_update', streamId: 0, delta: n });
  }

  /** @internal */
  pauseFor(s: SpdyStream): void {
    this.#pausedBy.add(s);
    this.#socket.pause();
  }

  /** @internal */
  resumeFor(s: SpdyStream): void {
    if (this.#pausedBy.delete(s) && this.#pausedBy.size === 0) this.#socket.resume();
  }

  /** @internal a stream is closed both ways */
  forget(id: number): void {
    const s = this.#streams.get(id);
    if (!s) return;
    this.#streams.delete(id);
    this.resumeFor(s);
    if (this.#goneAway && this.#streams.size === 0) this.#socket.end();
  }

  #onData(chunk: Buffer): void {
    let frames: SpdyFrame[];
    try {
      frames = this.#dec.push(chunk);
    } catch (e) {
      this.#protocolError(e);
      return;
    }
    for (const f of frames) {
      try {
        this.#onFrame(f);
      } catch (e) {
        this.#protocolError(e);
        return;
      }
    }
  }

  #protocolError(e: unknown): void {
    this.#log(`streaming: ${(e as Error).message}`);
    if (e instanceof SpdyProtocolError && e.streamId) {
      this.send({ type: 'rst_stream', streamId: e.streamId, status: RstStatus.ProtocolError });
      // A header block that failed leaves the decompression context unusable: the session ends too.
    }
    this.send({ type: 'goaway', lastGoodStreamId: this.#lastPeerId, status: GoAwayStatus.ProtocolError });
    this.#goneAway = true;
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  #onFrame(f: SpdyFrame): void {
    switch (f.type) {
      case 'syn_stream': {
        const peerParity = this.#server ? 1 : 0;
        if (f.streamId % 2 !== peerParity || f.streamId <= this.#lastPeerId) {
          this.send({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.ProtocolError });
          return;
        }
        this.#lastPeerId = f.streamId;
        if (this.#goneAway || this.#streams.size >= this.#maxStreams) {
          this.send({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.RefusedStream });
          return;
        }
        const s = new SpdyStream(this, f.streamId, f.headers, false);
        this.#streams.set(f.streamId, s);
        s.initialFlags(f.flags);
        this.emit('stream', s);
        return;
      }
      case 'syn_reply':
      case 'data':
      case 'headers':
      case 'rst_stream': {
        const s = this.#streams.get(f.streamId);
        if (s) s.onFrame(f);
        else if (f.type === 'data' && !(f.flags & FLAG_FIN))
          this.send({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.InvalidStream });
        return;
      }
      case 'ping': {
        const mine = (f.id % 2 === 0) === this.#server;
        if (!mine) this.send({ type: 'ping', id: f.id });
        else {
          this.#pings.get(f.id)?.();
          this.#pings.delete(f.id);
        }
        return;
      }
      case 'goaway':
        this.#goneAway = true;
        if (this.#streams.size === 0) this.#socket.end();
        return;
      case 'settings':
      case 'window_update':
      case 'unknown':
        return;
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#streams.values()]) s.onSessionEnd();
    this.#streams.clear();
    for (const r of this.#pings.values()) r();
    this.#pings.clear();
    this.emit('close');
  }
}
