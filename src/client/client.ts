// The typed client of berthd's native API (docs/engine.md): one method per route, over node:http
// with the daemon's unix socket. Errors come back as the BerthError the engine threw (category from
// the X-Berth-Error header, see src/api/errors.ts). Streams (pull progress, logs, events) are async
// iterables of the JSON lines; attach returns the upgraded socket carrying the shim's frames.
// Must never: import engine code (types only, through src/api/types.ts).
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { codeFromResponse, ERROR_HEADER } from '../api/errors.ts';
import {
  type BuildEventWire,
  API_PREFIX,
  ATTACH_PROTOCOL,
  type AttachOptions,
  CONTAINER_ID_HEADER,
  CONTAINER_NAME_HEADER,
  type Change,
  EXEC_ID_HEADER,
  type CommitRequest,
  type CommitResult,
  type ContainerDetails,
  type ContainerSummary,
  type CreateRequest,
  type EngineEvent,
  type ExecRequest,
  type ExitResult,
  type HistoryEntry,
  type ImagePruneWire,
  type LogLine,
  type NetworkInfo,
  PATH_STAT_HEADER,
  type PathStat,
  type PodInfo,
  type StatsResult,
  type SystemDf,
  type SystemInfo,
  type SystemPruneResult,
  type TopResult,
  type UpdateRequest,
  type VersionInfo,
  type VolumeInfo,
} from '../api/types.ts';
import { BerthError, ErrorCode, unavailable } from '../errors/errors.ts';
import { type Headers, type Http1Response, type Http1Upgrade, http1 } from './http1.ts';

// Plain requests (a JSON body or none, a whole answer) and upgrades go through http1.ts, streams
// (logs, events, pull, save, load, import) through response(); both over node:http, taken through
// getBuiltinModule when a request is made: an ESM import of node:http builds its namespace, whose
// lazy WebSocket/EventSource getters load undici, crypto, tls, http2, zlib and worker_threads (~20 ms).
const httpRequest = (
  options: import('node:http').RequestOptions,
  cb?: (res: IncomingMessage) => void,
): import('node:http').ClientRequest =>
  (process.getBuiltinModule('node:http') as typeof import('node:http')).request(options, cb);
const { connect } = process.getBuiltinModule('node:net') as typeof import('node:net');

export const DEFAULT_SOCKET = '/run/berth/berthd.sock';

export function defaultSocket(): string {
  const h = process.env.BERTH_HOST;
  if (h) return h.replace(/^unix:\/\//, '');
  return DEFAULT_SOCKET;
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

/** An attach's detach keys as the API takes them (hex); none: the attach never detaches on keys. */
function detachQuery(o: AttachOptions): Query {
  return o.detachKeys?.length ? { detachKeys: Buffer.from(o.detachKeys).toString('hex') } : {};
}
type Opts = { query?: Query; body?: unknown; raw?: Readable; signal?: AbortSignal };

function qs(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === false) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.append(k, v === true ? '1' : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The BerthError an error answer carries (message in the JSON body, category in X-Berth-Error). */
function errorFrom(status: number, header: string | undefined, text: string): BerthError {
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {}
  return new BerthError(codeFromResponse(status, header), message || `HTTP ${status}`);
}

async function errorOf(res: IncomingMessage): Promise<BerthError> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {}
  const header = res.headers[ERROR_HEADER];
  return new BerthError(
    codeFromResponse(res.statusCode ?? 500, Array.isArray(header) ? header[0] : header),
    message || `HTTP ${res.statusCode}`,
  );
}

export class BerthClient {
  readonly socketPath: string;

  constructor(socketPath: string = defaultSocket()) {
    this.socketPath = socketPath;
  }

  /**
   * Every request opens its own connection (createConnection, no Agent): a CLI makes one to three
   * requests, and the Agent's first request cost ~4 ms more (it derives a TLS server name from the
   * Host header through isIP's large regular expressions, and sets up its socket pool).
   */
  readonly #connect = (): Socket => connect(this.socketPath);

  #unreachable(e: NodeJS.ErrnoException): Error {
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
      return unavailable(
        `cannot reach berthd at ${this.socketPath} (${e.code}): is it running? (start it with berthd, or set BERTH_HOST)`,
        e,
      );
    return e;
  }

  /** One plain exchange (http1.ts): a JSON body or none; an error answer is thrown as its BerthError. */
  async #exchange(
    method: string,
    path: string,
    o: { query?: Query; body?: unknown; signal?: AbortSignal; upgrade?: boolean },
  ): Promise<Http1Response | Http1Upgrade> {
    const body = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
    const headers: Record<string, string> = {};
    if (body) headers['Content-Type'] = 'application/json';
    if (o.upgrade) Object.assign(headers, { Connection: 'Upgrade', Upgrade: ATTACH_PROTOCOL });
    const r = await http1({
      socketPath: this.socketPath,
      method,
      path: `${API_PREFIX}${path}${qs(o.query)}`,
      headers,
      ...(body ? { body } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    }).catch((e: NodeJS.ErrnoException) => {
      throw this.#unreachable(e);
    });
    if ('body' in r && r.status >= 400) throw errorFrom(r.status, r.headers[ERROR_HEADER], r.body.toString('utf8'));
    if (o.upgrade && r.status !== 101)
      throw new BerthError(
        ErrorCode.Internal,
        `${method} ${path}: berthd answered ${r.status}, expected 101 Switching Protocols`,
      );
    return r;
  }

  /** The raw response of a successful request (status < 400). */
  response(method: string, path: string, o: Opts = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const body = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
      const req = httpRequest(
        {
          socketPath: this.socketPath,
          createConnection: this.#connect,
          method,
          path: `${API_PREFIX}${path}${qs(o.query)}`,
          headers: {
            host: 'berthd',
            ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : {}),
            ...(o.raw ? { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } : {}),
          },
          ...(o.signal ? { signal: o.signal } : {}),
        },
        (res) => {
          if ((res.statusCode ?? 500) >= 400) errorOf(res).then(reject, reject);
          else resolve(res);
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => reject(this.#unreachable(e)));
      if (o.raw) o.raw.pipe(req);
      else req.end(body);
    });
  }

  async json<T>(method: string, path: string, o: Opts = {}): Promise<T> {
    let text: string;
    if (o.raw) {
      const res = await this.response(method, path, o);
      const chunks: Buffer[] = [];
      for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
      text = Buffer.concat(chunks).toString('utf8');
    } else {
      text = ((await this.#exchange(method, path, o)) as Http1Response).body.toString('utf8');
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** JSON lines of a streaming response; an {"error"} line is thrown as the BerthError it names. */
  async *lines<T>(method: string, path: string, o: Opts = {}): AsyncGenerator<T> {
    const res = await this.response(method, path, o);
    // readline (with its terminal helpers and os) is loaded only by the streaming verbs.
    const { createInterface } = process.getBuiltinModule('node:readline') as typeof import('node:readline');
    const rl = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of rl) {
        if (!line) continue;
        const v = JSON.parse(line) as T & { error?: string; code?: string };
        if (v && typeof v === 'object' && typeof v.error === 'string')
          throw new BerthError(codeFromResponse(500, v.code), v.error);
        yield v as Awaited<T>;
      }
    } finally {
      rl.close();
      res.destroy();
    }
  }

  async ping(): Promise<boolean> {
    const r = await http1({
      socketPath: this.socketPath,
      method: 'GET',
      path: '/_ping',
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    return r?.status === 200;
  }

  /** Upgrades to the attach protocol; the socket then carries the shim's frames (src/api/attach-frames.ts). */
  async upgrade(path: string, query?: Query): Promise<Socket> {
    return (await this.#upgrade(path, query)).socket;
  }

  async #upgrade(path: string, query?: Query, body?: unknown): Promise<{ socket: Socket; headers: Headers }> {
    const r = (await this.#exchange('POST', path, {
      ...(query ? { query } : {}),
      ...(body !== undefined ? { body } : {}),
      upgrade: true,
    })) as Http1Upgrade;
    return { socket: r.socket, headers: r.headers };
  }

  // ---- system
  version(): Promise<VersionInfo> {
    return this.json('GET', '/version');
  }
  info(): Promise<SystemInfo> {
    return this.json('GET', '/info');
  }
  events(
    o: { since?: string; until?: string; filters?: Record<string, string[]> } = {},
    signal?: AbortSignal,
  ): AsyncGenerator<EngineEvent> {
    return this.lines('GET', '/events', {
      query: { since: o.since, until: o.until, filters: o.filters ? JSON.stringify(o.filters) : undefined },
      ...(signal ? { signal } : {}),
    });
  }

  // ---- images
  images(): Promise<import('../api/types.ts').ImageSummaryWire[]> {
    return this.json('GET', '/images');
  }
  imageInspect(ref: string): Promise<unknown> {
    return this.json('GET', '/images/inspect', { query: { ref } });
  }
  async pull(
    ref: string,
    o: { platform?: string; progress?: (ev: unknown) => void } = {},
  ): Promise<{ name: string; digest: string }> {
    for await (const l of this.lines<{ progress?: unknown; done?: { name: string; digest: string } }>(
      'POST',
      '/images/pull',
      { query: { ref, platform: o.platform } },
    )) {
      if (l.progress !== undefined) o.progress?.(l.progress);
      if (l.done) return l.done;
    }
    throw new BerthError(ErrorCode.Internal, `pull ${ref}: the stream ended without a result`);
  }
  /** `berth build`: `context` is a directory on berthd's host, or a tar stream of one; events are the builder's BuildEvents. */
  async build(o: {
    context: string | Readable;
    tags?: string[];
    dockerfile?: string;
    buildArgs?: string[];
    labels?: string[];
    target?: string;
    /** The platform of stages without FROM --platform (os/arch[/variant]). */
    platform?: string;
    noCache?: boolean;
    pull?: boolean;
    onEvent?: (ev: BuildEventWire) => void;
  }): Promise<{ id: string; names: string[] }> {
    const query = {
      context: typeof o.context === 'string' ? o.context : undefined,
      t: o.tags,
      dockerfile: o.dockerfile,
      buildarg: o.buildArgs,
      label: o.labels,
      target: o.target,
      platform: o.platform,
      nocache: o.noCache,
      pull: o.pull,
    };
    for await (const l of this.lines<{ progress?: BuildEventWire; done?: { id: string; names: string[] } }>(
      'POST',
      '/build',
      { query, ...(typeof o.context === 'string' ? {} : { raw: o.context }) },
    )) {
      if (l.progress !== undefined) o.onEvent?.(l.progress);
      if (l.done) return l.done;
    }
    throw new BerthError(ErrorCode.Internal, 'build: the stream ended without a result');
  }
  builderPrune(): Promise<{ entries: number }> {
    return this.json('POST', '/build/prune');
  }
  tag(source: string, target: string): Promise<{ name: string }> {
    return this.json('POST', '/images/tag', { query: { source, target } });
  }
  rmi(
    refs: string[],
    force = false,
    noprune = false,
  ): Promise<{ untagged: string[]; gc: { removed: string[] }; deletedParents?: string[] }> {
    return this.json('DELETE', '/images', { query: { ref: refs, force, ...(noprune ? { noprune } : {}) } });
  }
  imagePrune(o: { all?: boolean; deep?: boolean; filters?: Record<string, string[]> } = {}): Promise<ImagePruneWire> {
    return this.json('POST', '/images/prune', {
      query: { all: o.all, deep: o.deep, ...(o.filters ? { filters: JSON.stringify(o.filters) } : {}) },
    });
  }
  systemDf(): Promise<SystemDf> {
    return this.json('GET', '/system/df');
  }
  systemPrune(o: { all?: boolean; volumes?: boolean } = {}): Promise<SystemPruneResult> {
    return this.json('POST', '/system/prune', { query: { all: o.all, volumes: o.volumes } });
  }
  containerPrune(filters?: Record<string, string[]>): Promise<{ removed: string[] }> {
    return this.json('POST', '/containers/prune', filters ? { query: { filters: JSON.stringify(filters) } } : {});
  }
  networkPrune(): Promise<{ removed: string[] }> {
    return this.json('POST', '/networks/prune');
  }
  save(refs: string[], format: 'docker-archive' | 'oci-archive' = 'docker-archive'): Promise<IncomingMessage> {
    return this.response('GET', '/images/save', { query: { ref: refs, format } });
  }
  load(body: Readable): Promise<{ images: { name: string; digest: string }[]; format: string }> {
    return this.json('POST', '/images/load', { raw: body });
  }
  importRootfs(
    input: { path: string } | { url: string } | Readable,
    ref?: string,
    platform?: string,
  ): Promise<{ name: string; target: { digest: string } }> {
    if ('url' in input && typeof input.url === 'string')
      return this.json('POST', '/images/import', { query: { url: input.url, ref, platform } });
    if ('path' in input && typeof input.path === 'string' && !('pipe' in input))
      return this.json('POST', '/images/import', { query: { path: input.path, ref, platform } });
    return this.json('POST', '/images/import', { query: { ref, platform }, raw: input as Readable });
  }

  history(ref: string): Promise<HistoryEntry[]> {
    return this.json('GET', '/images/history', { query: { ref } });
  }

  // ---- containers
  rename(id: string, name: string): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/rename`, { query: { name } });
  }
  update(id: string, u: UpdateRequest): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/update`, { body: u });
  }
  changes(id: string): Promise<Change[]> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/changes`);
  }
  commit(id: string, req: CommitRequest): Promise<CommitResult> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/commit`, { body: req });
  }
  statPath(id: string, path: string): Promise<PathStat> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/archive/stat`, { query: { path } });
  }
  /** A path of the container's filesystem as a tar stream ('/' for export), and the path's stat. */
  async archive(id: string, path: string): Promise<{ stat: PathStat; tar: IncomingMessage }> {
    const tar = await this.response('GET', `/containers/${encodeURIComponent(id)}/archive`, { query: { path } });
    const h = tar.headers[PATH_STAT_HEADER];
    const stat = JSON.parse(
      Buffer.from(String(Array.isArray(h) ? h[0] : (h ?? '')), 'base64').toString('utf8') || '{}',
    ) as PathStat;
    return { stat, tar };
  }
  /** A tar extracted into the container's directory `path`. */
  async extract(id: string, path: string, tar: Readable): Promise<void> {
    await this.json('PUT', `/containers/${encodeURIComponent(id)}/archive`, { query: { path }, raw: tar });
  }
  create(req: CreateRequest): Promise<{ id: string; name: string; warnings: string[] }> {
    return this.json('POST', '/containers', { body: req });
  }
  /** Create and start in one request (`run -d`). */
  createAndStart(req: CreateRequest): Promise<{ id: string; name: string; warnings: string[] }> {
    return this.json('POST', '/containers', { body: req, query: { start: true } });
  }
  /** `run` in one request: create, then start with this client attached (no output missed). */
  async run(req: CreateRequest, o: AttachOptions = {}): Promise<{ id: string; name: string; socket: Socket }> {
    const { socket, headers } = await this.#upgrade('/containers/run', detachQuery(o), req);
    const id = headers[CONTAINER_ID_HEADER];
    if (typeof id !== 'string' || id === '') {
      socket.destroy();
      throw new BerthError(
        ErrorCode.Internal,
        `run: berthd's answer named no container (${CONTAINER_ID_HEADER} missing)`,
      );
    }
    return { id, name: String(headers[CONTAINER_NAME_HEADER] ?? ''), socket };
  }
  list(o: { all?: boolean; filters?: Record<string, string[]> } = {}): Promise<ContainerSummary[]> {
    return this.json('GET', '/containers', {
      query: { all: o.all, filters: o.filters ? JSON.stringify(o.filters) : undefined },
    });
  }
  pods(): Promise<PodInfo[]> {
    return this.json('GET', '/pods');
  }
  podInspect(id: string): Promise<PodInfo> {
    return this.json('GET', `/pods/${encodeURIComponent(id)}`);
  }
  inspect(id: string): Promise<ContainerDetails> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}`);
  }
  start(id: string): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/start`);
  }
  stop(id: string, timeoutSec?: number): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/stop`, { query: { t: timeoutSec } });
  }
  restart(id: string, timeoutSec?: number): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/restart`, { query: { t: timeoutSec } });
  }
  kill(id: string, signal?: string): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/kill`, { query: { signal } });
  }
  remove(id: string, o: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    return this.json('DELETE', `/containers/${encodeURIComponent(id)}`, {
      query: { force: o.force, volumes: o.volumes },
    });
  }
  /** The container's exit once it is not running (default), or once it has been removed. */
  wait(id: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running'): Promise<ExitResult> {
    return this.json(
      'POST',
      `/containers/${encodeURIComponent(id)}/wait`,
      condition === 'not-running' ? {} : { query: { condition } },
    );
  }
  pause(id: string): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/pause`);
  }
  unpause(id: string): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/unpause`);
  }
  /** `psArgs`: the host's ps's options, each word apart (the native API keeps them as words). */
  top(id: string, psArgs: string[] = []): Promise<TopResult> {
    return this.json(
      'GET',
      `/containers/${encodeURIComponent(id)}/top`,
      psArgs.length ? { query: { ps_arg: psArgs } } : {},
    );
  }
  stats(id: string): Promise<StatsResult> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/stats`);
  }
  resize(id: string, rows: number, cols: number): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/resize`, { query: { h: rows, w: cols } });
  }
  logs(
    id: string,
    o: { follow?: boolean; tail?: number; since?: string; stdout?: boolean; stderr?: boolean } = {},
    signal?: AbortSignal,
  ): AsyncGenerator<LogLine> {
    return this.lines('GET', `/containers/${encodeURIComponent(id)}/logs`, {
      query: {
        follow: o.follow,
        tail: o.tail,
        since: o.since,
        stdout: o.stdout === false ? '0' : undefined,
        stderr: o.stderr === false ? '0' : undefined,
      },
      ...(signal ? { signal } : {}),
    });
  }
  /** Attach to a running container, or (start: true) start it with this client already attached. */
  attach(id: string, o: { start?: boolean } & AttachOptions = {}): Promise<Socket> {
    return this.upgrade(`/containers/${encodeURIComponent(id)}/attach`, { start: o.start, ...detachQuery(o) });
  }
  exec(id: string, req: ExecRequest): Promise<{ execId: string }> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/exec`, { body: req });
  }
  /** `exec` in one request: start the process with this client attached (no output missed, its exit frame last). */
  async execStart(id: string, req: ExecRequest, o: AttachOptions = {}): Promise<{ execId: string; socket: Socket }> {
    const { socket, headers } = await this.#upgrade(
      `/containers/${encodeURIComponent(id)}/exec/start`,
      detachQuery(o),
      req,
    );
    const execId = headers[EXEC_ID_HEADER];
    if (typeof execId !== 'string' || execId === '') {
      socket.destroy();
      throw new BerthError(ErrorCode.Internal, `exec: berthd's answer named no exec (${EXEC_ID_HEADER} missing)`);
    }
    return { execId, socket };
  }
  execLogs(execId: string): AsyncGenerator<LogLine> {
    return this.lines('GET', `/exec/${execId}/logs`);
  }
  execWait(execId: string): Promise<ExitResult> {
    return this.json('POST', `/exec/${execId}/wait`);
  }
  execAttach(execId: string, o: AttachOptions = {}): Promise<Socket> {
    return this.upgrade(`/exec/${execId}/attach`, detachQuery(o));
  }
  execResize(execId: string, rows: number, cols: number): Promise<void> {
    return this.json('POST', `/exec/${execId}/resize`, { query: { h: rows, w: cols } });
  }

  // ---- volumes
  volumes(): Promise<VolumeInfo[]> {
    return this.json('GET', '/volumes');
  }
  volumeCreate(name?: string, labels?: Record<string, string>): Promise<VolumeInfo> {
    return this.json('POST', '/volumes', { body: { name, labels } });
  }
  volumeInspect(name: string): Promise<VolumeInfo> {
    return this.json('GET', `/volumes/${encodeURIComponent(name)}`);
  }
  volumeRemove(name: string, force = false): Promise<void> {
    return this.json('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force } });
  }
  volumePrune(): Promise<{ removed: string[] }> {
    return this.json('POST', '/volumes/prune');
  }

  // ---- networks
  networks(): Promise<NetworkInfo[]> {
    return this.json('GET', '/networks');
  }
  networkCreate(
    name: string,
    o: { subnet?: string; gateway?: string; driver?: string; labels?: Record<string, string> } = {},
  ): Promise<NetworkInfo> {
    return this.json('POST', '/networks', { body: { name, ...o } });
  }
  networkInspect(name: string): Promise<NetworkInfo> {
    return this.json('GET', `/networks/${encodeURIComponent(name)}`);
  }
  networkConnect(name: string, container: string, o: { aliases?: string[]; ipv4Address?: string } = {}): Promise<void> {
    return this.json('POST', `/networks/${encodeURIComponent(name)}/connect`, { body: { container, ...o } });
  }
  networkDisconnect(name: string, container: string): Promise<void> {
    return this.json('POST', `/networks/${encodeURIComponent(name)}/disconnect`, { body: { container } });
  }
  networkRemove(name: string): Promise<void> {
    return this.json('DELETE', `/networks/${encodeURIComponent(name)}`);
  }
}
