import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const MAIN = join(import.meta.dirname, 'main.ts');

test('a reader that closes the pipe early ends berth quietly, with the status of a process SIGPIPE ended', async () => {
  // The read end is closed before berth writes its usage text: the write meets EPIPE.
  const p = spawn(process.execPath, [MAIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout.destroy();
  let err = '';
  p.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise<number | null>((r) => p.once('close', (c) => r(c)));
  assert.equal(err, '', 'no stack trace, no message');
  assert.equal(code, 141);
});
