// The plan op that installs a container's seccomp filter: what src/runtime's plan builder calls.
//
// Owns: compiling linux.seccomp and wrapping it as berth-init's SECCOMP op (docs/plan-protocol.md).
// Where the op goes in the plan is the plan builder's decision, under this rule (see
// docs/seccomp.md): without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so the op must come
// before the capabilities are dropped (before CAP_BOUNDING/USER/CAPS); with no_new_privs, after
// NO_NEW_PRIVS and before READY, so that a kernel refusal still fails `create`.
//
// Must never decide the op's position itself or load anything.
import type { LinuxSeccomp } from '../oci/runtime-spec.ts';
import { bytes, int, op, type PlanOp } from '../sys/plan.ts';
import { compileSeccomp } from './compile-seccomp.ts';

/** The SECCOMP op for linux.seccomp. Throws BerthError (InvalidArgument, Unsupported) for a profile berth cannot load. */
export function seccompOp(seccomp: LinuxSeccomp, onWarning: (message: string) => void = () => {}): PlanOp {
  const { flags, program } = compileSeccomp(seccomp, onWarning);
  return op('SECCOMP', int(flags), bytes(program));
}
