// Whether this host can provide what a (validated) config asks for. The spec requires a runtime to
// reject a feature it cannot provide rather than silently run without it.
// Owns: the checks and the probe seam. Never: change the host; reads go through a HostProbe so the
// checks are unit-testable with a fake.

import { unsupported } from '../errors/errors.ts';
import { existsSync, readFileSync } from 'node:fs';
import { namespaceProcName } from './runtime-linux-tables.ts';
import type { RuntimeConfig } from './runtime-spec.ts';

/** The host reads the checks make. */
export interface HostProbe {
  exists(path: string): boolean;
  /** The file's contents, or undefined if it cannot be read. */
  readFile(path: string): string | undefined;
}

export const defaultHostProbe: HostProbe = {
  exists: (path) => existsSync(path),
  readFile: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
};

const APPARMOR_ENABLED = '/sys/module/apparmor/parameters/enabled';
// selinuxfs is mounted here whenever SELinux is enabled.
const SELINUX_ENFORCE = '/sys/fs/selinux/enforce';

/**
 * Throws a BerthError Unsupported listing, one line each ("<source>: <JSON path>: <why>"), every
 * feature of the config this host cannot provide: a namespace type the kernel lacks, an AppArmor
 * profile without AppArmor, an SELinux label without SELinux, Intel RDT (berth does not implement it).
 */
export function checkHostSupport(
  config: RuntimeConfig,
  probe: HostProbe = defaultHostProbe,
  source = 'config.json',
): void {
  const lines: string[] = [];
  const fail = (path: string, why: string) => lines.push(`${source}: ${path}: ${why}`);

  config.linux?.namespaces?.forEach((ns, i) => {
    const file = `/proc/self/ns/${namespaceProcName(ns.type)}`;
    if (!probe.exists(file)) {
      fail(`linux.namespaces[${i}].type`, `this kernel has no ${ns.type} namespaces (${file} is missing)`);
    }
  });

  if (config.process?.apparmorProfile) {
    if (probe.readFile(APPARMOR_ENABLED)?.trim() !== 'Y') {
      fail('process.apparmorProfile', `AppArmor is not enabled on this host (${APPARMOR_ENABLED} is not "Y")`);
    }
  }

  if (config.process?.selinuxLabel) {
    if (!probe.exists(SELINUX_ENFORCE)) {
      fail('process.selinuxLabel', `SELinux is not enabled on this host (${SELINUX_ENFORCE} is missing)`);
    }
  }

  if (config.linux?.intelRdt !== undefined) {
    fail('linux.intelRdt', 'Intel RDT is not supported by berth');
  }

  if (lines.length > 0) throw unsupported(lines.join('\n'));
}
