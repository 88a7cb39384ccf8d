// The classic builder's protocol (POST /build, what `DOCKER_BUILDKIT=0 docker build` and
// docker-compose speak) over the engine's builder. The request body is the
// context tar (plain or compressed: the builder reads its first bytes); the answer is docker's
// JSON-message stream: `Step N/M : …` lines, RUN output, the image ID as aux, `Successfully built`
// and `Successfully tagged`, or docker's error object (POST /build/prune is in system-df.ts). With q=1 only the image ID is sent (the
// rest is sent before an error, as dockerd does, so a failure still shows the step that failed).
import { invalidArgument } from '../errors/errors.ts';
import { parsePlatform } from '../oci/image-validate.ts';
import { refused } from './errors.ts';
import { registryConfigHeader } from './registry-auth.ts';
import { imageIdOf } from './image-ids.ts';
import { familiar } from './images.ts';
import { flag } from './query.ts';
import { type Ctx, type DockerRouter, STREAMED } from './server.ts';

type BuildOptions = Parameters<Ctx['engine']['builder']['build']>[1];

function jsonParam<T>(q: URLSearchParams, k: string, expected: string, valid: (v: unknown) => v is T): T | undefined {
  const raw = q.get(k);
  if (raw === null || raw === '' || raw === 'null') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalidArgument(`${k}=${JSON.stringify(raw)}: not JSON (expected ${expected})`);
  }
  if (!valid(v)) throw invalidArgument(`${k}=${JSON.stringify(raw)}: expected ${expected}`);
  return v;
}

const isObjectOf =
  (ok: (x: unknown) => boolean) =>
  (v: unknown): v is Record<string, never> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(ok);
const isList = (v: unknown): v is unknown[] => Array.isArray(v);

/** Docker's build query as the builder's options; what berthd cannot honour is refused naming it. */
export function buildOptionsOf(q: URLSearchParams): BuildOptions {
  const version = q.get('version');
  if (version && version !== '1')
    throw refused(
      `builder version ${version} (BuildKit)`,
      'berthd serves the classic builder protocol: run docker build with DOCKER_BUILDKIT=0',
    );
  if (q.get('remote'))
    throw refused(`remote context ${q.get('remote')}`, 'berthd builds the context sent as the request body');
  if (flag(q, 'squash')) throw refused('squash', 'berthd keeps every layer');
  if (q.get('rm') !== null && q.get('rm') !== '' && !flag(q, 'rm') && !flag(q, 'forcerm'))
    throw refused('rm=false', "berthd always removes a step's container (its result stays in the build cache)");
  for (const k of ['memory', 'memswap', 'cpushares', 'cpuquota', 'cpuperiod', 'shmsize']) {
    const v = q.get(k);
    if (v && v !== '0' && v !== '-1') throw refused(`${k}=${v}`, "RUN steps run with the engine's default resources");
  }
  for (const k of ['cpusetcpus', 'cpusetmems', 'cgroupparent', 'outputs']) {
    if (q.get(k))
      throw refused(
        `${k}=${q.get(k)}`,
        "RUN steps run with the engine's default resources and the result goes to the image store",
      );
  }
  const isolation = q.get('isolation');
  if (isolation && isolation !== 'default')
    throw refused(`isolation ${isolation}`, 'berthd isolates with linux namespaces');
  for (const k of ['extrahosts', 'securityopt']) {
    const vs = q.getAll(k).filter(Boolean);
    if (vs.length > 0)
      throw refused(`${k}=${vs.join(',')}`, "RUN steps get the engine's default /etc/hosts and security settings");
  }
  if ((jsonParam(q, 'ulimits', 'a JSON list of ulimits', isList) ?? []).length > 0)
    throw refused('ulimits', "RUN steps run with the engine's default limits");
  if ((jsonParam(q, 'cachefrom', 'a JSON list of image names', isList) ?? []).length > 0)
    throw refused('cache-from', "berthd's build cache is its own (earlier builds on this daemon)");

  // The platform of stages without FROM --platform; a stage this host cannot run may not RUN (the builder says so).
  const platform = q.get('platform') || undefined;
  if (platform) parsePlatform(platform);
  const mode = q.get('networkmode');
  let network: 'none' | 'host' | undefined;
  if (mode === 'none' || mode === 'host') network = mode;
  else if (mode && mode !== 'default' && mode !== 'bridge')
    throw refused(`networkmode ${mode}`, "RUN steps use the engine's default network, none or host");

  // A build arg given as null (`--build-arg X` with X unset in the client's environment) leaves the ARG's default.
  const args =
    jsonParam(
      q,
      'buildargs',
      'a JSON object of strings (or null)',
      isObjectOf((x) => typeof x === 'string' || x === null),
    ) ?? {};
  const buildArgs = Object.fromEntries(
    Object.entries(args as Record<string, string | null>).filter((e): e is [string, string] => e[1] !== null),
  );
  const labels = jsonParam(
    q,
    'labels',
    'a JSON object of strings',
    isObjectOf((x) => typeof x === 'string'),
  ) as Record<string, string> | undefined;
  return {
    tags: q.getAll('t').filter(Boolean),
    buildArgs,
    ...(labels ? { labels } : {}),
    noCache: flag(q, 'nocache'),
    pull: flag(q, 'pull'),
    ...(q.get('dockerfile') ? { dockerfile: q.get('dockerfile')! } : {}),
    ...(q.get('target') ? { target: q.get('target')! } : {}),
    ...(network ? { network } : {}),
    ...(platform ? { platform } : {}),
  };
}

export function buildRoutes(r: DockerRouter): void {
  r.on('POST', '/build', async (c) => {
    const registryAuth = registryConfigHeader(c.req.headers['x-registry-config']);
    const opts = { ...buildOptionsOf(c.query), ...(registryAuth ? { registryAuth } : {}) };
    const quiet = flag(c.query, 'q');
    c.res.writeHead(200, { 'content-type': 'application/json' });
    c.res.flushHeaders();
    const send = (v: unknown) => {
      if (!c.res.writableEnded && !c.res.destroyed) c.res.write(`${JSON.stringify(v)}\r\n`);
    };
    // Quiet: held back, sent only before an error (dockerd's notVerboseBuffer).
    const held: unknown[] = [];
    const out = quiet ? (v: unknown) => held.push(v) : send;
    try {
      const res = await c.engine.builder.build({ tar: c.req }, opts, (ev) => {
        if (ev.kind === 'step') {
          out({ stream: `Step ${ev.step}/${ev.total} : ${ev.instruction}\n` });
          if (ev.cached) out({ stream: ' ---> Using cache\n' });
        } else if (ev.kind === 'output') out({ stream: ev.text });
        else if (ev.kind === 'warning') out({ stream: `[Warning] ${ev.text.replace(/\n?$/, '\n')}` });
      });
      const id = (await imageIdOf(c.engine, res.names[0] ?? res.id)) ?? res.id;
      c.engine.events.publish('image', 'build', res.names[0] ?? res.id, { id });
      const short = id.replace(/^sha256:/, '').slice(0, 12);
      out({ stream: ` ---> ${short}\n` });
      out({ aux: { ID: id } });
      out({ stream: `Successfully built ${short}\n` });
      for (const n of res.names) if (!n.includes('@')) out({ stream: `Successfully tagged ${familiar(n)}\n` });
      if (quiet) send({ stream: `${id}\n` });
    } catch (e) {
      for (const v of held) send(v);
      const message = e instanceof Error ? e.message : String(e);
      send({ errorDetail: { message }, error: message });
    }
    c.res.end();
    return STREAMED;
  });
}
