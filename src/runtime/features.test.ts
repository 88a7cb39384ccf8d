import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSpec } from '../oci/runtime-default-spec.ts';
import type { LinuxSeccompAction, LinuxSeccompArch, LinuxSeccompFlag } from '../oci/runtime-spec.ts';
import { compileSeccomp } from '../seccomp/compile-seccomp.ts';
import { featuresDocument } from './features.ts';
import { buildCreatePlan } from './plan-builder.ts';
import { linuxHostFacts } from './host-facts.ts';

// The features document must be truthful: everything it advertises is exercised here.
describe('features document', () => {
  const f = featuresDocument({ cgroup: { v1: true, v2: false } });

  it('every advertised seccomp architecture, action and flag compiles with libseccomp', () => {
    const sc = f.linux!.seccomp!;
    for (const arch of sc.archs!) {
      compileSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: [arch as LinuxSeccompArch],
        syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
      });
    }
    for (const action of sc.actions!) {
      compileSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir'], action: action as LinuxSeccompAction }],
      });
    }
    compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: sc.supportedFlags as LinuxSeccompFlag[], syscalls: [] });
  });

  it('every advertised mount option is accepted by the plan builder', () => {
    for (const o of f.mountOptions!) {
      const c = defaultSpec();
      c.process!.terminal = false;
      c.mounts!.push({ destination: '/x', type: 'bind', source: '/tmp', options: ['rbind', o] });
      buildCreatePlan(
        c,
        { id: 'f', bundle: '/b', mode: 'foreground', preserveFds: 0, noPivot: false, cgroupJoin: { writeZero: [] } },
        linuxHostFacts(),
      );
    }
  });

  it('does not advertise what berth refuses', () => {
    assert.equal(f.linux!.cgroup!.systemd, false);
    assert.ok(!f.linux!.seccomp!.actions!.includes('SCMP_ACT_NOTIFY'));
    assert.ok(!f.mountOptions!.includes('idmap') && !f.mountOptions!.includes('tmpcopyup'));
    assert.ok(f.mountOptions!.includes('rro'), 'recursive attributes are advertised (MOUNT_SETATTR)');
    assert.equal(f.linux!.apparmor!.enabled, false);
  });
});
