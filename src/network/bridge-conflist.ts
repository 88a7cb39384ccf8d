// The CNI configuration list of a berth bridge network: bridge (with host-local IPAM, the gateway
// on the bridge, hairpin so a container reaches itself through a published port) and portmap
// (published ports, from the portMappings capability). Outbound masquerade and letting the
// network's traffic through FORWARD are the network's own rules, one set per bridge
// (bridge-rules.ts), not plugins' per-container work. Pure.
import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors/errors.ts';
import { CNI_VERSION, type CniConfList } from './cni-types.ts';

export interface BridgeConfListOptions {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  /** host-local's dataDir: where it records which address each container holds. */
  ipamDataDir: string;
}

/** Linux interface names: at most 15 bytes, no "/", whitespace or ":". */
export function validateBridgeName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(name)) {
    throw invalidArgument(
      `bridge "${name}": expected an interface name of 1-15 characters (alphanumerics, "_", "." or "-")`,
    );
  }
}

/** The bridge of a user network: "berth-" and 8 hex digits of the name's SHA-256 (15 characters at most). */
export function bridgeNameFor(network: string): string {
  return `berth-${createHash('sha256').update(network).digest('hex').slice(0, 8)}`;
}

export function bridgeConfList(o: BridgeConfListOptions): CniConfList {
  validateBridgeName(o.bridge);
  return {
    cniVersion: CNI_VERSION,
    name: o.name,
    plugins: [
      {
        type: 'bridge',
        bridge: o.bridge,
        isGateway: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: o.ipamDataDir,
          ranges: [[{ subnet: o.subnet, gateway: o.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/**
 * The list one attachment runs. Without published ports, the portmap plugin has nothing to do but
 * costs a process (tens of ms on a pod's start and again on its teardown), so it is left out. A
 * network stored by an older berth also lists the firewall plugin and the bridge plugin's ipMasq:
 * both are per-address iptables work (several processes per container) that the network's own
 * rules (bridge-rules.ts) now do once per bridge, so they are left out too. The record keeps the
 * list its ADD ran, and its DEL and CHECK run that same list.
 */
export function attachmentList(list: CniConfList, ports: boolean): CniConfList {
  const plugins = list.plugins
    .filter((p) => p.type !== 'firewall' && (ports || p.type !== 'portmap'))
    .map((p) => (p.type === 'bridge' && p.ipMasq ? { ...p, ipMasq: false } : p));
  return { ...list, plugins };
}

/** Whether an attachment's bridge plugin made per-container masquerade rules (records of older berths). */
export function masquerades(list: CniConfList): boolean {
  return list.plugins.some((p) => p.type === 'bridge' && p.ipMasq === true);
}
