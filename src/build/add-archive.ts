// ADD's local archives: which files ADD extracts and their uncompressed tar stream. As Docker's and
// BuildKit's ADD, the content decides, never the name: a file is extracted when, decompressed by what
// its magic bytes say (gzip, bzip2, xz, zstd, or none), it starts with a valid tar header; anything
// else (a .gz that is not a tar, a text file) is copied as it is.
// gzip and zstd are Node's zlib. Node has no xz or bzip2, and the npm packages for them either read
// the whole input into memory (@napi-rs/lzma) or are unmaintained pure-JS ports; so xz and bzip2 run
// Debian's own xz-utils and bzip2 (the reference implementations, kept up by Debian's security
// team) as child processes that stream the file through, in scripts/setup.sh's apt list.
// Must never: hold an archive in memory, or trust a name's suffix.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { invalidArgument } from '../errors/errors.ts';

export type ArchiveCompression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

const MAGIC: [ArchiveCompression, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** The compression the first bytes say, or none. */
export function archiveCompression(head: Uint8Array): ArchiveCompression {
  for (const [c, m] of MAGIC) if (head.length >= m.length && m.every((b, i) => head[i] === b)) return c;
  return 'none';
}

/** A tar header block: its checksum (the sum of its bytes, the checksum field as spaces) matches. */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  const field = Buffer.from(block.subarray(148, 156))
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === Number.parseInt(field, 8);
}

const TOOLS = { xz: ['xz', '-dc'], bzip2: ['bzip2', '-dc'] } as const;

/** The uncompressed bytes of the file at `path`; `what` names it in errors. */
export function decompressFile(path: string, compression: ArchiveCompression, what: string): Readable {
  if (compression === 'xz' || compression === 'bzip2') return Readable.from(throughTool(path, compression, what));
  const file = createReadStream(path);
  if (compression === 'none') return file;
  const d = compression === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  file.on('error', (e) => d.destroy(e));
  // A reader that stops early (the sniff) destroys the decompressor: the file goes with it.
  d.once('close', () => file.destroy());
  return file.pipe(d);
}

async function* throughTool(path: string, compression: 'xz' | 'bzip2', what: string): AsyncGenerator<Buffer> {
  const [bin, ...args] = TOOLS[compression];
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  const file = createReadStream(path);
  // The tool stops reading when it is ended early or finds the data corrupt: its stdin's EPIPE is no error of ours.
  child.stdin.on('error', () => {});
  file.on('error', (e) => child.stdout.destroy(e));
  file.pipe(child.stdin);
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-1000);
  });
  let complete = false;
  try {
    for await (const c of child.stdout as AsyncIterable<Buffer>) yield c;
    complete = true;
  } finally {
    // Stopped early (a sniff reads only the head, a refused entry stops extraction): end the tool.
    file.destroy();
    if (!complete && child.exitCode === null) child.kill('SIGKILL');
  }
  const r = await exited;
  if (r.error)
    throw invalidArgument(
      `${what}: cannot run ${bin} to read a ${compression} archive (${r.error.message}; install Debian's ${compression === 'xz' ? 'xz-utils' : 'bzip2'})`,
    );
  if (r.code !== 0)
    throw invalidArgument(`${what}: not a valid ${compression} file: ${stderr.trim() || `${bin} exited ${r.code}`}`);
}

/** The compression of an archive ADD extracts, or undefined for a file it copies as it is. */
export async function addArchive(path: string, what: string): Promise<ArchiveCompression | undefined> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    const b = Buffer.alloc(512);
    head = b.subarray(0, (await fh.read(b, 0, 512, 0)).bytesRead);
  } finally {
    await fh.close();
  }
  const compression = archiveCompression(head);
  if (compression === 'none') return isTarHeader(head) ? 'none' : undefined;
  // The first block of what it decompresses to; a file that does not decompress is not an archive.
  const chunks: Buffer[] = [];
  let have = 0;
  const stream = decompressFile(path, compression, what);
  try {
    for await (const c of stream as AsyncIterable<Buffer>) {
      chunks.push(c);
      have += c.length;
      if (have >= 512) break;
    }
  } catch {
    return undefined;
  } finally {
    stream.destroy();
  }
  return isTarHeader(Buffer.concat(chunks).subarray(0, 512)) ? compression : undefined;
}
