import assert from 'node:assert/strict';
import { test } from 'node:test';
import { portBindings } from './port-publishing.ts';

test('NetworkSettings.Ports: every requested port, null where nothing is published, the host bindings where they are', () => {
  const requested = [
    { hostIP: '', hostPort: 0, containerPort: 80, protocol: 'tcp' },
    { hostIP: '', hostPort: 5353, containerPort: 53, protocol: 'udp' },
  ] as const;
  const live = [
    { hostIP: '0.0.0.0', hostPort: 32768, containerPort: 80, protocol: 'tcp' },
    { hostIP: '::', hostPort: 32768, containerPort: 80, protocol: 'tcp' },
  ] as const;
  assert.deepEqual(portBindings(requested, live), {
    '80/tcp': [
      { hostIp: '0.0.0.0', hostPort: '32768' },
      { hostIp: '::', hostPort: '32768' },
    ],
    '53/udp': null,
  });
  assert.deepEqual(portBindings([], []), {});
});
