import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BerthError, ErrorCode, isBerthError } from '../errors/errors.ts';
import { defaultSpec } from './runtime-default-spec.ts';
import type { RuntimeConfig } from './runtime-spec.ts';
import {
  CAPABILITIES,
  type ConfigProblem,
  capabilityNumber,
  checkHostSupport,
  type HostProbe,
  MOUNT_ATTR,
  MS,
  mountOptionFlags,
  namespaceCloneFlag,
  namespaceProcName,
  parseRuntimeConfig,
  parseRuntimeConfigFile,
  parseState,
  RLIMITS,
  rlimitNumber,
  rlimitValue,
  signalNumber,
  validateRuntimeConfig,
} from './runtime-validate.ts';

// Tests poke at arbitrary JSON, well-formed or not.
// biome-ignore lint/suspicious/noExplicitAny: test documents are untyped JSON
type Json = Record<string, any>;

/** RLIM_INFINITY (2^64-1) as JSON.parse delivers it. */
const RLIM_INFINITY_JSON = JSON.parse('18446744073709551615') as number;

/** A config that uses every field of the spec, valid. Bad cases below each break one thing. */
function full(): Json {
  return {
    ociVersion: '1.2.1',
    root: { path: 'rootfs', readonly: true },
    hostname: 'box',
    domainname: 'example.org',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/data', type: 'bind', source: './data', options: ['rbind', 'ro', 'rprivate'] },
      {
        destination: '/mapped',
        type: 'bind',
        source: '/srv/mapped',
        options: ['bind', 'idmap'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
    ],
    process: {
      terminal: true,
      consoleSize: { height: 24, width: 80 },
      user: { uid: 1000, gid: 1000, umask: 0o022, additionalGids: [5, 6] },
      args: ['/bin/sh', '-c', 'echo hi'],
      env: ['PATH=/usr/bin:/bin', 'EMPTY=', 'EQ=a=b'],
      cwd: '/home/user',
      capabilities: {
        bounding: ['CAP_KILL', 'CAP_CHECKPOINT_RESTORE'],
        effective: ['CAP_KILL'],
        inheritable: [],
        permitted: ['CAP_KILL'],
        ambient: ['CAP_KILL'],
      },
      rlimits: [
        { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
        // 2^64-1 (RLIM_INFINITY), which JSON.parse rounds to 2^64.
        { type: 'RLIMIT_CORE', soft: RLIM_INFINITY_JSON, hard: RLIM_INFINITY_JSON },
      ],
      noNewPrivileges: true,
      apparmorProfile: 'berth-default',
      oomScoreAdj: -500,
      scheduler: { policy: 'SCHED_FIFO', priority: 10, flags: ['SCHED_FLAG_RESET_ON_FORK'] },
      selinuxLabel: 'system_u:system_r:container_t:s0',
      ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
      execCPUAffinity: { initial: '0', final: '0-1, 3' },
    },
    hooks: {
      prestart: [{ path: '/usr/bin/hook', args: ['hook', 'prestart'], env: ['A=1'], timeout: 5 }],
      createRuntime: [{ path: '/usr/bin/hook' }],
      createContainer: [{ path: '/usr/bin/hook' }],
      startContainer: [{ path: '/bin/true' }],
      poststart: [{ path: '/usr/bin/hook' }],
      poststop: [{ path: '/usr/bin/hook', timeout: 1 }],
    },
    annotations: { 'org.example.key': 'value' },
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'network' },
        { type: 'mount' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'user' },
        { type: 'cgroup' },
        { type: 'time' },
      ],
      uidMappings: [
        { containerID: 0, hostID: 1000, size: 1 },
        { containerID: 1, hostID: 100000, size: 65535 },
      ],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 65536 }],
      timeOffsets: { monotonic: { secs: 3600, nanosecs: 0 }, boottime: { secs: -60 } },
      devices: [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
        { path: '/dev/sda', type: 'b', major: 8, minor: 0 },
        { path: '/dev/myfifo', type: 'p' },
      ],
      cgroupsPath: '/berth/test',
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
          { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' },
        ],
        memory: {
          limit: 536870912,
          reservation: 268435456,
          swap: -1,
          kernel: -1,
          kernelTCP: -1,
          swappiness: 60,
          disableOOMKiller: false,
          useHierarchy: true,
          checkBeforeUpdate: true,
        },
        cpu: {
          shares: 1024,
          quota: 100000,
          burst: 50000,
          period: 100000,
          realtimeRuntime: 950000,
          realtimePeriod: 1000000,
          cpus: '0-1',
          mems: '0',
          idle: 0,
        },
        pids: { limit: 1024 },
        blockIO: {
          weight: 500,
          leafWeight: 300,
          weightDevice: [{ major: 8, minor: 0, weight: 500 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
          throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
          throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
        },
        hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 1 } },
        unified: { 'memory.high': '400000000', 'io.weight': '100' },
      },
      intelRdt: {
        closID: 'guaranteed',
        l3CacheSchema: 'L3:0=7f0',
        memBwSchema: 'MB:0=20',
        enableCMT: true,
        enableMBM: true,
      },
      sysctl: {
        'net.ipv4.ip_forward': '1',
        'net/ipv4/conf/eth0.100/rp_filter': '0',
        'kernel.shmmax': '68719476736',
        'fs.mqueue.msg_max': '10',
        'kernel.domainname': 'example.org',
      },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        listenerPath: '/run/seccomp-agent.sock',
        listenerMetadata: 'opaque',
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          {
            names: ['personality'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 38,
            args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
          },
          { names: ['mount'], action: 'SCMP_ACT_NOTIFY' },
        ],
      },
      rootfsPropagation: 'rslave',
      maskedPaths: ['/proc/kcore', '/sys/firmware'],
      readonlyPaths: ['/proc/sys'],
      mountLabel: 'system_u:object_r:container_file_t:s0',
      personality: { domain: 'LINUX', flags: [] },
      netDevices: { eth1: { name: 'eth0' }, enp0s1: {} },
    },
  };
}

function minimal(): Json {
  return { ociVersion: '1.0.0', root: { path: 'rootfs' } };
}

const paths = (problems: ConfigProblem[]) => problems.map((p) => p.path);

describe('good configs validate', () => {
  const good: [string, () => unknown][] = [
    ['minimal (ociVersion and root)', minimal],
    ['every field of the spec', full],
    ['defaultSpec()', () => defaultSpec()],
    ['defaultSpec({ rootless: true })', () => defaultSpec({ rootless: true, hostUid: 1000, hostGid: 1000 })],
    ['defaultSpec with a cgroup namespace', () => defaultSpec({ cgroupNamespace: true })],
    ['a pre-release ociVersion as runc 1.1 writes', () => ({ ...minimal(), ociVersion: '1.0.2-dev' })],
    [
      'joining a user namespace by path needs no mappings',
      () => ({ ...minimal(), linux: { namespaces: [{ type: 'user', path: '/proc/1/ns/user' }] } }),
    ],
    [
      'joining a time namespace by path without offsets',
      () => ({ ...minimal(), linux: { namespaces: [{ type: 'time', path: '/proc/1/ns/time' }] } }),
    ],
    ['a FIFO device needs no numbers', () => ({ ...minimal(), linux: { devices: [{ path: '/dev/f', type: 'p' }] } })],
    [
      'net sysctl when joining a network namespace by path',
      () => ({
        ...minimal(),
        linux: {
          namespaces: [{ type: 'network', path: '/var/run/netns/x' }],
          sysctl: { 'net.core.somaxconn': '1024' },
        },
      }),
    ],
    [
      'hostname with a joined UTS namespace',
      () => ({ ...minimal(), hostname: 'h', linux: { namespaces: [{ type: 'uts', path: '/proc/1/ns/uts' }] } }),
    ],
    ['an empty hostname needs no UTS namespace', () => ({ ...minimal(), hostname: '' })],
    [
      'scheduler SCHED_DEADLINE with runtime/deadline/period',
      () => {
        const c = full();
        c.process.scheduler = { policy: 'SCHED_DEADLINE', runtime: 10000000, deadline: 30000000, period: 30000000 };
        return c;
      },
    ],
    [
      'other platforms are accepted and kept',
      () => ({ ...minimal(), windows: { layerFolders: ['C:\\x'] }, solaris: {}, vm: { kernel: { path: '/k' } } }),
    ],
    [
      'seccomp SCMP_ACT_TRACE with an errno',
      () => ({ ...minimal(), linux: { seccomp: { defaultAction: 'SCMP_ACT_TRACE', defaultErrnoRet: 1 } } }),
    ],
  ];
  for (const [name, make] of good) {
    test(name, () => {
      const cfg = make();
      const { problems } = validateRuntimeConfig(cfg, { unknownCapabilities: 'error' });
      assert.deepEqual(problems, []);
      assert.equal(parseRuntimeConfig(cfg), cfg);
    });
  }
});

interface BadCase {
  name: string;
  /** Breaks the full() config (or returns a whole document). */
  edit: (c: Json) => unknown;
  /** The JSON path of the problem expected. */
  path: string;
  /** Other problems the edit causes by design (e.g. removing a namespace others depend on). */
  also?: string[];
  /** A piece of the message expected. */
  says?: string | RegExp;
  strictCaps?: boolean;
}

type Key = string | number;
/** Walks a dotted path ("linux.namespaces.2.type") or a list of keys (for keys with dots). */
function walk(c: Json, path: string | Key[]): [Json, Key] {
  const keys = typeof path === 'string' ? path.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k)) : path;
  let o: Json = c;
  for (const k of keys.slice(0, -1)) o = o[k];
  return [o, keys[keys.length - 1] as Key];
}
const set = (path: string | Key[], v: unknown) => (c: Json) => {
  const [o, k] = walk(c, path);
  o[k] = v;
};
const del =
  (...paths: (string | Key[])[]) =>
  (c: Json) => {
    for (const p of paths) {
      const [o, k] = walk(c, p);
      delete o[k];
    }
  };
const push = (path: string, v: unknown) => (c: Json) => {
  const [o, k] = walk(c, path);
  o[k].push(v);
};
const NS = (c: Json) => c.linux.namespaces as Json[];
const without = (type: string) => (c: Json) => {
  c.linux.namespaces = NS(c).filter((n) => n.type !== type);
};

const bad: BadCase[] = [
  // document and version
  { name: 'document is an array', edit: () => [], path: '', says: 'expected a JSON object; got an array' },
  { name: 'document is null', edit: () => null, path: '', says: 'got null' },
  { name: 'ociVersion missing', edit: del('ociVersion'), path: 'ociVersion', says: 'required' },
  { name: 'ociVersion not SemVer', edit: set('ociVersion', '1.2'), path: 'ociVersion', says: 'SemVer' },
  { name: 'ociVersion major 2', edit: set('ociVersion', '2.0.0'), path: 'ociVersion', says: '1.x' },
  { name: 'ociVersion a number', edit: set('ociVersion', 1.2), path: 'ociVersion', says: 'expected a string; got 1.2' },
  // root
  { name: 'root missing', edit: del('root'), path: 'root' },
  { name: 'root.path missing', edit: del('root.path'), path: 'root.path' },
  { name: 'root.path empty', edit: set('root.path', ''), path: 'root.path' },
  { name: 'root.readonly a string', edit: set('root.readonly', 'yes'), path: 'root.readonly', says: 'boolean' },
  // mounts
  { name: 'mounts an object', edit: set('mounts', {}), path: 'mounts', says: 'expected an array' },
  { name: 'mount destination missing', edit: del('mounts.0.destination'), path: 'mounts[0].destination' },
  {
    name: 'mount destination relative',
    edit: set('mounts.1.destination', 'data'),
    path: 'mounts[1].destination',
    says: 'expected an absolute path; got "data"',
  },
  { name: 'mount option a number', edit: set('mounts.1.options.1', 1), path: 'mounts[1].options[1]' },
  { name: 'mount source with NUL', edit: set('mounts.1.source', 'a\0b'), path: 'mounts[1].source', says: 'NUL' },
  {
    name: 'mount uidMappings without gidMappings',
    edit: del('mounts.2.gidMappings'),
    path: 'mounts[2]',
    says: 'together',
  },
  { name: 'mount idmap size 0', edit: set('mounts.2.uidMappings.0.size', 0), path: 'mounts[2].uidMappings[0].size' },
  // process
  { name: 'process an array', edit: set('process', []), path: 'process' },
  { name: 'process.args missing', edit: del('process.args'), path: 'process.args', says: 'required' },
  { name: 'process.args empty', edit: set('process.args', []), path: 'process.args', says: 'at least one' },
  { name: 'process.args[0] empty', edit: set('process.args.0', ''), path: 'process.args[0]' },
  { name: 'process.cwd relative', edit: set('process.cwd', 'home'), path: 'process.cwd', says: 'absolute' },
  { name: 'process.cwd null', edit: set('process.cwd', null), path: 'process.cwd', says: 'required' },
  { name: 'process.user missing', edit: del('process.user'), path: 'process.user' },
  { name: 'process.user.uid negative', edit: set('process.user.uid', -1), path: 'process.user.uid', says: 'uint32' },
  { name: 'process.user.gid too big', edit: set('process.user.gid', 2 ** 32), path: 'process.user.gid' },
  { name: 'process.user.umask above 0777', edit: set('process.user.umask', 0o1000), path: 'process.user.umask' },
  {
    name: 'process.user.additionalGids entry a string',
    edit: set('process.user.additionalGids.1', '6'),
    path: 'process.user.additionalGids[1]',
  },
  {
    name: 'process.env entry without =',
    edit: set('process.env.1', 'FOO'),
    path: 'process.env[1]',
    says: 'NAME=value',
  },
  { name: 'process.env entry without a name', edit: set('process.env.0', '=x'), path: 'process.env[0]' },
  { name: 'process.terminal a string', edit: set('process.terminal', 'true'), path: 'process.terminal' },
  { name: 'consoleSize.height missing', edit: del('process.consoleSize.height'), path: 'process.consoleSize.height' },
  // capabilities
  {
    name: 'capabilities.bounding not an array',
    edit: set('process.capabilities.bounding', 'CAP_KILL'),
    path: 'process.capabilities.bounding',
  },
  {
    name: 'capability a number',
    edit: set('process.capabilities.permitted.0', 5),
    path: 'process.capabilities.permitted[0]',
  },
  {
    name: 'unknown capability (strict)',
    edit: push('process.capabilities.effective', 'CAP_FLY'),
    path: 'process.capabilities.effective[1]',
    says: 'unknown capability "CAP_FLY"',
    strictCaps: true,
  },
  {
    name: 'lower-case capability (strict)',
    edit: set('process.capabilities.ambient.0', 'cap_kill'),
    path: 'process.capabilities.ambient[0]',
    strictCaps: true,
  },
  // rlimits
  {
    name: 'rlimit type unknown',
    edit: set('process.rlimits.0.type', 'RLIMIT_FOO'),
    path: 'process.rlimits[0].type',
    says: 'unknown rlimit "RLIMIT_FOO"',
  },
  {
    name: 'rlimit type duplicated',
    edit: set('process.rlimits.1.type', 'RLIMIT_NOFILE'),
    path: 'process.rlimits[1].type',
    says: 'duplicate',
  },
  { name: 'rlimit soft above hard', edit: set('process.rlimits.0.soft', 8192), path: 'process.rlimits[0].soft' },
  { name: 'rlimit hard missing', edit: del('process.rlimits.0.hard'), path: 'process.rlimits[0].hard' },
  { name: 'rlimit soft negative', edit: set('process.rlimits.0.soft', -1), path: 'process.rlimits[0].soft' },
  // other process fields
  { name: 'oomScoreAdj above 1000', edit: set('process.oomScoreAdj', 1001), path: 'process.oomScoreAdj' },
  { name: 'oomScoreAdj not an integer', edit: set('process.oomScoreAdj', 1.5), path: 'process.oomScoreAdj' },
  { name: 'noNewPrivileges a number', edit: set('process.noNewPrivileges', 1), path: 'process.noNewPrivileges' },
  { name: 'apparmorProfile a number', edit: set('process.apparmorProfile', 1), path: 'process.apparmorProfile' },
  {
    name: 'scheduler policy unknown',
    edit: set('process.scheduler.policy', 'SCHED_FAST'),
    path: 'process.scheduler.policy',
  },
  { name: 'scheduler policy missing', edit: del('process.scheduler.policy'), path: 'process.scheduler.policy' },
  {
    name: 'scheduler priority with SCHED_OTHER',
    edit: set('process.scheduler.policy', 'SCHED_OTHER'),
    path: 'process.scheduler.priority',
  },
  {
    name: 'scheduler nice out of range',
    edit: set('process.scheduler', { policy: 'SCHED_BATCH', nice: 20 }),
    path: 'process.scheduler.nice',
  },
  {
    name: 'scheduler runtime without SCHED_DEADLINE',
    edit: set('process.scheduler.runtime', 100),
    path: 'process.scheduler',
    says: 'SCHED_DEADLINE',
  },
  { name: 'scheduler flag unknown', edit: set('process.scheduler.flags', ['X']), path: 'process.scheduler.flags[0]' },
  { name: 'ioPriority class unknown', edit: set('process.ioPriority.class', 'RT'), path: 'process.ioPriority.class' },
  { name: 'ioPriority priority 8', edit: set('process.ioPriority.priority', 8), path: 'process.ioPriority.priority' },
  {
    name: 'execCPUAffinity not a CPU list',
    edit: set('process.execCPUAffinity.initial', 'a-b'),
    path: 'process.execCPUAffinity.initial',
  },
  {
    name: 'execCPUAffinity backwards range',
    edit: set('process.execCPUAffinity.final', '3-1'),
    path: 'process.execCPUAffinity.final',
  },
  // hostname, domainname
  { name: 'hostname too long', edit: set('hostname', 'h'.repeat(65)), path: 'hostname', says: '64 bytes' },
  {
    name: 'hostname without a UTS namespace',
    edit: without('uts'),
    path: 'hostname',
    also: ['domainname', 'linux.sysctl["kernel.domainname"]'],
  },
  { name: 'domainname a number', edit: set('domainname', 7), path: 'domainname' },
  // hooks
  { name: 'hooks an array', edit: set('hooks', []), path: 'hooks' },
  { name: 'hook path relative', edit: set('hooks.prestart.0.path', 'hook'), path: 'hooks.prestart[0].path' },
  { name: 'hook path missing', edit: del('hooks.startContainer.0.path'), path: 'hooks.startContainer[0].path' },
  { name: 'hook timeout 0', edit: set('hooks.poststop.0.timeout', 0), path: 'hooks.poststop[0].timeout', says: '>= 1' },
  { name: 'hook list not an array', edit: set('hooks.createRuntime', {}), path: 'hooks.createRuntime' },
  { name: 'hook env entry a number', edit: set('hooks.prestart.0.env.0', 1), path: 'hooks.prestart[0].env[0]' },
  // annotations
  { name: 'annotation value a number', edit: set('annotations.n', 1), path: 'annotations["n"]' },
  { name: 'annotations an array', edit: set('annotations', ['a']), path: 'annotations' },
  // namespaces
  {
    name: 'namespace type unknown',
    edit: set('linux.namespaces.2.type', 'foo'),
    path: 'linux.namespaces[2].type',
    says: 'expected one of pid, network, mount, ipc, uts, user, cgroup, time; got "foo"',
    also: ['linux.maskedPaths', 'linux.readonlyPaths'],
  },
  {
    name: 'namespace type duplicated',
    edit: push('linux.namespaces', { type: 'pid' }),
    path: 'linux.namespaces[8].type',
    says: 'duplicate namespace type "pid" (also at linux.namespaces[0])',
  },
  {
    name: 'namespace path relative',
    edit: set('linux.namespaces.0.path', 'proc/1/ns/pid'),
    path: 'linux.namespaces[0].path',
  },
  { name: 'namespace type missing', edit: del('linux.namespaces.0.type'), path: 'linux.namespaces[0].type' },
  {
    name: 'uid mappings without a user namespace',
    edit: without('user'),
    path: 'linux.uidMappings',
    also: ['linux.gidMappings'],
  },
  {
    name: 'new user namespace without mappings',
    edit: del('linux.uidMappings', 'linux.gidMappings'),
    path: 'linux.namespaces[5]',
    says: 'uidMappings and linux.gidMappings',
  },
  // id mappings
  { name: 'uid mapping size 0', edit: set('linux.uidMappings.0.size', 0), path: 'linux.uidMappings[0].size' },
  {
    name: 'uid mappings overlap in the container',
    edit: set('linux.uidMappings.1.containerID', 0),
    path: 'linux.uidMappings[1]',
    says: 'overlaps linux.uidMappings[0]',
  },
  {
    name: 'gid mapping past 2^32 on the host',
    edit: set('linux.gidMappings.0.hostID', 2 ** 32 - 10),
    path: 'linux.gidMappings[0]',
  },
  { name: 'gid mapping hostID missing', edit: del('linux.gidMappings.0.hostID'), path: 'linux.gidMappings[0].hostID' },
  // time
  { name: 'time offsets without a time namespace', edit: without('time'), path: 'linux.timeOffsets' },
  {
    name: 'time offsets when joining a time namespace',
    edit: set('linux.namespaces.7.path', '/proc/1/ns/time'),
    path: 'linux.timeOffsets',
  },
  {
    name: 'time offset for an unknown clock',
    edit: set('linux.timeOffsets.realtime', {}),
    path: 'linux.timeOffsets["realtime"]',
  },
  {
    name: 'time offset nanosecs of a second or more',
    edit: set('linux.timeOffsets.monotonic.nanosecs', 1e9),
    path: 'linux.timeOffsets["monotonic"].nanosecs',
  },
  // devices
  { name: 'device type unknown', edit: set('linux.devices.0.type', 'x'), path: 'linux.devices[0].type' },
  { name: 'char device without major', edit: del('linux.devices.0.major'), path: 'linux.devices[0].major' },
  { name: 'block device without minor', edit: del('linux.devices.1.minor'), path: 'linux.devices[1].minor' },
  { name: 'device path relative', edit: set('linux.devices.0.path', 'dev/fuse'), path: 'linux.devices[0].path' },
  { name: 'device uid negative', edit: set('linux.devices.0.uid', -1), path: 'linux.devices[0].uid' },
  // cgroup resources
  {
    name: 'cgroup device access letter',
    edit: set('linux.resources.devices.1.access', 'rwx'),
    path: 'linux.resources.devices[1].access',
  },
  {
    name: 'cgroup device type',
    edit: set('linux.resources.devices.1.type', 'z'),
    path: 'linux.resources.devices[1].type',
  },
  {
    name: 'cgroup device allow missing',
    edit: del('linux.resources.devices.0.allow'),
    path: 'linux.resources.devices[0].allow',
  },
  { name: 'memory limit -2', edit: set('linux.resources.memory.limit', -2), path: 'linux.resources.memory.limit' },
  {
    name: 'memory limit a string',
    edit: set('linux.resources.memory.limit', '1G'),
    path: 'linux.resources.memory.limit',
  },
  {
    name: 'swappiness 101',
    edit: set('linux.resources.memory.swappiness', 101),
    path: 'linux.resources.memory.swappiness',
  },
  { name: 'cpu burst above quota', edit: set('linux.resources.cpu.burst', 200000), path: 'linux.resources.cpu.burst' },
  { name: 'cpu cpus malformed', edit: set('linux.resources.cpu.cpus', '0-'), path: 'linux.resources.cpu.cpus' },
  { name: 'cpu shares negative', edit: set('linux.resources.cpu.shares', -1), path: 'linux.resources.cpu.shares' },
  { name: 'pids limit missing', edit: del('linux.resources.pids.limit'), path: 'linux.resources.pids.limit' },
  {
    name: 'blkio weight above uint16',
    edit: set('linux.resources.blockIO.weight', 70000),
    path: 'linux.resources.blockIO.weight',
  },
  {
    name: 'blkio weightDevice without a weight',
    edit: del('linux.resources.blockIO.weightDevice.0.weight'),
    path: 'linux.resources.blockIO.weightDevice[0]',
  },
  {
    name: 'blkio throttle rate missing',
    edit: del('linux.resources.blockIO.throttleReadBpsDevice.0.rate'),
    path: 'linux.resources.blockIO.throttleReadBpsDevice[0].rate',
  },
  {
    name: 'hugepage size "64kB"',
    edit: set('linux.resources.hugepageLimits.0.pageSize', '64kB'),
    path: 'linux.resources.hugepageLimits[0].pageSize',
  },
  {
    name: 'net priority name missing',
    edit: del('linux.resources.network.priorities.0.name'),
    path: 'linux.resources.network.priorities[0].name',
  },
  {
    name: 'net classID negative',
    edit: set('linux.resources.network.classID', -1),
    path: 'linux.resources.network.classID',
  },
  {
    name: 'rdma hcaHandles a string',
    edit: set('linux.resources.rdma.mlx5_1.hcaHandles', 'not a uint32'),
    path: 'linux.resources.rdma["mlx5_1"].hcaHandles',
  },
  { name: 'rdma entry empty', edit: set('linux.resources.rdma.mlx5_1', {}), path: 'linux.resources.rdma["mlx5_1"]' },
  {
    name: 'unified key with a slash',
    edit: set(['linux', 'resources', 'unified', '../x'], '1'),
    path: 'linux.resources.unified["../x"]',
  },
  // intelRdt
  {
    name: 'intelRdt memBwSchema without MB:',
    edit: set('linux.intelRdt.memBwSchema', 'L3:0=1'),
    path: 'linux.intelRdt.memBwSchema',
  },
  { name: 'intelRdt closID with a slash', edit: set('linux.intelRdt.closID', '../x'), path: 'linux.intelRdt.closID' },
  // sysctl
  {
    name: 'IPC sysctl without an IPC namespace',
    edit: without('ipc'),
    path: 'linux.sysctl["kernel.shmmax"]',
    also: ['linux.sysctl["fs.mqueue.msg_max"]'],
  },
  {
    name: 'net sysctl without a network namespace',
    edit: without('network'),
    path: 'linux.sysctl["net.ipv4.ip_forward"]',
    also: ['linux.sysctl["net/ipv4/conf/eth0.100/rp_filter"]'],
  },
  {
    name: 'kernel.hostname sysctl',
    edit: set(['linux', 'sysctl', 'kernel.hostname'], 'x'),
    path: 'linux.sysctl["kernel.hostname"]',
  },
  {
    name: 'host-wide sysctl',
    edit: set(['linux', 'sysctl', 'vm.swappiness'], '1'),
    path: 'linux.sysctl["vm.swappiness"]',
    says: 'not isolated',
  },
  {
    name: 'sysctl value a number',
    edit: set(['linux', 'sysctl', 'net.ipv4.ip_forward'], 1),
    path: 'linux.sysctl["net.ipv4.ip_forward"]',
  },
  // seccomp
  {
    name: 'seccomp defaultAction missing',
    edit: del('linux.seccomp.defaultAction'),
    path: 'linux.seccomp.defaultAction',
  },
  {
    name: 'seccomp defaultAction unknown',
    edit: set('linux.seccomp.defaultAction', 'SCMP_ACT_NOPE'),
    path: 'linux.seccomp.defaultAction',
  },
  {
    name: 'seccomp defaultAction SCMP_ACT_NOTIFY',
    edit: set('linux.seccomp.defaultAction', 'SCMP_ACT_NOTIFY'),
    path: 'linux.seccomp.defaultAction',
    also: ['linux.seccomp.defaultErrnoRet'],
  },
  {
    name: 'seccomp defaultErrnoRet with SCMP_ACT_KILL',
    edit: set('linux.seccomp.defaultAction', 'SCMP_ACT_KILL'),
    path: 'linux.seccomp.defaultErrnoRet',
  },
  {
    name: 'seccomp arch unknown',
    edit: set('linux.seccomp.architectures.1', 'SCMP_ARCH_Z80'),
    path: 'linux.seccomp.architectures[1]',
  },
  { name: 'seccomp flag unknown', edit: set('linux.seccomp.flags.0', 'FLAG'), path: 'linux.seccomp.flags[0]' },
  {
    name: 'seccomp rule without names',
    edit: set('linux.seccomp.syscalls.0.names', []),
    path: 'linux.seccomp.syscalls[0].names',
  },
  {
    name: 'seccomp rule action unknown',
    edit: set('linux.seccomp.syscalls.0.action', 'allow'),
    path: 'linux.seccomp.syscalls[0].action',
  },
  {
    name: 'seccomp errnoRet with SCMP_ACT_ALLOW',
    edit: set('linux.seccomp.syscalls.0.errnoRet', 1),
    path: 'linux.seccomp.syscalls[0].errnoRet',
  },
  {
    name: 'seccomp arg op unknown',
    edit: set('linux.seccomp.syscalls.1.args.0.op', 'SCMP_CMP_LIKE'),
    path: 'linux.seccomp.syscalls[1].args[0].op',
  },
  {
    name: 'seccomp arg index 6',
    edit: set('linux.seccomp.syscalls.1.args.0.index', 6),
    path: 'linux.seccomp.syscalls[1].args[0].index',
  },
  {
    name: 'seccomp arg value missing',
    edit: del('linux.seccomp.syscalls.1.args.0.value'),
    path: 'linux.seccomp.syscalls[1].args[0].value',
  },
  {
    name: 'seccomp SCMP_ACT_NOTIFY without listenerPath',
    edit: del('linux.seccomp.listenerPath', 'linux.seccomp.listenerMetadata'),
    path: 'linux.seccomp.listenerPath',
  },
  {
    name: 'seccomp listenerMetadata without listenerPath',
    edit: (c) => {
      del('linux.seccomp.listenerPath')(c);
      c.linux.seccomp.syscalls.pop();
    },
    path: 'linux.seccomp.listenerMetadata',
  },
  // the rest of linux
  { name: 'rootfsPropagation unknown', edit: set('linux.rootfsPropagation', 'bogus'), path: 'linux.rootfsPropagation' },
  { name: 'maskedPaths entry relative', edit: set('linux.maskedPaths.0', 'proc/kcore'), path: 'linux.maskedPaths[0]' },
  { name: 'readonlyPaths a string', edit: set('linux.readonlyPaths', '/proc/sys'), path: 'linux.readonlyPaths' },
  {
    name: 'masked paths without a mount namespace',
    edit: without('mount'),
    path: 'linux.maskedPaths',
    also: ['linux.readonlyPaths'],
  },
  {
    name: 'personality domain unknown',
    edit: set('linux.personality.domain', 'BSD'),
    path: 'linux.personality.domain',
  },
  {
    name: 'netDevices name a number',
    edit: set('linux.netDevices.eth1.name', 23),
    path: 'linux.netDevices["eth1"].name',
  },
  {
    name: 'netDevices key too long',
    edit: set('linux.netDevices.a-very-long-interface', {}),
    path: 'linux.netDevices["a-very-long-interface"]',
  },
  { name: 'cgroupsPath a number', edit: set('linux.cgroupsPath', 1), path: 'linux.cgroupsPath' },
  { name: 'linux a string', edit: set('linux', 'yes'), path: 'linux', also: ['hostname', 'domainname'] },
];

describe('bad configs are rejected with the JSON path of the problem', () => {
  test('the table covers at least 40 cases', () => assert.ok(bad.length >= 40, `${bad.length}`));
  for (const b of bad) {
    test(b.name, () => {
      const base = full();
      const edited = b.edit(base);
      const doc = edited === undefined ? base : edited;
      const opts = { unknownCapabilities: b.strictCaps ? ('error' as const) : ('warn' as const) };
      const { problems } = validateRuntimeConfig(doc, opts);
      assert.deepEqual(paths(problems).sort(), [b.path, ...(b.also ?? [])].sort(), JSON.stringify(problems));
      const main = problems.find((p) => p.path === b.path)!;
      if (b.says !== undefined) {
        if (typeof b.says === 'string') assert.ok(main.message.includes(b.says), main.message);
        else assert.match(main.message, b.says);
      }
      assert.throws(
        () => parseRuntimeConfig(doc, 'config.json', opts),
        (e: unknown) => {
          assert.ok(isBerthError(e, ErrorCode.InvalidArgument));
          const prefix = b.path === '' ? 'config.json: ' : `config.json: ${b.path}: `;
          assert.ok(
            e.message.split('\n').some((l) => l.startsWith(prefix)),
            e.message,
          );
          return true;
        },
      );
    });
  }
});

describe('error format', () => {
  test('one line per problem, each "<source>: <path>: <message>", all reported at once', () => {
    const c = full();
    c.process.cwd = 'x';
    c.linux.namespaces[0].type = 'foo';
    c.linux.resources.memory.swappiness = 500;
    try {
      parseRuntimeConfig(c, '/b/config.json');
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof BerthError);
      assert.equal(e.code, ErrorCode.InvalidArgument);
      assert.deepEqual(e.message.split('\n'), [
        '/b/config.json: linux.namespaces[0].type: expected one of pid, network, mount, ipc, uts, user, cgroup, time; got "foo"',
        '/b/config.json: linux.resources.memory.swappiness: expected an integer from 0 to 100; got 500',
        '/b/config.json: process.cwd: expected an absolute path; got "x"',
      ]);
    }
  });

  test('a document with very many problems is summarised', () => {
    const c = minimal();
    c.mounts = Array.from({ length: 80 }, () => ({ destination: 'rel' }));
    const e = (() => {
      try {
        parseRuntimeConfig(c);
      } catch (err) {
        return err as Error;
      }
      return assert.fail('no error');
    })();
    const lines = e.message.split('\n');
    assert.equal(lines.length, 51);
    assert.equal(lines[50], 'config.json: … and 30 more problems');
  });

  test('unknown capabilities are warnings by default (the spec: log a warning and go on)', () => {
    const c = full();
    c.process.capabilities.bounding.push('CAP_FLY');
    const warnings: string[] = [];
    const cfg = parseRuntimeConfig(c, 'config.json', { onWarning: (w) => warnings.push(w) });
    assert.equal(cfg.process?.capabilities?.bounding?.[2], 'CAP_FLY');
    assert.deepEqual(warnings, [
      'config.json: process.capabilities.bounding[2]: unknown capability "CAP_FLY"; expected a name from capabilities(7) such as "CAP_KILL"; ignored',
    ]);
  });
});

describe('parsing keeps what it does not know', () => {
  test('unknown fields are kept at every level', () => {
    const c = full();
    c['org.example/top'] = { a: 1 };
    c.process.extra = true;
    c.linux.resources.memory.futureKnob = 7;
    c.linux.seccomp.syscalls[0].comment = 'x';
    const cfg = parseRuntimeConfig(JSON.parse(JSON.stringify(c)));
    assert.deepEqual(cfg['org.example/top'], { a: 1 });
    assert.equal(cfg.process?.['extra'], true);
    assert.equal(cfg.linux?.resources?.memory?.['futureKnob'], 7);
    assert.equal(cfg.linux?.seccomp?.syscalls?.[0]?.['comment'], 'x');
  });

  test('null optional fields are removed, as Go decoders treat them as absent', () => {
    const c = {
      ...minimal(),
      hostname: null,
      process: { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/', env: null },
    };
    const cfg = parseRuntimeConfig(c);
    assert.equal(Object.hasOwn(cfg, 'hostname'), false);
    assert.equal(Object.hasOwn(cfg.process!, 'env'), false);
  });
});

describe('defaults', () => {
  test('defaultSpec matches what runc spec writes, with hostname "berth"', () => {
    const s = defaultSpec({ cgroupNamespace: false });
    assert.equal(s.hostname, 'berth');
    assert.deepEqual(s.process?.args, ['sh']);
    assert.equal(s.process?.terminal, true);
    assert.equal(s.process?.cwd, '/');
    assert.deepEqual(s.process?.capabilities?.bounding, ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    assert.deepEqual(s.process?.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    assert.deepEqual(
      s.mounts?.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup'],
    );
    assert.deepEqual(
      s.linux?.namespaces?.map((n) => n.type),
      ['pid', 'network', 'ipc', 'uts', 'mount'],
    );
    assert.deepEqual(
      defaultSpec({ cgroupNamespace: true }).linux?.namespaces?.map((n) => n.type),
      ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'],
    );
  });

  test('the rootless variant: user namespace, own ids mapped to root, /sys bound, no gid=, no resources', () => {
    const s = defaultSpec({ rootless: true, hostUid: 1234, hostGid: 4321, cgroupNamespace: false });
    assert.deepEqual(
      s.linux?.namespaces?.map((n) => n.type),
      ['pid', 'ipc', 'uts', 'mount', 'user'],
    );
    assert.deepEqual(s.linux?.uidMappings, [{ containerID: 0, hostID: 1234, size: 1 }]);
    assert.deepEqual(s.linux?.gidMappings, [{ containerID: 0, hostID: 4321, size: 1 }]);
    const sys = s.mounts?.find((m) => m.destination === '/sys');
    assert.deepEqual(sys, {
      destination: '/sys',
      type: 'none',
      source: '/sys',
      options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
    });
    assert.ok(!s.mounts?.find((m) => m.destination === '/dev/pts')?.options?.includes('gid=5'));
    assert.equal(s.linux?.resources, undefined);
    assert.deepEqual(validateRuntimeConfig(s).problems, []);
  });

  for (const args of [['spec'], ['spec', '--rootless']]) {
    test(`the output of \`runc ${args.join(' ')}\` validates`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-oci-'));
      try {
        // runc is this test's oracle: it must be installed (Debian's runc package).
        execFileSync('runc', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
        const cfg = parseRuntimeConfigFile(join(dir, 'config.json'), { unknownCapabilities: 'error' });
        assert.ok(cfg.process?.args?.length);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('defaultSpec round-trips through JSON', () => {
    const s = defaultSpec({ rootless: false });
    assert.deepEqual(parseRuntimeConfig(JSON.parse(JSON.stringify(s))), s);
  });
});

describe('parseRuntimeConfigFile', () => {
  test('syntax errors name the file, line and column; a missing file is NotFound', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-oci-'));
    try {
      const file = join(dir, 'config.json');
      writeFileSync(file, '{\n  "ociVersion": "1.2.1",\n  "root": { "path": "rootfs" },,\n}\n');
      assert.throws(
        () => parseRuntimeConfigFile(file),
        (e: unknown) =>
          isBerthError(e, ErrorCode.InvalidArgument) &&
          e.message.startsWith(`${file}: invalid JSON: `) &&
          /line 3 column \d+/.test(e.message),
      );
      writeFileSync(file, '{"ociVersion": "1.2.1", "root": {"path": "r"}');
      assert.throws(() => parseRuntimeConfigFile(file), /invalid JSON: .*line 1 column/);
      writeFileSync(file, JSON.stringify({ ...minimal(), process: { user: { uid: 0, gid: 0 }, args: [], cwd: '/' } }));
      assert.throws(
        () => parseRuntimeConfigFile(file),
        (e: unknown) =>
          isBerthError(e) && e.message === `${file}: process.args: must have at least one entry (the program to run)`,
      );
      assert.throws(
        () => parseRuntimeConfigFile(join(dir, 'nope.json')),
        (e: unknown) => isBerthError(e, ErrorCode.NotFound) && e.message.includes('nope.json'),
      );
      writeFileSync(file, JSON.stringify(full()));
      assert.equal(parseRuntimeConfigFile(file).hostname, 'box');
      assert.equal(readFileSync(file, 'utf8').length > 0, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseState', () => {
  test('a good state and bad ones', () => {
    const s = { ociVersion: '1.2.1', id: 'c1', status: 'running', pid: 42, bundle: '/b', annotations: { a: 'b' } };
    assert.equal(parseState(s), s);
    assert.throws(
      () => parseState({ ...s, status: 'paused' }),
      (e: unknown) =>
        isBerthError(e, ErrorCode.InvalidArgument) &&
        e.message === 'state: status: expected one of creating, created, running, stopped; got "paused"',
    );
    assert.throws(
      () => parseState({ ...s, bundle: 'b', id: '' }),
      (e: unknown) => isBerthError(e) && e.message.split('\n').length === 2,
    );
  });
});

describe('Linux tables', () => {
  test('signalNumber takes names, SIG names, lower case, numbers and real-time offsets', () => {
    const cases: [string | number, number][] = [
      ['KILL', 9],
      ['SIGKILL', 9],
      ['9', 9],
      ['sigterm', 15],
      ['term', 15],
      [' HUP ', 1],
      [15, 15],
      ['SIGCHLD', 17],
      ['SIGCLD', 17],
      ['SIGWINCH', 28],
      ['SIGSYS', 31],
      ['RTMIN', 34],
      ['SIGRTMIN+1', 35],
      ['RTMIN+30', 64],
      ['RTMAX', 64],
      ['SIGRTMAX-2', 62],
      ['64', 64],
    ];
    for (const [input, want] of cases) assert.equal(signalNumber(input), want, String(input));
    for (const badSig of ['FOO', 'SIGFOO', '0', '65', '', '-9', 'RTMIN+31', 'RTMAX+1', 'SIG', '9x', 0, 65, 1.5]) {
      assert.throws(
        () => signalNumber(badSig),
        (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && e.message.includes(JSON.stringify(badSig)),
        String(badSig),
      );
    }
  });

  test('capabilities are numbered as in capabilities(7)', () => {
    assert.equal(CAPABILITIES.length, 41);
    assert.equal(capabilityNumber('CAP_CHOWN'), 0);
    assert.equal(capabilityNumber('CAP_KILL'), 5);
    assert.equal(capabilityNumber('CAP_NET_BIND_SERVICE'), 10);
    assert.equal(capabilityNumber('CAP_NET_ADMIN'), 12);
    assert.equal(capabilityNumber('CAP_SYS_ADMIN'), 21);
    assert.equal(capabilityNumber('CAP_AUDIT_WRITE'), 29);
    assert.equal(capabilityNumber('CAP_SETFCAP'), 31);
    assert.equal(capabilityNumber('CAP_AUDIT_READ'), 37);
    assert.equal(capabilityNumber('CAP_CHECKPOINT_RESTORE'), 40);
    assert.throws(
      () => capabilityNumber('KILL'),
      (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument),
    );
    assert.throws(() => capabilityNumber('cap_kill'), /unknown capability "cap_kill"/);
  });

  test('this kernel knows every capability in the table', () => {
    // cap_last_cap ≥ 40 on any kernel since 5.9; berth's table must not run past the kernel's.
    const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
    assert.ok(last >= CAPABILITIES.length - 1, `cap_last_cap is ${last}`);
  });

  test('rlimits are numbered as on Linux', () => {
    assert.equal(RLIMITS.length, 16);
    assert.equal(rlimitNumber('RLIMIT_CPU'), 0);
    assert.equal(rlimitNumber('RLIMIT_CORE'), 4);
    assert.equal(rlimitNumber('RLIMIT_NPROC'), 6);
    assert.equal(rlimitNumber('RLIMIT_NOFILE'), 7);
    assert.equal(rlimitNumber('RLIMIT_AS'), 9);
    assert.equal(rlimitNumber('RLIMIT_RTTIME'), 15);
    assert.throws(
      () => rlimitNumber('RLIMIT_FOO'),
      (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument),
    );
    assert.equal(rlimitValue(1024), 1024);
    assert.equal(rlimitValue(RLIM_INFINITY_JSON), -1);
    assert.equal(rlimitValue(2 ** 63), -1);
  });

  test('namespace clone flags and /proc names', () => {
    assert.equal(namespaceCloneFlag('mount'), 0x20000);
    assert.equal(namespaceCloneFlag('network'), 0x40000000);
    assert.equal(namespaceCloneFlag('pid'), 0x20000000);
    assert.equal(namespaceCloneFlag('user'), 0x10000000);
    assert.equal(namespaceCloneFlag('ipc'), 0x08000000);
    assert.equal(namespaceCloneFlag('uts'), 0x04000000);
    assert.equal(namespaceCloneFlag('cgroup'), 0x02000000);
    assert.equal(namespaceCloneFlag('time'), 0x80);
    assert.equal(namespaceProcName('network'), 'net');
    assert.equal(namespaceProcName('mount'), 'mnt');
    assert.throws(
      () => namespaceCloneFlag('net'),
      (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument),
    );
    assert.throws(
      () => namespaceCloneFlag('toString'),
      (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument),
    );
  });

  test('mount options: flags, cleared flags, propagation, data, recursive attributes', () => {
    const m = mountOptionFlags(['rbind', 'ro', 'nosuid', 'nodev', 'noexec', 'rprivate', 'mode=755', 'size=64k']);
    assert.equal(m.flags, MS.BIND | MS.REC | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
    assert.equal(m.clearFlags, 0);
    assert.deepEqual(m.propagation, [MS.PRIVATE | MS.REC]);
    assert.deepEqual(m.data, ['mode=755', 'size=64k']);

    // Later options override earlier ones, and clearing is remembered for remounts.
    const rw = mountOptionFlags(['ro', 'rw', 'suid', 'dev', 'exec', 'noatime', 'atime']);
    assert.equal(rw.flags, 0);
    assert.equal(rw.clearFlags, MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME);
    assert.equal(mountOptionFlags(['rw', 'ro']).clearFlags, 0);

    const all = mountOptionFlags([
      'sync',
      'dirsync',
      'remount',
      'mand',
      'nodiratime',
      'relatime',
      'strictatime',
      'bind',
      'shared',
      'slave',
      'unbindable',
      'rshared',
      'rslave',
      'runbindable',
      'private',
      'defaults',
    ]);
    assert.equal(
      all.flags,
      MS.SYNCHRONOUS | MS.DIRSYNC | MS.REMOUNT | MS.MANDLOCK | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME | MS.BIND,
    );
    assert.deepEqual(all.propagation, [
      MS.SHARED,
      MS.SLAVE,
      MS.UNBINDABLE,
      MS.SHARED | MS.REC,
      MS.SLAVE | MS.REC,
      MS.UNBINDABLE | MS.REC,
      MS.PRIVATE,
    ]);
    assert.deepEqual(all.data, [], '"defaults" is dropped, not passed to the filesystem');
    assert.equal(mountOptionFlags(['async', 'nomand', 'diratime', 'norelatime', 'nostrictatime']).flags, 0);

    const rec = mountOptionFlags(['rro', 'rnosuid', 'rnoatime', 'rexec']);
    assert.equal(rec.recAttrSet, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOATIME);
    assert.equal(rec.recAttrClr, MOUNT_ATTR.ATIME_MASK | MOUNT_ATTR.NOEXEC);
    assert.equal(rec.flags, 0);

    assert.deepEqual(mountOptionFlags(['idmap']).idmap, { recursive: false });
    assert.deepEqual(mountOptionFlags(['ridmap']).idmap, { recursive: true });
    assert.equal(mountOptionFlags(['tmpcopyup']).tmpcopyup, true);
    assert.deepEqual(mountOptionFlags(['newinstance', 'ptmxmode=0666', 'toString']).data, [
      'newinstance',
      'ptmxmode=0666',
      'toString',
    ]);
  });
});

describe('checkHostSupport', () => {
  const fake = (files: Record<string, string>): HostProbe => ({
    exists: (p) => Object.hasOwn(files, p),
    readFile: (p) => files[p],
  });
  const allNs = Object.fromEntries(
    ['pid', 'net', 'mnt', 'ipc', 'uts', 'user', 'cgroup', 'time'].map((n) => [`/proc/self/ns/${n}`, '']),
  );

  test('a host with everything accepts a config without LSM labels or RDT', () => {
    const c = parseRuntimeConfig(full());
    delete c.process!.apparmorProfile;
    delete c.process!.selinuxLabel;
    delete c.linux!.intelRdt;
    checkHostSupport(c, fake(allNs));
  });

  test('each missing feature is named, one line each, as Unsupported', () => {
    const c = parseRuntimeConfig(full()) as RuntimeConfig;
    const files = { ...allNs, '/sys/module/apparmor/parameters/enabled': 'N\n' } as Record<string, string>;
    delete files['/proc/self/ns/time'];
    assert.throws(
      () => checkHostSupport(c, fake(files)),
      (e: unknown) => {
        assert.ok(isBerthError(e, ErrorCode.Unsupported));
        assert.deepEqual(e.message.split('\n'), [
          'config.json: linux.namespaces[7].type: this kernel has no time namespaces (/proc/self/ns/time is missing)',
          'config.json: process.apparmorProfile: AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is not "Y")',
          'config.json: process.selinuxLabel: SELinux is not enabled on this host (/sys/fs/selinux/enforce is missing)',
          'config.json: linux.intelRdt: Intel RDT is not supported by berth',
        ]);
        return true;
      },
    );
  });

  test('AppArmor and SELinux present are accepted', () => {
    const c = parseRuntimeConfig(full());
    delete c.linux!.intelRdt;
    checkHostSupport(
      c,
      fake({ ...allNs, '/sys/module/apparmor/parameters/enabled': 'Y\n', '/sys/fs/selinux/enforce': '1' }),
    );
  });

  test("the real probe finds this host's namespaces", () => {
    checkHostSupport(parseRuntimeConfig(defaultSpec()));
  });
});
