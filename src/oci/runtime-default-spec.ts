// The config.json that `berth-runtime spec` writes: the same example runc's `spec` writes
// (libcontainer/specconv Example and ToRootless), with hostname "berth".
// Owns: the default document. Never: write files (the CLI does) or validate.

import { statfsSync } from 'node:fs';
import { OCI_VERSION, type LinuxNamespace, type Mount, type RuntimeConfig } from './runtime-spec.ts';

export interface DefaultSpecOptions {
  /** For a runtime run by an unprivileged user: a user namespace mapping only that user to root. */
  rootless?: boolean;
  /** Host uid and gid mapped to root in the rootless variant; default: this process's euid/egid. */
  hostUid?: number;
  hostGid?: number;
  /**
   * Add a cgroup namespace. runc does so only on a cgroup v2 (unified) host; the default detects
   * that from the filesystem type of /sys/fs/cgroup.
   */
  cgroupNamespace?: boolean;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

function isCgroup2Unified(): boolean {
  try {
    return statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(options: DefaultSpecOptions = {}): RuntimeConfig {
  const rootless = options.rootless ?? false;
  const namespaces: LinuxNamespace[] = [
    { type: 'pid' },
    { type: 'network' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  if (options.cgroupNamespace ?? isCgroup2Unified()) namespaces.push({ type: 'cgroup' });

  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
  ];

  const spec: RuntimeConfig = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'berth',
    mounts,
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces,
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  if (rootless)
    toRootless(spec, options.hostUid ?? process.geteuid?.() ?? 0, options.hostGid ?? process.getegid?.() ?? 0);
  return spec;
}

/**
 * What an unprivileged user can run: no network namespace (it could not be configured), a user
 * namespace mapping the user to root, /sys bound from the host (sysfs cannot be mounted without
 * owning the network namespace), no uid=/gid= mount options (those ids are not mapped), and no
 * cgroup resources (the user cannot write the cgroup tree).
 */
function toRootless(spec: RuntimeConfig, uid: number, gid: number): void {
  const linux = spec.linux!;
  linux.namespaces = [
    ...(linux.namespaces ?? []).filter((ns) => ns.type !== 'network' && ns.type !== 'user'),
    { type: 'user' },
  ];
  linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
  linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
  spec.mounts = (spec.mounts ?? []).map((m) => {
    if (m.destination === '/sys') {
      return {
        destination: '/sys',
        type: 'none',
        source: '/sys',
        options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
      };
    }
    const options = m.options?.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid='));
    return options === undefined ? m : { ...m, options };
  });
  delete linux.resources;
}
