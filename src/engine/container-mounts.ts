// A create request's mounts (-v NAME:/path, -v /host:/path, --tmpfs) as OCI mounts: a named volume
// is made on first use and bound from its directory. Every entry is checked, naming its target.
import { existsSync, realpathSync } from 'node:fs';
import { failedPrecondition, invalidArgument } from '../errors/errors.ts';
import type { Mount } from '../oci/runtime-spec.ts';
import { type MountInfoEntry, readMountInfo } from '../sys/mountinfo.ts';
import type { MountRequest } from './types.ts';

/** `volume(name)`: the named volume's host directory (made when missing). */
export async function resolveMounts(
  reqs: readonly MountRequest[],
  volume: (name: string) => Promise<string>,
): Promise<Mount[]> {
  const out: Mount[] = [];
  for (const m of reqs) {
    if (!m.target?.startsWith('/'))
      throw invalidArgument(`mount target ${JSON.stringify(m.target)}: expected an absolute path inside the container`);
    const ro = m.readOnly ? ['ro'] : [];
    if (m.recursiveReadOnly && (!m.readOnly || (m.propagation ?? 'rprivate') !== 'rprivate'))
      throw invalidArgument(
        `mount on ${m.target}: recursive read-only needs a read-only mount with propagation rprivate (a mount propagated in later would not be read-only)`,
      );
    // rro: read-only in every mount under it too, applied by the runtime (mount_setattr AT_RECURSIVE).
    if (m.recursiveReadOnly) ro.push('rro');
    if (m.type === 'volume') {
      if (!m.source) throw invalidArgument(`volume mount on ${m.target}: a volume name is required`);
      out.push({
        destination: m.target,
        type: 'bind',
        source: await volume(m.source),
        options: ['rbind', 'rprivate', ...ro],
      });
    } else if (m.type === 'bind') {
      if (!m.source?.startsWith('/'))
        throw invalidArgument(
          `bind mount on ${m.target}: source ${JSON.stringify(m.source)} must be an absolute host path`,
        );
      if (!existsSync(m.source))
        throw invalidArgument(`bind mount on ${m.target}: source ${m.source} does not exist on the host`);
      const prop = m.propagation ?? 'rprivate';
      if (prop !== 'rprivate' && prop !== 'rslave' && prop !== 'rshared')
        throw invalidArgument(
          `bind mount on ${m.target}: propagation ${JSON.stringify(prop)}: expected rprivate, rslave or rshared`,
        );
      if (prop !== 'rprivate') sourcePropagates(m.source, m.target, prop);
      out.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', prop, ...ro] });
    } else if (m.type === 'tmpfs') {
      out.push({
        destination: m.target,
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', ...(m.options ?? ['mode=1777']), ...ro],
      });
    } else
      throw invalidArgument(
        `mount type ${JSON.stringify((m as { type: string }).type)}: expected volume, bind or tmpfs`,
      );
  }
  return out;
}

/**
 * The container's bind only gets what its host mount propagates: rslave needs the source's mount
 * shared or a slave, rshared needs it shared (containerd's ensureSharedOrSlave / ensureShared).
 * Refused here, at create, rather than a container that silently never sees the mounts.
 */
function sourcePropagates(
  source: string,
  target: string,
  prop: 'rslave' | 'rshared',
  mounts: MountInfoEntry[] = readMountInfo(),
): void {
  const path = realpathSync(source);
  const within = (mp: string) => mp === '/' || path === mp || path.startsWith(`${mp}/`);
  // The last of the longest: a later mount on the same point covers the earlier ones.
  let at: MountInfoEntry | undefined;
  for (const e of mounts) if (within(e.mountPoint) && (!at || e.mountPoint.length >= at.mountPoint.length)) at = e;
  if (!at) throw failedPrecondition(`bind mount on ${target}: no mount holds the source ${path}`);
  const shared = at.optionalFields.some((f) => f.startsWith('shared:'));
  const slave = at.optionalFields.some((f) => f.startsWith('master:'));
  if (prop === 'rshared' && !shared)
    throw failedPrecondition(
      `bind mount on ${target}: propagation rshared needs the source ${path} on a shared mount, but ${at.mountPoint} is not shared (make it so with mount --make-shared ${at.mountPoint})`,
    );
  if (prop === 'rslave' && !shared && !slave)
    throw failedPrecondition(
      `bind mount on ${target}: propagation rslave needs the source ${path} on a shared or slave mount, but ${at.mountPoint} is neither (make it shared with mount --make-shared ${at.mountPoint})`,
    );
}
