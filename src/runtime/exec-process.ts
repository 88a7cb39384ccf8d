// The process that `exec` runs: either a whole process.json (--process), or the container's own
// process with runc's command-line overrides applied. Pure.
import { invalidArgument, unsupported } from '../errors/errors.ts';
import type { Process } from '../oci/runtime-spec.ts';

export interface ExecOverrides {
  args: string[];
  env?: string[];
  cwd?: string;
  tty?: boolean;
  /** "uid" or "uid:gid", numeric as runc takes it. */
  user?: string;
  additionalGids?: string[];
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
}

/** Environment lists merge by key: a later VAR=value replaces an earlier one. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...extra]) {
    const i = e.indexOf('=');
    out.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...out.values()];
}

function parseId(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw invalidArgument(`--${what}: expected a numeric id, got ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n > 0xffffffff) throw invalidArgument(`--${what}: ${text} is out of range`);
  return n;
}

export function execProcess(base: Process, o: ExecOverrides): Process {
  if (o.args.length === 0) throw invalidArgument('exec: a command is required (or --process process.json)');
  if (o.apparmor) throw unsupported('--apparmor: AppArmor is not supported by berth-runtime');
  if (o.processLabel) throw unsupported('--process-label: SELinux is not supported by berth-runtime');
  const p: Process = structuredClone(base);
  p.args = [...o.args];
  if (o.env?.length) p.env = mergeEnv(base.env ?? [], o.env);
  if (o.cwd !== undefined) p.cwd = o.cwd;
  p.terminal = o.tty === true;
  if (o.user !== undefined) {
    const [u, g, ...more] = o.user.split(':');
    if (more.length > 0 || u === undefined)
      throw invalidArgument(`--user: expected uid or uid:gid, got ${JSON.stringify(o.user)}`);
    p.user = { ...p.user, uid: parseId(u, 'user'), gid: g === undefined ? p.user.gid : parseId(g, 'user') };
  }
  if (o.additionalGids?.length)
    p.user = { ...p.user, additionalGids: o.additionalGids.map((g) => parseId(g, 'additional-gids')) };
  if (o.caps?.length) {
    const c = { ...(p.capabilities ?? {}) };
    for (const set of ['bounding', 'effective', 'permitted'] as const)
      c[set] = [...new Set([...(c[set] ?? []), ...o.caps])];
    p.capabilities = c;
  }
  if (o.noNewPrivs) p.noNewPrivileges = true;
  return p;
}
