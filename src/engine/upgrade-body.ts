// The body of an HTTP upgrade request, for the wire adapters that hijack connections (the native
// API's attach and run, the Docker API's attach and exec start): node:http hands over the socket
// right after the headers. Here because both adapters may import the engine and nothing beside it.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { invalidArgument } from '../errors/errors.ts';

/**
 * The body of an upgrade request (Content-Length bytes): node:http hands over the socket right after
 * the headers, with whatever followed them in `head`. Resolves with the body and any bytes beyond it.
 */
export function readUpgradeBody(
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): Promise<{ body: Buffer; rest: Buffer }> {
  const raw = req.headers['content-length'] ?? '0';
  const len = Number(raw);
  if (!/^\d+$/.test(raw) || len > 16 << 20)
    return Promise.reject(invalidArgument(`Content-Length ${JSON.stringify(raw)}: expected at most 16 MiB`));
  if (head.length >= len) return Promise.resolve({ body: head.subarray(0, len), rest: head.subarray(len) });
  return new Promise((resolve, reject) => {
    const chunks = [head];
    let got = head.length;
    const done = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got < len) return;
      done();
      const all = Buffer.concat(chunks);
      resolve({ body: all.subarray(0, len), rest: all.subarray(len) });
    };
    const onEnd = () => {
      done();
      reject(invalidArgument(`request body ended after ${got} of ${len} bytes`));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}
