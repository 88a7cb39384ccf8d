import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CgroupFs } from './cgroup-fs.ts';
import { mkdirs } from './common.ts';

// An in-memory tree of directories; `onMkdir` may change it behind the caller's back.
function memFs(dirs: string[], onMkdir?: (path: string, tree: Set<string>) => void): CgroupFs & { tree: Set<string> } {
  const tree = new Set(dirs);
  const err = (code: string, path: string) => Object.assign(new Error(`${code}: ${path}`), { code });
  return {
    tree,
    exists: (p) => tree.has(p),
    mkdir: (p) => {
      onMkdir?.(p, tree);
      if (tree.has(p)) throw err('EEXIST', p);
      if (!tree.has(p.slice(0, p.lastIndexOf('/')))) throw err('ENOENT', p);
      tree.add(p);
    },
    rmdir: (p) => void tree.delete(p),
    read: () => '',
    write: () => {},
    subdirs: () => [],
  };
}

test('mkdirs makes the missing levels, top down, and reports each one made', () => {
  const fs = memFs(['/cg']);
  const seen: string[] = [];
  assert.deepEqual(
    mkdirs(fs, '/cg/berth/c1', (m) => seen.push(m)),
    ['/cg/berth', '/cg/berth/c1'],
  );
  assert.deepEqual(seen, ['/cg/berth', '/cg/berth/c1']);
  assert.deepEqual(mkdirs(fs, '/cg/berth/c2'), ['/cg/berth/c2'], 'an existing parent is not made again');
});

test('mkdirs makes a shared parent again when a concurrent delete removes it between its walk and its mkdir', () => {
  let removed = false;
  // The delete of another container removes the empty /cg/berth just as c1 is about to be made in it.
  const fs = memFs(['/cg', '/cg/berth'], (p, tree) => {
    if (p === '/cg/berth/c1' && !removed) {
      removed = true;
      tree.delete('/cg/berth');
    }
  });
  assert.deepEqual(mkdirs(fs, '/cg/berth/c1'), ['/cg/berth', '/cg/berth/c1']);
  assert.ok(fs.tree.has('/cg/berth/c1'));
});

test('mkdirs gives up, naming the directory, when the parent keeps vanishing', () => {
  const fs = memFs(['/cg', '/cg/berth'], (p, tree) => {
    if (p === '/cg/berth/c1') tree.delete('/cg/berth');
  });
  assert.throws(() => mkdirs(fs, '/cg/berth/c1'), /cannot create cgroup \/cg\/berth\/c1: mkdir failed with ENOENT/);
});
