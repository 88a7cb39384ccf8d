// berth's native front (native/cli, docs/native.md) against the Node CLI, black-box, as root: the
// same `berth exec` and `berth run` cases through a copy of the front alone in a private directory (no berth-node
// beside it, so a case it handed to Node would fail with "cannot run …/berth-node") and through the
// Node bundle called directly (dist/bin/berth-node), with stdout, stderr and the exit status
// compared byte for byte. The commands and forms the front does not handle reach Node: checked
// with the lone copy (they fail naming berth-node) and with dist/bin/berth (they give Node's answer).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { busyboxRootfsTar, type Daemon, finish, REPO, startBerthd, tempRoots } from './engine-harness.ts';

const FRONT = join(REPO, 'dist/bin/berth');
const NODE_CLI = join(REPO, 'dist/bin/berth-node');
const { root, runRoot } = tempRoots();
const lone = mkdtempSync('/tmp/berth-front-');
const LONE = join(lone, 'berth');
let d: Daemon;

type Result = { code: number | null; signal: string | null; stdout: Buffer; stderr: Buffer };

/** Runs `bin` with `args`; `closedStdout`: its stdout is a pipe whose reader is gone before it starts. */
function run(bin: string, args: string[], o: { env?: Record<string, string>; closedStdout?: boolean } = {}) {
  return new Promise<Result>((resolve, reject) => {
    // Only what the case sets: not the caller's BERTH_HOST, BERTH_CLI_NODE or timing trace.
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['BERTH_HOST', 'BERTH_CLI_NODE', 'BERTH_TRACE_TIMING', 'BERTH_SNAPSHOTTER']) delete env[k];
    Object.assign(env, o.env);
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    if (o.closedStdout) child.stdout.destroy();
    else child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}

const show = (r: Result) =>
  `status ${r.code ?? r.signal}, stdout ${r.stdout.length} bytes, stderr: ${r.stderr.toString().slice(0, 400)}`;

/** A container's id (run's errors name the container they made): the same in both runs' words. */
const ids = (s: string) => s.replace(/\b[0-9a-f]{64}\b/g, '<id>');

/** The same command line through the lone front and through Node: the same bytes and status. */
async function same(args: string[], env: Record<string, string> = {}, closedStdout = false): Promise<Result> {
  const native = await run(LONE, args, { env, closedStdout });
  const node = await run(NODE_CLI, args, { env, closedStdout });
  assert.doesNotMatch(native.stderr.toString(), /berth-node/, `the front handed it to Node: ${show(native)}`);
  assert.equal(native.code, node.code, `native ${show(native)}; node ${show(node)}`);
  assert.equal(native.signal, node.signal);
  assert.ok(native.stdout.equals(node.stdout), `stdout differs: native ${show(native)}; node ${show(node)}`);
  assert.equal(ids(native.stderr.toString()), ids(node.stderr.toString()));
  return native;
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the native front test needs root (berthd, containers)');
  for (const p of [FRONT, NODE_CLI, join(REPO, 'native/build/berth-shim')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  copyFileSync(FRONT, LONE);
  d = await startBerthd(root, runRoot, ['--no-network']);
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  await d.client.createAndStart({ image: 'busybox:latest', name: 'nf', cmd: ['sleep', '100000'] });
});

after(async () => {
  rmSync(lone, { recursive: true, force: true });
  await finish(d, root, runRoot);
});

describe('berth exec: native front and Node give the same', () => {
  const host = () => ['--host', d.socket];

  test('stdout and stderr kept apart, the command status (0, 1, 9, a signal)', async () => {
    const r = await same([...host(), 'exec', 'nf', 'sh', '-c', 'echo out; echo err >&2; echo out2']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.toString(), 'out\nout2\n');
    assert.equal(r.stderr.toString(), 'err\n');
    assert.equal((await same([...host(), 'exec', 'nf', 'false'])).code, 1);
    assert.equal((await same([...host(), 'exec', 'nf', 'sh', '-c', 'echo x; exit 9'])).code, 9);
    assert.equal((await same([...host(), 'exec', 'nf', 'sh', '-c', 'kill -9 $$'])).code, 137);
  });

  test('a command that is not found (127) or cannot run (126), with the daemon words', async () => {
    const nf = await same([...host(), 'exec', 'nf', 'no-such-command']);
    assert.equal(nf.code, 127);
    assert.match(nf.stderr.toString(), /^berth: .*no-such-command.*not found.*\n$/);
    const nx = await same([...host(), 'exec', 'nf', '/etc/passwd']);
    assert.equal(nx.code, 126);
    assert.equal((await same([...host(), 'exec', '-w', '/no/such/dir', 'nf', 'true'])).code, 127);
  });

  test('several MB of output on each stream, bytes exact', async () => {
    const r = await same([
      ...host(),
      'exec',
      'nf',
      'sh',
      '-c',
      'seq 1 600000; seq 1 400000 >&2; printf "\\000\\377end"',
    ]);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.length > 4_000_000, `${r.stdout.length} bytes`);
    assert.ok(r.stdout.subarray(-5).equals(Buffer.from([0, 0xff, 0x65, 0x6e, 0x64])));
    assert.ok(r.stderr.length > 2_000_000);
  });

  test('-e, -w, -u in their forms, --, container exec, BERTH_HOST', async () => {
    const script = 'echo "$A|$B|$C"; pwd; id -u';
    let r = await same([
      ...host(),
      'exec',
      '-e',
      'A=1',
      '--env',
      'B=two words',
      '-e=C=ü"\\',
      '-w',
      '/tmp',
      '-u',
      'nobody',
      'nf',
      'sh',
      '-c',
      script,
    ]);
    assert.equal(r.stdout.toString(), '1|two words|ü"\\\n/tmp\n65534\n');
    r = await same([...host(), 'container', 'exec', '--workdir=/root', '--user=0', '--', 'nf', 'sh', '-c', script]);
    assert.equal(r.stdout.toString(), '||\n/root\n0\n');
    r = await same(['exec', 'nf', 'echo', 'via BERTH_HOST'], { BERTH_HOST: `unix://${d.socket}` });
    assert.equal(r.stdout.toString(), 'via BERTH_HOST\n');
    r = await same([...host(), 'exec', '-w', '', '-u', '', 'nf', 'pwd']);
    assert.equal(r.code, 0, show(r));
  });

  test('errors from berthd: a missing container, a missing user', async () => {
    const r = await same([...host(), 'exec', 'no-such-container', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr.toString(), /^berth: .*no-such-container.*\n$/);
    assert.equal(r.stdout.length, 0);
    const u = await same([...host(), 'exec', '-u', 'no-such-user', 'nf', 'true']);
    assert.equal(u.code, 1);
    assert.match(u.stderr.toString(), /^berth: .*no-such-user/);
  });

  test('a reader that went away: status 141, nothing on stderr', async () => {
    const r = await same([...host(), 'exec', 'nf', 'seq', '1', '200000'], {}, true);
    assert.equal(r.code, 141);
    assert.equal(r.stderr.length, 0);
  });
});

describe('berth run: native front and Node give the same', () => {
  const host = () => ['--host', d.socket];
  const count = async () => (await d.client.list({ all: true })).length;

  test('run --rm: output, status, and the container gone when it returns', async () => {
    const before = await count();
    const r = await same([
      ...host(),
      'run',
      '--rm',
      '--network',
      'none',
      'busybox',
      'sh',
      '-c',
      'echo out; echo err >&2; exit 3',
    ]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout.toString(), 'out\n');
    assert.equal(r.stderr.toString(), 'err\n');
    assert.equal(await count(), before, 'both runs removed their container');
    const f = await same([
      ...host(),
      'container',
      'run',
      '--rm',
      '-e',
      'A=1',
      '--env=B=x y',
      '-w',
      '/tmp',
      '-u',
      'nobody',
      '--',
      'busybox',
      'sh',
      '-c',
      'echo "$A|$B"; pwd; id -u',
    ]);
    assert.equal(f.stdout.toString(), '1|x y\n/tmp\n65534\n');
    const big = await same([...host(), 'run', '--rm', 'busybox', 'sh', '-c', 'seq 1 500000; seq 1 300000 >&2']);
    assert.ok(big.stdout.length > 3_000_000);
    assert.equal(await count(), before);
  });

  test('run without --rm keeps the container; --name', async () => {
    const before = await count();
    const r = await same([...host(), 'run', 'busybox', 'echo', 'kept']);
    assert.equal(r.stdout.toString(), 'kept\n');
    assert.equal(await count(), before + 2);
    const n = await same([...host(), 'run', '--rm', '--name', 'nf', 'busybox', 'true']);
    assert.equal(n.code, 125, 'the name is taken (by the exec target)');
    assert.match(n.stderr.toString(), /^berth: container name "nf" is already in use/);
  });

  test("docker's statuses: 127 not found, 126 not executable, 125 for berthd's refusal", async () => {
    assert.equal((await same([...host(), 'run', '--rm', 'busybox', 'no-such-command'])).code, 127);
    assert.equal((await same([...host(), 'run', '--rm', 'busybox', '/etc/passwd'])).code, 126);
    const u = await same([...host(), 'run', '--rm', '-u', 'no-such-user', 'busybox', 'true']);
    assert.equal(u.code, 125);
    assert.match(u.stderr.toString(), /^berth: .*no-such-user/);
    assert.equal((await same([...host(), 'run', '--rm', '--network', 'no-such-network', 'busybox', 'true'])).code, 125);
  });

  test('an image that is not here goes to Node, which pulls it', async () => {
    const args = [...host(), 'run', '--rm', '127.0.0.1:1/no/such:image', 'true'];
    const alone = await run(LONE, args);
    assert.match(alone.stderr.toString(), /^berth: cannot run .*\/berth-node/, show(alone));
    const front = await run(FRONT, args);
    const node = await run(NODE_CLI, args);
    assert.equal(front.code, node.code, `${show(front)}; ${show(node)}`);
    assert.equal(front.stderr.toString(), node.stderr.toString());
    assert.match(front.stderr.toString(), /^Unable to find image '127\.0\.0\.1:1\/no\/such:image' locally; pulling\n/);
  });
});

describe('what the front hands to Node', () => {
  const host = () => ['--host', d.socket];
  const handed = [
    ['exec', '-i', 'nf', 'true'],
    ['exec', '-t', 'nf', 'true'],
    ['exec', '-d', 'nf', 'true'],
    ['exec', '--help'],
    ['exec', 'nf'],
    ['exec', '-e'],
    ['exec', '--no-such-flag', 'nf', 'true'],
    ['exec', '--detach-keys', 'ctrl-x,x', 'nf', 'true'],
    ['run', '-i', '--rm', 'busybox', 'true'],
    ['run', '--rm', '-e', 'NO_EQUALS_SIGN', 'busybox', 'true'],
    ['run', '--rm', '--network', 'none', '--network', 'none', 'busybox', 'true'],
    ['run', '--rm=true', 'busybox', 'true'],
    // The network flags of create and run (berthd has no networking here: each is refused, by the engine or the CLI).
    ['run', '--rm', '--network', 'none', '--mac-address', '02:42:ac:11:00:02', 'busybox', 'true'],
    ['run', '--rm', '--network=none', '--network-alias', 'web', 'busybox', 'true'],
    ['run', '--rm', '--net-alias=web', '--network', 'none', 'busybox', 'true'],
    ['run', '--rm', '--ip', '10.1.2.3', 'busybox', 'true'],
    ['run', '--rm', '--ip6', '2001:db8::33', 'busybox', 'true'],
    ['run', '--rm', '--network', 'name=none,alias=web', 'busybox', 'true'],
    ['run', '--rm', '--net=name=none', 'busybox', 'true'],
    ['run', '--rm', '--dns', 'not-an-ip', 'busybox', 'true'],
    ['ps'],
  ];
  for (const args of handed)
    test(`berth ${args.join(' ')}`, async () => {
      const alone = await run(LONE, [...host(), ...args]);
      assert.equal(alone.code, 1);
      assert.match(alone.stderr.toString(), /^berth: cannot run .*\/berth-node \(the Node part of berth/);
      const front = await run(FRONT, [...host(), ...args]);
      const node = await run(NODE_CLI, [...host(), ...args]);
      assert.equal(front.code, node.code, `${show(front)}; ${show(node)}`);
      assert.equal(front.stderr.toString(), node.stderr.toString());
    });

  test('berthd not running: Node words it', async () => {
    const args = ['--host', join(lone, 'no-berthd.sock'), 'exec', 'nf', 'true'];
    const alone = await run(LONE, args);
    assert.match(alone.stderr.toString(), /cannot run .*\/berth-node/);
    const front = await run(FRONT, args);
    const node = await run(NODE_CLI, args);
    assert.equal(front.code, 1);
    assert.equal(front.stderr.toString(), node.stderr.toString());
    assert.match(
      front.stderr.toString(),
      /^berth: cannot reach berthd at .*no-berthd\.sock \(ENOENT\): is it running\?/,
    );
  });

  test('BERTH_CLI_NODE=1 sends even the native subset to Node', async () => {
    const alone = await run(LONE, [...host(), 'exec', 'nf', 'true'], { env: { BERTH_CLI_NODE: '1' } });
    assert.match(alone.stderr.toString(), /cannot run .*\/berth-node/);
    const front = await run(FRONT, [...host(), 'exec', 'nf', 'echo', 'hi'], { env: { BERTH_CLI_NODE: '1' } });
    assert.equal(front.code, 0, show(front));
    assert.equal(front.stdout.toString(), 'hi\n');
  });
});
