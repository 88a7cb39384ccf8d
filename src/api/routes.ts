// Every route of the native API (prefix /v1), one line each to the engine. docs/engine.md lists them
// with their bodies. Query flags are "1"/"true" for true.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { DETACH_KEYS_MAX } from '../engine/detach-keys.ts';
import { parseEventFilter } from '../engine/event-filter.ts';
import { imageHistory } from '../engine/image-history.ts';
import { pruneContainers, pruneNetworks, systemDf, systemPrune } from '../engine/system-prune.ts';
import { failedPrecondition, invalidArgument } from '../errors/errors.ts';
import { streamErrorLine } from './errors.ts';
import { type Ctx, jsonLines, parseJson, Router, readJson, STREAMED } from './server.ts';
import {
  type AttachOptions,
  CONTAINER_ID_HEADER,
  CONTAINER_NAME_HEADER,
  EXEC_ID_HEADER,
  type ContainerFilter,
  PATH_STAT_HEADER,
  type CreateRequest,
  type ExecRequest,
  type UpdateRequest,
} from './types.ts';

const flag = (q: URLSearchParams, k: string) => q.get(k) === '1' || q.get(k) === 'true';

function int(q: URLSearchParams, k: string): number | undefined {
  const v = q.get(k);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw invalidArgument(`query ${k}=${JSON.stringify(v)}: expected an integer`);
  return Number(v);
}

/** `detachKeys`: the bytes (hex) that detach this client when typed into its stdin; none: never. */
function attachOptions(q: URLSearchParams): AttachOptions {
  const v = q.get('detachKeys');
  if (!v) return {};
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(v) || v.length > 2 * DETACH_KEYS_MAX)
    throw invalidArgument(
      `query detachKeys=${JSON.stringify(v)}: expected at most ${DETACH_KEYS_MAX} key bytes in hex (ctrl-p,ctrl-q: 1011)`,
    );
  return { detachKeys: Buffer.from(v, 'hex') };
}

function filters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  try {
    const f = JSON.parse(raw) as Record<string, string[] | string>;
    return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
  } catch {
    throw invalidArgument(`query filters=${JSON.stringify(raw)}: expected a JSON object of string arrays`);
  }
}

async function streamLines<T>(c: Ctx, it: AsyncIterable<T>): Promise<typeof STREAMED> {
  const write = jsonLines(c.res);
  try {
    for await (const v of it) {
      if (c.signal.aborted) break;
      await write(v);
    }
  } catch (e) {
    await write(streamErrorLine(e));
  }
  return STREAMED;
}

export function apiRouter(): Router {
  const r = new Router();
  // ---- system
  r.on('GET', '/version', async (c) => c.engine.version());
  r.on('GET', '/info', async (c) => c.engine.info());
  r.on('GET', '/events', async (c) => {
    const since = c.query.get('since');
    const until = c.query.get('until');
    const events = c.engine.events.stream(
      parseEventFilter(filters(c.query)),
      { ...(since ? { sinceNano: since } : {}), ...(until ? { untilNano: until } : {}) },
      c.signal,
    );
    return streamLines(c, events);
  });

  // ---- images
  r.on('GET', '/images', async (c) => c.engine.images.list());
  r.on('GET', '/images/inspect', async (c) => c.engine.images.inspect(c.query.get('ref') ?? ''));
  r.on('POST', '/images/pull', async (c) => {
    const ref = c.query.get('ref');
    if (!ref) throw invalidArgument('pull: query ref is required');
    const write = jsonLines(c.res);
    const pending: Promise<void>[] = [];
    try {
      const platform = c.query.get('platform');
      const res = await c.engine.images.pull(ref, {
        ...(platform ? { platform } : {}),
        progress: (ev) => void pending.push(write({ progress: ev })),
      });
      await Promise.all(pending);
      c.engine.events.publish('image', 'pull', res.name, { digest: res.target.digest });
      await write({ done: { name: res.name, digest: res.target.digest } });
    } catch (e) {
      await write(streamErrorLine(e));
    }
    return STREAMED;
  });
  // ---- build: the context is a directory on berthd's host (`context`, from the CLI on the same
  // host, as import's `path`) or a tar in the body. Progress as JSON lines, then {"done"}.
  r.on('POST', '/build', async (c) => {
    const q = c.query;
    const pairs = (k: string) =>
      Object.fromEntries(
        q.getAll(k).map((kv) => {
          const i = kv.indexOf('=');
          if (i <= 0) throw invalidArgument(`query ${k}=${JSON.stringify(kv)}: expected KEY=VALUE`);
          return [kv.slice(0, i), kv.slice(i + 1)];
        }),
      );
    const dir = q.get('context');
    const dockerfile = q.get('dockerfile') ?? undefined;
    // An absolute -f names a file on berthd's host, outside the context (the CLI on the same host).
    const dockerfileText = dockerfile?.startsWith('/')
      ? await readFile(dockerfile, 'utf8').catch((e: Error) => {
          throw invalidArgument(`dockerfile ${dockerfile}: ${e.message}`);
        })
      : undefined;
    const opts = {
      tags: q.getAll('t'),
      buildArgs: pairs('buildarg'),
      labels: pairs('label'),
      noCache: flag(q, 'nocache'),
      pull: flag(q, 'pull'),
      ...(dockerfileText !== undefined
        ? { dockerfileText, dockerfile: basename(dockerfile!) }
        : dockerfile
          ? { dockerfile }
          : {}),
      ...(q.get('target') ? { target: q.get('target')! } : {}),
      ...(q.get('platform') ? { platform: q.get('platform')! } : {}),
    };
    const write = jsonLines(c.res);
    let pending: Promise<void> = Promise.resolve();
    try {
      const res = await c.engine.builder.build(dir ? { dir } : { tar: c.req }, opts, (ev) => {
        pending = pending.then(() => write({ progress: ev }));
      });
      await pending;
      c.engine.events.publish('image', 'build', res.names[0] ?? res.id, { id: res.id });
      await write({ done: { id: res.id, names: res.names } });
    } catch (e) {
      await pending.catch(() => {});
      await write(streamErrorLine(e));
    }
    return STREAMED;
  });
  r.on('POST', '/build/prune', async (c) => c.engine.builder.prune());
  r.on('POST', '/images/tag', async (c) => {
    const rec = await c.engine.images.tag(c.query.get('source') ?? '', c.query.get('target') ?? '');
    c.engine.events.publish('image', 'tag', rec.name, {});
    return { name: rec.name };
  });
  r.on('DELETE', '/images', async (c) => {
    const refs = c.query.getAll('ref');
    if (refs.length === 0) throw invalidArgument('rmi: at least one query ref is required');
    // ImageService refuses an image a container was made from unless forced (docker's conflict).
    const res = await c.engine.images.remove(refs, {
      force: flag(c.query, 'force'),
      noprune: flag(c.query, 'noprune'),
    });
    for (const n of res.untagged) c.engine.events.publish('image', 'untag', n, {});
    return res;
  });
  r.on('POST', '/images/prune', async (c) =>
    c.engine.images.prune({ all: flag(c.query, 'all'), deep: flag(c.query, 'deep'), filters: filters(c.query) }),
  );
  r.on('GET', '/system/df', async (c) => systemDf(c.engine));
  r.on('POST', '/system/prune', async (c) =>
    systemPrune(c.engine, { all: flag(c.query, 'all'), volumes: flag(c.query, 'volumes') }),
  );
  r.on('POST', '/containers/prune', async (c) => ({ removed: await pruneContainers(c.engine, filters(c.query)) }));
  r.on('POST', '/networks/prune', async (c) => ({ removed: await pruneNetworks(c.engine) }));
  r.on('GET', '/images/save', async (c) => {
    const format = (c.query.get('format') ?? 'docker-archive') as 'docker-archive' | 'oci-archive';
    const refs = c.query.getAll('ref');
    for (const ref of refs) await c.engine.images.inspect(ref);
    c.res.writeHead(200, { 'content-type': 'application/x-tar' });
    await c.engine.images.save(refs, c.res, { format });
    return STREAMED;
  });
  r.on('POST', '/images/load', async (c) => c.engine.images.load(c.req, { label: 'the request body' }));
  r.on('POST', '/images/import', async (c) => {
    const platform = c.query.get('platform');
    const path = c.query.get('path');
    const url = c.query.get('url');
    const ref = c.query.get('ref') ?? undefined;
    // A URL is fetched by berthd (http or https).
    if (url)
      return c.engine.images.importRootfsFromUrl(url, ref, { ...(platform ? { platform } : {}), signal: c.signal });
    // A path names a file on berthd's host (the CLI on the same host passes it instead of streaming).
    const input = path ? createReadStream(path) : c.req;
    return c.engine.images.importRootfs(input, ref, platform ? { platform } : {});
  });

  // ---- containers
  r.on('POST', '/containers', async (c) => {
    const req = await readJson<CreateRequest>(c.req, 'create');
    // start=1: create and start in one request (`run -d`).
    if (flag(c.query, 'start')) return { ...(await c.engine.containers.run(req, { attach: false })), warnings: [] };
    return c.engine.containers.create(req);
  });
  // Pod sandboxes (made through the CRI, docs/cri.md): shown to berth's users as well.
  r.on('GET', '/pods', async (c) => c.engine.pods.list());
  r.on('GET', '/pods/{id}', async (c) => c.engine.pods.inspect(c.params.id!));
  r.on('GET', '/containers', async (c) =>
    c.engine.containers.list({ all: flag(c.query, 'all'), filters: filters(c.query) } satisfies ContainerFilter),
  );
  r.on('GET', '/containers/{id}', async (c) => c.engine.containers.inspect(c.params.id!));
  r.on('POST', '/containers/{id}/start', async (c) => void (await c.engine.containers.start(c.params.id!)));
  r.on(
    'POST',
    '/containers/{id}/stop',
    async (c) => void (await c.engine.containers.stop(c.params.id!, int(c.query, 't'))),
  );
  r.on('POST', '/containers/{id}/restart', async (c) => {
    await c.engine.containers.stop(c.params.id!, int(c.query, 't'));
    await c.engine.containers.start(c.params.id!);
  });
  r.on(
    'POST',
    '/containers/{id}/kill',
    async (c) => void (await c.engine.containers.kill(c.params.id!, c.query.get('signal') ?? 'SIGKILL')),
  );
  r.on(
    'DELETE',
    '/containers/{id}',
    async (c) =>
      void (await c.engine.containers.remove(c.params.id!, {
        force: flag(c.query, 'force'),
        volumes: flag(c.query, 'volumes'),
      })),
  );
  r.on('POST', '/containers/{id}/wait', async (c) => {
    // Docker's conditions: not-running (the default), next-exit, or removed (what `run --rm` waits for).
    const condition = c.query.get('condition') ?? 'not-running';
    if (condition === 'removed') return c.engine.containers.waitRemoved(c.params.id!);
    if (condition === 'next-exit') return c.engine.containers.waitNextExit(c.params.id!);
    if (condition !== 'not-running')
      throw invalidArgument(`query condition=${JSON.stringify(condition)}: expected not-running, next-exit or removed`);
    return c.engine.containers.wait(c.params.id!);
  });
  r.on('POST', '/containers/{id}/pause', async (c) => void (await c.engine.containers.pause(c.params.id!)));
  r.on('POST', '/containers/{id}/unpause', async (c) => void (await c.engine.containers.unpause(c.params.id!)));
  r.on(
    'POST',
    '/containers/{id}/rename',
    async (c) => void (await c.engine.containers.rename(c.params.id!, c.query.get('name') ?? '')),
  );
  r.on(
    'POST',
    '/containers/{id}/update',
    async (c) =>
      void (await c.engine.containers.update(c.params.id!, (await readJson<UpdateRequest>(c.req, 'update')) ?? {})),
  );
  r.on('GET', '/containers/{id}/changes', async (c) => c.engine.containers.changes(c.params.id!));
  r.on('POST', '/containers/{id}/commit', async (c) => {
    const body = await readJson<{
      ref?: string;
      comment?: string;
      author?: string;
      changes?: string[];
      pause?: boolean;
    }>(c.req, 'commit');
    return c.engine.containers.commit(c.params.id!, body ?? {});
  });
  r.on('GET', '/containers/{id}/archive/stat', async (c) =>
    c.engine.containers.statPath(c.params.id!, c.query.get('path') ?? ''),
  );
  // The tar of a path (export: path=/); the path's stat in X-Berth-Path-Stat (base64 JSON) with the 200.
  r.on('GET', '/containers/{id}/archive', async (c) => {
    const path = c.query.get('path') ?? '';
    await c.engine.containers.archive(c.params.id!, path, c.res, (st) => {
      c.res.writeHead(200, {
        'content-type': 'application/x-tar',
        [PATH_STAT_HEADER]: Buffer.from(JSON.stringify(st)).toString('base64'),
      });
    });
    return STREAMED;
  });
  r.on(
    'PUT',
    '/containers/{id}/archive',
    async (c) => void (await c.engine.containers.extract(c.params.id!, c.query.get('path') ?? '', c.req)),
  );
  r.on('GET', '/images/history', async (c) => imageHistory(c.engine.images, c.query.get('ref') ?? ''));
  r.on('GET', '/containers/{id}/top', async (c) => {
    const psArgs = c.query.getAll('ps_arg');
    return c.engine.containers.top(c.params.id!, psArgs.length ? psArgs : undefined);
  });
  r.on('GET', '/containers/{id}/stats', async (c) => c.engine.containers.stats(c.params.id!));
  r.on(
    'POST',
    '/containers/{id}/resize',
    async (c) =>
      void (await c.engine.containers.resize(c.params.id!, int(c.query, 'h') ?? 24, int(c.query, 'w') ?? 80)),
  );
  r.on('GET', '/containers/{id}/logs', async (c) => {
    const tail = int(c.query, 'tail');
    const since = c.query.get('since');
    const it = c.engine.containers.logs(
      c.params.id!,
      {
        follow: flag(c.query, 'follow'),
        ...(tail !== undefined ? { tail } : {}),
        ...(since ? { since } : {}),
        stdout: c.query.get('stdout') !== '0',
        stderr: c.query.get('stderr') !== '0',
      },
      c.signal,
    );
    // Resolve the container before the 200, so an unknown id is a 404, not a stream with an error.
    c.engine.containers.resolve(c.params.id!);
    return streamLines(c, it);
  });
  r.on('POST', '/containers/{id}/exec', async (c) =>
    c.engine.containers.exec(c.params.id!, await readJson<ExecRequest>(c.req, 'exec')),
  );
  r.on('GET', '/exec/{id}/logs', async (c) => {
    const it = c.engine.containers.execLogs(c.params.id!, c.signal);
    return streamLines(c, it);
  });
  r.on('POST', '/exec/{id}/wait', async (c) => c.engine.containers.execWait(c.params.id!));
  r.on(
    'POST',
    '/exec/{id}/resize',
    async (c) =>
      void (await c.engine.containers.execResize(c.params.id!, int(c.query, 'h') ?? 24, int(c.query, 'w') ?? 80)),
  );
  // `run` in one request: the body is a CreateRequest; the 101 names the container made
  // (X-Berth-Container-Id), and the connection then carries its attach frames from before its start.
  r.upgrade('/containers/run', async (e, _p, q, body) => {
    const o = attachOptions(q);
    const { id, name, stream } = await e.containers.run(parseJson<CreateRequest>(await body(), 'run'), {
      attach: true,
      ...o,
    });
    return { stream, headers: { [CONTAINER_ID_HEADER]: id, [CONTAINER_NAME_HEADER]: name } };
  });
  r.upgrade('/containers/{id}/attach', (e, p, q) =>
    flag(q, 'start')
      ? e.containers.startAttached(p.id!, attachOptions(q))
      : e.containers.attach(p.id!, attachOptions(q)),
  );
  r.upgrade('/exec/{id}/attach', (e, p, q) => e.containers.execAttach(p.id!, attachOptions(q)));
  // `exec` in one request: the body is an ExecRequest; the 101 names the exec (X-Berth-Exec-Id), and
  // the connection then carries its attach frames from its first output to its exit.
  r.upgrade('/containers/{id}/exec/start', async (e, p, q, body) => {
    const o = attachOptions(q);
    const { execId, stream } = await e.containers.execAttached(p.id!, parseJson<ExecRequest>(await body(), 'exec'), o);
    return { stream, headers: { [EXEC_ID_HEADER]: execId } };
  });

  // ---- volumes
  r.on('GET', '/volumes', async (c) => c.engine.volumes.list());
  r.on('POST', '/volumes', async (c) => {
    const b = await readJson<{ name?: string; labels?: Record<string, string>; driver?: string }>(
      c.req,
      'volume create',
    );
    const name = b.name || (await import('node:crypto')).randomBytes(32).toString('hex');
    return c.engine.volumes.create(name, {
      ...(b.labels ? { labels: b.labels } : {}),
      ...(b.driver ? { driver: b.driver } : {}),
    });
  });
  r.on('POST', '/volumes/prune', async (c) => ({ removed: await c.engine.volumes.prune() }));
  r.on('GET', '/volumes/{name}', async (c) => c.engine.volumes.inspect(c.params.name!));
  r.on(
    'DELETE',
    '/volumes/{name}',
    async (c) => void (await c.engine.volumes.remove(c.params.name!, { force: flag(c.query, 'force') })),
  );

  // ---- networks
  r.on('GET', '/networks', async (c) => c.engine.network.list());
  r.on('POST', '/networks', async (c) => {
    const b = await readJson<{
      name?: string;
      subnet?: string;
      gateway?: string;
      driver?: string;
      labels?: Record<string, string>;
    }>(c.req, 'network create');
    if (!b.name) throw invalidArgument('network create: "name" is required');
    const n = await c.engine.network.create(b.name, b);
    c.engine.events.publish('network', 'create', b.name, {});
    return n;
  });
  r.on('GET', '/networks/{name}', async (c) => c.engine.network.inspect(c.params.name!));
  r.on('POST', '/networks/{name}/connect', async (c) => {
    const b = await readJson<{ container?: string; aliases?: string[]; ipv4Address?: string }>(
      c.req,
      'network connect',
    );
    if (!b.container) throw invalidArgument('network connect: "container" is required');
    if (b.aliases !== undefined && !Array.isArray(b.aliases))
      throw invalidArgument('network connect: "aliases": expected an array of names');
    if (b.ipv4Address !== undefined && typeof b.ipv4Address !== 'string')
      throw invalidArgument('network connect: "ipv4Address": expected an IPv4 address');
    await c.engine.containers.connect(b.container, c.params.name!, {
      ...(b.aliases ? { aliases: b.aliases } : {}),
      ...(b.ipv4Address ? { ipv4Address: b.ipv4Address } : {}),
    });
  });
  r.on('POST', '/networks/{name}/disconnect', async (c) => {
    const b = await readJson<{ container?: string }>(c.req, 'network disconnect');
    if (!b.container) throw invalidArgument('network disconnect: "container" is required');
    await c.engine.containers.disconnect(b.container, c.params.name!);
  });
  r.on('DELETE', '/networks/{name}', async (c) => {
    const users = c.engine.store.containersOnNetwork(c.params.name!);
    if (users.length > 0)
      throw failedPrecondition(
        `network ${c.params.name} has containers attached (${users.map((u) => u.slice(0, 12)).join(', ')}): stop them first`,
      );
    await c.engine.network.remove(c.params.name!);
    c.engine.events.publish('network', 'destroy', c.params.name!, {});
  });
  return r;
}
