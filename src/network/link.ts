// The host interfaces berth's networks own: asking whether a name is taken, making a network's
// bridge with berth's mark on it, and deleting it. The mark is the interface's alias
// (`ip link set … alias "berth network <name>"`, IFLA_IFALIAS): it survives berthd and its state
// directory, so a berthd started on another or a wiped root can tell a bridge berth made (left
// behind on purpose, as dockerd leaves docker0) from someone else's. Deletes only an interface that
// is a bridge and whose name the caller's network recorded.
import { unavailable } from '../errors/errors.ts';
import { describeFailure, runCommand } from './run-command.ts';

export interface LinkInfo {
  name: string;
  /** "bridge", "veth", … ; undefined for a plain device. */
  kind: string | undefined;
  /** The interface's alias, where berth writes its mark. */
  alias: string | undefined;
  /** IPv4 addresses with their prefix lengths ("10.89.0.1/16"). */
  ipv4: string[];
}

const MARK = 'berth network ';

/** The alias berth gives the bridge of network `network`. */
export const bridgeMark = (network: string): string => `${MARK}${network}`;

/** True for an interface berth made as a network's bridge (whatever the network or berth root). */
export const isBerthBridge = (l: LinkInfo): boolean => l.kind === 'bridge' && (l.alias ?? '').startsWith(MARK);

async function ip(args: string[], what: string): Promise<string> {
  const r = await runCommand('ip', args);
  if (r.code !== 0) throw unavailable(`${what}: ${describeFailure('ip', args, r)}`);
  return r.stdout;
}

export async function linkInfo(name: string): Promise<LinkInfo | undefined> {
  const args = ['-j', '-d', 'addr', 'show', 'dev', name];
  const r = await runCommand('ip', args);
  if (r.code !== 0) {
    if (/does not exist|Cannot find device/.test(r.stderr)) return undefined;
    throw unavailable(`looking up interface ${name}: ${describeFailure('ip', args, r)}`);
  }
  const [l] = JSON.parse(r.stdout) as Array<{
    ifname: string;
    ifalias?: string;
    linkinfo?: { info_kind?: string };
    addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
  }>;
  if (!l) return undefined;
  const ipv4 = (l.addr_info ?? [])
    .filter((a) => a.family === 'inet' && a.local)
    .map((a) => `${a.local}/${a.prefixlen}`);
  return { name: l.ifname, kind: l.linkinfo?.info_kind, alias: l.ifalias, ipv4 };
}

/**
 * Makes bridge `name` with berth's mark for `network` (down: the bridge plugin brings it up at the
 * first attach; createNetwork gives it the gateway address). Deleted again if it cannot be marked.
 */
export async function createBridge(name: string, network: string): Promise<void> {
  await ip(['link', 'add', 'name', name, 'type', 'bridge'], `creating bridge ${name}`);
  try {
    await markBridge(name, network);
  } catch (e) {
    await runCommand('ip', ['link', 'del', 'dev', name]);
    throw e;
  }
}

/** Writes berth's mark for `network` on bridge `name` (taking it over, or one berth made before marks). */
export async function markBridge(name: string, network: string): Promise<void> {
  await ip(['link', 'set', 'dev', name, 'alias', bridgeMark(network)], `marking bridge ${name} as berth's`);
}

/**
 * Gives bridge `name` the address `cidr` ("10.89.0.1/16"); one it already has is kept. Its MAC is
 * pinned too, as the bridge plugin pins it when it adds the address itself: a bridge's MAC otherwise
 * follows its lowest port's, and the plugin's CHECK refuses a bridge whose MAC changed since ADD.
 */
export async function addIpv4(name: string, cidr: string): Promise<void> {
  await ip(['-4', 'addr', 'replace', cidr, 'dev', name], `giving bridge ${name} the address ${cidr}`);
  const [l] = JSON.parse(await ip(['-j', 'link', 'show', 'dev', name], `looking up bridge ${name}`)) as Array<{
    address?: string;
  }>;
  if (l?.address) await ip(['link', 'set', 'dev', name, 'address', l.address], `pinning the MAC of bridge ${name}`);
}

/** Removes every IPv4 address of `name` (a bridge berth takes over for another subnet). */
export async function flushIpv4(name: string): Promise<void> {
  await ip(['-4', 'addr', 'flush', 'dev', name], `removing the old addresses of bridge ${name}`);
}

/** Deletes bridge `name` if it exists; refuses an interface of another kind. */
export async function deleteBridge(name: string): Promise<boolean> {
  const info = await linkInfo(name);
  if (!info) return false;
  if (info.kind !== 'bridge')
    throw unavailable(`interface ${name} is a ${info.kind ?? 'device'}, not the network's bridge: left alone`);
  const args = ['link', 'del', 'dev', name];
  const r = await runCommand('ip', args);
  if (r.code !== 0 && !/Cannot find device/.test(r.stderr))
    throw unavailable(`deleting bridge ${name}: ${describeFailure('ip', args, r)}`);
  return true;
}
