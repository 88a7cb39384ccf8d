// Adapts the CNI network library (src/network, NetworkManager) to the engine's NetworkBackend.
// Must never: add policy; names, defaults and cleanup rules stay in src/network.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DnsUpstream, parseUpstream, resolvConfUpstreams } from '../network/embedded-dns.ts';
import { faultPoint } from './fault-points.ts';
import { type Attachment, NetworkManager } from '../network/network-manager.ts';
import type { AttachOptions, AttachResult, BackendAttachment, NetworkBackend } from './network-backend.ts';
import type { NetworkInfo } from './types.ts';

export type CniNetworkOptions = {
  root: string;
  runRoot: string;
  pluginDirs?: string[];
  defaultNetwork?: { name?: string; bridge?: string; subnet?: string };
  /** Where the user picks the default network's bridge, for errors (NetworkManagerOptions.bridgeConfigKey). */
  bridgeConfigKey?: string;
  /** The embedded DNS server's upstreams (IP, IP:PORT, [IPV6]:PORT); default the host's resolv.conf nameservers. */
  dnsUpstreams?: string[];
  /** The host's resolv.conf, read when no upstreams are configured. Default /etc/resolv.conf. */
  resolvConf?: string;
};

export class CniNetworking implements NetworkBackend {
  readonly name = 'cni';
  readonly manager: NetworkManager;
  readonly defaultNetwork: string;

  readonly #upstreams: DnsUpstream[] | undefined;
  readonly #resolvConf: string;

  private constructor(m: NetworkManager, o: CniNetworkOptions) {
    this.manager = m;
    this.defaultNetwork = m.defaultNetworkName ?? 'none';
    this.#upstreams = o.dnsUpstreams?.map((u, i) => parseUpstream(u, `network.dns.upstreams[${i}]`));
    this.#resolvConf = o.resolvConf ?? '/etc/resolv.conf';
  }

  static async open(o: CniNetworkOptions): Promise<CniNetworking> {
    const m = await NetworkManager.open({
      root: join(o.root, 'network'),
      runDir: o.runRoot,
      ...(o.pluginDirs ? { pluginDirs: o.pluginDirs } : {}),
      ...(o.defaultNetwork ? { defaultNetwork: o.defaultNetwork } : {}),
      ...(o.bridgeConfigKey ? { bridgeConfigKey: o.bridgeConfigKey } : {}),
    });
    return new CniNetworking(m, o);
  }

  async init(): Promise<void> {}

  createNetns(id: string): Promise<string> {
    return this.manager.createNetns(id);
  }
  removeNetns(id: string): Promise<void> {
    return this.manager.removeNetns(id);
  }
  async attach(id: string, netns: string, network: string, opts: AttachOptions): Promise<AttachResult> {
    const a = await this.manager.attach(id, netns, network, {
      portMappings: opts.portMappings,
      aliases: opts.aliases,
      ...(opts.ifName ? { ifName: opts.ifName } : {}),
      ...(opts.ipv4Address ? { ipv4Address: opts.ipv4Address } : {}),
      ...(opts.macAddress ? { mac: opts.macAddress } : {}),
      ...(opts.defaultRoute === false ? { defaultRoute: false } : {}),
    });
    faultPoint('network.attached');
    return attachResult(a);
  }
  async attachments(id: string): Promise<BackendAttachment[]> {
    return (await this.manager.listAttachments(id)).map((a) => ({
      network: a.network,
      ifName: a.ifName,
      complete: a.complete,
      result: attachResult(a),
    }));
  }
  async detach(id: string, _netns: string, network: string): Promise<void> {
    await this.manager.detach(id, network);
    faultPoint('network.detached');
  }
  hostsFile(network: string): Promise<string> {
    return this.manager.hostsFile(network);
  }
  hostsEntries(network: string): Promise<{ ip: string; names: string[] }[]> {
    return this.manager.hostsEntries(network);
  }
  async dnsUpstreams(): Promise<DnsUpstream[]> {
    if (this.#upstreams) return this.#upstreams;
    return resolvConfUpstreams(await readFile(this.#resolvConf, 'utf8').catch(() => ''));
  }
  async create(
    name: string,
    opts: { subnet?: string; gateway?: string; driver?: string; labels?: Record<string, string> },
  ): Promise<NetworkInfo> {
    const n = await this.manager.createNetwork(name, {
      ...(opts.subnet ? { subnet: opts.subnet } : {}),
      ...(opts.gateway ? { gateway: opts.gateway } : {}),
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.driver ? { driver: opts.driver as 'bridge' } : {}),
    });
    return { ...n, containers: [] };
  }
  remove(name: string): Promise<void> {
    return this.manager.removeNetwork(name);
  }
  async list(): Promise<NetworkInfo[]> {
    const atts = await this.manager.listAttachments();
    return (await this.manager.listNetworks()).map((n) => ({
      ...n,
      containers: atts.filter((a) => a.network === n.name).map((a) => a.containerId),
    }));
  }
  async inspect(name: string): Promise<NetworkInfo> {
    const n = await this.manager.inspectNetwork(name);
    return { ...n, containers: n.attachments.map((a) => a.containerId) };
  }
  async recover(liveIds: Set<string>): Promise<void> {
    await this.manager.recover(liveIds);
  }
}

function attachResult(a: Attachment): AttachResult {
  return {
    ips: a.ips,
    ...(a.gateway ? { gateway: a.gateway } : {}),
    ...(a.mac ? { mac: a.mac } : {}),
    prefixLength: a.prefixLength,
    portMappings: a.portMappings,
    ifName: a.ifName,
  };
}
