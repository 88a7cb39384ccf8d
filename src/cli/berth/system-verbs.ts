// berth's disk-usage and prune verbs, and `port`, through berthd (docker's words and output):
//   system df [-v]        TYPE / TOTAL / ACTIVE / SIZE / RECLAIMABLE
//   system prune [-a] [--volumes] [-f]   stopped containers, unused networks, dangling (or with -a
//                         unused) images, then content and snapshots nothing holds
//   image prune [-a] [-f] [--filter], container prune [-f], network prune [-f]
//   port CONTAINER [PRIVATE_PORT[/PROTO]]
// Must never: remove anything without -f unless a user on a terminal said yes.
import type { ContainerDetails } from '../../api/types.ts';
import { invalidArgument, notFound } from '../../errors/errors.ts';
import type { FlagSpec } from '../runtime/args.ts';
import { filtersOf, isJson, type Verb, type VerbCtx } from './container-verbs.ts';
import { formatChoice, listOutput } from './template-format.ts';
import { formatBytes, table } from './format.ts';

const help: FlagSpec = { names: ['help', 'h'], kind: 'bool' };
const format: FlagSpec = { names: ['format'], kind: 'string' };
const force: FlagSpec = { names: ['force', 'f'], kind: 'bool' };
const all: FlagSpec = { names: ['all', 'a'], kind: 'bool' };
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function want(args: string[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw invalidArgument(`usage: berth ${usage}`);
}

/** Docker's confirmation: -f skips it; off a terminal there is no one to ask, so -f is required. */
async function confirm(ctx: VerbCtx, f: Record<string, unknown>, what: string[]): Promise<boolean> {
  if (f.force) return true;
  if (!process.stdin.isTTY)
    throw invalidArgument(`prune: stdin is not a terminal to confirm on; add -f to remove ${what.join(', ')}`);
  ctx.out.write(
    `WARNING! This will remove:\n${what.map((w) => `  - ${w}\n`).join('')}\nAre you sure you want to continue? [y/N] `,
  );
  const { createInterface } = process.getBuiltinModule(
    'node:readline/promises',
  ) as typeof import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: ctx.out });
  try {
    return /^y(es)?$/i.test((await rl.question('')).trim());
  } finally {
    rl.close();
  }
}

const pct = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 100) : 0);

const systemDf: Verb = {
  flags: [format, help],
  usage: 'system df [--format json|TEMPLATE]',
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'system df [--format json]');
    formatChoice(f.format as string | undefined);
    const df = await (await ctx.client()).systemDf();
    const row = (type: string, r: { total: number; active: number; size: number; reclaimable: number }) => [
      type,
      String(r.total),
      String(r.active),
      formatBytes(r.size),
      `${formatBytes(r.reclaimable)} (${pct(r.reclaimable, r.size)}%)`,
    ];
    const rows = [row('Images', df.images), row('Containers', df.containers), row('Local Volumes', df.volumes)];
    // docker's df fields: Type, TotalCount, Active, Size, Reclaimable.
    const contexts = () =>
      rows.map(([Type, TotalCount, Active, Size, Reclaimable]) => ({ Type, TotalCount, Active, Size, Reclaimable }));
    ctx.out.write(
      listOutput(
        f.format,
        df,
        contexts,
        { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
        () => table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], rows),
      ),
    );
    return 0;
  },
};

const systemPrune: Verb = {
  flags: [all, { names: ['volumes'], kind: 'bool' }, force, format, help],
  usage: 'system prune [-a] [--volumes] [-f]',
  run: async (ctx, f, args) => {
    want(args, 0, 0, 'system prune [-a] [--volumes] [-f]');
    const what = [
      'all stopped containers',
      'all networks not used by at least one container',
      ...(f.volumes ? ['all anonymous volumes not used by at least one container'] : []),
      f.all ? 'all images without at least one container associated to them' : 'all dangling images',
    ];
    if (!(await confirm(ctx, f, what))) return 0;
    const r = await (await ctx.client()).systemPrune({ all: f.all === true, volumes: f.volumes === true });
    if (isJson(f)) {
      ctx.out.write(json(r));
      return 0;
    }
    const section = (title: string, items: string[]) => (items.length ? `${title}:\n${items.join('\n')}\n\n` : '');
    ctx.out.write(
      section('Deleted Containers', r.containersDeleted) +
        section('Deleted Networks', r.networksDeleted) +
        section('Deleted Volumes', r.volumesDeleted) +
        section('Deleted Images', [
          ...r.imagesUntagged.map((n) => `untagged: ${n}`),
          ...r.contentDeleted.map((d) => `deleted: ${d}`),
        ]) +
        `Total reclaimed space: ${formatBytes(r.spaceReclaimed)}\n`,
    );
    return 0;
  },
};

const IMAGE_PRUNE_USAGE = 'image prune [-a] [-f] [--filter until=T|label=K[=V]|label!=K[=V]|dangling=BOOL]';
const imagePrune: Verb = {
  flags: [all, force, format, help, { names: ['filter'], kind: 'strings' }],
  usage: IMAGE_PRUNE_USAGE,
  run: async (ctx, f, args) => {
    want(args, 0, 0, IMAGE_PRUNE_USAGE);
    const filters = filtersOf(f);
    if (
      !(await confirm(ctx, f, [
        f.all ? 'all images without at least one container associated to them' : 'all dangling images',
      ]))
    )
      return 0;
    // docker's CLI sends -a as dangling=false.
    const r = await (await ctx.client()).imagePrune({
      filters: { ...filters, ...(f.all ? { dangling: ['false'] } : {}) },
    });
    if (isJson(f)) {
      ctx.out.write(json(r));
      return 0;
    }
    const lines = [...r.untagged.map((n) => `untagged: ${n}`), ...r.removed.map((d) => `deleted: ${d}`)];
    ctx.out.write(
      `${lines.length ? `Deleted Images:\n${lines.join('\n')}\n\n` : ''}${r.removedSnapshots.map((s) => `Deleted snapshot: ${s}\n`).join('')}Total reclaimed space: ${formatBytes(r.freedBytes)}\n`,
    );
    return 0;
  },
};

function simplePrune(
  what: string,
  word: string,
  call: (
    c: Awaited<ReturnType<VerbCtx['client']>>,
    filters?: Record<string, string[]>,
  ) => Promise<{ removed: string[] }>,
  o: { filters?: boolean } = {},
): Verb {
  const usage = `${word} prune [-f]${o.filters ? ' [--filter until=T|label=K[=V]|label!=K[=V]]' : ''}`;
  return {
    flags: [force, format, help, ...(o.filters ? [{ names: ['filter'], kind: 'strings' as const }] : [])],
    usage,
    run: async (ctx, f, args) => {
      want(args, 0, 0, usage);
      const filters = filtersOf(f);
      if (!(await confirm(ctx, f, [what]))) return 0;
      const r = await call(await ctx.client(), filters);
      ctx.out.write(
        isJson(f)
          ? json(r)
          : r.removed.length
            ? `Deleted ${word === 'container' ? 'Containers' : 'Networks'}:\n${r.removed.join('\n')}\n`
            : '',
      );
      return 0;
    },
  };
}

/** docker port's lines: "80/tcp -> 127.0.0.1:32768", or only the address when a private port is named. */
export function portLines(d: Pick<ContainerDetails, 'name' | 'networkSettings'>, privatePort?: string): string[] {
  const ports = d.networkSettings?.ports ?? {};
  const host = (b: { hostIp: string; hostPort: string }) => `${b.hostIp === '' ? '0.0.0.0' : b.hostIp}:${b.hostPort}`;
  if (privatePort !== undefined) {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(privatePort);
    if (!m) throw invalidArgument(`port ${JSON.stringify(privatePort)}: expected PRIVATE_PORT[/tcp|udp|sctp]`);
    const key = `${m[1]}/${m[2] ?? 'tcp'}`;
    const bindings = ports[key];
    if (!bindings?.length) throw notFound(`no public port '${key}' published for ${d.name}`);
    return bindings.map(host);
  }
  // As docker 28 prints them: by port number, then protocol.
  const order = (k: string) => [Number.parseInt(k, 10), k.slice(k.indexOf('/'))] as const;
  const keys = Object.keys(ports).sort((x, y) => order(x)[0] - order(y)[0] || order(x)[1].localeCompare(order(y)[1]));
  return keys.flatMap((k) => (ports[k] ?? []).map((b) => `${k} -> ${host(b)}`));
}

const port: Verb = {
  flags: [format, help],
  usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  run: async (ctx, f, args) => {
    want(args, 1, 2, 'port CONTAINER [PRIVATE_PORT[/PROTO]]');
    const d = await (await ctx.client()).inspect(args[0]!);
    if (isJson(f)) {
      ctx.out.write(json(d.networkSettings?.ports ?? {}));
      return 0;
    }
    const lines = portLines(d, args[1]);
    ctx.out.write(lines.map((l) => `${l}\n`).join(''));
    return 0;
  },
};

export const SYSTEM_VERBS: Record<string, Verb> = { port };
export const SYSTEM_GROUPS: Record<string, Record<string, Verb>> = {
  system: { df: systemDf, prune: systemPrune },
  image: { prune: imagePrune },
  container: {
    prune: simplePrune('all stopped containers', 'container', (c, filters) => c.containerPrune(filters), {
      filters: true,
    }),
  },
  network: {
    prune: simplePrune('all networks not used by at least one container', 'network', (c) => c.networkPrune()),
  },
};
