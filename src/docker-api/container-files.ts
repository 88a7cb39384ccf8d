// A container's files through the Docker API: archive HEAD/GET/PUT (`docker cp` both ways, through
// a stopped container's snapshot too), export, changes, and commit. The path's stat travels in the
// X-Docker-Container-Path-Stat header as base64 JSON with Go's os.FileMode bits, which the docker
// CLI decodes to tell a directory from a file.
import type { Engine } from '../engine/engine.ts';
import { ErrorCode, invalidArgument, isBerthError, notFound } from '../errors/errors.ts';
import { orNoSuch, refused } from './errors.ts';
import { imageIdOf } from './image-ids.ts';
import { flag } from './query.ts';
import { Created, type DockerRouter, readJsonBody, STREAMED } from './server.ts';

type PathStat = Awaited<ReturnType<Engine['containers']['statPath']>>;

/** POSIX st_mode as Go's os.FileMode (type bits high, permissions low). */
export function goFileMode(mode: number, type: PathStat['type']): number {
  let m = mode & 0o777;
  if (mode & 0o4000) m |= 1 << 23;
  if (mode & 0o2000) m |= 1 << 22;
  if (mode & 0o1000) m |= 1 << 20;
  const fmt = mode & 0o170000;
  if (type === 'directory') m |= 2 ** 31;
  else if (type === 'symlink') m |= 1 << 27;
  else if (fmt === 0o010000) m |= 1 << 25;
  else if (fmt === 0o140000) m |= 1 << 24;
  else if (fmt === 0o020000) m |= (1 << 26) | (1 << 21);
  else if (fmt === 0o060000) m |= 1 << 26;
  // Unsigned: bit 31 makes the number negative under JavaScript's bitwise operators.
  return m >>> 0;
}

function statHeader(s: PathStat): string {
  return Buffer.from(
    JSON.stringify({
      name: s.name,
      size: s.size,
      mode: goFileMode(s.mode, s.type),
      mtime: s.mtime,
      linkTarget: s.linkTarget,
    }),
  ).toString('base64');
}

/** dockerd's words for a missing path: the CLI prints them, and `docker cp` decides on a 404. */
async function inContainer<T>(word: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isBerthError(e, ErrorCode.NotFound) && /file or directory/.test(e.message))
      throw notFound(`Could not find the file ${path} in container ${word}`, e);
    throw e;
  }
}

const CHANGE_KIND = { C: 0, A: 1, D: 2 } as const;

export function containerFileRoutes(r: DockerRouter): void {
  r.on('HEAD', '/containers/{id}/archive', async (c) => {
    const rec = await orNoSuch('container', c.params.id!, () => c.engine.containers.resolve(c.params.id!));
    const path = c.query.get('path') ?? '';
    if (!path) throw invalidArgument('path must not be empty');
    const st = await inContainer(c.params.id!, path, () => c.engine.containers.statPath(rec.id, path));
    c.res.writeHead(200, { 'x-docker-container-path-stat': statHeader(st) });
    c.res.end();
    return STREAMED;
  });
  r.on('GET', '/containers/{id}/archive', async (c) => {
    const rec = await orNoSuch('container', c.params.id!, () => c.engine.containers.resolve(c.params.id!));
    const path = c.query.get('path') ?? '';
    if (!path) throw invalidArgument('path must not be empty');
    // The stat comes first, so a missing path is a 404 before the 200 is written.
    await inContainer(c.params.id!, path, () => c.engine.containers.statPath(rec.id, path));
    await inContainer(c.params.id!, path, () =>
      c.engine.containers.archive(rec.id, path, c.res, (st) => {
        c.res.writeHead(200, { 'content-type': 'application/x-tar', 'x-docker-container-path-stat': statHeader(st) });
      }),
    );
    return STREAMED;
  });
  r.on('PUT', '/containers/{id}/archive', async (c) => {
    const rec = await orNoSuch('container', c.params.id!, () => c.engine.containers.resolve(c.params.id!));
    const path = c.query.get('path') ?? '';
    if (!path) throw invalidArgument('path must not be empty');
    if (flag(c.query, 'copyUIDGID')) throw refused('cp --archive (copyUIDGID)', "berthd keeps the tar's owners");
    await inContainer(c.params.id!, path, () => c.engine.containers.extract(rec.id, path, c.req));
    // 200, not 204: the 20.10 client refuses any other status here.
    c.res.writeHead(200, { 'content-length': '0' });
    c.res.end();
    return STREAMED;
  });
  r.on('GET', '/containers/{id}/export', async (c) => {
    const rec = await orNoSuch('container', c.params.id!, () => c.engine.containers.resolve(c.params.id!));
    await c.engine.containers.archive(rec.id, '/', c.res, () =>
      c.res.writeHead(200, { 'content-type': 'application/x-tar' }),
    );
    return STREAMED;
  });
  r.on('GET', '/containers/{id}/changes', async (c) => {
    const rec = await orNoSuch('container', c.params.id!, () => c.engine.containers.resolve(c.params.id!));
    return (await c.engine.containers.changes(rec.id)).map((ch) => ({ Path: ch.path, Kind: CHANGE_KIND[ch.kind] }));
  });
  r.on('POST', '/commit', async (c) => {
    const word = c.query.get('container') ?? '';
    const rec = await orNoSuch('container', word, () => c.engine.containers.resolve(word));
    const repo = c.query.get('repo');
    const tag = c.query.get('tag');
    const body = (await readJsonBody<Record<string, unknown> | null>(c.req, 'commit')) ?? {};
    // The body is a container Config that replaces the image's; berth takes changes instead.
    if (
      Object.values(body).some(
        (v) =>
          v !== null &&
          v !== undefined &&
          v !== '' &&
          !(Array.isArray(v) && v.length === 0) &&
          !(typeof v === 'object' && Object.keys(v as object).length === 0) &&
          v !== false,
      )
    )
      throw refused('commit with a Config body', 'give the config as --change instructions');
    const res = await c.engine.containers.commit(rec.id, {
      ...(repo ? { ref: tag ? `${repo}:${tag}` : repo } : {}),
      ...(c.query.get('comment') ? { comment: c.query.get('comment')! } : {}),
      ...(c.query.get('author') ? { author: c.query.get('author')! } : {}),
      changes: c.query.getAll('changes').filter(Boolean),
      pause: c.query.get('pause') === null ? true : flag(c.query, 'pause'),
    });
    return new Created({ Id: (await imageIdOf(c.engine, res.name)) ?? res.id });
  });
}
