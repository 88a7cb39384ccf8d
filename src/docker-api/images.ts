// Image routes of the Docker API: list, inspect, history, create (= pull, with Docker's JSON
// progress stream), tag, remove. Docker's image ID is the config digest (image-ids.ts); a name's
// RepoDigest is its repository with the digest the name points at.
import type { Engine } from '../engine/engine.ts';
import { invalidArgument } from '../errors/errors.ts';
import { orNoSuch } from './errors.ts';
import { imageIdOf } from './image-ids.ts';
import { registryAuthHeader } from './registry-auth.ts';
import { filters, flag } from './query.ts';
import { Created, type Ctx, type DockerRouter, STREAMED } from './server.ts';
import { atLeast } from './versions.ts';

const unix = (iso: string | undefined) => (iso ? Math.floor(Date.parse(iso) / 1000) : 0);

/** `docker.io/library/busybox:latest` → busybox:latest, as docker shows names. */
export function familiar(name: string): string {
  return name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}
function repoOf(name: string): string {
  const at = name.indexOf('@');
  const base = at >= 0 ? name.slice(0, at) : name;
  const colon = base.lastIndexOf(':');
  return colon > base.lastIndexOf('/') ? base.slice(0, colon) : base;
}

type Group = {
  id: string;
  names: string[];
  digests: string[];
  size: number;
  created: string | undefined;
  parent: string | undefined;
};

/** berth's names of images without one (src/images/image-service.ts's UNNAMED_REPOSITORY). */
const UNNAMED = 'localhost/unnamed@';

async function grouped(e: Engine): Promise<Group[]> {
  const byId = new Map<string, Group>();
  for (const s of await e.images.list()) {
    const id = s.id;
    const g = byId.get(id) ?? { id, names: [], digests: [], size: s.size, created: s.created, parent: s.parent };
    const tagged = !s.name.includes('@');
    if (tagged) g.names.push(familiar(s.name));
    // A name that only holds an image (loaded or built without one, an untagged parent) is no
    // repository: dockerd lists such an image with no RepoDigests, `<none>:<none>`.
    const rd = `${familiar(repoOf(s.name))}@${s.digest}`;
    if (!s.name.startsWith(UNNAMED) && !g.digests.includes(rd)) g.digests.push(rd);
    byId.set(id, g);
  }
  return [...byId.values()];
}

function progressBar(current: number, total: number): string {
  if (!total) return '';
  const width = 50;
  const done = Math.min(width, Math.floor((current / total) * width));
  const fmt = (n: number) =>
    n >= 1e6 ? `${(n / 1e6).toFixed(2)}MB` : n >= 1e3 ? `${(n / 1e3).toFixed(2)}kB` : `${n}B`;
  return `[${'='.repeat(Math.max(0, done - 1))}${done > 0 ? '>' : ''}${' '.repeat(width - done)}] ${fmt(current)}/${fmt(total)}`;
}

/** Docker's image list entries: one per image ID (config digest), with its names and digests. */
export async function imageListEntries(
  e: Engine,
  version: string,
  f: Record<string, string[]>,
  o: { all?: boolean } = { all: true },
): Promise<Record<string, unknown>[]> {
  for (const k of Object.keys(f))
    if (k !== 'reference' && k !== 'dangling' && k !== 'label') throw invalidArgument(`invalid filter '${k}'`);
  const out: Record<string, unknown>[] = [];
  const groups = await grouped(e);
  const parents = new Set(groups.map((g) => g.parent));
  for (const g of groups) {
    // dockerd's list without `all` leaves out the intermediate images: untagged parents of others.
    if (!o.all && g.names.length === 0 && parents.has(g.id)) continue;
    if (
      f.reference?.length &&
      !g.names.some((n) => f.reference!.some((ref) => n === ref || repoOf(n) === ref || n.startsWith(`${ref}:`)))
    )
      continue;
    if (f.dangling?.includes('true') && g.names.length > 0) continue;
    const entry: Record<string, unknown> = {
      Id: g.id,
      ParentId: g.parent ?? '',
      RepoTags: g.names,
      RepoDigests: g.digests,
      Created: unix(g.created),
      Size: g.size,
      SharedSize: -1,
      Labels: {},
      Containers: -1,
    };
    if (!atLeast(version, '1.44')) entry.VirtualSize = g.size;
    out.push(entry);
  }
  return out;
}

/** POST /images/create?fromImage: a pull, with docker's JSON progress per layer. */
export async function pullRoute(c: Ctx): Promise<typeof STREAMED> {
  const from = c.query.get('fromImage');
  if (!from) throw invalidArgument('fromImage is required');
  const tag = c.query.get('tag');
  const ref = tag ? (tag.includes(':') && tag.startsWith('sha256') ? `${from}@${tag}` : `${from}:${tag}`) : from;
  const platform = c.query.get('platform');
  const credentials = registryAuthHeader(c.req.headers['x-registry-auth']);
  c.res.writeHead(200, { 'content-type': 'application/json' });
  c.res.flushHeaders();
  const write = (v: unknown) => {
    if (!c.res.writableEnded) c.res.write(`${JSON.stringify(v)}\r\n`);
  };
  const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
  const layers = new Set<string>();
  write({ status: `Pulling from ${familiar(repoOf(ref))}`, id: tag ?? 'latest' });
  try {
    const res = await c.engine.images.pull(ref, {
      ...(platform ? { platform } : {}),
      ...(credentials ? { credentials } : {}),
      progress: (ev) => {
        if (ev.kind === 'manifest') {
          for (const l of ev.layers) {
            layers.add(l.digest);
            write({ status: 'Pulling fs layer', progressDetail: {}, id: short(l.digest) });
          }
        } else if (ev.kind === 'blob' && layers.has(ev.digest)) {
          const id = short(ev.digest);
          if (ev.state === 'exists') write({ status: 'Already exists', progressDetail: {}, id });
          else if (ev.state === 'downloading' || ev.state === 'resuming')
            write({
              status: 'Downloading',
              progressDetail: { current: ev.current, total: ev.total },
              progress: progressBar(ev.current, ev.total),
              id,
            });
          else if (ev.state === 'verifying') write({ status: 'Verifying Checksum', progressDetail: {}, id });
          else if (ev.state === 'done') write({ status: 'Download complete', progressDetail: {}, id });
        } else if (ev.kind === 'unpack') {
          const id = short(ev.digest);
          if (ev.state === 'unpacking') write({ status: 'Extracting', progressDetail: {}, id });
          else if (ev.state === 'done') write({ status: 'Pull complete', progressDetail: {}, id });
        }
      },
    });
    c.engine.events.publish('image', 'pull', res.name, { digest: res.target.digest });
    write({ status: `Digest: ${res.target.digest}` });
    write({ status: `Status: Downloaded newer image for ${familiar(res.name)}` });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    write({ errorDetail: { message }, error: message });
  }
  return STREAMED;
}

export function imageRoutes(r: DockerRouter): void {
  r.on('GET', '/images/json', async (c) =>
    imageListEntries(c.engine, c.version, filters(c.query), { all: flag(c.query, 'all') }),
  );

  r.on('GET', '/images/{name*}/json', async (c) => {
    const word = c.params.name!;
    const d = await orNoSuch('image', c.params.name!, () => c.engine.images.inspect(word));
    const id = d.configDescriptor.digest;
    const group = (await grouped(c.engine)).find((g) => g.id === id);
    const cfg = d.config;
    const out: Record<string, unknown> = {
      Id: id,
      RepoTags: group?.names ?? [],
      RepoDigests: group?.digests ?? [],
      Parent: d.parent ?? '',
      Comment: '',
      Created: cfg.created ?? '0001-01-01T00:00:00Z',
      DockerVersion: '',
      Author: cfg.author ?? '',
      Config: {
        Hostname: '',
        Domainname: '',
        User: '',
        AttachStdin: false,
        AttachStdout: false,
        AttachStderr: false,
        Tty: false,
        OpenStdin: false,
        StdinOnce: false,
        Env: null,
        Cmd: null,
        Image: '',
        Volumes: null,
        WorkingDir: '',
        Entrypoint: null,
        OnBuild: null,
        Labels: null,
        ...(cfg.config ?? {}),
      },
      Architecture: cfg.architecture,
      ...(cfg.variant ? { Variant: cfg.variant } : {}),
      Os: cfg.os,
      Size: d.size,
      GraphDriver: { Name: c.engine.images.snapshotterName, Data: null },
      RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
      Metadata: { LastTagTime: d.updatedAt },
    };
    if (!atLeast(c.version, '1.44')) out.VirtualSize = d.size;
    if (!atLeast(c.version, '1.45')) Object.assign(out, { Container: '', ContainerConfig: out.Config });
    return out;
  });

  r.on('GET', '/images/{name*}/history', async (c) => {
    const word = c.params.name!;
    const d = await orNoSuch('image', c.params.name!, () => c.engine.images.inspect(word));
    const history = d.config.history ?? [];
    const layers = [...d.layers];
    const rows = history.map((h) => {
      const layer = h.empty_layer ? undefined : layers.shift();
      return {
        Id: '<missing>',
        Created: unix(h.created),
        CreatedBy: h.created_by ?? '',
        Tags: null as string[] | null,
        Size: layer?.size ?? 0,
        Comment: h.comment ?? '',
      };
    });
    if (rows.length === 0)
      for (const l of d.layers)
        rows.push({
          Id: '<missing>',
          Created: unix(d.config.created),
          CreatedBy: '',
          Tags: null,
          Size: l.size,
          Comment: '',
        });
    rows.reverse();
    if (rows[0]) {
      rows[0].Id = d.configDescriptor.digest;
      rows[0].Tags = (await grouped(c.engine)).find((g) => g.id === d.configDescriptor.digest)?.names ?? [];
    }
    return rows;
  });

  r.on('POST', '/images/{name*}/tag', async (c) => {
    const repo = c.query.get('repo');
    if (!repo) throw invalidArgument('repository name must have at least one component');
    const tag = c.query.get('tag') || 'latest';
    const word = c.params.name!;
    const rec = await orNoSuch('image', c.params.name!, () => c.engine.images.tag(word, `${repo}:${tag}`));
    c.engine.events.publish('image', 'tag', rec.name, {});
    return new Created({});
  });

  r.on('DELETE', '/images/{name*}', async (c) => {
    const word = c.params.name!;
    const idBefore = await imageIdOf(c.engine, word);
    // noprune: its untagged parents stay (berth records a built or committed image's parent).
    const res = await orNoSuch('image', c.params.name!, () =>
      c.engine.images.remove([word], { force: flag(c.query, 'force'), noprune: flag(c.query, 'noprune') }),
    );
    // An untagged parent kept for its children is no name the user gave.
    const untagged = res.untagged.filter((n) => !n.startsWith(UNNAMED));
    for (const n of untagged) c.engine.events.publish('image', 'untag', n, {});
    const out: Record<string, string>[] = untagged.map((n) => ({ Untagged: familiar(n) }));
    // The image is deleted once no name is left on its config.
    const ids = new Set((await grouped(c.engine)).map((g) => g.id));
    if (idBefore && !ids.has(idBefore)) out.push({ Deleted: idBefore });
    for (const p of res.deletedParents) {
      c.engine.events.publish('image', 'delete', p, {});
      out.push({ Deleted: p });
    }
    return out;
  });
}
