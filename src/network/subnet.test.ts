import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { addressPrefixes, configSubnets, routePrefixes } from './host-routes.ts';
import { contains, firstHost, formatCidr, isPrivate, overlaps, parseCidr, pickFree } from './subnet.ts';

test('parseCidr accepts network addresses and rejects host bits and junk', () => {
  assert.equal(formatCidr(parseCidr('10.89.0.0/16')), '10.89.0.0/16');
  assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
  for (const bad of ['10.89.0.1/16', '10.89.0.0', '10.256.0.0/16', '10.89.0.0/33', 'fd00::/64', '']) {
    assert.throws(
      () => parseCidr(bad),
      (e) => isBerthError(e) && e.message.includes(`"${bad}"`),
      bad,
    );
  }
});

test('overlap, containment, private ranges, gateway', () => {
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.89.3.0/24')));
  assert.ok(overlaps(parseCidr('10.89.3.0/24'), parseCidr('10.0.0.0/8')));
  assert.ok(!overlaps(parseCidr('10.89.0.0/16'), parseCidr('10.90.0.0/16')));
  assert.ok(contains(parseCidr('192.168.4.0/22'), parseCidr('192.168.7.255/32').base));
  assert.ok(isPrivate(parseCidr('172.20.0.0/16')));
  assert.ok(!isPrivate(parseCidr('172.32.0.0/16')));
  assert.ok(!isPrivate(parseCidr('8.8.8.0/24')));
  assert.ok(!isPrivate(parseCidr('10.0.0.0/7')));
  assert.equal(firstHost(parseCidr('10.89.0.0/16')), '10.89.0.1');
  assert.throws(() => firstHost(parseCidr('10.1.1.0/31')));
});

test('pickFree skips every taken prefix, including a covering route', () => {
  assert.equal(formatCidr(pickFree([])!), '10.89.0.0/16');
  const taken = ['10.89.5.0/24', '10.90.0.0/15'].map((c) => parseCidr(c));
  assert.equal(formatCidr(pickFree(taken)!), '10.92.0.0/16');
  assert.equal(pickFree([parseCidr('10.0.0.0/8')]), undefined);
});

test('host routes, addresses and other CNI configs are read as taken prefixes', () => {
  const routes = JSON.stringify([
    { dst: 'default', gateway: '192.0.2.1' },
    { dst: '192.0.2.0/24', dev: 'eth0' },
    { type: 'local', dst: '192.0.2.2', table: 'local' },
  ]);
  assert.deepEqual(routePrefixes(routes).map(formatCidr), ['192.0.2.0/24', '192.0.2.2/32']);
  const addrs = JSON.stringify([
    {
      ifname: 'eth0',
      addr_info: [
        { family: 'inet', local: '10.91.3.7', prefixlen: 16 },
        { family: 'inet6', local: 'fd00::2', prefixlen: 64 },
      ],
    },
  ]);
  assert.deepEqual(addressPrefixes(addrs).map(formatCidr), ['10.91.0.0/16']);
  // A bridge berth takes over: its own routes and addresses do not count.
  const bridged = JSON.stringify([
    { dst: '10.89.0.0/16', dev: 'berth0' },
    { type: 'local', dst: '10.89.0.1', dev: 'berth0', table: 'local' },
    { dst: '192.0.2.0/24', dev: 'eth0' },
  ]);
  assert.deepEqual(routePrefixes(bridged, 'berth0').map(formatCidr), ['192.0.2.0/24']);
  assert.deepEqual(
    addressPrefixes(
      JSON.stringify([{ ifname: 'berth0', addr_info: [{ family: 'inet', local: '10.89.0.1', prefixlen: 16 }] }]),
      'berth0',
    ),
    [],
  );
  const podman = {
    plugins: [{ type: 'bridge', ipam: { ranges: [[{ subnet: '10.88.0.0/16' }], [{ subnet: 'fd00::/64' }]] } }],
  };
  assert.deepEqual(configSubnets(podman).map(formatCidr), ['10.88.0.0/16']);
});
