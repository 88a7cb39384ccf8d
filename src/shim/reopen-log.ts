// Asks a running shim to reopen its log by path (docs/shim.md, REOPEN_LOG): the CRI's
// ReopenContainerLog, after a kubelet renamed the log to rotate it. Resolves once the shim has a new
// file open; rejects with the shim's reason if it could not open one.
// Must never: touch the log file itself (the shim is its only writer).
import { connect } from 'node:net';
import { join } from 'node:path';
import { unavailable } from '../errors/errors.ts';
import { encodeFrame, FrameDecoder, FrameType } from './frames.ts';

export function reopenLog(stateDir: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(join(stateDir, 'attach.sock'));
    const decoder = new FrameDecoder();
    const fail = (why: string) => {
      sock.destroy();
      reject(unavailable(`reopening the log of the shim in ${stateDir}: ${why}`));
    };
    sock.setTimeout(timeoutMs, () => fail(`no answer in ${timeoutMs} ms`));
    sock.on('error', (e) => fail(e.message));
    sock.on('connect', () => sock.write(encodeFrame(FrameType.ReopenLog)));
    sock.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (f.type !== FrameType.LogReopened) continue;
        const why = f.payload.toString('utf8');
        sock.destroy();
        if (why) reject(unavailable(`reopening the log of the shim in ${stateDir}: ${why}`));
        else resolve();
        return;
      }
    });
    sock.on('end', () =>
      fail('the shim closed the connection before it answered (a shim older than REOPEN_LOG ignores it)'),
    );
  });
}
