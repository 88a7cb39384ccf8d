// berthd at idle loads only what running containers needs: the registry client (undici, which
// brings node:http2 and tls), tar reading and writing and layer unpacking (zlib, a worker thread)
// are imported by the first pull, push, load, save or import (issue 12: berthd's memory). Asked of
// the built berthd (dist/bin/berthd: from source, Node's own ESM namespace of node:http loads its
// bundled undici, http2 and tls, which the bundle avoids) through a module it preloads, which
// writes Node's list of loaded modules on SIGUSR2. Then the first pull (from Debian's
// docker-registry on loopback) loads them and works in the bundle too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BerthClient } from '../../src/client/client.ts';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { push } from '../../src/images/push.ts';
import { startRegistry } from '../lib/registry.ts';
import { buildImage, busyboxTar } from '../lib/test-images.ts';
import { NODE, REPO, removeRoots, tempRoots, until } from './engine-harness.ts';

test('an idle berthd has not loaded the registry client, tar or layer unpacking; its first pull loads them', async () => {
  const berthd = join(REPO, 'dist/bin/berthd');
  assert.ok(existsSync(berthd), `${berthd} does not exist: build it with scripts/build.sh`);
  const { root, runRoot } = tempRoots();
  const report = join(root, 'modules.json');
  const preload = join(root, 'report-modules.mjs');
  writeFileSync(
    preload,
    `process.on('SIGUSR2', () => process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.moduleLoadList)));\n`,
  );
  const proc = spawn(NODE, [`--import=${preload}`, berthd, '--root', root, '--run-root', runRoot, '--no-network'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    const client = new BerthClient(join(runRoot, 'berthd.sock'));
    await until(
      `berthd serving (stderr: ${stderr})`,
      async () => existsSync(join(runRoot, 'berthd.sock')) && (await client.ping()),
    );
    // A request of the kind an idle daemon answers (containers, images): still nothing of the transfer code.
    await client.list({ all: true });
    await client.images();
    proc.kill('SIGUSR2');
    await until('the module list', () => existsSync(report));
    const loaded = new Set(JSON.parse(readFileSync(report, 'utf8')) as string[]);
    for (const m of ['http2', 'tls', 'zlib', 'worker_threads'])
      assert.ok(!loaded.has(`NativeModule ${m}`), `berthd loaded node:${m} at idle`);
    assert.ok(![...loaded].some((m) => m.includes('undici')), 'berthd loaded undici at idle');
    assert.ok(loaded.has('NativeModule http'), "the list is the daemon's (it serves HTTP)");

    // The bundle's undici chunk exports only `default`: a pull that took the named exports failed
    // with "Agent is not a constructor".
    const reg = await startRegistry();
    try {
      const content = new LocalContentStore(join(root, 'push', 'content'));
      const images = new ImageStore(join(root, 'push'));
      const built = await buildImage(content, [await busyboxTar()]);
      const ref = `${reg.host}/berth/idle:1`;
      await images.put(ref, built.manifest);
      const rc = new RegistryClient({ hosts: { [reg.host]: { insecure: true } } });
      await push(ref, { content, images, client: rc });
      await rc.close();
      assert.equal((await client.pull(ref)).digest, built.manifest.digest);
    } finally {
      await reg.stop();
    }
  } finally {
    proc.kill('SIGTERM');
    await exited;
    await removeRoots(root, runRoot);
  }
});
