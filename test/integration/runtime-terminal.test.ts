// Black-box terminal suite: process.terminal in the foreground from a real terminal (script(1)
// gives the runtime a pty as its stdio), and with --console-socket, where the runtime must send the
// pty master made inside the container over SCM_RIGHTS (the receiver here is Python's
// socket.recv_fds, so the suite depends on nothing of berth's own).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { assertOk, describeRuntimes, runtimeEnv } from '../lib/runtime.ts';

const sh = (script: string) => ['/bin/sh', '-c', script];

/** A one-shot console-socket server: accepts one connection, receives the master, echoes what the container writes to a file. */
const RECEIVER = String.raw`
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path); srv.listen(1)
print("ready", flush=True)
conn, _ = srv.accept()
msg, fds, flags, addr = socket.recv_fds(conn, 4096, 1)
master = fds[0]
with open(out, "wb") as f:
    f.write(b"name:" + msg + b"\n")
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        f.write(data)
`;

describeRuntimes('runtime terminal', (rt, it) => {
  it('run in the foreground with a terminal, from a real terminal: the process has a pty, its size, and the exit status', (s) => {
    const b = s.bundle({ terminal: true, args: sh('tty; stty size; exit 7') });
    const id = s.id();
    const runtime = [...rt.argv, '--root', s.root, 'run', '--bundle', b.dir, id].map((a) => `'${a}'`).join(' ');
    // script(1) runs the runtime on a fresh pty of its own (80x24 unless told); -e passes the exit status.
    const r = spawnSync('script', ['-qec', `stty cols 100 rows 30; ${runtime}`, '/dev/null'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: runtimeEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    assert.equal(r.status, 7, `exit status through the terminal: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /\/dev\/pts\/\d+/, r.stdout);
    // runc 1.1 sizes the pty from its console loop once the process runs, so a `stty size` at the
    // very start may see no size yet (seen here: "stty: standard input: No child processes").
    // berth sizes it before the exec (CONSOLE op), so for berth the size must be there.
    if (rt.kind !== 'runc')
      assert.match(r.stdout, /30 100/, `the container's terminal has the caller's size: ${r.stdout}`);
  });

  it('create with --console-socket sends the pty master of the container over SCM_RIGHTS', async (s) => {
    const b = s.bundle({ terminal: true, args: sh('tty; echo from-the-pty') });
    const sock = s.path('console.sock');
    const out = s.path('console.out');
    const rx = s.path('rx.py');
    writeFileSync(rx, RECEIVER);
    const server = spawn('python3', [rx, sock, out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let serverErr = '';
    server.stderr.on('data', (d) => (serverErr += d));
    await new Promise<void>((resolve, reject) => {
      server.stdout.once('data', () => resolve());
      server.once('exit', (code) => reject(new Error(`receiver exited ${code}: ${serverErr}`)));
    });
    const id = s.id();
    try {
      assertOk(s.exec(['create', '--bundle', b.dir, '--console-socket', sock, id]), 'create --console-socket');
      assertOk(s.start(id), 'start');
      const code = await new Promise<number | null>((resolve) => server.once('exit', resolve));
      assert.equal(code, 0, serverErr);
      const text = readFileSync(out, 'utf8');
      assert.match(text, /^name:/);
      assert.match(text, /\/dev\/pts\/\d+/);
      assert.match(text, /from-the-pty/);
    } finally {
      server.kill('SIGKILL');
    }
  });
});
