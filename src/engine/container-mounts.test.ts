import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { MetadataStore } from '../metadata/metadata-store.ts';
import { resolveMounts } from './container-mounts.ts';
import { EventBus } from './event-bus.ts';
import type { ContainerConfig, MountRequest } from './types.ts';
import { VolumeService } from './volume-service.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-mounts-'));
const store = new MetadataStore<ContainerConfig>(join(dir, 'berthd.db'));
const events = new EventBus(store);
const volumes = new VolumeService(dir, store, events);
const volume = async (name: string) => (await volumes.ensure(name)).mountpoint;
after(() => {
  events.flush();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('volume, bind and tmpfs requests become OCI mounts; a volume is made on first use', async () => {
  const m = await resolveMounts(
    [
      { type: 'volume', source: 'data', target: '/data' },
      { type: 'bind', source: dir, target: '/host', readOnly: true },
      { type: 'tmpfs', target: '/run' },
      { type: 'tmpfs', target: '/scratch', options: ['size=1m'] },
    ],
    volume,
  );
  assert.deepEqual(m, [
    { destination: '/data', type: 'bind', source: join(dir, 'volumes/data/_data'), options: ['rbind', 'rprivate'] },
    { destination: '/host', type: 'bind', source: dir, options: ['rbind', 'rprivate', 'ro'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m'] },
  ]);
  assert.equal(volumes.inspect('data').name, 'data');
});

test('each bad mount is refused naming its target and what was expected', async () => {
  const bad = async (m: MountRequest, re: RegExp) => assert.rejects(resolveMounts([m], volume), (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && re.test((e as Error).message));
  await bad({ type: 'bind', source: dir, target: 'rel' }, /mount target "rel": expected an absolute path/);
  await bad({ type: 'volume', target: '/v' }, /volume mount on \/v: a volume name is required/);
  await bad({ type: 'bind', source: 'relative', target: '/b' }, /bind mount on \/b: source "relative" must be an absolute host path/);
  await bad({ type: 'bind', source: join(dir, 'missing'), target: '/b' }, /bind mount on \/b: source .*missing does not exist on the host/);
  await bad({ type: 'nfs', target: '/n' } as unknown as MountRequest, /mount type "nfs": expected volume, bind or tmpfs/);
});
