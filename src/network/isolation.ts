// Isolation between berth's bridge networks, as dockerd isolates its bridges: a container on one
// network cannot reach a container on another through the host's routing. Two chains in the filter
// table, jumped to first from FORWARD (before the firewall plugin's CNI-FORWARD, which accepts
// every packet from a container's address):
//   BERTH-ISOLATION-STAGE-1: -i <bridge> ! -o <bridge> -j BERTH-ISOLATION-STAGE-2   (per network)
//   BERTH-ISOLATION-STAGE-2: -o <bridge> -j DROP                                     (per network)
// so a packet that enters from one berth bridge and leaves by another is dropped, and everything
// else (to the outside, from the host, published ports DNATed from the host's addresses, within
// one bridge) goes on. The chains are shared by every berth store on the host (berthds under other
// roots, tests): each adds and removes only its own bridges' rules, and the chains go, atomically,
// only when they are empty (an iptables-restore batch that the kernel refuses whole if another
// store has added a rule meanwhile).
// Must never: touch a chain or rule other than these two chains, their rules and FORWARD's jump.
import { unavailable } from '../errors/errors.ts';
import { ipt, rules } from './iptables.ts';
import { runCommand } from './run-command.ts';

export const ISOLATION_STAGE_1 = 'BERTH-ISOLATION-STAGE-1';
export const ISOLATION_STAGE_2 = 'BERTH-ISOLATION-STAGE-2';
const JUMP = `-A FORWARD -j ${ISOLATION_STAGE_1}`;

/** The two rules that isolate `bridge`, as `iptables -S` lists them. */
export function isolationRules(bridge: string): [string, string] {
  return [
    `-A ${ISOLATION_STAGE_1} -i ${bridge} ! -o ${bridge} -j ${ISOLATION_STAGE_2}`,
    `-A ${ISOLATION_STAGE_2} -o ${bridge} -j DROP`,
  ];
}

/** Applies iptables-restore lines to the filter table as one transaction; false if refused. */
async function restore(lines: string[]): Promise<boolean> {
  const r = await runCommand('iptables-restore', ['-w', '5', '--noflush'], {
    input: `*filter\n${lines.join('\n')}\nCOMMIT\n`,
  });
  return r.code === 0;
}

// Another store may remove the (empty) chains between two of our steps: each step that then fails
// is retried from a fresh listing.
const ATTEMPTS = 5;

/** Adds `bridge`'s isolation rules (idempotent) and makes sure FORWARD jumps to them first. */
export async function isolateBridge(bridge: string): Promise<void> {
  const want = isolationRules(bridge);
  let last = '';
  for (let i = 0; i < ATTEMPTS; i++) {
    const lines = await rules('filter');
    let ok = true;
    for (const chain of [ISOLATION_STAGE_2, ISOLATION_STAGE_1]) {
      if (!lines.includes(`-N ${chain}`)) await ipt(['-t', 'filter', '-N', chain]); // "already exists" from a racing store is fine
    }
    // Stage 2 first, so that stage 1's rule never jumps to a chain without its DROP.
    for (const rule of [want[1], want[0]]) {
      if (lines.includes(rule)) continue;
      const r = await ipt(['-t', 'filter', ...rule.split(' ')]);
      if (!r.ok) {
        ok = false;
        last = r.out;
        break;
      }
    }
    if (ok && (await jumpFirst())) return;
  }
  throw unavailable(
    `isolating bridge ${bridge} from berth's other networks (iptables chains ${ISOLATION_STAGE_1}/${ISOLATION_STAGE_2}): ${last || 'the rules kept changing under us'}`,
  );
}

/**
 * Makes FORWARD's first rule the jump to stage 1 (once): the firewall plugin inserts its own jump
 * at the top when it is missing, which would accept a container's packets before isolation.
 * Returns false if the chains are gone (another store removed them) or the batch was refused.
 */
export async function jumpFirst(): Promise<boolean> {
  const lines = await rules('filter');
  if (!lines.includes(`-N ${ISOLATION_STAGE_1}`)) return false;
  const forward = lines.filter((l) => l.startsWith('-A FORWARD '));
  const jumps = forward.filter((l) => l === JUMP).length;
  if (forward[0] === JUMP && jumps === 1) return true;
  return restore([
    ...Array.from({ length: jumps }, () => `-D FORWARD -j ${ISOLATION_STAGE_1}`),
    `-I FORWARD 1 -j ${ISOLATION_STAGE_1}`,
  ]);
}

/** Removes `bridge`'s isolation rules, and the chains with FORWARD's jump if no rule is left in them. Idempotent. */
export async function unisolateBridge(bridge: string): Promise<void> {
  let lines = await rules('filter');
  for (const rule of isolationRules(bridge)) {
    for (const _ of lines.filter((l) => l === rule)) {
      const args = rule.split(' ');
      args[0] = '-D';
      const r = await ipt(['-t', 'filter', ...args]);
      if (!r.ok && !/does a matching rule exist|No chain|Bad rule/.test(r.out))
        throw unavailable(`removing iptables rule "${rule}": ${r.out}`);
    }
  }
  lines = await rules('filter');
  const chains = [ISOLATION_STAGE_1, ISOLATION_STAGE_2].filter((c) => lines.includes(`-N ${c}`));
  const inUse = lines.some((l) => l.startsWith(`-A ${ISOLATION_STAGE_1} `) || l.startsWith(`-A ${ISOLATION_STAGE_2} `));
  if (chains.length === 0 || inUse) return;
  const jumps = lines.filter((l) => l === JUMP).length;
  // Refused whole if another store added a rule since the listing: then the chains are its.
  await restore([
    ...Array.from({ length: jumps }, () => `-D FORWARD -j ${ISOLATION_STAGE_1}`),
    ...chains.map((c) => `-X ${c}`),
  ]);
}
