import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { LocalContentStore } from '../content/local-content-store.ts';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { ArchiveSource, normalizeArchivePath } from './archive-source.ts';

type E = {
  name: string;
  data?: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  linkname?: string;
};

async function tarOf(entries: E[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') p.entry({ name: e.name }, e.data ?? '');
    else p.entry({ name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}) });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const temps: string[] = [];
after(async () => {
  for (const t of temps) await rm(t, { recursive: true, force: true });
});

async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), 'berth-archive-'));
  temps.push(dir);
  const content = new LocalContentStore(join(dir, 'content'));
  const stagingDir = join(dir, 'staging');
  await import('node:fs/promises').then((f) => f.mkdir(stagingDir));
  await content.createLease('l', {});
  return {
    dir,
    content,
    stagingDir,
    open: (tar: Buffer, label = 'x.tar') =>
      ArchiveSource.open(Readable.from([tar]), { label, content, stagingDir, leaseId: 'l' }),
  };
}

const refused = (re: RegExp) => (e: unknown) => {
  assert.ok(isBerthError(e), String(e));
  assert.ok(e.code === ErrorCode.InvalidArgument || e.code === ErrorCode.NotFound, e.code);
  assert.match(e.message, re);
  return true;
};

describe('ArchiveSource', () => {
  it('normalises archive paths and refuses ones that leave the archive', () => {
    assert.deepEqual(normalizeArchivePath('./a//b/'), { ok: true, path: 'a/b' });
    assert.equal(normalizeArchivePath('../etc/passwd').ok, false);
    assert.equal(normalizeArchivePath('a/../../b').ok, false);
    assert.equal(normalizeArchivePath('/etc/passwd').ok, false);
    assert.equal(normalizeArchivePath('').ok, false);
  });

  it('reads a tar or a tar.gz: blobs go to the content store verified, other files are staged, links resolve', async () => {
    const blob = 'layer bytes';
    const tar = await tarOf([
      { name: 'blobs/', type: 'directory' },
      { name: `blobs/${sha(blob).replace(':', '/')}`, data: blob },
      { name: 'manifest.json', data: '[]' },
      { name: 'abc/layer.tar', data: 'L' },
      { name: 'def/layer.tar', type: 'symlink', linkname: '../abc/layer.tar' },
      { name: 'hard.tar', type: 'link', linkname: 'abc/layer.tar' },
    ]);
    for (const input of [tar, gzipSync(tar)]) {
      const f = await fixture();
      const src = await f.open(input);
      assert.equal(await f.content.exists(sha(blob)), true);
      assert.equal((await src.readSmall('manifest.json', 'manifest.json')).toString(), '[]');
      assert.deepEqual(await src.digest('def/layer.tar', 'layer'), { digest: sha('L'), size: 1 });
      assert.deepEqual(await src.digest('hard.tar', 'layer'), { digest: sha('L'), size: 1 });
      assert.equal(await src.has('nope'), false);
      await src.ingest('def/layer.tar', 'layer', { digest: sha('L'), size: 1 });
      assert.equal((await f.content.readAll(sha('L'))).toString(), 'L');
      await assert.rejects(
        src.ingest('abc/layer.tar', 'layer', { digest: sha('M'), size: 1 }),
        refused(/x\.tar: entry "abc\/layer\.tar": layer does not match its digest/),
      );
      await assert.rejects(
        src.readSmall('missing.json', 'manifest.json[0].Config'),
        refused(/load x\.tar: manifest\.json\[0\]\.Config "missing\.json" is not in the archive/),
      );
      await assert.rejects(
        src.readSmall('../../etc/passwd', 'manifest.json[0].Config'),
        refused(/x\.tar: entry "\.\.\/\.\.\/etc\/passwd": .*inside the archive/),
      );
    }
  });

  it('refuses hostile entries, naming the archive and the entry, and writes nothing outside its staging dir', async () => {
    const f = await fixture();
    const cases: [E[], RegExp][] = [
      [[{ name: '../escape', data: 'x' }], /evil\.tar: entry "\.\.\/escape": the path contains '\.\.'/],
      [[{ name: '/etc/evil', data: 'x' }], /evil\.tar: entry "\/etc\/evil": the path is absolute/],
      [
        [{ name: 'a', type: 'symlink', linkname: '../../etc/shadow' }],
        /evil\.tar: entry "a": link target "\.\.\/\.\.\/etc\/shadow"/,
      ],
      [
        [{ name: 'a', type: 'symlink', linkname: '/etc/shadow' }],
        /evil\.tar: entry "a": link target "\/etc\/shadow": the link target is absolute/,
      ],
      [[{ name: 'h', type: 'link', linkname: '../x' }], /evil\.tar: entry "h": link target/],
      [[{ name: 'dev', type: 'character-device' }], /evil\.tar: entry "dev": is a character-device/],
      [
        [
          { name: 'm.json', data: '1' },
          { name: './m.json', data: '2' },
        ],
        /evil\.tar: entry "m\.json": appears twice/,
      ],
      [
        [{ name: `blobs/${sha('good').replace(':', '/')}`, data: 'evil' }],
        /evil\.tar: entry "blobs\/sha256\/[0-9a-f]+": does not match its digest/,
      ],
    ];
    for (const [entries, re] of cases) await assert.rejects(f.open(await tarOf(entries), 'evil.tar'), refused(re));
    await assert.rejects(
      f.open(Buffer.from('not a tar at all, not even close'.repeat(40)), 'junk.tar'),
      refused(/junk\.tar/),
    );
    assert.equal(await f.content.exists(sha('evil')), false, 'a mismatching blob is never committed');
    assert.deepEqual((await readdir(f.dir)).sort(), ['content', 'staging']);
  });

  it('reads a directory layout without following a link out of it', async () => {
    const f = await fixture();
    const dir = join(f.dir, 'layout');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeFile(join(dir, 'index.json'), '{}');
    const src = await ArchiveSource.open(dir, {
      label: dir,
      content: f.content,
      stagingDir: f.stagingDir,
      leaseId: 'l',
    });
    assert.equal(await src.has('index.json'), true);
    assert.equal(await src.has('../layout/index.json'), false);
    await assert.rejects(src.readSmall('../../etc/passwd', 'x'), refused(/inside the archive/));
  });
});
