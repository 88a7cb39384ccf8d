// `berth build` and `berth builder prune`, through berthd (the builder runs in the engine).
// --progress plain (auto off a terminal): one line per step ("#3 [stage 0] RUN …", CACHED when the
// cache served it), RUN output as it comes; tty (auto on a terminal): a live view redrawn in place
// (build-progress.ts); then the image id. `-q` prints only the id.
// Must never: read the context itself (berthd reads the directory it is given).
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { join, resolve } from 'node:path';
import { invalidArgument } from '../../errors/errors.ts';
import type { FlagSpec } from '../runtime/args.ts';
import { BuildProgress, progressMode } from './build-progress.ts';
import type { Verb } from './container-verbs.ts';

const help: FlagSpec = { names: ['help', 'h'], kind: 'bool' };

export const BUILD_USAGE =
  'build [-t NAME]... [-f FILE] [--build-arg K=V]... [--label K=V]... [--target S] [--no-cache] [--pull] [--platform P] [--iidfile FILE] [--output type=docker|oci,dest=FILE] [--progress auto|plain|tty] [-q] CONTEXT';

export const build: Verb = {
  flags: [
    { names: ['tag', 't'], kind: 'strings' },
    { names: ['file', 'f'], kind: 'string' },
    { names: ['build-arg'], kind: 'strings' },
    { names: ['label'], kind: 'strings' },
    { names: ['target'], kind: 'string' },
    { names: ['no-cache'], kind: 'bool' },
    { names: ['pull'], kind: 'bool' },
    { names: ['quiet', 'q'], kind: 'bool' },
    { names: ['progress'], kind: 'string' },
    { names: ['iidfile'], kind: 'string' },
    { names: ['output', 'o'], kind: 'string' },
    { names: ['platform'], kind: 'string' },
    help,
  ],
  usage: BUILD_USAGE,
  run: async (ctx, f, args) => {
    if (args.length !== 1) throw invalidArgument(`usage: berth ${BUILD_USAGE}`);
    if (args[0] === '-' || /^[a-z]+:\/\//i.test(args[0]!))
      throw invalidArgument(`build ${args[0]}: the context must be a local directory`);
    const context = resolve(args[0]!);
    if (!existsSync(context)) throw invalidArgument(`build: context directory ${context} does not exist`);
    let dockerfile = f.file as string | undefined;
    let stdinDir: string | undefined;
    if (dockerfile === '-') {
      // The Dockerfile on stdin: handed to berthd (same host) as a file outside the context.
      const chunks: Buffer[] = [];
      for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
      stdinDir = await mkdtemp(join(tmpdir(), 'berth-build-'));
      dockerfile = join(stdinDir, 'Dockerfile');
      await writeFile(dockerfile, Buffer.concat(chunks), { mode: 0o600 });
    } else if (dockerfile !== undefined && dockerfile !== '') {
      // -f is relative to the working directory, as docker's; inside the context it is passed as a path in it.
      const abs = resolve(dockerfile);
      dockerfile = abs.startsWith(`${context}/`) ? abs.slice(context.length + 1) : abs;
    }
    // Docker's --build-arg K without a value takes K from the environment.
    const buildArgs = ((f['build-arg'] as string[] | undefined) ?? []).flatMap((kv) => {
      if (kv.includes('=')) return [kv];
      const v = process.env[kv];
      return v === undefined ? [] : [`${kv}=${v}`];
    });
    const quiet = f.quiet === true;
    const output = f.output === undefined ? undefined : parseOutput(f.output as string);
    const progress = f.progress as string | undefined;
    if (progress !== undefined && !['auto', 'plain', 'tty'].includes(progress))
      throw invalidArgument(`--progress ${progress}: expected auto, plain or tty`);
    const view = quiet
      ? undefined
      : new BuildProgress({
          mode: progressMode(progress, ctx.out.isTTY === true),
          out: ctx.out,
          err: ctx.err,
          columns: ctx.out.columns,
          rows: ctx.out.rows,
        });
    const r = await (await ctx.client())
      .build({
        context,
        ...(f.tag ? { tags: f.tag as string[] } : {}),
        ...(dockerfile ? { dockerfile } : {}),
        buildArgs,
        ...(f.label ? { labels: f.label as string[] } : {}),
        ...(f.target ? { target: f.target as string } : {}),
        ...(f.platform ? { platform: f.platform as string } : {}),
        noCache: f['no-cache'] === true,
        pull: f.pull === true,
        onEvent: (ev) => view?.event(ev),
      })
      .then(
        (res) => {
          view?.finish(true);
          return res;
        },
        (e: unknown) => {
          view?.finish(false);
          throw e;
        },
      )
      .finally(() => (stdinDir ? rm(stdinDir, { recursive: true, force: true }) : undefined));
    if (f.iidfile) await writeFile(f.iidfile as string, r.id);
    if (output) {
      const res = await (await ctx.client()).save(
        [r.names[0] ?? r.id],
        output.type === 'oci' ? 'oci-archive' : 'docker-archive',
      );
      await pipeline(res, output.dest === '-' ? ctx.out : createWriteStream(output.dest));
      if (output.dest === '-') return 0;
    }
    if (quiet) ctx.out.write(`${r.id}\n`);
    else {
      for (const n of r.names) ctx.out.write(`naming to ${n}\n`);
      ctx.out.write(`${r.id}\n`);
    }
    return 0;
  },
};

/** `--output type=docker|oci,dest=FILE` (or `-o FILE`, a docker archive): where the image is written as an archive too. */
function parseOutput(v: string): { type: 'docker' | 'oci'; dest: string } {
  if (!v.includes('=')) return { type: 'docker', dest: v };
  const kv = Object.fromEntries(v.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const type = kv.type ?? 'docker';
  if (type !== 'docker' && type !== 'oci')
    throw invalidArgument(`--output type=${type}: expected docker or oci (an archive file)`);
  if (!kv.dest) throw invalidArgument(`--output ${v}: dest=FILE is required`);
  return { type, dest: kv.dest };
}

export const builderPrune: Verb = {
  flags: [{ names: ['force', 'f'], kind: 'bool' }, { names: ['all', 'a'], kind: 'bool' }, help],
  usage: 'builder prune [-f]',
  run: async (ctx) => {
    const r = await (await ctx.client()).builderPrune();
    ctx.out.write(`Removed ${r.entries} build cache entries\n`);
    return 0;
  },
};
