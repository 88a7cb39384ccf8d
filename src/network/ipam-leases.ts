// Reads host-local IPAM's lease files (<dataDir>/<network>/<ip>, holding "<containerId>\r\n<ifName>")
// to rebuild the addresses of an attachment whose ADD result was never cached (a crash between the
// ADD and the record write). DEL needs them: the firewall plugin removes its rules by the addresses
// in prevResult, and without them it would leave the container's rules behind. Read-only.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniConfList, CniIpConfig, CniResult } from './cni-types.ts';

interface HostLocalIpam {
  type: 'host-local';
  dataDir?: string;
  ranges?: Array<Array<{ subnet: string; gateway?: string }>>;
}

/** The ipam section of the list's first plugin that uses host-local, if any. */
function hostLocalOf(list: CniConfList): HostLocalIpam | undefined {
  for (const p of list.plugins) {
    const ipam = p.ipam as HostLocalIpam | undefined;
    if (ipam?.type === 'host-local') return ipam;
  }
  return undefined;
}

/** A minimal CNI result with the addresses host-local leased to (containerId, ifName); undefined if none. */
export async function resultFromLeases(
  list: CniConfList,
  containerId: string,
  ifName: string,
): Promise<CniResult | undefined> {
  const ipam = hostLocalOf(list);
  if (!ipam) return undefined;
  const dir = join(ipam.dataDir ?? '/var/lib/cni/networks', list.name);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const range = ipam.ranges?.[0]?.[0];
  const prefix = range?.subnet.split('/')[1] ?? '32';
  const ips: CniIpConfig[] = [];
  for (const n of names) {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(n)) continue;
    const [id, ifn] = (await readFile(join(dir, n), 'utf8').catch(() => '')).split(/\r?\n/).map((s) => s.trim());
    if (id === containerId && (ifn === undefined || ifn === '' || ifn === ifName)) {
      ips.push({ address: `${n}/${prefix}`, ...(range?.gateway ? { gateway: range.gateway } : {}) });
    }
  }
  return ips.length > 0 ? { cniVersion: list.cniVersion, interfaces: [], ips } : undefined;
}
