// The persisted networks: one CNI network configuration list per network, in
// <root>/networks/<name>.conflist, written crash-consistently. The file is a plain conflist any
// CNI tool can run; berth's own facts about the network (driver, bridge, subnet, creation time,
// labels) sit beside "plugins" under the key "berth", which CNI runtimes ignore.
// It owns only these files: never an interface, a rule or an attachment.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { internal } from '../errors/errors.ts';
import { atomicWriteFile, removeDurably } from '../sys/atomic-file.ts';
import { type CniConfList, validateConfList, validateNetworkName } from './cni-types.ts';

export interface BerthNetworkMeta {
  driver: 'bridge';
  bridge: string;
  subnet: string;
  gateway: string;
  /** RFC 3339. */
  created: string;
  labels: Record<string, string>;
}

export interface StoredNetwork {
  readonly name: string;
  readonly conflist: CniConfList;
  readonly meta: BerthNetworkMeta;
}

const SUFFIX = '.conflist';

export class NetworkStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  path(name: string): string {
    validateNetworkName(name);
    return join(this.dir, name + SUFFIX);
  }

  async get(name: string): Promise<StoredNetwork | undefined> {
    const p = this.path(name);
    let text: string;
    try {
      text = await readFile(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return parseStored(text, p, name);
  }

  async list(): Promise<StoredNetwork[]> {
    const out: StoredNetwork[] = [];
    for (const f of (await readdir(this.dir)).sort()) {
      if (!f.endsWith(SUFFIX) || f.startsWith('.')) continue;
      const n = await this.get(f.slice(0, -SUFFIX.length));
      if (n) out.push(n);
    }
    return out;
  }

  async put(conflist: CniConfList, meta: BerthNetworkMeta): Promise<StoredNetwork> {
    await atomicWriteFile(
      this.path(conflist.name),
      `${JSON.stringify({ ...conflist, berth: meta }, null, 2)}\n`,
      0o644,
    );
    return { name: conflist.name, conflist, meta };
  }

  async remove(name: string): Promise<void> {
    await removeDurably(this.path(name));
  }
}

function parseStored(text: string, path: string, name: string): StoredNetwork {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw internal(`${path}: not JSON (${(e as Error).message})`, e);
  }
  const { berth, ...rest } = raw as { berth?: BerthNetworkMeta } & Record<string, unknown>;
  const conflist = validateConfList(rest, path);
  if (conflist.name !== name)
    throw internal(`${path}: "name" is "${conflist.name}", expected "${name}" (the file's name)`);
  if (!berth || typeof berth !== 'object' || typeof berth.bridge !== 'string' || typeof berth.subnet !== 'string') {
    throw internal(`${path}: missing the "berth" object with "bridge" and "subnet" (not a network berth created)`);
  }
  return { name, conflist, meta: { ...berth, labels: berth.labels ?? {} } };
}
