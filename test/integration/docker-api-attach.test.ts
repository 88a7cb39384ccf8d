// Attach and exec start over the Docker API with and without an Upgrade header. dockerd hijacks the
// connection either way: with `Upgrade: tcp` it answers 101, without it `200 OK` naming the raw
// stream (whatever the framing, which is multiplexed when there is no TTY), and the stream follows.
// A raw client over berthd's socket checks the no-Upgrade form, its stdin sent in the same write as
// the request (so no byte of it may be read as HTTP); the docker CLI 28 and Debian's docker.io 20.10
// client check the Upgrade form (run -i, exec -i, exec -d) against a real berthd.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DOCKER_CLIENTS, dockerCli, dockerCliInput, dockerRequest } from '../lib/docker-cli.ts';
import { type Daemon, finish, startDockerApiBerthd, tempRoots, until } from './engine-harness.ts';

const { root, runRoot } = tempRoots();
let d: Daemon;
let dockerSocket: string;

before(async () => {
  ({ daemon: d, dockerSocket } = await startDockerApiBerthd(root, runRoot, 'the Docker API attach tests'));
});

after(async () => {
  await finish(d, root, runRoot);
});

type Raw = { socket: Socket; head: () => string; body: () => Buffer; closed: Promise<void> };

/** One request over a fresh connection, written at once with `after` (the stdin) behind it; no Upgrade header. */
async function raw(method: string, path: string, body: string, after = ''): Promise<Raw> {
  const socket = connect(dockerSocket);
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  let buf = Buffer.alloc(0);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
  });
  const length = body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '';
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: docker\r\n${length}\r\n${body}${after}`);
  const end = () => buf.indexOf('\r\n\r\n');
  await until('the answer head', () => end() >= 0, 60_000, 20);
  return {
    socket,
    head: () => buf.subarray(0, end()).toString(),
    body: () => buf.subarray(end() + 4),
    closed,
  };
}

/** Docker's multiplexed framing undone: each stream's bytes, and whether the frames were whole. */
function demux(b: Buffer): { stdout: string; stderr: string; whole: boolean } {
  const out: Record<number, string> = { 1: '', 2: '' };
  let i = 0;
  while (i + 8 <= b.length) {
    const len = b.readUInt32BE(i + 4);
    if (i + 8 + len > b.length) break;
    out[b[i]!] = (out[b[i]!] ?? '') + b.subarray(i + 8, i + 8 + len).toString();
    i += 8 + len;
  }
  return { stdout: out[1]!, stderr: out[2]!, whole: i === b.length };
}

const RAW_HEAD = /^HTTP\/1\.1 200 OK\r\n(.*\r\n)*Content-Type: application\/vnd\.docker\.raw-stream/i;

async function create(name: string, config: object): Promise<void> {
  const r = await dockerRequest(dockerSocket, 'POST', `/v1.50/containers/create?name=${name}`, {
    Image: 'busybox',
    ...config,
  });
  assert.equal(r.status, 201, r.body);
}

async function inspectJson(path: string): Promise<Record<string, unknown>> {
  const r = await dockerRequest(dockerSocket, 'GET', path);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Record<string, unknown>;
}

test('attach without Upgrade: 200 and a raw-stream content type, multiplexed output without a TTY, stdin in the same write, logs', async () => {
  await create('noup', { Cmd: ['sh', '-c', 'cat; echo done >&2'], OpenStdin: true });
  // Before the start, as `docker run` attaches: the start hands this connection the process's stream.
  const a = await raw('POST', '/v1.50/containers/noup/attach?stream=1&stdin=1&stdout=1&stderr=1', '', 'hello\n');
  assert.match(a.head(), RAW_HEAD, a.head());
  assert.equal((await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/noup/start')).status, 204);
  await until('cat to echo the stdin sent with the request', () => demux(a.body()).stdout === 'hello\n', 60_000);
  a.socket.write('again\n');
  await until('cat to echo a later line', () => demux(a.body()).stdout === 'hello\nagain\n', 60_000);
  // The client's half-close is the end of the process's stdin; the output flows until it exits.
  a.socket.end();
  await a.closed;
  assert.deepEqual(demux(a.body()), { stdout: 'hello\nagain\n', stderr: 'done\n', whole: true });
  await until('the container to exit', async () => {
    const s = (await inspectJson('/v1.50/containers/noup/json')).State as { Status: string };
    return s.Status === 'exited';
  });

  // logs without stream: the recorded output, then the connection ends.
  let logs = { stdout: '', stderr: '', whole: false };
  await until('attach with logs to give the recorded output', async () => {
    const l = await raw('POST', '/v1.41/containers/noup/attach?logs=1&stdout=1&stderr=1', '');
    await l.closed;
    assert.match(l.head(), RAW_HEAD, l.head());
    logs = demux(l.body());
    return logs.stdout === 'hello\nagain\n' && logs.stderr === 'done\n';
  }).catch((e: Error) => assert.fail(`${e.message}: ${JSON.stringify(logs)}`));
  assert.ok(logs.whole, 'whole frames');

  // An unknown container is an error answer, not a stream.
  const missing = await raw('POST', '/v1.50/containers/nosuch/attach?stream=1&stdout=1', '');
  await missing.closed;
  assert.match(missing.head(), /^HTTP\/1\.1 404 /, missing.head());
  assert.equal(JSON.parse(missing.body().toString()).message, 'No such container: nosuch');
  await d.client.remove('noup', { force: true });
});

test('attach and exec start without Upgrade on a running TTY container: raw bytes both ways; a detached exec start is 200', async () => {
  await create('noup-tty', { Cmd: ['sh', '-c', 'stty -echo; exec cat'], Tty: true, OpenStdin: true });
  assert.equal((await dockerRequest(dockerSocket, 'POST', '/v1.41/containers/noup-tty/start')).status, 204);
  const a = await raw('POST', '/v1.41/containers/noup-tty/attach?stream=1&stdin=1&stdout=1', '', 'typed\n');
  assert.match(a.head(), RAW_HEAD, a.head());
  await until('the TTY to carry the line back', () => /typed\r\n/.test(a.body().toString()), 60_000);

  // exec start without Upgrade, no TTY: stdin right behind the body, the output multiplexed, its exit code kept.
  const made = await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/noup-tty/exec', {
    Cmd: ['sh', '-c', 'read x; echo got $x; echo err >&2; exit 3'],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  assert.equal(made.status, 201, made.body);
  const id = JSON.parse(made.body).Id as string;
  const x = await raw('POST', `/v1.50/exec/${id}/start`, JSON.stringify({ Detach: false, Tty: false }), 'line\n');
  await x.closed;
  assert.match(x.head(), RAW_HEAD, x.head());
  assert.deepEqual(demux(x.body()), { stdout: 'got line\n', stderr: 'err\n', whole: true });
  await until('the exec to be recorded as ended', async () => {
    const j = await inspectJson(`/v1.50/exec/${id}/json`);
    return j.Running === false && j.ExitCode === 3;
  });

  // Detach: the process runs on with nothing attached; the answer is dockerd's empty 200.
  const bg = await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/noup-tty/exec', {
    Cmd: ['sh', '-c', 'echo lost; touch /detached'],
    AttachStdout: true,
  });
  const bgId = JSON.parse(bg.body).Id as string;
  const started = await dockerRequest(dockerSocket, 'POST', `/v1.50/exec/${bgId}/start`, { Detach: true });
  assert.deepEqual([started.status, started.body], [200, '']);
  await until('the detached exec to end', async () => {
    const j = await inspectJson(`/v1.50/exec/${bgId}/json`);
    return j.Running === false && j.ExitCode === 0;
  });
  const check = await dockerRequest(dockerSocket, 'POST', '/v1.50/containers/noup-tty/exec', {
    Cmd: ['test', '-e', '/detached'],
  });
  const checkId = JSON.parse(check.body).Id as string;
  assert.equal(
    (await dockerRequest(dockerSocket, 'POST', `/v1.50/exec/${checkId}/start`, { Detach: true })).status,
    200,
  );
  await until('the check to end', async () => (await inspectJson(`/v1.50/exec/${checkId}/json`)).Running === false);
  assert.equal((await inspectJson(`/v1.50/exec/${checkId}/json`)).ExitCode, 0, 'the detached exec ran');

  // The attached client is still carried.
  a.socket.write('more\n');
  await until('the attach to carry a later line', () => /more\r\n/.test(a.body().toString()), 60_000);
  a.socket.destroy();
  await d.client.remove('noup-tty', { force: true });
});

for (const [i, c] of DOCKER_CLIENTS.entries()) {
  const config = join(root, 'docker-config');
  const docker = (...args: string[]) => dockerCli(c.bin, dockerSocket, config, ...args);
  const dockerWithStdin = (input: string, ...args: string[]) =>
    dockerCliInput(c.bin, dockerSocket, config, input, ...args);
  test(`${c.name}: run -i and exec -i carry stdin and the exit code through the Upgrade; exec -d runs on`, async () => {
    const name = `up-${i}`;
    const run = await dockerWithStdin(
      'from stdin\n',
      'run',
      '-i',
      '--name',
      name,
      'busybox',
      'sh',
      '-c',
      'cat; echo e >&2; exit 4',
    );
    assert.deepEqual([run.code, run.stdout, run.stderr], [4, 'from stdin\n', 'e\n']);
    const live = `up-live-${i}`;
    assert.equal((await docker('run', '-d', '--name', live, 'busybox', 'sleep', '1000')).code, 0);
    const ex = await dockerWithStdin('to exec\n', 'exec', '-i', live, 'sh', '-c', 'cat; exit 5');
    assert.deepEqual([ex.code, ex.stdout], [5, 'to exec\n'], ex.stderr);
    const bg = await docker('exec', '-d', live, 'touch', '/from-d');
    assert.equal(bg.code, 0, bg.stderr);
    await until(
      'exec -d to have run',
      async () => (await docker('exec', live, 'test', '-e', '/from-d')).code === 0,
      60_000,
    );
    assert.equal((await docker('rm', '-f', name, live)).code, 0);
  });
}
