// The Snapshotter contract: one suite, run against every implementation (snapshotters.test.ts for
// the metadata rules without root; test/integration/snapshots-overlay.test.ts mounts the results).
// `factory(root)` opens a snapshotter on a directory; opening it again on the same root must see
// the same snapshots.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import type { Snapshotter } from './snapshotter.ts';

export type SnapshotterFactory = (root: string) => Snapshotter & { cleanup(): Promise<string[]> };

const code = (c: ErrorCode) => (e: unknown) => {
  assert.ok(isBerthError(e, c), `expected ${c}, got ${String(e)}`);
  return true;
};

export function runSnapshotterContract(name: string, factory: SnapshotterFactory): void {
  describe(`Snapshotter contract: ${name}`, () => {
    let root = '';
    let sn: ReturnType<SnapshotterFactory>;
    beforeEach(async () => {
      root = await fs.mkdtemp(join(tmpdir(), 'berth-snapshots-'));
      sn = factory(root);
    });
    afterEach(async () => {
      sn.close();
      await fs.rm(root, { recursive: true, force: true });
    });

    async function layer(key: string, parent: string | undefined, files: Record<string, string>): Promise<void> {
      await sn.prepare(`tmp-${key}`, parent);
      const dir = await sn.upperDir(`tmp-${key}`);
      for (const [p, c] of Object.entries(files)) {
        await fs.mkdir(join(dir, p, '..'), { recursive: true });
        await fs.writeFile(join(dir, p), c);
      }
      await sn.commit(key, `tmp-${key}`);
    }

    test('applyFormat is overlay or plain', () => {
      assert.ok(sn.applyFormat === 'overlay' || sn.applyFormat === 'plain');
    });

    test('prepare, write, commit: the committed snapshot is listed and stat-able', async () => {
      const mounts = await sn.prepare('k1', undefined, { labels: { a: '1' } });
      assert.ok(mounts.length >= 1);
      for (const m of mounts) assert.ok(m.type.length > 0 && m.options.every((o) => typeof o === 'string'));
      assert.deepEqual(await sn.mounts('k1'), mounts);
      const active = await sn.stat('k1');
      assert.equal(active.kind, 'active');
      assert.deepEqual(active.labels, { a: '1' });
      assert.equal(active.parent, undefined);
      assert.ok(!Number.isNaN(Date.parse(active.created)));
      await fs.writeFile(join(await sn.upperDir('k1'), 'hello'), 'world');
      await sn.commit('layer1', 'k1', { labels: { b: '2' } });
      await assert.rejects(sn.stat('k1'), code(ErrorCode.NotFound));
      const c = await sn.stat('layer1');
      assert.equal(c.kind, 'committed');
      assert.deepEqual(c.labels, { b: '2' });
      assert.deepEqual(
        (await sn.list()).map((i) => i.name),
        ['layer1'],
      );
      await assert.rejects(sn.mounts('layer1'), code(ErrorCode.FailedPrecondition));
      await assert.rejects(sn.upperDir('layer1'), code(ErrorCode.FailedPrecondition));
    });

    test('parent chains: stat names the parent, list holds every snapshot', async () => {
      await layer('l1', undefined, { a: 'a' });
      await layer('l2', 'l1', { b: 'b' });
      await layer('l3', 'l2', { c: 'c' });
      await sn.prepare('work', 'l3');
      await sn.view('look', 'l2');
      assert.equal((await sn.stat('l2')).parent, 'l1');
      assert.equal((await sn.stat('l3')).parent, 'l2');
      assert.equal((await sn.stat('work')).parent, 'l3');
      assert.equal((await sn.stat('look')).kind, 'view');
      assert.deepEqual((await sn.list()).map((i) => i.name).sort(), ['l1', 'l2', 'l3', 'look', 'work']);
      assert.notEqual(await sn.upperDir('work'), join(root, 'l3'));
    });

    test('errors: duplicate key, missing or uncommitted parent, bad commit, remove with children', async () => {
      await sn.prepare('a');
      await assert.rejects(sn.prepare('a'), code(ErrorCode.AlreadyExists));
      await assert.rejects(sn.view('a'), code(ErrorCode.AlreadyExists));
      await assert.rejects(sn.prepare('b', 'nope'), code(ErrorCode.NotFound));
      await assert.rejects(sn.prepare('b', 'a'), code(ErrorCode.FailedPrecondition));
      await assert.rejects(sn.commit('x', 'nope'), code(ErrorCode.NotFound));
      await assert.rejects(sn.prepare(''), code(ErrorCode.InvalidArgument));
      await sn.commit('base', 'a');
      await sn.prepare('a2', 'base');
      await assert.rejects(sn.commit('base', 'a2'), code(ErrorCode.AlreadyExists));
      await sn.view('v', 'base');
      await assert.rejects(sn.commit('v2', 'v'), code(ErrorCode.FailedPrecondition));
      await assert.rejects(sn.upperDir('v'), code(ErrorCode.FailedPrecondition));
      await assert.rejects(sn.remove('base'), code(ErrorCode.FailedPrecondition));
      await assert.rejects(sn.remove('nope'), code(ErrorCode.NotFound));
      await sn.remove('a2');
      await sn.remove('v');
      await sn.remove('base');
      assert.deepEqual(await sn.list(), []);
      // Only what the snapshotter made remains: no snapshot directories.
      const left = await fs.readdir(join(root, 'snapshots'));
      assert.deepEqual(left, []);
      // A removed name can be used again.
      await sn.prepare('base');
    });

    test('commit onto a parent given at commit time: overlay chains it, plain refuses', async () => {
      await layer('p1', undefined, { a: 'a' });
      await sn.prepare('loose', undefined, { labels: { l: '1' } });
      await fs.writeFile(join(await sn.upperDir('loose'), 'b'), 'b');
      await sn.prepare('child-of-p1', 'p1');
      await assert.rejects(sn.commit('p2', 'loose', { parent: 'nope' }), code(ErrorCode.NotFound));
      await assert.rejects(sn.commit('p2', 'loose', { parent: 'child-of-p1' }), code(ErrorCode.FailedPrecondition));
      // A snapshot prepared with a parent keeps it.
      await assert.rejects(sn.commit('p2', 'child-of-p1', { parent: 'p1' }), code(ErrorCode.FailedPrecondition));
      if (sn.applyFormat !== 'overlay') {
        await assert.rejects(sn.commit('p2', 'loose', { parent: 'p1' }), code(ErrorCode.FailedPrecondition));
        assert.equal((await sn.stat('loose')).kind, 'active', 'a refused commit changes nothing');
        return;
      }
      await sn.commit('p2', 'loose', { parent: 'p1' });
      const p2 = await sn.stat('p2');
      assert.equal(p2.kind, 'committed');
      assert.equal(p2.parent, 'p1');
      assert.deepEqual(p2.labels, { l: '1' });
      // The chain is real: a snapshot on p2 mounts p2 then p1 below it, and p1 cannot go first.
      const [m] = await sn.prepare('top', 'p2');
      const lower = m!.options
        .find((o) => o.startsWith('lowerdir='))!
        .slice('lowerdir='.length)
        .split(':');
      assert.equal(lower.length, 2);
      assert.equal(await fs.readFile(join(lower[0]!, 'b'), 'utf8'), 'b');
      assert.equal(await fs.readFile(join(lower[1]!, 'a'), 'utf8'), 'a');
      await assert.rejects(sn.remove('p1'), code(ErrorCode.FailedPrecondition));
    });

    test('usage counts blocks and inodes, hardlinks once', async () => {
      await sn.prepare('u');
      const dir = await sn.upperDir('u');
      const empty = await sn.usage('u');
      await fs.writeFile(join(dir, 'data'), Buffer.alloc(100_000, 1));
      const one = await sn.usage('u');
      assert.ok(one.size - empty.size >= 100_000, `size grew by ${one.size - empty.size}`);
      assert.equal(one.inodes, empty.inodes + 1);
      await fs.link(join(dir, 'data'), join(dir, 'again'));
      assert.deepEqual(await sn.usage('u'), one);
      await fs.symlink('data', join(dir, 'sym'));
      assert.equal((await sn.usage('u')).inodes, one.inodes + 1);
    });

    test('metadata survives reopening the root', async () => {
      await layer('base', undefined, { f: 'x' });
      await sn.prepare('act', 'base', { labels: { keep: 'me' } });
      const before = await sn.list();
      const mounts = await sn.mounts('act');
      sn.close();
      sn = factory(root);
      assert.deepEqual(await sn.list(), before);
      assert.deepEqual(await sn.mounts('act'), mounts);
    });

    test('concurrent prepares of one key: exactly one wins', async () => {
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => sn.prepare('race')));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') code(ErrorCode.AlreadyExists)(r.reason);
      assert.equal((await fs.readdir(join(root, 'snapshots'))).length, 1);
    });

    test('cleanup removes directories no snapshot owns (crash leftovers), and nothing else', async () => {
      await layer('keep', undefined, { f: 'x' });
      await fs.mkdir(join(root, 'snapshots', '9999', 'fs'), { recursive: true });
      await fs.mkdir(join(root, 'snapshots', 'new-deadbeef'));
      assert.deepEqual((await sn.cleanup()).sort(), ['9999', 'new-deadbeef']);
      assert.equal((await sn.list()).length, 1);
      await sn.prepare('child', 'keep');
    });
  });
}
