import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { checkCreateRequest, checkMacAddress, publishedPorts } from './container-request.ts';
import type { CreateRequest } from './types.ts';

const invalid = (re: RegExp) => (e: unknown) =>
  isBerthError(e, ErrorCode.InvalidArgument) && re.test((e as Error).message);

test('a create request: the image is required, the restart policy parsed, each wrong field named', () => {
  assert.deepEqual(checkCreateRequest({ image: 'busybox', restart: 'on-failure:2' }), { name: 'on-failure', max: 2 });
  assert.throws(() => checkCreateRequest({ image: '' }), invalid(/"image" is required/));
  assert.throws(() => checkCreateRequest(undefined as unknown as CreateRequest), invalid(/"image" is required/));
  assert.throws(
    () => checkCreateRequest({ image: 'b', autoRemove: true, restart: 'always' }),
    invalid(/--rm and --restart always conflict/),
  );
  assert.throws(() => checkCreateRequest({ image: 'b', name: '-web' }), invalid(/container name "-web": expected/));
  assert.throws(() => checkCreateRequest({ image: 'b', name: 'a/b' }), invalid(/container name "a\/b"/));
  assert.throws(
    () => checkCreateRequest({ image: 'b', network: 'host', publishAll: true }),
    invalid(/cannot be published on network host/),
  );
  assert.throws(
    () =>
      checkCreateRequest({ image: 'b', ports: [{ hostIP: '', hostPort: 8080, containerPort: 0, protocol: 'tcp' }] }),
    invalid(/expected ports in 1-65535/),
  );
  assert.throws(
    () =>
      checkCreateRequest({ image: 'b', ports: [{ hostIP: '', hostPort: 70000, containerPort: 80, protocol: 'tcp' }] }),
    invalid(/expected ports in 1-65535/),
  );
  for (const [hostPort, hostPortEnd] of [
    [0, 8010],
    [8010, 8000],
    [8000, 70000],
  ] as const)
    assert.throws(
      () =>
        checkCreateRequest({
          image: 'b',
          ports: [{ hostIP: '', hostPort, hostPortEnd, containerPort: 80, protocol: 'tcp' }],
        }),
      invalid(/hostPortEnd: expected a host port range hostPort-hostPortEnd within 1-65535/),
    );
  checkCreateRequest({
    image: 'b',
    ports: [{ hostIP: '', hostPort: 8000, hostPortEnd: 8010, containerPort: 80, protocol: 'tcp' }],
  });
  checkCreateRequest({
    image: 'b',
    name: 'web.1_a-b',
    ports: [{ hostIP: '', hostPort: 0, containerPort: 80, protocol: 'tcp' }],
  });
});

test('-P adds every exposed port not mapped already, on a host port picked at start; other keys are skipped', () => {
  const explicit = { hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' } as const;
  const exposed = { '80/tcp': {}, '53/udp': {}, '9000': {}, 'bogus/sctp': {} };
  assert.deepEqual(publishedPorts({ ports: [explicit] }, exposed), [explicit], 'without -P the image changes nothing');
  assert.deepEqual(publishedPorts({ ports: [explicit], publishAll: true }, exposed), [
    explicit,
    // In the order of the image's keys (a bare number comes first in a JSON object).
    { hostIP: '127.0.0.1', hostPort: 0, containerPort: 9000, protocol: 'tcp' },
    { hostIP: '127.0.0.1', hostPort: 0, containerPort: 53, protocol: 'udp' },
  ]);
  assert.deepEqual(publishedPorts({ publishAll: true }, undefined), []);
});

test('network aliases: names as container names are, and only where names resolve', () => {
  checkCreateRequest({ image: 'b', network: 'app', aliases: ['web', 'db.internal'] });
  assert.throws(
    () => checkCreateRequest({ image: 'b', network: 'app', aliases: ['-bad'] }),
    invalid(/^--network-alias \(aliases\[0\]\) "-bad": expected a name/),
  );
  assert.throws(
    () => checkCreateRequest({ image: 'b', network: 'none', aliases: ['web'] }),
    invalid(/^--network-alias \(aliases\): network none has no names to resolve/),
  );
});

test('MAC addresses: six hex pairs, unicast, not all zero, in lower case with colons; the error names the field', () => {
  assert.equal(checkMacAddress('02:42:AC:11:00:09', 'f'), '02:42:ac:11:00:09');
  assert.equal(checkMacAddress('02-42-ac-11-00-0a', 'f'), '02:42:ac:11:00:0a');
  for (const bad of ['zz:42:ac:11:00:02', '02:42:ac:11:00', '02:42-ac:11:00:02', '', 7])
    assert.throws(
      () => checkMacAddress(bad, 'networks[0].macAddress'),
      invalid(/^networks\[0\]\.macAddress .*six hex pairs/),
    );
  assert.throws(
    () => checkMacAddress('01:00:5e:00:00:01', 'macAddress'),
    invalid(/^macAddress 01:00:5e:00:00:01: a multicast/),
  );
  assert.throws(() => checkMacAddress('00:00:00:00:00:00', 'macAddress'), invalid(/all-zero/));
  assert.throws(
    () => checkCreateRequest({ image: 'x', network: 'a', macAddress: '02:42' }),
    invalid(/^--mac-address \(macAddress\) "02:42": expected a MAC address/),
  );
  assert.throws(
    () => checkCreateRequest({ image: 'x', network: 'a', networks: [{ network: 'b', macAddress: 'zz' }] }),
    invalid(/^--network name=b,mac-address \(networks\[0\]\.macAddress\) "zz"/),
  );
  assert.throws(
    () => checkCreateRequest({ image: 'x', network: 'a', ipv4Address: '10.0.0.300' }),
    invalid(/^--ip \(ipv4Address\) "10\.0\.0\.300": expected an IPv4 address/),
  );
  assert.throws(
    () => checkCreateRequest({ image: 'x', network: 'host', macAddress: '02:42:ac:11:00:02' } as CreateRequest),
    invalid(/conflicting options: mac-address and the network mode/),
  );
});
