// Extended attributes carried in PAX records (`SCHILY.xattr.<name>=<value>`, as GNU tar, Go's
// archive/tar and so docker and buildkit write them).
//
// Why one function of tar-stream is replaced: tar-stream decodes every PAX value as UTF-8, but an
// xattr value is bytes (security.capability, POSIX ACLs), and a byte ≥ 0x80 that is not valid UTF-8
// becomes U+FFFD: a file's capabilities would silently change. installBinaryPaxValues() swaps
// tar-stream's decodePax for one that keeps SCHILY.xattr.* values as latin1 strings (one char per
// byte, so Buffer.from(v, 'latin1') gives the bytes back) and decodes every other record exactly as
// tar-stream does. Only the PAX record framing ("<len> <key>=<value>\n") is parsed here; the tar
// format itself stays tar-stream's.
//
// Must never: change how any non-xattr record is decoded (other users of tar-stream in the process
// share the module).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const XATTR_PAX_PREFIX = 'SCHILY.xattr.';

/** Parses PAX extended-header records; SCHILY.xattr.* values as latin1, the rest as UTF-8. */
export function decodePaxRecords(buf: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  while (b.length > 0) {
    const sp = b.indexOf(0x20);
    if (sp <= 0) return out;
    const len = Number.parseInt(b.subarray(0, sp).toString('latin1'), 10);
    if (!Number.isSafeInteger(len) || len <= sp + 1 || len > b.length) return out;
    // The record is "<len> <key>=<value>\n"; the length counts all of it.
    const body = b.subarray(sp + 1, len - 1);
    const eq = body.indexOf(0x3d);
    if (eq === -1) return out;
    const key = body.subarray(0, eq).toString('utf8');
    const raw = body.subarray(eq + 1);
    out[key] = key.startsWith(XATTR_PAX_PREFIX) ? raw.toString('latin1') : raw.toString('utf8');
    b = b.subarray(len);
  }
  return out;
}

let installed = false;

export function installBinaryPaxValues(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  // tar-stream's exports map hides headers.js; the absolute path reaches the same module instance
  // that its extract.js required, so the swap takes effect there.
  const headersPath = join(dirname(require.resolve('tar-stream')), 'headers.js');
  const headers = require(headersPath) as { decodePax: (buf: Uint8Array) => Record<string, string> };
  headers.decodePax = decodePaxRecords;
  installed = true;
}

/** The xattrs of an entry from its PAX records: name → value bytes. */
export function xattrsFromPax(pax: Record<string, string> | undefined | null): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!pax) return out;
  for (const [k, v] of Object.entries(pax)) {
    if (!k.startsWith(XATTR_PAX_PREFIX)) continue;
    const name = k.slice(XATTR_PAX_PREFIX.length);
    if (name === '') continue;
    out.set(name, Buffer.from(v, 'latin1'));
  }
  return out;
}
