import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus } from './event-bus.ts';
import { eventMatches, parseEventFilter } from './event-filter.ts';
import type { EngineEvent } from './types.ts';

const ev = (
  type: EngineEvent['type'],
  action: string,
  id: string,
  attributes: Record<string, string> = {},
): EngineEvent => ({ type, action, actor: { id, attributes }, time: 0, timeNano: '0' });

test('unknown filter keys are refused, naming them and the keys berth knows (as docker: invalid filter)', () => {
  assert.throws(
    () => parseEventFilter({ bogus: ['1'] }),
    /invalid filter 'bogus' \(expected container, event, image, label, network, type, volume\)/,
  );
  assert.throws(() => parseEventFilter({ action: ['start'], x: ['1'] }), /invalid filter 'action', 'x'/);
  assert.throws(
    () => parseEventFilter({ type: ['containr'] }),
    /invalid filter 'type=containr': expected one of container, image, volume, network, daemon/,
  );
  assert.throws(() => parseEventFilter({ label: [5] }), /invalid filter 'label': value 5: expected a string/);
  assert.deepEqual(parseEventFilter({}), {});
  assert.deepEqual(parseEventFilter({ event: 'start', image: ['busybox'] }), { event: ['start'], image: ['busybox'] });
});

test('event, type, container, image, label, network and volume filters select as docker does', () => {
  const create = ev('container', 'create', 'abc123', { name: 'web', image: 'busybox:latest', tier: 'front' });
  const execStart = ev('container', 'exec_start: sh -c true', 'abc123', { name: 'web', image: 'busybox:latest' });
  const pull = ev('image', 'pull', 'alpine:3', {});
  const net = ev('network', 'create', 'backend', {});
  const vol = ev('volume', 'destroy', 'data', {});
  const all = [create, execStart, pull, net, vol];
  const pick = (f: Record<string, string[]>) => all.filter((e) => eventMatches(e, parseEventFilter(f)));
  assert.deepEqual(pick({ event: ['create'] }), [create, net]);
  assert.deepEqual(pick({ event: ['exec_start'] }), [execStart], 'an action with a command matches its first word');
  assert.deepEqual(pick({ type: ['image', 'volume'] }), [pull, vol]);
  assert.deepEqual(pick({ container: ['web'] }), [create, execStart]);
  assert.deepEqual(pick({ container: ['abc'] }), [create, execStart], 'an id prefix');
  assert.deepEqual(pick({ image: ['busybox'] }), [create, execStart], 'busybox is busybox:latest');
  assert.deepEqual(pick({ image: ['alpine:3'] }), [pull]);
  assert.deepEqual(pick({ image: ['alpine'] }), [], 'alpine is alpine:latest, not alpine:3');
  assert.deepEqual(pick({ label: ['tier=front'] }), [create]);
  assert.deepEqual(pick({ label: ['tier'] }), [create]);
  assert.deepEqual(pick({ label: ['tier=back'] }), []);
  assert.deepEqual(pick({ network: ['backend'] }), [net]);
  assert.deepEqual(pick({ volume: ['data'] }), [vol]);
  assert.deepEqual(pick({ type: ['container'], event: ['create', 'destroy'] }), [create], 'keys are all required');
});

test('a stream with an until in the future delivers what is published until then, then ends by itself', async () => {
  const bus = new EventBus();
  const until = BigInt(Date.now() + 400) * 1_000_000n;
  const it = bus.stream({ type: ['container'] }, { untilNano: until.toString() });
  const seen: string[] = [];
  const done = (async () => {
    for await (const e of it) seen.push(e.action);
  })();
  await new Promise((r) => setImmediate(r)); // the generator has subscribed
  bus.publish('container', 'start', 'a');
  bus.publish('image', 'pull', 'busybox');
  await done;
  assert.deepEqual(seen, ['start']);
  bus.publish('container', 'stop', 'a');
  assert.deepEqual(seen, ['start'], 'nothing after the end');
});

test('a stream whose until is past ends at once; one without ends with its signal; bad times are refused', async () => {
  const bus = new EventBus();
  const past: string[] = [];
  for await (const e of bus.stream({}, { untilNano: '1' })) past.push(e.action);
  assert.deepEqual(past, []);
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const e of bus.stream({}, {}, ac.signal)) {
      seen.push(e.action);
      ac.abort();
    }
  })();
  await new Promise((r) => setImmediate(r));
  bus.publish('daemon', 'start', 'berthd');
  await done;
  assert.deepEqual(seen, ['start']);
  assert.throws(
    () => bus.stream({}, { sinceNano: '10m' }),
    /events: since "10m": expected nanoseconds since the epoch/,
  );
  assert.throws(() => bus.stream({}, { untilNano: '-1' }), /events: until "-1"/);
});
