// Images moving in and out through the Docker API: save (GET /images/{name}/get, /images/get),
// load (POST /images/load), import (POST /images/create?fromSrc), push (POST /images/{name}/push,
// with Docker's JSON progress), and POST /auth (a login check against the registry).
import { applyChanges } from '../engine/container-commit.ts';
import { invalidArgument } from '../errors/errors.ts';
import type { ImageConfig } from '../oci/image-spec.ts';
import { orNoSuch } from './errors.ts';
import { imageIdOf } from './image-ids.ts';
import { authConfigCredentials, registryAuthHeader } from './registry-auth.ts';
import { familiar, pullRoute } from './images.ts';
import { flag } from './query.ts';
import { type Ctx, type DockerRouter, readJsonBody, STREAMED } from './server.ts';

/** A JSON-message stream (docker's jsonmessage): headers at once, one object a line. */
function jsonMessages(c: Ctx): (v: unknown) => void {
  c.res.writeHead(200, { 'content-type': 'application/json' });
  c.res.flushHeaders();
  return (v) => {
    if (!c.res.writableEnded) c.res.write(`${JSON.stringify(v)}\r\n`);
  };
}

/** True at most once every `ms` (and always for the last report): progress lines at a human pace. */
function throttled(ms: number): (last: boolean) => boolean {
  let at = 0;
  return (last) => {
    const now = Date.now();
    if (!last && now - at < ms) return false;
    at = now;
    return true;
  };
}

const errorMessage = (e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  return { errorDetail: { message }, error: message };
};

async function save(c: Ctx, words: string[]): Promise<typeof STREAMED> {
  if (words.length === 0) throw invalidArgument('no images named');
  const names: string[] = [];
  for (const w of words) {
    const name = w;
    await orNoSuch('image', w, () => c.engine.images.inspect(name));
    names.push(name);
  }
  c.res.writeHead(200, { 'content-type': 'application/x-tar' });
  await c.engine.images.save(names, c.res, { format: 'docker-archive' });
  return STREAMED;
}

export function imageTransferRoutes(r: DockerRouter): void {
  r.on('GET', '/images/get', async (c) => save(c, c.query.getAll('names')));
  r.on('GET', '/images/{name*}/get', async (c) => save(c, [c.params.name!]));

  r.on('POST', '/images/load', async (c) => {
    const quiet = flag(c.query, 'quiet');
    const res = await c.engine.images.load(c.req, { label: 'the request body' });
    c.res.writeHead(200, { 'content-type': 'application/json' });
    for (const img of res.images) {
      c.engine.events.publish('image', 'load', img.name, { digest: img.digest });
      const named = !img.name.startsWith('localhost/unnamed');
      const id = await imageIdOf(c.engine, img.name);
      c.res.write(
        `${JSON.stringify({ stream: named ? `Loaded image: ${familiar(img.name)}\n` : `Loaded image ID: ${id ?? img.digest}\n` })}\r\n`,
      );
    }
    if (!quiet && res.images.length === 0) c.res.write(`${JSON.stringify({ stream: 'No images were loaded\n' })}\r\n`);
    c.res.end();
    return STREAMED;
  });

  // POST /images/create is a pull, or with fromSrc an import of a rootfs tar (the body, or a URL).
  r.on('POST', '/images/create', async (c) => {
    const src = c.query.get('fromSrc');
    if (!src) return pullRoute(c);
    // --change: the instructions commit takes too (CMD, ENTRYPOINT, ENV, …); --message: the history comment.
    const changes = c.query.getAll('changes').filter(Boolean);
    const message = c.query.get('message');
    if (changes.length) applyChanges({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } }, changes); // 400 before the body is read
    const repo = c.query.get('repo');
    const tag = c.query.get('tag');
    const platform = c.query.get('platform');
    const name = repo ? `${repo}${tag ? `:${tag}` : ''}` : undefined;
    const opts = {
      ...(platform ? { platform } : {}),
      ...(message ? { comment: message } : {}),
      ...(changes.length ? { configure: (cfg: ImageConfig) => applyChanges(cfg, changes) } : {}),
    };
    let write: ((v: unknown) => void) | undefined;
    try {
      let res: { name: string; target: { digest: string } };
      if (src === '-') {
        write = jsonMessages(c);
        res = await c.engine.images.importRootfs(c.req, name, opts);
      } else {
        // A URL: fetched by the engine. What fails before the server answered is the request's
        // error (status and message); then docker's progress stream: Downloading from, Importing.
        c.req.resume();
        const progress = throttled(100);
        res = await c.engine.images.importRootfsFromUrl(src, name, {
          ...opts,
          signal: c.signal,
          onOpen: (url) => {
            write = jsonMessages(c);
            write({ status: `Downloading from ${url}` });
          },
          onProgress: (current, total) => {
            if (progress(current === total))
              write?.({ status: 'Importing', progressDetail: { current, ...(total ? { total } : {}) } });
          },
        });
      }
      c.engine.events.publish('image', 'import', res.name, { digest: res.target.digest });
      write?.({ status: (await imageIdOf(c.engine, res.name)) ?? res.target.digest });
    } catch (e) {
      if (!write) throw e;
      write(errorMessage(e));
    }
    return STREAMED;
  });

  r.on('POST', '/images/{name*}/push', async (c) => {
    const tag = c.query.get('tag');
    const ref = tag ? `${c.params.name}:${tag}` : c.params.name!;
    await orNoSuch('image', ref, () => c.engine.images.inspect(ref));
    const credentials = registryAuthHeader(c.req.headers['x-registry-auth']);
    const write = jsonMessages(c);
    const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);
    write({ status: `The push refers to repository [${familiar(ref.replace(/:[^/:]+$/, ''))}]` });
    try {
      let manifest: { digest: string } | undefined;
      const res = await c.engine.images.push(ref, {
        ...(credentials ? { credentials } : {}),
        progress: (ev) => {
          if (ev.kind === 'plan')
            for (const b of ev.blobs) write({ status: 'Preparing', progressDetail: {}, id: short(b.digest) });
          else if (ev.kind === 'blob') {
            if (ev.state === 'pushing')
              write({
                status: 'Pushing',
                progressDetail: { current: ev.current ?? 0, total: ev.size },
                id: short(ev.digest),
              });
            else
              write({
                status:
                  ev.state === 'uploaded'
                    ? 'Pushed'
                    : ev.state === 'mounted'
                      ? 'Mounted from another repository'
                      : 'Layer already exists',
                progressDetail: {},
                id: short(ev.digest),
              });
          } else if (ev.kind === 'manifest') manifest = ev;
        },
      });
      c.engine.events.publish('image', 'push', res.name, { digest: res.target.digest });
      const t = tag ?? /:([^/:]+)$/.exec(res.name)?.[1] ?? 'latest';
      write({ status: `${t}: digest: ${manifest?.digest ?? res.target.digest} size: ${res.target.size}` });
      write({ progressDetail: {}, aux: { Tag: t, Digest: res.target.digest, Size: res.target.size } });
    } catch (e) {
      write(errorMessage(e));
    }
    return STREAMED;
  });

  // A login check only: the credentials are tried against the registry and forgotten. The client
  // keeps them (its own config.json) and sends them with each pull and push (X-Registry-Auth).
  r.on('POST', '/auth', async (c) => {
    const b = await readJsonBody<Record<string, unknown>>(c.req, 'auth');
    const creds = authConfigCredentials(b, 'auth');
    if (!creds) throw invalidArgument('auth: username and password (or identitytoken) are required');
    const server = typeof b.serveraddress === 'string' && b.serveraddress !== '' ? b.serveraddress : 'docker.io';
    await c.engine.images.checkLogin(server, creds);
    return { Status: 'Login Succeeded', IdentityToken: '' };
  });
}
