// A container's devices, resolved on berthd's host at create: host device nodes named by path
// (docker's --device, the CRI's `devices`), CDI devices named `vendor.com/class=name` (the CRI's
// `CDI_devices`), read from the CDI spec files (JSON or YAML) in berthd's CDI directories, and for a
// privileged container every device node of the host's /dev with the device cgroup open. The
// result is plain OCI data (device nodes, device-cgroup rules, env, mounts, hooks, groups) that
// spec-builder.ts puts in the container's config.
// Must never: create a device node or mount anything (the runtime does), or grant a device more
// than the permissions asked for.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { errorMessage, invalidArgument, unsupported } from '../errors/errors.ts';
import {
  HOOK_NAMES,
  type Hook,
  type Hooks,
  type LinuxDevice,
  type LinuxDeviceCgroup,
  type Mount,
} from '../oci/runtime-spec.ts';
import type { CreateRequest, DeviceRequest } from './types.ts';

/** Where CDI spec files are looked for, lowest priority first (CDI's own defaults). */
export const DEFAULT_CDI_SPEC_DIRS = ['/etc/cdi', '/var/run/cdi'];

export type ResolvedDevices = {
  devices: LinuxDevice[];
  /** Allow rules, appended after the config's deny-all. */
  rules: LinuxDeviceCgroup[];
  env: string[];
  mounts: Mount[];
  hooks: Hooks;
  additionalGids: number[];
};

const PERMISSIONS_RE = /^(?!.*(.).*\1)[rwm]{1,3}$/;

/** cgroup permissions: one or more of r, w, m, each once; '' is rwm. */
export function checkPermissions(p: string | undefined, field: string): string {
  if (p === undefined || p === '') return 'rwm';
  if (!PERMISSIONS_RE.test(p))
    throw invalidArgument(`${field}: ${JSON.stringify(p)} (expected r, w and m, each at most once, e.g. "rwm")`);
  return p;
}

/** Linux's dev_t split (glibc's gnu_dev_major/minor: 32 bits each, spread over the 64). */
export function majorMinor(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n));
  return { major, minor };
}

/** The node at `path` on the host, followed through symlinks; undefined when it is not a device. */
async function hostNode(
  path: string,
): Promise<
  { type: 'c' | 'b'; major: number; minor: number; mode: number; uid: number; gid: number } | 'missing' | 'other'
> {
  let st: Awaited<ReturnType<typeof stat>> & { rdev: bigint; mode: bigint; uid: bigint; gid: bigint };
  try {
    st = (await stat(path, { bigint: true })) as typeof st;
  } catch {
    return 'missing';
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return 'other';
  return {
    type: st.isBlockDevice() ? 'b' : 'c',
    ...majorMinor(st.rdev),
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

function empty(): ResolvedDevices {
  return { devices: [], rules: [], env: [], mounts: [], hooks: {}, additionalGids: [] };
}

/** Adds a device node, replacing one at the same container path. */
function putDevice(out: ResolvedDevices, d: LinuxDevice, access: string): void {
  out.devices = out.devices.filter((x) => x.path !== d.path);
  out.devices.push(d);
  if ((d.type === 'c' || d.type === 'b') && access !== '')
    out.rules.push({ allow: true, type: d.type, major: d.major!, minor: d.minor!, access });
}

async function hostDevice(out: ResolvedDevices, r: DeviceRequest, i: number): Promise<void> {
  const f = r.fields ?? {
    hostPath: `devices[${i}].hostPath`,
    containerPath: `devices[${i}].containerPath`,
    permissions: `devices[${i}].permissions`,
  };
  if (typeof r.hostPath !== 'string' || !r.hostPath.startsWith('/'))
    throw invalidArgument(`${f.hostPath}: ${JSON.stringify(r.hostPath)} (expected an absolute path on berthd's host)`);
  const containerPath = r.containerPath || r.hostPath;
  if (!containerPath.startsWith('/'))
    throw invalidArgument(`${f.containerPath}: ${JSON.stringify(containerPath)} (expected an absolute path)`);
  const access = checkPermissions(r.permissions, f.permissions);
  const node = await hostNode(r.hostPath);
  if (node === 'missing')
    throw invalidArgument(`${f.hostPath}: ${r.hostPath} does not exist on berthd's host (expected a device node)`);
  if (node === 'other')
    throw invalidArgument(`${f.hostPath}: ${r.hostPath} is not a character or block device (expected a device node)`);
  putDevice(
    out,
    {
      path: containerPath,
      type: node.type,
      major: node.major,
      minor: node.minor,
      fileMode: node.mode,
      uid: node.uid,
      gid: node.gid,
    },
    access,
  );
}

// ---------------------------------------------------------------- CDI

/** A fully-qualified CDI device name: vendor.com/class=name (CDI's rules for each part). */
const CDI_NAME_RE =
  /^([a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?\/[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?)=([a-zA-Z0-9]([a-zA-Z0-9_.:-]*[a-zA-Z0-9])?)$/;

export function checkCdiName(name: unknown, field: string): { kind: string; device: string } {
  const m = typeof name === 'string' ? CDI_NAME_RE.exec(name) : null;
  if (!m)
    throw invalidArgument(
      `${field}: ${JSON.stringify(name)} (expected a fully-qualified CDI device name, vendor.com/class=name)`,
    );
  return { kind: m[1]!, device: m[4]! };
}

// biome-ignore lint/suspicious/noExplicitAny: a CDI spec as read from its file; its shape is checked where used
type CdiEdits = Record<string, any>;
type CdiSpec = {
  path: string;
  priority: number;
  kind: string;
  edits: CdiEdits | undefined;
  devices: Map<string, CdiEdits>;
};

async function parseSpecFile(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  if (extname(path) === '.json') return JSON.parse(text);
  // YAML only where a vendor wrote YAML: the parser is loaded then, not at berthd's start.
  const { parse } = await import('yaml');
  return parse(text);
}

/** Every CDI spec in the directories (later directories win, as CDI's own cache has it); unreadable ones listed apart. */
async function readSpecs(dirs: string[]): Promise<{ specs: CdiSpec[]; broken: string[] }> {
  const specs: CdiSpec[] = [];
  const broken: string[] = [];
  for (const [priority, dir] of dirs.entries()) {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      continue; // a directory that does not exist holds no specs
    }
    for (const name of names) {
      if (!['.json', '.yaml'].includes(extname(name))) continue;
      const path = join(dir, name);
      try {
        const raw = (await parseSpecFile(path)) as CdiEdits;
        if (!raw || typeof raw.cdiVersion !== 'string' || typeof raw.kind !== 'string' || !Array.isArray(raw.devices))
          throw new TypeError('expected cdiVersion, kind and devices');
        const devices = new Map<string, CdiEdits>();
        for (const d of raw.devices as CdiEdits[]) {
          if (typeof d?.name !== 'string') throw new TypeError('a device without a name');
          devices.set(d.name, d.containerEdits ?? {});
        }
        specs.push({ path, priority, kind: raw.kind, edits: raw.containerEdits, devices });
      } catch (e) {
        broken.push(`${path} (${errorMessage(e)})`);
      }
    }
  }
  return { specs, broken };
}

function asStrings(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw invalidArgument(`${where}: expected a list of strings`);
  return v as string[];
}

async function applyEdits(out: ResolvedDevices, e: CdiEdits | undefined, where: string): Promise<void> {
  if (!e) return;
  out.env.push(...asStrings(e.env, `${where}.env`));
  for (const [i, n] of ((e.deviceNodes ?? []) as CdiEdits[]).entries()) {
    const at = `${where}.deviceNodes[${i}]`;
    if (typeof n.path !== 'string' || !n.path.startsWith('/'))
      throw invalidArgument(`${at}.path: ${JSON.stringify(n.path)} (expected an absolute path in the container)`);
    const hostPath: string = n.hostPath || n.path;
    const given = typeof n.type === 'string' && n.type !== '' && (n.type === 'p' || Number(n.major) > 0);
    const node = await hostNode(hostPath);
    if (!given && typeof node === 'string')
      throw invalidArgument(
        `${at}: host device ${hostPath} ${node === 'missing' ? 'does not exist' : 'is not a character or block device'} on berthd's host`,
      );
    const host = typeof node === 'string' ? undefined : node;
    const type = (given ? n.type : host!.type) as LinuxDevice['type'];
    if (!['c', 'b', 'u', 'p'].includes(type))
      throw invalidArgument(`${at}.type: ${JSON.stringify(type)} (expected c, b, u or p)`);
    if (!given && host && n.type && n.type !== host.type)
      throw invalidArgument(`${at}.type: ${n.type}, but the host's ${hostPath} is of type ${host.type}`);
    const d: LinuxDevice = { path: n.path, type: type === 'u' ? 'c' : type };
    if (type !== 'p') {
      d.major = given ? Number(n.major) : host!.major;
      d.minor = given ? Number(n.minor ?? 0) : host!.minor;
    }
    const mode = n.fileMode ?? host?.mode;
    if (mode !== undefined) d.fileMode = Number(mode);
    if (n.uid !== undefined) d.uid = Number(n.uid);
    if (n.gid !== undefined) d.gid = Number(n.gid);
    const perm = n.permissions === 'none' ? '' : checkPermissions(n.permissions, `${at}.permissions`);
    putDevice(out, d, perm);
  }
  for (const [i, m] of ((e.mounts ?? []) as CdiEdits[]).entries()) {
    const at = `${where}.mounts[${i}]`;
    if (typeof m.hostPath !== 'string' || typeof m.containerPath !== 'string' || !m.containerPath.startsWith('/'))
      throw invalidArgument(`${at}: expected hostPath and an absolute containerPath`);
    const options = asStrings(m.options, `${at}.options`);
    const type: string = m.type || 'bind';
    if (type === 'bind' && !options.includes('bind') && !options.includes('rbind')) options.push('rbind');
    out.mounts = out.mounts.filter((x) => x.destination !== m.containerPath);
    out.mounts.push({ destination: m.containerPath, type, source: m.hostPath, options });
  }
  for (const [i, h] of ((e.hooks ?? []) as CdiEdits[]).entries()) {
    const at = `${where}.hooks[${i}]`;
    if (!(HOOK_NAMES as readonly string[]).includes(h.hookName))
      throw unsupported(`${at}.hookName: ${JSON.stringify(h.hookName)} (expected one of ${HOOK_NAMES.join(', ')})`);
    if (typeof h.path !== 'string' || !h.path.startsWith('/'))
      throw invalidArgument(`${at}.path: ${JSON.stringify(h.path)} (expected an absolute path)`);
    const hook: Hook = { path: h.path };
    if (h.args) hook.args = asStrings(h.args, `${at}.args`);
    if (h.env) hook.env = asStrings(h.env, `${at}.env`);
    if (h.timeout !== undefined) hook.timeout = Number(h.timeout);
    const name = h.hookName as (typeof HOOK_NAMES)[number];
    out.hooks[name] = [...(out.hooks[name] ?? []), hook];
  }
  for (const g of (e.additionalGids ?? e.additionalGIDs ?? []) as unknown[])
    if (Number(g) > 0 && !out.additionalGids.includes(Number(g))) out.additionalGids.push(Number(g));
  for (const k of ['intelRdt', 'netDevices'])
    if (e[k] && (!Array.isArray(e[k]) || e[k].length))
      throw unsupported(`${where}.${k}: not supported by berth (expected none)`);
}

async function cdiDevices(out: ResolvedDevices, names: string[], dirs: string[]): Promise<void> {
  const { specs, broken } = await readSpecs(dirs);
  const applied = new Set<CdiSpec>();
  for (const [i, name] of names.entries()) {
    const { kind, device } = checkCdiName(name, `cdiDevices[${i}]`);
    // The highest priority wins; two specs of one priority that both have it conflict.
    const having = specs.filter((s) => s.kind === kind && s.devices.has(device));
    const top = Math.max(...having.map((s) => s.priority));
    const winners = having.filter((s) => s.priority === top);
    if (winners.length === 0)
      throw invalidArgument(
        `CDI device ${name}: no such device in the CDI specs of ${dirs.join(', ')}${
          specs.some((s) => s.kind === kind)
            ? ` (kind ${kind} has ${specs
                .filter((s) => s.kind === kind)
                .flatMap((s) => [...s.devices.keys()])
                .join(', ')})`
            : ` (no spec of kind ${kind})`
        }${broken.length ? `; unreadable specs: ${broken.join('; ')}` : ''}`,
      );
    if (winners.length > 1)
      throw invalidArgument(
        `CDI device ${name}: defined by more than one spec (${winners.map((s) => s.path).join(', ')})`,
      );
    const spec = winners[0]!;
    if (!applied.has(spec)) {
      applied.add(spec);
      await applyEdits(out, spec.edits, `${spec.path}: containerEdits`);
    }
    await applyEdits(out, spec.devices.get(device), `${spec.path}: device ${device}`);
  }
}

// ---------------------------------------------------------------- privileged

/** What of /dev a privileged container does not get (runc's list, which docker and containerd use):
 * terminals, shared memory, fds and message queues of the host, container managers' own, the console. */
const HOST_DEV_SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every character and block device under the host's `dir`, at its own path; nodes already there stay. */
async function allHostDevices(out: ResolvedDevices, dir: string): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return; // a directory gone meanwhile (a hot-unplugged device's) is not an error
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!HOST_DEV_SKIP_DIRS.has(e.name)) await allHostDevices(out, path);
      continue;
    }
    if ((!e.isCharacterDevice() && !e.isBlockDevice()) || path === '/dev/console') continue;
    if (out.devices.some((d) => d.path === path)) continue;
    const node = await hostNode(path);
    if (typeof node !== 'object') continue;
    out.devices.push({
      path,
      type: node.type,
      major: node.major,
      minor: node.minor,
      fileMode: node.mode,
      uid: node.uid,
      gid: node.gid,
    });
  }
}

/** The devices a create request asks for, looked up on berthd's host. */
export async function resolveDevices(
  req: Pick<CreateRequest, 'devices' | 'cdiDevices' | 'security'>,
  cdiSpecDirs: string[] = DEFAULT_CDI_SPEC_DIRS,
  hostDev = '/dev',
): Promise<ResolvedDevices> {
  const out = empty();
  for (const [i, r] of (req.devices ?? []).entries()) await hostDevice(out, r, i);
  if (req.cdiDevices?.length) await cdiDevices(out, req.cdiDevices, cdiSpecDirs);
  if (req.security?.privileged) {
    // docker --privileged and the CRI's privileged: the host's devices, and the device cgroup open.
    await allHostDevices(out, hostDev);
    out.rules.push({ allow: true, access: 'rwm' });
  }
  return out;
}
