// relocateImplicitDirs over plain directories standing in for overlay layers (no mounts; the
// opaque-directory case needs root for its trusted.* xattr).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { mknod, constants as sysc } from '../sys/native.ts';
import { relocateImplicitDirs } from './lower-symlinks.ts';
import { lsetxattrSync } from './xattrs.ts';

const base = fs.mkdtempSync(join(tmpdir(), 'berth-lower-symlinks-'));
after(() => fs.rmSync(base, { recursive: true, force: true }));

let n = 0;
/** Layer directories from specs: "d/" a directory, "l>target" a symlink, "w" a whiteout, else a file. */
function layers(...specs: Record<string, string>[]): string[] {
  const dirs: string[] = [];
  for (const spec of specs) {
    const dir = join(base, `l${n++}`);
    fs.mkdirSync(dir);
    for (const [rel, what] of Object.entries(spec)) {
      const abs = join(dir, rel);
      fs.mkdirSync(join(abs, '..'), { recursive: true });
      if (what === 'dir') fs.mkdirSync(abs, { recursive: true });
      else if (what.startsWith('>')) fs.symlinkSync(what.slice(1), abs);
      else if (what === 'whiteout') mknod(abs, sysc.S_IFCHR, 0, 0);
      else fs.writeFileSync(abs, what);
    }
    dirs.push(dir);
  }
  return dirs;
}

/** Every path below `dir`, never following a symlink. */
function tree(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(join(dir, rel))) {
    const p = rel === '' ? name : `${rel}/${name}`;
    out.push(p);
    if (fs.lstatSync(join(dir, p)).isDirectory()) out.push(...tree(dir, p));
  }
  return out.sort();
}

test('an implicit directory over a lower symlink moves where it resolves; ".." after a missing component is resolved for real', async () => {
  const [upper, mid, low] = layers(
    { 'lib/a': 'a', 'lib/sub/b': 'b', 'opt/x': 'x' },
    { lib: '>usr/lib', opt: '>usr/nope/../link' },
    { 'usr/lib/c': 'c', 'usr/share': 'dir', 'usr/link': '>share' },
  );
  await relocateImplicitDirs(upper!, ['lib', 'lib/sub', 'opt'], [mid!, low!], 'ctx');
  assert.deepEqual(tree(upper!), [
    'usr',
    'usr/lib',
    'usr/lib/a',
    'usr/lib/sub',
    'usr/lib/sub/b',
    'usr/share',
    'usr/share/x',
  ]);
});

test('a lower symlink hidden by a whiteout, or a directory the layer has an entry for, stays put', async () => {
  const [upper, mid, low] = layers(
    { 'lib/a': 'a', 'etc/b': 'b' },
    { lib: 'whiteout' },
    { lib: '>usr/lib', etc: '>usr/etc', 'usr/lib': 'dir', 'usr/etc': 'dir' },
  );
  // etc is not implicit: the layer had an entry for it, which replaces the symlink.
  await relocateImplicitDirs(upper!, ['lib'], [mid!, low!], 'ctx');
  assert.deepEqual(tree(upper!), ['etc', 'etc/b', 'lib', 'lib/a']);
});

test("the upper layer's own symlink is followed when resolving; existing directories merge", async () => {
  const [upper, low] = layers({ 'lib/a': 'a', usr: '>real', 'real/lib/old': 'old' }, { lib: '>usr/lib' });
  await relocateImplicitDirs(upper!, ['lib'], [low!], 'ctx');
  assert.deepEqual(tree(upper!), ['real', 'real/lib', 'real/lib/a', 'real/lib/old', 'usr']);
});

test('an implicit directory over a lower directory takes its mode', async () => {
  const [upper, low] = layers({ 'srv/a': 'a' }, { srv: 'dir' });
  fs.chmodSync(join(low!, 'srv'), 0o750);
  await relocateImplicitDirs(upper!, ['srv'], [low!], 'ctx');
  assert.equal(fs.statSync(join(upper!, 'srv')).mode & 0o7777, 0o750);
});

test('an opaque directory in a middle layer hides the lower symlink', {
  skip: process.getuid?.() === 0 ? false : 'trusted.* xattrs need root',
}, async () => {
  const [upper, mid, low] = layers({ 'd/lib/a': 'a' }, { d: 'dir' }, { 'd/lib': '>../usr/lib' });
  lsetxattrSync(join(mid!, 'd'), 'trusted.overlay.opaque', Buffer.from('y'));
  await relocateImplicitDirs(upper!, ['d', 'd/lib'], [mid!, low!], 'ctx');
  assert.deepEqual(tree(upper!), ['d', 'd/lib', 'd/lib/a']);
});
