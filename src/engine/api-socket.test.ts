import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { isBerthError } from '../errors/errors.ts';
import { API_SOCKET_MODE, apiSocketPath, bindApiSocket, resolveGroup } from './api-socket.ts';

const dir = mkdtempSync('/tmp/berth-sock-');
after(() => rmSync(dir, { recursive: true, force: true }));

test("--group is a gid or a name from the group file; unset is root's group", () => {
  const file = join(dir, 'group');
  writeFileSync(file, 'root:x:0:\nberth:x:4711:alice,bob\nbroken:x:\n');
  assert.equal(resolveGroup(undefined, file), 0);
  assert.equal(resolveGroup('4712', file), 4712);
  assert.equal(resolveGroup(12, file), 12);
  assert.equal(resolveGroup('berth', file), 4711);
  assert.throws(
    () => resolveGroup('nosuch', file),
    (e: unknown) =>
      isBerthError(e, 'BERTH_ERR_INVALID_ARGUMENT') &&
      e.message.includes('"nosuch": no such group') &&
      e.message.includes(file),
  );
  assert.throws(() => resolveGroup('broken', file), /no such group/);
});

test('an API socket address is a path or unix://; TCP is refused, naming the address', () => {
  assert.equal(apiSocketPath('/run/berth/berthd.sock'), '/run/berth/berthd.sock');
  assert.equal(apiSocketPath('unix:///run/b.sock'), '/run/b.sock');
  for (const a of ['tcp://0.0.0.0:2375', 'tcp://127.0.0.1:2376', 'fd://', 'unix://']) {
    assert.throws(
      () => apiSocketPath(a),
      (e: unknown) =>
        isBerthError(e, 'BERTH_ERR_INVALID_ARGUMENT') &&
        e.message.includes(JSON.stringify(a)) &&
        /unix sockets only/.test(e.message),
      a,
    );
  }
});

test('bindApiSocket: the socket appears only with mode 0660 and the group; others are refused, the group connects', {
  skip: process.getuid?.() !== 0 ? 'needs root (chown, runuser)' : false,
}, async () => {
  chmodSync(dir, 0o755); // the directory lets anyone reach the socket: its own mode must refuse them
  const path = join(dir, 'api.sock');
  const gid = 48150;
  const server = createServer((s) => s.end('hello'));
  await bindApiSocket(
    path,
    gid,
    (p) => new Promise<void>((resolve, reject) => server.once('error', reject).listen(p, resolve)),
  );
  try {
    const st = statSync(path);
    assert.deepEqual([st.isSocket(), st.mode & 0o7777, st.uid, st.gid], [true, API_SOCKET_MODE, 0, gid]);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('.s')),
      [],
      'the private directory it was bound in is gone',
    );
    const js = `require('net').connect(process.argv[1]).on('data', (d) => { console.log(String(d)); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`;
    // Asynchronously: the server answers from this process's event loop.
    const run = async (argv: string[]) =>
      (
        await promisify(execFile)(argv[0]!, [...argv.slice(1), process.execPath, '-e', js, path], {
          encoding: 'utf8',
          timeout: 30_000,
        })
      ).stdout.trim();
    assert.equal(await run(['runuser', '-u', 'nobody', '--']), 'EACCES');
    assert.equal(await run(['setpriv', '--reuid=65534', '--regid=65534', `--groups=${gid}`, '--']), 'hello');
  } finally {
    await new Promise((r) => server.close(r));
  }
});
