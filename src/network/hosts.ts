// Name resolution on a user network, the simple way: /etc/hosts lines naming every container
// attached to the network by its aliases. The engine writes them into each container's hosts file
// (it owns that file); this module only computes and formats them. Pure.

export interface HostsEntry {
  ip: string;
  names: string[];
}

/** Entries sorted by address; a name claimed twice keeps its first address only (hosts files take the first match anyway). */
export function hostsEntriesOf(
  items: ReadonlyArray<{ ip: string | undefined; names: readonly string[] }>,
): HostsEntry[] {
  const seen = new Set<string>();
  const out: HostsEntry[] = [];
  const sorted = items
    .filter((i): i is { ip: string; names: readonly string[] } => !!i.ip)
    .sort((a, b) => compareIp(a.ip, b.ip));
  for (const { ip, names } of sorted) {
    const fresh = names.filter((n) => n !== '' && !seen.has(n));
    for (const n of fresh) seen.add(n);
    if (fresh.length > 0) out.push({ ip, names: fresh });
  }
  return out;
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** hosts(5) lines, one per entry. */
export function formatHosts(entries: readonly HostsEntry[]): string {
  return entries.map((e) => `${e.ip}\t${e.names.join(' ')}\n`).join('');
}
