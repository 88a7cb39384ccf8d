// berth's container networking over CNI (Debian's containernetworking-plugins): the networks
// (created, listed, inspected, removed), each container's network namespace, attaching and
// detaching a container (CNI ADD, CHECK, DEL through the network's plugin list, results cached for
// DEL), published ports, hosts entries for name resolution, and crash recovery.
//
// Layout: <root>/networks/<name>.conflist, <root>/results/<net>-<id>.json, <root>/ipam/<name>/
// (host-local's leases), <runDir>/netns/<id>. It creates and deletes only its own networks'
// bridges (marked as berth's: a bridge with the mark that a stopped berthd left is taken over), the
// namespaces under its run dir, the rules its attachments made and its bridges' rules
// (bridge-rules.ts); it never touches an interface or rule that is not berth's, and it never enters a
// container's namespace itself.
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { alreadyExists, errorMessage, failedPrecondition, invalidArgument, notFound } from '../errors/errors.ts';
import { type AttachmentRecord, AttachmentStore, type PortMapping } from './attachment-store.ts';
import { attachmentList, bridgeConfList, bridgeNameFor, masquerades, validateBridgeName } from './bridge-conflist.ts';
import { CniExecutor, type CniRuntimeConf } from './cni-exec.ts';
import { type CniConfList, type CniResult, validateNetworkName } from './cni-types.ts';
import { hostTakenPrefixes } from './host-routes.ts';
import { resultFromLeases } from './ipam-leases.ts';
import { formatHosts, type HostsEntry, hostsEntriesOf } from './hosts.ts';
import { missingPortmapRules, pruneSharedChains, removeMasqRules } from './iptables.ts';
import {
  addIpv4,
  createBridge,
  deleteBridge,
  flushIpv4,
  isBerthBridge,
  type LinkInfo,
  linkInfo,
  markBridge,
} from './link.ts';
import { installBridgeRules, removeBridgeRules } from './bridge-rules.ts';
import { validateContainerId } from '../oci/container-id.ts';
import { isNetnsMounted, NetnsDir } from './netns.ts';
import { type BerthNetworkMeta, NetworkStore, type StoredNetwork } from './network-store.ts';
import {
  firstHost,
  formatCidr,
  type Ipv4Prefix,
  isPrivate,
  overlaps,
  parseCidr,
  parseIpv4,
  pickFree,
  contains,
  defaultPool,
} from './subnet.ts';

export type { PortMapping } from './attachment-store.ts';
export type { HostsEntry } from './hosts.ts';

export interface NetworkManagerOptions {
  /** Persistent state: networks, cached results, IPAM leases (e.g. /var/lib/berth/network). */
  root: string;
  /** Runtime state: network namespaces (e.g. /run/berth). */
  runDir: string;
  /** Where the CNI plugins are (CNI_PATH). Default: Debian's /usr/lib/cni. */
  pluginDirs?: string[];
  /** The default network, created at open if missing; false for none. */
  defaultNetwork?: { name?: string; bridge?: string; subnet?: string } | false;
  /** Other CNI users' configs whose subnets count as taken. Default: /etc/cni/net.d. */
  cniConfDirs?: string[];
  /**
   * Where the caller's user sets the default network's bridge, named in the error when that bridge
   * is someone else's interface. Default: "defaultNetwork.bridge" (this option).
   */
  bridgeConfigKey?: string;
}

export interface CreateNetworkOptions {
  driver?: 'bridge';
  /** An IPv4 prefix in a private range; default: the first free /16 from 10.89.0.0/16 up. */
  subnet?: string;
  /** Default: the subnet's first host address. */
  gateway?: string;
  /** Default: "berth-" + 8 hex digits of the name's hash. */
  bridge?: string;
  labels?: Record<string, string>;
}

export interface NetworkInfo {
  name: string;
  driver: 'bridge';
  bridge: string;
  subnet: string;
  gateway: string;
  created: string;
  labels: Record<string, string>;
  /** True for the network containers join when none is named. */
  isDefault: boolean;
  /** The conflist file: any CNI tool can run it. */
  configPath: string;
}

export interface NetworkInspect extends NetworkInfo {
  attachments: Attachment[];
}

export interface PortMappingSpec {
  hostPort: number;
  containerPort: number;
  protocol?: 'tcp' | 'udp' | 'sctp';
  /** Default '127.0.0.1'; '' or '0.0.0.0' publishes on every host address. */
  hostIP?: string;
}

export interface AttachOptions {
  portMappings?: PortMappingSpec[];
  /** Names other containers on the network resolve to this one (see hostsEntries). */
  aliases?: string[];
  /** Default 'eth0'. */
  ifName?: string;
  /** An address of the network's subnet to take instead of the next free one (docker's --ip). */
  ipv4Address?: string;
  /** The interface's MAC address (the bridge plugin's `mac` capability); default one the kernel picks. */
  mac?: string;
  /**
   * Whether this interface gets the default route (default true). A container on several networks
   * has one default route, through its first network, as docker's containers do.
   */
  defaultRoute?: boolean;
}

export interface Attachment {
  containerId: string;
  network: string;
  ifName: string;
  netns: string;
  /** IPv4 addresses, without prefix length. */
  ips: string[];
  prefixLength: number | undefined;
  gateway: string | undefined;
  mac: string | undefined;
  portMappings: PortMapping[];
  aliases: string[];
  /** False while the ADD runs, or after a crash interrupted it (recovery DELs it). */
  complete: boolean;
}

export interface RecoverReport {
  detached: Array<{ containerId: string; network: string }>;
  netnsRemoved: string[];
  errors: string[];
}

const DEFAULT_NAME = 'berth';
const DEFAULT_BRIDGE = 'berth0';
/** How often createNetwork picks a subnet anew when another berthd claimed its pick meanwhile. */
const CLAIM_ATTEMPTS = 8;

export class NetworkManager {
  readonly root: string;
  readonly runDir: string;
  readonly defaultNetworkName: string | undefined;
  readonly store: NetworkStore;
  readonly attachments: AttachmentStore;
  readonly netns: NetnsDir;
  readonly cni: CniExecutor;
  private readonly ipamDir: string;
  private readonly cniConfDirs: string[];
  private readonly bridgeConfigKey: string;
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(opts: NetworkManagerOptions) {
    this.root = resolve(opts.root);
    this.runDir = resolve(opts.runDir);
    this.store = new NetworkStore(join(this.root, 'networks'));
    this.attachments = new AttachmentStore(join(this.root, 'results'));
    this.ipamDir = join(this.root, 'ipam');
    this.netns = new NetnsDir(this.runDir);
    this.cni = new CniExecutor(opts.pluginDirs ?? ['/usr/lib/cni']);
    this.cniConfDirs = opts.cniConfDirs ?? ['/etc/cni/net.d'];
    this.bridgeConfigKey = opts.bridgeConfigKey ?? 'defaultNetwork.bridge';
    this.defaultNetworkName = opts.defaultNetwork === false ? undefined : (opts.defaultNetwork?.name ?? DEFAULT_NAME);
  }

  /** Opens (creating) the stores and makes the default network if it is missing. */
  static async open(opts: NetworkManagerOptions): Promise<NetworkManager> {
    const m = new NetworkManager(opts);
    await mkdir(m.root, { recursive: true, mode: 0o700 });
    await m.store.init();
    await m.attachments.init();
    await mkdir(m.ipamDir, { recursive: true, mode: 0o700 });
    // Bridges and rules of the stored networks: gone after a reboot, unmarked if an older
    // berth (or the bridge plugin, after someone deleted the bridge) made them.
    for (const n of await m.store.list()) await m.ensureBridge(n);
    const d = opts.defaultNetwork;
    if (d !== false && m.defaultNetworkName && !(await m.store.get(m.defaultNetworkName))) {
      await m.createNetwork(m.defaultNetworkName, {
        bridge: d?.bridge ?? DEFAULT_BRIDGE,
        ...(d?.subnet ? { subnet: d.subnet } : {}),
      });
    }
    return m;
  }

  /** Serializes changes to networks and attachment records (not the plugins' work). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  // ── networks ──────────────────────────────────────────────────────────────────────────

  createNetwork(name: string, opts: CreateNetworkOptions = {}): Promise<NetworkInfo> {
    validateNetworkName(name);
    if ((opts.driver ?? 'bridge') !== 'bridge')
      throw invalidArgument(`network ${name}: driver "${opts.driver}": only "bridge" is supported`);
    const bridge = opts.bridge ?? bridgeNameFor(name);
    validateBridgeName(bridge);
    return this.exclusive(async () => {
      if (await this.store.get(name)) throw alreadyExists(`network ${name}: already exists`);
      const others = await this.store.list();
      const clash = others.find((n) => n.meta.bridge === bridge);
      if (clash) throw alreadyExists(`network ${name}: bridge ${bridge} already belongs to network ${clash.name}`);
      // A bridge with berth's mark is one a berthd left behind (as dockerd leaves docker0), under
      // this root or a wiped or another one: taken over. Any other interface is not berth's.
      const link = await linkInfo(bridge);
      if (link && !isBerthBridge(link)) {
        throw alreadyExists(
          `network ${name}: interface ${bridge} already exists on this host and berth did not make it (no berth mark in its alias); ${this.otherBridgeHint(name, opts)}`,
        );
      }
      const taken = [
        ...(await hostTakenPrefixes(this.cniConfDirs, link?.name)),
        ...others.map((n) => parseCidr(n.meta.subnet)),
      ];
      const kept = link && opts.subnet === undefined ? keptAddress(link, taken) : undefined;
      // A subnet this call chose may be retried; one the caller or the bridge gave may not.
      const chosen = kept === undefined && opts.subnet === undefined && opts.gateway === undefined;
      let subnet: Ipv4Prefix;
      if (kept) subnet = kept.subnet;
      else if (opts.subnet !== undefined) {
        subnet = parseCidr(opts.subnet, `network ${name}: subnet`);
        if (!isPrivate(subnet))
          throw invalidArgument(
            `network ${name}: subnet ${opts.subnet} is not in a private range (10/8, 172.16/12, 192.168/16)`,
          );
        const hit = taken.find((t) => overlaps(t, subnet));
        if (hit)
          throw failedPrecondition(
            `network ${name}: subnet ${opts.subnet} overlaps ${formatCidr(hit)}, already used on this host or by another network`,
          );
      } else subnet = this.freeSubnet(name, taken);
      let gateway = opts.gateway ?? kept?.gateway ?? firstHost(subnet);
      if (!contains(subnet, parseIpv4(gateway, `network ${name}: gateway`))) {
        throw invalidArgument(`network ${name}: gateway ${gateway} is not in subnet ${formatCidr(subnet)}`);
      }
      if (link) {
        // The bridge plugin refuses a bridge with another IPv4 address than the gateway's.
        if (link.ipv4.some((a) => a !== `${gateway}/${subnet.bits}`)) await flushIpv4(bridge);
        await markBridge(bridge, name);
      } else await createBridge(bridge, name);
      try {
        // The gateway address goes on the bridge now, not at the first attach: it is the host-wide
        // claim on the subnet that another berthd (another root, no shared store) reads before it
        // picks one. Two that read before either claimed both see the other's claim when they look
        // again after their own; each gives its pick up then (the address table orders them, so
        // at most one keeps it) and a chosen subnet is picked anew after a random pause.
        for (let attempt = 1; ; attempt++) {
          await addIpv4(bridge, `${gateway}/${subnet.bits}`);
          const hit = (await hostTakenPrefixes(this.cniConfDirs, bridge)).find((t) => overlaps(t, subnet));
          if (!hit) break;
          await flushIpv4(bridge);
          if (!chosen || attempt === CLAIM_ATTEMPTS)
            throw failedPrecondition(
              `network ${name}: subnet ${formatCidr(subnet)} was taken on this host meanwhile (it overlaps ${formatCidr(hit)}); ${chosen ? 'try again' : 'give another subnet'}`,
            );
          taken.push(hit);
          // Not the first free one again: the other berthd, retrying too, would pick the same.
          subnet = this.freeSubnet(name, taken, true);
          gateway = firstHost(subnet);
          await sleep(10 + Math.floor(Math.random() * 50));
        }
        const meta: BerthNetworkMeta = {
          driver: 'bridge',
          bridge,
          subnet: formatCidr(subnet),
          gateway,
          created: new Date().toISOString(),
          labels: { ...(opts.labels ?? {}) },
        };
        const conflist = bridgeConfList({ name, bridge, subnet: meta.subnet, gateway, ipamDataDir: this.ipamDir });
        await installBridgeRules(bridge, meta.subnet);
        return this.info(await this.store.put(conflist, meta));
      } catch (e) {
        if (!link) await deleteBridge(bridge).catch(() => {});
        await removeBridgeRules(bridge).catch(() => {});
        throw e;
      }
    });
  }

  private freeSubnet(name: string, taken: Ipv4Prefix[], anyOne = false): Ipv4Prefix {
    const free = anyOne
      ? (pickFree(taken, shuffled([...defaultPool()].slice(0, 64))) ?? pickFree(taken))
      : pickFree(taken);
    if (!free) throw failedPrecondition(`network ${name}: no free /16 left in 10.89.0.0-10.254.255.255; give a subnet`);
    return free;
  }

  /** What to do instead of taking over someone else's interface. */
  private otherBridgeHint(name: string, opts: CreateNetworkOptions): string {
    if (name === this.defaultNetworkName)
      return `pick another bridge for the default network with ${this.bridgeConfigKey}`;
    if (opts.bridge !== undefined) return 'give another bridge name';
    return `its name comes from the network's (${bridgeNameFor(name)}): pick another network name`;
  }

  /** A stored network's bridge exists, marked, with its rules (isolation, forwarding, masquerade). */
  private async ensureBridge(n: StoredNetwork): Promise<void> {
    const link = await linkInfo(n.meta.bridge);
    // Another kind of interface by that name is left alone, and its traffic too: attaching reports it.
    if (link && link.kind !== 'bridge') return;
    if (!link) await createBridge(n.meta.bridge, n.name);
    else if (!isBerthBridge(link)) await markBridge(n.meta.bridge, n.name);
    // The subnet's claim on the host (see createNetwork), gone with a bridge a reboot removed.
    if (!link || link.ipv4.length === 0)
      await addIpv4(n.meta.bridge, `${n.meta.gateway}/${parseCidr(n.meta.subnet).bits}`);
    await installBridgeRules(n.meta.bridge, n.meta.subnet);
  }

  async listNetworks(): Promise<NetworkInfo[]> {
    return (await this.store.list()).map((n) => this.info(n));
  }

  async inspectNetwork(name: string): Promise<NetworkInspect> {
    const n = await this.requireNetwork(name);
    const attachments = (await this.attachments.list()).filter((r) => r.network === name).map(toAttachment);
    return { ...this.info(n), attachments };
  }

  /**
   * Removes a network: refused while a container is attached, and for the default network unless
   * `evenDefault`. Deletes its bridge and IPAM leases, then its conflist (last, so a crash midway
   * leaves a network that can be removed again).
   */
  removeNetwork(name: string, opts: { evenDefault?: boolean } = {}): Promise<void> {
    return this.exclusive(async () => {
      const n = await this.requireNetwork(name);
      if (name === this.defaultNetworkName && !opts.evenDefault)
        throw failedPrecondition(`network ${name}: the default network cannot be removed`);
      const users = (await this.attachments.list()).filter((r) => r.network === name).map((r) => r.containerId);
      if (users.length > 0)
        throw failedPrecondition(
          `network ${name}: still attached to container(s) ${users.join(', ')}; detach them first`,
        );
      await deleteBridge(n.meta.bridge);
      await removeBridgeRules(n.meta.bridge);
      await rm(join(this.ipamDir, name), { recursive: true, force: true });
      await this.store.remove(name);
    });
  }

  // ── namespaces ────────────────────────────────────────────────────────────────────────

  netnsPath(containerId: string): string {
    return this.netns.path(containerId);
  }

  /** A new network namespace for the container, with its loopback up; the path to give the runtime. */
  createNetns(containerId: string): Promise<string> {
    return this.netns.create(containerId);
  }

  /** Unmounts and removes the namespace. Detach its networks first: the bridge plugin's DEL needs it. */
  async removeNetns(containerId: string): Promise<void> {
    await this.netns.remove(containerId);
  }

  // ── attachments ───────────────────────────────────────────────────────────────────────

  /** CNI ADD of the container's namespace to `network`; the result is cached for CHECK and DEL. */
  async attach(containerId: string, netnsPath: string, network: string, opts: AttachOptions = {}): Promise<Attachment> {
    validateContainerId(containerId);
    const ifName = opts.ifName ?? 'eth0';
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(ifName))
      throw invalidArgument(`attach ${containerId}: ifName "${ifName}": expected an interface name of 1-15 characters`);
    if (!(await isNetnsMounted(netnsPath)))
      throw invalidArgument(
        `attach ${containerId}: ${netnsPath} is not a network namespace (make it with createNetns)`,
      );
    const portMappings = (opts.portMappings ?? []).map((p, i) =>
      normalizePort(p, `attach ${containerId}: portMappings[${i}]`),
    );
    const aliases = [...new Set(opts.aliases ?? [])];
    for (const a of aliases) {
      if (!/^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,252})$/.test(a))
        throw invalidArgument(`attach ${containerId}: alias "${a}": expected a host name`);
    }
    const rec = await this.exclusive(async () => {
      const n = await this.requireNetwork(network);
      const config = attachConfig(n, containerId, opts);
      const existing = await this.attachments.get(network, containerId);
      if (existing?.result) throw alreadyExists(`container ${containerId}: already attached to network ${network}`);
      const all = await this.attachments.list();
      for (const p of portMappings) {
        const other = all.find(
          (r) => r.containerId !== containerId && (r.capabilityArgs.portMappings ?? []).some((q) => portsClash(p, q)),
        );
        if (other)
          throw alreadyExists(
            `attach ${containerId}: host port ${p.hostIP || '*'}:${p.hostPort}/${p.protocol} is already published by container ${other.containerId}`,
          );
      }
      if (existing) await this.delRecord(existing); // an ADD a crash interrupted
      const r: AttachmentRecord = {
        version: 1,
        network,
        containerId,
        ifName,
        netns: netnsPath,
        config: attachmentList(config, portMappings.length > 0),
        capabilityArgs: {
          ...(portMappings.length > 0 ? { portMappings } : {}),
          ...(opts.ipv4Address ? { ips: [`${opts.ipv4Address}/${parseCidr(n.meta.subnet).bits}`] } : {}),
          ...(opts.mac ? { mac: opts.mac } : {}),
        },
        aliases,
        created: new Date().toISOString(),
      };
      await this.attachments.put(r);
      return r;
    });
    let result: CniResult;
    try {
      result = await this.cni.addList(rec.config, runtimeConf(rec));
    } catch (e) {
      // CNI spec: after a failed ADD, DEL every plugin of the list, even those not reached.
      try {
        await this.delRecord(rec);
      } catch (cleanup) {
        throw new AggregateError(
          [e, cleanup],
          `${errorMessage(e)} (and the clean-up DEL failed: ${errorMessage(cleanup)}; recover() will retry)`,
        );
      }
      throw e;
    }
    const done = { ...rec, result };
    await this.attachments.put(done);
    return toAttachment(done);
  }

  /** CNI DEL of the container from `network`, from the cached record. Idempotent: detaching twice is not an error. */
  async detach(containerId: string, network: string): Promise<void> {
    validateContainerId(containerId);
    const rec = await this.attachments.get(network, containerId);
    if (rec) {
      await this.delRecord(rec);
      return;
    }
    // No record (never attached, or already detached): a DEL without prevResult is still allowed
    // and harmless, and catches an ADD whose record write was lost.
    const n = await this.store.get(network);
    if (!n) return;
    await this.cni.delList(
      n.conflist,
      { containerId, netns: '', ifName: 'eth0' },
      await resultFromLeases(n.conflist, containerId, 'eth0'),
    );
    if (masquerades(n.conflist)) await removeMasqRules(network, containerId);
  }

  /** CNI CHECK of an attachment against its cached result; throws what the first failing plugin says. */
  async check(containerId: string, network: string): Promise<void> {
    const rec = await this.attachments.get(network, containerId);
    if (!rec?.result) throw notFound(`container ${containerId}: not attached to network ${network}`);
    const ports = rec.capabilityArgs.portMappings ?? [];
    // portmap 1.1.1 fails CHECK whenever there are mappings (it looks for IPv6 rules it never made,
    // containernetworking/plugins#819): its rules are verified here instead.
    await this.cni.checkList(
      rec.config,
      runtimeConf(rec),
      rec.result,
      ports.length > 0 ? new Set(['portmap']) : new Set(),
    );
    const ip = toAttachment(rec).ips[0];
    if (ports.length > 0 && ip) {
      const missing = await missingPortmapRules(network, containerId, ip, ports);
      if (missing.length > 0)
        throw failedPrecondition(`CNI CHECK of container ${containerId} on network ${network}: ${missing.join('; ')}`);
    }
  }

  /** Attachments, optionally of one container. */
  async listAttachments(containerId?: string): Promise<Attachment[]> {
    return (await this.attachments.list())
      .filter((r) => containerId === undefined || r.containerId === containerId)
      .map(toAttachment);
  }

  /** hosts(5) entries for every container on `network` that has aliases. */
  async hostsEntries(network: string): Promise<HostsEntry[]> {
    await this.requireNetwork(network);
    const recs = (await this.attachments.list()).filter((r) => r.network === network && r.result);
    return hostsEntriesOf(recs.map((r) => ({ ip: toAttachment(r).ips[0], names: r.aliases })));
  }

  /** The same entries as hosts(5) text. */
  async hostsFile(network: string): Promise<string> {
    return formatHosts(await this.hostsEntries(network));
  }

  // ── recovery ──────────────────────────────────────────────────────────────────────────

  /**
   * After a crash: DEL every attachment and remove every namespace whose container is not in
   * `liveContainerIds`. Keeps going past errors and reports them.
   */
  async recover(liveContainerIds: Iterable<string>): Promise<RecoverReport> {
    const live = new Set(liveContainerIds);
    const report: RecoverReport = { detached: [], netnsRemoved: [], errors: [] };
    for (const r of await this.attachments.list()) {
      if (live.has(r.containerId)) continue;
      try {
        await this.delRecord(r);
        report.detached.push({ containerId: r.containerId, network: r.network });
      } catch (e) {
        report.errors.push(`detach ${r.containerId} from ${r.network}: ${errorMessage(e)}`);
      }
    }
    for (const id of await this.netns.list()) {
      if (live.has(id)) continue;
      try {
        await this.netns.remove(id);
        report.netnsRemoved.push(id);
      } catch (e) {
        report.errors.push(`remove network namespace of ${id}: ${errorMessage(e)}`);
      }
    }
    return report;
  }

  /** Deletes the CNI plugins' shared iptables chains if nothing on the host uses them any more. */
  pruneSharedChains(): Promise<string[]> {
    return pruneSharedChains();
  }

  /**
   * Takes everything down: every attachment DEL'd, every namespace removed, every network (the
   * default too) removed, the netns directory's mount released. For tests and uninstall.
   */
  async destroy(): Promise<void> {
    const report = await this.recover([]);
    if (report.errors.length > 0) throw failedPrecondition(`network clean-up: ${report.errors.join('; ')}`);
    for (const n of await this.store.list()) await this.removeNetwork(n.name, { evenDefault: true });
    await this.netns.release();
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────

  private async delRecord(rec: AttachmentRecord): Promise<void> {
    // A namespace that is gone cannot be passed: the plugins accept an empty CNI_NETNS on DEL.
    const netns = (await isNetnsMounted(rec.netns)) ? rec.netns : '';
    const prev = rec.result ?? (await resultFromLeases(rec.config, rec.containerId, rec.ifName));
    await this.cni.delList(rec.config, { ...runtimeConf(rec), netns }, prev);
    // Only a record whose bridge plugin masqueraded (made before berth's per-bridge rules) has any.
    if (masquerades(rec.config)) await removeMasqRules(rec.network, rec.containerId);
    await this.attachments.remove(rec.network, rec.containerId);
  }

  private async requireNetwork(name: string): Promise<StoredNetwork> {
    validateNetworkName(name);
    const n = await this.store.get(name);
    if (!n) throw notFound(`network ${name}: not found`);
    return n;
  }

  private info(n: StoredNetwork): NetworkInfo {
    return {
      name: n.name,
      driver: n.meta.driver,
      bridge: n.meta.bridge,
      subnet: n.meta.subnet,
      gateway: n.meta.gateway,
      created: n.meta.created,
      labels: n.meta.labels,
      isDefault: n.name === this.defaultNetworkName,
      configPath: this.store.path(n.name),
    };
  }
}

/**
 * The subnet and gateway of a bridge berth takes over, when it has one IPv4 address in a private
 * range that nothing else uses: kept, so that containers a previous berthd left running stay on
 * the bridge's network.
 */
function keptAddress(link: LinkInfo, taken: Ipv4Prefix[]): { subnet: Ipv4Prefix; gateway: string } | undefined {
  if (link.ipv4.length !== 1) return undefined;
  const [addr, len] = link.ipv4[0]!.split('/') as [string, string];
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const subnet = { base: (parseIpv4(addr) & mask) >>> 0, bits };
  if (bits < 8 || bits > 30 || !isPrivate(subnet) || taken.some((t) => overlaps(t, subnet))) return undefined;
  return { subnet, gateway: addr };
}

/**
 * The configuration list one attach runs with (kept in its record, so its DEL runs with the same):
 * the network's, with the bridge plugin taking a requested address (the `ips` capability, which it
 * hands to host-local) and without the default route on a container's second and later networks.
 */
function attachConfig(n: StoredNetwork, containerId: string, opts: AttachOptions): CniConfList {
  if (!opts.ipv4Address && !opts.mac && opts.defaultRoute !== false) return n.conflist;
  const config = structuredClone(n.conflist);
  const bridge = config.plugins.find((p) => p.type === 'bridge');
  if (!bridge) return config;
  if (opts.ipv4Address) {
    const where = `attach ${containerId} to ${n.name}: ipv4Address`;
    const addr = parseIpv4(opts.ipv4Address, where);
    const subnet = parseCidr(n.meta.subnet);
    if (!contains(subnet, addr))
      throw invalidArgument(`${where} ${opts.ipv4Address} is not in the network's subnet ${n.meta.subnet}`);
    if (opts.ipv4Address === n.meta.gateway)
      throw invalidArgument(`${where} ${opts.ipv4Address} is the network's gateway`);
    bridge.capabilities = { ...(bridge.capabilities ?? {}), ips: true };
  }
  if (opts.mac) {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(opts.mac))
      throw invalidArgument(`attach ${containerId} to ${n.name}: mac "${opts.mac}": expected six lower-case hex pairs`);
    bridge.capabilities = { ...(bridge.capabilities ?? {}), mac: true };
  }
  if (opts.defaultRoute === false) {
    const ipam = bridge.ipam as { routes?: unknown[] } | undefined;
    if (ipam) ipam.routes = [];
  }
  return config;
}

function runtimeConf(rec: AttachmentRecord): CniRuntimeConf {
  return { containerId: rec.containerId, netns: rec.netns, ifName: rec.ifName, capabilityArgs: rec.capabilityArgs };
}

function normalizePort(p: PortMappingSpec, where: string): PortMapping {
  const port = (v: unknown, f: string): number => {
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535)
      throw invalidArgument(`${where}.${f}: ${String(v)}: expected a port 1-65535`);
    return v as number;
  };
  const protocol = p.protocol ?? 'tcp';
  if (!['tcp', 'udp', 'sctp'].includes(protocol))
    throw invalidArgument(`${where}.protocol: "${protocol}": expected tcp, udp or sctp`);
  let hostIP = p.hostIP ?? '127.0.0.1';
  if (hostIP === '0.0.0.0') hostIP = '';
  if (hostIP !== '') parseIpv4(hostIP, `${where}.hostIP`);
  return {
    hostPort: port(p.hostPort, 'hostPort'),
    containerPort: port(p.containerPort, 'containerPort'),
    protocol,
    hostIP,
  };
}

function portsClash(a: PortMapping, b: PortMapping): boolean {
  return (
    a.hostPort === b.hostPort &&
    a.protocol === b.protocol &&
    (a.hostIP === '' || b.hostIP === '' || a.hostIP === b.hostIP)
  );
}

function toAttachment(r: AttachmentRecord): Attachment {
  const ifIndex = r.result?.interfaces?.findIndex((i) => i.name === r.ifName && i.sandbox !== undefined) ?? -1;
  const ips = (r.result?.ips ?? []).filter((ip) => !ip.address.includes(':'));
  const first = ips[0];
  return {
    containerId: r.containerId,
    network: r.network,
    ifName: r.ifName,
    netns: r.netns,
    ips: ips.map((ip) => ip.address.split('/')[0]!),
    prefixLength: first ? Number(first.address.split('/')[1]) : undefined,
    gateway: first?.gateway,
    mac: ifIndex >= 0 ? r.result?.interfaces?.[ifIndex]?.mac : undefined,
    portMappings: r.capabilityArgs.portMappings ?? [],
    aliases: r.aliases,
    complete: r.result !== undefined,
  };
}

/** The prefixes in a random order (Fisher-Yates). */
function shuffled<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const k = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[k]] = [xs[k]!, xs[i]!];
  }
  return xs;
}
