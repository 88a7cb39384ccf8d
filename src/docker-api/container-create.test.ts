import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { toCreateRequest } from './container-create.ts';
import { dockerStatusOf, noSuch } from './errors.ts';
import { muxFrame } from './streams.ts';
import { splitVersion } from './versions.ts';

test('paths with and without a version prefix; versions outside 1.41-1.50 are refused as docker words it', () => {
  assert.deepEqual(splitVersion('/v1.41/containers/json'), { version: '1.41', path: '/containers/json' });
  assert.deepEqual(splitVersion('/containers/json'), { version: '1.50', path: '/containers/json' });
  assert.throws(
    () => splitVersion('/v1.51/info'),
    /client version 1.51 is too new. Maximum supported API version is 1.50/,
  );
  assert.throws(
    () => splitVersion('/v1.40/info'),
    /client version 1.40 is too old. Minimum supported API version is 1.41/,
  );
  try {
    splitVersion('/v1.9/info');
  } catch (e) {
    assert.equal(dockerStatusOf(e), 400);
  }
});

test('errors: docker statuses and words', () => {
  assert.equal(noSuch('container', 'web').message, 'No such container: web');
  assert.equal(dockerStatusOf(noSuch('image', 'x')), 404);
  assert.equal(dockerStatusOf(new Error('boom')), 500);
});

test('multiplexed stream frames: type, three zero bytes, big-endian length', () => {
  assert.deepEqual([...muxFrame(2, Buffer.from('err\n'))], [2, 0, 0, 0, 0, 0, 0, 4, 101, 114, 114, 10]);
});

test('create: the docker CLI zero values are not "set"; what the engine honours is converted', () => {
  const req = toCreateRequest(
    {
      Image: 'busybox',
      Cmd: ['sh'],
      Entrypoint: null,
      Env: ['A=1'],
      Tty: true,
      OpenStdin: true,
      Labels: { a: 'b' },
      ExposedPorts: { '80/tcp': {} },
      HostConfig: {
        Binds: ['/srv:/data:ro', 'vol:/v'],
        Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024 } }],
        Tmpfs: { '/run': 'size=64m' },
        PortBindings: {
          '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
          '53/udp': [{ HostIp: '', HostPort: '' }],
          '8080/tcp': [{ HostIp: '', HostPort: '9000-9010' }],
        },
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
        NetworkMode: 'bridge',
        Memory: 1 << 20,
        NanoCpus: 1.5e9,
        PidsLimit: 0,
        MemorySwappiness: -1,
        CapAdd: null,
        Privileged: false,
        Dns: [],
        LogConfig: { Type: '', Config: {} },
        ReadonlyRootfs: true,
        AutoRemove: false,
      },
    },
    'web',
    'berth',
  );
  assert.deepEqual(req, {
    image: 'busybox',
    name: 'web',
    cmd: ['sh'],
    env: ['A=1'],
    tty: true,
    openStdin: true,
    labels: { a: 'b' },
    mounts: [
      { type: 'bind', source: '/srv', target: '/data', readOnly: true },
      { type: 'volume', source: 'vol', target: '/v', readOnly: false },
      { type: 'tmpfs', target: '/t', readOnly: false, options: ['size=1024', 'mode=1777'] },
      { type: 'tmpfs', target: '/run', options: ['size=64m'] },
    ],
    ports: [
      { hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostIP: '0.0.0.0', hostPort: 0, containerPort: 53, protocol: 'udp' },
      { hostIP: '0.0.0.0', hostPort: 9000, hostPortEnd: 9010, containerPort: 8080, protocol: 'tcp' },
    ],
    memory: 1 << 20,
    cpus: 1.5,
    readOnly: true,
    restart: 'on-failure:3',
  });
  assert.deepEqual(
    toCreateRequest(
      {
        Image: 'x',
        HostConfig: {
          Privileged: true,
          CapAdd: ['NET_ADMIN'],
          CapDrop: ['CHOWN'],
          SecurityOpt: ['no-new-privileges'],
          Ulimits: [{ Name: 'NOFILE', Soft: 10, Hard: 20 }],
          ExtraHosts: ['a:10.0.0.1', 'b=10.0.0.2'],
          Init: true,
          CpuShares: 512,
        },
      },
      undefined,
      'berth',
    ),
    {
      image: 'x',
      security: { privileged: true, capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'], noNewPrivileges: true },
      ulimits: [{ name: 'nofile', soft: 10, hard: 20 }],
      extraHosts: ['a:10.0.0.1', 'b:10.0.0.2'],
      init: true,
      cpuShares: 512,
    },
  );
  assert.deepEqual(
    toCreateRequest({ Image: 'x', Entrypoint: [''] }, undefined, 'berth').entrypoint,
    [],
    '--entrypoint "" clears it',
  );
  // docker's CLI reads --security-opt seccomp=FILE and sends the profile itself.
  const profile = '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}';
  assert.deepEqual(
    toCreateRequest({ Image: 'x', HostConfig: { SecurityOpt: [`seccomp=${profile}`] } }, undefined, 'berth').security,
    { seccomp: { kind: 'inline', json: profile } },
  );
  assert.deepEqual(
    toCreateRequest(
      { Image: 'x', HostConfig: { SecurityOpt: ['seccomp=unconfined', 'no-new-privileges:true'] } },
      undefined,
      'berth',
    ).security,
    { seccomp: { kind: 'unconfined' }, noNewPrivileges: true },
  );
});

test('create: what the engine does not honour is refused naming the flag, never ignored', () => {
  for (const [hc, re] of [
    [{ UsernsMode: 'host' }, /--userns \(HostConfig.UsernsMode\): not supported by berthd/],
    [{ DeviceRequests: [{ Driver: 'nvidia', Count: -1 }] }, /--gpus \(HostConfig.DeviceRequests\)/],
    [{ Devices: [{ PathInContainer: '/dev/x' }] }, /HostConfig.Devices\[0\].PathOnHost is required/],
    [{ SecurityOpt: ['apparmor=unconfined'] }, /--security-opt apparmor=unconfined/],
    [{ SecurityOpt: ['seccomp=/not/read/by/berthd.json'] }, /--security-opt seccomp=\/not/],
    [{ LogConfig: { Type: 'syslog' } }, /--log-driver syslog/],
    [{ NetworkMode: 'container:x' }, /--network container:x/],
    [{ Binds: ['/a:/b:shared'] }, /volume option 'shared'/],
  ] as const) {
    assert.throws(
      () => toCreateRequest({ Image: 'x', HostConfig: hc as never }, undefined, 'berth'),
      (e: unknown) => isBerthError(e) && dockerStatusOf(e) === 400 && re.test(e.message),
    );
  }
  assert.throws(() => toCreateRequest({ Image: '' }, undefined, 'berth'), /No image was specified/);
});

test("create: HostConfig.Devices and DeviceCgroupRules become the engine's devices and rules", () => {
  const req = toCreateRequest(
    {
      Image: 'x',
      HostConfig: {
        Devices: [
          { PathOnHost: '/dev/loop0', PathInContainer: '/dev/xd', CgroupPermissions: 'r' },
          { PathOnHost: '/dev/fuse', PathInContainer: '', CgroupPermissions: '' },
        ],
        DeviceCgroupRules: ['b 7:* rm'],
      },
    },
    undefined,
    'berth',
  );
  assert.deepEqual(
    req.devices?.map(({ fields, ...d }) => d),
    [{ hostPath: '/dev/loop0', containerPath: '/dev/xd', permissions: 'r' }, { hostPath: '/dev/fuse' }],
  );
  assert.equal(req.devices?.[0]?.fields?.hostPath, '--device (HostConfig.Devices[0].PathOnHost)');
  assert.deepEqual(req.deviceCgroupRules, ['b 7:* rm']);
});

test('create: several EndpointsConfig join them all from API 1.44 (the mode first), before it dockerd refused them', () => {
  const body = {
    Image: 'x',
    HostConfig: { NetworkMode: 'front' },
    NetworkingConfig: {
      EndpointsConfig: {
        back: { Aliases: ['db'], IPAMConfig: { IPv4Address: '10.9.0.5' } },
        front: { Aliases: ['web', 'web'] },
        bridge: {},
      },
    },
  };
  const req = toCreateRequest(body, undefined, 'berth', '1.50');
  assert.equal(req.network, 'front');
  assert.deepEqual(req.aliases, ['web']);
  assert.deepEqual(req.networks, [{ network: 'back', aliases: ['db'], ipv4Address: '10.9.0.5' }, { network: 'berth' }]);
  assert.throws(
    () => toCreateRequest(body, undefined, 'berth', '1.43'),
    (e) =>
      isBerthError(e) &&
      dockerStatusOf(e) === 400 &&
      e.message === 'Container cannot be created with multiple network endpoints: back, front, bridge',
  );
  // One endpoint is what it always was; 'default' is the default network.
  const one = toCreateRequest(
    { Image: 'x', HostConfig: { NetworkMode: 'default' }, NetworkingConfig: { EndpointsConfig: { default: {} } } },
    undefined,
    'berth',
    '1.41',
  );
  assert.equal(one.network, undefined);
  assert.equal(one.networks, undefined);
});

test('create: a MAC address from Config.MacAddress before API 1.44, from the endpoint from 1.44, checked naming the field', () => {
  const body = (mac: string, epMac: string) => ({
    Image: 'x',
    MacAddress: mac,
    HostConfig: { NetworkMode: 'front' },
    NetworkingConfig: { EndpointsConfig: { front: { MacAddress: epMac }, back: { MacAddress: '02:42:ac:11:00:0b' } } },
  });
  const new_ = toCreateRequest(body('', '02:42:AC:11:00:0A'), undefined, 'berth', '1.50');
  assert.equal(new_.macAddress, '02:42:ac:11:00:0a');
  assert.deepEqual(new_.networks, [{ network: 'back', macAddress: '02:42:ac:11:00:0b' }]);
  const one = {
    ...body('02:42:ac:11:00:0c', '02:42:ac:11:00:0d'),
    NetworkingConfig: { EndpointsConfig: { front: { MacAddress: '02:42:ac:11:00:0d' } } },
  };
  // Before 1.44 the endpoint's field did not exist: dockerd discards it and takes Config's.
  assert.equal(toCreateRequest(one, undefined, 'berth', '1.41').macAddress, '02:42:ac:11:00:0c');
  assert.throws(
    () => toCreateRequest(one, undefined, 'berth', '1.50'),
    /the container-wide MAC address must match the endpoint-specific MAC address for the main network/,
  );
  assert.throws(
    () => toCreateRequest(body('', '03:42:ac:11:00:0a'), undefined, 'berth', '1.50'),
    (e) =>
      dockerStatusOf(e) === 400 &&
      /^--mac-address \(NetworkingConfig\.EndpointsConfig\.front\.MacAddress\) 03:42:ac:11:00:0a: a multicast/.test(
        (e as Error).message,
      ),
  );
  assert.throws(
    () =>
      toCreateRequest(
        { Image: 'x', MacAddress: '02:42:ac:11:00:0a', HostConfig: { NetworkMode: 'host' } },
        undefined,
        'berth',
        '1.41',
      ),
    /conflicting options: mac-address and the network mode/,
  );
});

test('create: Config.Healthcheck becomes the engine healthcheck, StartInterval only from API 1.44', () => {
  const body = {
    Image: 'x',
    Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 2e8, Timeout: 0, Retries: 2, StartInterval: 1e9 },
  };
  assert.deepEqual(toCreateRequest(body, undefined, 'berth', '1.47').healthcheck, {
    test: ['CMD-SHELL', 'true'],
    interval: 2e8,
    timeout: 0,
    retries: 2,
    startInterval: 1e9,
  });
  assert.equal(toCreateRequest(body, undefined, 'berth', '1.43').healthcheck?.startInterval, undefined);
  // --health-retries alone: no test (the image's is used).
  assert.deepEqual(
    toCreateRequest({ Image: 'x', Healthcheck: { Test: null, Retries: 1 } } as never, undefined, 'berth').healthcheck,
    {
      retries: 1,
    },
  );
});
