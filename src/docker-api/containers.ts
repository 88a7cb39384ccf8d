// Container routes of the Docker API: create, list, inspect, start/stop/restart/kill, wait, remove,
// pause/unpause, top, resize, logs, attach. Each converts Docker's request to engine calls and the
// result to Docker's shape (container-create.ts, container-shapes.ts).
import { containerSizes } from '../engine/disk-sizes.ts';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.ts';
import type { ContainerDetails, LogLine } from '../engine/types.ts';
import { ErrorCode, failedPrecondition, invalidArgument, isBerthError } from '../errors/errors.ts';
import { type DockerConfig, type DockerHostConfig, toCreateRequest, toUpdateRequest } from './container-create.ts';
import { engineNetworkName, toInspect, toListEntry } from './container-shapes.ts';
import { attachDetachKeys } from './detach-keys.ts';
import { dockerStartFailure, orNoSuch, refused } from './errors.ts';
import { filters, flag, int, timeParam } from './query.ts';
import { Created, type Ctx, type DockerRouter, NO_CONTENT, readJsonBody, STREAMED } from './server.ts';
import type { DockerState } from './state.ts';
import { bridge, muxFrame, STDERR, STDOUT, streamContentType } from './streams.ts';

function notModified(c: Ctx): typeof STREAMED {
  c.res.writeHead(304);
  c.res.end();
  return STREAMED;
}

/** docker's signal words (KILL, SIGKILL, 9) as the engine's (SIGKILL or a number); undefined when none is given. */
function signalName(sig: string | null): string | undefined {
  if (!sig) return undefined;
  return /^\d+$/.test(sig) || sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
}

const resolve = (e: Engine, word: string) => orNoSuch('container', word, () => e.containers.resolve(word));
const inspect = (e: Engine, word: string) => orNoSuch('container', word, () => e.containers.inspect(word));

async function imageConfigOf(e: Engine, ref: string) {
  try {
    return (await e.images.inspect(ref)).config.config;
  } catch {
    return undefined;
  }
}

export async function dockerInspect(e: Engine, word: string, version: string) {
  const d = await inspect(e, word);
  const vols = new Map(e.volumes.list().map((v) => [v.name, v.mountpoint]));
  return toInspect(
    d,
    {
      imageId: d.imageId,
      imageConfig: await imageConfigOf(e, d.image),
      defaultNetwork: e.network.defaultNetwork,
      driver: e.images.snapshotterName,
      volumeMountpoint: (n) => vols.get(n) ?? '',
    },
    version,
  );
}

/** Renders engine log lines in Docker's framing (raw with a TTY, multiplexed without), with timestamps if asked. */
function logChunk(l: LogLine, tty: boolean, timestamps: boolean): Buffer {
  const text = timestamps ? `${l.time} ${l.log}` : l.log;
  return tty ? Buffer.from(text) : muxFrame(l.stream === 'stderr' ? STDERR : STDOUT, Buffer.from(text));
}

async function startWithAttaches(e: Engine, state: DockerState, id: string, autoRemove: boolean): Promise<void> {
  const pending = state.takePendingAttaches(id);
  let first: Duplex | undefined;
  try {
    // The first attach sees the process from its first byte; others join once it runs.
    if (pending.length === 0) await e.containers.start(id);
    else first = await e.containers.startAttached(id, pending[0]!.options);
  } catch (err) {
    for (const p of pending) p.socket.end();
    const failure = dockerStartFailure(err, commandOf(e, id));
    // dockerd removes an auto-remove container whose start failed (the CLI waits for that), as the engine's run does.
    if (autoRemove) await e.containers.remove(id, { force: true, anonymousVolumes: true }).catch(() => {});
    throw failure;
  }
  if (!first) return;
  pending[0]!.take(first);
  for (const p of pending.slice(1)) {
    e.containers.attach(id, p.options).then(
      (s) => p.take(s),
      () => p.socket.end(),
    );
  }
}

/** The program the container runs (its spec's args[0]), '' when the container is gone. */
function commandOf(e: Engine, id: string): string {
  try {
    return (e.containers.inspect(id).spec as { process?: { args?: string[] } }).process?.args?.[0] ?? '';
  } catch {
    return '';
  }
}

/** Does `l` (K or K=V) match `labels`? */
function hasLabel(labels: Record<string, string>, l: string): boolean {
  const eq = l.indexOf('=');
  return eq < 0 ? Object.hasOwn(labels, l) : labels[l.slice(0, eq)] === l.slice(eq + 1);
}

/** `80`, `80/tcp`, `8080-8090/udp` as a test of a port and protocol. */
function portTest(spec: string): (port: number, proto: string) => boolean {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(spec);
  if (!m) throw invalidArgument(`invalid filter: port ${JSON.stringify(spec)}: expected PORT[/PROTO] or a range`);
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  return (port, proto) => port >= lo && port <= hi && proto === (m[3] ?? 'tcp');
}

/**
 * Docker's container list entries, newest first. The engine filters by id, name, status, ancestor,
 * exited and runtime; the filters only docker has are applied here from each container's record:
 * label (every one must match, where the engine takes alternatives), network, volume, before,
 * since, publish and expose.
 */
export async function containerListEntries(
  e: Engine,
  f: { all: boolean; filters: Record<string, string[]>; version?: string },
) {
  const {
    label = [],
    network = [],
    volume = [],
    before = [],
    since = [],
    publish = [],
    expose = [],
    ...rest
  } = f.filters;
  const createdOf = (word: string) => orNoSuch('container', word, () => e.containers.resolve(word).createdAt);
  const beforeT = before.length ? await createdOf(before[0]!) : undefined;
  const sinceT = since.length ? await createdOf(since[0]!) : undefined;
  const publishT = publish.map(portTest);
  const exposeT = expose.map(portTest);
  const all = f.all || beforeT !== undefined || sinceT !== undefined;
  const list = e.containers
    .list({ all, filters: rest })
    .filter(
      (c) =>
        label.every((l) => hasLabel(c.labels, l)) &&
        (beforeT === undefined || c.createdAt < beforeT) &&
        (sinceT === undefined || c.createdAt > sinceT),
    )
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const vols = new Map(e.volumes.list().map((v) => [v.name, v.mountpoint]));
  const def = e.network.defaultNetwork;
  const out = [];
  for (const s of list) {
    const d = e.containers.inspect(s.id);
    const nets = d.endpoints?.map((ep) => ep.network) ?? [d.request.network ?? def];
    if (network.length && !network.some((n) => nets.includes(n) || nets.includes(engineNetworkName(n, def)))) continue;
    const mounts = d.request.mounts ?? [];
    if (volume.length && !volume.some((v) => mounts.some((m) => m.source === v || m.target === v))) continue;
    const ports = d.request.ports ?? [];
    if (publishT.length && !publishT.some((t) => s.ports.some((p) => t(p.hostPort, p.protocol)))) continue;
    if (exposeT.length && !exposeT.some((t) => ports.some((p) => t(p.containerPort, p.protocol)))) continue;
    out.push(
      toListEntry(s, {
        imageId: s.imageId,
        defaultNetwork: def,
        networks: d.networks,
        endpoints: d.endpoints,
        request: d.request,
        mounts,
        volumeMountpoint: (n) => vols.get(n) ?? '',
        version: f.version ?? '1.50',
      }),
    );
  }
  return out;
}

export function containerRoutes(r: DockerRouter): void {
  r.on('POST', '/containers/create', async (c) => {
    const body = await readJsonBody<DockerConfig>(c.req, 'container create');
    const platform = c.query.get('platform');
    if (platform && !/^linux(\/|$)/.test(platform))
      throw refused(`platform ${platform}`, 'berthd runs linux containers');
    const req = toCreateRequest(body, c.query.get('name') || undefined, c.engine.network.defaultNetwork, c.version);
    for (const n of [req.network, ...(req.networks ?? []).map((e) => e.network)])
      if (n && n !== 'host' && n !== 'none') await orNoSuch('network', n, () => c.engine.network.inspect(n));
    const res = await orNoSuch('image', body.Image!, () => c.engine.containers.create(req));
    return new Created({ Id: res.id, Warnings: res.warnings });
  });

  r.on('GET', '/containers/json', async (c) => {
    const limit = int(c.query, 'limit');
    const all = flag(c.query, 'all') || (limit !== undefined && limit > 0);
    const all_ = await containerListEntries(c.engine, { all, filters: filters(c.query), version: c.version });
    const list = limit !== undefined && limit > 0 ? all_.slice(0, limit) : all_;
    if (!flag(c.query, 'size')) return list;
    // `ps --size`: the writable layer, and the whole root filesystem ("virtual"), walked on request only.
    const sizes = await containerSizes(
      c.engine,
      list.map((x) => String(x.Id)),
    );
    return list.map((x) => ({
      ...x,
      SizeRw: sizes.get(String(x.Id))?.rw ?? 0,
      SizeRootFs: sizes.get(String(x.Id))?.rootFs ?? 0,
    }));
  });

  r.on('GET', '/containers/{id}/json', async (c) => dockerInspect(c.engine, c.params.id!, c.version));

  r.on('POST', '/containers/{id}/start', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    if (rec.status === 'running' || rec.status === 'paused') return notModified(c);
    const autoRemove = c.engine.containers.inspect(rec.id).request.autoRemove === true;
    await startWithAttaches(c.engine, c.state, rec.id, autoRemove);
    return NO_CONTENT;
  });

  r.on('POST', '/containers/{id}/stop', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    if (rec.status !== 'running' && rec.status !== 'paused') return notModified(c);
    await c.engine.containers.stop(rec.id, int(c.query, 't'), signalName(c.query.get('signal')));
    return NO_CONTENT;
  });

  r.on('POST', '/containers/{id}/update', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    await c.engine.containers.update(
      rec.id,
      toUpdateRequest(await readJsonBody<DockerHostConfig>(c.req, 'container update')),
    );
    return { Warnings: [] };
  });

  r.on('POST', '/containers/{id}/restart', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    await c.engine.containers.stop(rec.id, int(c.query, 't'), signalName(c.query.get('signal')));
    await c.engine.containers.start(rec.id);
    return NO_CONTENT;
  });

  r.on('POST', '/containers/{id}/kill', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    if (rec.status !== 'running' && rec.status !== 'paused')
      throw failedPrecondition(`Cannot kill container: ${c.params.id}: Container ${rec.id} is not running`);
    await c.engine.containers.kill(rec.id, signalName(c.query.get('signal')) ?? 'SIGKILL');
    return NO_CONTENT;
  });

  r.on('DELETE', '/containers/{id}', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    if (flag(c.query, 'link')) throw refused('rm --link', 'berth has no legacy links');
    const force = flag(c.query, 'force');
    if ((rec.status === 'running' || rec.status === 'paused') && !force) {
      throw failedPrecondition(
        `cannot remove container "/${rec.name}": container is ${rec.status}: stop the container before removing or force remove`,
      );
    }
    // docker's rm -v removes the container's anonymous volumes, never a named one.
    await c.engine.containers.remove(rec.id, { force, anonymousVolumes: flag(c.query, 'v') });
    return NO_CONTENT;
  });

  r.on('POST', '/containers/{id}/wait', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    const condition = c.query.get('condition') || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(condition))
      throw invalidArgument(`invalid condition: ${JSON.stringify(condition)}`);
    // The headers go at once: the docker CLI starts the container only once its wait is answered.
    c.res.writeHead(200, { 'content-type': 'application/json' });
    c.res.flushHeaders();
    let code = 0;
    let error: string | undefined;
    try {
      if (condition === 'not-running' && rec.status === 'created') code = 0;
      else if (condition === 'removed') code = (await c.engine.containers.waitRemoved(rec.id)).exitCode;
      else if (condition === 'next-exit') code = (await c.engine.containers.waitNextExit(rec.id)).exitCode;
      else code = (await c.engine.containers.wait(rec.id)).exitCode;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      code = -1;
    }
    c.res.end(JSON.stringify({ StatusCode: code, ...(error ? { Error: { Message: error } } : {}) }));
    return STREAMED;
  });

  r.on('POST', '/containers/{id}/pause', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    if (rec.status !== 'running')
      throw failedPrecondition(
        rec.status === 'paused' ? `container ${rec.id} is already paused` : `container ${rec.id} is not running`,
      );
    await c.engine.containers.pause(rec.id);
    return NO_CONTENT;
  });
  r.on('POST', '/containers/{id}/unpause', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    if (rec.status !== 'paused') throw failedPrecondition(`container ${rec.id} is not paused`);
    await c.engine.containers.unpause(rec.id);
    return NO_CONTENT;
  });

  r.on('GET', '/containers/{id}/top', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    // dockerd splits ps_args at spaces (the CLI joins its words with them); -ef is berthd's own listing.
    const psArgs = (c.query.get('ps_args') ?? '').split(' ').filter(Boolean);
    if (rec.status !== 'running' && rec.status !== 'paused')
      throw failedPrecondition(`container ${rec.id} is not running`);
    const t = await c.engine.containers.top(rec.id, psArgs.join(' ') === '-ef' ? undefined : psArgs);
    return { Titles: t.titles, Processes: t.processes };
  });

  r.on('POST', '/containers/{id}/resize', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    const h = int(c.query, 'h') ?? 0;
    const w = int(c.query, 'w') ?? 0;
    if (h < 0 || w < 0 || h > 0xffff || w > 0xffff) throw invalidArgument(`invalid size: h=${h} w=${w}`);
    if (rec.status !== 'running' && rec.status !== 'paused')
      throw failedPrecondition(`Container ${rec.id} is not running`);
    await c.engine.containers.resize(rec.id, h, w);
    return NO_CONTENT;
  });

  r.on('POST', '/containers/{id}/rename', async (c) => {
    const rec = await resolve(c.engine, c.params.id!);
    const name = (c.query.get('name') ?? '').replace(/^\//, '');
    if (!name) throw invalidArgument('Neither old nor new names may be empty');
    await c.engine.containers.rename(rec.id, name);
    return NO_CONTENT;
  });

  r.on('GET', '/containers/{id}/logs', async (c) => {
    const d: ContainerDetails = await inspect(c.engine, c.params.id!);
    const stdout = flag(c.query, 'stdout');
    const stderr = flag(c.query, 'stderr');
    if (!stdout && !stderr) throw invalidArgument('Bad parameters: you must choose at least one stream');
    const tty = d.request.tty === true;
    const rawTail = c.query.get('tail');
    const tail = rawTail === null || rawTail === '' || rawTail === 'all' ? undefined : int(c.query, 'tail');
    const since = timeParam(c.query, 'since');
    const until = timeParam(c.query, 'until');
    const timestamps = flag(c.query, 'timestamps');
    const follow = flag(c.query, 'follow');
    c.res.writeHead(200, { 'content-type': streamContentType(c.version, tty) });
    c.res.flushHeaders();
    const it = c.engine.containers.logs(
      d.id,
      { follow, stdout, stderr, ...(tail !== undefined && tail >= 0 ? { tail } : {}), ...(since ? { since } : {}) },
      c.signal,
    );
    for await (const l of it) {
      if (c.signal.aborted) break;
      if (until && l.time > until) break;
      if (!c.res.write(logChunk(l, tty, timestamps))) await new Promise((res) => c.res.once('drain', res));
    }
    return STREAMED;
  });

  r.hijack('POST', '/containers/{id}/attach', async (c) => {
    const d = await inspect(c.engine, c.params.id!);
    const tty = d.request.tty === true;
    const o = { tty, stdin: flag(c.query, 'stdin'), stdout: flag(c.query, 'stdout'), stderr: flag(c.query, 'stderr') };
    // dockerd watches the input of a client on a terminal for its detach keys (ctrl-p,ctrl-q by default).
    const keys = attachDetachKeys(c.query.get('detachKeys'), tty && o.stdin, 'detach');
    const attachOptions = keys ? { detachKeys: keys } : {};
    const stream = flag(c.query, 'stream');
    const logs = flag(c.query, 'logs');
    const replay = async (socket: Socket) => {
      if (!logs) return;
      for await (const l of c.engine.containers.logs(d.id, { stdout: o.stdout, stderr: o.stderr }))
        socket.write(logChunk(l, tty, false));
    };
    return {
      contentType: streamContentType(c.version, tty),
      run: (socket, rest) => {
        void (async () => {
          try {
            await replay(socket);
            if (!stream) return socket.end();
            const now = c.engine.containers.resolve(d.id);
            if (now.status === 'created' || now.status === 'stopped') {
              // `docker run` and `docker start -a` attach before they start (an exited container too,
              // as dockerd keeps such an attach for the next run): the start hands this connection
              // the process's stream.
              c.state.addPendingAttach(d.id, {
                socket,
                options: attachOptions,
                take: (s: Duplex) => bridge(socket, s, o, rest),
              });
              return;
            }
            if (now.status !== 'running' && now.status !== 'paused') return socket.end();
            bridge(socket, await c.engine.containers.attach(d.id, attachOptions), o, rest);
          } catch (e) {
            if (!isBerthError(e, ErrorCode.NotFound)) socket.end();
            else socket.destroy();
          }
        })();
      },
    };
  });
}
