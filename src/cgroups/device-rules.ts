// The spec's device allow-list (linux.resources.devices): checking rules, writing them for the v1
// devices controller, and reducing them to the state the v1 kernel would end in (for the v2 eBPF
// filter, which has no list to append to).
// Semantics follow the v1 kernel, since that is what the spec's list was modelled on: rules apply in
// order; a rule of type "a" without major and minor resets everything (allow-all or deny-all);
// under deny-all an allow rule adds access to an exception and a deny rule takes it away; under
// allow-all the reverse. A type-"a" rule with a major or minor is treated as the same rule for
// "c" and "b" (the v1 kernel would read any "a" rule as a reset, which would turn a narrow allow
// into allow-all).
// Never: touches the host.

import { invalidArgument } from '../errors/errors.ts';
import type { LinuxDevice, LinuxDeviceCgroup } from '../oci/runtime-spec.ts';

/** Access bits as the kernel's BPF_DEVCG_ACC_* values. */
export const ACC_MKNOD = 1;
export const ACC_READ = 2;
export const ACC_WRITE = 4;
export const ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE;

export interface DeviceException {
  type: 'c' | 'b';
  /** undefined = any. */
  major: number | undefined;
  minor: number | undefined;
  access: number;
}

/** What a list of rules leaves behind: a default and the exceptions to it. */
export interface DeviceState {
  defaultAllow: boolean;
  exceptions: DeviceException[];
}

export function parseAccess(access: string | undefined, where: string): number {
  // The spec makes access optional; the v1 kernel reads a missing access as "rwm".
  if (access === undefined || access === '') return ACC_ALL;
  let bits = 0;
  for (const ch of access) {
    if (ch === 'r') bits |= ACC_READ;
    else if (ch === 'w') bits |= ACC_WRITE;
    else if (ch === 'm') bits |= ACC_MKNOD;
    else throw invalidArgument(`${where}.access ${JSON.stringify(access)}: expected a combination of "r", "w" and "m"`);
  }
  return bits;
}

export function accessString(bits: number): string {
  return (bits & ACC_READ ? 'r' : '') + (bits & ACC_WRITE ? 'w' : '') + (bits & ACC_MKNOD ? 'm' : '');
}

function checkNumber(v: number | undefined, where: string): void {
  if (v === undefined || v === -1) return;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw invalidArgument(`${where}: expected an integer from 0 to 4294967295 (or absent/-1 for any), got ${v}`);
  }
}

function isReset(r: LinuxDeviceCgroup): boolean {
  return (r.type === undefined || r.type === 'a') && isAny(r.major) && isAny(r.minor);
}

const isAny = (v: number | undefined) => v === undefined || v === -1;

function validate(r: LinuxDeviceCgroup, where: string): void {
  if (typeof r.allow !== 'boolean') throw invalidArgument(`${where}.allow: expected a boolean`);
  if (r.type !== undefined && r.type !== 'a' && r.type !== 'c' && r.type !== 'b') {
    throw invalidArgument(`${where}.type ${JSON.stringify(r.type)}: expected "a", "c" or "b"`);
  }
  checkNumber(r.major, `${where}.major`);
  checkNumber(r.minor, `${where}.minor`);
  parseAccess(r.access, where);
}

const FIELD = 'linux.resources.devices';

/** v1: the lines to write, in order, each to devices.allow or devices.deny. */
export function v1DeviceWrites(
  rules: LinuxDeviceCgroup[],
): Array<{ file: 'devices.allow' | 'devices.deny'; value: string; field: string }> {
  const out: Array<{ file: 'devices.allow' | 'devices.deny'; value: string; field: string }> = [];
  rules.forEach((r, i) => {
    const where = `${FIELD}[${i}]`;
    validate(r, where);
    const file = r.allow ? 'devices.allow' : 'devices.deny';
    if (isReset(r)) {
      out.push({ file, value: 'a', field: where });
      return;
    }
    const num = (v: number | undefined) => (isAny(v) ? '*' : String(v));
    const acc = accessString(parseAccess(r.access, where));
    const types = r.type === 'c' || r.type === 'b' ? [r.type] : ['c', 'b'];
    for (const t of types) out.push({ file, value: `${t} ${num(r.major)}:${num(r.minor)} ${acc}`, field: where });
  });
  return out;
}

/**
 * The state the rules leave, starting from allow-all (a new v1 cgroup under an unrestricted parent,
 * and a v2 cgroup without a device program).
 */
export function reduceDeviceRules(rules: LinuxDeviceCgroup[]): DeviceState {
  let state: DeviceState = { defaultAllow: true, exceptions: [] };
  rules.forEach((r, i) => {
    const where = `${FIELD}[${i}]`;
    validate(r, where);
    if (isReset(r)) {
      state = { defaultAllow: r.allow, exceptions: [] };
      return;
    }
    const access = parseAccess(r.access, where);
    const major = isAny(r.major) ? undefined : r.major;
    const minor = isAny(r.minor) ? undefined : r.minor;
    const types: Array<'c' | 'b'> = r.type === 'c' || r.type === 'b' ? [r.type] : ['c', 'b'];
    // A rule against the default adds access to its exception; one that agrees with the default takes
    // access away from the exception with exactly the same type, major and minor (as the v1 kernel does).
    const widens = r.allow !== state.defaultAllow;
    for (const type of types) {
      const ex = state.exceptions.find((e) => e.type === type && e.major === major && e.minor === minor);
      if (widens) {
        if (ex) ex.access |= access;
        else state.exceptions.push({ type, major, minor, access });
      } else if (ex) {
        ex.access &= ~access;
        if (ex.access === 0) state.exceptions.splice(state.exceptions.indexOf(ex), 1);
      }
    }
  });
  return state;
}

/** Does the state allow `access` to the device? The reference semantics the BPF program must match. */
export function deviceAllowed(
  state: DeviceState,
  type: 'c' | 'b',
  major: number,
  minor: number,
  access: number,
): boolean {
  const matches = (e: DeviceException) =>
    e.type === type && (e.major === undefined || e.major === major) && (e.minor === undefined || e.minor === minor);
  if (state.defaultAllow) {
    // Like the v1 kernel: any overlap with a denied exception denies.
    return !state.exceptions.some((e) => matches(e) && (e.access & access) !== 0);
  }
  // One exception must cover every requested access bit.
  return state.exceptions.some((e) => matches(e) && (access & ~e.access) === 0);
}

/**
 * Rules for the spec's default devices, which the runtime MUST supply, so the container must be able
 * to use them. The runtime appends these to linux.resources.devices, as runc does, so a config that
 * starts with deny-all still works. A device of linux.devices gets no rule of its own (the config's
 * linux.resources.devices says what it may do with it, e.g. read but not write), and a default
 * device that linux.devices replaces at the same path loses its rule too (runc's createDevices).
 */
export function defaultDeviceRules(devices: LinuxDevice[] = []): LinuxDeviceCgroup[] {
  const replaced = new Set(devices.map((d) => d.path));
  const rules: [string | undefined, LinuxDeviceCgroup][] = [
    [undefined, { allow: true, type: 'c', access: 'm' }],
    [undefined, { allow: true, type: 'b', access: 'm' }],
    ['/dev/null', { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
    ['/dev/zero', { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }],
    ['/dev/full', { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }],
    ['/dev/random', { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }],
    ['/dev/urandom', { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }],
    ['/dev/tty', { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }],
    ['/dev/console', { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }],
    ['/dev/ptmx', { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }],
    [undefined, { allow: true, type: 'c', major: 136, access: 'rwm' }], // pts
  ];
  return rules.filter(([path]) => path === undefined || !replaced.has(path)).map(([, r]) => r);
}
