import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerUsage, netnsInterfaces } from './usage.ts';

test('working set is usage minus inactive file pages (v1 totals, else v2 names); absent counters stay absent', () => {
  const v1 = containerUsage({
    id: 'x',
    name: 'x',
    read: '',
    systemCpuNs: 0,
    onlineCpus: 1,
    cpuUsageNs: 5,
    memoryUsage: 1000,
    memoryLimit: 0,
    pids: 2,
    raw: {
      memory: {
        raw: { total_inactive_file: 300, inactive_file: 1, total_rss: 600, total_pgfault: 7, total_pgmajfault: 1 },
      },
    },
  });
  assert.deepEqual(v1, {
    cpuNs: 5,
    memoryUsage: 1000,
    workingSet: 700,
    rss: 600,
    pageFaults: 7,
    majorPageFaults: 1,
    pids: 2,
  });
  const v2 = containerUsage({
    id: 'x',
    name: 'x',
    read: '',
    systemCpuNs: 0,
    onlineCpus: 1,
    cpuUsageNs: 5,
    memoryUsage: 1000,
    memoryLimit: 0,
    pids: 2,
    raw: { memory: { raw: { inactive_file: 100, anon: 400 } } },
  });
  assert.equal(v2.workingSet, 900);
  assert.equal(v2.rss, 400);
  assert.equal(v2.pageFaults, undefined);
  const none = containerUsage({
    id: 'x',
    name: 'x',
    read: '',
    systemCpuNs: 0,
    onlineCpus: 1,
    cpuUsageNs: 0,
    memoryUsage: 10,
    memoryLimit: 0,
    pids: 0,
    raw: undefined,
  });
  assert.equal(none.workingSet, 10);
});

test('netnsInterfaces reads this process namespace without lo; a gone pid gives none', async () => {
  const mine = await netnsInterfaces(process.pid);
  assert.ok(mine.every((i) => i.name !== 'lo' && Number.isInteger(i.rxBytes)));
  assert.deepEqual(await netnsInterfaces(2 ** 22 + 1), []);
});
