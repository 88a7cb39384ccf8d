import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DockerIgnore } from './dockerignore.ts';
import { DigestMemo, SourceTree } from './source-tree.ts';

describe('SourceTree', () => {
  it('resolves symlinks inside the root: absolute targets and .. never leave it', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tree-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'etc/passwd'), 'inside');
    symlinkSync('/etc/passwd', join(dir, 'abs'));
    symlinkSync('../../../../etc', join(dir, 'up'));
    symlinkSync('loop', join(dir, 'loop'));
    const tree = new SourceTree(dir, 'test tree');
    assert.equal(await tree.resolve('abs'), 'etc/passwd', 'an absolute target is resolved from the root');
    assert.equal(await tree.resolve('up/passwd'), 'etc/passwd', '.. stops at the root');
    assert.equal(await tree.resolve('nope'), undefined);
    await assert.rejects(tree.resolve('loop'), /too many levels of symbolic links/);
    assert.deepEqual(await tree.sources('e*/p*', 'COPY'), ['etc/passwd']);
    await assert.rejects(tree.sources('*.none', 'COPY'), /matches nothing/);
  });

  it('ignored paths are not walked, and an exception below an ignored directory is', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tree-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'docs'));
    writeFileSync(join(dir, 'docs/a.md'), 'a');
    writeFileSync(join(dir, 'docs/keep.md'), 'k');
    writeFileSync(join(dir, 'x.txt'), 'x');
    const tree = new SourceTree(dir, 'build context', DockerIgnore.parse('docs\n!docs/keep.md\n'));
    assert.deepEqual(
      (await tree.walk('')).map((e) => e.rel),
      ['docs/keep.md', 'x.txt'],
    );
    await assert.rejects(
      tree.sources('docs/a.md', 'COPY'),
      /not found in the build context \(or excluded by \.dockerignore\)/,
    );
  });

  it('remembered digests are used only while the file is unchanged (a same-size rewrite with its mtime put back is seen)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tree-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const f = join(dir, 'f');
    writeFileSync(f, 'aaaa');
    const memo = new DigestMemo();
    const first = await new SourceTree(dir, 'ctx', undefined, memo).digest('f');
    assert.equal(await new SourceTree(dir, 'ctx', undefined, memo).digest('f'), first);
    const st = statSync(f);
    writeFileSync(f, 'bbbb');
    utimesSync(f, st.atime, st.mtime);
    const second = await new SourceTree(dir, 'ctx', undefined, memo).digest('f');
    assert.notEqual(second, first, 'the ctime changed with the write');
  });
});
