// berthd's garbage collection against its users, as root: a container (even a stopped one) keeps
// its image's content and layers; rmi of such an image is refused unless forced, and forced only
// the name goes; after the container is removed, system prune collects everything and system df
// says so; a prune while a pull is under way leaves the pull's blobs and layers alone.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { push } from '../../src/images/push.ts';
import { startFaultProxy, startRegistry } from '../lib/registry.ts';
import { buildImage, busyboxTar, tarOf } from '../lib/test-images.ts';
import { busyboxRootfsTar, type Daemon, finish, NODE, REPO, startBerthd, tempRoots, until } from './engine-harness.ts';

const RUNTIME = process.env.BERTH_TEST_RUNTIME ?? 'berth-runtime';
const { root, runRoot } = tempRoots();
let d: Daemon;

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('engine integration tests need root');
  d = await startBerthd(root, runRoot, ['--no-network'], { defaultRuntime: RUNTIME });
});

after(() => finish(d, root, runRoot));

const ls = (p: string) => (existsSync(p) ? readdirSync(p) : []);
const blobs = () => ['sha256', 'sha512'].flatMap((a) => ls(join(root, 'content', 'blobs', a)).map((h) => `${a}:${h}`));

function berth(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(NODE, [join(REPO, 'src/cli/berth/main.ts'), '--host', d.socket, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

async function runToExit(id: string): Promise<number> {
  // next-exit: a stopped container's plain wait answers at once with its previous exit.
  const w = d.client.wait(id, 'next-exit');
  await d.client.start(id);
  return (await w).exitCode;
}

test('a stopped container holds its image: rmi refused, rmi -f takes only the name; after rm, system prune collects it all and system df shows it', async () => {
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'gcimg:1');
  const { id } = await d.client.create({ image: 'gcimg:1', cmd: ['true'] });
  try {
    await holdsItsImage(id);
  } finally {
    await d.client.remove(id, { force: true }).catch(() => {});
  }
});

async function holdsItsImage(id: string): Promise<void> {
  assert.equal(await runToExit(id), 0);

  await assert.rejects(
    d.client.rmi(['gcimg:1']),
    new RegExp(`image is being used by stopped container ${id.slice(0, 12)}`),
  );
  const cli = berth('rmi', 'gcimg:1');
  assert.equal(cli.code, 1);
  assert.match(
    cli.err,
    /conflict: unable to remove image docker\.io\/library\/gcimg:1 \(must be forced\) - image is being used by stopped container/,
  );
  assert.ok(
    (await d.client.images()).some((i) => i.name.endsWith('gcimg:1')),
    'the refused rmi kept the name',
  );

  const held = blobs();
  assert.ok(held.length >= 3, `manifest, config and layer stored: ${held}`);
  const forced = await d.client.rmi(['gcimg:1'], true);
  assert.deepEqual(forced.untagged, ['docker.io/library/gcimg:1']);
  assert.deepEqual(forced.gc.removed, [], 'rmi -f collected nothing the container holds');
  assert.deepEqual(blobs().sort(), held.sort());
  // Prunes while the container exists keep its image too, and it runs again from it.
  const p = await d.client.imagePrune({ all: true });
  assert.deepEqual([p.removed, p.removedSnapshots], [[], []]);
  assert.deepEqual(blobs().sort(), held.sort());
  assert.equal(await runToExit(id), 0);
}

test('the image of a removed container is collected by the next prune, content and snapshots, and df shows zero', async () => {
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'gcimg:2');
  const { id } = await d.client.create({ image: 'gcimg:2', cmd: ['true'] });
  assert.equal(await runToExit(id), 0);
  await d.client.rmi(['gcimg:2'], true);
  assert.ok(blobs().length >= 3);
  // The container still runs from an image that has no name any more.
  assert.equal(await runToExit(id), 0);
  let df = await d.client.systemDf();
  assert.equal(df.containers.total, 1);
  assert.equal(df.images.total, 0, 'no image name is left');
  assert.ok(
    df.images.size > 0 && df.images.reclaimable === 0,
    `the container's image is in use: ${JSON.stringify(df.images)}`,
  );
  assert.ok(df.snapshots.committed >= 1 && df.snapshots.active === 1, JSON.stringify(df.snapshots));

  await d.client.remove(id);
  const r = berth('system', 'prune', '-a', '-f');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Deleted Images:\ndeleted: sha256:[0-9a-f]{64}/);
  assert.match(r.out, /Total reclaimed space: [1-9][0-9.]*[kM]B\n$/);
  assert.deepEqual(blobs(), [], 'every blob was collected');
  df = await d.client.systemDf();
  assert.deepEqual(
    { images: df.images, containers: df.containers, content: df.content, snapshots: df.snapshots },
    {
      images: { total: 0, active: 0, size: 0, reclaimable: 0 },
      containers: { total: 0, active: 0, size: 0, reclaimable: 0 },
      content: { blobs: 0, bytes: 0 },
      snapshots: { committed: 0, active: 0 },
    },
  );
  const text = berth('system', 'df');
  assert.equal(text.code, 0, text.err);
  assert.match(
    text.out,
    /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+0\s+0\s+0B\s+0B \(0%\)\nContainers\s+0\s+0\s+0B\s+0B \(0%\)\nLocal Volumes\s+0\s+0\s+0B\s+0B \(0%\)\n$/,
  );
  assert.deepEqual(ls(join(root, 'containers')), []);
});

test('prunes while a pull is under way remove none of its blobs or layers; the pull completes and the image runs', async () => {
  const reg = await startRegistry();
  const src = join(root, 'push-src');
  const content = new LocalContentStore(join(src, 'content'));
  const images = new ImageStore(src);
  const { randomBytes } = await import('node:crypto');
  const big = await tarOf([{ name: 'random.bin', data: randomBytes(4_000_000) }]);
  const built = await buildImage(content, [await busyboxTar(), big], { cmd: ['/bin/sh', '-c', 'echo pulled'] });
  const name = `${reg.host}/berth/gc:1`;
  await images.put(name, built.manifest);
  const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } } });
  await push(name, { content, images, client });
  await client.close();
  const bigLayer = built.layers[1]!.digest;
  // The big layer crawls (4 MB at 1 MB/s): the pull is mid-way for seconds, its other blobs committed and unpacked.
  const proxy = await startFaultProxy(`http://${reg.host}`, (req) =>
    req.method === 'GET' && req.url?.includes(bigLayer.slice(7))
      ? { kind: 'throttle', bytesPerSecond: 1_000_000 }
      : { kind: 'pass' },
  );
  try {
    const ref = `${proxy.host}/berth/gc:1`;
    let done = false;
    const pulling = d.client.pull(ref).finally(() => {
      done = true;
    });
    const early = [built.manifest.digest, built.config.digest, built.layers[0]!.digest];
    await until(
      'the first blobs of the pull to be committed',
      () => early.every((x) => blobs().includes(x)),
      30_000,
      20,
    );
    const db = new DatabaseSync(join(root, 'berthd.db'), { readOnly: true });
    let prunes = 0;
    try {
      while (!done) {
        const leases = db.prepare("SELECT id FROM leases WHERE kind = 'pull' AND owner_pid = ?").all(d.proc.pid!);
        assert.equal(leases.length, 1, 'the pull holds a lease in berthd.db while it runs');
        // Not -a: a prune racing the pull's last step must not untag the image it has just named.
        const r = await d.client.imagePrune();
        await d.client.systemPrune();
        for (const x of early) assert.ok(!r.removed.includes(x) && blobs().includes(x), `prune ${prunes} kept ${x}`);
        prunes++;
        if (done) break;
        await new Promise((res) => setTimeout(res, 200));
      }
    } finally {
      db.close();
    }
    assert.ok(prunes >= 3, `pruned ${prunes} times while the pull ran`);
    const res = await pulling;
    assert.equal(res.digest, built.manifest.digest);
    for (const x of blobs()) {
      const [algo, hex] = x.split(':') as [string, string];
      assert.equal(
        createHash(algo)
          .update(readFileSync(join(root, 'content', 'blobs', algo, hex)))
          .digest('hex'),
        hex,
        `${x} is whole`,
      );
    }
    const { id } = await d.client.create({ image: ref });
    assert.equal(await runToExit(id), 0);
    const out: string[] = [];
    for await (const l of d.client.logs(id)) out.push(l.log);
    assert.deepEqual(out, ['pulled\n']);
    await d.client.remove(id);
    await d.client.rmi([ref]);
    const pulled = [built.manifest, built.config, ...built.layers].map((x) => x.digest);
    assert.deepEqual(
      blobs().filter((x) => pulled.includes(x)),
      [],
      'rmi of the last name collects the pulled image',
    );
    const after = new DatabaseSync(join(root, 'berthd.db'), { readOnly: true });
    try {
      assert.deepEqual(after.prepare('SELECT id FROM leases').all(), [], 'no lease is left');
    } finally {
      after.close();
    }
  } finally {
    await proxy.stop();
    await reg.stop();
  }
});

test('berth create of an image berthd lacks pulls it once and creates; a not-found about anything else is reported, not answered with a pull', async () => {
  const reg = await startRegistry();
  try {
    const src = join(root, 'auto-src');
    const content = new LocalContentStore(join(src, 'content'));
    const images = new ImageStore(src);
    const built = await buildImage(content, [await busyboxTar()], { cmd: ['/bin/sh', '-c', 'echo auto'] });
    const ref = `${reg.host}/berth/auto:1`;
    await images.put(ref, built.manifest);
    const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } } });
    await push(ref, { content, images, client });
    await client.close();

    const made = berth('create', ref);
    assert.equal(made.code, 0, made.err);
    assert.match(made.err, new RegExp(`Unable to find image '${ref}' locally; pulling`));
    const id = made.out.trim();
    assert.equal(await runToExit(id), 0);
    await d.client.remove(id);

    const other = berth('create', '--network', 'no-such-net', ref);
    assert.notEqual(other.code, 0);
    assert.doesNotMatch(other.err, /Unable to find image/, 'the image is local: the not-found is about the network');
    assert.match(other.err, /no-such-net/);
    await d.client.rmi([ref]);
  } finally {
    await reg.stop();
  }
});
