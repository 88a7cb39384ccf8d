import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePort } from './container-verbs.ts';
import { portLines } from './system-verbs.ts';

test("-p takes docker's forms; a missing or empty host port is 0 (berthd picks one); ranges as docker's CLI reads them", () => {
  const tcp = (hostIP: string, hostPort: number, containerPort: number) => ({
    hostIP,
    hostPort,
    containerPort,
    protocol: 'tcp',
  });
  assert.deepEqual(parsePort('80'), [tcp('127.0.0.1', 0, 80)]);
  assert.deepEqual(parsePort('127.0.0.1::80'), [tcp('127.0.0.1', 0, 80)]);
  assert.deepEqual(parsePort('0.0.0.0::53/udp'), [
    { hostIP: '0.0.0.0', hostPort: 0, containerPort: 53, protocol: 'udp' },
  ]);
  assert.deepEqual(parsePort('8080:80'), [tcp('127.0.0.1', 8080, 80)]);
  assert.deepEqual(parsePort('10.0.0.1:8080:80/tcp'), [tcp('10.0.0.1', 8080, 80)]);
  assert.deepEqual(parsePort('8000-8002:80-82'), [
    tcp('127.0.0.1', 8000, 80),
    tcp('127.0.0.1', 8001, 81),
    tcp('127.0.0.1', 8002, 82),
  ]);
  assert.deepEqual(parsePort('127.0.0.1:9000-9001:80-81/udp'), [
    { hostIP: '127.0.0.1', hostPort: 9000, containerPort: 80, protocol: 'udp' },
    { hostIP: '127.0.0.1', hostPort: 9001, containerPort: 81, protocol: 'udp' },
  ]);
  assert.deepEqual(parsePort('8000-8010:80'), [{ ...tcp('127.0.0.1', 8000, 80), hostPortEnd: 8010 }]);
  assert.deepEqual(parsePort('80-81'), [tcp('127.0.0.1', 0, 80), tcp('127.0.0.1', 0, 81)]);
  for (const bad of ['', ':', 'x:80', '80/sctp2', '1.2.3.4:80', '::80'])
    assert.throws(() => parsePort(bad), /expected \[\[HOST_IP:\]\[HOST_PORT\[-END\]\]:\]CONTAINER_PORT/, bad);
  assert.throws(() => parsePort('8000-8001:80-82'), /differ in length/);
  assert.throws(() => parsePort('9-8:80'), /host port 9-8: expected ports in 1-65535, the start first/);
  assert.throws(() => parsePort('70000:80'), /expected ports in 1-65535/);
});

test("port prints docker port's lines (sorted by port, as docker 28), and names what is not published", () => {
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
  assert.deepEqual(portLines(d), ['53/udp -> 0.0.0.0:40000', '80/tcp -> 127.0.0.1:32768']);
  assert.deepEqual(portLines(d, '80'), ['127.0.0.1:32768']);
  assert.deepEqual(portLines(d, '53/udp'), ['0.0.0.0:40000']);
  assert.throws(() => portLines(d, '443'), /no public port '443\/tcp' published for web/);
  assert.throws(() => portLines(d, 'http'), /expected PRIVATE_PORT/);
  assert.deepEqual(portLines({ name: 'x' }), []);
});
