// The runtime spec's features document (features.md) for `berth-runtime features`: what this
// build of berth-runtime really supports on this host. Every list here must stay truthful: a test
// runs a config using each advertised feature.
import { OCI_VERSION, type Features } from '../oci/runtime-spec.ts';
import { CAPABILITIES, KNOWN_MOUNT_OPTIONS, mountOptionFlags } from '../oci/runtime-linux-tables.ts';

/** Mount options berth-runtime honours: every option of the table except those the plan builder refuses. */
function supportedMountOptions(): string[] {
  return KNOWN_MOUNT_OPTIONS.filter((o) => {
    const f = mountOptionFlags([o]);
    return f.recAttrSet === 0 && f.recAttrClr === 0 && !f.tmpcopyup && !f.idmap;
  }).sort();
}

export interface FeatureProbe {
  /** cgroup v1 and v2 hierarchies present on the host. */
  cgroup: { v1: boolean; v2: boolean };
  /** seccomp compiled in (libseccomp available to the addon). */
  seccomp?: { actions: string[]; operators: string[]; archs: string[]; flags: string[] };
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
      seccomp: probe.seccomp
        ? { enabled: true, actions: probe.seccomp.actions, operators: probe.seccomp.operators, archs: probe.seccomp.archs, supportedFlags: probe.seccomp.flags }
        : { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { 'org.berth.runtime.version': '0.1.0' },
  };
}
