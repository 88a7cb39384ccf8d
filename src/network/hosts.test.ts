import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatHosts, hostsEntriesOf } from './hosts.ts';

test('hosts entries: sorted by address, first claim of a name wins, nameless and addressless dropped', () => {
  const e = hostsEntriesOf([
    { ip: '10.89.0.10', names: ['web', 'www'] },
    { ip: '10.89.0.9', names: ['db'] },
    { ip: '10.89.0.11', names: ['web'] },
    { ip: undefined, names: ['ghost'] },
    { ip: '10.89.0.12', names: [] },
  ]);
  assert.deepEqual(e, [
    { ip: '10.89.0.9', names: ['db'] },
    { ip: '10.89.0.10', names: ['web', 'www'] },
  ]);
  assert.equal(formatHosts(e), '10.89.0.9\tdb\n10.89.0.10\tweb www\n');
});
