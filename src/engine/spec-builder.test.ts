import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSpec, mergeEnv, numericUser, processArgs, resolveUser, withHome } from './spec-builder.ts';

test('Entrypoint/Cmd: Docker rules', () => {
  const img = { Entrypoint: ['/ep'], Cmd: ['a', 'b'] };
  assert.deepEqual(processArgs({}, img), ['/ep', 'a', 'b']);
  assert.deepEqual(processArgs({ cmd: ['c'] }, img), ['/ep', 'c']);
  assert.deepEqual(processArgs({ entrypoint: ['/x'] }, img), ['/x'], 'a new entrypoint drops the image Cmd');
  assert.deepEqual(processArgs({ entrypoint: [], cmd: ['sh'] }, img), ['sh']);
  assert.throws(() => processArgs({}, {}), /no command/);
});

test('env: request overrides image by key, PATH defaulted', () => {
  assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C']), [
    'A=1',
    'B=3',
    'C=',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ]);
  assert.deepEqual(mergeEnv(['PATH=/bin'], []), ['PATH=/bin']);
  assert.throws(() => mergeEnv([], ['=x']), /no variable name/);
});

test('users: numeric and by name', () => {
  assert.deepEqual(numericUser('1000'), { uid: 1000, gid: 1000 });
  assert.deepEqual(numericUser('1000:5'), { uid: 1000, gid: 5 });
  assert.equal(numericUser('nobody'), undefined);
  const passwd = 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n';
  const group = 'root:x:0:\nusers:x:100:nobody\nnogroup:x:65534:\n';
  assert.deepEqual(resolveUser('nobody', passwd, group), { uid: 65534, gid: 65534, additionalGids: [100] });
  assert.deepEqual(resolveUser('nobody:users', passwd, group), { uid: 65534, gid: 100, additionalGids: [] });
  assert.throws(() => resolveUser('alice', passwd, group), /alice.*\/etc\/passwd/);
});

test('buildSpec: process, resources, mounts, readonly root, host network', () => {
  const s = buildSpec({
    id: 'abcdef0123456789',
    request: {
      image: 'x',
      cmd: ['echo', 'hi'],
      env: ['X=1'],
      workdir: '/tmp',
      memory: 64 * 1024 * 1024,
      cpus: 0.5,
      pidsLimit: 10,
      readOnly: true,
      tty: true,
    },
    image: { Env: ['PATH=/bin'], WorkingDir: '/w' },
    etcFiles: { hosts: '/h/hosts' },
    mounts: [{ destination: '/data', type: 'bind', source: '/v/_data', options: ['rbind'] }],
  });
  assert.deepEqual(s.process!.args, ['echo', 'hi']);
  assert.equal(s.process!.cwd, '/tmp');
  assert.equal(s.process!.terminal, true);
  assert.ok(
    s.process!.env!.includes('X=1') &&
      s.process!.env!.includes('TERM=xterm') &&
      s.process!.env!.includes('HOSTNAME=abcdef012345'),
  );
  assert.equal(s.hostname, 'abcdef012345');
  assert.equal(s.root!.readonly, true);
  assert.deepEqual(s.linux!.resources!.memory, { limit: 64 * 1024 * 1024 });
  assert.deepEqual(s.linux!.resources!.cpu, { period: 100000, quota: 50000 });
  assert.deepEqual(s.linux!.resources!.pids, { limit: 10 });
  assert.equal(s.linux!.cgroupsPath, '/berth/abcdef0123456789');
  assert.ok(s.mounts!.some((m) => m.destination === '/data'));
  assert.ok(s.mounts!.some((m) => m.destination === '/etc/hosts'));
  assert.ok(s.linux!.namespaces!.some((n) => n.type === 'network'));
  const h = buildSpec({ id: 'x', request: { image: 'x', cmd: ['true'], network: 'host' }, image: {} });
  assert.ok(!h.linux!.namespaces!.some((n) => n.type === 'network'));
  assert.throws(
    () => buildSpec({ id: 'x', request: { image: 'x', cmd: ['true'], memory: 10 }, image: {} }),
    /at least 6 MiB/,
  );
  assert.throws(
    () => buildSpec({ id: 'x', request: { image: 'x', cmd: ['true'], workdir: 'rel' }, image: {} }),
    /absolute/,
  );
});

test('a propagating bind makes the root propagate too: rshared wins over rslave; private binds leave the default', () => {
  const root = (...opts: string[][]) =>
    buildSpec({
      id: 'x',
      request: { image: 'x', cmd: ['true'] },
      image: {},
      mounts: opts.map((o, i) => ({ destination: `/m${i}`, type: 'bind', source: '/s', options: ['rbind', ...o] })),
    }).linux!.rootfsPropagation;
  assert.equal(root(['rprivate']), undefined);
  assert.equal(root(['rprivate'], ['rslave']), 'rslave');
  assert.equal(root(['rslave'], ['rshared', 'ro']), 'rshared');
});

test('HOME: the passwd home of the uid, "/" without one; a non-empty HOME given wins', () => {
  const passwd =
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\nnohome:x:7:7:::\nbroken\n';
  assert.deepEqual(withHome(['PATH=/bin'], 0, passwd), ['PATH=/bin', 'HOME=/root']);
  assert.deepEqual(withHome([], 65534, passwd), ['HOME=/nonexistent']);
  assert.deepEqual(withHome([], 7, passwd), ['HOME=/'], 'an empty home field');
  assert.deepEqual(withHome([], 1000, passwd), ['HOME=/']);
  assert.deepEqual(withHome([], 0, ''), ['HOME=/'], 'no /etc/passwd');
  assert.deepEqual(withHome(['HOME=/x'], 0, passwd), ['HOME=/x']);
  assert.deepEqual(
    withHome(['HOME=', 'A=1'], 0, passwd),
    ['A=1', 'HOME=/root'],
    'an empty HOME is unset, as runc reads it',
  );
});

test('--ulimit entries become rlimits over the default nofile; bad ones are refused naming them', () => {
  const s = buildSpec({
    id: 'x',
    request: {
      image: 'x',
      cmd: ['true'],
      ulimits: [
        { name: 'nproc', soft: 10, hard: 20 },
        { name: 'nofile', soft: 100, hard: 100 },
        { name: 'core', soft: -1, hard: -1 },
      ],
    },
    image: {},
    nofile: 4096,
  });
  assert.deepEqual(s.process!.rlimits, [
    { type: 'RLIMIT_NOFILE', soft: 100, hard: 100 },
    { type: 'RLIMIT_NPROC', soft: 10, hard: 20 },
    { type: 'RLIMIT_CORE', soft: Number.MAX_SAFE_INTEGER, hard: Number.MAX_SAFE_INTEGER },
  ]);
  assert.throws(
    () =>
      buildSpec({
        id: 'x',
        request: { image: 'x', cmd: ['true'], ulimits: [{ name: 'files', soft: 1, hard: 1 }] },
        image: {},
      }),
    /ulimit "files": expected one of/,
  );
  assert.throws(
    () =>
      buildSpec({
        id: 'x',
        request: { image: 'x', cmd: ['true'], ulimits: [{ name: 'nproc', soft: 5, hard: 1 }] },
        image: {},
      }),
    /soft limit 5 is above the hard limit 1/,
  );
});

test('--init runs the host init read-only at /sbin/docker-init before the command', () => {
  const s = buildSpec({
    id: 'x',
    request: { image: 'x', cmd: ['sleep', '1'], init: true },
    image: {},
    initBinary: '/usr/bin/docker-init',
  });
  assert.deepEqual(s.process!.args, ['/sbin/docker-init', '--', 'sleep', '1']);
  assert.deepEqual(
    s.mounts!.find((m) => m.destination === '/sbin/docker-init'),
    {
      destination: '/sbin/docker-init',
      type: 'bind',
      source: '/usr/bin/docker-init',
      options: ['rbind', 'ro', 'rprivate'],
    },
  );
  assert.throws(
    () => buildSpec({ id: 'x', request: { image: 'x', cmd: ['true'], init: true }, image: {} }),
    /no init binary/,
  );
});
