// Adapts the CNI network library (src/network, NetworkManager) to the engine's NetworkBackend.
// Must never: add policy; names, defaults and cleanup rules stay in src/network.
import { join } from 'node:path';
import { faultPoint } from './fault-points.ts';
import { NetworkManager } from '../network/network-manager.ts';
import type { AttachResult, NetworkBackend } from './network-backend.ts';
import type { NetworkInfo, PortMapping } from './types.ts';

export type CniNetworkOptions = {
  root: string;
  runRoot: string;
  pluginDirs?: string[];
  defaultNetwork?: { name?: string; bridge?: string; subnet?: string };
  /** Where the user picks the default network's bridge, for errors (NetworkManagerOptions.bridgeConfigKey). */
  bridgeConfigKey?: string;
};

export class CniNetworking implements NetworkBackend {
  readonly name = 'cni';
  readonly manager: NetworkManager;
  readonly defaultNetwork: string;

  private constructor(m: NetworkManager) {
    this.manager = m;
    this.defaultNetwork = m.defaultNetworkName ?? 'none';
  }

  static async open(o: CniNetworkOptions): Promise<CniNetworking> {
    const m = await NetworkManager.open({
      root: join(o.root, 'network'),
      runDir: o.runRoot,
      ...(o.pluginDirs ? { pluginDirs: o.pluginDirs } : {}),
      ...(o.defaultNetwork ? { defaultNetwork: o.defaultNetwork } : {}),
      ...(o.bridgeConfigKey ? { bridgeConfigKey: o.bridgeConfigKey } : {}),
    });
    return new CniNetworking(m);
  }

  async init(): Promise<void> {}

  createNetns(id: string): Promise<string> {
    return this.manager.createNetns(id);
  }
  removeNetns(id: string): Promise<void> {
    return this.manager.removeNetns(id);
  }
  async attach(
    id: string,
    netns: string,
    network: string,
    opts: { portMappings: PortMapping[]; aliases: string[] },
  ): Promise<AttachResult> {
    const a = await this.manager.attach(id, netns, network, { portMappings: opts.portMappings, aliases: opts.aliases });
    faultPoint('network.attached');
    return {
      ips: a.ips,
      ...(a.gateway ? { gateway: a.gateway } : {}),
      ...(a.mac ? { mac: a.mac } : {}),
      prefixLength: a.prefixLength,
      portMappings: a.portMappings,
    };
  }
  async detach(id: string, _netns: string, network: string): Promise<void> {
    await this.manager.detach(id, network);
    faultPoint('network.detached');
  }
  hostsFile(network: string): Promise<string> {
    return this.manager.hostsFile(network);
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
