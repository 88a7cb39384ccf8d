import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePort } from './container-verbs.ts';
import { portLines } from './system-verbs.ts';

test("-p takes docker's forms; a missing or empty host port is 0 (berthd picks one)", () => {
  assert.deepEqual(parsePort('80'), { hostIP: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePort('127.0.0.1::80'), {
    hostIP: '127.0.0.1',
    hostPort: 0,
    containerPort: 80,
    protocol: 'tcp',
  });
  assert.deepEqual(parsePort('0.0.0.0::53/udp'), {
    hostIP: '0.0.0.0',
    hostPort: 0,
    containerPort: 53,
    protocol: 'udp',
  });
  assert.deepEqual(parsePort('8080:80'), { hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePort('10.0.0.1:8080:80/tcp'), {
    hostIP: '10.0.0.1',
    hostPort: 8080,
    containerPort: 80,
    protocol: 'tcp',
  });
  for (const bad of ['', ':', 'x:80', '80/sctp2', '1.2.3.4:80', '::80'])
    assert.throws(() => parsePort(bad), /expected \[\[HOST_IP:\]\[HOST_PORT\]:\]CONTAINER_PORT/, bad);
});

test("port prints docker port's lines, and names what is not published", () => {
  const d = {
    name: 'web',
    networkSettings: {
      ports: {
        '80/tcp': [{ hostIp: '127.0.0.1', hostPort: '32768' }],
        '53/udp': [{ hostIp: '', hostPort: '40000' }],
        '443/tcp': null,
      },
    },
  };
  assert.deepEqual(portLines(d), ['80/tcp -> 127.0.0.1:32768', '53/udp -> 0.0.0.0:40000']);
  assert.deepEqual(portLines(d, '80'), ['127.0.0.1:32768']);
  assert.deepEqual(portLines(d, '53/udp'), ['0.0.0.0:40000']);
  assert.throws(() => portLines(d, '443'), /no public port '443\/tcp' published for web/);
  assert.throws(() => portLines(d, 'http'), /expected PRIVATE_PORT/);
  assert.deepEqual(portLines({ name: 'x' }), []);
});
