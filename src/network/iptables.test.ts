import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cniChainName, splitRule } from './iptables.ts';
import { bridgeRules } from './bridge-rules.ts';

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

test("a bridge's rules: isolation from berth's other bridges, its traffic through FORWARD, masquerade on the way out", () => {
  assert.deepEqual(bridgeRules('berth0', '10.89.0.0/16'), {
    filter: [
      // Stage 2 before stage 1's jump to it.
      '-A BERTH-ISOLATION-STAGE-2 -o berth0 -j DROP',
      '-A BERTH-ISOLATION-STAGE-1 -i berth0 ! -o berth0 -j BERTH-ISOLATION-STAGE-2',
      '-A BERTH-FORWARD -i berth0 -j ACCEPT',
      '-A BERTH-FORWARD -o berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ],
    nat: ['-A BERTH-MASQUERADE -s 10.89.0.0/16 ! -o berth0 -j MASQUERADE'],
  });
});
