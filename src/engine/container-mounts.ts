// A create request's mounts (-v NAME:/path, -v /host:/path, --tmpfs) as OCI mounts: a named volume
// is made on first use and bound from its directory. Every entry is checked, naming its target.
import { existsSync } from 'node:fs';
import { invalidArgument } from '../errors/errors.ts';
import type { Mount } from '../oci/runtime-spec.ts';
import type { MountRequest } from './types.ts';

/** `volume(name)`: the named volume's host directory (made when missing). */
export async function resolveMounts(reqs: readonly MountRequest[], volume: (name: string) => Promise<string>): Promise<Mount[]> {
  const out: Mount[] = [];
  for (const m of reqs) {
    if (!m.target?.startsWith('/')) throw invalidArgument(`mount target ${JSON.stringify(m.target)}: expected an absolute path inside the container`);
    const ro = m.readOnly ? ['ro'] : [];
    if (m.type === 'volume') {
      if (!m.source) throw invalidArgument(`volume mount on ${m.target}: a volume name is required`);
      out.push({ destination: m.target, type: 'bind', source: await volume(m.source), options: ['rbind', 'rprivate', ...ro] });
    } else if (m.type === 'bind') {
      if (!m.source?.startsWith('/')) throw invalidArgument(`bind mount on ${m.target}: source ${JSON.stringify(m.source)} must be an absolute host path`);
      if (!existsSync(m.source)) throw invalidArgument(`bind mount on ${m.target}: source ${m.source} does not exist on the host`);
      out.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', 'rprivate', ...ro] });
    } else if (m.type === 'tmpfs') {
      out.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.options ?? ['mode=1777']), ...ro] });
    } else throw invalidArgument(`mount type ${JSON.stringify((m as { type: string }).type)}: expected volume, bind or tmpfs`);
  }
  return out;
}
