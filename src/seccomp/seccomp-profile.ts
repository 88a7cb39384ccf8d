// A seccomp profile document (docker's format, which is a superset of the OCI linux.seccomp
// object) rendered into the OCI linux.seccomp of one container, as dockerd renders it: the
// architectures of the host's family (`archMap`), and only the syscall entries whose `includes`
// hold (every listed capability held, the host's architecture listed, the kernel at least
// `minKernel`) and whose `excludes` do not (no listed capability held, the architecture not
// listed). A plain OCI object passes through unchanged, so one reader serves berth's default
// profile, `--security-opt seccomp=<file>` and a CRI Localhost profile.
//
// Pure but for the host facts it is given (architecture, kernel release); every rule is
// unit-tested. Must never compile or load a filter (compile-seccomp.ts compiles; berth-init loads).
import { release } from 'node:os';
import { invalidArgument } from '../errors/errors.ts';
import { validateRuntimeConfig } from '../oci/runtime-validate.ts';
import type {
  LinuxSeccomp,
  LinuxSeccompAction,
  LinuxSeccompArch,
  LinuxSeccompArg,
  LinuxSyscall,
} from '../oci/runtime-spec.ts';

/** A condition on a syscall entry of a docker profile. */
export interface ProfileFilter {
  /** Go's GOARCH names (amd64, arm64, x86, x32, arm, s390x, ppc64le, riscv64, …). */
  arches?: string[];
  caps?: string[];
  /** "major.minor" */
  minKernel?: string;
}

export interface ProfileSyscall {
  names?: string[];
  /** docker's older single-name form. */
  name?: string;
  action: LinuxSeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[] | null;
  comment?: string;
  includes?: ProfileFilter;
  excludes?: ProfileFilter;
}

/** docker's seccomp profile document (moby's profiles/seccomp types). */
export interface SeccompProfile {
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number;
  architectures?: LinuxSeccompArch[];
  archMap?: Array<{ architecture: LinuxSeccompArch; subArchitectures?: LinuxSeccompArch[] | null }>;
  flags?: LinuxSeccomp['flags'];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: ProfileSyscall[] | null;
}

/** The host facts a profile's conditions are decided on. */
export interface ProfileHost {
  /** GOARCH-style name of the host's architecture (see goArch). */
  arch: string;
  /** The container's effective capabilities (CAP_ names). */
  capabilities: readonly string[];
  /** Kernel release, e.g. "6.1.0-18-amd64". */
  kernel: string;
}

/** Node's process.arch in Go's GOARCH words, which docker profiles' `arches` use. */
export function goArch(nodeArch: string = process.arch): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    s390x: 's390x',
    ppc64: 'ppc64le',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips64el: 'mips64le',
    mipsel: 'mipsle',
  };
  return map[nodeArch] ?? nodeArch;
}

/** The libseccomp architecture of a GOARCH, the key of `archMap` (moby's arches table). */
const NATIVE_ARCH: Record<string, LinuxSeccompArch> = {
  amd64: 'SCMP_ARCH_X86_64',
  '386': 'SCMP_ARCH_X86',
  arm64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
  s390x: 'SCMP_ARCH_S390X',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  mips64le: 'SCMP_ARCH_MIPSEL64',
  mipsle: 'SCMP_ARCH_MIPSEL',
};

export function hostFacts(capabilities: readonly string[]): ProfileHost {
  return { arch: goArch(), capabilities, kernel: release() };
}

function kernelAtLeast(kernel: string, min: string, where: string): boolean {
  const want = /^(\d+)\.(\d+)$/.exec(min);
  if (!want) throw invalidArgument(`${where}.minKernel: ${JSON.stringify(min)} (expected "major.minor", e.g. "4.8")`);
  const have = /^(\d+)\.(\d+)/.exec(kernel);
  if (!have) return false;
  const [hM, hm, wM, wm] = [have[1], have[2], want[1], want[2]].map(Number) as [number, number, number, number];
  return hM > wM || (hM === wM && hm >= wm);
}

/** Whether an entry applies: its includes all hold and none of its excludes does (moby's rules). */
function applies(s: ProfileSyscall, host: ProfileHost, where: string): boolean {
  for (const k of ['includes', 'excludes'] as const) {
    const f = s[k];
    if (f === undefined || f === null) continue;
    if (typeof f !== 'object') throw invalidArgument(`${where}.${k}: expected an object of arches, caps, minKernel`);
    for (const l of ['arches', 'caps'] as const) {
      const v = f[l];
      if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'string')))
        throw invalidArgument(`${where}.${k}.${l}: expected an array of names`);
    }
    if (f.minKernel !== undefined && typeof f.minKernel !== 'string')
      throw invalidArgument(`${where}.${k}.minKernel: expected "major.minor"`);
  }
  const caps = new Set(host.capabilities);
  const inc = s.includes ?? {};
  if (inc.arches?.length && !inc.arches.includes(host.arch)) return false;
  if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
  if (inc.minKernel && !kernelAtLeast(host.kernel, inc.minKernel, `${where}.includes`)) return false;
  const exc = s.excludes ?? {};
  if (exc.arches?.includes(host.arch)) return false;
  if (exc.caps?.some((c) => caps.has(c))) return false;
  if (exc.minKernel && kernelAtLeast(host.kernel, exc.minKernel, `${where}.excludes`)) return false;
  return true;
}

/** The profile for one container on this host, as OCI linux.seccomp. `source` names the document in errors. */
export function renderSeccompProfile(profile: SeccompProfile, host: ProfileHost, source: string): LinuxSeccomp {
  if (profile.archMap?.length && profile.architectures?.length)
    throw invalidArgument(`${source}: has both architectures and archMap (expected one of them)`);
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.architectures?.length) out.architectures = [...profile.architectures];
  else if (profile.archMap?.length) {
    const native = NATIVE_ARCH[host.arch];
    const entry = profile.archMap.find((a) => a.architecture === native);
    if (entry) out.architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  }
  for (const k of ['flags', 'listenerPath', 'listenerMetadata'] as const)
    if (profile[k] !== undefined) (out as Record<string, unknown>)[k] = profile[k];
  const syscalls: LinuxSyscall[] = [];
  for (const [i, s] of (profile.syscalls ?? []).entries()) {
    const where = `${source}: syscalls[${i}]`;
    if (s === null || typeof s !== 'object')
      throw invalidArgument(`${where}: ${JSON.stringify(s)} (expected an object)`);
    if (s.name !== undefined && s.names !== undefined)
      throw invalidArgument(`${where}: has both name and names (expected one of them)`);
    if (!applies(s, host, where)) continue;
    const names = s.names ?? (s.name !== undefined ? [s.name] : []);
    syscalls.push({
      names: [...names],
      action: s.action,
      ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
      ...(s.args?.length ? { args: s.args.map((a) => ({ ...a })) } : {}),
    });
  }
  if (syscalls.length) out.syscalls = syscalls;
  // The OCI validator is the one judge of actions, operators, arches and errnos: the rendered
  // object must be one a runtime accepts.
  const { problems } = validateRuntimeConfig({ ociVersion: '1.2.0', linux: { seccomp: out } });
  const mine = problems.filter((p) => p.path.startsWith('linux.seccomp'));
  if (mine.length)
    throw invalidArgument(
      `${source}: not a valid seccomp profile: ${mine.map((p) => `${p.path.replace(/^linux\.seccomp\.?/, '') || '(profile)'}: ${p.message}`).join('; ')}`,
    );
  return out;
}

/** A profile document from JSON text (a file's or a request's); `source` names it in errors. */
export function parseSeccompProfile(text: string, source: string): SeccompProfile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // Only the position: V8's message quotes the text, and the file may be any file of the node.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw invalidArgument(
      `${source}: invalid JSON${at ? ` at offset ${at}` : ''} (expected an OCI or docker seccomp profile)`,
    );
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw invalidArgument(`${source}: expected a JSON object (an OCI or docker seccomp profile)`);
  const p = json as Record<string, unknown>;
  if (typeof p.defaultAction !== 'string')
    throw invalidArgument(`${source}: defaultAction is missing (expected e.g. "SCMP_ACT_ERRNO")`);
  for (const k of ['syscalls', 'archMap', 'architectures'] as const) {
    if (p[k] !== undefined && p[k] !== null && !Array.isArray(p[k]))
      throw invalidArgument(`${source}: ${k} must be an array`);
  }
  return p as unknown as SeccompProfile;
}
