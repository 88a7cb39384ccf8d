import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { V1CgroupManager } from '../cgroups/v1-manager.ts';
import { V2CgroupManager } from '../cgroups/v2-manager.ts';
import { nodeCgroupFs } from '../cgroups/cgroup-fs.ts';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';
import type { ContainerRecord } from './state-store.ts';
import { encodeVerbsFile } from './verbs-file.ts';

/** Decodes the format as docs/native.md states it (and native/front/record.c reads it). */
function decode(buf: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(10, at);
    const [key, len] = buf.subarray(at, nl).toString().split(' ');
    const end = nl + 1 + Number(len);
    out.push([key!, buf.subarray(nl + 1, end).toString()]);
    assert.equal(buf[end], 10, `record ${key} ends with a newline`);
    at = end + 1;
  }
  return out;
}

const rec = (config: RuntimeConfig, annotations: Record<string, string> = {}): ContainerRecord => ({
  version: 1,
  id: 'c1',
  pid: 42,
  initStartTime: '4242',
  bundle: '/b',
  rootfs: '/b/rootfs',
  created: '2026-01-01T00:00:00.000Z',
  owner: '',
  annotations,
  config,
  cgroupPaths: {},
});

describe('verbs file', () => {
  it('carries the state fields, annotations with newlines and multi-byte text by byte length, first version and last end', () => {
    const records = decode(encodeVerbsFile(rec({ ociVersion: '1.2.1' }, { b: 'line\nnext', a: 'é€' }), undefined));
    assert.deepEqual(records[0], ['version', '1']);
    assert.deepEqual(records.at(-1), ['end', '']);
    const get = (k: string) => records.filter(([key]) => key === k).map(([, v]) => v);
    assert.deepEqual(get('pid'), ['42']);
    assert.deepEqual(get('start-time'), ['4242']);
    assert.deepEqual(get('annotation-key'), ['b', 'a']);
    assert.deepEqual(get('annotation-value'), ['line\nnext', 'é€']);
    assert.deepEqual(get('cgroup-dir'), [], 'no cgroups, no cgroup records');
  });

  it('names the cgroup files of v1 (each directory once) and v2, and prunes only the default parent', () => {
    const paths = {
      cpu: '/sys/fs/cgroup/cpu,cpuacct/berth/c1',
      cpuacct: '/sys/fs/cgroup/cpu,cpuacct/berth/c1',
      freezer: '/sys/fs/cgroup/freezer/berth/c1',
    };
    const v1 = decode(
      encodeVerbsFile(
        rec({ ociVersion: '1.2.1', linux: { cgroupsPath: '/berth/c1' } }),
        new V1CgroupManager('v1', paths, nodeCgroupFs),
      ),
    );
    const get = (r: Array<[string, string]>, k: string) => r.filter(([key]) => key === k).map(([, v]) => v);
    assert.deepEqual(get(v1, 'cgroup-dir'), ['/sys/fs/cgroup/cpu,cpuacct/berth/c1', '/sys/fs/cgroup/freezer/berth/c1']);
    assert.deepEqual(get(v1, 'freezer-version'), ['1']);
    assert.deepEqual(get(v1, 'freezer-dir'), ['/sys/fs/cgroup/freezer/berth/c1']);
    assert.deepEqual(get(v1, 'prune-dir'), ['/sys/fs/cgroup/cpu,cpuacct/berth', '/sys/fs/cgroup/freezer/berth']);
    const named = decode(
      encodeVerbsFile(
        rec({ ociVersion: '1.2.1', linux: { cgroupsPath: '/mine/c1' } }),
        new V2CgroupManager('/sys/fs/cgroup/mine/c1', undefined, nodeCgroupFs),
      ),
    );
    assert.deepEqual(get(named, 'cgroup-dir'), ['/sys/fs/cgroup/mine/c1']);
    assert.deepEqual(get(named, 'freezer-version'), ['2']);
    assert.deepEqual(get(named, 'kill-file'), ['/sys/fs/cgroup/mine/c1/cgroup.kill']);
    assert.deepEqual(get(named, 'prune-dir'), [], "a parent the config named is its owner's");
    // No cgroupsPath: the parent is the cgroup the runtime was started in, the caller's.
    const own = decode(
      encodeVerbsFile(
        rec({ ociVersion: '1.2.1' }),
        new V1CgroupManager('v1', { freezer: '/sys/fs/cgroup/freezer/user.slice/c1' }, nodeCgroupFs),
      ),
    );
    assert.deepEqual(get(own, 'prune-dir'), [], "never the caller's cgroup");
  });

  it('writes the host hooks resolved: argv defaults to the path, env exactly as the hook runner sets it', () => {
    const records = decode(
      encodeVerbsFile(
        rec({
          ociVersion: '1.2.1',
          hooks: {
            poststart: [{ path: '/bin/true' }],
            poststop: [{ path: '/bin/sh', args: ['sh', '-c', 'x'], env: ['A=1', 'B', 'A=2'], timeout: 3 }],
            prestart: [{ path: '/not/here' }],
          },
        }),
        undefined,
      ),
    );
    const hooks = records.filter(([k]) => k.startsWith('hook'));
    assert.deepEqual(hooks, [
      ['hook', 'poststart'],
      ['hook-path', '/bin/true'],
      ['hook-arg', '/bin/true'],
      ['hook', 'poststop'],
      ['hook-path', '/bin/sh'],
      ['hook-arg', 'sh'],
      ['hook-arg', '-c'],
      ['hook-arg', 'x'],
      ['hook-env', 'A=2'],
      ['hook-env', 'B='],
      ['hook-timeout', '3'],
    ]);
  });
});
