// The image verbs when berthd runs: the same words and output as the in-process verbs of main.ts,
// carried out by the daemon through the client (so a running daemon sees every image change).
// Must never: open the image store itself.
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { invalidArgument } from '../../errors/errors.ts';
import type { FlagSpec } from '../runtime/args.ts';
import { filtersOf, inspectFormat, isJson, type Verb } from './container-verbs.ts';
import { IMAGES_HEADERS, imageContext, imageInspectContext } from './docker-contexts.ts';
import { imagesFiltered, imagesNamed, imagesText } from './format.ts';
import { formatChoice, inspectOutput, listOutput } from './template-format.ts';
import { ProgressRenderer } from './progress.ts';

const help: FlagSpec = { names: ['help', 'h'], kind: 'bool' };
const format: FlagSpec = { names: ['format'], kind: 'string' };
const quiet: FlagSpec = { names: ['quiet', 'q'], kind: 'bool' };
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function want(args: string[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw invalidArgument(`usage: berth ${usage}`);
}

const pull: Verb = {
  flags: [{ names: ['platform'], kind: 'string' }, quiet, help],
  usage: 'pull [--platform P] [-q] REF',
  run: async (ctx, f, args) => {
    want(args, 1, 1, 'pull [--platform os/arch[/variant]] [-q] REF');
    const renderer = f.quiet
      ? undefined
      : new ProgressRenderer(ctx.out, { tty: ctx.out.isTTY === true, columns: ctx.out.columns ?? 100 });
    if (renderer) ctx.out.write(`Pulling ${args[0]}\n`);
    const r = await (await ctx.client()).pull(args[0]!, {
      ...(f.platform ? { platform: f.platform as string } : {}),
      // biome-ignore lint/suspicious/noExplicitAny: progress events are the image service's PullEvent, carried as JSON.
      ...(renderer ? { progress: (e) => renderer.pull(e as any) } : {}),
    });
    renderer?.finish();
    if (!f.quiet) ctx.out.write(`Digest: ${r.digest}\n`);
    ctx.out.write(`${r.name}\n`);
    return 0;
  },
};

const images: Verb = {
  flags: [
    format,
    quiet,
    { names: ['digests'], kind: 'bool' },
    { names: ['all', 'a'], kind: 'bool' },
    { names: ['no-trunc'], kind: 'bool' },
    { names: ['filter', 'f'], kind: 'strings' },
    help,
  ],
  usage: 'images [--format table|json|TEMPLATE] [-q] [--digests] [--no-trunc] [--filter K=V] [REPOSITORY[:TAG]]',
  run: async (ctx, f, args) => {
    want(
      args,
      0,
      1,
      'images [--format table|json|TEMPLATE] [-q] [--digests] [--no-trunc] [--filter K=V] [REPOSITORY[:TAG]]',
    );
    formatChoice(f.format as string | undefined);
    const c = await ctx.client();
    const labelsOf = async (i: { name: string }) =>
      (((await c.imageInspect(i.name)) as { config: { config?: { Labels?: Record<string, string> } } }).config.config
        ?.Labels ?? {}) as Record<string, string>;
    const list = await imagesFiltered(imagesNamed(await c.images(), args[0]), filtersOf(f), labelsOf);
    const noTrunc = f['no-trunc'] === true;
    if (f.quiet) ctx.out.write(imagesText(list, { quiet: true, noTrunc }));
    else
      ctx.out.write(
        listOutput(
          f.format,
          list,
          () => list.map((i) => imageContext(i, { noTrunc })),
          IMAGES_HEADERS,
          () => imagesText(list, { digests: f.digests === true, noTrunc }),
        ),
      );
    return 0;
  },
};

const inspect: Verb = {
  flags: [inspectFormat, help],
  usage: 'image inspect [--format TEMPLATE] REF...',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'image inspect REF...');
    formatChoice(f.format as string | undefined);
    const c = await ctx.client();
    const out = [];
    for (const a of args) out.push(await c.imageInspect(a));
    ctx.out.write(inspectOutput(f.format, out as Parameters<typeof imageInspectContext>[0][], imageInspectContext));
    return 0;
  },
};

const tag: Verb = {
  flags: [help],
  usage: 'tag SRC DST',
  run: async (ctx, _f, args) => {
    want(args, 2, 2, 'tag SRC DST');
    await (await ctx.client()).tag(args[0]!, args[1]!);
    return 0;
  },
};

const rmi: Verb = {
  flags: [{ names: ['force', 'f'], kind: 'bool' }, { names: ['no-prune'], kind: 'bool' }, format, help],
  usage: 'rmi [-f] [--no-prune] REF...',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'rmi [-f] [--no-prune] REF...');
    const r = await (await ctx.client()).rmi(args, f.force === true, f['no-prune'] === true);
    if (isJson(f)) {
      ctx.out.write(json(r));
      return 0;
    }
    for (const n of r.untagged) if (!n.startsWith('localhost/unnamed@')) ctx.out.write(`Untagged: ${n}\n`);
    for (const p of r.deletedParents ?? []) ctx.out.write(`Deleted: ${p}\n`);
    for (const d of r.gc.removed) ctx.out.write(`Deleted: ${d}\n`);
    return 0;
  },
};

const load: Verb = {
  flags: [{ names: ['input', 'i'], kind: 'string' }, quiet, format, help],
  usage: 'load [-i FILE] [-q]',
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'load [-i FILE] [-q]');
    const input = (f.input as string | undefined) ?? '-';
    if (input === '-' && process.stdin.isTTY) throw invalidArgument('load: no archive: use -i FILE or redirect stdin');
    const r = await (await ctx.client()).load(input === '-' ? process.stdin : createReadStream(input));
    if (isJson(f)) {
      ctx.out.write(json(r));
      return 0;
    }
    for (const i of r.images) ctx.out.write(f.quiet ? `${i.name}\n` : `Loaded image: ${i.name}\n`);
    return 0;
  },
};

const importCmd: Verb = {
  flags: [{ names: ['platform'], kind: 'string' }, format, help],
  usage: 'import FILE|URL|- [REF]',
  run: async (ctx, f, args) => {
    want(args, 1, 2, 'import FILE|URL|- [REF]');
    const c = await ctx.client();
    // A URL is fetched by berthd, as docker's daemon does.
    const src = /^https?:\/\//i.test(args[0]!)
      ? { url: args[0]! }
      : args[0] === '-'
        ? process.stdin
        : createReadStream(resolve(args[0]!));
    const r = await c.importRootfs(src, args[1], f.platform as string | undefined);
    ctx.out.write(isJson(f) ? json(r) : `${r.target.digest}\n`);
    return 0;
  },
};

const save: Verb = {
  flags: [{ names: ['output', 'o'], kind: 'string' }, format, help],
  usage: 'save [-o FILE] [--format docker-archive|oci-archive] REF...',
  run: async (ctx, f, args) => {
    want(args, 1, Number.POSITIVE_INFINITY, 'save [-o FILE] [--format docker-archive|oci-archive] REF...');
    const fmt = (f.format as string | undefined) ?? 'docker-archive';
    if (fmt !== 'docker-archive' && fmt !== 'oci-archive')
      throw invalidArgument(`--format: expected docker-archive or oci-archive, got ${JSON.stringify(fmt)}`);
    const file = f.output as string | undefined;
    if (!file && ctx.out.isTTY)
      throw invalidArgument('save: refusing to write an archive to a terminal; use -o FILE or redirect stdout');
    const res = await (await ctx.client()).save(args, fmt);
    if (!file) {
      await pipeline(res, ctx.out, { end: false });
      return 0;
    }
    const tmp = `${file}.berth-tmp-${process.pid}`;
    try {
      await pipeline(res, createWriteStream(tmp, { mode: 0o644 }));
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return 0;
  },
};

export const DAEMON_IMAGE_VERBS: Record<string, Verb> = { pull, images, tag, rmi, load, import: importCmd, save };
export const DAEMON_IMAGE_GROUP: Record<string, Verb> = {
  ls: images,
  list: images,
  inspect,
  tag,
  rm: rmi,
  pull,
  save,
  load,
  import: importCmd,
};
