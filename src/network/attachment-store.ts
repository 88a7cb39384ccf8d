// The CNI result cache: one record per (network, container) in <root>/results/<net>-<id>.json,
// holding the exact configuration list, namespace, interface and capability arguments an ADD ran
// with, and the ADD's result. DEL and CHECK run from the record, never from the network's current
// file, so they get the same configuration and prevResult the ADD had (CNI spec). A record is
// written *before* the ADD (without a result) and again after it, so a crash mid-ADD leaves a record
// that recovery can DEL. It owns these files only.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alreadyExists, internal } from '../errors/errors.ts';
import { atomicWriteFile, removeDurably } from '../sys/atomic-file.ts';
import { type CniConfList, type CniResult, validateConfList, validateResult } from './cni-types.ts';

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** The host address to publish on; '' means every address. */
  hostIP: string;
}

export interface AttachmentRecord {
  version: 1;
  network: string;
  containerId: string;
  ifName: string;
  netns: string;
  config: CniConfList;
  /** `ips`: the address asked for, with the subnet's prefix length (host-local's `ips` capability). */
  capabilityArgs: { portMappings?: PortMapping[]; ips?: string[]; mac?: string };
  aliases: string[];
  /** RFC 3339. */
  created: string;
  /** Absent while the ADD runs (or if it never finished). */
  result?: CniResult;
}

export class AttachmentStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  path(network: string, containerId: string): string {
    return join(this.dir, `${network}-${containerId}.json`);
  }

  async get(network: string, containerId: string): Promise<AttachmentRecord | undefined> {
    const p = this.path(network, containerId);
    const r = await this.read(p);
    // "<net>-<id>" is ambiguous when names hold "-": the record itself says whose it is.
    if (r && (r.network !== network || r.containerId !== containerId)) return undefined;
    return r;
  }

  async put(rec: AttachmentRecord): Promise<void> {
    const p = this.path(rec.network, rec.containerId);
    const existing = await this.read(p);
    if (existing && (existing.network !== rec.network || existing.containerId !== rec.containerId)) {
      throw alreadyExists(
        `${p}: already holds the attachment of container ${existing.containerId} to network ${existing.network}`,
      );
    }
    await atomicWriteFile(p, `${JSON.stringify(rec, null, 2)}\n`, 0o600);
  }

  async remove(network: string, containerId: string): Promise<void> {
    if (await this.get(network, containerId)) await removeDurably(this.path(network, containerId));
  }

  async list(): Promise<AttachmentRecord[]> {
    const out: AttachmentRecord[] = [];
    for (const f of (await readdir(this.dir)).sort()) {
      if (!f.endsWith('.json') || f.startsWith('.')) continue;
      const r = await this.read(join(this.dir, f));
      if (r) out.push(r);
    }
    return out;
  }

  private async read(p: string): Promise<AttachmentRecord | undefined> {
    let text: string;
    try {
      text = await readFile(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    let o: AttachmentRecord;
    try {
      o = JSON.parse(text) as AttachmentRecord;
    } catch (e) {
      throw internal(`${p}: not JSON (${(e as Error).message})`, e);
    }
    if (
      o?.version !== 1 ||
      typeof o.network !== 'string' ||
      typeof o.containerId !== 'string' ||
      typeof o.ifName !== 'string'
    ) {
      throw internal(`${p}: not an attachment record (expected version 1 with network, containerId, ifName)`);
    }
    validateConfList(o.config, `${p}: config`);
    if (o.result !== undefined) validateResult(o.result, `${p}: result`);
    return { ...o, aliases: o.aliases ?? [], capabilityArgs: o.capabilityArgs ?? {} };
  }
}
