import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanPath, DockerIgnore, globMatch } from './dockerignore.ts';

describe('.dockerignore', () => {
  const cases: [string, string, boolean][] = [
    ['*.log', 'a.log', true],
    ['*.log', 'dir/a.log', false],
    ['*/*.log', 'dir/a.log', true],
    ['**/*.log', 'a/b/c.log', true],
    ['**/*.log', 'c.log', true],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**', 'a/x/y', true],
    ['node_modules', 'node_modules/x/y.js', true],
    ['/build', 'build/out', true],
    ['./build', 'build', true],
    ['build/', 'build/x', true],
    ['b?ild', 'build', true],
    ['b?ild', 'bild', false],
    ['[a-c].txt', 'b.txt', true],
    ['[!a-c].txt', 'b.txt', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['# comment', '# comment', false],
    ['x/../y', 'y', true],
    ['.git', '.git/HEAD', true],
  ];
  for (const [pattern, path, want] of cases)
    it(`${pattern} ${want ? 'ignores' : 'keeps'} ${path}`, () =>
      assert.equal(DockerIgnore.parse(pattern).isIgnored(path), want));

  it('exceptions, and the last matching line decides', () => {
    const ig = DockerIgnore.parse('*.md\n!README.md\n# again\nREADME*.md\n!README-keep.md\n');
    assert.equal(ig.isIgnored('a.md'), true);
    assert.equal(ig.isIgnored('README.md'), true);
    assert.equal(ig.isIgnored('README-keep.md'), false);
    assert.equal(ig.isIgnored('x.txt'), false);
    assert.equal(ig.hasExceptions, true);
    const dir = DockerIgnore.parse('docs\n!docs/keep.txt');
    assert.equal(dir.isIgnored('docs/other.txt'), true);
    assert.equal(dir.isIgnored('docs/keep.txt'), false);
  });

  it('blank lines, surrounding blanks and CRLF', () => {
    const ig = DockerIgnore.parse('  secret.txt  \r\n\r\n ! secret.txt.keep\r\n');
    assert.equal(ig.isIgnored('secret.txt'), true);
    assert.equal(ig.isIgnored('secret.txt.keep'), false);
    assert.equal(DockerIgnore.parse('\n#x\n').empty, true);
  });

  it('cleanPath is Go path.Clean', () => {
    assert.equal(cleanPath('./a//b/'), 'a/b');
    assert.equal(cleanPath('/../a'), '/a');
    assert.equal(cleanPath('../a'), '../a');
    assert.equal(cleanPath(''), '.');
  });

  it('COPY globs never cross /', () => {
    assert.equal(globMatch('*.txt', 'a.txt'), true);
    assert.equal(globMatch('*.txt', 'd/a.txt'), false);
    assert.equal(globMatch('d/*', 'd/a.txt'), true);
  });
});
