// A container's PID, IPC and UTS namespaces (docker's --pid, --ipc, --uts): its own (the default),
// the host's (the namespace is left out of the OCI config), or another running container's (joined
// by the path /proc/<its pid>/ns/<type>, filled in at each start). The IPC mode also decides
// /dev/shm: private keeps the spec's own tmpfs, none has no /dev/shm, host binds the host's,
// shareable binds a tmpfs berthd mounts at <container dir>/ipc/shm at start (so that others may join
// it), and container:<x> binds x's. Messages use dockerd's words, then name berth's field.
// Must never: join a container that is not running, or an IPC namespace that shares no /dev/shm; leave the
// shareable tmpfs mounted after the task is released (task-release.ts, container-recovery.ts).
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { failedPrecondition, invalidArgument, notFound } from '../errors/errors.ts';
import type { Mount, RuntimeConfig } from '../oci/runtime-spec.ts';
import { unmountAll } from '../snapshots/mount.ts';
import { mount, constants as sysc } from '../sys/native.ts';
import { isMountPoint } from '../sys/mountinfo.ts';
import type { Container, ContainerContext } from './container-context.ts';
import type { CreateRequest } from './types.ts';

/** IPC modes that make a namespace of the container's own. */
const OWN_IPC = ['private', 'shareable', 'none'];
/** docker's default ShmSize (64 MiB): the size of the shareable tmpfs. */
const SHM_SIZE = 64 * 1024 * 1024;

/** `container:<name|id>`'s target, or undefined for any other value. */
export function joinedContainer(mode: string | undefined): string | undefined {
  return mode?.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

function check(value: unknown, what: string, field: string, flag: string, allowed: string[], container: boolean): void {
  if (value === undefined) return;
  const ok =
    typeof value === 'string' &&
    (allowed.includes(value) || (container && value.startsWith('container:') && value.length > 10));
  if (!ok) {
    const expected = [...allowed.filter((a) => a !== ''), ...(container ? ['container:<name|id>'] : [])];
    throw invalidArgument(
      `invalid ${what} mode: ${typeof value === 'string' ? value : JSON.stringify(value)} (${flag}, ${field}: expected ${expected.join(', ')})`,
    );
  }
}

/** berthd's configured default IPC mode (dockerd's default-ipc-mode), checked when berthd starts. */
export function checkDefaultIpcMode(mode: string | undefined): 'private' | 'shareable' {
  if (mode === undefined || mode === '' || mode === 'private') return 'private';
  if (mode === 'shareable') return 'shareable';
  throw invalidArgument(
    `defaultIpcMode ${JSON.stringify(mode)} in berthd's config: expected private or shareable (dockerd's default-ipc-mode)`,
  );
}

/** The modes of a create request, checked as dockerd checks them at create. */
export function checkNamespaceModes(req: CreateRequest): void {
  check(req.pidMode, 'PID', 'pidMode', '--pid', ['', 'host'], true);
  check(req.ipcMode, 'IPC', 'ipcMode', '--ipc', ['', 'host', ...OWN_IPC], true);
  check(req.utsMode, 'UTS', 'utsMode', '--uts', ['', 'host'], false);
  if (req.utsMode === 'host' && req.hostname)
    throw invalidArgument('conflicting options: hostname and the UTS mode (--hostname with --uts=host)');
  if (req.shmSize !== undefined && (!Number.isSafeInteger(req.shmSize) || req.shmSize < 0))
    throw invalidArgument(
      `SHM size can not be less than 0 (--shm-size, shmSize: expected a whole number of bytes, got ${JSON.stringify(req.shmSize)})`,
    );
  if (req.sandbox && (req.pidMode || req.ipcMode || req.utsMode))
    throw invalidArgument('pidMode, ipcMode, utsMode: a container of a pod shares the pod sandbox namespaces');
}

/**
 * The modes in the spec at create: host namespaces left out (and no hostname with the host's UTS
 * namespace), /dev/shm as the IPC mode has it. A joined namespace gets its path at start.
 */
export function applyNamespaceModes(spec: RuntimeConfig, req: CreateRequest): void {
  if (req.sandbox) return;
  const linux = spec.linux!;
  const drop = (type: string) => {
    linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== type);
  };
  if (req.pidMode === 'host') drop('pid');
  if (req.ipcMode === 'host') drop('ipc');
  if (req.utsMode === 'host') {
    drop('uts');
    delete spec.hostname;
  }
  const ipc = req.ipcMode ?? '';
  if (ipc === 'private' || ipc === '') {
    // The spec's own /dev/shm tmpfs, at the size asked for (0: docker's default).
    const shm = spec.mounts?.find((m) => m.destination === '/dev/shm' && m.type === 'tmpfs');
    if (shm && req.shmSize)
      shm.options = [...(shm.options ?? []).filter((o) => !o.startsWith('size=')), `size=${req.shmSize}`];
    return;
  }
  const mounts = (spec.mounts ?? []).filter((m) => m.destination !== '/dev/shm');
  // host binds the host's /dev/shm; shareable and container: get their bind at start.
  if (ipc === 'host') mounts.push(shmBind('/dev/shm'));
  spec.mounts = mounts;
}

function shmBind(source: string): Mount {
  return { destination: '/dev/shm', type: 'bind', source, options: ['rbind', 'rprivate', 'nosuid', 'nodev', 'noexec'] };
}

/**
 * Where a shareable container's /dev/shm tmpfs is mounted on the host: in a 0700 directory of its
 * own, since the container's directory lets berthd's group (the log readers) in and the tmpfs is
 * mode 1777.
 */
export function shmPath(ctx: ContainerContext, id: string): string {
  return join(ctx.dir(id), 'ipc', 'shm');
}

/** A running (or paused) container named by `word`, else dockerd's refusal, prefixed with `what`. */
function runningTarget(ctx: ContainerContext, word: string, what: string, field: string): Container {
  let c: Container;
  try {
    c = ctx.store.findContainer(word);
  } catch (e) {
    throw notFound(`${what}: No such container: ${word} (${field})`, e);
  }
  if (ctx.restartTimers.has(c.id))
    throw failedPrecondition(
      `${what}: Container ${word} is restarting, wait until the container is running (${field})`,
    );
  if ((c.status !== 'running' && c.status !== 'paused') || !c.pid)
    throw failedPrecondition(`${what}: container ${word} is not running (${field})`);
  return c;
}

/**
 * At start, in the spec written for this run: each `container:` mode's namespace path (the target's
 * process as it is now) and the shareable /dev/shm (its tmpfs mounted here when it is not yet).
 */
export function joinNamespaces(ctx: ContainerContext, c: Container, spec: RuntimeConfig): void {
  const req = c.config.request;
  if (req.sandbox) return;
  const linux = spec.linux!;
  const setNs = (type: 'pid' | 'ipc', path: string) => {
    linux.namespaces = [...(linux.namespaces ?? []).filter((n) => n.type !== type), { type, path }];
  };
  const withShm = (source: string) => {
    spec.mounts = [...(spec.mounts ?? []).filter((m) => m.destination !== '/dev/shm'), shmBind(source)];
  };
  const pidTarget = joinedContainer(req.pidMode);
  if (pidTarget !== undefined) {
    const t = runningTarget(ctx, pidTarget, 'failed to join PID namespace', 'pidMode');
    setNs('pid', `/proc/${t.pid}/ns/pid`);
  }
  const ipcTarget = joinedContainer(req.ipcMode);
  if (ipcTarget !== undefined) {
    const what = 'failed to join IPC namespace';
    const t = runningTarget(ctx, ipcTarget, what, 'ipcMode');
    const shm = sharedShm(ctx, t);
    if (shm === undefined)
      throw invalidArgument(
        `${what}: container ${ipcTarget}: non-shareable IPC (hint: use IpcMode:shareable for the donor container) (ipcMode)`,
      );
    setNs('ipc', `/proc/${t.pid}/ns/ipc`);
    withShm(shm);
  }
  if (req.ipcMode === 'shareable') {
    const shm = shmPath(ctx, c.id);
    if (!isMountPoint(shm)) {
      mkdirSync(shm, { recursive: true, mode: 0o700 });
      chmodSync(dirname(shm), 0o700);
      mount(
        'shm',
        shm,
        'tmpfs',
        sysc.MS_NOSUID | sysc.MS_NODEV | sysc.MS_NOEXEC,
        `mode=1777,size=${req.shmSize || SHM_SIZE}`,
      );
    }
    withShm(shm);
  }
}

/**
 * The /dev/shm a running container shares (dockerd's ShmPath), as its spec of this run binds it:
 * its shareable tmpfs, the host's, or the one of the container it joined; undefined for a private
 * one (the spec's own tmpfs) and for none.
 */
function sharedShm(ctx: ContainerContext, t: Container): string | undefined {
  let spec: RuntimeConfig;
  try {
    spec = JSON.parse(readFileSync(join(ctx.dir(t.id), 'config.json'), 'utf8')) as RuntimeConfig;
  } catch {
    return undefined;
  }
  const m = spec.mounts?.find((x) => x.destination === '/dev/shm' && x.type === 'bind');
  if (!m?.source) return undefined;
  return m.source === '/dev/shm' || isMountPoint(m.source) ? m.source : undefined;
}

/** Unmounts a shareable container's /dev/shm tmpfs (joiners keep theirs); nothing when it has none. */
export function releaseShm(ctx: ContainerContext, id: string, detach = false): void {
  const shm = shmPath(ctx, id);
  try {
    statSync(shm);
  } catch {
    return;
  }
  if (isMountPoint(shm)) unmountAll(shm, { detach });
}
