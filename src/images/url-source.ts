// import from a URL (docker's `import http://host/rootfs.tar`): the body of an HTTP(S) GET, fetched
// with undici and handed on as a stream, so that it never sits in memory. Its size is bounded: a
// Content-Length over the bound is refused before a byte is read, and a body that grows past it is
// cut off with an error, which makes the import fail before anything is named.
// Must never: follow a redirect loop forever, or accept a failed status's body as the tar.
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { loadUndici } from '../distribution/undici.ts';
import { errorMessage, invalidArgument, notFound, unavailable } from '../errors/errors.ts';

export type UrlSourceOptions = {
  /** The largest body accepted, in bytes. */
  maxBytes: number;
  /** Bytes read so far, and the Content-Length when the server sent one. */
  onProgress?: (current: number, total: number | undefined) => void;
  signal?: AbortSignal;
};

/** What import accepts: an absolute http or https URL (docker's CLI sends the argument as it is). */
export function importUrl(src: string): URL {
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(src) ? src : `http://${src}`);
  } catch {
    throw invalidArgument(`import from ${JSON.stringify(src)}: not a URL (expected http://HOST/PATH or https://…)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw invalidArgument(`import from ${src}: scheme ${u.protocol} (expected http or https)`);
  return u;
}

/** Opens `url` for reading: answers once the server's status and headers are in and say a body follows. */
export async function openUrl(url: URL, o: UrlSourceOptions): Promise<{ stream: Readable; total: number | undefined }> {
  const what = `import from ${url.href}`;
  const undici = await loadUndici();
  const dispatcher = new undici.Agent().compose(undici.interceptors.redirect({ maxRedirections: 10 }));
  let res: Awaited<ReturnType<typeof undici.request>>;
  try {
    res = await undici.request(url, { method: 'GET', dispatcher, ...(o.signal ? { signal: o.signal } : {}) });
  } catch (e) {
    await dispatcher.close().catch(() => {});
    throw unavailable(`${what}: ${errorMessage(e)} (expected an HTTP server answering a rootfs tar)`, e);
  }
  const done = () => void dispatcher.close().catch(() => {});
  if (res.statusCode !== 200) {
    res.body.resume();
    res.body.once('end', done).once('error', done);
    const status = `${res.statusCode} ${STATUS_CODES[res.statusCode] ?? ''}`.trim();
    const why = `${what}: the server answered ${status} (expected 200 with a rootfs tar)`;
    throw res.statusCode === 404 ? notFound(why) : res.statusCode >= 500 ? unavailable(why) : invalidArgument(why);
  }
  const length = Number(res.headers['content-length']);
  const total = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
  if (total !== undefined && total > o.maxBytes) {
    res.body.destroy();
    done();
    throw invalidArgument(`${what}: the body is ${total} bytes, more than the ${o.maxBytes} bytes an import may take`);
  }
  let current = 0;
  const bound = new Transform({
    transform(chunk: Buffer, _e, cb) {
      current += chunk.length;
      if (current > o.maxBytes) {
        cb(invalidArgument(`${what}: the body grew past the ${o.maxBytes} bytes an import may take`));
        return;
      }
      o.onProgress?.(current, total);
      cb(null, chunk);
    },
  });
  res.body.once('error', (e) => bound.destroy(e));
  bound.once('close', () => {
    res.body.destroy();
    done();
  });
  res.body.pipe(bound);
  return { stream: bound, total };
}
