import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { LocalContentStore } from '../content/local-content-store.ts';
import { MetadataStore } from '../metadata/metadata-store.ts';
import { procStat, selfIdentity } from '../sys/procfs.ts';
import { releaseLeasesOfDeadOwners } from './lease-recovery.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-lease-recovery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('releases the leases of owners that are gone or whose pid was reused; keeps live owners and ownerless leases', async () => {
  const meta = new MetadataStore(join(dir, 'berthd.db'));
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    await once(child, 'spawn');
    const live = { pid: child.pid!, startTime: procStat(child.pid!)!.startTime };
    const dead = spawn('true', { stdio: 'ignore' });
    await once(dead, 'exit');
    const content = new LocalContentStore(join(dir, 'content'), { leases: meta.leases });
    await content.createLease('a', { kind: 'pull', owner: live });
    await content.createLease('b', { kind: 'pull', owner: { pid: dead.pid!, startTime: '1' } });
    await content.createLease('c', { kind: 'create', owner: { pid: live.pid, startTime: `${live.startTime}0` } });
    await content.createLease('d', { kind: 'load' });
    await content.createLease('e', { kind: 'import', owner: selfIdentity() });
    // Taken by an older berth: the migration recorded its pid but could not know its start time.
    await content.createLease('f', { kind: 'pull', owner: { pid: live.pid, startTime: '' } });
    await content.createLease('g', { kind: 'pull', owner: { pid: dead.pid!, startTime: '' } });
    // An id that looks like another process's lease means nothing: only the owner column counts.
    await content.createLease(`pull-${dead.pid}-x`, { kind: 'pull', owner: selfIdentity() });
    assert.deepEqual((await releaseLeasesOfDeadOwners(content)).sort(), ['b', 'c', 'g']);
    assert.deepEqual((await content.listLeases()).map((l) => l.id).sort(), ['a', 'd', 'e', 'f', `pull-${dead.pid}-x`]);
  } finally {
    child.kill();
    meta.close();
  }
});
