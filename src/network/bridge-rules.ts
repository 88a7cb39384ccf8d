// berth's host rules for its bridge networks: one set per bridge, made with the network (and again
// at every open, after a reboot or a takeover) and removed with it. Nothing here is per container,
// so attaching a container runs no iptables at all (the firewall plugin and the bridge plugin's
// ipMasq did, several processes per container).
//   filter  BERTH-ISOLATION-STAGE-1  -i <bridge> ! -o <bridge> -j BERTH-ISOLATION-STAGE-2
//           BERTH-ISOLATION-STAGE-2  -o <bridge> -j DROP
//           BERTH-FORWARD            -i <bridge> -j ACCEPT
//                                    -o <bridge> -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//           FORWARD begins with      -j BERTH-ISOLATION-STAGE-1, then -j BERTH-FORWARD
//   nat     BERTH-MASQUERADE         -s <subnet> ! -o <bridge> -j MASQUERADE
//           POSTROUTING              -j BERTH-MASQUERADE
// Isolation, as dockerd isolates its bridges: a packet that enters from one berth bridge and leaves
// by another is dropped; everything else (to the outside, from the host, published ports DNATed
// from the host's addresses, within one bridge) goes on. BERTH-FORWARD lets a network's traffic
// through FORWARD on a host whose policy drops it (what the firewall plugin's per-address CNI-FORWARD
// rules did), after isolation has had its say. BERTH-MASQUERADE hides the subnet behind the host's
// address on the way out (what the bridge plugin's ipMasq did, per address).
// The chains are shared by every berth store on the host (berthds under other roots, tests): each
// adds and removes only its own bridges' rules, and a chain goes, atomically with its jump, only
// when it is empty (an iptables-restore batch that the kernel refuses whole if another store has
// added a rule meanwhile; nf_tables will not delete a non-empty chain).
// Must never: touch a chain or rule other than these chains, their rules and their jumps.
import { unavailable } from '../errors/errors.ts';
import { ipt, rules, splitRule } from './iptables.ts';
import { runCommand } from './run-command.ts';

export const ISOLATION_STAGE_1 = 'BERTH-ISOLATION-STAGE-1';
export const ISOLATION_STAGE_2 = 'BERTH-ISOLATION-STAGE-2';
export const FORWARD_CHAIN = 'BERTH-FORWARD';
export const MASQUERADE_CHAIN = 'BERTH-MASQUERADE';

type Table = 'filter' | 'nat';

/** Chains that are made and removed together, with the built-in chain that jumps to their head. */
type ChainGroup = { table: Table; chains: string[]; from: string };
const ISOLATION: ChainGroup = { table: 'filter', chains: [ISOLATION_STAGE_1, ISOLATION_STAGE_2], from: 'FORWARD' };
const FORWARD: ChainGroup = { table: 'filter', chains: [FORWARD_CHAIN], from: 'FORWARD' };
const MASQUERADE: ChainGroup = { table: 'nat', chains: [MASQUERADE_CHAIN], from: 'POSTROUTING' };
const GROUPS = [ISOLATION, FORWARD, MASQUERADE];
const jumpOf = (g: ChainGroup) => `-A ${g.from} -j ${g.chains[0]}`;

/** The rules of `bridge` (subnet `subnet`) as `iptables -S` lists them, per table, in the order they are added. */
export function bridgeRules(bridge: string, subnet: string): Record<Table, string[]> {
  return {
    // Stage 2 before stage 1's jump to it, so that the jump never reaches a chain without its DROP.
    filter: [
      `-A ${ISOLATION_STAGE_2} -o ${bridge} -j DROP`,
      `-A ${ISOLATION_STAGE_1} -i ${bridge} ! -o ${bridge} -j ${ISOLATION_STAGE_2}`,
      `-A ${FORWARD_CHAIN} -i ${bridge} -j ACCEPT`,
      `-A ${FORWARD_CHAIN} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ],
    nat: [`-A ${MASQUERADE_CHAIN} -s ${subnet} ! -o ${bridge} -j MASQUERADE`],
  };
}

/** True for a rule of one of berth's chains that names `bridge` as its in or out interface. */
function namesBridge(line: string, bridge: string): boolean {
  const args = splitRule(line);
  if (args[0] !== '-A' || !GROUPS.some((g) => g.chains.includes(args[1]!))) return false;
  return args.some((a, i) => (a === '-i' || a === '-o') && args[i + 1] === bridge);
}

/** Applies iptables-restore lines to `table` as one transaction; false if refused. */
async function restore(table: Table, lines: string[]): Promise<boolean> {
  const r = await runCommand('iptables-restore', ['-w', '5', '--noflush'], {
    input: `*${table}\n${lines.join('\n')}\nCOMMIT\n`,
  });
  return r.code === 0;
}

async function deleteRule(table: Table, line: string): Promise<void> {
  const args = splitRule(line);
  args[0] = '-D';
  const r = await ipt(['-t', table, ...args]);
  if (!r.ok && !/does a matching rule exist|No chain|Bad rule/.test(r.out))
    throw unavailable(`removing iptables rule "${line}" from table ${table}: ${r.out}`);
}

// Another store may remove the (empty) chains between two of our steps: each step that then fails
// is retried from a fresh listing.
const ATTEMPTS = 5;

/**
 * Adds `bridge`'s rules (idempotent), removes rules of berth's chains that name it with another
 * subnet (a bridge taken over from another network), and puts the jumps in place.
 */
export async function installBridgeRules(bridge: string, subnet: string): Promise<void> {
  const want = bridgeRules(bridge, subnet);
  for (const table of ['filter', 'nat'] as const) {
    let last = '';
    let done = false;
    for (let i = 0; i < ATTEMPTS && !done; i++) {
      const lines = await rules(table);
      for (const g of GROUPS.filter((x) => x.table === table)) {
        for (const chain of g.chains) {
          if (!lines.includes(`-N ${chain}`)) await ipt(['-t', table, '-N', chain]); // "already exists" from a racing store is fine
        }
      }
      for (const stale of lines.filter((l) => namesBridge(l, bridge) && !want[table].includes(l)))
        await deleteRule(table, stale);
      done = true;
      for (const rule of want[table]) {
        if (lines.includes(rule)) continue;
        const r = await ipt(['-t', table, ...rule.split(' ')]);
        if (!r.ok) {
          done = false;
          last = r.out;
          break;
        }
      }
      if (done) done = await (table === 'filter' ? forwardJumpsFirst() : masqueradeJump());
    }
    if (!done)
      throw unavailable(
        `installing the iptables rules of bridge ${bridge} (table ${table}, chains ${GROUPS.filter(
          (g) => g.table === table,
        )
          .flatMap((g) => g.chains)
          .join(', ')}): ${last || 'the rules kept changing under us'}`,
      );
  }
}

/**
 * Makes FORWARD begin with the jump to isolation, and jump to BERTH-FORWARD once, after it: a
 * network's traffic is accepted only once isolation has dropped what crosses bridges. (Another CNI
 * user's firewall plugin inserts its own jump at the top; it accepts its own addresses only.)
 * Returns false if a chain is gone (another store removed it) or the batch was refused.
 */
async function forwardJumpsFirst(): Promise<boolean> {
  const lines = await rules('filter');
  if (!lines.includes(`-N ${ISOLATION_STAGE_1}`) || !lines.includes(`-N ${FORWARD_CHAIN}`)) return false;
  const forward = lines.filter((l) => l.startsWith('-A FORWARD '));
  const count = (g: ChainGroup) => forward.filter((l) => l === jumpOf(g)).length;
  const iso = forward.indexOf(jumpOf(ISOLATION));
  const fwd = forward.indexOf(jumpOf(FORWARD));
  if (iso === 0 && fwd > 0 && count(ISOLATION) === 1 && count(FORWARD) === 1) return true;
  return restore('filter', [
    ...Array.from({ length: count(ISOLATION) }, () => `-D FORWARD -j ${ISOLATION_STAGE_1}`),
    ...Array.from({ length: count(FORWARD) }, () => `-D FORWARD -j ${FORWARD_CHAIN}`),
    `-I FORWARD 1 -j ${FORWARD_CHAIN}`,
    `-I FORWARD 1 -j ${ISOLATION_STAGE_1}`,
  ]);
}

/** POSTROUTING jumps to BERTH-MASQUERADE (once; where does not matter: only MASQUERADE is there). */
async function masqueradeJump(): Promise<boolean> {
  const lines = await rules('nat');
  if (!lines.includes(`-N ${MASQUERADE_CHAIN}`)) return false;
  if (lines.includes(jumpOf(MASQUERADE))) return true;
  return restore('nat', [`-A POSTROUTING -j ${MASQUERADE_CHAIN}`]);
}

/** Removes every rule of berth's chains that names `bridge`, and each chain group left empty with its jumps. Idempotent. */
export async function removeBridgeRules(bridge: string): Promise<void> {
  for (const table of ['filter', 'nat'] as const) {
    for (const rule of (await rules(table)).filter((l) => namesBridge(l, bridge))) await deleteRule(table, rule);
    const lines = await rules(table);
    for (const g of GROUPS.filter((x) => x.table === table)) {
      const chains = g.chains.filter((c) => lines.includes(`-N ${c}`));
      const inUse = lines.some((l) => g.chains.some((c) => l.startsWith(`-A ${c} `)));
      if (chains.length === 0 || inUse) continue;
      const jumps = lines.filter((l) => l === jumpOf(g)).length;
      // Refused whole if another store added a rule since the listing: then the chains are its.
      await restore(table, [
        ...Array.from({ length: jumps }, () => `-D ${g.from} -j ${g.chains[0]}`),
        ...chains.map((c) => `-X ${c}`),
      ]);
    }
  }
}
