// What the engine needs from networking (src/network, CNI): network namespaces per container,
// attach/detach with port mappings, and the network CRUD behind `network` verbs. network-cni.ts
// adapts src/network to it; NoNetworking gives every container a private namespace with only lo,
// for hosts (or tests) without CNI plugins.
// Must never: hold policy about when to attach (the container service decides).
import { failedPrecondition, notFound } from '../errors/errors.ts';
import type { NetworkInfo, PortMapping } from './types.ts';

export type AttachResult = { ips: string[]; gateway?: string; mac?: string; [k: string]: unknown };

export type AttachOptions = {
  portMappings: PortMapping[];
  aliases: string[];
  /** The interface in the container; default eth0. */
  ifName?: string;
  /** The address to take on the network (docker's IPAMConfig.IPv4Address); default the next free one. */
  ipv4Address?: string;
  /** The interface's MAC address (docker's --mac-address); default one the kernel picks. */
  macAddress?: string;
  /** False on a container's second and later networks: the first holds the default route. */
  defaultRoute?: boolean;
};

/** What the backend holds for one of a container's networks (a crash may leave one incomplete). */
export type BackendAttachment = { network: string; ifName: string; complete: boolean; result: AttachResult };

export interface NetworkBackend {
  readonly name: string;
  readonly defaultNetwork: string;
  /** Creates the default network if missing. */
  init(): Promise<void>;
  createNetns(containerId: string): Promise<string>;
  removeNetns(containerId: string): Promise<void>;
  attach(containerId: string, netns: string, network: string, opts: AttachOptions): Promise<AttachResult>;
  detach(containerId: string, netns: string, network: string): Promise<void>;
  /** The container's attachments as the backend recorded them (after a crash, the truth to reconcile with). */
  attachments(containerId: string): Promise<BackendAttachment[]>;
  create(
    name: string,
    opts: { subnet?: string; gateway?: string; driver?: string; labels?: Record<string, string> },
  ): Promise<NetworkInfo>;
  remove(name: string): Promise<void>;
  list(): Promise<NetworkInfo[]>;
  inspect(name: string): Promise<NetworkInfo>;
  /** hosts(5) text naming every container attached to `network` by its aliases (name resolution on it). */
  hostsFile(network: string): Promise<string>;
  /** The same as {ip, names} (the embedded DNS server's answers). */
  hostsEntries(network: string): Promise<{ ip: string; names: string[] }[]>;
  /** Where the embedded DNS server forwards what it does not know: configured, else the host's resolv.conf nameservers. */
  dnsUpstreams(): Promise<{ host: string; port: number }[]>;
  /** Removes namespaces and attachments of containers not in `liveIds`. */
  recover(liveIds: Set<string>): Promise<void>;
}

/** No CNI: containers get a fresh network namespace from the runtime (the spec's default). */
export class NoNetworking implements NetworkBackend {
  readonly name = 'none';
  readonly defaultNetwork = 'none';
  async init(): Promise<void> {}
  async createNetns(): Promise<string> {
    return '';
  }
  async removeNetns(): Promise<void> {}
  async attach(): Promise<AttachResult> {
    return { ips: [] };
  }
  async detach(): Promise<void> {}
  async attachments(): Promise<BackendAttachment[]> {
    return [];
  }
  async hostsFile(): Promise<string> {
    return '';
  }
  async hostsEntries(): Promise<{ ip: string; names: string[] }[]> {
    return [];
  }
  async dnsUpstreams(): Promise<{ host: string; port: number }[]> {
    return [];
  }
  async create(name: string): Promise<NetworkInfo> {
    throw failedPrecondition(
      `network create ${name}: networking is not available on this berthd (no CNI plugins configured)`,
    );
  }
  async remove(name: string): Promise<void> {
    throw notFound(`no such network: ${name}`);
  }
  async list(): Promise<NetworkInfo[]> {
    return [
      { name: 'none', driver: 'null', containers: [] },
      { name: 'host', driver: 'host', containers: [] },
    ];
  }
  async inspect(name: string): Promise<NetworkInfo> {
    const n = (await this.list()).find((x) => x.name === name);
    if (!n) throw notFound(`no such network: ${name}`);
    return n;
  }
  async recover(): Promise<void> {}
}
