// Parsing and validation of an OCI runtime spec 1.2 config.json (Linux).
// Owns: turning untrusted JSON into a RuntimeConfig, or an InvalidArgument error that lists every
// problem found, one line each, as "<source>: <JSON path>: <what was wrong>; <what was expected>".
// Never: probe the host (runtime-host-support.ts does), fill in defaults, or rewrite values —
// except that an optional field set to null is removed, as Go's decoder (runc) treats it as absent.
// Unknown fields are accepted and kept.
//
// Why all problems at once: a config is usually written by a tool or by hand in one go; one round
// trip that shows everything is cheaper than a fix-one-rerun loop.

import { readFileSync } from 'node:fs';
import { BerthError, ErrorCode, invalidArgument, notFound } from '../errors/errors.ts';
import { isKnownCapability, isKnownRlimit } from './runtime-linux-tables.ts';
import {
  CONTAINER_STATUSES,
  HOOK_NAMES,
  IO_PRIORITY_CLASSES,
  NAMESPACE_TYPES,
  PERSONALITY_DOMAINS,
  ROOTFS_PROPAGATIONS,
  type RuntimeConfig,
  SCHEDULER_FLAGS,
  SCHEDULER_POLICIES,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  type State,
  TIME_OFFSET_CLOCKS,
} from './runtime-spec.ts';

export {
  CAPABILITIES,
  capabilityNumber,
  isKnownCapability,
  isKnownRlimit,
  KNOWN_MOUNT_OPTIONS,
  MOUNT_ATTR,
  MS,
  type MountOptionFlags,
  mountOptionFlags,
  namespaceCloneFlag,
  namespaceProcName,
  PROPAGATION_FLAGS,
  RLIMITS,
  rlimitNumber,
  rlimitValue,
  signalNumber,
} from './runtime-linux-tables.ts';
export { checkHostSupport, defaultHostProbe, type HostProbe } from './runtime-host-support.ts';

/** One problem: where (a JSON path such as `linux.namespaces[2].type`; "" is the document) and what. */
export interface ConfigProblem {
  path: string;
  message: string;
}

export interface ValidateOptions {
  /**
   * What an unknown capability name is. The spec says a runtime logs a warning and goes on
   * ("cannot be mapped to a relevant kernel interface … MUST be logged as a warning"), as runc
   * does; "error" makes it a problem instead.
   */
  unknownCapabilities?: 'warn' | 'error';
  /** Receives each warning as a formatted line ("<source>: <path>: <message>"). */
  onWarning?: (line: string) => void;
}

/** Problems beyond this many are summarised, so that a garbage document gives a readable error. */
const MAX_REPORTED = 50;

type Obj = Record<string, unknown>;

class Checker {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: ConfigProblem[] = [];
  readonly strictCaps: boolean;

  constructor(options: ValidateOptions) {
    this.strictCaps = options.unknownCapabilities === 'error';
  }

  fail(path: string, message: string): false {
    this.problems.push({ path, message });
    return false;
  }

  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }
}

// ---- paths and descriptions ----

const key = (path: string, k: string) => (path === '' ? k : `${path}.${k}`);
const index = (path: string, i: number) => `${path}[${i}]`;
const mapKey = (path: string, k: string) => `${path}[${JSON.stringify(k)}]`;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
    case 'number':
    case 'boolean':
      return String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---- field access ----

/**
 * The value of an optional field, or undefined when it is absent. A null is removed (Go's decoder
 * reads it as absent) so consumers never see one.
 */
function opt(o: Obj, k: string): unknown {
  if (!Object.hasOwn(o, k)) return undefined;
  const v = o[k];
  if (v === null) {
    delete o[k];
    return undefined;
  }
  return v;
}

/** The value of a required field; records a problem and returns undefined when it is missing. */
function req(c: Checker, o: Obj, k: string, path: string, expected: string): unknown {
  const v = Object.hasOwn(o, k) ? o[k] : undefined;
  if (v === undefined || v === null) {
    c.fail(key(path, k), `required field is missing; expected ${expected}`);
    return undefined;
  }
  return v;
}

// ---- value checks; each returns whether the value was good ----

function obj(c: Checker, v: unknown, path: string): v is Obj {
  return isObj(v) || c.fail(path, `expected an object; got ${describe(v)}`);
}

function str(c: Checker, v: unknown, path: string): v is string {
  return typeof v === 'string' || c.fail(path, `expected a string; got ${describe(v)}`);
}

/** A string that reaches a system call: it cannot carry a NUL byte. */
function cstr(c: Checker, v: unknown, path: string): v is string {
  if (!str(c, v, path)) return false;
  return !v.includes('\0') || c.fail(path, `must not contain a NUL byte; got ${describe(v)}`);
}

function absPath(c: Checker, v: unknown, path: string): v is string {
  if (!cstr(c, v, path)) return false;
  return v.startsWith('/') || c.fail(path, `expected an absolute path; got ${describe(v)}`);
}

function bool(c: Checker, v: unknown, path: string): v is boolean {
  return typeof v === 'boolean' || c.fail(path, `expected a boolean; got ${describe(v)}`);
}

type IntKind = 'uint16' | 'uint32' | 'int32' | 'int64' | 'uint64' | 'int';
const INT_RANGES: Record<IntKind, [number, number, string]> = {
  uint16: [0, 0xffff, 'a uint16 (0 to 65535)'],
  uint32: [0, 0xffffffff, 'a uint32 (0 to 4294967295)'],
  int32: [-0x80000000, 0x7fffffff, 'an int32'],
  // JSON.parse rounds the int64/uint64 extremes to the nearest double, which is 2^63 / 2^64.
  int64: [-(2 ** 63), 2 ** 63, 'an int64'],
  uint64: [0, 2 ** 64, 'a uint64 (0 or more)'],
  int: [-(2 ** 63), 2 ** 63, 'an integer'],
};

function int(c: Checker, v: unknown, path: string, kind: IntKind): v is number {
  const [min, max, what] = INT_RANGES[kind];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    return c.fail(path, `expected ${what}; got ${describe(v)}`);
  }
  return true;
}

function range(c: Checker, v: number, path: string, min: number, max: number, what = 'an integer'): boolean {
  return (v >= min && v <= max) || c.fail(path, `expected ${what} from ${min} to ${max}; got ${v}`);
}

function oneOf<T extends string>(c: Checker, v: unknown, path: string, values: readonly T[]): v is T {
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return true;
  return c.fail(path, `expected one of ${values.join(', ')}; got ${describe(v)}`);
}

function arr(c: Checker, v: unknown, path: string, each: (item: unknown, path: string, i: number) => void): boolean {
  if (!Array.isArray(v)) return c.fail(path, `expected an array; got ${describe(v)}`);
  for (let i = 0; i < v.length; i++) each(v[i], index(path, i), i);
  return true;
}

function map(c: Checker, v: unknown, path: string, each: (value: unknown, path: string, k: string) => void): boolean {
  if (!obj(c, v, path)) return false;
  for (const k of Object.keys(v)) each(v[k], mapKey(path, k), k);
  return true;
}

function stringMap(c: Checker, v: unknown, path: string): boolean {
  return map(c, v, path, (value, p, k) => {
    if (k === '') c.fail(p, 'keys must not be empty');
    str(c, value, p);
  });
}

// Shorthands for "optional field of type T": check when present.
function optStr(c: Checker, o: Obj, k: string, path: string, check = str): string | undefined {
  const v = opt(o, k);
  return v !== undefined && check(c, v, key(path, k)) ? v : undefined;
}
function optBool(c: Checker, o: Obj, k: string, path: string): void {
  const v = opt(o, k);
  if (v !== undefined) bool(c, v, key(path, k));
}
function optInt(c: Checker, o: Obj, k: string, path: string, kind: IntKind): number | undefined {
  const v = opt(o, k);
  return v !== undefined && int(c, v, key(path, k), kind) ? v : undefined;
}
function reqInt(c: Checker, o: Obj, k: string, path: string, kind: IntKind): number | undefined {
  const v = req(c, o, k, path, INT_RANGES[kind][2]);
  return v !== undefined && int(c, v, key(path, k), kind) ? v : undefined;
}
function optStrings(c: Checker, o: Obj, k: string, path: string, check = str): string[] | undefined {
  const v = opt(o, k);
  if (v === undefined) return undefined;
  const good: string[] = [];
  arr(c, v, key(path, k), (item, p) => {
    if (check(c, item, p)) good.push(item);
  });
  return good;
}
function optObj(c: Checker, o: Obj, k: string, path: string): Obj | undefined {
  const v = opt(o, k);
  return v !== undefined && obj(c, v, key(path, k)) ? v : undefined;
}

// ---- the document ----

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** What the validator learned that cross-field checks need. */
interface Seen {
  namespaces: Map<string, { path: string | undefined; at: string }>;
  uidMappings: boolean;
  gidMappings: boolean;
}

function checkConfig(c: Checker, doc: unknown): void {
  if (!isObj(doc)) {
    c.fail('', `expected a JSON object; got ${describe(doc)}`);
    return;
  }
  const seen: Seen = { namespaces: new Map(), uidMappings: false, gidMappings: false };

  const version = req(c, doc, 'ociVersion', '', 'a SemVer string such as "1.2.1"');
  if (version !== undefined && str(c, version, 'ociVersion')) {
    const m = SEMVER.exec(version);
    if (!m) c.fail('ociVersion', `expected a SemVer 2.0.0 version such as "1.2.1"; got ${describe(version)}`);
    else if (m[1] !== '1') c.fail('ociVersion', `expected a 1.x version of the runtime spec; got ${describe(version)}`);
  }

  // root is REQUIRED on every platform but Windows, and berth runs only on Linux.
  const root = req(c, doc, 'root', '', 'an object with "path"');
  if (root !== undefined && obj(c, root, 'root')) {
    const p = req(c, root, 'path', 'root', 'a path to the root filesystem');
    if (p !== undefined && cstr(c, p, 'root.path') && p === '') c.fail('root.path', 'must not be empty');
    optBool(c, root, 'readonly', 'root');
  }

  const mounts = opt(doc, 'mounts');
  if (mounts !== undefined) arr(c, mounts, 'mounts', (m, p) => checkMount(c, m, p));

  const linux = optObj(c, doc, 'linux', '');
  if (linux) checkLinux(c, linux, seen);

  const proc = optObj(c, doc, 'process', '');
  if (proc) checkProcess(c, proc);

  for (const k of ['hostname', 'domainname']) {
    const name = optStr(c, doc, k, '', cstr);
    if (name === undefined || name === '') continue;
    // sethostname/setdomainname take at most __NEW_UTS_LEN bytes.
    if (Buffer.byteLength(name) > 64) c.fail(k, `must be at most 64 bytes; got ${Buffer.byteLength(name)}`);
    if (!seen.namespaces.has('uts')) {
      c.fail(k, 'needs a private UTS namespace: add {"type": "uts"} to linux.namespaces');
    }
  }

  const hooks = optObj(c, doc, 'hooks', '');
  if (hooks) {
    for (const name of HOOK_NAMES) {
      const list = opt(hooks, name);
      if (list !== undefined) arr(c, list, key('hooks', name), (h, p) => checkHook(c, h, p));
    }
  }

  const annotations = opt(doc, 'annotations');
  if (annotations !== undefined) stringMap(c, annotations, 'annotations');

  for (const other of ['solaris', 'windows', 'vm', 'zos', 'freebsd']) optObj(c, doc, other, '');

  crossChecks(c, doc, seen);
}

function checkIdMappings(c: Checker, v: unknown, path: string): boolean {
  const container: [number, number, string][] = [];
  const host: [number, number, string][] = [];
  const ok = arr(c, v, path, (m, p) => {
    if (!obj(c, m, p)) return;
    const cid = reqInt(c, m, 'containerID', p, 'uint32');
    const hid = reqInt(c, m, 'hostID', p, 'uint32');
    const size = reqInt(c, m, 'size', p, 'uint32');
    if (size === undefined) return;
    if (size === 0) {
      c.fail(key(p, 'size'), 'must be at least 1');
      return;
    }
    if (cid !== undefined) {
      if (cid + size > 2 ** 32) c.fail(p, `containerID + size exceeds 2^32 (${cid} + ${size})`);
      for (const [start, len, other] of container) {
        if (cid < start + len && start < cid + size) c.fail(p, `container range overlaps ${other}`);
      }
      container.push([cid, size, p]);
    }
    if (hid !== undefined) {
      if (hid + size > 2 ** 32) c.fail(p, `hostID + size exceeds 2^32 (${hid} + ${size})`);
      for (const [start, len, other] of host) {
        if (hid < start + len && start < hid + size) c.fail(p, `host range overlaps ${other}`);
      }
      host.push([hid, size, p]);
    }
  });
  // The kernel takes at most 340 lines in uid_map/gid_map.
  if (Array.isArray(v) && v.length > 340) c.fail(path, `at most 340 mappings are allowed; got ${v.length}`);
  return ok && Array.isArray(v) && v.length > 0;
}

function checkMount(c: Checker, m: unknown, p: string): void {
  if (!obj(c, m, p)) return;
  const dest = req(c, m, 'destination', p, 'an absolute path inside the container');
  // The spec deprecates relative destinations; runc 1.1 rejects them, and so does berth.
  if (dest !== undefined) absPath(c, dest, key(p, 'destination'));
  optStr(c, m, 'source', p, cstr);
  optStr(c, m, 'type', p, cstr);
  optStrings(c, m, 'options', p, cstr);
  const uid = opt(m, 'uidMappings');
  const gid = opt(m, 'gidMappings');
  if (uid !== undefined) checkIdMappings(c, uid, key(p, 'uidMappings'));
  if (gid !== undefined) checkIdMappings(c, gid, key(p, 'gidMappings'));
  if ((uid === undefined) !== (gid === undefined)) {
    c.fail(p, 'uidMappings and gidMappings must be given together');
  }
}

function checkEnv(c: Checker, v: unknown, p: string): v is string {
  if (!cstr(c, v, p)) return false;
  const eq = v.indexOf('=');
  if (eq < 0) return c.fail(p, `expected "NAME=value"; got ${describe(v)}`);
  if (eq === 0) return c.fail(p, `variable name must not be empty; got ${describe(v)}`);
  return true;
}

const CPU_LIST = /^\s*\d+(-\d+)?(\s*,\s*\d+(-\d+)?)*\s*$/;
function cpuList(c: Checker, v: unknown, p: string): v is string {
  if (!str(c, v, p)) return false;
  if (v === '') return true;
  if (!CPU_LIST.test(v)) return c.fail(p, `expected a list such as "0-3,7"; got ${describe(v)}`);
  for (const part of v.split(',')) {
    const [a, b] = part.trim().split('-').map(Number);
    if (b !== undefined && a !== undefined && b < a) return c.fail(p, `range "${part.trim()}" is backwards`);
  }
  return true;
}

function checkProcess(c: Checker, proc: Obj): void {
  const P = 'process';
  optBool(c, proc, 'terminal', P);
  const box = optObj(c, proc, 'consoleSize', P);
  if (box) {
    // struct winsize holds unsigned shorts.
    reqInt(c, box, 'height', key(P, 'consoleSize'), 'uint16');
    reqInt(c, box, 'width', key(P, 'consoleSize'), 'uint16');
  }

  const user = req(c, proc, 'user', P, 'an object with "uid" and "gid"');
  if (user !== undefined && obj(c, user, key(P, 'user'))) {
    const U = key(P, 'user');
    reqInt(c, user, 'uid', U, 'uint32');
    reqInt(c, user, 'gid', U, 'uint32');
    const umask = optInt(c, user, 'umask', U, 'uint32');
    if (umask !== undefined && umask > 0o777) c.fail(key(U, 'umask'), `expected at most 0777 (511); got ${umask}`);
    const gids = opt(user, 'additionalGids');
    if (gids !== undefined) arr(c, gids, key(U, 'additionalGids'), (g, p) => int(c, g, p, 'uint32'));
    optStr(c, user, 'username', U);
  }

  const args = req(c, proc, 'args', P, 'a non-empty array of strings');
  if (args !== undefined && arr(c, args, key(P, 'args'), (a, p) => cstr(c, a, p))) {
    const list = args as unknown[];
    if (list.length === 0) c.fail(key(P, 'args'), 'must have at least one entry (the program to run)');
    else if (list[0] === '') c.fail(index(key(P, 'args'), 0), 'the program to run must not be empty');
  }
  optStr(c, proc, 'commandLine', P);
  optStrings(c, proc, 'env', P, checkEnv);

  const cwd = req(c, proc, 'cwd', P, 'an absolute path');
  if (cwd !== undefined) absPath(c, cwd, key(P, 'cwd'));

  const caps = optObj(c, proc, 'capabilities', P);
  if (caps) {
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) {
      optStrings(c, caps, set, key(P, 'capabilities'));
      const list = caps[set];
      if (!Array.isArray(list)) continue;
      list.forEach((name: unknown, i) => {
        if (typeof name !== 'string' || isKnownCapability(name)) return;
        const p = index(key(key(P, 'capabilities'), set), i);
        const msg = `unknown capability ${describe(name)}; expected a name from capabilities(7) such as "CAP_KILL"`;
        if (c.strictCaps) c.fail(p, msg);
        else c.warn(p, `${msg}; ignored`);
      });
    }
  }

  const rlimits = opt(proc, 'rlimits');
  if (rlimits !== undefined) {
    const types = new Map<string, string>();
    arr(c, rlimits, key(P, 'rlimits'), (r, p) => {
      if (!obj(c, r, p)) return;
      const type = req(c, r, 'type', p, 'an RLIMIT_* name');
      if (type !== undefined && str(c, type, key(p, 'type'))) {
        if (!isKnownRlimit(type)) {
          c.fail(
            key(p, 'type'),
            `unknown rlimit ${describe(type)}; expected one of RLIMIT_CPU, RLIMIT_NOFILE, … (getrlimit(2))`,
          );
        } else if (types.has(type)) {
          c.fail(key(p, 'type'), `duplicate rlimit ${type} (also at ${types.get(type)})`);
        } else {
          types.set(type, p);
        }
      }
      const soft = reqInt(c, r, 'soft', p, 'uint64');
      const hard = reqInt(c, r, 'hard', p, 'uint64');
      if (soft !== undefined && hard !== undefined && soft > hard) {
        c.fail(key(p, 'soft'), `must not exceed hard (${soft} > ${hard})`);
      }
    });
  }

  optBool(c, proc, 'noNewPrivileges', P);
  optStr(c, proc, 'apparmorProfile', P);
  const oom = optInt(c, proc, 'oomScoreAdj', P, 'int');
  if (oom !== undefined) range(c, oom, key(P, 'oomScoreAdj'), -1000, 1000);
  optStr(c, proc, 'selinuxLabel', P);

  const sched = optObj(c, proc, 'scheduler', P);
  if (sched) checkScheduler(c, sched, key(P, 'scheduler'));

  const io = optObj(c, proc, 'ioPriority', P);
  if (io) {
    const IO = key(P, 'ioPriority');
    const cls = req(c, io, 'class', IO, IO_PRIORITY_CLASSES.join(' or '));
    if (cls !== undefined) oneOf(c, cls, key(IO, 'class'), IO_PRIORITY_CLASSES);
    const prio = reqInt(c, io, 'priority', IO, 'int');
    if (prio !== undefined) range(c, prio, key(IO, 'priority'), 0, 7);
  }

  const aff = optObj(c, proc, 'execCPUAffinity', P);
  if (aff) {
    optStr(c, aff, 'initial', key(P, 'execCPUAffinity'), cpuList);
    optStr(c, aff, 'final', key(P, 'execCPUAffinity'), cpuList);
  }
}

function checkScheduler(c: Checker, s: Obj, S: string): void {
  const policyV = req(c, s, 'policy', S, SCHEDULER_POLICIES.join(', '));
  const policy = policyV !== undefined && oneOf(c, policyV, key(S, 'policy'), SCHEDULER_POLICIES) ? policyV : undefined;
  const nice = optInt(c, s, 'nice', S, 'int32');
  const priority = optInt(c, s, 'priority', S, 'int32');
  const flags = opt(s, 'flags');
  if (flags !== undefined) arr(c, flags, key(S, 'flags'), (f, p) => oneOf(c, f, p, SCHEDULER_FLAGS));
  const runtime = optInt(c, s, 'runtime', S, 'uint64');
  const deadline = optInt(c, s, 'deadline', S, 'uint64');
  const period = optInt(c, s, 'period', S, 'uint64');
  if (policy === undefined) return;
  // sched_setattr(2)'s rules, as runc applies them.
  if ((policy === 'SCHED_OTHER' || policy === 'SCHED_BATCH') && nice !== undefined) {
    range(c, nice, key(S, 'nice'), -20, 19, `a nice value for ${policy}`);
  }
  if (priority !== undefined && priority !== 0 && policy !== 'SCHED_FIFO' && policy !== 'SCHED_RR') {
    c.fail(key(S, 'priority'), `only SCHED_FIFO and SCHED_RR take a priority; policy is ${policy}`);
  }
  if (policy !== 'SCHED_DEADLINE' && (runtime || deadline || period)) {
    c.fail(S, `runtime, deadline and period are only for SCHED_DEADLINE; policy is ${policy}`);
  }
}

function checkHook(c: Checker, h: unknown, p: string): void {
  if (!obj(c, h, p)) return;
  const path = req(c, h, 'path', p, 'an absolute path');
  if (path !== undefined) absPath(c, path, key(p, 'path'));
  optStrings(c, h, 'args', p, cstr);
  optStrings(c, h, 'env', p, cstr);
  const timeout = optInt(c, h, 'timeout', p, 'int');
  if (timeout !== undefined && timeout < 1)
    c.fail(key(p, 'timeout'), `expected a number of seconds >= 1; got ${timeout}`);
}

function checkLinux(c: Checker, linux: Obj, seen: Seen): void {
  const L = 'linux';

  const nss = opt(linux, 'namespaces');
  if (nss !== undefined) {
    arr(c, nss, key(L, 'namespaces'), (ns, p) => {
      if (!obj(c, ns, p)) return;
      const type = req(c, ns, 'type', p, `one of ${NAMESPACE_TYPES.join(', ')}`);
      const path = optStr(c, ns, 'path', p, absPath);
      if (type === undefined || !oneOf(c, type, key(p, 'type'), NAMESPACE_TYPES)) return;
      const prev = seen.namespaces.get(type);
      if (prev) c.fail(key(p, 'type'), `duplicate namespace type "${type}" (also at ${prev.at})`);
      else seen.namespaces.set(type, { path: path === '' ? undefined : path, at: p });
    });
  }

  const uid = opt(linux, 'uidMappings');
  if (uid !== undefined) seen.uidMappings = checkIdMappings(c, uid, key(L, 'uidMappings'));
  const gid = opt(linux, 'gidMappings');
  if (gid !== undefined) seen.gidMappings = checkIdMappings(c, gid, key(L, 'gidMappings'));

  const offsets = opt(linux, 'timeOffsets');
  if (offsets !== undefined) {
    map(c, offsets, key(L, 'timeOffsets'), (v, p, clock) => {
      if (!(TIME_OFFSET_CLOCKS as readonly string[]).includes(clock)) {
        c.fail(p, `unknown clock; expected one of ${TIME_OFFSET_CLOCKS.join(', ')}`);
      }
      if (!obj(c, v, p)) return;
      optInt(c, v, 'secs', p, 'int64');
      const ns = optInt(c, v, 'nanosecs', p, 'uint32');
      if (ns !== undefined && ns >= 1e9) c.fail(key(p, 'nanosecs'), `expected less than 1000000000; got ${ns}`);
    });
  }

  const devices = opt(linux, 'devices');
  if (devices !== undefined) {
    arr(c, devices, key(L, 'devices'), (d, p) => {
      if (!obj(c, d, p)) return;
      const path = req(c, d, 'path', p, 'an absolute path inside the container');
      if (path !== undefined) absPath(c, path, key(p, 'path'));
      const type = req(c, d, 'type', p, 'one of c, b, u, p');
      const typeOk = type !== undefined && oneOf(c, type, key(p, 'type'), ['c', 'b', 'u', 'p']);
      // A FIFO has no device numbers; every other type needs both.
      const numbersRequired = typeOk && type !== 'p';
      for (const n of ['major', 'minor']) {
        if (numbersRequired) reqInt(c, d, n, p, 'int64');
        else optInt(c, d, n, p, 'int64');
      }
      optInt(c, d, 'fileMode', p, 'uint32');
      optInt(c, d, 'uid', p, 'uint32');
      optInt(c, d, 'gid', p, 'uint32');
    });
  }

  optStr(c, linux, 'cgroupsPath', L, cstr);

  const res = optObj(c, linux, 'resources', L);
  if (res) checkResources(c, res, key(L, 'resources'));

  const rdt = optObj(c, linux, 'intelRdt', L);
  if (rdt) {
    const R = key(L, 'intelRdt');
    const clos = optStr(c, rdt, 'closID', R);
    if (clos !== undefined && (clos.includes('/') || clos === '.' || clos === '..')) {
      c.fail(key(R, 'closID'), `expected a directory name (no "/", not "." or ".."); got ${describe(clos)}`);
    }
    optStr(c, rdt, 'l3CacheSchema', R);
    const mb = optStr(c, rdt, 'memBwSchema', R);
    if (mb !== undefined && (!mb.startsWith('MB:') || mb.includes('\n'))) {
      c.fail(key(R, 'memBwSchema'), `expected one line starting with "MB:"; got ${describe(mb)}`);
    }
    optBool(c, rdt, 'enableCMT', R);
    optBool(c, rdt, 'enableMBM', R);
  }

  const sysctl = opt(linux, 'sysctl');
  if (sysctl !== undefined) {
    map(c, sysctl, key(L, 'sysctl'), (v, p, k) => {
      if (k === '' || k.includes('\0') || k.split(/[./]/).some((part) => part === '..')) {
        c.fail(p, 'expected a sysctl name such as "net.ipv4.ip_forward"');
      }
      cstr(c, v, p);
    });
  }

  const seccomp = optObj(c, linux, 'seccomp', L);
  if (seccomp) checkSeccomp(c, seccomp, key(L, 'seccomp'));

  const prop = opt(linux, 'rootfsPropagation');
  if (prop !== undefined && prop !== '') oneOf(c, prop, key(L, 'rootfsPropagation'), ROOTFS_PROPAGATIONS);

  optStrings(c, linux, 'maskedPaths', L, absPath);
  optStrings(c, linux, 'readonlyPaths', L, absPath);
  optStr(c, linux, 'mountLabel', L);

  const pers = optObj(c, linux, 'personality', L);
  if (pers) {
    const domain = req(c, pers, 'domain', key(L, 'personality'), 'LINUX or LINUX32');
    if (domain !== undefined) oneOf(c, domain, key(key(L, 'personality'), 'domain'), PERSONALITY_DOMAINS);
    optStrings(c, pers, 'flags', key(L, 'personality'));
  }

  const netDevices = opt(linux, 'netDevices');
  if (netDevices !== undefined) {
    map(c, netDevices, key(L, 'netDevices'), (v, p, k) => {
      if (!isInterfaceName(k)) c.fail(p, `${describe(k)} is not a valid network interface name`);
      if (!obj(c, v, p)) return;
      const name = optStr(c, v, 'name', p);
      if (name !== undefined && name !== '' && !isInterfaceName(name)) {
        c.fail(
          key(p, 'name'),
          `expected a network interface name (1-15 characters, no "/", ":" or spaces); got ${describe(name)}`,
        );
      }
    });
  }
}

/** dev_valid_name() in the kernel: 1..15 bytes, not "." or "..", no "/", ":" or whitespace. */
function isInterfaceName(n: string): boolean {
  return n.length > 0 && n.length < 16 && n !== '.' && n !== '..' && !/[/:\s]/.test(n);
}

function checkResources(c: Checker, res: Obj, R: string): void {
  const devices = opt(res, 'devices');
  if (devices !== undefined) {
    arr(c, devices, key(R, 'devices'), (d, p) => {
      if (!obj(c, d, p)) return;
      const allow = req(c, d, 'allow', p, 'a boolean');
      if (allow !== undefined) bool(c, allow, key(p, 'allow'));
      const type = opt(d, 'type');
      if (type !== undefined && type !== '') oneOf(c, type, key(p, 'type'), ['a', 'c', 'b']);
      // -1 is the wildcard ("*") in runc's and containerd's device rules.
      for (const n of ['major', 'minor']) {
        const v = optInt(c, d, n, p, 'int64');
        if (v !== undefined && v < -1) c.fail(key(p, n), `expected a device number or -1 (any); got ${v}`);
      }
      const access = optStr(c, d, 'access', p);
      if (access !== undefined && !/^[rwm]*$/.test(access)) {
        c.fail(key(p, 'access'), `expected letters from "rwm"; got ${describe(access)}`);
      }
    });
  }

  const mem = optObj(c, res, 'memory', R);
  if (mem) {
    const M = key(R, 'memory');
    for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP']) {
      const v = optInt(c, mem, k, M, 'int64');
      // -1 means "no limit"; other negative numbers mean nothing.
      if (v !== undefined && v < -1) c.fail(key(M, k), `expected a number of bytes or -1 (unlimited); got ${v}`);
    }
    const sw = optInt(c, mem, 'swappiness', M, 'uint64');
    if (sw !== undefined) range(c, sw, key(M, 'swappiness'), 0, 100);
    for (const k of ['disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']) optBool(c, mem, k, M);
  }

  const cpu = optObj(c, res, 'cpu', R);
  if (cpu) {
    const C = key(R, 'cpu');
    optInt(c, cpu, 'shares', C, 'uint64');
    const quota = optInt(c, cpu, 'quota', C, 'int64');
    const burst = optInt(c, cpu, 'burst', C, 'uint64');
    optInt(c, cpu, 'period', C, 'uint64');
    optInt(c, cpu, 'realtimeRuntime', C, 'int64');
    optInt(c, cpu, 'realtimePeriod', C, 'uint64');
    optStr(c, cpu, 'cpus', C, cpuList);
    optStr(c, cpu, 'mems', C, cpuList);
    optInt(c, cpu, 'idle', C, 'int64');
    if (quota !== undefined && burst !== undefined && quota > 0 && burst > quota) {
      c.fail(key(C, 'burst'), `must not exceed a positive quota (${burst} > ${quota})`);
    }
  }

  const pids = optObj(c, res, 'pids', R);
  if (pids) reqInt(c, pids, 'limit', key(R, 'pids'), 'int64');

  const blk = optObj(c, res, 'blockIO', R);
  if (blk) {
    const B = key(R, 'blockIO');
    optInt(c, blk, 'weight', B, 'uint16');
    optInt(c, blk, 'leafWeight', B, 'uint16');
    const wd = opt(blk, 'weightDevice');
    if (wd !== undefined) {
      arr(c, wd, key(B, 'weightDevice'), (d, p) => {
        if (!obj(c, d, p)) return;
        reqInt(c, d, 'major', p, 'int64');
        reqInt(c, d, 'minor', p, 'int64');
        const w = opt(d, 'weight');
        const lw = opt(d, 'leafWeight');
        if (w !== undefined) int(c, w, key(p, 'weight'), 'uint16');
        if (lw !== undefined) int(c, lw, key(p, 'leafWeight'), 'uint16');
        if (w === undefined && lw === undefined) c.fail(p, 'needs at least one of weight and leafWeight');
      });
    }
    for (const k of [
      'throttleReadBpsDevice',
      'throttleWriteBpsDevice',
      'throttleReadIOPSDevice',
      'throttleWriteIOPSDevice',
    ]) {
      const list = opt(blk, k);
      if (list === undefined) continue;
      arr(c, list, key(B, k), (d, p) => {
        if (!obj(c, d, p)) return;
        reqInt(c, d, 'major', p, 'int64');
        reqInt(c, d, 'minor', p, 'int64');
        reqInt(c, d, 'rate', p, 'uint64');
      });
    }
  }

  const huge = opt(res, 'hugepageLimits');
  if (huge !== undefined) {
    arr(c, huge, key(R, 'hugepageLimits'), (h, p) => {
      if (!obj(c, h, p)) return;
      const size = req(c, h, 'pageSize', p, 'a size such as "2MB"');
      if (size !== undefined && str(c, size, key(p, 'pageSize')) && !/^[1-9][0-9]*[KMG]B$/.test(size)) {
        c.fail(key(p, 'pageSize'), `expected a size such as "64KB", "2MB" or "1GB"; got ${describe(size)}`);
      }
      reqInt(c, h, 'limit', p, 'uint64');
    });
  }

  const net = optObj(c, res, 'network', R);
  if (net) {
    const N = key(R, 'network');
    optInt(c, net, 'classID', N, 'uint32');
    const prios = opt(net, 'priorities');
    if (prios !== undefined) {
      arr(c, prios, key(N, 'priorities'), (e, p) => {
        if (!obj(c, e, p)) return;
        const name = req(c, e, 'name', p, 'an interface name');
        if (name !== undefined) str(c, name, key(p, 'name'));
        reqInt(c, e, 'priority', p, 'uint32');
      });
    }
  }

  const rdma = opt(res, 'rdma');
  if (rdma !== undefined) {
    map(c, rdma, key(R, 'rdma'), (v, p) => {
      if (!obj(c, v, p)) return;
      const h = opt(v, 'hcaHandles');
      const o = opt(v, 'hcaObjects');
      if (h !== undefined) int(c, h, key(p, 'hcaHandles'), 'uint32');
      if (o !== undefined) int(c, o, key(p, 'hcaObjects'), 'uint32');
      if (h === undefined && o === undefined) c.fail(p, 'needs at least one of hcaHandles and hcaObjects');
    });
  }

  const unified = opt(res, 'unified');
  if (unified !== undefined) {
    map(c, unified, key(R, 'unified'), (v, p, k) => {
      // A key names a file in the container's cgroup directory, never a path elsewhere.
      if (k === '' || k.includes('/') || k === '.' || k === '..') {
        c.fail(p, 'expected a cgroup file name such as "memory.max" (no "/")');
      }
      str(c, v, p);
    });
  }
}

const ERRNO_ACTIONS = new Set(['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE']);

function checkSeccomp(c: Checker, s: Obj, S: string): void {
  const dflt = req(c, s, 'defaultAction', S, 'a SCMP_ACT_* action');
  const defaultAction =
    dflt !== undefined && oneOf(c, dflt, key(S, 'defaultAction'), SECCOMP_ACTIONS) ? dflt : undefined;
  if (defaultAction === 'SCMP_ACT_NOTIFY') {
    c.fail(key(S, 'defaultAction'), 'SCMP_ACT_NOTIFY cannot be the default action');
  }
  const dErrno = optInt(c, s, 'defaultErrnoRet', S, 'uint32');
  if (dErrno !== undefined && defaultAction !== undefined && !ERRNO_ACTIONS.has(defaultAction)) {
    c.fail(
      key(S, 'defaultErrnoRet'),
      `only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno; defaultAction is ${defaultAction}`,
    );
  }
  const arches = opt(s, 'architectures');
  if (arches !== undefined) arr(c, arches, key(S, 'architectures'), (a, p) => oneOf(c, a, p, SECCOMP_ARCHES));
  const flags = opt(s, 'flags');
  if (flags !== undefined) arr(c, flags, key(S, 'flags'), (f, p) => oneOf(c, f, p, SECCOMP_FLAGS));
  const listener = optStr(c, s, 'listenerPath', S, cstr);
  const metadata = optStr(c, s, 'listenerMetadata', S);
  if (metadata !== undefined && metadata !== '' && !listener) {
    c.fail(key(S, 'listenerMetadata'), 'must not be set without listenerPath');
  }
  let notifies = false;
  const syscalls = opt(s, 'syscalls');
  if (syscalls !== undefined) {
    arr(c, syscalls, key(S, 'syscalls'), (sc, p) => {
      if (!obj(c, sc, p)) return;
      const names = req(c, sc, 'names', p, 'a non-empty array of syscall names');
      if (
        names !== undefined &&
        arr(c, names, key(p, 'names'), (n, np) => {
          if (str(c, n, np) && n === '') c.fail(np, 'must not be empty');
        })
      ) {
        if ((names as unknown[]).length === 0) c.fail(key(p, 'names'), 'must have at least one entry');
      }
      const act = req(c, sc, 'action', p, 'a SCMP_ACT_* action');
      const action = act !== undefined && oneOf(c, act, key(p, 'action'), SECCOMP_ACTIONS) ? act : undefined;
      if (action === 'SCMP_ACT_NOTIFY') notifies = true;
      const errno = optInt(c, sc, 'errnoRet', p, 'uint32');
      if (errno !== undefined && action !== undefined && !ERRNO_ACTIONS.has(action)) {
        c.fail(key(p, 'errnoRet'), `only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno; action is ${action}`);
      }
      const args = opt(sc, 'args');
      if (args !== undefined) {
        arr(c, args, key(p, 'args'), (a, ap) => {
          if (!obj(c, a, ap)) return;
          const i = reqInt(c, a, 'index', ap, 'uint32');
          // A system call has at most six arguments.
          if (i !== undefined) range(c, i, key(ap, 'index'), 0, 5, 'an argument index');
          reqInt(c, a, 'value', ap, 'uint64');
          optInt(c, a, 'valueTwo', ap, 'uint64');
          const op = req(c, a, 'op', ap, 'a SCMP_CMP_* operator');
          if (op !== undefined) oneOf(c, op, key(ap, 'op'), SECCOMP_OPERATORS);
        });
      }
    });
  }
  if (notifies && !listener) c.fail(key(S, 'listenerPath'), 'required when a rule uses SCMP_ACT_NOTIFY');
}

// sysctls that a private IPC namespace isolates (besides fs.mqueue.*).
const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** Rules that relate fields to each other; run after every field was checked on its own. */
function crossChecks(c: Checker, doc: Obj, seen: Seen): void {
  const linux = isObj(doc['linux']) ? doc['linux'] : undefined;
  const ns = seen.namespaces;
  const user = ns.get('user');

  if (user) {
    if (user.path === undefined && !(seen.uidMappings && seen.gidMappings)) {
      c.fail(user.at, 'a new user namespace needs linux.uidMappings and linux.gidMappings');
    }
  } else {
    for (const k of ['uidMappings', 'gidMappings']) {
      if (linux && linux[k] !== undefined)
        c.fail(key('linux', k), 'needs a user namespace: add {"type": "user"} to linux.namespaces');
    }
  }

  const time = ns.get('time');
  if (linux && linux['timeOffsets'] !== undefined) {
    if (!time) c.fail('linux.timeOffsets', 'needs a time namespace: add {"type": "time"} to linux.namespaces');
    else if (time.path !== undefined)
      c.fail('linux.timeOffsets', `cannot be set when joining an existing time namespace (${time.at}.path)`);
  }

  // Masking and read-only paths are mounts; without a private mount namespace they would be the host's.
  for (const k of ['maskedPaths', 'readonlyPaths']) {
    const v = linux?.[k];
    if (Array.isArray(v) && v.length > 0 && !ns.has('mount')) {
      c.fail(key('linux', k), 'needs a private mount namespace: add {"type": "mount"} to linux.namespaces');
    }
  }

  // /proc/sys is only partly namespaced: a sysctl is allowed only when the namespace that
  // isolates it is private, so that a container can never change the host's value.
  const sysctl = linux?.['sysctl'];
  if (isObj(sysctl)) {
    for (const raw of Object.keys(sysctl)) {
      const p = mapKey('linux.sysctl', raw);
      const name = sysctlDotted(raw);
      if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) {
        if (!ns.has('ipc')) c.fail(p, 'needs a private IPC namespace: add {"type": "ipc"} to linux.namespaces');
      } else if (name.startsWith('net.')) {
        if (!ns.has('network'))
          c.fail(p, 'needs a private network namespace: add {"type": "network"} to linux.namespaces');
      } else if (name === 'kernel.hostname') {
        c.fail(p, 'set the "hostname" field instead');
      } else if (name === 'kernel.domainname') {
        if (!ns.has('uts')) c.fail(p, 'needs a private UTS namespace: add {"type": "uts"} to linux.namespaces');
      } else {
        c.fail(p, 'is not isolated by any namespace, so a container may not set it');
      }
    }
  }
}

/** sysctl(8) accepts "/" as the separator too; then "." is part of a name (an interface "eth0.100"). */
function sysctlDotted(name: string): string {
  const first = name.search(/[./]/);
  if (first < 0 || name[first] === '.') return name;
  return name.replace(/[./]/g, (ch) => (ch === '.' ? '/' : '.'));
}

// ---- entry points ----

function format(source: string, p: ConfigProblem): string {
  return p.path === '' ? `${source}: ${p.message}` : `${source}: ${p.path}: ${p.message}`;
}

function linesOf(source: string, problems: ConfigProblem[]): string {
  const lines = problems.slice(0, MAX_REPORTED).map((p) => format(source, p));
  if (problems.length > MAX_REPORTED) lines.push(`${source}: … and ${problems.length - MAX_REPORTED} more problems`);
  return lines.join('\n');
}

/**
 * Every problem and warning in a config, without throwing. Like parseRuntimeConfig, removes
 * optional fields that are null.
 */
export function validateRuntimeConfig(
  json: unknown,
  options: Pick<ValidateOptions, 'unknownCapabilities'> = {},
): { problems: ConfigProblem[]; warnings: ConfigProblem[] } {
  const c = new Checker(options);
  checkConfig(c, json);
  return { problems: c.problems, warnings: c.warnings };
}

/**
 * A RuntimeConfig from parsed JSON, or a BerthError InvalidArgument whose message has one line
 * per problem, each "<source>: <JSON path>: <problem>" (source defaults to "config.json").
 * The returned object is the input itself (unknown fields kept, null optional fields removed).
 */
export function parseRuntimeConfig(
  json: unknown,
  source = 'config.json',
  options: ValidateOptions = {},
): RuntimeConfig {
  const { problems, warnings } = validateRuntimeConfig(json, options);
  if (options.onWarning) for (const w of warnings) options.onWarning(format(source, w));
  if (problems.length > 0) throw invalidArgument(linesOf(source, problems));
  return json as RuntimeConfig;
}

/**
 * Reads and parses a config.json. A missing file is NotFound; a JSON syntax error is
 * InvalidArgument naming the file, line and column; then as parseRuntimeConfig with the path as
 * the source.
 */
export function parseRuntimeConfigFile(path: string, options: ValidateOptions = {}): RuntimeConfig {
  return parseRuntimeConfig(readJsonFile(path), path, options);
}

/** Reads a JSON file with errors that name it. Exported for state.json and other small documents. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(`${path}: no such file`, e);
    throw new BerthError(ErrorCode.InvalidArgument, `${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidArgument(`${path}: invalid JSON: ${syntaxErrorWhere(text, (e as Error).message)}`, e);
  }
}

/** V8's message, with "line L column C" added when it names only a character position. */
function syntaxErrorWhere(text: string, message: string): string {
  if (/line \d+ column \d+/.test(message)) return message;
  const m = /position (\d+)/.exec(message);
  let pos = m ? Number(m[1]) : undefined;
  if (pos === undefined && /Unexpected end of JSON input/.test(message)) pos = text.length;
  if (pos === undefined) return message;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `${message} (line ${line} column ${column})`;
}

/**
 * A State document (runtime.md "State") from parsed JSON, e.g. for a hook reading its stdin or a
 * client reading `state` output. Same error format as parseRuntimeConfig.
 */
export function parseState(json: unknown, source = 'state'): State {
  const c = new Checker({});
  if (!obj(c, json, '')) throw invalidArgument(linesOf(source, c.problems));
  const version = req(c, json, 'ociVersion', '', 'a SemVer string');
  if (version !== undefined) str(c, version, 'ociVersion');
  const id = req(c, json, 'id', '', 'the container id');
  if (id !== undefined && str(c, id, 'id') && id === '') c.fail('id', 'must not be empty');
  const status = req(c, json, 'status', '', CONTAINER_STATUSES.join(', '));
  if (status !== undefined) oneOf(c, status, 'status', CONTAINER_STATUSES);
  const pid = optInt(c, json, 'pid', '', 'int32');
  if (pid !== undefined && pid < 0) c.fail('pid', `expected a process id; got ${pid}`);
  const bundle = req(c, json, 'bundle', '', 'an absolute path');
  if (bundle !== undefined) absPath(c, bundle, 'bundle');
  const annotations = opt(json, 'annotations');
  if (annotations !== undefined) stringMap(c, annotations, 'annotations');
  if (c.problems.length > 0) throw invalidArgument(linesOf(source, c.problems));
  return json as State;
}
