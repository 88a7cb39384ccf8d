// Builds layer tarballs at test time with tar-stream's packer: ordinary ones for the positive tests
// and the hostile corpus (path traversal, symlink and hardlink escapes, whiteouts aimed outside,
// bombs). Nothing here is committed as a binary; every case is generated from its description.
//
// Each hostile case names what applyLayer must do: refuse it (InvalidArgument, message matching
// `expect`) or neutralise it (succeed, with `check` proving the result stayed inside the root).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';

export type TarEntry = {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'directory' | 'block-device' | 'character-device' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  content?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
};

/** An uncompressed tar of `entries`, in order. */
export async function buildTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.content === undefined ? undefined : Buffer.from(e.content);
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_600_000_000_000),
      linkname: e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      pax: e.pax,
      size: body?.length ?? 0,
    };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body === undefined) pack.entry(header, cb);
      else pack.entry(header, body, cb);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

export const gzip = (b: Buffer): Buffer => zlib.gzipSync(b);
export const zstd = (b: Buffer): Buffer => zlib.zstdCompressSync(b);
export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Chunks a buffer the way a network stream would arrive. */
export function chunked(b: Buffer, size = 7919): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
  })();
}

/** The 512-byte ustar header of a regular file `name` declaring `size` bytes. */
async function fileHeader(name: string, size: number): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name, size, mode: 0o644, mtime: new Date(1_600_000_000_000) });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of pack as unknown as AsyncIterable<Buffer>) {
    chunks.push(c);
    n += c.length;
    if (n >= 512) break;
  }
  pack.destroy();
  return Buffer.concat(chunks).subarray(0, 512);
}

/**
 * A gzip bomb: a tar whose one file declares `declaredBytes` of zeros, gzip'd on the fly (about
 * 1000:1). Generated lazily, so a consumer that stops early never makes the rest; `compressedBytes`
 * says how much was produced.
 */
export async function gzipBomb(declaredBytes: number): Promise<{ stream: Readable; compressedBytes: () => number }> {
  const header = await fileHeader('bomb', declaredBytes);
  const zero = Buffer.alloc(1 << 20);
  const raw = Readable.from(
    (async function* () {
      yield header;
      for (let left = declaredBytes; left > 0; left -= zero.length) yield zero.subarray(0, Math.min(left, zero.length));
    })(),
    { objectMode: false },
  );
  const gz = zlib.createGzip({ level: 9 });
  let produced = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      produced += chunk.length;
      cb(null, chunk);
    },
  });
  const stream = pipeline(raw, gz, counter, () => {}) as unknown as Readable;
  return { stream, compressedBytes: () => produced };
}

export type HostileCase = {
  name: string;
  entries: TarEntry[];
  /** Refused: the InvalidArgument message must match. */
  expect?: RegExp;
  /** Neutralised: applyLayer succeeds; `check` gets the target dir and throws if anything is wrong. */
  neutralised?: true;
  check?: (target: string) => Promise<void>;
  limits?: { maxEntries?: number; maxBytes?: number; maxPathLength?: number };
  allowDevices?: boolean;
  format?: 'overlay' | 'plain';
};

/**
 * The hostile corpus. `../canary` is a file next to the target dir that each test creates and checks;
 * /etc/passwd and /etc/shadow are the host's, checked by digest.
 */
export function hostileCorpus(): HostileCase[] {
  const file = (name: string, content = 'pwned\n'): TarEntry => ({ name, content });
  const dir = (name: string): TarEntry => ({ name, type: 'directory' });
  const sym = (name: string, linkname: string): TarEntry => ({ name, type: 'symlink', linkname });
  const link = (name: string, linkname: string): TarEntry => ({ name, type: 'link', linkname });
  // A symlinked parent is resolved inside the root (as containerd and docker do): these check that
  // the entry landed at the in-root path and that the symlinks stayed symlinks.
  const content = (rel: string, want: string) => async (t: string) =>
    assert.equal(await fs.readFile(join(t, rel), 'utf8'), want, rel);
  const symlinks =
    (...rels: string[]) =>
    async (t: string) => {
      for (const rel of rels) assert.ok((await fs.lstat(join(t, rel))).isSymbolicLink(), `${rel} is still a symlink`);
    };
  const all =
    (...checks: Array<(t: string) => Promise<void>>) =>
    async (t: string) => {
      for (const c of checks) await c(t);
    };
  const whiteoutAt = (rel: string) => async (t: string) => {
    const st = await fs.lstat(join(t, rel));
    assert.ok(st.isCharacterDevice() && st.rdev === 0, `${rel} is a 0/0 whiteout`);
  };
  return [
    { name: 'traversal ../../etc/passwd', entries: [file('../../etc/passwd')], expect: /climbs above the layer root/ },
    {
      name: 'traversal hidden in the middle a/../../canary',
      entries: [dir('a/'), file('a/../../canary')],
      expect: /climbs above/,
    },
    { name: 'absolute /etc/shadow', entries: [file('/etc/shadow')], expect: /is absolute/ },
    {
      name: "symlink evil -> /etc then evil/passwd: lands at the root's etc/passwd",
      entries: [sym('evil', '/etc'), file('evil/passwd')],
      neutralised: true,
      check: all(content('etc/passwd', 'pwned\n'), symlinks('evil')),
    },
    {
      name: 'symlink chain a -> b -> ../.. then a/canary: ".." stops at the root',
      entries: [sym('b', '../..'), sym('a', 'b'), file('a/canary')],
      neutralised: true,
      check: all(content('canary', 'pwned\n'), symlinks('a', 'b')),
    },
    {
      name: 'relative symlink to a directory inside, then written through',
      entries: [dir('real/'), sym('alias', 'real'), file('alias/x')],
      neutralised: true,
      check: all(content('real/x', 'pwned\n'), symlinks('alias')),
    },
    {
      name: 'deep symlink in a nested path d/e -> /',
      entries: [dir('d/'), sym('d/e', '/'), file('d/e/etc/passwd')],
      neutralised: true,
      check: all(content('etc/passwd', 'pwned\n'), symlinks('d/e')),
    },
    {
      name: 'a symlink loop as a parent',
      entries: [sym('loop', 'loop'), file('loop/x')],
      expect: /resolving its parent "loop" followed more than 40 symlinks/,
    },
    {
      name: 'hardlink to /etc/passwd',
      entries: [link('passwd', '/etc/passwd')],
      expect: /hardlink target "\/etc\/passwd" is refused: the name is absolute/,
    },
    {
      name: 'hardlink to ../canary',
      entries: [link('c', '../canary')],
      expect: /hardlink target "..\/canary" is refused: '..' climbs/,
    },
    {
      name: 'hardlink through a symlink evil -> /etc: resolved in the root, where there is no etc/passwd',
      entries: [sym('evil', '/etc'), link('stolen', 'evil/passwd')],
      expect: /hardlink target "evil\/passwd" does not exist/,
    },
    { name: 'hardlink to a missing target', entries: [link('x', 'nope')], expect: /does not exist/ },
    { name: 'hardlink to a directory', entries: [dir('d/'), link('x', 'd')], expect: /is a directory/ },
    { name: 'whiteout aimed outside ../.wh.canary', entries: [file('../.wh.canary')], expect: /climbs above/ },
    {
      name: 'whiteout aimed outside ../.wh.canary (plain)',
      entries: [file('../.wh.canary')],
      expect: /climbs above/,
      format: 'plain',
    },
    {
      name: "whiteout through a symlink evil/.wh.passwd (plain): the root's etc/passwd, which is not there",
      entries: [dir('etc/'), file('etc/keep', 'kept\n'), sym('evil', '/etc'), file('evil/.wh.passwd')],
      neutralised: true,
      check: all(content('etc/keep', 'kept\n'), symlinks('evil')),
      format: 'plain',
    },
    {
      name: "whiteout through a symlink evil/.wh.passwd (overlay): a whiteout at the root's etc/passwd",
      entries: [sym('evil', '/etc'), file('evil/.wh.passwd')],
      neutralised: true,
      check: all(whiteoutAt('etc/passwd'), symlinks('evil')),
    },
    { name: 'whiteout of ".." (.wh...)', entries: [file('d/.wh...')], expect: /whiteout names '..'/ },
    {
      name: 'opaque marker above the root ../.wh..wh..opq',
      entries: [file('../.wh..wh..opq')],
      expect: /climbs above/,
    },
    {
      name: "opaque marker in a symlinked directory (overlay): marks the root's etc",
      entries: [sym('evil', '/etc'), file('evil/.wh..wh..opq')],
      neutralised: true,
      check: all(symlinks('evil'), async (t) => assert.ok((await fs.lstat(join(t, 'etc'))).isDirectory())),
    },
    {
      name: "opaque marker in a symlinked directory (plain): empties the root's etc of lower files only",
      entries: [dir('etc/'), file('etc/mine', 'mine\n'), sym('evil', '/etc'), file('evil/.wh..wh..opq')],
      neutralised: true,
      check: all(content('etc/mine', 'mine\n'), symlinks('evil')),
      format: 'plain',
    },
    {
      name: 'too many entries',
      entries: Array.from({ length: 50 }, (_, i) => file(`f${i}`, '')),
      limits: { maxEntries: 20 },
      expect: /more than 20 entries/,
    },
    { name: 'a very long path', entries: [file(`${'d/'.repeat(2100)}x`)], expect: /longer than 4096 bytes/ },
    { name: 'a component longer than NAME_MAX', entries: [file('x'.repeat(300))], expect: /longer than 255 bytes/ },
    {
      name: "dir replaced by a symlink, then written through: the old directory is gone, the file lands in the root's etc",
      entries: [dir('d/'), file('d/ok'), sym('d', '/etc'), file('d/passwd')],
      neutralised: true,
      check: all(content('etc/passwd', 'pwned\n'), symlinks('d')),
    },
    {
      name: 'file then symlink with the same name (later wins, nothing followed)',
      entries: [file('f', 'first\n'), sym('f', '/etc/passwd'), file('f', 'third\n')],
      neutralised: true,
    },
    {
      name: 'hardlink to a symlink that points outside, then overwritten',
      entries: [sym('s', '../canary'), link('h', 's'), file('h', 'replaced\n'), file('s', 'replaced too\n')],
      neutralised: true,
    },
    {
      name: 'symlink to the host, never followed',
      entries: [sym('passwd', '/etc/passwd'), sym('up', '../canary')],
      neutralised: true,
    },
    {
      name: 'device nodes refused when not allowed',
      entries: [{ name: 'mem', type: 'character-device', devmajor: 1, devminor: 1 }],
      allowDevices: false,
      expect: /device nodes are not allowed/,
    },
    {
      name: 'the root named by a file',
      entries: [file('./')],
      expect: /only a directory may name the layer root|is not a directory/,
    },
  ];
}
