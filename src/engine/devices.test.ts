import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';
import { addDeviceCgroupRules, checkDeviceCgroupRules, parseDeviceCgroupRule } from './devices.ts';

test("device cgroup rules: docker's TYPE MAJOR:MINOR ACCESS, * for any number, a for every device", () => {
  assert.deepEqual(parseDeviceCgroupRule('c 1:3 mr'), { allow: true, type: 'c', major: 1, minor: 3, access: 'mr' });
  assert.deepEqual(parseDeviceCgroupRule('b 7:* rwm'), { allow: true, type: 'b', major: 7, access: 'rwm' });
  assert.deepEqual(parseDeviceCgroupRule('a'), { allow: true, type: 'a', access: 'rwm' });
  for (const bad of ['c 1:3', 'x 1:3 r', 'c 1 r', 'c 1:3 rr', 'c 1:3 q', ''])
    assert.throws(() => parseDeviceCgroupRule(bad), /expected "TYPE MAJOR:MINOR ACCESS"/, bad);
  assert.throws(() => checkDeviceCgroupRules(['c 1:3']), /device cgroup rule "c 1:3"/);
});

test('the rules go after the config deny-all', () => {
  const spec: RuntimeConfig = {
    ociVersion: '1.2.0',
    linux: { resources: { devices: [{ allow: false, access: 'rwm' }] } },
  };
  addDeviceCgroupRules(spec, ['b 7:* rm']);
  assert.deepEqual(spec.linux?.resources?.devices, [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'b', major: 7, access: 'rm' },
  ]);
});
