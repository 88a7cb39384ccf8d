// berthd's start-up release of leases whose owner died. A pull holds a lease until its image record
// exists (loads, imports and creates likewise); a berthd (or CLI) killed mid-way leaves it for hours
// (its expiry), pinning what it holds. Owns: that release. Never: reads a lease's id for meaning
// (kind and owner are data, src/content/content-store.ts), or removes content itself (gc does).
import { existsSync } from 'node:fs';
import type { ContentStore } from '../content/content-store.ts';
import { isSameLiveProcess } from '../sys/procfs.ts';

/**
 * Releases the leases whose owner process is gone (by pid and start time, so a reused pid does not
 * keep them), so the next gc can judge that content; the partial ingest stays, so a pull again
 * resumes it. Leases without an owner are left to their expiry. Returns the released ids.
 */
export async function releaseLeasesOfDeadOwners(
  content: Pick<ContentStore, 'listLeases' | 'deleteLease'>,
): Promise<string[]> {
  const released: string[] = [];
  for (const l of await content.listLeases()) {
    const owner = l.owner;
    if (!owner) continue;
    // A lease an older berth took (schema v4) has no start time: only the pid's existence can be asked.
    const alive = owner.startTime ? isSameLiveProcess(owner.pid, owner.startTime) : existsSync(`/proc/${owner.pid}`);
    if (alive) continue;
    await content.deleteLease(l.id);
    released.push(l.id);
  }
  return released;
}
