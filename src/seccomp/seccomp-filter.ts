// The OCI linux.seccomp object translated into what libseccomp needs (the addon's SeccompFilter)
// and the seccomp(2) flags for berth-init's SECCOMP op.
//
// Owns every policy decision about a profile: action values and their errno (errnoRet defaults to
// EPERM, defaultErrnoRet likewise), OCI architecture names to libseccomp's, the
// SECCOMP_FILTER_FLAG_* flags (with runc's default of SPEC_ALLOW when `flags` is absent), and the
// two rewrites libseccomp would otherwise refuse, both as runc does them: a rule whose action
// equals the default is left out (libseccomp: EACCES), and a rule with several comparisons of one
// argument becomes one rule per comparison (libseccomp: EINVAL; runc ORs them this way).
//
// Pure: loads no native code, so it is unit-tested without root or the addon. Must never compile
// or load a filter (compile-seccomp.ts compiles; berth-init loads).
import { invalidArgument, unsupported } from '../errors/errors.ts';
import type {
  LinuxSeccomp,
  LinuxSeccompAction,
  LinuxSeccompArch,
  LinuxSeccompFlag,
  LinuxSeccompOperator,
} from '../oci/runtime-spec.ts';
import { constants, type SeccompArgCmp, type SeccompFilter, type SeccompRule } from '../sys/native.ts';

const EPERM = 1;

/** seccomp(2)'s SECCOMP_FILTER_FLAG_* values for the flags the runtime spec names. */
export const SECCOMP_FILTER_FLAGS: Record<LinuxSeccompFlag, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 0x1,
  SECCOMP_FILTER_FLAG_LOG: 0x2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 0x4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 0x20,
};

const CMP: Record<LinuxSeccompOperator, number> = {
  SCMP_CMP_NE: constants.SCMP_CMP_NE,
  SCMP_CMP_LT: constants.SCMP_CMP_LT,
  SCMP_CMP_LE: constants.SCMP_CMP_LE,
  SCMP_CMP_EQ: constants.SCMP_CMP_EQ,
  SCMP_CMP_GE: constants.SCMP_CMP_GE,
  SCMP_CMP_GT: constants.SCMP_CMP_GT,
  SCMP_CMP_MASKED_EQ: constants.SCMP_CMP_MASKED_EQ,
};

/** libseccomp's name for an OCI architecture: the spec's names are libseccomp's with a prefix. */
export function libseccompArch(arch: LinuxSeccompArch): string {
  return arch.replace(/^SCMP_ARCH_/, '').toLowerCase();
}

export interface TranslatedSeccomp {
  /** The input of the addon's seccompCompile. */
  filter: SeccompFilter;
  /** seccomp(2) flags for the SECCOMP op. */
  flags: number;
}

/** errnoRet or defaultErrnoRet, EPERM when absent. */
export function errnoValue(v: number | undefined, where: string): number {
  if (v === undefined) return EPERM;
  // SECCOMP_RET_DATA is 16 bits; the kernel caps an errno above 4095 anyway.
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw invalidArgument(`${where}: expected an errno in 0..65535, got ${v}`);
  return v;
}

/**
 * The 32-bit action value. `errno` (see errnoValue) is the data of SCMP_ACT_ERRNO and of
 * SCMP_ACT_TRACE (what the tracer sees), as runc does; other actions carry none.
 */
export function actionValue(action: LinuxSeccompAction, errno: number, where: string): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return constants.SCMP_ACT_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return constants.SCMP_ACT_KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return constants.SCMP_ACT_TRAP;
    case 'SCMP_ACT_ERRNO':
      return (constants.SCMP_ACT_ERRNO | errno) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (constants.SCMP_ACT_TRACE | errno) >>> 0;
    case 'SCMP_ACT_ALLOW':
      return constants.SCMP_ACT_ALLOW;
    case 'SCMP_ACT_LOG':
      return constants.SCMP_ACT_LOG;
    case 'SCMP_ACT_NOTIFY':
      throw unsupported(
        `${where}: SCMP_ACT_NOTIFY (seccomp user notification to linux.seccomp.listenerPath) is not supported by berth yet`,
      );
    default:
      throw invalidArgument(`${where}: unknown seccomp action ${JSON.stringify(action)}`);
  }
}

function argValue(v: number | bigint | undefined, where: string): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'bigint') {
    if (v < 0n || v > 0xffff_ffff_ffff_ffffn)
      throw invalidArgument(`${where}: expected an unsigned 64-bit integer, got ${v}`);
    return v;
  }
  // A JSON number above 2^53 has already lost its low bits: comparing against it would be wrong.
  if (!Number.isSafeInteger(v) || v < 0) {
    throw invalidArgument(
      `${where}: expected an integer in 0..2^53-1 (larger values do not survive JSON parsing exactly), got ${v}`,
    );
  }
  return BigInt(v);
}

/**
 * Translates linux.seccomp. `onWarning` hears about what is accepted but changed (a flag dropped);
 * syscall names libseccomp does not know are reported later, by compileSeccomp.
 */
export function seccompFilterFromSpec(
  seccomp: LinuxSeccomp,
  onWarning: (message: string) => void = () => {},
): TranslatedSeccomp {
  const base = 'linux.seccomp';
  const defaultErrno = errnoValue(seccomp.defaultErrnoRet, `${base}.defaultErrnoRet`);
  const defaultAction = actionValue(seccomp.defaultAction, defaultErrno, `${base}.defaultAction`);

  const arches: string[] = [];
  for (const a of seccomp.architectures ?? []) {
    const name = libseccompArch(a);
    if (!arches.includes(name)) arches.push(name);
  }

  const hasNotify = (seccomp.syscalls ?? []).some((s) => s.action === 'SCMP_ACT_NOTIFY');
  let flags = 0;
  if (seccomp.flags === undefined) {
    // runc's default when the config names no flags at all (not even []): let the container opt out
    // of the speculative-store-bypass mitigation the kernel would otherwise force on seccomp'd tasks.
    flags = SECCOMP_FILTER_FLAGS.SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  } else {
    seccomp.flags.forEach((f, i) => {
      const v = SECCOMP_FILTER_FLAGS[f];
      if (v === undefined) throw invalidArgument(`${base}.flags[${i}]: unknown flag ${JSON.stringify(f)}`);
      if (f === 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV' && !hasNotify) {
        // The kernel accepts it only with a notify listener (EINVAL otherwise); it means nothing here.
        onWarning(`${base}.flags[${i}]: ${f} ignored: no rule uses SCMP_ACT_NOTIFY`);
        return;
      }
      flags |= v;
    });
  }
  if (seccomp.listenerPath !== undefined && seccomp.listenerPath !== '' && !hasNotify) {
    onWarning(`${base}.listenerPath ignored: no rule uses SCMP_ACT_NOTIFY`);
  }

  const rules: SeccompRule[] = [];
  (seccomp.syscalls ?? []).forEach((sc, i) => {
    const where = `${base}.syscalls[${i}]`;
    const action = actionValue(sc.action, errnoValue(sc.errnoRet, `${where}.errnoRet`), `${where}.action`);
    // libseccomp refuses a rule that changes nothing; runc leaves such rules out too.
    if (action === defaultAction) return;
    const args: SeccompArgCmp[] = (sc.args ?? []).map((a, j) => {
      const aw = `${where}.args[${j}]`;
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5)
        throw invalidArgument(`${aw}.index: expected 0..5, got ${a.index}`);
      const op = CMP[a.op];
      if (op === undefined) throw invalidArgument(`${aw}.op: unknown operator ${JSON.stringify(a.op)}`);
      return {
        index: a.index,
        op,
        value: argValue(a.value, `${aw}.value`),
        valueTwo: argValue(a.valueTwo, `${aw}.valueTwo`),
      };
    });
    // Several comparisons of one argument cannot be ANDed in one libseccomp rule: like runc, add
    // each comparison as a rule of its own (so they are ORed).
    const indexes = new Set(args.map((a) => a.index));
    const groups = indexes.size < args.length ? args.map((a) => [a]) : [args];
    for (const name of sc.names) {
      for (const g of groups) rules.push({ syscall: name, action, args: g });
    }
  });
  return { filter: { defaultAction, arches, rules }, flags };
}
