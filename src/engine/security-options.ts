// Applies a container's security options and CPU/OOM settings (CreateRequest.security, cpuShares,
// cpuset, oomScoreAdj) to its OCI config, as docker and the CRI runtimes do: capabilities from
// docker's default set with additions and drops, privileged (every capability, nothing masked, /sys
// writable), no_new_privileges, masked and read-only paths, sysctls, supplementary groups, and the
// seccomp profile (berth's default, docker's, for the container's capabilities; none when privileged
// or unconfined; or a profile document).
// Pure but for ownBoundingCaps (what berthd itself holds) and the reading of a seccomp profile file
// the request names: every rule is unit-tested. Must never: read the rootfs.
import { readFileSync, statSync } from 'node:fs';
import { invalidArgument } from '../errors/errors.ts';
import { CAPABILITIES } from '../oci/runtime-linux-tables.ts';
import type { LinuxSeccomp, RuntimeConfig } from '../oci/runtime-spec.ts';
import { defaultSeccomp } from '../seccomp/default-profile.ts';
import { hostFacts, parseSeccompProfile, renderSeccompProfile } from '../seccomp/seccomp-profile.ts';
import type { CreateRequest, GroupsPolicy, SeccompChoice } from './types.ts';

/** A profile file larger than this is not a profile (moby's whole default is 20 KiB). */
const MAX_PROFILE_BYTES = 1 << 20;

/** The container's linux.seccomp (undefined: none), for its effective capabilities. */
export function seccompFor(
  choice: SeccompChoice | undefined,
  privileged: boolean,
  caps: readonly string[],
): LinuxSeccomp | undefined {
  // docker and containerd give a privileged container no filter, whatever profile is asked for.
  if (privileged) return undefined;
  const c = choice ?? { kind: 'default' };
  switch (c.kind) {
    case 'default':
      return defaultSeccomp(caps);
    case 'unconfined':
      return undefined;
    case 'inline': {
      if (typeof c.json !== 'string')
        throw invalidArgument('security.seccomp.json: expected the profile document as a string');
      if (c.json.length > MAX_PROFILE_BYTES)
        throw invalidArgument(
          `security.seccomp.json: ${c.json.length} bytes (expected a profile of at most ${MAX_PROFILE_BYTES})`,
        );
      return renderSeccompProfile(
        parseSeccompProfile(c.json, 'security.seccomp.json'),
        hostFacts(caps),
        'security.seccomp.json',
      );
    }
    case 'localhost': {
      const field = c.field ?? 'security.seccomp.path';
      if (typeof c.path !== 'string' || !c.path.startsWith('/'))
        throw invalidArgument(
          `${field}: ${JSON.stringify(c.path)} (expected the absolute path of a seccomp profile file on the node)`,
        );
      const source = `${field} ${c.path}`;
      let text: string;
      try {
        const st = statSync(c.path);
        if (!st.isFile()) throw invalidArgument(`${source}: not a regular file (expected a seccomp profile JSON file)`);
        if (st.size > MAX_PROFILE_BYTES)
          throw invalidArgument(`${source}: ${st.size} bytes (expected a profile of at most ${MAX_PROFILE_BYTES})`);
        text = readFileSync(c.path, 'utf8');
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT')
          throw invalidArgument(`${source}: no such file (expected a seccomp profile JSON file)`, e);
        if ((e as { code?: string }).code) throw invalidArgument(`${source}: cannot read: ${(e as Error).message}`, e);
        throw e;
      }
      return renderSeccompProfile(parseSeccompProfile(text, source), hostFacts(caps), source);
    }
    default:
      throw invalidArgument(
        `security.seccomp.kind: ${JSON.stringify((c as { kind: unknown }).kind)} (expected default, unconfined, localhost or inline)`,
      );
  }
}

/** `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` alike; ALL stays ALL; an unknown name is refused naming `field`. */
function capName(word: string, field: string): string {
  const up = word.toUpperCase();
  if (up === 'ALL') return 'ALL';
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!CAPABILITIES.includes(name))
    throw invalidArgument(
      `${field}: unknown capability ${JSON.stringify(word)} (expected a name from capabilities(7), e.g. NET_ADMIN, or ALL)`,
    );
  return name;
}

export function applySecurity(
  spec: RuntimeConfig,
  req: CreateRequest,
  defaults: readonly string[],
  bounding: readonly string[] = CAPABILITIES,
): void {
  const sec = req.security ?? {};
  const proc = spec.process!;
  const linux = spec.linux!;
  // Privileged is every capability berthd holds: one it lacks cannot be granted (capset fails).
  let caps: string[] = sec.privileged ? [...bounding] : [...defaults];
  const drop = (sec.capDrop ?? []).map((c) => capName(c, 'capDrop'));
  const add = (sec.capAdd ?? []).map((c) => capName(c, 'capAdd'));
  if (drop.includes('ALL')) caps = [];
  else caps = caps.filter((c) => !drop.includes(c));
  if (add.includes('ALL')) caps = [...bounding];
  else for (const c of add) if (!caps.includes(c)) caps.push(c);
  const ambient = (sec.ambientCaps ?? []).map((c) => capName(c, 'ambientCaps'));
  if (ambient.includes('ALL')) throw invalidArgument('ambientCaps: ALL is not accepted (expected capability names)');
  for (const c of ambient) if (!caps.includes(c)) caps.push(c);
  proc.capabilities = {
    bounding: [...caps],
    effective: [...caps],
    permitted: [...caps],
    ...(ambient.length ? { inheritable: [...ambient], ambient: [...ambient] } : {}),
  };
  if (sec.noNewPrivileges !== undefined) proc.noNewPrivileges = sec.noNewPrivileges;
  const seccomp = seccompFor(sec.seccomp, sec.privileged === true, caps);
  if (seccomp) linux.seccomp = seccomp;
  else delete linux.seccomp;
  if (sec.privileged) {
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
    spec.mounts = (spec.mounts ?? []).map((m) =>
      m.destination === '/sys' ? { ...m, options: (m.options ?? []).filter((o) => o !== 'ro') } : m,
    );
  } else {
    for (const [k, v] of [
      ['maskedPaths', sec.maskedPaths],
      ['readonlyPaths', sec.readonlyPaths],
    ] as const) {
      if (v === undefined) continue;
      for (const [i, p] of v.entries())
        if (typeof p !== 'string' || !p.startsWith('/'))
          throw invalidArgument(`${k}[${i}]: ${JSON.stringify(p)} (expected an absolute path)`);
      linux[k] = [...v];
    }
  }
  if (sec.sysctls && Object.keys(sec.sysctls).length) {
    for (const [k, v] of Object.entries(sec.sysctls)) {
      if (!/^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/.test(k) || typeof v !== 'string')
        throw invalidArgument(
          `sysctls: ${JSON.stringify(k)}=${JSON.stringify(v)} (expected a dotted kernel parameter name and a string value)`,
        );
    }
    linux.sysctl = { ...sec.sysctls };
  }
  if (sec.groups?.length) {
    for (const g of sec.groups)
      if (!Number.isInteger(g) || g < 0 || g > 0xffffffff)
        throw invalidArgument(`groups: ${g} (expected group ids 0-4294967295)`);
    // Here for exec'd processes (which start from this config), and again at start after the user's
    // own groups are read from the image (withGroups).
    proc.user.additionalGids = withGroups(proc.user.additionalGids, sec.groups);
  }
  linux.resources ??= {};
  const res = linux.resources;
  if (req.cpuShares !== undefined) {
    if (!Number.isInteger(req.cpuShares) || req.cpuShares < 2 || req.cpuShares > 262144)
      throw invalidArgument(`cpuShares ${req.cpuShares}: expected an integer in 2-262144`);
    res.cpu = { ...(res.cpu ?? {}), shares: req.cpuShares };
  }
  for (const [k, v] of [
    ['cpus', req.cpusetCpus],
    ['mems', req.cpusetMems],
  ] as const) {
    if (v === undefined || v === '') continue;
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v))
      throw invalidArgument(`cpuset${k === 'cpus' ? 'Cpus' : 'Mems'} ${JSON.stringify(v)}: expected a list like 0-2,4`);
    res.cpu = { ...(res.cpu ?? {}), [k]: v };
  }
  if (req.oomScoreAdj !== undefined) {
    if (!Number.isInteger(req.oomScoreAdj) || req.oomScoreAdj < -1000 || req.oomScoreAdj > 1000)
      throw invalidArgument(`oomScoreAdj ${req.oomScoreAdj}: expected an integer in -1000…1000`);
    proc.oomScoreAdj = req.oomScoreAdj;
  }
}

/** The capabilities in this process's bounding set (/proc/self/status CapBnd), by name; every known one if unreadable. */
export function ownBoundingCaps(): string[] {
  try {
    const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (!hex) return [...CAPABILITIES];
    const bits = BigInt(`0x${hex}`);
    return CAPABILITIES.filter((_, i) => (bits >> BigInt(i)) & 1n);
  } catch {
    return [...CAPABILITIES];
  }
}

/** The requested supplementary groups and how the image's groups join them (prepareProcess). */
export function securityGroups(req: CreateRequest): { groups?: number[]; groupsPolicy?: GroupsPolicy } {
  const sec = req.security;
  return {
    ...(sec?.groups?.length ? { groups: sec.groups } : {}),
    ...(sec?.groupsPolicy ? { groupsPolicy: sec.groupsPolicy } : {}),
  };
}

/** The supplementary groups a process gets: its user's (from /etc/group) and the requested ones. */
export function withGroups(additional: number[] | undefined, groups: number[] | undefined): number[] | undefined {
  if (!groups?.length) return additional;
  return [...new Set([...(additional ?? []), ...groups])];
}
