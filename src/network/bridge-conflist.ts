// The CNI configuration list of a berth bridge network: bridge (with host-local IPAM, the gateway
// on the bridge, outbound masquerade, hairpin so a container reaches itself through a published
// port), portmap (published ports, from the portMappings capability) and firewall (iptables: lets
// the network's traffic through FORWARD even when the host's policy drops it). Pure.
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
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: o.ipamDataDir,
          ranges: [[{ subnet: o.subnet, gateway: o.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall', backend: 'iptables' },
    ],
  };
}
