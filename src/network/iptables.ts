// The iptables clean-up the CNI plugins leave to the runtime. It removes only what berth's own
// attachments made or what no one uses any more:
// - the bridge plugin's per-container masquerade chain (CNI-<hash of network+id>) and the
//   POSTROUTING rule tagged `name: "<net>" id: "<id>"`: the plugin's DEL can remove them only while
//   the namespace still exists (it reads the addresses from the interface), so a container whose
//   namespace is already gone would leak them;
// - the shared chains portmap (CNI-HOSTPORT-*) and firewall (CNI-FORWARD, CNI-ADMIN) create and
//   never delete, and only when they are empty, i.e. no CNI user on this host has a rule in them.
// It never touches a chain or rule outside these, and never a table.
import { createHash } from 'node:crypto';
import { unavailable } from '../errors/errors.ts';
import { describeFailure, runCommand } from './run-command.ts';

/** The CNI plugins' chain name for (network, container): "CNI-" + sha512(name + id) in hex, cut to 28. */
export function cniChainName(network: string, containerId: string, prefix = ''): string {
  return `CNI-${prefix}${createHash('sha512')
    .update(network + containerId)
    .digest('hex')}`.slice(0, 28);
}

/** Splits one `iptables -S` line into arguments, undoing its double quotes and backslash escapes. */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === ' ') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export async function ipt(args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await runCommand('iptables', ['-w', '5', ...args]);
  return { ok: r.code === 0, out: r.code === 0 ? r.stdout : describeFailure('iptables', args, r) };
}

/** `iptables -t <table> -S`: every chain (`-N`, `-P`) and rule (`-A`) line. */
export async function rules(table: string): Promise<string[]> {
  const r = await ipt(['-t', table, '-S']);
  if (!r.ok) throw unavailable(`listing iptables table ${table}: ${r.out}`);
  return r.out.split('\n').filter((l) => l !== '');
}

const chainsOf = (lines: string[]): Set<string> =>
  new Set(lines.filter((l) => l.startsWith('-N ')).map((l) => l.slice(3)));
const rulesIn = (lines: string[], chain: string): string[] => lines.filter((l) => l.startsWith(`-A ${chain} `));

async function deleteRule(table: string, line: string): Promise<void> {
  const args = splitRule(line);
  args[0] = '-D';
  const r = await ipt(['-t', table, ...args]);
  if (!r.ok) throw unavailable(`deleting iptables rule "${line}" from table ${table}: ${r.out}`);
}

async function dropChain(table: string, chain: string): Promise<void> {
  for (const op of ['-F', '-X']) {
    const r = await ipt(['-t', table, op, chain]);
    if (!r.ok) throw unavailable(`removing iptables chain ${chain} from table ${table}: ${r.out}`);
  }
}

/** Removes the bridge plugin's masquerade rules of (network, container) if any are left. Idempotent. */
export async function removeMasqRules(network: string, containerId: string): Promise<void> {
  const lines = await rules('nat');
  const chain = cniChainName(network, containerId);
  const tag = `name: "${network}" id: "${containerId}"`;
  for (const l of lines) {
    if (l.startsWith('-A POSTROUTING ') && splitRule(l).includes(tag) && l.endsWith(`-j ${chain}`))
      await deleteRule('nat', l);
  }
  if (chainsOf(lines).has(chain)) await dropChain('nat', chain);
}

const PORTMAP_SETMARK_RULE =
  /^-A CNI-HOSTPORT-SETMARK (-m comment --comment "[^"]*" )?-j MARK --set-xmark 0x[0-9a-f]+\/0x[0-9a-f]+$/;
const PORTMAP_MASQ_RULE = /^-A CNI-HOSTPORT-MASQ -m mark --mark 0x[0-9a-f]+\/0x[0-9a-f]+ -j MASQUERADE$/;
const FIREWALL_ADMIN_JUMP = /^-A CNI-FORWARD (-m comment --comment "[^"]*" )?-j CNI-ADMIN$/;

/** Deletes the shared CNI chains that are unused; returns the chains it removed. */
export async function pruneSharedChains(): Promise<string[]> {
  const removed: string[] = [];
  let nat = await rules('nat');
  let chains = chainsOf(nat);
  const portmapUnused =
    chains.has('CNI-HOSTPORT-DNAT') &&
    rulesIn(nat, 'CNI-HOSTPORT-DNAT').length === 0 &&
    ![...chains].some((c) => c.startsWith('CNI-DN-')) &&
    rulesIn(nat, 'CNI-HOSTPORT-SETMARK').every((l) => PORTMAP_SETMARK_RULE.test(l)) &&
    rulesIn(nat, 'CNI-HOSTPORT-MASQ').every((l) => PORTMAP_MASQ_RULE.test(l));
  if (portmapUnused) {
    const mine = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-MASQ'];
    for (const l of nat) {
      if (/^-A (PREROUTING|OUTPUT|POSTROUTING) /.test(l) && mine.some((c) => l.endsWith(`-j ${c}`)))
        await deleteRule('nat', l);
    }
    nat = await rules('nat');
    chains = chainsOf(nat);
    for (const c of mine) {
      if (!chains.has(c)) continue;
      await dropChain('nat', c);
      removed.push(c);
    }
  }
  const filter = await rules('filter');
  const fchains = chainsOf(filter);
  const firewallUnused =
    fchains.has('CNI-FORWARD') &&
    rulesIn(filter, 'CNI-FORWARD').every((l) => FIREWALL_ADMIN_JUMP.test(l)) &&
    rulesIn(filter, 'CNI-ADMIN').length === 0;
  if (firewallUnused) {
    for (const l of filter) if (/^-A FORWARD /.test(l) && l.endsWith('-j CNI-FORWARD')) await deleteRule('filter', l);
    await dropChain('filter', 'CNI-FORWARD');
    removed.push('CNI-FORWARD');
    if (fchains.has('CNI-ADMIN')) {
      await dropChain('filter', 'CNI-ADMIN');
      removed.push('CNI-ADMIN');
    }
  }
  return removed;
}

/**
 * The DNAT rules portmap made for (network, container), checked here because portmap 1.1.1's own
 * CHECK also looks for IPv6 rules it never made and fails (containernetworking/plugins#819).
 * Returns what is missing, empty when every mapping has its rule.
 */
export async function missingPortmapRules(
  network: string,
  containerId: string,
  ip: string,
  mappings: ReadonlyArray<{ hostPort: number; containerPort: number; protocol: string }>,
): Promise<string[]> {
  const lines = await rules('nat');
  const chain = cniChainName(network, containerId, 'DN-');
  const mine = rulesIn(lines, chain);
  const jumped = rulesIn(lines, 'CNI-HOSTPORT-DNAT').some((l) => l.endsWith(`-j ${chain}`));
  const missing = jumped ? [] : [`no jump from CNI-HOSTPORT-DNAT to ${chain}`];
  for (const m of mappings) {
    const want = `-p ${m.protocol} -m ${m.protocol} --dport ${m.hostPort} -j DNAT --to-destination ${ip}:${m.containerPort}`;
    if (!mine.some((l) => l.includes(want)))
      missing.push(`no DNAT of ${m.protocol} port ${m.hostPort} to ${ip}:${m.containerPort} in ${chain}`);
  }
  return missing;
}
