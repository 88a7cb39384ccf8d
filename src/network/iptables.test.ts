import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cniChainName, splitRule } from './iptables.ts';
import { isolationRules } from './isolation.ts';

test('chain names are the ones the CNI plugins compute (observed with bridge and portmap 1.1.1)', () => {
  // network "bt", container "a": the bridge plugin made CNI-67f9…, portmap CNI-DN-67f9….
  assert.equal(cniChainName('bt', 'a'), 'CNI-67f96f16b5e3383fd91ceefb');
  assert.equal(cniChainName('bt', 'a', 'DN-'), 'CNI-DN-67f96f16b5e3383fd91ce');
  assert.notEqual(cniChainName('bt', 'b'), cniChainName('bt', 'a'));
});

test('splitRule undoes iptables -S quoting so the rule can be deleted as listed', () => {
  assert.deepEqual(
    splitRule('-A POSTROUTING -s 10.89.0.2/32 -m comment --comment "name: \\"smk\\" id: \\"ca\\"" -j CNI-x'),
    ['-A', 'POSTROUTING', '-s', '10.89.0.2/32', '-m', 'comment', '--comment', 'name: "smk" id: "ca"', '-j', 'CNI-x'],
  );
  assert.deepEqual(splitRule('-A X -m comment --comment "" -j Y'), [
    '-A',
    'X',
    '-m',
    'comment',
    '--comment',
    '',
    '-j',
    'Y',
  ]);
});

test('isolation rules: packets from a bridge to any other berth bridge go to stage 2, which drops those leaving by this one', () => {
  assert.deepEqual(isolationRules('berth0'), [
    '-A BERTH-ISOLATION-STAGE-1 -i berth0 ! -o berth0 -j BERTH-ISOLATION-STAGE-2',
    '-A BERTH-ISOLATION-STAGE-2 -o berth0 -j DROP',
  ]);
});
