// Detach keys (issue 11): the docker CLI 28, Debian's docker.io 20.10 client and berth's own CLI
// on real terminals (a private tmux server), and a raw hijacked connection for what berthd itself
// must do. A client that types the sequence (ctrl-p,ctrl-q by default, or --detach-keys) is
// detached: its command ends as docker's does, the container or exec process runs on, other
// attached clients are unaffected, and a broken partial sequence reaches the process unchanged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { dockerCli, dockerRequest } from '../lib/docker-cli.ts';
import { TmuxSession } from '../lib/interop/tmux-session.ts';
import {
  berthCli,
  busyboxRootfsTar,
  type Daemon,
  finish,
  NODE,
  REPO,
  startBerthd,
  tempRoots,
  until,
} from './engine-harness.ts';

const CLIENTS = [
  { name: 'docker 28', bin: '/usr/local/bin/docker', tag: 'd28' },
  { name: 'docker.io 20.10', bin: '/usr/bin/docker', tag: 'd20' },
] as const;

const { root, runRoot } = tempRoots();
const tmuxDir = mkdtempSync('/tmp/btx-');
const configDir = join(root, 'docker-config');
let d: Daemon;
let dockerSocket: string;
const sessions: TmuxSession[] = [];

const docker = (bin: string, ...args: string[]) => dockerCli(bin, dockerSocket, configDir, ...args);
const berth = (...args: string[]) => berthCli(d.socket, ...args);
const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** A command line on its own terminal (a tmux pane of this test's private server). */
function onTerminal(name: string, argv: string[]): TmuxSession {
  const t = new TmuxSession(tmuxDir, name);
  sessions.push(t);
  t.start(argv.map(quote).join(' '), { ...process.env, DOCKER_CONFIG: configDir, TERM: 'xterm' });
  return t;
}

const dockerLine = (bin: string, ...args: string[]) => [bin, '-H', `unix://${dockerSocket}`, ...args];
const berthLine = (...args: string[]) => [NODE, join(REPO, 'src/cli/berth/main.ts'), '--host', d.socket, ...args];

async function exited(t: TmuxSession, what: string): Promise<number> {
  await until(`${what} to exit`, () => t.exitStatus() !== undefined, 60_000);
  return t.exitStatus()!;
}

async function status(name: string): Promise<string> {
  return (await d.client.inspect(name)).status;
}

/** Types into a busybox shell and waits for the output line it must print. */
async function shellSays(t: TmuxSession, command: string, expected: RegExp): Promise<void> {
  t.type(command);
  await t.waitScreen(`${expected} on the terminal`, (s) => expected.test(s) || t.exitStatus() !== undefined, 60_000);
  assert.match(t.screen(), expected, `the terminal:\n${t.screen()}`);
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the detach tests need root (mounts, namespaces, cgroups)');
  d = await startBerthd(root, runRoot, ['--no-network']);
  dockerSocket = join(runRoot, 'docker.sock');
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
});

after(async () => {
  for (const t of sessions) t.kill();
  rmSync(tmuxDir, { recursive: true, force: true });
  await finish(d, root, runRoot);
});

for (const c of CLIENTS) {
  test(`${c.name}: run -it detaches on ctrl-p,ctrl-q (exit 0), the container runs on; attach sees it and detaches again`, async () => {
    const name = `run-${c.tag}`;
    const run = onTerminal(`run${c.tag}`, dockerLine(c.bin, 'run', '-it', '--name', name, 'busybox', 'sh'));
    await shellSays(run, 'echo first=$((20+1))', /first=21\s*$/m);
    run.keys('C-p', 'C-q');
    assert.equal(await exited(run, 'docker run -it'), 0, run.screen());
    assert.equal(await status(name), 'running', 'the container runs on');

    const att = onTerminal(`att${c.tag}`, dockerLine(c.bin, 'attach', name));
    await shellSays(att, 'echo again=$((40+2))', /again=42\s*$/m);
    att.keys('C-p', 'C-q');
    assert.equal(await exited(att, 'docker attach'), 1, att.screen());
    assert.match(att.screen(), /read escape sequence/);
    assert.equal(await status(name), 'running');
    assert.equal((await docker(c.bin, 'rm', '-f', name)).code, 0);
  });

  test(`${c.name}: --detach-keys on run, attach and exec; ctrl-p,ctrl-q then pass to the process; the exec runs on`, async () => {
    const name = `keys-${c.tag}`;
    const run = onTerminal(
      `keys${c.tag}`,
      dockerLine(c.bin, 'run', '-it', '--detach-keys', 'ctrl-x,x', '--name', name, 'busybox', 'sh'),
    );
    await shellSays(run, 'stty -ixon; echo ready=$((2*5))', /ready=10\s*$/m);
    // cat -v shows the control keys it read: the default sequence and a broken start of the custom one.
    run.type('cat -v');
    await until('cat to run', async () => (await docker(c.bin, 'top', name)).stdout.includes('cat -v'), 60_000);
    run.keys('C-p', 'C-q', 'C-x', 'y', 'Enter');
    // Twice: the terminal's echo of the keys, then cat -v's line.
    await run.waitScreen('the keys echoed by cat -v', (s) => (s.match(/^\^P\^Q\^Xy\s*$/gm) ?? []).length >= 2, 60_000);
    run.keys('C-d');
    await shellSays(run, 'echo cat=$((1+1))', /cat=2\s*$/m);
    run.keys('C-x', 'x');
    assert.equal(await exited(run, 'docker run -it --detach-keys'), 0, run.screen());
    assert.equal(await status(name), 'running');

    const att = onTerminal(`katt${c.tag}`, dockerLine(c.bin, 'attach', '--detach-keys', 'ctrl-a', name));
    await shellSays(att, 'echo back=$((3*3))', /back=9\s*$/m);
    att.keys('C-a');
    assert.equal(await exited(att, 'docker attach --detach-keys'), 1, att.screen());
    assert.match(att.screen(), /read escape sequence/);

    const ex = onTerminal(
      `kex${c.tag}`,
      dockerLine(c.bin, 'exec', '-it', '--detach-keys', 'ctrl-],DEL', name, 'sh', '-c', 'echo exec-in; exec sleep 777'),
    );
    await ex.waitScreen('the exec to start', (s) => /exec-in\s*$/m.test(s) || ex.exitStatus() !== undefined, 60_000);
    ex.keys('C-]', 'BSpace');
    assert.equal(await exited(ex, 'docker exec -it --detach-keys'), 1, ex.screen());
    assert.match(ex.screen(), /read escape sequence/);
    const top = await docker(c.bin, 'top', name);
    assert.match(top.stdout, /sleep 777/, 'the exec runs on');

    const dflt = onTerminal(`kdef${c.tag}`, dockerLine(c.bin, 'exec', '-it', name, 'sh'));
    await shellSays(dflt, 'echo in-exec=$((7*7))', /in-exec=49\s*$/m);
    dflt.keys('C-p', 'C-q');
    assert.equal(await exited(dflt, 'docker exec -it'), 1, dflt.screen());
    assert.match(dflt.screen(), /read escape sequence/);
    assert.equal((await docker(c.bin, 'rm', '-f', name)).code, 0);
  });

  test(`${c.name}: an invalid --detach-keys is refused in dockerd's words`, async () => {
    const name = `bad-${c.tag}`;
    assert.equal((await docker(c.bin, 'run', '-d', '-i', '--name', name, 'busybox', 'sh')).code, 0);
    const ex = await docker(c.bin, 'exec', '-i', '--detach-keys', 'ctrl-1', name, 'true');
    assert.notEqual(ex.code, 0);
    assert.match(ex.stderr, /Invalid escape keys \(ctrl-1\) provided|invalid detach keys/);
    assert.equal((await docker(c.bin, 'rm', '-f', name)).code, 0);
  });
}

type Hijacked = { socket: Socket; head: string; output: () => string; closed: Promise<void> };

/** A Docker attach with `Upgrade: tcp` over the raw socket (what SDKs do): its head and the bytes after it. */
async function rawUpgrade(id: string, query: string): Promise<Hijacked> {
  const socket = connect(dockerSocket);
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  socket.write(
    `POST /v1.50/containers/${id}/attach?${query} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
  });
  await until('the answer', () => buf.includes('\r\n\r\n'), 30_000, 20);
  const start = buf.indexOf('\r\n\r\n') + 4;
  return {
    socket,
    head: buf.subarray(0, start).toString(),
    output: () => buf.subarray(start).toString('latin1'),
    closed,
  };
}

async function rawAttach(id: string, query: string): Promise<Hijacked> {
  const h = await rawUpgrade(id, query);
  assert.match(h.head, /^HTTP\/1\.1 101/, h.head);
  return h;
}

test('berthd itself: a raw attach is detached on the keys (connection ended), others run on, a broken start passes', async () => {
  const r = await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/create?name=raw', {
    Image: 'busybox',
    Cmd: ['sh', '-c', 'stty -ixon -echo; exec cat -v'],
    Tty: true,
    OpenStdin: true,
  });
  assert.equal(r.status, 201, r.body);
  assert.equal((await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/raw/start')).status, 204);
  const watcher = await rawAttach('raw', 'stream=1&stdout=1');
  const typist = await rawAttach('raw', 'stream=1&stdin=1&stdout=1');
  typist.socket.write('a\x10b\n');
  await until('cat -v to echo the broken start', () => /a\^Pb/.test(watcher.output()), 60_000);
  // The line before the keys goes in; the keys split across writes detach; what follows them is dropped.
  typist.socket.write('x\n\x10');
  typist.socket.write('\x11never\n');
  await typist.closed;
  await until('the line typed before the keys', () => /\r\nx\r\n/.test(watcher.output()), 60_000);
  assert.equal(await status('raw'), 'running', 'the container runs on');
  const third = await rawAttach('raw', 'stream=1&stdin=1&stdout=1&detachKeys=ctrl-e');
  third.socket.write('after\n');
  await until('the watcher to see the next line', () => /after/.test(watcher.output()), 60_000);
  assert.doesNotMatch(watcher.output(), /never/);
  third.socket.write('\x10\x11more\n');
  await until('ctrl-p,ctrl-q to pass with keys of its own', () => /\^P\^Qmore/.test(watcher.output()), 60_000);
  third.socket.write('\x05');
  await third.closed;
  assert.ok(!watcher.socket.destroyed, 'the watching client is still attached');
  watcher.socket.destroy();

  const bad = await rawUpgrade('raw', 'stream=1&stdin=1&detachKeys=ctrl-1');
  await bad.closed;
  assert.match(bad.head, /^HTTP\/1\.1 400 /, bad.head);
  assert.equal(JSON.parse(bad.output()).message, 'Invalid detach keys (ctrl-1) provided');
  const badExec = await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/raw/exec', {
    Cmd: ['true'],
    DetachKeys: 'ctrl-a,alt',
  });
  assert.deepEqual(
    [badExec.status, JSON.parse(badExec.body).message],
    [400, 'Invalid escape keys (ctrl-a,alt) provided'],
  );
  const ok = await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/raw/exec', {
    Cmd: ['true'],
    DetachKeys: 'ctrl-x,x',
  });
  assert.equal(ok.status, 201, ok.body);
  const x = await dockerRequest(dockerSocket, 'GET', `/v1.50/exec/${JSON.parse(ok.body).Id}/json`);
  assert.equal(JSON.parse(x.body).DetachKeys, Buffer.from([24, 120]).toString('base64'), "dockerd's []byte");
  await d.client.remove('raw', { force: true });
});

test('berth CLI: run -it, attach and exec -it detach on ctrl-p,ctrl-q or --detach-keys as docker does', async () => {
  const run = onTerminal('brun', berthLine('run', '-it', '--name', 'bcli', 'busybox', 'sh'));
  await shellSays(run, 'stty -ixon; echo one=$((0+1))', /one=1\s*$/m);
  run.type('cat -v');
  await until('cat to run', async () => (await berth('top', 'bcli')).stdout.includes('cat -v'), 60_000);
  // A broken start of the sequence reaches the process.
  run.keys('C-p', 'z', 'Enter');
  await run.waitScreen('the broken start echoed', (s) => (s.match(/^\^Pz\s*$/gm) ?? []).length >= 2, 60_000);
  run.keys('C-d');
  await shellSays(run, 'echo two=$((1+1))', /two=2\s*$/m);
  run.keys('C-p', 'C-q');
  assert.equal(await exited(run, 'berth run -it'), 0, run.screen());
  assert.equal(await status('bcli'), 'running');

  const att = onTerminal('batt', berthLine('attach', '--detach-keys', 'ctrl-x,x', 'bcli'));
  await shellSays(att, 'echo three=$((1+2))', /three=3\s*$/m);
  att.keys('C-x', 'x');
  assert.equal(await exited(att, 'berth attach'), 1, att.screen());
  assert.match(att.screen(), /read escape sequence/);

  const ex = onTerminal('bex', berthLine('exec', '-it', 'bcli', 'sh', '-c', 'echo exec-up; exec sleep 888'));
  await ex.waitScreen('the exec to start', (s) => /exec-up\s*$/m.test(s) || ex.exitStatus() !== undefined, 60_000);
  ex.keys('C-p', 'C-q');
  assert.equal(await exited(ex, 'berth exec -it'), 1, ex.screen());
  assert.match(ex.screen(), /read escape sequence/);
  assert.match((await berth('top', 'bcli')).stdout, /sleep 888/, 'the exec runs on');

  const again = onTerminal('bagain', berthLine('attach', 'bcli'));
  await shellSays(again, 'echo four=$((2+2))', /four=4\s*$/m);
  again.keys('C-p', 'C-q');
  assert.equal(await exited(again, 'berth attach'), 1, again.screen());

  const bad = await berth('run', '-it', '--detach-keys', 'ctrl-1', 'busybox', 'true');
  assert.equal(bad.code, 125, bad.stderr);
  assert.match(bad.stderr, /invalid detach keys \(ctrl-1\): Unknown character: 'ctrl-1'/);
  assert.equal((await berth('rm', '-f', 'bcli')).code, 0);
});
