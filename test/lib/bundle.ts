// Builds OCI bundles for tests and benchmarks from Debian's busybox-static: a rootfs with
// bin/busybox and a symlink per applet, /etc/passwd and /etc/group, /tmp, and a config.json with
// runc-spec-like defaults that the options edit. Nothing is downloaded; nothing outside the given
// directory is written. Never import berth's src/ from here (the suite judges berth as a black box).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultSpec,
  minimalSpec,
  type Spec,
  type SpecCapabilities,
  type SpecDevice,
  type SpecHooks,
  type SpecIdMapping,
  type SpecMount,
  type SpecNamespace,
  type SpecRlimit,
  type SpecUser,
} from './spec.ts';

export const BUSYBOX = '/bin/busybox';

/** Users and groups every test rootfs has; tests rely on these numbers. */
export const TEST_USER = { uid: 1000, gid: 1000, name: 'test', groups: [100, 1001] } as const;

const PASSWD = `root:x:0:0:root:/root:/bin/sh
test:x:1000:1000:test:/home/test:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`;

const GROUP = `root:x:0:
tty:x:5:
users:x:100:test
test:x:1000:
extra:x:1001:test
nogroup:x:65534:
`;

export interface BundleOptions {
  /** `default` is runc spec's config; `minimal` is a writable root with /proc and pid+mount namespaces. */
  runtimeSpec?: 'default' | 'minimal';
  args?: string[];
  env?: string[];
  cwd?: string;
  terminal?: boolean;
  user?: SpecUser;
  /** null removes the hostname (needed when joining another container's uts namespace). */
  hostname?: string | null;
  namespaces?: SpecNamespace[];
  uidMappings?: SpecIdMapping[];
  gidMappings?: SpecIdMapping[];
  /** Replaces the spec's mounts. */
  mounts?: SpecMount[];
  /** Appended to the spec's mounts. */
  extraMounts?: SpecMount[];
  hooks?: SpecHooks;
  readonlyRoot?: boolean;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rlimits?: SpecRlimit[];
  /** A list sets every capability set to it (inheritable too, so ambient can be raised). */
  capabilities?: string[] | SpecCapabilities;
  noNewPrivileges?: boolean;
  devices?: SpecDevice[];
  cgroupsPath?: string;
  annotations?: Record<string, string>;
  /** Last word: any other change to the config. */
  edit?: (spec: Spec) => void;
}

export interface Bundle {
  dir: string;
  rootfs: string;
  configPath: string;
  spec: Spec;
}

let appletCache: string[] | undefined;

/** The applets of the host's busybox-static, from `busybox --list`. */
export function busyboxApplets(): string[] {
  if (appletCache) return appletCache;
  if (!existsSync(BUSYBOX)) {
    throw new Error(
      `${BUSYBOX} not found: install Debian's busybox-static (apt-get install busybox-static; scripts/setup.sh does)`,
    );
  }
  const out = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8', timeout: 10_000 });
  appletCache = out.split('\n').filter((a) => a !== '' && a !== 'busybox' && !a.includes('/'));
  return appletCache;
}

/** Writes a busybox rootfs into `rootfs` (created if missing). */
export function buildRootfs(rootfs: string): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'root', 'home/test', 'var', 'mnt', 'run']) {
    mkdirSync(join(rootfs, d), { recursive: true, mode: 0o755 });
  }
  mkdirSync(join(rootfs, 'tmp'), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  // A copy, never a hard link: a container that could write its /bin/busybox must not reach the host's.
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of busyboxApplets()) {
    const link = join(rootfs, 'bin', applet);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  writeFileSync(join(rootfs, 'etc/passwd'), PASSWD);
  writeFileSync(join(rootfs, 'etc/group'), GROUP);
  writeFileSync(join(rootfs, 'etc/hosts'), '127.0.0.1 localhost\n');
  // Tests that check a cwd or a mount stayed inside the container look for this file at "/".
  writeFileSync(join(rootfs, 'ROOTFS_MARKER'), 'inside\n');
}

function capabilitySets(caps: string[] | SpecCapabilities): SpecCapabilities {
  if (!Array.isArray(caps)) return caps;
  return {
    bounding: [...caps],
    effective: [...caps],
    inheritable: [...caps],
    permitted: [...caps],
    ambient: [...caps],
  };
}

/** The config.json for `options`, without touching the disk. */
export function bundleSpec(options: BundleOptions = {}): Spec {
  const spec = options.runtimeSpec === 'minimal' ? minimalSpec() : defaultSpec();
  const p = spec.process;
  if (options.args) p.args = options.args;
  if (options.env) p.env = options.env;
  if (options.cwd !== undefined) p.cwd = options.cwd;
  if (options.terminal !== undefined) p.terminal = options.terminal;
  if (options.user) p.user = options.user;
  if (options.capabilities) p.capabilities = capabilitySets(options.capabilities);
  if (options.rlimits) p.rlimits = options.rlimits;
  if (options.noNewPrivileges !== undefined) p.noNewPrivileges = options.noNewPrivileges;
  if (options.hostname === null) delete spec.hostname;
  else if (options.hostname !== undefined) spec.hostname = options.hostname;
  if (options.namespaces) {
    spec.linux.namespaces = options.namespaces;
    // A hostname needs a uts namespace of the container's own (runtimes refuse it otherwise).
    if (options.hostname === undefined && !options.namespaces.some((n) => n.type === 'uts' && n.path === undefined)) {
      delete spec.hostname;
    }
  }
  if (options.uidMappings) spec.linux.uidMappings = options.uidMappings;
  if (options.gidMappings) spec.linux.gidMappings = options.gidMappings;
  if (options.mounts) spec.mounts = options.mounts;
  if (options.extraMounts) spec.mounts.push(...options.extraMounts);
  if (options.hooks) spec.hooks = options.hooks;
  if (options.readonlyRoot !== undefined) spec.root.readonly = options.readonlyRoot;
  if (options.maskedPaths) spec.linux.maskedPaths = options.maskedPaths;
  if (options.readonlyPaths) spec.linux.readonlyPaths = options.readonlyPaths;
  if (options.devices) spec.linux.devices = options.devices;
  if (options.cgroupsPath !== undefined) spec.linux.cgroupsPath = options.cgroupsPath;
  if (options.annotations) spec.annotations = options.annotations;
  options.edit?.(spec);
  return spec;
}

export function writeConfig(dir: string, spec: Spec): string {
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, `${JSON.stringify(spec, null, '\t')}\n`);
  return configPath;
}

/** Creates a bundle in `dir`: `dir/rootfs` and `dir/config.json`. */
export function makeBundle(dir: string, options: BundleOptions = {}): Bundle {
  mkdirSync(dir, { recursive: true });
  const rootfs = join(dir, 'rootfs');
  buildRootfs(rootfs);
  const spec = bundleSpec(options);
  const configPath = writeConfig(dir, spec);
  return { dir, rootfs, configPath, spec };
}
