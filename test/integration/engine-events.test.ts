// `berth events` and a closed stdout through a real berthd, as root: --until in the future streams
// until then and ends by itself, filters select (event, type, container, image, label) and unknown
// keys are refused; `berth stats | head` ends quietly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { busyboxRootfsTar, type Daemon, finish, NODE, REPO, startBerthd, tempRoots } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;

type Run = { code: number | null; stdout: string; stderr: string };

/** The berth CLI as a child; `onOut` sees stdout as it comes. */
function berth(args: string[], onOut?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  const p = spawn(NODE, [join(REPO, 'src/cli/berth/main.ts'), '--host', d.socket, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    onOut?.(stdout, p);
  });
  p.stdout.on('error', () => {});
  p.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((r) => p.once('close', (code) => r({ code, stdout, stderr })));
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root');
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  d = await startBerthd(root, runRoot, ['--no-network'], { defaultRuntime: RUNTIME });
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(() => finish(d, root, runRoot));

test('events --until a future time streams what happens until then, then ends by itself', async () => {
  const t0 = new Date(Date.now() - 1000).toISOString();
  const early = await d.client.create({ image: 'busybox', name: 'ev-early', cmd: ['true'] });
  // Long enough for a loaded machine to start the CLI; the test waits for it, it never checks it.
  const end = new Date(Date.now() + 12_000).toISOString();
  let late: Promise<{ id: string }> | undefined;
  const r = await berth(
    ['events', '--since', t0, '--until', end, '--filter', 'type=container', '--filter', 'event=create'],
    (out) => {
      // The tail has arrived: the CLI is connected; what comes now is only seen by a live stream.
      if (!late && out.includes(early.id)) late = d.client.create({ image: 'busybox', name: 'ev-late', cmd: ['true'] });
    },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.ok(late, `the tail never came: ${r.stdout}`);
  const lateId = (await late).id;
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split(' ').slice(1, 4).join(' ')),
    [`container create ${early.id}`, `container create ${lateId}`],
  );
});

test('events filters: event, type, container, image and label select; an unknown key is refused by name', async () => {
  const t0 = String(Math.floor(Date.now() / 1000) - 1);
  const a = await d.client.create({ image: 'busybox', name: 'ev-a', cmd: ['true'], labels: { tier: 'front' } });
  const b = await d.client.create({ image: 'busybox', name: 'ev-b', cmd: ['true'] });
  await d.client.remove(a.id);
  await d.client.remove(b.id);
  const upTo = new Date(Date.now() + 1000).toISOString();
  const shown = async (...filters: string[]) => {
    const r = await berth([
      'events',
      '--since',
      t0,
      '--until',
      upTo,
      '--format',
      'json',
      ...filters.flatMap((f) => ['--filter', f]),
    ]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { action: string; actor: { attributes: Record<string, string> } })
      .map((e) => `${e.action} ${e.actor.attributes.name}`);
  };
  assert.deepEqual(await shown('event=destroy'), ['destroy ev-a', 'destroy ev-b']);
  assert.deepEqual(await shown('container=ev-b'), ['create ev-b', 'destroy ev-b']);
  assert.deepEqual(await shown('label=tier=front', 'type=container'), ['create ev-a', 'destroy ev-a']);
  assert.deepEqual(await shown('image=busybox', 'event=create'), ['create ev-a', 'create ev-b']);
  assert.deepEqual(await shown('type=volume'), []);
  const bad = await berth(['events', '--until', upTo, '--filter', 'colour=red']);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /^berth: invalid filter 'colour' \(expected container, event, image, label, network, type, volume\)\n$/,
  );
});

test('berth stats | head: a reader that goes away ends berth quietly', async () => {
  const { id } = await d.client.create({ image: 'busybox', name: 'ev-stats', cmd: ['sleep', '60'] });
  await d.client.start(id);
  // The first sample arrives, then the reader closes its end (what head does after its lines).
  const r = await berth(['stats', id], (_out, child) => child.stdout?.destroy());
  assert.equal(r.stderr, '');
  assert.equal(r.code, 141);
  await d.client.remove(id, { force: true });
});
