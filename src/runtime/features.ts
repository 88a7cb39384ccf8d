// The runtime spec's features document (features.md) for `berth-runtime features`: what this
// build of berth-runtime really supports on this host. Every list here must stay truthful: a test
// runs a config using each advertised feature.
import {
  type Features,
  OCI_VERSION,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from '../oci/runtime-spec.ts';
import { compileSeccomp } from '../seccomp/compile-seccomp.ts';
import { CAPABILITIES, KNOWN_MOUNT_OPTIONS, mountOptionFlags } from '../oci/runtime-linux-tables.ts';

/** Mount options berth-runtime honours: every option of the table except those the plan builder refuses. */
export function supportedMountOptions(): string[] {
  return KNOWN_MOUNT_OPTIONS.filter((o) => {
    const f = mountOptionFlags([o]);
    return !f.tmpcopyup && !f.idmap;
  }).sort();
}

export interface FeatureProbe {
  /** cgroup v1 and v2 hierarchies present on the host. */
  cgroup: { v1: boolean; v2: boolean };
}

// Notify is refused until berth-init can pass the listener fd; WAIT_KILLABLE_RECV only makes sense with it.
const SECCOMP_UNSUPPORTED = new Set(['SCMP_ACT_NOTIFY', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']);
const supported = (list: readonly string[]) => list.filter((x) => !SECCOMP_UNSUPPORTED.has(x));

/** The architectures a filter can cover here: libseccomp's own list, and only those of the host's byte order (asked, not assumed). */
function seccompArchs(): string[] {
  return SECCOMP_ARCHES.filter((arch) => {
    try {
      compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [arch], syscalls: [] });
      return true;
    } catch {
      return false;
    }
  });
}

export function featuresDocument(probe: FeatureProbe): Features {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: supportedMountOptions(),
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
      capabilities: [...CAPABILITIES],
      cgroup: { v1: probe.cgroup.v1, v2: probe.cgroup.v2, systemd: false, systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        actions: supported(SECCOMP_ACTIONS),
        operators: [...SECCOMP_OPERATORS],
        archs: seccompArchs(),
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: supported(SECCOMP_FLAGS),
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { 'org.berth.runtime.version': '0.1.0' },
  };
}
