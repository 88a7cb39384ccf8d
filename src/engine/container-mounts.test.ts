import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { MetadataStore } from '../metadata/metadata-store.ts';
import { readMountInfo } from '../sys/mountinfo.ts';
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
  const bad = async (m: MountRequest, re: RegExp) =>
    assert.rejects(
      resolveMounts([m], volume),
      (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && re.test((e as Error).message),
    );
  await bad({ type: 'bind', source: dir, target: 'rel' }, /mount target "rel": expected an absolute path/);
  await bad({ type: 'volume', target: '/v' }, /volume mount on \/v: a volume name is required/);
  await bad(
    { type: 'bind', source: 'relative', target: '/b' },
    /bind mount on \/b: source "relative" must be an absolute host path/,
  );
  await bad(
    { type: 'bind', source: join(dir, 'missing'), target: '/b' },
    /bind mount on \/b: source .*missing does not exist on the host/,
  );
  await bad(
    { type: 'nfs', target: '/n' } as unknown as MountRequest,
    /mount type "nfs": expected volume, bind or tmpfs/,
  );
  await bad(
    { type: 'bind', source: dir, target: '/b', propagation: 'shared' as 'rshared' },
    /bind mount on \/b: propagation "shared": expected rprivate, rslave or rshared/,
  );
});

test('a propagating bind is refused where its host mount does not propagate (the mount holding the source, as containerd)', async (t) => {
  const holder = readMountInfo()
    .filter((m) => dir === m.mountPoint || dir.startsWith(m.mountPoint === '/' ? '/' : `${m.mountPoint}/`))
    .sort((a, b) => a.mountPoint.length - b.mountPoint.length)
    .at(-1)!;
  const shared = holder.optionalFields.some((f) => f.startsWith('shared:'));
  const slave = holder.optionalFields.some((f) => f.startsWith('master:'));
  if (shared)
    return t.skip(
      `${holder.mountPoint} (holding the temp dir) is shared here: the integration test makes its own mounts`,
    );
  const refused = async (propagation: 'rslave' | 'rshared', re: RegExp) =>
    assert.rejects(
      resolveMounts([{ type: 'bind', source: dir, target: '/p', propagation }], volume),
      (e: unknown) => isBerthError(e, ErrorCode.FailedPrecondition) && re.test((e as Error).message),
    );
  await refused(
    'rshared',
    /bind mount on \/p: propagation rshared needs the source .* on a shared mount, but .* is not shared/,
  );
  if (!slave)
    await refused('rslave', /bind mount on \/p: propagation rslave needs the source .* on a shared or slave mount/);
  assert.deepEqual(
    await resolveMounts([{ type: 'bind', source: dir, target: '/p', propagation: 'rprivate' }], volume),
    [{ destination: '/p', type: 'bind', source: dir, options: ['rbind', 'rprivate'] }],
  );
});
