// Compiling linux.seccomp to the BPF program that berth-init's SECCOMP op loads.
//
// Owns: calling libseccomp (through the addon) on the translated profile, reporting the syscall
// names it did not know, and turning libseccomp's refusals into BerthErrors that name the config
// field. Compiling happens in berth-runtime before the container starts, so a bad profile fails
// `create` and berth-init only makes one seccomp(2) call. A long-lived caller (berthd builds every
// container's and exec's plan in-process) compiles the same few profiles again and again, and a
// compile costs milliseconds: the last programs are kept by the profile's JSON (a Map hashes it; the
// program depends on nothing else: libseccomp is loaded once and the host's architecture does not
// change).
//
// Must never load a filter into this process (it would confine Node itself).
import { BerthError, invalidArgument, unsupported } from '../errors/errors.ts';
import type { LinuxSeccomp } from '../oci/runtime-spec.ts';
import { isSyscallError, seccompCompile } from '../sys/native.ts';
import { seccompFilterFromSpec } from './seccomp-filter.ts';

/** BPF_MAXINSNS: the kernel refuses a longer classic BPF program. */
export const MAX_BPF_INSTRUCTIONS = 4096;
const BPF_INSTRUCTION_SIZE = 8;

export interface CompiledSeccomp {
  /** seccomp(2) flags (SECCOMP_FILTER_FLAG_*), the first value of the SECCOMP op. */
  flags: number;
  /** struct sock_filter[] (8 bytes each), the second value of the SECCOMP op. */
  program: Uint8Array;
  /** Syscall names libseccomp does not know, left out of the filter (as runc does). */
  skipped: string[];
}

function refused(e: unknown): unknown {
  if (e instanceof BerthError || !isSyscallError(e)) return e;
  if (e.syscall === 'seccomp_arch_resolve_name' || e.syscall === 'seccomp_arch_add') {
    return unsupported(`linux.seccomp.architectures: ${e.message}`, e);
  }
  if (e.syscall === 'seccomp_init') {
    return unsupported(`linux.seccomp.defaultAction: libseccomp or this kernel does not support it: ${e.message}`, e);
  }
  return invalidArgument(`linux.seccomp: libseccomp refused the profile: ${e.message}`, e);
}

/**
 * Compiles linux.seccomp. `onWarning` hears about flags dropped and syscall names left out (one
 * message naming them all; runc logs these at debug level, so a caller may too).
 */
export function compileSeccomp(
  seccomp: LinuxSeccomp,
  onWarning: (message: string) => void = () => {},
): CompiledSeccomp {
  const key = JSON.stringify(seccomp);
  let hit = compiled.get(key);
  if (hit) {
    // Most recently used last: the first entry is the one to drop.
    compiled.delete(key);
  } else {
    const warnings: string[] = [];
    const r = compileOnce(seccomp, (w) => warnings.push(w));
    hit = { result: Object.freeze({ ...r, skipped: Object.freeze(r.skipped) as string[] }), warnings };
    if (compiled.size >= KEPT_PROGRAMS) compiled.delete(compiled.keys().next().value!);
  }
  compiled.set(key, hit);
  for (const w of hit.warnings) onWarning(w);
  return hit.result;
}

/** How many compiled profiles are kept (a few dozen KiB each at most, with their JSON). */
const KEPT_PROGRAMS = 32;
/** Programs by profile, least recently used first; callers never write to a program. */
const compiled = new Map<string, { result: CompiledSeccomp; warnings: string[] }>();

function compileOnce(seccomp: LinuxSeccomp, onWarning: (message: string) => void): CompiledSeccomp {
  const { filter, flags } = seccompFilterFromSpec(seccomp, onWarning);
  let out: { program: Buffer; skipped: string[] };
  try {
    out = seccompCompile(filter);
    // Priority order is what runc 1.1 emits; a profile too long for it may still fit as a binary tree.
    if (out.program.length / BPF_INSTRUCTION_SIZE > MAX_BPF_INSTRUCTIONS)
      out = seccompCompile({ ...filter, optimize: 2 });
  } catch (e) {
    throw refused(e);
  }
  const insns = out.program.length / BPF_INSTRUCTION_SIZE;
  if (insns > MAX_BPF_INSTRUCTIONS) {
    throw unsupported(
      `linux.seccomp: the profile compiles to ${insns} BPF instructions, more than the kernel's limit of ${MAX_BPF_INSTRUCTIONS}`,
    );
  }
  const skipped = [...new Set(out.skipped)];
  if (skipped.length > 0) {
    onWarning(
      `linux.seccomp.syscalls: ${skipped.length} syscall name(s) unknown to libseccomp left out: ${skipped.join(', ')}`,
    );
  }
  return {
    flags,
    program: new Uint8Array(out.program.buffer, out.program.byteOffset, out.program.byteLength),
    skipped,
  };
}
