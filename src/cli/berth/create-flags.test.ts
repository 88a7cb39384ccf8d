import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseFlags } from '../runtime/args.ts';
import {
  createRequest,
  parseEnvFile,
  parseDevice,
  parseMount,
  parseUlimit,
  parseVolume,
  runFailureStatus,
} from './container-verbs.ts';
import { CONTAINER_VERBS } from './container-verbs.ts';

const req = (...argv: string[]) => {
  const p = parseFlags(argv, CONTAINER_VERBS.run!.flags, true);
  return createRequest(p.flags, p.rest);
};

test('run flags docker users type become the create request', () => {
  const r = req(
    '--add-host',
    'db:10.0.0.5',
    '--hostname',
    'h1',
    '--cap-add',
    'NET_ADMIN',
    '--cap-drop',
    'chown',
    '--privileged',
    '--ulimit',
    'nofile=100:200',
    '--init',
    '-v',
    '/anon',
    '--mount',
    'type=tmpfs,target=/t,tmpfs-size=1m',
    'busybox',
    'true',
  );
  assert.deepEqual(r.extraHosts, ['db:10.0.0.5']);
  assert.equal(r.hostname, 'h1');
  assert.deepEqual(r.security, { privileged: true, capAdd: ['NET_ADMIN'], capDrop: ['chown'] });
  assert.deepEqual(r.ulimits, [{ name: 'nofile', soft: 100, hard: 200 }]);
  assert.equal(r.init, true);
  assert.deepEqual(r.mounts, [
    { type: 'volume', target: '/anon' },
    { type: 'tmpfs', target: '/t', readOnly: false, options: ['size=1048576'] },
  ]);
});

test('--pid, --ipc and --uts go to the request as written (the engine checks them)', () => {
  const r = req('--pid', 'container:db', '--ipc', 'shareable', '--uts', 'host', 'busybox', 'true');
  assert.deepEqual([r.pidMode, r.ipcMode, r.utsMode], ['container:db', 'shareable', 'host']);
  const none = req('busybox', 'true');
  assert.deepEqual([none.pidMode, none.ipcMode, none.utsMode], [undefined, undefined, undefined]);
});

test("--mount: docker's keys, each checked, naming the mount", () => {
  assert.deepEqual(parseMount('type=bind,source=/h,target=/c,readonly'), {
    type: 'bind',
    source: '/h',
    target: '/c',
    readOnly: true,
  });
  assert.deepEqual(parseMount('src=data,dst=/d'), { type: 'volume', source: 'data', target: '/d', readOnly: false });
  assert.deepEqual(parseMount('type=volume,target=/anon'), { type: 'volume', target: '/anon', readOnly: false });
  assert.deepEqual(parseMount('type=tmpfs,destination=/t,tmpfs-mode=1770'), {
    type: 'tmpfs',
    target: '/t',
    readOnly: false,
    options: ['mode=1770'],
  });
  assert.throws(() => parseMount('type=bind,target=/c'), /a bind mount needs source/);
  assert.throws(() => parseMount('type=nfs,target=/c'), /expected bind, volume or tmpfs/);
  assert.throws(() => parseMount('source=x'), /target is required/);
  assert.throws(() => parseMount('target=/c,bind-propagation=shared'), /unsupported key "bind-propagation"/);
  assert.throws(() => parseMount('type=volume,target=/c,tmpfs-size=1m'), /are for type=tmpfs/);
  assert.throws(() => parseMount('target=/c,readonly=maybe'), /expected true or false/);
});

test('-v /path is an anonymous volume; --ulimit and --env-file forms', () => {
  assert.deepEqual(parseVolume('/data'), { type: 'volume', target: '/data' });
  assert.deepEqual(parseVolume('vol:/data:ro'), { type: 'volume', source: 'vol', target: '/data', readOnly: true });
  assert.deepEqual(parseUlimit('nproc=64'), { name: 'nproc', soft: 64, hard: 64 });
  assert.deepEqual(parseUlimit('core=-1:-1'), { name: 'core', soft: -1, hard: -1 });
  assert.throws(() => parseUlimit('nofile'), /expected NAME=SOFT\[:HARD\]/);
  process.env.BERTH_TEST_FROM_ENV = 'here';
  assert.deepEqual(
    parseEnvFile('# comment\n\nA=1\n  B=two words\nBERTH_TEST_FROM_ENV\nBERTH_TEST_UNSET_X\nC=\n', 'f'),
    ['A=1', 'B=two words', 'BERTH_TEST_FROM_ENV=here', 'C='],
  );
  assert.throws(
    () => parseEnvFile('OK=1\nBAD KEY=2\n', 'envs'),
    /--env-file envs:2: variable "BAD KEY" has white space/,
  );
  const dir = mkdtempSync('/tmp/berth-envfile-');
  try {
    writeFileSync(join(dir, 'e'), 'X=from-file\nY=1\n');
    assert.deepEqual(req('--env-file', join(dir, 'e'), '-e', 'X=from-flag', 'busybox').env, [
      'X=from-file',
      'Y=1',
      'X=from-flag',
    ]);
    assert.throws(() => req('--env-file', join(dir, 'missing'), 'busybox'), /--env-file .*missing: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a failed run's status as docker's CLI decides it", () => {
  assert.equal(runFailureStatus(new Error('RESOLVE_EXEC "x": executable file not found in $PATH')), 127);
  assert.equal(runFailureStatus(new Error('exec: "/nope": stat /nope: no such file or directory')), 127);
  assert.equal(runFailureStatus(new Error('RESOLVE_EXEC "/etc/passwd": Permission denied')), 126);
  assert.equal(runFailureStatus(new Error('no such image: x (pull or load it first)')), 125);
});

test("--device: docker's HOST[:CONTAINER][:PERMISSIONS]; --device-cgroup-rule goes through as written", () => {
  const bare = (d: ReturnType<typeof parseDevice>) => {
    const { fields, ...rest } = d;
    assert.match(fields?.hostPath ?? '', /^--device \//);
    return rest;
  };
  assert.deepEqual(bare(parseDevice('/dev/loop0')), { hostPath: '/dev/loop0' });
  assert.deepEqual(bare(parseDevice('/dev/loop0:/dev/xd')), { hostPath: '/dev/loop0', containerPath: '/dev/xd' });
  assert.deepEqual(bare(parseDevice('/dev/loop0:r')), { hostPath: '/dev/loop0', permissions: 'r' });
  assert.deepEqual(bare(parseDevice('/dev/loop0:/dev/xd:rm')), {
    hostPath: '/dev/loop0',
    containerPath: '/dev/xd',
    permissions: 'rm',
  });
  for (const bad of ['loop0', '/dev/a:b', '/dev/a:/dev/b:x', '/dev/a:/dev/b:rr', '/a:/b:r:w'])
    assert.throws(() => parseDevice(bad), /--device .*expected \/HOST\/PATH/, bad);
  const r = req('--device', '/dev/loop0:/dev/xd:r', '--device-cgroup-rule', 'b 7:* rm', 'busybox');
  assert.deepEqual(r.devices?.map(bare), [{ hostPath: '/dev/loop0', containerPath: '/dev/xd', permissions: 'r' }]);
  assert.deepEqual(r.deviceCgroupRules, ['b 7:* rm']);
});

test("--network-alias, --ip and --mac-address are the first network's, as docker's CLI 28 applies them", () => {
  const r = req(
    '--network',
    'a',
    '--network-alias',
    'web',
    '--net-alias',
    'www',
    '--ip',
    '10.9.0.5',
    '--mac-address',
    '02:42:ac:11:00:02',
    '--network',
    'b',
    'busybox',
  );
  assert.equal(r.network, 'a');
  assert.deepEqual(r.aliases, ['web', 'www']);
  assert.equal(r.ipv4Address, '10.9.0.5');
  assert.equal(r.macAddress, '02:42:ac:11:00:02');
  assert.deepEqual(r.networks, [{ network: 'b' }]);
  // No --network: they go with the default network (the engine refuses aliases and an address there).
  const d = req('--mac-address', '02:42:ac:11:00:03', '--ip', '', 'busybox');
  assert.equal(d.network, undefined);
  assert.equal(d.macAddress, '02:42:ac:11:00:03');
  assert.equal('ipv4Address' in d, false, 'an empty --ip is not given, as docker');
  // Values are the engine's to check: they go as written.
  assert.equal(req('--network', 'a', '--ip', 'nonsense', 'busybox').ipv4Address, 'nonsense');
});

test("--network's long form: name, alias, ip, mac-address per network; docker's conflicts and refusals", () => {
  const r = req(
    '--network',
    'name=a,alias=x,alias=y,IP=10.9.0.5',
    '--network',
    'name=b,alias=z,ip=10.8.0.7,mac-address=02:42:ac:11:00:04',
    'busybox',
  );
  assert.equal(r.network, 'a');
  assert.deepEqual(r.aliases, ['x', 'y']);
  assert.equal(r.ipv4Address, '10.9.0.5');
  assert.deepEqual(r.networks, [
    { network: 'b', aliases: ['z'], ipv4Address: '10.8.0.7', macAddress: '02:42:ac:11:00:04' },
  ]);
  assert.equal(req('--network', '"name=a,b",alias=q', 'busybox').network, 'a,b');
  const refused = (args: string[], msg: RegExp, code = 'BERTH_ERR_INVALID_ARGUMENT') =>
    assert.throws(
      () => req(...args, 'busybox'),
      (e: Error & { code?: string }) => msg.test(e.message) && e.code === code,
      args.join(' '),
    );
  refused(
    ['--network', 'name=a,alias=x', '--network-alias', 'y'],
    /^conflicting options: cannot specify both --network-alias and per-network alias$/,
  );
  refused(['--network', 'name=a,ip=10.9.0.5', '--ip', '10.9.0.6'], /cannot specify both --ip and per-network IPv4/);
  refused(
    ['--network', 'name=a,mac-address=02:42:ac:11:00:04', '--mac-address', '02:42:ac:11:00:05'],
    /cannot specify both --mac-address and per-network MAC/,
  );
  refused(['--network', 'alias=x'], /^--network "alias=x": network name\/id is not specified$/);
  refused(['--network', 'name=a,bogus=1'], /^--network "name=a,bogus=1": invalid field key bogus/);
  refused(['--network', 'name=a,alias'], /^--network "name=a,alias": invalid field alias$/);
  refused(['--network', 'name=a,alias="x'], /^--network "name=a,alias=\\"x": a bare " in a field not quoted$/);
  refused(
    ['--network', 'name=a,ip6=2001:db8::33'],
    /ip6 is not supported: berth's networks are IPv4 only/,
    'BERTH_ERR_UNSUPPORTED',
  );
  refused(['--ip6', '2001:db8::33'], /^--ip6 "2001:db8::33": not supported/, 'BERTH_ERR_UNSUPPORTED');
});

test("--dns, --dns-search and --dns-option (--dns-opt) become the request's dns, as written", () => {
  const r = req(
    '--dns',
    '10.9.9.9',
    '--dns',
    '10.9.9.8',
    '--dns-search',
    'corp.example',
    '--dns-opt',
    'ndots:2',
    'busybox',
  );
  assert.deepEqual(r.dns, { servers: ['10.9.9.9', '10.9.9.8'], search: ['corp.example'], options: ['ndots:2'] });
  assert.deepEqual(req('--dns-option', 'use-vc', 'busybox').dns, { options: ['use-vc'] });
  assert.equal('dns' in req('busybox'), false);
});
