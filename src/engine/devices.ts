// Device cgroup rules a container asks for beside its devices (docker's --device-cgroup-rule, berth
// run --device-cgroup-rule): `TYPE MAJOR:MINOR ACCESS` as the spec's allow rules, checked at create
// and added at each start after the config's deny-all. Host device nodes themselves are
// container-devices.ts's.
// Must never: allow anything the rule does not name.
import { invalidArgument } from '../errors/errors.ts';
import type { LinuxDeviceCgroup, RuntimeConfig } from '../oci/runtime-spec.ts';

const RULE = /^([abc]) (\d+|\*):(\d+|\*) ([rwm]{1,3})$/;
const ACCESS = /^(?!.*(.).*\1)[rwm]{1,3}$/;

/** A --device-cgroup-rule as the spec's rule; `a` alone is every device. InvalidArgument naming the rule otherwise. */
export function parseDeviceCgroupRule(rule: string): LinuxDeviceCgroup {
  const r = typeof rule === 'string' ? rule.trim() : '';
  if (r === 'a') return { allow: true, type: 'a', access: 'rwm' };
  const m = RULE.exec(r);
  if (!m || !ACCESS.test(m[4]!))
    throw invalidArgument(
      `device cgroup rule ${JSON.stringify(rule)}: expected "TYPE MAJOR:MINOR ACCESS" (TYPE a, b or c; MAJOR and MINOR numbers or *; ACCESS of r, w, m)`,
    );
  return {
    allow: true,
    type: m[1] as 'a' | 'b' | 'c',
    ...(m[2] === '*' ? {} : { major: Number(m[2]) }),
    ...(m[3] === '*' ? {} : { minor: Number(m[3]) }),
    access: m[4]!,
  };
}

/** Checks a create request's rules before anything is made. */
export function checkDeviceCgroupRules(rules: readonly string[] = []): void {
  for (const r of rules) parseDeviceCgroupRule(r);
}

/** Adds the rules to `spec`'s device cgroup, after what is there. */
export function addDeviceCgroupRules(spec: RuntimeConfig, rules: readonly string[] = []): void {
  if (rules.length === 0) return;
  spec.linux ??= {};
  spec.linux.resources ??= {};
  spec.linux.resources.devices = [...(spec.linux.resources.devices ?? []), ...rules.map(parseDeviceCgroupRule)];
}
