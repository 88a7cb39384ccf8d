// The verbs docker users type that berth's first CLI lacked: version, history, rename, cp, diff,
// commit, export. Each parses its flags and calls the client; cp also packs and unpacks on this
// host (host paths are the CLI's side: the daemon only sees the container's). Loaded by main.ts only
// for these verbs.
// Must never: import engine code, or follow a symlink of the tar it unpacks out of the destination
// (extraction goes through the layer applier, which never writes through one).
import { createReadStream, createWriteStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import { invalidArgument, isBerthError, notFound } from '../../errors/errors.ts';
import type { FlagSpec } from '../runtime/args.ts';
import { inspectFormat, resourceFlags, type Verb } from './container-verbs.ts';
import { formatBytes, table, timeAgo } from './format.ts';
import { formatChoice, listOutput, renderTemplate } from './template-format.ts';

const help: FlagSpec = { names: ['help', 'h'], kind: 'bool' };
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function want(args: string[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw invalidArgument(`usage: berth ${usage}`);
}

export const CLIENT_VERSION = '0.1.0';

const version: Verb = {
  flags: [inspectFormat, help],
  usage: 'version [--format json|TEMPLATE]',
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'version [--format json|TEMPLATE]');
    const choice = formatChoice(f.format as string | undefined);
    const client = {
      Version: CLIENT_VERSION,
      ApiVersion: '1',
      Os: process.platform,
      Arch: process.arch,
      GoVersion: `node ${process.versions.node}`,
    };
    let server: Record<string, unknown> | null = null;
    let err: unknown;
    try {
      const v = await (await ctx.client()).version();
      server = {
        Version: v.version,
        ApiVersion: v.apiVersion,
        Os: v.os,
        Arch: v.arch,
        Node: v.node,
        GitCommit: v.gitCommit ?? '',
      };
    } catch (e) {
      err = e;
    }
    const data = { Client: client, Server: server };
    if (choice.kind === 'json') ctx.out.write(json(data));
    else if (choice.kind === 'template') ctx.out.write(`${choice.tpl.execute(data)}\n`);
    else {
      ctx.out.write(
        `Client:\n Version:     ${client.Version}\n Node:        ${process.versions.node}\n OS/Arch:     ${client.Os}/${client.Arch}\n`,
      );
      if (server)
        ctx.out.write(
          `\nServer: berthd\n Version:     ${server.Version}\n API version: ${server.ApiVersion}\n Node:        ${server.Node}\n OS/Arch:     ${server.Os}/${server.Arch}\n`,
        );
    }
    // As docker's: the client's part is printed, then the daemon's error fails the command.
    if (err) throw err;
    return 0;
  },
};

const HISTORY_HEADERS = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

const history: Verb = {
  flags: [
    { names: ['format'], kind: 'string' },
    { names: ['no-trunc'], kind: 'bool' },
    { names: ['quiet', 'q'], kind: 'bool' },
    { names: ['human', 'H'], kind: 'bool' },
    help,
  ],
  usage: 'history [--no-trunc] [-q] [--format json|TEMPLATE] IMAGE',
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'history [--no-trunc] [-q] [--format json|TEMPLATE] IMAGE');
    formatChoice(f.format as string | undefined);
    const list = await (await ctx.client()).history(args[0]!);
    const noTrunc = f['no-trunc'] === true;
    const id = (s: string) => (s === '<missing>' || noTrunc ? s : s.replace(/^sha256:/, '').slice(0, 12));
    if (f.quiet) {
      ctx.out.write(list.map((h) => `${id(h.id)}\n`).join(''));
      return 0;
    }
    const by = (s: string) => (noTrunc || s.length <= 45 ? s : `${s.slice(0, 44)}…`);
    const rows = () =>
      list.map((h) => ({
        ID: id(h.id),
        CreatedSince: h.created ? timeAgo(h.created) : 'N/A',
        CreatedAt: h.created,
        CreatedBy: by(h.createdBy),
        Size: formatBytes(h.size),
        Comment: h.comment,
        Tags: h.tags,
      }));
    ctx.out.write(
      listOutput(f.format, list, rows, HISTORY_HEADERS, () =>
        table(
          ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
          rows().map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment]),
        ),
      ),
    );
    return 0;
  },
};

const renameVerb: Verb = {
  flags: [help],
  usage: 'rename CONTAINER NEW_NAME',
  run: async (ctx, _f, args) => {
    want(args, 2, 2, 'rename CONTAINER NEW_NAME');
    await (await ctx.client()).rename(args[0]!, args[1]!);
    return 0;
  },
};

const update: Verb = {
  flags: [
    { names: ['memory', 'm'], kind: 'string' },
    { names: ['memory-swap'], kind: 'string' },
    { names: ['cpus'], kind: 'string' },
    { names: ['cpu-shares', 'c'], kind: 'string' },
    { names: ['cpuset-cpus'], kind: 'string' },
    { names: ['pids-limit'], kind: 'string' },
    { names: ['restart'], kind: 'string' },
    help,
  ],
  usage:
    'update [--memory B] [--memory-swap B|-1] [--cpus N] [--cpu-shares N] [--cpuset-cpus LIST] [--pids-limit N] [--restart POLICY] CONTAINER...',
  run: async (ctx, f, args) => {
    want(args, 1, Infinity, 'update [OPTIONS] CONTAINER...');
    const u = resourceFlags(f);
    if (Object.keys(u).length === 0)
      throw invalidArgument('update: you must provide one or more flags when using this command');
    const client = await ctx.client();
    for (const id of args) {
      await client.update(id, u);
      ctx.out.write(`${id}\n`);
    }
    return 0;
  },
};

const diff: Verb = {
  flags: [{ names: ['format'], kind: 'string' }, help],
  usage: 'diff [--format json|TEMPLATE] CONTAINER',
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'diff CONTAINER');
    const choice = formatChoice(f.format as string | undefined);
    const list = await (await ctx.client()).changes(args[0]!);
    if (choice.kind === 'json') ctx.out.write(json(list));
    else if (choice.kind === 'template')
      ctx.out.write(
        renderTemplate(
          choice,
          list.map((c) => ({ Type: c.kind, Path: c.path })),
          { Type: 'CHANGE TYPE', Path: 'PATH' },
        ),
      );
    else ctx.out.write(list.map((c) => `${c.kind} ${c.path}\n`).join(''));
    return 0;
  },
};

const commit: Verb = {
  flags: [
    { names: ['author', 'a'], kind: 'string' },
    { names: ['message', 'm'], kind: 'string' },
    { names: ['change', 'c'], kind: 'strings' },
    { names: ['pause', 'p'], kind: 'bool' },
    help,
  ],
  usage: 'commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE]... [--pause=false] CONTAINER [REPOSITORY[:TAG]]',
  run: async (ctx, f, args) => {
    want(args, 1, 2, 'commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE]... [--pause=false] CONTAINER [REPOSITORY[:TAG]]');
    const r = await (await ctx.client()).commit(args[0]!, {
      ...(args[1] ? { ref: args[1] } : {}),
      ...(f.author !== undefined ? { author: f.author as string } : {}),
      ...(f.message !== undefined ? { comment: f.message as string } : {}),
      ...(Array.isArray(f.change) ? { changes: f.change as string[] } : {}),
      pause: f.pause !== false,
    });
    ctx.out.write(`${r.id}\n`);
    return 0;
  },
};

const exportVerb: Verb = {
  flags: [{ names: ['output', 'o'], kind: 'string' }, help],
  usage: 'export [-o FILE] CONTAINER',
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'export [-o FILE] CONTAINER');
    const file = f.output as string | undefined;
    if (!file && ctx.out.isTTY)
      throw invalidArgument('export: refusing to write a tar to a terminal; use -o FILE or redirect stdout');
    const { tar } = await (await ctx.client()).archive(args[0]!, '/');
    if (!file) {
      await pipeline(tar, ctx.out, { end: false });
      return 0;
    }
    // A failed export leaves no partial file under the requested name.
    const tmp = `${file}.berth-tmp-${process.pid}`;
    try {
      await pipeline(tar, createWriteStream(tmp, { mode: 0o644 }));
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return 0;
  },
};

// ------------------------------------------------------------------ cp

/** `CONTAINER:PATH` → its parts; a local path (no colon before the first slash) → undefined. */
export function splitCpArg(a: string): { container: string; path: string } | undefined {
  if (a.startsWith('/') || a.startsWith('.')) return undefined;
  const i = a.indexOf(':');
  if (i <= 0) return undefined;
  return { container: a.slice(0, i), path: a.slice(i + 1) };
}

/** docker's rule: a source ending in `/.` copies the directory's contents, not the directory. */
const contentsOnly = (p: string) => p === '.' || p.endsWith('/.');

/**
 * A tar whose entries under `from` (a top component) are renamed under `to` ('' strips it): what
 * docker's CLI calls rebasing, for copying to a name other than the source's.
 */
export function rebaseTar(input: Readable, from: string, to: string, owner?: { uid: number; gid: number }): Readable {
  const ex = extract();
  const out = pack();
  const rename = (n: string) => {
    const clean = n.replace(/^\.\//, '');
    if (clean === from || clean === `${from}/`) return to === '' ? undefined : `${to}${clean.endsWith('/') ? '/' : ''}`;
    if (clean.startsWith(`${from}/`))
      return to === '' ? clean.slice(from.length + 1) : `${to}/${clean.slice(from.length + 1)}`;
    return clean;
  };
  ex.on('entry', (h, stream, next) => {
    const name = rename(h.name);
    if (name === undefined || name === '' || name === '/') {
      stream.resume();
      stream.on('end', next);
      return;
    }
    const linkname = h.type === 'link' && h.linkname ? (rename(h.linkname) ?? h.linkname) : h.linkname;
    const e = out.entry({ ...h, name, ...(linkname !== undefined ? { linkname } : {}), ...(owner ?? {}) }, (err) =>
      err ? out.destroy(err) : next(),
    );
    stream.pipe(e as unknown as NodeJS.WritableStream);
  });
  ex.on('finish', () => out.finalize());
  ex.on('error', (e) => out.destroy(e));
  input.on('error', (e) => ex.destroy(e));
  input.pipe(ex as unknown as NodeJS.WritableStream);
  const pt = new PassThrough();
  out.on('error', (e) => pt.destroy(e));
  out.pipe(pt);
  return pt;
}

/** A host path as a tar whose top entry is named `top` (symlinks archived as links, never followed). */
export function packHostPath(path: string, top: string, owner?: { uid: number; gid: number }): Readable {
  const p = pack();
  const pt = new PassThrough();
  p.pipe(pt);
  const add = async (abs: string, name: string, st: Stats): Promise<void> => {
    const header = {
      name,
      mode: st.mode & 0o7777,
      uid: owner?.uid ?? st.uid,
      gid: owner?.gid ?? st.gid,
      mtime: st.mtime,
    };
    const entry = (h: Parameters<typeof p.entry>[0], body?: Buffer) =>
      new Promise<void>((res, rej) =>
        body ? p.entry(h, body, (e) => (e ? rej(e) : res())) : p.entry(h, (e) => (e ? rej(e) : res())),
      );
    if (st.isDirectory()) {
      await entry({ ...header, name: `${name}/`, type: 'directory' });
      for (const n of readdirSync(abs).sort()) await add(join(abs, n), `${name}/${n}`, lstatSync(join(abs, n)));
    } else if (st.isSymbolicLink()) await entry({ ...header, type: 'symlink', linkname: readlinkSync(abs) });
    else if (st.isFile()) {
      await new Promise<void>((res, rej) => {
        const e = p.entry({ ...header, size: st.size }, (err) => (err ? rej(err) : res()));
        createReadStream(abs)
          .on('error', rej)
          .pipe(e as unknown as NodeJS.WritableStream);
      });
    }
    // Sockets, devices and fifos of the host are not copied into a container (as docker's CLI).
  };
  (async () => {
    await add(path, top, lstatSync(path));
    p.finalize();
  })().catch((e: Error) => pt.destroy(e));
  return pt;
}

async function hostExtract(tar: Readable, dir: string): Promise<void> {
  const { applyLayer } = await import('../../archive/apply-layer.ts');
  await applyLayer(tar, {
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    targetDir: dir,
    format: 'plain',
    context: `copy to ${dir}`,
    allowDevices: false,
  });
}

const cp: Verb = {
  flags: [
    { names: ['archive', 'a'], kind: 'bool' },
    { names: ['follow-link', 'L'], kind: 'bool' },
    { names: ['quiet', 'q'], kind: 'bool' },
    help,
  ],
  usage: 'cp [-a] CONTAINER:SRC_PATH DEST_PATH|-  or  cp [-a] SRC_PATH|- CONTAINER:DEST_PATH',
  run: async (ctx, f, args) => {
    want(args, 2, 2, 'cp CONTAINER:SRC_PATH DEST_PATH|-  or  cp SRC_PATH|- CONTAINER:DEST_PATH');
    const [src, dst] = [splitCpArg(args[0]!), splitCpArg(args[1]!)];
    if (src && dst)
      throw invalidArgument('cp: copying between containers is not supported: one side must be a local path');
    if (!src && !dst) throw invalidArgument('cp: one side must be CONTAINER:PATH');
    const c = await ctx.client();
    if (src) {
      // From the container.
      if (!src.path.startsWith('/')) src.path = `/${src.path}`;
      const { stat: st, tar } = await c.archive(src.container, src.path.replace(/\/\.$/, '') || '/');
      if (args[1] === '-') {
        await pipeline(tar, ctx.out, { end: false });
        return 0;
      }
      const dest = resolve(args[1]!);
      const base = st.name === '/' ? '' : st.name;
      // docker's rule: what is copied out belongs to the user who ran cp (-a keeps the container's owners).
      const me = f.archive ? undefined : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
      const d = await stat(dest).catch(() => undefined);
      if (d?.isDirectory()) {
        await hostExtract(contentsOnly(src.path) ? rebaseTar(tar, base, '', me) : rebaseTar(tar, base, base, me), dest);
      } else {
        if (d && st.type === 'directory') throw invalidArgument(`cp: cannot copy a directory onto the file ${dest}`);
        if (args[1]!.endsWith('/') && !d) throw notFound(`cp: destination directory ${dest} does not exist`);
        const parent = await stat(dirname(dest)).catch(() => undefined);
        if (!parent?.isDirectory()) throw notFound(`cp: destination directory ${dirname(dest)} does not exist`);
        await hostExtract(rebaseTar(tar, base, basename(dest), me), dirname(dest));
      }
      return 0;
    }
    // Into the container.
    const to = dst!;
    if (!to.path.startsWith('/')) to.path = `/${to.path}`;
    if (args[0] === '-') {
      await c.extract(to.container, to.path, process.stdin);
      return 0;
    }
    const local = resolve(args[0]!);
    // docker's rule: what is copied in belongs to root in the container (-a keeps the host's owners).
    const root = f.archive ? undefined : { uid: 0, gid: 0 };
    const lst = await stat(local).catch(() => undefined);
    if (!lst) throw notFound(`cp: no such file or directory: ${local}`);
    let target: Awaited<ReturnType<typeof c.statPath>> | undefined;
    try {
      target = await c.statPath(to.container, to.path);
    } catch (e) {
      if (
        !isBerthError(e, 'BERTH_ERR_NOT_FOUND') ||
        (await c.inspect(to.container).then(
          () => false,
          () => true,
        ))
      )
        throw e;
    }
    // A symlink in the container is followed there (inside its root): into it when it names a directory.
    if (target?.type === 'directory' || target?.type === 'symlink') {
      const body = contentsOnly(args[0]!)
        ? rebaseTar(packHostPath(local, basename(local), root), basename(local), '')
        : packHostPath(local, basename(local), root);
      await c.extract(to.container, to.path, body);
    } else {
      if (target && lst.isDirectory())
        throw invalidArgument(`cp: cannot copy a directory onto the file ${to.path} in the container`);
      if (to.path.endsWith('/')) throw notFound(`cp: destination directory ${to.path} does not exist in the container`);
      const parent = to.path.replace(/\/[^/]*$/, '') || '/';
      await c.extract(to.container, parent, packHostPath(local, to.path.slice(parent.length).replace(/^\//, ''), root));
    }
    return 0;
  },
};

export const DOCKER_VERBS: Record<string, Verb> = {
  version,
  history,
  rename: renameVerb,
  update,
  cp,
  diff,
  commit,
  export: exportVerb,
};
/** Under `container` and `image` (docker's management commands). */
export const DOCKER_GROUP_VERBS: Record<string, Record<string, Verb>> = {
  container: { rename: renameVerb, update, cp, diff, commit, export: exportVerb },
  image: { history },
};
