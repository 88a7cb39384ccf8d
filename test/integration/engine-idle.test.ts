// berthd at idle loads only what running containers needs: the registry client (undici, which
// brings node:http2 and tls), tar reading and writing and layer unpacking (zlib, a worker thread)
// are imported by the first pull, push, load, save or import (issue 12: berthd's memory); node:http
// and the API servers by the first connection, crypto by its first use. Asked of
// the built berthd (dist/bin/berthd: from source, Node's own ESM namespace of node:http loads its
// bundled undici, http2 and tls, which the bundle avoids) through a module it preloads, which
// writes Node's list of loaded modules on SIGUSR2. Then the first pull (from Debian's
// docker-registry on loopback) loads them and works in the bundle too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

test('an idle berthd has not loaded the registry client, tar or layer unpacking, nor its API servers before a client connects; its first pull loads them', async () => {
  const berthd = join(REPO, 'dist/bin/berthd');
  assert.ok(existsSync(berthd), `${berthd} does not exist: build it with scripts/build.sh`);
  const { root, runRoot } = tempRoots();
  const report = join(root, 'modules.json');
  const preload = join(root, 'report-modules.mjs');
  writeFileSync(
    preload,
    // Written aside and renamed: the test never reads half a list.
    `const fs = process.getBuiltinModule('node:fs'); process.on('SIGUSR2', () => { fs.writeFileSync(${JSON.stringify(`${report}.tmp`)}, JSON.stringify(process.moduleLoadList)); fs.renameSync(${JSON.stringify(`${report}.tmp`)}, ${JSON.stringify(report)}); });\n`,
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
    const modules = async () => {
      rmSync(report, { force: true });
      proc.kill('SIGUSR2');
      await until('the module list', () => existsSync(report));
      return new Set(JSON.parse(readFileSync(report, 'utf8')) as string[]);
    };
    // The native API's socket is the last berthd binds. Until a client connects, no API server is
    // loaded: the sockets are bare listeners that load node:http and the routers at their first
    // connection (src/engine/api-socket.ts, serveLazily); crypto, child_process's callers and
    // zlib wait for their first call (scripts/bundle.ts, LAZY_BUILTINS).
    await until(`berthd's API socket (stderr: ${stderr})`, () => existsSync(join(runRoot, 'berthd.sock')), 90_000);
    const fresh = await modules();
    for (const m of ['http', 'crypto', 'zlib', 'http2', 'tls'])
      assert.ok(!fresh.has(`NativeModule ${m}`), `berthd loaded node:${m} before any API connection`);
    // The first connection loads the API server: seconds on a loaded machine.
    await until(`berthd serving (stderr: ${stderr})`, () => client.ping(), 90_000);
    // A request of the kind an idle daemon answers (containers, images): still nothing of the transfer code.
    await client.list({ all: true });
    await client.images();
    const loaded = await modules();
    for (const m of ['http2', 'tls', 'zlib', 'worker_threads'])
      assert.ok(!loaded.has(`NativeModule ${m}`), `berthd loaded node:${m} at idle`);
    assert.ok(![...loaded].some((m) => m.includes('undici')), 'berthd loaded undici at idle');
    assert.ok(loaded.has('NativeModule http'), "the list is the daemon's (it serves HTTP once asked)");

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
