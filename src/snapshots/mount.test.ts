import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constants as sysc } from '../sys/native.ts';
import { MAX_MOUNT_DATA, compactOverlayOptions, parseOptions } from './mount.ts';

test('parseOptions splits flags from data; later flags win', () => {
  assert.deepEqual(parseOptions(['ro', 'rbind']), { flags: sysc.MS_RDONLY | sysc.MS_BIND | sysc.MS_REC, data: [] });
  assert.deepEqual(parseOptions(['ro', 'rw', 'nosuid', 'lowerdir=/a:/b', 'index=off']), {
    flags: sysc.MS_NOSUID,
    data: ['lowerdir=/a:/b', 'index=off'],
  });
});

test('parseOptions: "defaults" means no flags; options that need more than one mount(2) call are refused', () => {
  assert.deepEqual(parseOptions(['defaults', 'noatime']), { flags: sysc.MS_NOATIME, data: [] });
  for (const o of ['rprivate', 'rro', 'idmap', 'tmpcopyup'])
    assert.throws(() => parseOptions(['ro', o]), /not for a snapshot's mounts/, o);
});

test('compactOverlayOptions rewrites paths relative to their common parent only when needed', () => {
  assert.equal(compactOverlayOptions(['lowerdir=/r/snapshots/1/fs', 'upperdir=/r/snapshots/2/fs']), undefined);
  const root = `/var/lib/${'x'.repeat(150)}/snapshots`;
  const lowers = Array.from({ length: 40 }, (_, i) => `${root}/${40 - i}/fs`);
  const opts = [`workdir=${root}/41/work`, `upperdir=${root}/41/fs`, `lowerdir=${lowers.join(':')}`, 'ro'];
  assert.ok(opts.join(',').length > MAX_MOUNT_DATA);
  const c = compactOverlayOptions(opts);
  assert.ok(c !== undefined);
  assert.equal(c.cwd, root);
  assert.deepEqual(c.options.slice(0, 2), ['workdir=41/work', 'upperdir=41/fs']);
  assert.equal(c.options[2], `lowerdir=${Array.from({ length: 40 }, (_, i) => `${40 - i}/fs`).join(':')}`);
  assert.equal(c.options[3], 'ro');
  assert.ok(c.options.join(',').length < 600);
});
