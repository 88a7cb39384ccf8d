// `berth-runtime update`'s flags as LinuxResources (runc's update command): sizes take k/m/g/t
// suffixes in binary multiples, -1 means unlimited, and every value names its flag when invalid.
import { invalidArgument, unsupported } from '../../errors/errors.ts';
import type { LinuxResources } from '../../oci/runtime-spec.ts';
import type { FlagValues } from './args.ts';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
};

export function parseBytes(text: string, flag: string): number {
  if (text === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined)
    throw invalidArgument(`--${flag}: expected a size such as 512m or 1g, got ${JSON.stringify(text)}`);
  return Math.floor(Number(m[1]) * unit);
}

function parseInt64(text: string, flag: string): number {
  if (!/^-?\d+$/.test(text)) throw invalidArgument(`--${flag}: expected an integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

export function resourcesFromFlags(flags: FlagValues): LinuxResources {
  const r: LinuxResources = {};
  const str = (k: string) => flags[k] as string | undefined;
  const mem = (k: string, set: (v: number) => void) => {
    const v = str(k);
    if (v !== undefined) set(parseBytes(v, k));
  };
  const num = (k: string, set: (v: number) => void) => {
    const v = str(k);
    if (v !== undefined) set(parseInt64(v, k));
  };
  mem('memory', (v) => {
    r.memory = { ...r.memory, limit: v };
  });
  mem('memory-reservation', (v) => {
    r.memory = { ...r.memory, reservation: v };
  });
  mem('memory-swap', (v) => {
    r.memory = { ...r.memory, swap: v };
  });
  if (str('kernel-memory') !== undefined || str('kernel-memory-tcp') !== undefined) {
    throw unsupported(
      '--kernel-memory, --kernel-memory-tcp: kernel memory limits are deprecated by the runtime spec and not supported',
    );
  }
  num('cpu-shares', (v) => {
    r.cpu = { ...r.cpu, shares: v };
  });
  num('cpu-period', (v) => {
    r.cpu = { ...r.cpu, period: v };
  });
  num('cpu-quota', (v) => {
    r.cpu = { ...r.cpu, quota: v };
  });
  num('cpu-rt-period', (v) => {
    r.cpu = { ...r.cpu, realtimePeriod: v };
  });
  num('cpu-rt-runtime', (v) => {
    r.cpu = { ...r.cpu, realtimeRuntime: v };
  });
  if (str('cpuset-cpus') !== undefined) r.cpu = { ...r.cpu, cpus: str('cpuset-cpus')! };
  if (str('cpuset-mems') !== undefined) r.cpu = { ...r.cpu, mems: str('cpuset-mems')! };
  num('pids-limit', (v) => {
    r.pids = { limit: v };
  });
  num('blkio-weight', (v) => {
    r.blockIO = { weight: v };
  });
  if (str('l3-cache-schema') !== undefined || str('mem-bw-schema') !== undefined) {
    throw unsupported('--l3-cache-schema, --mem-bw-schema: Intel RDT is not supported by berth-runtime');
  }
  return r;
}

/** "5s", "500ms", "1m", or a bare number of seconds; in milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw invalidArgument(`--${flag}: expected a duration such as 5s or 500ms, got ${JSON.stringify(text)}`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(m[1]) * scale;
  if (ms <= 0) throw invalidArgument(`--${flag}: must be positive`);
  return ms;
}
