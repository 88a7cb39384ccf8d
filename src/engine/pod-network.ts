// Which CNI network a new pod sandbox joins: berthd's default network, until the kubelet gives the
// node's pod CIDR (the CRI's UpdateRuntimeConfig). A CIDR other than the default network's subnet
// gets a bridge network of its own (host-local hands out that range), recorded in
// <root>/pod-network.json (written atomically), so the choice survives a restart. Running pods keep
// the network (and address) they were attached to: the bridge plugin cannot move a bridge to another
// subnet under its pods, so a replaced pod network stays until its last pod is detached.
// Must never: attach or detach anything (the pod service does), or remove a network a pod uses or
// one it did not make.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, internal, isBerthError, unsupported } from '../errors/errors.ts';
import { formatCidr, parseCidr } from '../network/subnet.ts';
import { atomicWriteFile } from '../sys/atomic-file.ts';
import type { NetworkBackend } from './network-backend.ts';

/** The networks this module makes: `cri-pods-` and 8 hex digits of the root and the CIDR. */
const PREFIX = 'cri-pods-';
const FIELD = 'runtime_config.network_config.pod_cidr';

/** What pod-network.json holds. */
export type PodNetworkRecord = { podCidr: string; network: string };

export class PodNetwork {
  readonly #root: string;
  readonly #net: NetworkBackend;
  #rec: PodNetworkRecord | undefined;
  /** Networks a pod is being attached to right now: never removed meanwhile. */
  readonly #inUse = new Map<string, number>();
  #lock: Promise<unknown> = Promise.resolve();

  constructor(root: string, net: NetworkBackend) {
    this.#root = root;
    this.#net = net;
    this.#rec = readRecord(this.#file());
  }

  #file(): string {
    return join(this.#root, 'pod-network.json');
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  /** The pod CIDR the kubelet gave ('' for none) and the network pods join now. */
  current(): { podCidr: string; network: string } {
    return { podCidr: this.#rec?.podCidr ?? '', network: this.#rec?.network ?? this.#net.defaultNetwork };
  }

  /**
   * Runs `fn` with the network a new pod joins, made again if it went (removed by hand, or the
   * record outlived it); that network is not removed while `fn` runs.
   */
  async use<T>(fn: (network: string) => Promise<T>): Promise<T> {
    const network = await this.#exclusive(async () => {
      const { podCidr, network } = this.current();
      if (podCidr && network !== this.#net.defaultNetwork) await this.#ensure(network, podCidr);
      this.#inUse.set(network, (this.#inUse.get(network) ?? 0) + 1);
      return network;
    });
    try {
      return await fn(network);
    } finally {
      const n = (this.#inUse.get(network) ?? 1) - 1;
      if (n > 0) this.#inUse.set(network, n);
      else this.#inUse.delete(network);
    }
  }

  /**
   * Sets the pod CIDR: '' changes nothing (the kubelet's "none yet"); the default network's subnet
   * selects it; any other IPv4 prefix gets a network of its own. Malformed is InvalidArgument,
   * IPv6 Unsupported (berth's bridge networks are IPv4), each naming the CRI field.
   */
  setPodCidr(text: string): Promise<void> {
    return this.#exclusive(async () => {
      // A dual-stack kubelet sends "v4,v6".
      const parts = text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (parts.length === 0) return;
      const v6 = parts.find((p) => p.includes(':'));
      if (v6)
        throw unsupported(
          `${FIELD}: ${v6} is an IPv6 prefix; berth's pod networks are IPv4 only (expected one IPv4 CIDR)`,
        );
      if (parts.length > 1)
        throw unsupported(`${FIELD}: ${JSON.stringify(text)} gives ${parts.length} IPv4 prefixes (expected one)`);
      const cidr = formatCidr(parseCidr(parts[0]!, FIELD));
      if (this.#net.name === 'none')
        throw unsupported(
          `${FIELD}: ${cidr}: berthd runs without CNI networking (--no-network), so pods have no network to address`,
        );
      if (this.#rec?.podCidr === cidr) return;
      const old = this.current().network;
      const defaultSubnet = (await this.#net.inspect(this.#net.defaultNetwork)).subnet;
      let network = this.#net.defaultNetwork;
      if (defaultSubnet !== cidr) {
        network = `${PREFIX}${createHash('sha256').update(`${this.#root}\0${cidr}`).digest('hex').slice(0, 8)}`;
        // The old pod network first, when no pod is on it: the new range may overlap it.
        if (old !== network) await this.#removeIfUnused(old);
        await this.#ensure(network, cidr);
      }
      const rec: PodNetworkRecord = { podCidr: cidr, network };
      await atomicWriteFile(this.#file(), `${JSON.stringify(rec)}\n`, 0o600);
      this.#rec = rec;
      if (old !== network) await this.#removeIfUnused(old);
    });
  }

  /** After a pod left `network`: a replaced pod network goes with its last pod. */
  released(network: string): Promise<void> {
    return this.#exclusive(async () => {
      if (network !== this.current().network) await this.#removeIfUnused(network);
    });
  }

  async #ensure(network: string, cidr: string): Promise<void> {
    try {
      await this.#net.inspect(network);
      return;
    } catch (e) {
      if (!isBerthError(e, 'BERTH_ERR_NOT_FOUND')) throw e;
    }
    try {
      await this.#net.create(network, { subnet: cidr, labels: { 'org.berth.cri.pod-cidr': cidr } });
    } catch (e) {
      // Overlapping another network or a host route, or not a private range: say which field.
      if (e instanceof BerthError) throw new BerthError(e.code, `${FIELD}: ${cidr}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /** Removes one of this module's networks when no pod is attached or being attached to it. */
  async #removeIfUnused(network: string): Promise<void> {
    if (!network.startsWith(PREFIX) || this.#inUse.has(network)) return;
    try {
      const n = await this.#net.inspect(network);
      if (n.containers.length === 0) await this.#net.remove(network);
    } catch (e) {
      if (!isBerthError(e, 'BERTH_ERR_NOT_FOUND')) throw e;
    }
  }
}

function readRecord(path: string): PodNetworkRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let r: PodNetworkRecord | undefined;
  try {
    r = JSON.parse(text) as PodNetworkRecord;
  } catch {}
  if (typeof r?.podCidr !== 'string' || typeof r.network !== 'string')
    throw internal(
      `${path}: expected {"podCidr": "<IPv4 CIDR>", "network": "<name>"} (remove the file to forget the pod CIDR)`,
    );
  return r;
}
