// berth: the user's command line. Container, volume, network and system verbs talk to berthd through
// the typed client (container-verbs.ts). Image verbs (pull, images, inspect, tag, rmi, save, load,
// import) go through berthd too when one is in use, and run ImageService in-process otherwise:
// the daemon is in use when --host or BERTH_HOST names its socket, or when no --root was given and
// the default socket (/run/berth/berthd.sock) answers. push, login, logout, content, snapshot and
// gc always run in-process (the stores are safe to share: SQLite and atomic renames).
// Errors: one line `berth: <message>` on stderr and exit status 1 (--debug adds the stack); a
// container's own exit status is berth's for run, wait-like verbs and exec. A reader that closes
// stdout early (`berth stats | head`) ends berth silently with status 141, as SIGPIPE would.
import { errorMessage, invalidArgument } from '../../errors/errors.ts';
// The in-process image service (content store, snapshots, registry client) is loaded only by the
// verbs that run without a daemon: a container verb through berthd never pays for it.
import type { ArchiveFormat, ImageService, ImageServiceOptions } from '../../images/image-service.ts';
import { type FlagSpec, parseFlags } from '../runtime/args.ts';
import { formatBytes, imagesFiltered, imagesNamed, imagesText, table, timeAgo } from './format.ts';
import { IMAGES_HEADERS, imageContext, imageInspectContext } from './docker-contexts.ts';
import { formatChoice, inspectOutput, listOutput } from './template-format.ts';
import { ProgressRenderer } from './progress.ts';
import { BerthClient, DEFAULT_SOCKET } from '../../client/client.ts';
import {
  CONTAINER_GROUPS,
  CONTAINER_VERBS,
  EXIT_CLI_ERROR,
  exitStatusOf,
  expandShortFlags,
  filtersOf,
  type Verb,
  type VerbCtx,
  withExitStatus,
} from './container-verbs.ts';
import { cliMark } from './timing.ts';

// Built-ins that only image verbs use come through getBuiltinModule when they run: an ESM import
// of node:fs or node:stream/promises builds their namespaces (fs's lazy `promises` and stream
// getters included) on every start-up, a few ms that `berth run` never needs.
const fsMod = () => process.getBuiltinModule('node:fs') as typeof import('node:fs');
const pipeline = (...a: Parameters<typeof import('node:stream/promises').pipeline>) =>
  (process.getBuiltinModule('node:stream/promises') as typeof import('node:stream/promises')).pipeline(...a);

const VERSION = '0.1.0';

const USAGE = `berth: images for containers (pull, push, store, save, load)

usage: berth [--host SOCKET] [--root DIR] [--debug] COMMAND [OPTIONS] [ARGS]

containers (through berthd):
  run [-d] [-i] [-t] [--rm] [--name N] [-e K=V] [--env-file F] [-v SRC:DST[:ro] | -v /DST]
      [--mount type=bind|volume|tmpfs,source=S,target=T[,readonly]] [--tmpfs DST] [-p [IP:]H[-H2]:C[-C2][/udp]]
      [--network NET] [-w DIR] [-u USER] [--hostname H] [--add-host HOST:IP] [--entrypoint CMD]
      [--device /HOST[:/CONTAINER][:rwm]] [--device-cgroup-rule 'c|b|a MAJOR:MINOR rwm']
      [--memory 64m] [--cpus 0.5] [--pids-limit N] [--ulimit NAME=SOFT[:HARD]] [--init]
      [--pid host|container:NAME] [--ipc private|shareable|none|host|container:NAME] [--uts host] [--shm-size 64m]
      [--privileged] [--cap-add CAP] [--cap-drop CAP] [--restart no|always|unless-stopped|on-failure[:N]]
      [--runtime NAME] [--read-only] [--label K=V] IMAGE [COMMAND...]
  create (as run, without -d)          start [-a] [-i]|stop [-t S]|restart|kill [-s SIG]|rm [-f] [-v] CONTAINER...
  ps [-a] [-q] [--no-trunc] [--filter K=V] [--format table|json|TEMPLATE]   pods [-q] (CRI pod sandboxes)
  cp CONTAINER:SRC DEST|-, cp SRC|- CONTAINER:DEST   diff CONTAINER   export [-o FILE] CONTAINER
  commit [-a AUTHOR] [-m MSG] [-c CHANGE] CONTAINER [REPO[:TAG]]   rename CONTAINER NAME   version
  update [--memory B] [--cpus N] [--cpu-shares N] [--cpuset-cpus L] [--pids-limit N] [--restart P] CONTAINER...
  (--format takes docker's Go templates: '{{.ID}} {{.Names}}', 'table {{.Name}}\t{{.Image}}', '{{json .}}')
  logs [-f] [--tail N] [-t] CONTAINER  exec [-i] [-t] [-d] [-e] [-w] [-u] CONTAINER CMD...
  attach CONTAINER   inspect NAME...   wait CONTAINER...   top CONTAINER   stats CONTAINER...
  pause|unpause CONTAINER...           events [--since T] [--until T] [--filter K=V]   info
  volume create|ls|inspect|rm|prune    network create [--subnet CIDR]|ls|inspect|rm
  network connect [--alias A] [--ip IP] NET CONTAINER | disconnect NET CONTAINER
  (every verb takes --format json)

images:
  pull [--platform os/arch[/variant]] [-q] REF     fetch and unpack an image
  push [-q] REF                                    upload a local image
  images, image ls [--format table|json|TEMPLATE] [-q] [--digests] [--no-trunc] [--filter K=V] [REPO[:TAG]]
  image inspect [-f TEMPLATE] REF...               JSON details of images
  history, image history [--no-trunc] [-q] IMAGE   the layers and config steps of an image
  tag SRC DST                                      give an image another name
  rmi [-f] REF...                                  remove names, then unused content
  save [-o FILE] [--format docker-archive|oci-archive] REF...
  load [-i FILE] [-q]                              docker-archive or OCI layout (tar, tar.gz, dir)
  import FILE|- [REF] [--platform P]               a rootfs tarball as a one-layer image
  build [-t NAME]... [-f FILE] [--build-arg K=V]... [--label K=V]... [--target S] [--no-cache]
      [--pull] [-q] CONTEXT                        a Dockerfile into an image (through berthd)
  builder prune                                    forget the build cache
  login [-u USER] [-p PASS | --password-stdin] REGISTRY
  logout REGISTRY
  image prune [-a] [-f], system gc [--format json] remove unused images, content and snapshots

system (through berthd):
  system df [--format json]                        disk used by images, containers, volumes
  system prune [-a] [--volumes] [-f]               stopped containers, unused networks and images
  container prune [-f] [--filter until=T|label=K[=V]|label!=K], network prune [-f]   port CONTAINER [PORT]
  content ls [--format table|json] [-q], content get DIGEST [-o FILE]
  snapshot ls [--format table|json] [-q]

global options:
  --host SOCKET       berthd's socket (default: $BERTH_HOST, else /run/berth/berthd.sock)
  --root DIR          image root (default: $BERTH_ROOT_DIR or /var/lib/berth)
  --snapshotter NAME  auto (default), overlay or native
  --debug             print stack traces of errors
`;

const GLOBAL: FlagSpec[] = [
  { names: ['host', 'H'], kind: 'string' },
  { names: ['root'], kind: 'string' },
  { names: ['snapshotter'], kind: 'string' },
  { names: ['debug', 'D'], kind: 'bool' },
  { names: ['help', 'h'], kind: 'bool' },
  { names: ['version', 'v'], kind: 'bool' },
];

const help: FlagSpec = { names: ['help', 'h'], kind: 'bool' };
const format: FlagSpec = { names: ['format'], kind: 'string' };
const quiet: FlagSpec = { names: ['quiet', 'q'], kind: 'bool' };
const platform: FlagSpec = { names: ['platform'], kind: 'string' };

type Ctx = { opts: ImageServiceOptions; debug: boolean; out: NodeJS.WriteStream; err: NodeJS.WriteStream };
type Command = { flags: FlagSpec[]; run: (ctx: Ctx, f: Record<string, unknown>, args: string[]) => Promise<void> };

function want(args: string[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw invalidArgument(`usage: berth ${usage}`);
}

function listFormat(f: Record<string, unknown>): 'table' | 'json' {
  const v = (f.format as string | undefined) ?? 'table';
  if (v !== 'table' && v !== 'json')
    throw invalidArgument(`--format: expected table or json, got ${JSON.stringify(v)}`);
  return v;
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

async function withService<T>(ctx: Ctx, fn: (s: ImageService) => Promise<T>): Promise<T> {
  // As berthd wires it: leases in berthd.db, and the root's containers kept by gc and rmi.
  const { openImageService } = await import('../../engine/open-images.ts');
  const s = await openImageService(ctx.opts);
  try {
    return await fn(s.service);
  } finally {
    await s.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

function gcReport(ctx: Ctx, f: Record<string, unknown>, r: Awaited<ReturnType<ImageService['gc']>>): void {
  if (listFormat(f) === 'json') {
    ctx.out.write(
      json({
        removedContent: r.removed,
        removedSnapshots: r.removedSnapshots,
        removedIngests: r.removedIngests,
        removedLeases: r.removedLeases,
        removedDirs: r.removedDirs,
        freedBytes: r.freedBytes,
      }),
    );
    return;
  }
  for (const d of r.removed) ctx.out.write(`Deleted content: ${d}\n`);
  for (const s of r.removedSnapshots) ctx.out.write(`Deleted snapshot: ${s}\n`);
  for (const i of r.removedIngests) ctx.out.write(`Deleted ingest: ${i}\n`);
  for (const d of r.removedDirs) ctx.out.write(`Deleted directory: ${d}\n`);
  ctx.out.write(`Total reclaimed space: ${formatBytes(r.freedBytes)}\n`);
}

const pull: Command = {
  flags: [platform, quiet, help],
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'pull [--platform os/arch[/variant]] [-q] REF');
    await withService(ctx, async (s) => {
      const renderer = f.quiet
        ? undefined
        : new ProgressRenderer(ctx.out, { tty: ctx.out.isTTY === true, columns: ctx.out.columns ?? 100 });
      if (renderer) ctx.out.write(`Pulling ${args[0]}\n`);
      const r = await s.pull(args[0]!, {
        ...(f.platform ? { platform: f.platform as string } : {}),
        ...(renderer ? { progress: (e) => renderer.pull(e) } : {}),
      });
      renderer?.finish();
      if (!f.quiet) ctx.out.write(`Digest: ${r.target.digest}\n`);
      ctx.out.write(`${r.name}\n`);
    });
  },
};

const push: Command = {
  flags: [quiet, help],
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'push [-q] REF');
    await withService(ctx, async (s) => {
      const renderer = f.quiet
        ? undefined
        : new ProgressRenderer(ctx.out, { tty: ctx.out.isTTY === true, columns: ctx.out.columns ?? 100 });
      if (renderer) ctx.out.write(`Pushing ${args[0]}\n`);
      const r = await s.push(args[0]!, renderer ? { progress: (e) => renderer.push(e) } : {});
      renderer?.finish();
      if (f.quiet) ctx.out.write(`${r.target.digest}\n`);
      else ctx.out.write(`${r.name}: digest: ${r.target.digest} size: ${r.target.size}\n`);
    });
  },
};

const images: Command = {
  flags: [
    format,
    quiet,
    { names: ['digests'], kind: 'bool' },
    { names: ['all', 'a'], kind: 'bool' },
    { names: ['no-trunc'], kind: 'bool' },
    { names: ['filter', 'f'], kind: 'strings' },
    help,
  ],
  run: async (ctx, f, args) => {
    want(
      args,
      0,
      1,
      'images [--format table|json|TEMPLATE] [-q] [--digests] [--no-trunc] [--filter K=V] [REPOSITORY[:TAG]]',
    );
    formatChoice(f.format as string | undefined);
    const noTrunc = f['no-trunc'] === true;
    const text = await withService(ctx, async (s) => {
      const labelsOf = async (i: { name: string }) =>
        ((await s.inspect(i.name)).config.config?.Labels ?? {}) as Record<string, string>;
      const list = await imagesFiltered(imagesNamed(await s.list(), args[0]), filtersOf(f), labelsOf);
      if (f.quiet) return imagesText(list, { quiet: true, noTrunc });
      return listOutput(
        f.format,
        list,
        () => list.map((i) => imageContext(i, { noTrunc })),
        IMAGES_HEADERS,
        () => imagesText(list, { digests: f.digests === true, noTrunc }),
      );
    });
    ctx.out.write(text);
  },
};

const inspect: Command = {
  flags: [{ names: ['format', 'f'], kind: 'string' }, help],
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'image inspect [--format TEMPLATE] REF...');
    formatChoice(f.format as string | undefined);
    const details = await withService(ctx, async (s) => {
      const out = [];
      for (const a of args) out.push(await s.inspect(a));
      return out;
    });
    ctx.out.write(inspectOutput(f.format, details, imageInspectContext));
  },
};

const tag: Command = {
  flags: [help],
  run: async (ctx, _f, args) => {
    want(args, 2, 2, 'tag SRC DST');
    await withService(ctx, (s) => s.tag(args[0]!, args[1]!));
  },
};

const rmi: Command = {
  flags: [{ names: ['force', 'f'], kind: 'bool' }, help],
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'rmi [-f] REF...');
    const r = await withService(ctx, (s) => s.remove(args, { force: f.force === true }));
    for (const n of r.untagged) ctx.out.write(`Untagged: ${n}\n`);
    for (const d of r.gc.removed) ctx.out.write(`Deleted: ${d}\n`);
  },
};

const save: Command = {
  flags: [{ names: ['output', 'o'], kind: 'string' }, format, help],
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'save [-o FILE] [--format docker-archive|oci-archive] REF...');
    const fmt = (f.format as string | undefined) ?? 'docker-archive';
    if (fmt !== 'docker-archive' && fmt !== 'oci-archive')
      throw invalidArgument(`--format: expected docker-archive or oci-archive, got ${JSON.stringify(fmt)}`);
    const file = f.output as string | undefined;
    if (!file && ctx.out.isTTY)
      throw invalidArgument('save: refusing to write an archive to a terminal; use -o FILE or redirect stdout');
    await withService(ctx, async (s) => {
      if (!file) return s.save(args, ctx.out, { format: fmt as ArchiveFormat });
      // A failed save leaves no partial archive behind under the requested name.
      const tmp = `${file}.berth-tmp-${process.pid}`;
      try {
        await s.save(args, fsMod().createWriteStream(tmp, { mode: 0o644 }), { format: fmt as ArchiveFormat });
        await fsMod().promises.rename(tmp, file);
      } catch (e) {
        await fsMod().promises.rm(tmp, { force: true });
        throw e;
      }
    });
  },
};

const load: Command = {
  flags: [{ names: ['input', 'i'], kind: 'string' }, quiet, help],
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'load [-i FILE] [-q]');
    const input = (f.input as string | undefined) ?? '-';
    if (input === '-' && process.stdin.isTTY) throw invalidArgument('load: no archive: use -i FILE or redirect stdin');
    const r = await withService(ctx, (s) => s.load(input, { label: input === '-' ? 'stdin' : input }));
    for (const i of r.images) ctx.out.write(f.quiet ? `${i.name}\n` : `Loaded image: ${i.name}\n`);
  },
};

const importCmd: Command = {
  flags: [platform, help],
  run: async (ctx, f, args) => {
    want(args, 1, 2, 'import FILE|- [REF]');
    const r = await withService(ctx, (s) =>
      s.importRootfs(args[0]!, args[1], f.platform ? { platform: f.platform as string } : {}),
    );
    ctx.out.write(`${r.target.digest}\n`);
  },
};

const login: Command = {
  flags: [
    { names: ['username', 'u'], kind: 'string' },
    { names: ['password', 'p'], kind: 'string' },
    { names: ['password-stdin'], kind: 'bool' },
    help,
  ],
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'login [-u USER] [-p PASS | --password-stdin] REGISTRY');
    const username = f.username as string | undefined;
    if (!username) throw invalidArgument('login: a username is required (-u USER)');
    if (f.password !== undefined && f['password-stdin'])
      throw invalidArgument('login: --password and --password-stdin are mutually exclusive');
    let password = f.password as string | undefined;
    if (password === undefined) {
      if (!f['password-stdin'] && process.stdin.isTTY)
        throw invalidArgument('login: give the password with -p or on stdin with --password-stdin');
      password = (await readStdin()).replace(/\r?\n$/, '');
    }
    if (!password) throw invalidArgument('login: the password is empty');
    await withService(ctx, (s) => s.login(args[0]!, { username, password: password! }));
    ctx.out.write('Login Succeeded\n');
  },
};

const logout: Command = {
  flags: [help],
  run: async (ctx, _f, args) => {
    want(args, 1, 1, 'logout REGISTRY');
    await withService(ctx, (s) => s.logout(args[0]!));
    ctx.out.write(`Removing login credentials for ${args[0]}\n`);
  },
};

const prune: Command = {
  flags: [format, { names: ['force', 'f'], kind: 'bool' }, { names: ['all', 'a'], kind: 'bool' }, help],
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'image prune [-a] [--format json]');
    const r = await withService(ctx, (s) => s.prune({ all: f.all === true }));
    if (listFormat(f) !== 'json') for (const n of r.untagged) ctx.out.write(`Untagged: ${n}\n`);
    gcReport(ctx, f, r);
  },
};

const systemGc: Command = {
  flags: [format, help],
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'system gc [--format json]');
    gcReport(ctx, f, await withService(ctx, (s) => s.gc({ deep: true })));
  },
};

const contentLs: Command = {
  flags: [format, quiet, help],
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'content ls [--format table|json] [-q]');
    const fmt = listFormat(f);
    const list = await withService(ctx, (s) => s.listContent());
    if (fmt === 'json') return void ctx.out.write(json(list));
    if (f.quiet) return void ctx.out.write(list.map((c) => `${c.digest}\n`).join(''));
    ctx.out.write(
      table(
        ['DIGEST', 'SIZE', 'AGE'],
        list.map((c) => [c.digest, formatBytes(c.size), timeAgo(c.createdAt)]),
      ),
    );
  },
};

const contentGet: Command = {
  flags: [{ names: ['output', 'o'], kind: 'string' }, help],
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'content get DIGEST [-o FILE]');
    await withService(ctx, async (s) => {
      const src = await s.readContent(args[0]!);
      const file = f.output as string | undefined;
      if (file) await pipeline(src, fsMod().createWriteStream(file));
      else await pipeline(src, ctx.out, { end: false });
    });
  },
};

const snapshotLs: Command = {
  flags: [format, quiet, help],
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'snapshot ls [--format table|json] [-q]');
    const fmt = listFormat(f);
    const list = await withService(ctx, (s) => s.listSnapshots());
    if (fmt === 'json') return void ctx.out.write(json(list));
    if (f.quiet) return void ctx.out.write(list.map((x) => `${x.name}\n`).join(''));
    ctx.out.write(
      table(
        ['NAME', 'PARENT', 'KIND', 'SNAPSHOTTER'],
        list.map((x) => [x.name, x.parent ?? '', x.kind, x.snapshotter]),
      ),
    );
  },
};

const COMMANDS: Record<string, Command> = {
  pull,
  push,
  images,
  tag,
  rmi,
  save,
  load,
  import: importCmd,
  login,
  logout,
};
const GROUPS: Record<string, Record<string, Command>> = {
  image: { ls: images, list: images, inspect, tag, rm: rmi, pull, push, save, load, import: importCmd, prune },
  content: { ls: contentLs, list: contentLs, get: contentGet },
  snapshot: { ls: snapshotLs, list: snapshotLs },
  system: { gc: systemGc, prune },
};

export async function main(
  argv: string[],
  ctx: Omit<Ctx, 'opts' | 'debug'> = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const g = cliFlags(() => parseFlags(argv, GLOBAL, true), '');
  const debug = g.flags.debug === true;
  const full: Ctx = { ...ctx, debug, opts: {} };
  if (g.flags.root !== undefined) full.opts.root = g.flags.root as string;
  const sn = (g.flags.snapshotter as string | undefined) ?? process.env.BERTH_SNAPSHOTTER;
  if (sn !== undefined) {
    if (sn !== 'auto' && sn !== 'overlay' && sn !== 'native')
      throw invalidArgument(`--snapshotter: expected auto, overlay or native, got ${JSON.stringify(sn)}`);
    full.opts.snapshotter = sn;
  }
  full.opts.onNotice = (m) => ctx.err.write(`berth: ${m}\n`);
  if (g.flags.version) {
    ctx.out.write(`berth version ${VERSION}\n`);
    return 0;
  }
  const [verb, ...rest] = g.rest;
  if (!verb || verb === 'help' || g.flags.help) {
    ctx.out.write(USAGE);
    return verb || g.flags.help ? 0 : 1;
  }
  const host = (g.flags.host as string | undefined) ?? process.env.BERTH_HOST?.replace(/^unix:\/\//, '');
  let client: BerthClient | undefined;
  const getClient = async () => {
    client ??= new BerthClient(host ?? DEFAULT_SOCKET);
    return client;
  };
  const vctx: VerbCtx = { client: getClient, out: ctx.out, err: ctx.err };
  const runVerb = async (v: Verb, args: string[], name: string) => {
    const p = cliFlags(() => parseFlags(expandShortFlags(args, v.flags), v.flags, v.stopAtPositional === true), name);
    if (p.flags.help) {
      ctx.out.write(`usage: berth ${v.usage}\n`);
      return 0;
    }
    return (await v.run(vctx, p.flags, p.rest)) ?? 0;
  };
  cliMark('flags parsed, verb found');
  // Verbs that need berthd: port, system df/prune, image/container/network prune. Loaded only for them.
  if (
    verb === 'port' ||
    ((rest[0] === 'prune' || rest[0] === 'df') && ['system', 'image', 'container', 'network'].includes(verb))
  ) {
    const { SYSTEM_GROUPS, SYSTEM_VERBS } = await import('./system-verbs.ts');
    if (SYSTEM_VERBS[verb]) return runVerb(SYSTEM_VERBS[verb]!, rest, verb);
    const systemVerb = SYSTEM_GROUPS[verb]?.[rest[0]!];
    const daemonUp = async () =>
      host !== undefined || (g.flags.root === undefined && (await new BerthClient(DEFAULT_SOCKET).ping()));
    // image prune and system prune without a daemon: the in-process gc below (`system gc` always is).
    if (systemVerb && (verb === 'container' || verb === 'network' || rest[0] === 'df' || (await daemonUp())))
      return runVerb(systemVerb, rest.slice(1), `${verb} ${rest[0]}`);
  }
  if (verb === 'build' || (verb === 'builder' && rest[0] === 'prune') || (verb === 'image' && rest[0] === 'build')) {
    const { build, builderPrune } = await import('./build-verb.ts');
    return verb === 'builder'
      ? runVerb(builderPrune, rest.slice(1), 'builder prune')
      : runVerb(build, verb === 'image' ? rest.slice(1) : rest, 'build');
  }
  // docker's verbs that berth's first CLI lacked (docker-verbs.ts), loaded only for them.
  if (
    ['version', 'history', 'rename', 'update', 'cp', 'diff', 'commit', 'export'].includes(verb) ||
    (verb === 'container' && ['rename', 'update', 'cp', 'diff', 'commit', 'export'].includes(rest[0] ?? '')) ||
    (verb === 'image' && rest[0] === 'history')
  ) {
    const { DOCKER_GROUP_VERBS, DOCKER_VERBS } = await import('./docker-verbs.ts');
    const v = DOCKER_GROUP_VERBS[verb]?.[rest[0]!];
    return v ? runVerb(v, rest.slice(1), `${verb} ${rest[0]}`) : runVerb(DOCKER_VERBS[verb]!, rest, verb);
  }
  const containerGroup = CONTAINER_GROUPS[verb];
  if (CONTAINER_VERBS[verb]) return runVerb(CONTAINER_VERBS[verb]!, rest, verb);
  if (containerGroup) {
    const [sub, ...subRest] = rest;
    const v = sub ? containerGroup[sub] : undefined;
    if (!v)
      throw invalidArgument(
        `${verb}: expected one of ${Object.keys(containerGroup).join(', ')}${sub ? `, got ${JSON.stringify(sub)}` : ''}`,
      );
    return runVerb(v, subRest, `${verb} ${sub}`);
  }
  // Image verbs: through the daemon when one is in use (see the header).
  const daemon = host !== undefined || (g.flags.root === undefined && (await new BerthClient(DEFAULT_SOCKET).ping()));
  if (daemon) {
    // Loaded here, not at start-up: container verbs (every `berth run`) never need it.
    const { DAEMON_IMAGE_GROUP, DAEMON_IMAGE_VERBS } = await import('./image-verbs-daemon.ts');
    if (DAEMON_IMAGE_VERBS[verb]) return runVerb(DAEMON_IMAGE_VERBS[verb]!, rest, verb);
    if (verb === 'image' && rest[0] && DAEMON_IMAGE_GROUP[rest[0]])
      return runVerb(DAEMON_IMAGE_GROUP[rest[0]]!, rest.slice(1), `image ${rest[0]}`);
  }
  let cmd = COMMANDS[verb];
  let args = rest;
  let name = verb;
  if (!cmd && GROUPS[verb]) {
    const [sub, ...subRest] = rest;
    cmd = sub ? GROUPS[verb]![sub] : undefined;
    if (!cmd)
      throw invalidArgument(
        `${verb}: expected one of ${Object.keys(GROUPS[verb]!).join(', ')}${sub ? `, got ${JSON.stringify(sub)}` : ''}`,
      );
    args = subRest;
    name = `${verb} ${sub}`;
  }
  if (!cmd) throw invalidArgument(`unknown command ${JSON.stringify(verb)} (see berth --help)`);
  const p = cliFlags(() => parseFlags(args, cmd.flags, false), name);
  if (p.flags.help) {
    ctx.out.write(`usage: berth ${name} …\n\n${USAGE}`);
    return 0;
  }
  await cmd.run(full, p.flags, p.rest);
  return 0;
}

/**
 * A flag error in docker's words and with its status (125, as docker's CLI exits for any flag
 * error): `unknown flag: --x` for a long flag, `unknown shorthand flag: 'x' in -x` for a short one,
 * and where to look.
 */
function cliFlags<T>(parse: () => T, verb: string): T {
  try {
    return parse();
  } catch (e) {
    const m = /^flag provided but not defined: -(.+)$/.exec(errorMessage(e));
    const what = m
      ? m[1]!.length === 1
        ? `unknown shorthand flag: '${m[1]}' in -${m[1]}`
        : `unknown flag: --${m[1]}`
      : errorMessage(e);
    throw withExitStatus(invalidArgument(`${what}\nSee 'berth ${verb ? `${verb} ` : ''}--help'.`, e), EXIT_CLI_ERROR);
  }
}

/**
 * A reader that went away (`berth stats | head`) is the end of the output, not an error: berth
 * exits at once, silently, with the status a shell reports for a process SIGPIPE killed (128 + 13),
 * as docker or git end in that case. Node ignores SIGPIPE, so the closed pipe shows up as EPIPE:
 * an 'error' event on the stream (unhandled, a stack trace) or a rejected write inside a verb.
 */
const EXIT_SIGPIPE = 141;
const isEpipe = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';

if (import.meta.main) {
  const debug = process.argv.includes('--debug') || process.argv.includes('-D');
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e) => {
      if (isEpipe(e)) process.exit(EXIT_SIGPIPE);
      throw e;
    });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      // Only stdout's own EPIPE: one from berthd's socket is a real error.
      if (isEpipe(e) && isEpipe(process.stdout.errored)) process.exit(EXIT_SIGPIPE);
      // A flag error keeps docker's two lines (the error, then where to look).
      const msg = errorMessage(e);
      process.stderr.write(
        `berth: ${/^unknown (shorthand )?flag: /.test(msg) ? msg : msg.replace(/\s*\n\s*/g, ' ')}\n`,
      );
      if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
      process.exitCode = exitStatusOf(e) ?? 1;
    },
  );
}
