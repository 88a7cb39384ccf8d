// berthd's CRI streaming (Exec, Attach, PortForward) against a real berthd, through the project's
// gRPC client for runtime.v1 and runtime.v1alpha2 and its own SPDY/3.1 and WebSocket clients
// (test/lib/stream-clients.ts): exit codes in the v4 status, stdout and stderr apart, stdin to EOF,
// a tty with resize, the v1–v3 and WebSocket framings, attach, port-forward of two ports with
// several connections (SPDY, WebSocket, and SPDY tunnelled in a WebSocket), one-time tokens, the
// loopback binding, and 50 exec streams dropped mid-stream leaving nothing behind.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CriClient, shContainer, criError, Status } from '../lib/cri-client.ts';
import {
  channelText,
  httpGetOver,
  isRefusal,
  spdyCommand,
  spdyForward,
  spdyRun,
  spdyUpgrade,
  tunnelSession,
  wsOpen,
  wsRun,
} from '../lib/stream-clients.ts';
import { type Daemon, finish, startCriBerthd, tempRoots, until } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
const BRIDGE = `bts${process.pid % 100000}`;
const cfg = { defaultRuntime: RUNTIME, network: { defaultNetwork: { name: 'berth', bridge: BRIDGE } } };
const criSocket = join(runRoot, 'cri.sock');
let d: Daemon;
let cri: CriClient;
let pod: string;
let sleeper: string;
let reader: string;

const container = shContainer;

before(async () => {
  d = await startCriBerthd(root, runRoot, cfg);
  cri = new CriClient(criSocket);
  const config = {
    metadata: { name: 'stream', namespace: 'default', uid: `uid-stream-${process.pid}`, attempt: 0 },
    hostname: 'stream',
  };
  pod = (await cri.runtime.RunPodSandbox!({ config })).pod_sandbox_id;
  const make = async (name: string, args: string[], extra: Record<string, unknown> = {}) => {
    const id = (
      await cri.runtime.CreateContainer!({
        pod_sandbox_id: pod,
        config: container(name, args, extra),
        sandbox_config: config,
      })
    ).container_id;
    await cri.runtime.StartContainer!({ container_id: id });
    return id;
  };
  sleeper = await make('web', [
    'mkdir -p /a /b && echo port-a > /a/index.html && echo port-b > /b/index.html && httpd -p 8080 -h /a && httpd -p 8081 -h /b && exec sleep 3600',
  ]);
  reader = await make('reader', ['while read l; do echo got:$l; done'], { stdin: true });
});

after(async () => {
  cri?.close();
  await finish(d, root, runRoot, {
    network: true,
    beforeStop: async () => {
      const c = new CriClient(criSocket);
      await c.runtime.RemovePodSandbox!({ pod_sandbox_id: pod }).catch(() => {});
      c.close();
    },
  });
});

async function execUrl(version: 'v1' | 'v1alpha2', req: Record<string, unknown>): Promise<string> {
  const c = version === 'v1' ? cri : new CriClient(criSocket, version);
  try {
    return (await c.runtime.Exec!({ container_id: sleeper, stdout: true, ...req })).url;
  } finally {
    if (c !== cri) c.close();
  }
}

const exitStatus = (cmd: string[], code: number) =>
  JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });

for (const version of ['v1', 'v1alpha2'] as const) {
  test(`${version}: Exec over SPDY v4: stdout and stderr apart, the exit code in the status`, async () => {
    const cmd = ['sh', '-c', 'echo out; echo err >&2; exit 3'];
    const url = await execUrl(version, { cmd, stderr: true });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
    const r = await spdyRun(url, { stdout: true, stderr: true });
    assert.deepEqual([r.protocol, r.stdout, r.stderr], ['v4.channel.k8s.io', 'out\n', 'err\n']);
    assert.equal(r.error, exitStatus(cmd, 3));
    const ok = await spdyRun(await execUrl(version, { cmd: ['true'] }), { stdout: true });
    assert.equal(ok.error, '{"metadata":{},"status":"Success"}');
  });
}

test('Exec: stdin to EOF (more than a SPDY window), and a client preferring v5 gets v5 (as v4 over SPDY)', async () => {
  const input = `${'0123456789abcdef'.repeat(20_000)}\nend\n`;
  const r = await spdyRun(
    await execUrl('v1', { cmd: ['sh', '-c', 'cat; echo done'], stdin: true }),
    { stdout: true, input },
    ['v5.channel.k8s.io', 'v4.channel.k8s.io'],
  );
  assert.equal(r.protocol, 'v5.channel.k8s.io');
  assert.equal(r.stdout.length, input.length + 5);
  assert.equal(r.stdout, `${input}done\n`);
  assert.equal(r.error, '{"metadata":{},"status":"Success"}');
});

test('Exec with a tty: the resize reaches the terminal (stty size), and v3/v2/v1 framings', async () => {
  const c = await spdyCommand(await execUrl('v1', { cmd: ['sh'], stdin: true, tty: true }), {
    stdin: true,
    stdout: true,
    tty: true,
  });
  assert.ok(c.streams.resize, 'v4 with a tty opens a resize stream');
  c.streams.resize!.write(JSON.stringify({ Width: 123, Height: 45 }));
  c.streams.stdin!.write('stty size; exit 7\n');
  const r = await c.result;
  assert.match(r.stdout, /45 123/);
  assert.equal(r.error, exitStatus(['sh'], 7));
  c.up.socket.destroy();

  // The first size is the terminal's from its start: a command that asks at once sees it.
  const at = await spdyCommand(await execUrl('v1', { cmd: ['sh', '-c', 'stty size'], stdin: true, tty: true }), {
    stdin: true,
    stdout: true,
    tty: true,
  });
  at.streams.resize!.write(JSON.stringify({ Width: 101, Height: 27 }));
  const atr = await at.result;
  assert.match(atr.stdout, /^27 101\r?\n$/, JSON.stringify(atr));
  at.up.socket.destroy();

  // v3: plain-text errors, resize still there.
  const v3 = await spdyCommand(
    await execUrl('v1', { cmd: ['sh'], stdin: true, tty: true }),
    { stdin: true, stdout: true, tty: true },
    ['v3.channel.k8s.io'],
  );
  assert.ok(v3.streams.resize);
  v3.streams.resize!.write('{"Width":77,"Height":11}\n');
  v3.streams.stdin!.write('stty size; exit 2\n');
  const r3 = await v3.result;
  assert.match(r3.stdout, /11 77/);
  assert.equal(r3.error, 'command terminated with non-zero exit code: error executing command [sh], exit code 2');
  v3.up.socket.destroy();
  // v2: no resize stream; success writes nothing on the error stream.
  const r2 = await spdyRun(await execUrl('v1', { cmd: ['echo', 'two'] }), { stdout: true }, ['v2.channel.k8s.io']);
  assert.deepEqual([r2.protocol, r2.stdout, r2.error], ['v2.channel.k8s.io', 'two\n', '']);
  // No protocol header: v1.
  const r1 = await spdyRun(await execUrl('v1', { cmd: ['sh', '-c', 'exit 4'] }), { stdout: true }, []);
  assert.deepEqual(
    [r1.protocol, r1.error],
    ['', 'command terminated with non-zero exit code: error executing command [sh -c exit 4], exit code 4'],
  );
});

test('Exec over WebSocket: v5 and v4 channel framing, stdout/stderr apart, stdin closed by v5 CLOSE', async () => {
  const cmd = ['sh', '-c', 'cat; echo err >&2; exit 5'];
  const r = await wsRun(
    await execUrl('v1', { cmd, stdin: true, stderr: true }),
    ['v5.channel.k8s.io', 'v4.channel.k8s.io'],
    { input: 'via-ws\n', closeStdin: true },
  );
  assert.equal(r.protocol, 'v5.channel.k8s.io');
  assert.equal(r.firstMessages[0], 1, 'the first message is the empty one on stdout');
  assert.deepEqual([r.stdout, r.stderr], ['via-ws\n', 'err\n']);
  assert.equal(r.error, exitStatus(cmd, 5));
  const r4 = await wsRun(await execUrl('v1alpha2', { cmd: ['sh', '-c', 'echo four'] }), ['v4.channel.k8s.io']);
  assert.deepEqual(
    [r4.protocol, r4.stdout, r4.error],
    ['v4.channel.k8s.io', 'four\n', '{"metadata":{},"status":"Success"}'],
  );
  // The base64 variant: text messages, the channel as a digit.
  const b64 = await wsRun(await execUrl('v1', { cmd: ['sh', '-c', 'echo b64; exit 2'] }), ['v4.base64.channel.k8s.io']);
  assert.deepEqual(
    [b64.protocol, b64.stdout, b64.error],
    ['v4.base64.channel.k8s.io', 'b64\n', exitStatus(['sh', '-c', 'echo b64; exit 2'], 2)],
  );
  // A tty and resize over WebSocket (channel 4).
  const s = await wsOpen(await execUrl('v1', { cmd: ['sh'], stdin: true, tty: true }), ['v5.channel.k8s.io']);
  assert.ok(!('status' in s));
  s.send(4, JSON.stringify({ Width: 99, Height: 33 }));
  s.send(0, 'stty size; exit\n');
  await s.closed;
  assert.match(channelText(s, 1), /33 99/);
});

test('Exec and Attach refuse bad requests with the CRI codes', async () => {
  assert.equal(
    (await criError(cri.runtime.Exec!({ container_id: sleeper, cmd: [], stdout: true }))).code,
    Status.InvalidArgument,
  );
  const both = await criError(
    cri.runtime.Exec!({ container_id: sleeper, cmd: ['true'], tty: true, stdout: true, stderr: true }),
  );
  assert.equal(both.code, Status.InvalidArgument);
  assert.match(both.details, /tty and stderr/);
  assert.equal(
    (await criError(cri.runtime.Exec!({ container_id: sleeper, cmd: ['true'] }))).code,
    Status.InvalidArgument,
  );
  assert.equal(
    (await criError(cri.runtime.Exec!({ container_id: 'f'.repeat(64), cmd: ['true'], stdout: true }))).code,
    Status.NotFound,
  );
  assert.equal(
    (await criError(cri.runtime.PortForward!({ pod_sandbox_id: 'f'.repeat(64), port: [80] }))).code,
    Status.NotFound,
  );
});

test('a token is taken once; an unknown token is refused; the server listens on loopback only', async () => {
  const url = await execUrl('v1', { cmd: ['true'] });
  assert.equal((await spdyRun(url, { stdout: true })).error, '{"metadata":{},"status":"Success"}');
  const again = await spdyUpgrade(url, ['v4.channel.k8s.io']);
  assert.ok(isRefusal(again));
  assert.equal(again.status, 404);
  assert.match(again.body, /invalid or expired token/);
  const ws = await wsOpen(url, ['v4.channel.k8s.io']);
  assert.ok('status' in ws && ws.status === 404, 'over WebSocket too');
  const guess = await spdyUpgrade(url.replace(/[^/]+$/, 'AAAAAAAAAAAAAAAAAAAAAAAA'), ['v4.channel.k8s.io']);
  assert.ok(isRefusal(guess) && guess.status === 404);
  const attachUrl = (await cri.runtime.Attach!({ container_id: reader, stdin: true, stdout: true })).url;
  const wrongKind = await spdyUpgrade(attachUrl.replace('/attach/', '/exec/'), ['v4.channel.k8s.io']);
  assert.ok(isRefusal(wrongKind) && wrongKind.status === 404, 'a token works for its own kind of stream only');

  const port = Number(new URL(url).port);
  const addrs = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && a.family === 'IPv4')
    .map((a) => a!.address);
  if (addrs.length === 0) return; // no address but loopback on this host: nothing else to reach
  const refused = await new Promise<string>((resolve) => {
    const s = connect(port, addrs[0]!);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  assert.equal(refused, 'ECONNREFUSED', `the streaming port is not reachable on ${addrs[0]}`);
});

test('Attach over SPDY and WebSocket: stdin reaches the container, output comes back; detaching leaves it running', async () => {
  const url = (await cri.runtime.Attach!({ container_id: reader, stdin: true, stdout: true })).url;
  const c = await spdyCommand(url, { stdin: true, stdout: true });
  let out = '';
  c.streams.stdout!.on('data', (b: Buffer) => (out += b));
  c.streams.stdin!.write('ping\n');
  await until('the attached output', () => out.includes('got:ping'));
  c.up.socket.destroy();
  const w = await wsOpen((await cri.runtime.Attach!({ container_id: reader, stdin: true, stdout: true })).url, [
    'v5.channel.k8s.io',
  ]);
  assert.ok(!('status' in w));
  w.send(0, 'pong\n');
  await until('the attached output over WebSocket', () => channelText(w, 1).includes('got:pong'));
  w.ws.terminate();
  assert.equal((await cri.runtime.ContainerStatus!({ container_id: reader })).status.state, 'CONTAINER_RUNNING');
});

test("Attach with stdin_once: the client closing its stdin closes the container's (sh sees EOF and exits), and the attach ends with the status", async () => {
  const args = ['while read l; do echo got:$l; done; echo eof; exit 3'];
  const once = (
    await cri.runtime.CreateContainer!({
      pod_sandbox_id: pod,
      config: container('once', args, { stdin: true, stdin_once: true }),
    })
  ).container_id;
  await cri.runtime.StartContainer!({ container_id: once });
  const c = await spdyCommand((await cri.runtime.Attach!({ container_id: once, stdin: true, stdout: true })).url, {
    stdin: true,
    stdout: true,
  });
  c.streams.stdin!.write('one\n');
  c.streams.stdin!.end();
  const r = await c.result;
  assert.equal(r.stdout, 'got:one\neof\n');
  assert.equal(r.error, '{"metadata":{},"status":"Success"}');
  c.up.socket.destroy();
  await until(
    'the stdin_once container exited',
    async () => (await cri.runtime.ContainerStatus!({ container_id: once })).status.state === 'CONTAINER_EXITED',
  );
  assert.equal((await cri.runtime.ContainerStatus!({ container_id: once })).status.exit_code, 3);
  await cri.runtime.RemoveContainer!({ container_id: once });
});

test("Attach without stdin_once: the client closing its stdin leaves the container's open for the next attach", async () => {
  const c = await spdyCommand((await cri.runtime.Attach!({ container_id: reader, stdin: true, stdout: true })).url, {
    stdin: true,
    stdout: true,
  });
  let out = '';
  c.streams.stdout!.on('data', (b: Buffer) => (out += b));
  c.streams.stdin!.write('first\n');
  c.streams.stdin!.end();
  await until("the first attach's output", () => out.includes('got:first'));
  c.up.socket.destroy();
  const w = await wsOpen((await cri.runtime.Attach!({ container_id: reader, stdin: true, stdout: true })).url, [
    'v5.channel.k8s.io',
  ]);
  assert.ok(!('status' in w));
  w.send(0, 'second\n');
  await until("the second attach's output", () => channelText(w, 1).includes('got:second'));
  w.ws.terminate();
  assert.equal((await cri.runtime.ContainerStatus!({ container_id: reader })).status.state, 'CONTAINER_RUNNING');
});

test('PortForward over SPDY: two ports, several connections at once, an error for a closed port', async () => {
  const url = (await cri.runtime.PortForward!({ pod_sandbox_id: pod, port: [8080, 8081] })).url;
  const up = await spdyUpgrade(url, ['portforward.k8s.io']);
  assert.ok(!isRefusal(up));
  assert.equal(up.protocol, 'portforward.k8s.io');
  await until('httpd in the pod', async () => {
    const f = await spdyForward(up.session, 8081);
    return (await httpGetOver(f.data)).includes('port-b');
  });
  const answers = await Promise.all(
    [8080, 8081, 8080, 8081, 8080, 8081].map(async (port) => {
      const f = await spdyForward(up.session, port);
      return [await httpGetOver(f.data), await f.error] as const;
    }),
  );
  answers.forEach(([body, err], i) => {
    assert.match(body, i % 2 ? /port-b/ : /port-a/);
    assert.equal(err, '');
  });
  const closed = await spdyForward(up.session, 9);
  assert.match(await closed.error, new RegExp(`error forwarding port 9 to pod ${pod}, uid : .*ECONNREFUSED`));
  up.socket.destroy();
});

test('PortForward over WebSocket (v4 channels, ports in the query) and tunnelled SPDY in a WebSocket', async () => {
  const url = (await cri.runtime.PortForward!({ pod_sandbox_id: pod, port: [8080, 8081] })).url;
  const s = await wsOpen(`${url}?port=8080&port=8081`, ['v4.channel.k8s.io']);
  assert.ok(!('status' in s));
  await until('both ports announced', () => [0, 1, 2, 3].every((ch) => (s.channels.get(ch)?.length ?? 0) >= 1));
  assert.deepEqual(
    s.channels.get(0)![0],
    Buffer.from([0x90, 0x1f]),
    'the data channel starts with the port, little-endian',
  );
  assert.deepEqual(s.channels.get(2)![0], Buffer.from([0x91, 0x1f]));
  s.send(0, 'GET / HTTP/1.0\r\n\r\n');
  s.send(2, 'GET / HTTP/1.0\r\n\r\n');
  await s.closed;
  assert.match(Buffer.concat(s.channels.get(0)!.slice(1)).toString(), /port-a/);
  assert.match(Buffer.concat(s.channels.get(2)!.slice(1)).toString(), /port-b/);

  const t = await tunnelSession((await cri.runtime.PortForward!({ pod_sandbox_id: pod, port: [8081] })).url);
  const answers = await Promise.all(
    [8080, 8081].map(async (port) => httpGetOver((await spdyForward(t.session, port)).data)),
  );
  assert.match(answers[0]!, /port-a/);
  assert.match(answers[1]!, /port-b/);
  t.socket.destroy();
});

/** Raw bytes to the streaming server; everything it answers until it closes. */
function rawExchange(url: string, bytes: (string | Buffer)[]): Promise<Buffer> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    s.on('error', () => {});
    s.once('close', () => resolve(Buffer.concat(got)));
    s.once('connect', () => {
      for (const b of bytes) s.write(b);
    });
  });
}

test('hostile clients get clear refusals and berthd serves on', async () => {
  const url = () => execUrl('v1', { cmd: ['true'] });
  const path = async () => new URL(await url()).pathname;
  // A plain request (no upgrade): 400 saying how to connect.
  const plain = (
    await rawExchange(await url(), [`GET ${await path()} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`])
  ).toString();
  assert.match(plain, /^HTTP\/1\.1 400/);
  assert.match(plain, /upgrade to SPDY\/3\.1 or websocket/);
  // An upgrade to something else.
  const other = (
    await rawExchange(await url(), [
      `GET ${await path()} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`,
    ])
  ).toString();
  assert.match(other, /^HTTP\/1\.1 400[\s\S]*unsupported upgrade "h2c"/);
  // A protocol the server does not speak.
  const proto = await spdyUpgrade(await url(), ['v9.channel.k8s.io']);
  assert.ok(isRefusal(proto) && proto.status === 403 && /unable to negotiate protocol/.test(proto.body));
  const ws = await wsOpen(await url(), ['v9.channel.k8s.io']);
  assert.ok('status' in ws && ws.status === 400);
  // Garbage after a good upgrade: a GOAWAY with PROTOCOL_ERROR, then the connection ends.
  const g = await spdyUpgrade(await url(), ['v4.channel.k8s.io']);
  assert.ok(!isRefusal(g));
  const closed = new Promise<Buffer>((resolve) => {
    const got: Buffer[] = [];
    g.socket.removeAllListeners('data');
    g.socket.on('data', (b: Buffer) => got.push(b));
    g.socket.once('close', () => resolve(Buffer.concat(got)));
  });
  g.socket.write(Buffer.from([0x80, 0x02, 0x00, 0x01, 0, 0, 0, 0]));
  const bytes = await closed;
  // GOAWAY (type 7) with status 1 (PROTOCOL_ERROR).
  const at = bytes.indexOf(Buffer.from([0x80, 0x03, 0x00, 0x07]));
  assert.ok(at >= 0, `a GOAWAY came back: ${bytes.toString('hex')}`);
  assert.equal(bytes.readUInt32BE(at + 12), 1);
  // An unknown stream type is reset; the session and berthd go on.
  const c = await spdyUpgrade(await url(), ['v4.channel.k8s.io']);
  assert.ok(!isRefusal(c));
  const odd = c.session.openStream({ streamtype: 'video' });
  await new Promise((resolve) => odd.once('close', resolve));
  assert.equal(odd.resetByPeer, true);
  c.socket.destroy();
  assert.equal((await spdyRun(await url(), { stdout: true })).error, '{"metadata":{},"status":"Success"}');
});

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function execShims(containerId: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (readlinkSync(`/proc/${p}/exe`).endsWith('berth-shim') && cmd.includes('--exec') && cmd.includes(containerId))
        out.push(Number(p));
    } catch {}
  }
  return out;
}

test('50 exec streams and a port-forward session of 10 connections dropped mid-stream: processes and shims end, berthd keeps no fd or socket, the container runs on', async () => {
  const pid = d.proc.pid!;
  // Warm: the streaming server and everything it loads exist before counting.
  await spdyRun(await execUrl('v1', { cmd: ['true'] }), { stdout: true });
  await until('no exec shim left from earlier tests', () => execShims(sleeper).length === 0, 30_000);
  const before = fdCount(pid);
  const sessions = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const c = await spdyCommand(await execUrl('v1', { cmd: ['sh', '-c', 'echo ready; exec cat'], stdin: true }), {
        stdin: true,
        stdout: true,
      });
      await new Promise<void>((resolve) => c.streams.stdout!.once('data', () => resolve()));
      return c;
    }),
  );
  assert.equal(execShims(sleeper).length, 50, 'each exec has its shim while streaming');
  // And a port-forward session with ten idle connections open to the pod's httpd (which waits for a
  // request), dropped with them: berthd holds one socket per connection until then.
  const beforePf = fdCount(pid);
  const pf = await spdyUpgrade((await cri.runtime.PortForward!({ pod_sandbox_id: pod, port: [8080] })).url, [
    'portforward.k8s.io',
  ]);
  assert.ok(!isRefusal(pf));
  await Promise.all(Array.from({ length: 10 }, () => spdyForward(pf.session, 8080)));
  await until('the ten pod connections are open', () => fdCount(pid) >= beforePf + 10);
  pf.socket.destroy();
  for (const c of sessions) c.up.socket.destroy();
  await until('every dropped exec ended with its shim', () => execShims(sleeper).length === 0, 60_000);
  await until('berthd holds no more fds than before', () => fdCount(pid) <= before, 30_000);
  const st = (await cri.runtime.ContainerStatus!({ container_id: sleeper })).status;
  assert.equal(st.state, 'CONTAINER_RUNNING');
  assert.equal(
    (await cri.runtime.ExecSync!({ container_id: sleeper, cmd: ['echo', 'alive'], timeout: 10 })).stdout.toString(),
    'alive\n',
  );
});
