import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { allocateHostPort, DEFAULT_EPHEMERAL_RANGE, ephemeralPortRange, hostPortFree } from './port-allocator.ts';

test("the ephemeral range is read as the kernel writes it, with docker's default for nonsense", () => {
  assert.deepEqual(ephemeralPortRange('32768\t60999\n'), [32768, 60999]);
  assert.deepEqual(ephemeralPortRange('40000 40010'), [40000, 40010]);
  assert.deepEqual(ephemeralPortRange('9 5'), [...DEFAULT_EPHEMERAL_RANGE]);
  assert.deepEqual(ephemeralPortRange('80 90'), [...DEFAULT_EPHEMERAL_RANGE], 'privileged ports are never handed out');
  assert.deepEqual(ephemeralPortRange('garbage'), [...DEFAULT_EPHEMERAL_RANGE]);
  const [lo, hi] = ephemeralPortRange();
  assert.ok(lo >= 1024 && lo <= hi && hi <= 65535);
});

test('allocation skips ports berth holds and ports busy on the host, and wraps once', async () => {
  const busy = new Set([40002]);
  const held = new Set([40000, 40001]);
  const p = await allocateHostPort({
    range: [40000, 40004],
    start: 40000,
    taken: (x) => held.has(x),
    free: async (x) => !busy.has(x),
  });
  assert.equal(p, 40003);
  const wrapped = await allocateHostPort({
    range: [40000, 40004],
    start: 40004,
    taken: (x) => x === 40004,
    free: async () => true,
  });
  assert.equal(wrapped, 40000);
  await assert.rejects(
    allocateHostPort({ range: [40000, 40001], taken: () => true, free: async () => true }),
    /no free host port left in 40000-40001/,
  );
});

test('hostPortFree sees a listener on the loopback address and on every address', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const port = (srv.address() as { port: number }).port;
  try {
    assert.equal(await hostPortFree('127.0.0.1', port), false);
    assert.equal(await hostPortFree('', port), false, 'a wildcard bind conflicts with the loopback listener');
  } finally {
    await new Promise((r) => srv.close(r));
  }
  assert.equal(await hostPortFree('127.0.0.1', port), true, 'free again once closed');
});
