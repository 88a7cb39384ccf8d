import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const MODULE = new URL('./fault-points.ts', import.meta.url).href;

function run(env: Record<string, string | undefined>): {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
} {
  const script = `import { faultPoint } from ${JSON.stringify(MODULE)};
for (let i = 1; i <= 3; i++) { faultPoint('start.recorded'); console.log('start.recorded ' + i); }
faultPoint('exit.recorded'); console.log('exit.recorded');`;
  const e = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: e });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

test('unset, every point is passed', () => {
  const r = run({ BERTH_FAULT_POINT: undefined });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'start.recorded 1\nstart.recorded 2\nstart.recorded 3\nexit.recorded\n');
});

test('<name> SIGKILLs at its first hit, <name>@n at the n-th, other points pass', () => {
  const first = run({ BERTH_FAULT_POINT: 'exit.recorded' });
  assert.equal(first.signal, 'SIGKILL');
  assert.equal(first.stdout, 'start.recorded 1\nstart.recorded 2\nstart.recorded 3\n');
  assert.match(first.stderr, /fault point exit\.recorded@1 reached/);
  const second = run({ BERTH_FAULT_POINT: 'start.recorded@2' });
  assert.equal(second.signal, 'SIGKILL');
  assert.equal(second.stdout, 'start.recorded 1\n');
});

test('a name that is never reached changes nothing', () => {
  const r = run({ BERTH_FAULT_POINT: 'remove.recorded' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.split('\n').length, 5);
});
