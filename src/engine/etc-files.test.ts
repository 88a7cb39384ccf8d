import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { containerResolvConf, embeddedResolvConf, hostsBase, writeEtcFiles } from './etc-files.ts';

test("hosts names localhost and the container's hostname", () => {
  assert.equal(hostsBase('web'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tweb\n');
});

test("resolv.conf: the host's loopback resolvers go (unreachable from a netns), a public one stands in when none is left", () => {
  const host = 'search lan\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n';
  assert.equal(containerResolvConf(host, undefined), 'search lan\noptions edns0\nnameserver 8.8.8.8\n');
  assert.equal(containerResolvConf('nameserver 10.0.0.2\nnameserver 127.0.0.1\n', 'berth'), 'nameserver 10.0.0.2\n');
  assert.equal(
    containerResolvConf(host, 'host'),
    'search lan\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n',
    'the host network keeps the host resolvers',
  );
  assert.equal(containerResolvConf('', undefined), 'nameserver 8.8.8.8\n');
});

test('the files are written into the bundle, hosts equal to hosts.base at first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-etc-'));
  try {
    const p = await writeEtcFiles(dir, 'abc123', 'none');
    assert.deepEqual(p, {
      hosts: join(dir, 'hosts'),
      hostname: join(dir, 'hostname'),
      resolvConf: join(dir, 'resolv.conf'),
    });
    assert.equal(readFileSync(p.hostname, 'utf8'), 'abc123\n');
    assert.equal(readFileSync(p.hosts, 'utf8'), hostsBase('abc123'));
    assert.equal(readFileSync(join(dir, 'hosts.base'), 'utf8'), hostsBase('abc123'));
    assert.match(readFileSync(p.resolvConf, 'utf8'), /nameserver/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--add-host lines follow the container's own; a bad entry is refused naming it", () => {
  assert.match(
    hostsBase('h', ['db:10.0.0.5', 'v6:[fd00::1]', 'v6b:::1']),
    /127\.0\.1\.1\th\n10\.0\.0\.5\tdb\nfd00::1\tv6\n::1\tv6b\n$/,
  );
  assert.throws(() => hostsBase('h', ['db']), /extra host "db": expected HOST:IP/);
  assert.throws(() => hostsBase('h', ['db:not-an-ip']), /extra host "db:not-an-ip"/);
});

test("--dns, --dns-search, --dns-option replace the host's parts; bad values are refused naming them", () => {
  const host = 'search lan\noptions edns0\nnameserver 10.0.0.2\n';
  assert.equal(
    containerResolvConf(host, undefined, { servers: ['192.0.2.53'] }),
    'search lan\noptions edns0\nnameserver 192.0.2.53\n',
  );
  assert.equal(
    containerResolvConf(host, undefined, { search: ['a.example', 'b.example'], options: ['ndots:2'] }),
    'nameserver 10.0.0.2\nsearch a.example b.example\noptions ndots:2\n',
  );
  assert.throws(
    () => containerResolvConf(host, undefined, { servers: ['not-an-ip'] }),
    /--dns \(dns\.servers\) "not-an-ip": expected an IP address/,
  );
  assert.throws(
    () => containerResolvConf(host, undefined, { options: ['x y'] }),
    /--dns-option \(dns\.options\) "x y"/,
  );
});

test("resolv.conf of the embedded DNS server: 127.0.0.11 only, the host's search and options, ndots:0 unless given", () => {
  const host = 'search lan corp\nnameserver 10.0.0.2\noptions edns0 timeout:2\n';
  assert.equal(embeddedResolvConf(host), 'nameserver 127.0.0.11\nsearch lan corp\noptions ndots:0 edns0 timeout:2\n');
  assert.equal(embeddedResolvConf('nameserver 10.0.0.2\n'), 'nameserver 127.0.0.11\noptions ndots:0\n');
  assert.equal(
    embeddedResolvConf(host, { search: ['x.test'], options: ['ndots:2'], servers: ['10.9.9.9'] }),
    'nameserver 127.0.0.11\nsearch x.test\noptions ndots:2\n',
    '--dns servers are where it forwards, not in the file',
  );
});
