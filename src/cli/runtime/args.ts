// Command-line parsing in runc's dialect: global flags before the verb, verb flags after it,
// `--flag value`, `--flag=value`, and Go's single-dash long form (`-root x`), which containerd and
// podman's conmon sometimes pass. Pure: returns data or throws an InvalidArgument naming the flag.
import { invalidArgument } from '../../errors/errors.ts';

export interface FlagSpec {
  /** Long name without dashes; aliases include short names ("b"). */
  names: string[];
  kind: 'string' | 'bool' | 'int' | 'strings';
}

export type FlagValues = Record<string, string | boolean | number | string[] | undefined>;

export interface Parsed {
  flags: FlagValues;
  rest: string[];
}

/** Parses flags up to the first non-flag argument (or `--`); stops there when `stopAtPositional`. */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[], stopAtPositional: boolean): Parsed {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const flags: FlagValues = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (stopAtPositional) {
        rest.push(...argv.slice(i));
        break;
      }
      rest.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = byName.get(name);
    if (!spec) throw invalidArgument(`flag provided but not defined: -${name}`);
    const key = spec.names[0]!;
    if (spec.kind === 'bool') {
      if (eq < 0) flags[key] = true;
      else {
        const v = body.slice(eq + 1);
        if (v !== 'true' && v !== 'false')
          throw invalidArgument(`invalid boolean value ${JSON.stringify(v)} for -${name}`);
        flags[key] = v === 'true';
      }
      continue;
    }
    let v: string | undefined;
    if (eq >= 0) v = body.slice(eq + 1);
    else {
      v = argv[++i];
      if (v === undefined) throw invalidArgument(`flag needs an argument: -${name}`);
    }
    if (spec.kind === 'strings') {
      const prev = flags[key];
      flags[key] = [...(Array.isArray(prev) ? prev : []), v];
    } else if (spec.kind === 'int') {
      if (!/^\d+$/.test(v))
        throw invalidArgument(`invalid value ${JSON.stringify(v)} for flag -${name}: expected a non-negative integer`);
      flags[key] = Number(v);
    } else flags[key] = v;
  }
  return { flags, rest };
}

export const GLOBAL_FLAGS: FlagSpec[] = [
  { names: ['root'], kind: 'string' },
  { names: ['log'], kind: 'string' },
  { names: ['log-format'], kind: 'string' },
  { names: ['debug'], kind: 'bool' },
  { names: ['systemd-cgroup'], kind: 'bool' },
  { names: ['rootless'], kind: 'string' },
  { names: ['criu'], kind: 'string' },
  { names: ['help', 'h'], kind: 'bool' },
  { names: ['version', 'v'], kind: 'bool' },
];

const CREATE_FLAGS: FlagSpec[] = [
  { names: ['bundle', 'b'], kind: 'string' },
  { names: ['console-socket'], kind: 'string' },
  { names: ['pid-file'], kind: 'string' },
  { names: ['no-pivot'], kind: 'bool' },
  { names: ['no-new-keyring'], kind: 'bool' },
  { names: ['preserve-fds'], kind: 'int' },
];

export const VERB_FLAGS: Record<string, FlagSpec[]> = {
  create: CREATE_FLAGS,
  run: [...CREATE_FLAGS, { names: ['detach', 'd'], kind: 'bool' }, { names: ['keep'], kind: 'bool' }],
  start: [],
  state: [],
  kill: [{ names: ['all', 'a'], kind: 'bool' }],
  delete: [{ names: ['force', 'f'], kind: 'bool' }],
  list: [
    { names: ['format', 'f'], kind: 'string' },
    { names: ['quiet', 'q'], kind: 'bool' },
  ],
  exec: [
    { names: ['console-socket'], kind: 'string' },
    { names: ['cwd'], kind: 'string' },
    { names: ['env', 'e'], kind: 'strings' },
    { names: ['tty', 't'], kind: 'bool' },
    { names: ['user', 'u'], kind: 'string' },
    { names: ['additional-gids', 'g'], kind: 'strings' },
    { names: ['process', 'p'], kind: 'string' },
    { names: ['detach', 'd'], kind: 'bool' },
    { names: ['pid-file'], kind: 'string' },
    { names: ['process-label'], kind: 'string' },
    { names: ['apparmor'], kind: 'string' },
    { names: ['no-new-privs'], kind: 'bool' },
    { names: ['cap', 'c'], kind: 'strings' },
    { names: ['preserve-fds'], kind: 'int' },
    { names: ['cgroup'], kind: 'strings' },
    { names: ['ignore-paused'], kind: 'bool' },
  ],
  pause: [],
  resume: [],
  features: [],
  ps: [{ names: ['format', 'f'], kind: 'string' }],
  events: [
    { names: ['stats'], kind: 'bool' },
    { names: ['interval'], kind: 'string' },
  ],
  update: [
    { names: ['resources', 'r'], kind: 'string' },
    { names: ['memory'], kind: 'string' },
    { names: ['memory-reservation'], kind: 'string' },
    { names: ['memory-swap'], kind: 'string' },
    { names: ['kernel-memory'], kind: 'string' },
    { names: ['kernel-memory-tcp'], kind: 'string' },
    { names: ['cpu-shares'], kind: 'string' },
    { names: ['cpu-period'], kind: 'string' },
    { names: ['cpu-quota'], kind: 'string' },
    { names: ['cpu-rt-period'], kind: 'string' },
    { names: ['cpu-rt-runtime'], kind: 'string' },
    { names: ['cpuset-cpus'], kind: 'string' },
    { names: ['cpuset-mems'], kind: 'string' },
    { names: ['pids-limit'], kind: 'string' },
    { names: ['blkio-weight'], kind: 'string' },
    { names: ['l3-cache-schema'], kind: 'string' },
    { names: ['mem-bw-schema'], kind: 'string' },
  ],
  checkpoint: [],
  restore: [],
  spec: [
    { names: ['bundle', 'b'], kind: 'string' },
    { names: ['rootless'], kind: 'bool' },
  ],
};
for (const v of Object.values(VERB_FLAGS)) v.push({ names: ['help', 'h'], kind: 'bool' });
