// Extended attributes carried in PAX records (`SCHILY.xattr.<name>=<value>`, as GNU tar, Go's
// archive/tar and so docker and buildkit write them).
//
// Why tar-stream's PAX decoding is corrected: tar-stream decodes every PAX value as UTF-8, but an
// xattr value is bytes (security.capability, POSIX ACLs), and a byte ≥ 0x80 that is not valid UTF-8
// becomes U+FFFD: a file's capabilities would silently change. keepBinaryXattrs(extract) wraps one
// extractor's PAX step: after tar-stream has decoded a PAX header as usual, the SCHILY.xattr.*
// values are decoded again from the same bytes as latin1 strings (one char per byte, so
// Buffer.from(v, 'latin1') gives the bytes back). Every other record stays tar-stream's. Only the
// PAX record framing ("<len> <key>=<value>\n") is parsed here; the tar format stays tar-stream's.
//
// Why per extractor and not by replacing tar-stream's module function: a bundle (dist/bin) inlines
// tar-stream, and a module loaded at run time by path would be another copy than the one that
// parses; the instance in hand is always the right one.
// Must never: change how any non-xattr record is decoded, or touch extractors it was not given.
import type * as tar from 'tar-stream';
import { internal } from '../errors/errors.ts';

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

/** The private parts of tar-stream 3's Extract that keepBinaryXattrs relies on. */
type ExtractInternals = {
  _decodeLongHeader?: (this: ExtractInternals, buf: Buffer) => void;
  _header: { type?: string | null } | null;
  _pax: Record<string, string> | null;
  _paxGlobal: Record<string, string> | null;
};

/** Makes `extract` keep the bytes of SCHILY.xattr.* PAX values (see the header). */
export function keepBinaryXattrs(extract: tar.Extract): void {
  const x = extract as unknown as ExtractInternals;
  const decode = x._decodeLongHeader;
  if (typeof decode !== 'function') {
    // A tar-stream without this step would silently corrupt binary xattrs: refuse to run instead.
    throw internal(
      "tar-stream's Extract has no _decodeLongHeader (tar-stream changed?): src/archive/pax-xattrs.ts must be updated",
    );
  }
  x._decodeLongHeader = function (buf: Buffer): void {
    decode.call(this, buf);
    const type = this._header?.type;
    const target = type === 'pax-header' ? this._pax : type === 'pax-global-header' ? this._paxGlobal : null;
    if (target === null) return;
    for (const [k, v] of Object.entries(decodePaxRecords(buf))) if (k.startsWith(XATTR_PAX_PREFIX)) target[k] = v;
  };
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
