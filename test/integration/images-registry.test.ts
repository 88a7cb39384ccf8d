// berth's distribution stack against Debian's docker-registry on 127.0.0.1: push and pull of a
// locally built busybox image, chunked upload and cross-repository mount, a multi-arch index,
// htpasswd basic auth, token auth, TLS with a test CA, a mirror, transient 5xx, a blob download
// cut mid-way (Range resume), and a pull killed with SIGKILL then completed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyLayer } from '../../src/archive/apply-layer.ts';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { dockerConfigCredentials, getCredentials, login } from '../../src/distribution/auth-config.ts';
import { parseReference } from '../../src/distribution/reference.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ErrorCode, isBerthError } from '../../src/errors/errors.ts';
import { gcImages } from '../../src/images/image-gc.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { pull } from '../../src/images/pull.ts';
import { type PushEvent, push } from '../../src/images/push.ts';
import { writeBlob } from '../../src/content/write-blob.ts';
import { type Descriptor, MediaType } from '../../src/oci/image-spec.ts';
import { parsePlatform } from '../../src/oci/image-validate.ts';
import { chainIds } from '../../src/snapshots/chain-id.ts';
import { NativeSnapshotter } from '../../src/snapshots/native-snapshotter.ts';
import { startFaultProxy, startRegistry, startTokenServer, type TestRegistry } from '../lib/registry.ts';
import { busyboxImage, multiArchImage, randomImage } from '../lib/test-images.ts';

type Env = { root: string; content: LocalContentStore; images: ImageStore };
const temps: string[] = [];
async function env(): Promise<Env> {
  const root = await mkdtemp(join(tmpdir(), 'berth-images-'));
  temps.push(root);
  return { root, content: new LocalContentStore(join(root, 'content')), images: new ImageStore(root) };
}
after(async () => {
  for (const t of temps) await rm(t, { recursive: true, force: true });
});

/** Every committed blob hashes to its name, and nothing but blobs is under blobs/. */
async function assertBlobsSound(content: LocalContentStore): Promise<number> {
  let n = 0;
  for (const algo of await readdir(join(content.root, 'blobs')).catch(() => [] as string[])) {
    for (const hex of await readdir(join(content.root, 'blobs', algo))) {
      const data = await readFile(join(content.root, 'blobs', algo, hex));
      assert.equal(createHash(algo).update(data).digest('hex'), hex, `blob ${algo}:${hex} is corrupt or partial`);
      n++;
    }
  }
  return n;
}

const errCode = (code: string, re?: RegExp) => (e: unknown) => {
  assert.ok(isBerthError(e), `expected a BerthError, got ${e}`);
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

describe('anonymous registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  before(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } }, retryBaseMs: 20 });
  });
  after(async () => {
    await client?.close();
    await reg?.stop();
  });

  it('pushes a locally built busybox image and pulls it back into empty stores', async () => {
    const src = await env();
    const name = `${reg.host}/berth/busybox:1`;
    const built = await busyboxImage(src.content, src.images, name);
    const events: PushEvent[] = [];
    const pushed = await push(name, { ...src, client, progress: (e) => events.push(e) });
    assert.equal(pushed.digest, built.manifest.digest);
    assert.ok(events.some((e) => e.kind === 'blob' && e.state === 'uploaded' && e.digest === built.layers[0]!.digest));
    // A second push finds every blob already there.
    const again: PushEvent[] = [];
    await push(name, { ...src, client, progress: (e) => again.push(e) });
    assert.ok(
      again
        .filter((e) => e.kind === 'blob' && e.state !== 'pushing')
        .every((e) => e.kind === 'blob' && e.state === 'exists'),
    );

    const dst = await env();
    const r = await pull(name, { ...dst, client });
    assert.equal(r.target.digest, built.manifest.digest);
    assert.deepEqual(r.config.rootfs.diff_ids, built.diffIds);
    assert.equal((await dst.images.get(name)).target.digest, built.manifest.digest);
    for (const d of [built.manifest, built.config, ...built.layers])
      assert.deepEqual(await dst.content.readAll(d.digest), await src.content.readAll(d.digest));
    assert.equal(await assertBlobsSound(dst.content), 3);
    assert.deepEqual(await dst.content.listLeases(), [], 'the pull lease is released');

    // By digest, too.
    const byDigest = `${reg.host}/berth/busybox@${built.manifest.digest}`;
    assert.equal((await pull(byDigest, { ...dst, client })).target.digest, built.manifest.digest);
  });

  it('reports the registry’s own error and the reference for a missing tag', async () => {
    const dst = await env();
    await assert.rejects(
      pull(`${reg.host}/berth/nothing:here`, { ...dst, client }),
      errCode(ErrorCode.NotFound, /127\.0\.0\.1:\d+\/berth\/nothing:here.*(manifest unknown|name unknown)/i),
    );
  });

  it('uploads in chunks and mounts blobs across repositories', async () => {
    const src = await env();
    const a = `${reg.host}/berth/chunked:1`;
    const built = await randomImage(src.content, src.images, a, 300_000);
    const events: PushEvent[] = [];
    await push(a, { ...src, client, chunkSize: 64 * 1024, progress: (e) => events.push(e) });
    assert.ok(events.some((e) => e.kind === 'blob' && e.state === 'uploaded' && e.digest === built.layers[0]!.digest));
    const b = `${reg.host}/berth/mounted:1`;
    const mounted: PushEvent[] = [];
    await push(b, { ...src, client, source: a, mountFrom: 'berth/chunked', progress: (e) => mounted.push(e) });
    assert.ok(
      mounted.some((e) => e.kind === 'blob' && e.state === 'mounted' && e.digest === built.layers[0]!.digest),
      JSON.stringify(mounted),
    );
    const dst = await env();
    await pull(b, { ...dst, client });
    assert.deepEqual(
      await dst.content.readAll(built.layers[0]!.digest),
      await src.content.readAll(built.layers[0]!.digest),
    );
  });

  it('pushes a multi-arch index and pulls the requested platform', async () => {
    const src = await env();
    const name = `${reg.host}/berth/multi:1`;
    const platforms = [parsePlatform('linux/amd64'), parsePlatform('linux/arm64'), parsePlatform('linux/arm/v7')];
    const { index, images } = await multiArchImage(src.content, src.images, name, platforms);
    await push(name, { ...src, client });
    const resolved = await client.resolve(parseReference(name));
    assert.equal(resolved.digest, index.digest);
    assert.equal(resolved.mediaType, MediaType.ImageIndex);
    for (const [i, want] of ['linux/amd64', 'linux/aarch64', 'linux/arm/v7'].entries()) {
      const dst = await env();
      const r = await pull(name, { ...dst, client, platform: parsePlatform(want) });
      assert.equal(r.target.digest, index.digest);
      assert.equal(r.manifest.digest, images[i]!.manifest.digest, want);
      assert.equal(r.config.architecture, platforms[i]!.architecture);
      // The other platforms' manifests were not fetched.
      assert.equal(await dst.content.exists(images[(i + 1) % 3]!.manifest.digest), false);
    }
    await assert.rejects(
      pull(name, { ...(await env()), client, platform: parsePlatform('linux/s390x') }),
      errCode(
        ErrorCode.NotFound,
        /no image manifest for platform linux\/s390x in index sha256:[0-9a-f]{64} \(it has: linux\/amd64, linux\/arm64, linux\/arm\/v7\)$/,
      ),
    );
  });

  it('follows a nested index one level deep, says so when a platform is missing, and refuses deeper nesting', async () => {
    const src = await env();
    const platforms = [parsePlatform('linux/amd64'), parsePlatform('linux/arm64'), parsePlatform('linux/arm/v7')];
    // inner: amd64 and arm64; outer: the inner index (declared linux/amd64, as tools that nest write it) and arm/v7.
    const { index: inner, images } = await multiArchImage(
      src.content,
      src.images,
      `${reg.host}/berth/inner:1`,
      platforms.slice(0, 2),
    );
    const v7 = (await multiArchImage(src.content, src.images, `${reg.host}/berth/v7:1`, [platforms[2]!])).images[0]!;
    const indexOf = async (name: string, manifests: Descriptor[]) => {
      const d = {
        mediaType: MediaType.ImageIndex,
        ...(await writeBlob(
          src.content,
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests }),
        )),
      };
      await src.images.put(name, d);
      await push(name, { ...src, client });
      return d;
    };
    const name = `${reg.host}/berth/nested:1`;
    const outer = await indexOf(name, [
      { ...inner, platform: platforms[0]! },
      { ...v7.manifest, platform: platforms[2]! },
    ]);
    for (const [i, want, manifest] of [
      [0, 'linux/amd64', images[0]!.manifest],
      [2, 'linux/arm/v7', v7.manifest],
    ] as const) {
      const r = await pull(name, { ...(await env()), client, platform: parsePlatform(want) });
      assert.equal(r.target.digest, outer.digest);
      assert.equal(r.manifest.digest, manifest.digest, want);
      assert.equal(r.config.architecture, platforms[i]!.architecture);
    }
    // arm64 is in the inner index, but the outer one says that index is for linux/amd64: not followed.
    await assert.rejects(
      pull(name, { ...(await env()), client, platform: parsePlatform('linux/s390x') }),
      errCode(
        ErrorCode.NotFound,
        /no image manifest for platform linux\/s390x in index sha256:[0-9a-f]{64} \(it has: linux\/amd64 \(a nested index\), linux\/arm\/v7\)$/,
      ),
    );
    // A nested index without a platform may hold any: followed, and what it has is listed.
    const open = `${reg.host}/berth/nested-open:1`;
    await indexOf(open, [inner]);
    assert.equal(
      (await pull(open, { ...(await env()), client, platform: parsePlatform('linux/arm64') })).manifest.digest,
      images[1]!.manifest.digest,
    );
    await assert.rejects(
      pull(open, { ...(await env()), client, platform: parsePlatform('linux/s390x') }),
      errCode(ErrorCode.NotFound, /\(it has: no platform \(a nested index with: linux\/amd64, linux\/arm64\)\)$/),
    );
    // Two levels of nesting: refused, naming the index that nests too deep.
    const deep = `${reg.host}/berth/nested-deep:1`;
    await indexOf(deep, [outer]);
    await assert.rejects(
      pull(deep, { ...(await env()), client, platform: parsePlatform('linux/amd64') }),
      errCode(
        ErrorCode.InvalidArgument,
        new RegExp(
          `index ${outer.digest} lists the nested index ${inner.digest} for linux/amd64, which is itself nested; berth follows nested indexes 1 level deep`,
        ),
      ),
    );
  });

  it('retries transient 5xx answers and resumes a blob cut mid-download with Range', async () => {
    const src = await env();
    const name = `${reg.host}/berth/resume:1`;
    const built = await randomImage(src.content, src.images, name, 2_000_000);
    await push(name, { ...src, client });
    const layer = built.layers[0]!.digest;
    let cut = false;
    let failedOnce = false;
    const proxy = await startFaultProxy(reg.url, (req) => {
      if (req.url?.includes('/manifests/') && !failedOnce) {
        failedOnce = true;
        return { kind: 'status', status: 503 };
      }
      if (req.url?.endsWith(`/blobs/${layer}`) && !cut) {
        cut = true;
        return { kind: 'cut', afterBytes: 700_000 };
      }
      return { kind: 'pass' };
    });
    const viaProxy = new RegistryClient({ hosts: { [proxy.host]: { insecure: true } }, retryBaseMs: 20 });
    try {
      const dst = await env();
      await pull(`${proxy.host}/berth/resume:1`, { ...dst, client: viaProxy });
      assert.ok(failedOnce && cut);
      const blobGets = proxy.seen.filter((s) => s.method === 'GET' && s.path.endsWith(`/blobs/${layer}`));
      assert.equal(blobGets.length, 2, JSON.stringify(proxy.seen));
      const m = /^bytes=(\d+)-$/.exec(blobGets[1]!.range ?? '');
      assert.ok(m && Number(m[1]) > 0, `the second request resumes with Range, got ${blobGets[1]!.range}`);
      assert.deepEqual(await dst.content.readAll(layer), await src.content.readAll(layer));
      await assertBlobsSound(dst.content);
    } finally {
      await viaProxy.close();
      await proxy.stop();
    }
  });

  it('pulls through a mirror before the (unreachable) upstream', async () => {
    const src = await env();
    const name = `${reg.host}/berth/mirrored:1`;
    const built = await busyboxImage(src.content, src.images, name);
    await push(name, { ...src, client });
    const mirrored = new RegistryClient({
      hosts: { 'registry.invalid:5000': { mirrors: [`http://${reg.host}`] } },
      retries: 0,
    });
    try {
      const dst = await env();
      const r = await pull('registry.invalid:5000/berth/mirrored:1', { ...dst, client: mirrored });
      assert.equal(r.target.digest, built.manifest.digest);
    } finally {
      await mirrored.close();
    }
  });

  it('completes a pull killed with SIGKILL mid-blob; no partial blob is ever visible', async () => {
    const src = await env();
    const name = `${reg.host}/berth/killed:1`;
    const built = await randomImage(src.content, src.images, name, 8_000_000);
    await push(name, { ...src, client });
    const layer = built.layers[0]!;
    const proxy = await startFaultProxy(reg.url, () => ({ kind: 'throttle', bytesPerSecond: 4_000_000 }));
    const dst = await env();
    try {
      const ref = `${proxy.host}/berth/killed:1`;
      const script = `
        import { LocalContentStore } from ${JSON.stringify(new URL('../../src/content/local-content-store.ts', import.meta.url).href)};
        import { ImageStore } from ${JSON.stringify(new URL('../../src/images/image-store.ts', import.meta.url).href)};
        import { RegistryClient } from ${JSON.stringify(new URL('../../src/distribution/registry-client.ts', import.meta.url).href)};
        import { pull } from ${JSON.stringify(new URL('../../src/images/pull.ts', import.meta.url).href)};
        const client = new RegistryClient({ hosts: { ${JSON.stringify(proxy.host)}: { insecure: true } } });
        await pull(${JSON.stringify(ref)}, { content: new LocalContentStore(${JSON.stringify(dst.content.root)}), images: new ImageStore(${JSON.stringify(dst.root)}), client });
        console.log('finished');`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (out += c));
      const exited = new Promise((r) => child.once('exit', r));
      const data = join(dst.content.root, 'ingest', `fetch-${layer.digest.replace(':', '-')}`, 'data');
      const deadline = Date.now() + 20_000;
      while (((await stat(data).catch(() => undefined))?.size ?? 0) < 1_000_000) {
        assert.ok(Date.now() < deadline, `the child never got 1 MB into the layer: ${out}`);
        assert.equal(child.exitCode, null, `the child exited early: ${out}`);
        await sleep(20);
      }
      process.kill(child.pid!, 'SIGKILL');
      await exited;
      assert.ok(!out.includes('finished'));
      assert.equal(await dst.content.exists(layer.digest), false, 'the partial layer is not a blob');
      await assertBlobsSound(dst.content);
      await assert.rejects(dst.images.get(name.replace(reg.host, proxy.host)), errCode(ErrorCode.NotFound));

      const before = proxy.seen.length;
      const viaProxy = new RegistryClient({ hosts: { [proxy.host]: { insecure: true } } });
      try {
        await pull(ref, { ...dst, client: viaProxy });
      } finally {
        await viaProxy.close();
      }
      const resumed = proxy.seen.slice(before).find((s) => s.path.endsWith(`/blobs/${layer.digest}`));
      assert.match(resumed?.range ?? '', /^bytes=[1-9]\d*-$/, 'the second pull resumes the killed ingest');
      assert.equal(await assertBlobsSound(dst.content), 3);
      assert.deepEqual(await dst.content.readAll(layer.digest), await src.content.readAll(layer.digest));
      assert.deepEqual(await dst.content.ingests(), []);
    } finally {
      await proxy.stop();
    }
  });
});

describe('htpasswd basic auth', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ htpasswd: { alice: 's3cret' } });
  });
  after(async () => reg?.stop());

  it('refuses anonymous access, rejects a wrong password at login, then pushes and pulls with stored credentials', async () => {
    const src = await env();
    const name = `${reg.host}/private/busybox:1`;
    await busyboxImage(src.content, src.images, name);
    const configPath = join(src.root, 'docker', 'config.json');
    const client = new RegistryClient({
      hosts: { [reg.host]: { insecure: true } },
      credentials: dockerConfigCredentials(configPath),
      retryBaseMs: 20,
    });
    try {
      await assert.rejects(
        push(name, { ...src, client }),
        errCode(ErrorCode.FailedPrecondition, /127\.0\.0\.1:\d+\/private\/busybox:1.*401/),
      );
      await assert.rejects(
        login(
          reg.host,
          { username: 'alice', password: 'wrong' },
          { configPath, verify: (c) => client.ping(reg.host, c) },
        ),
        errCode(ErrorCode.FailedPrecondition, /401/),
      );
      assert.equal(await getCredentials(reg.host, configPath), undefined, 'a rejected login stores nothing');
      await login(
        reg.host,
        { username: 'alice', password: 's3cret' },
        { configPath, verify: (c) => client.ping(reg.host, c) },
      );
      assert.equal((await stat(configPath)).mode & 0o777, 0o600);
      await push(name, { ...src, client });
      const dst = await env();
      await pull(name, { ...dst, client });
      await assertBlobsSound(dst.content);
    } finally {
      await client.close();
    }
  });
});

describe('token auth', () => {
  let reg: TestRegistry;
  let tokens: Awaited<ReturnType<typeof startTokenServer>>;
  before(async () => {
    tokens = await startTokenServer({
      users: { bob: 'pa55' },
      anonymousPull: true,
      refreshTokens: { 'refresh-bob': 'bob' },
    });
    reg = await startRegistry({ token: tokens });
  });
  after(async () => {
    await reg?.stop();
    await tokens?.stop();
  });

  it('pushes with credentials (scope pull,push) and pulls anonymously (scope pull)', async () => {
    const src = await env();
    const name = `${reg.host}/team/busybox:1`;
    const built = await busyboxImage(src.content, src.images, name);
    const anonymous = new RegistryClient({ hosts: { [reg.host]: { insecure: true } }, retryBaseMs: 20 });
    const bob = new RegistryClient({
      hosts: { [reg.host]: { insecure: true } },
      credentials: async (h) => (h === reg.host ? { username: 'bob', password: 'pa55' } : undefined),
      retryBaseMs: 20,
    });
    const mallory = new RegistryClient({
      hosts: { [reg.host]: { insecure: true } },
      credentials: async () => ({ username: 'bob', password: 'nope' }),
      retryBaseMs: 20,
    });
    try {
      await assert.rejects(
        push(name, { ...src, client: anonymous }),
        errCode(ErrorCode.FailedPrecondition, /team\/busybox:1/),
      );
      await assert.rejects(
        push(name, { ...src, client: mallory }),
        errCode(ErrorCode.FailedPrecondition, /refused credentials of bob.*bad username or password/),
      );
      await push(name, { ...src, client: bob });
      assert.ok(
        tokens.requests.some((r) => r.user === 'bob' && r.scopes.includes('repository:team/busybox:pull,push')),
        JSON.stringify(tokens.requests),
      );
      const dst = await env();
      const r = await pull(name, { ...dst, client: anonymous });
      assert.equal(r.target.digest, built.manifest.digest);
      assert.ok(tokens.requests.some((q) => q.user === '' && q.scopes.includes('repository:team/busybox:pull')));
    } finally {
      await Promise.all([anonymous.close(), bob.close(), mallory.close()]);
    }
  });

  it('a cached token the registry refuses is dropped and fetched afresh, once; an identity token is exchanged for tokens', async () => {
    const src = await env();
    const name = `${reg.host}/team/cached:1`;
    await busyboxImage(src.content, src.images, name);
    const bob = new RegistryClient({
      hosts: { [reg.host]: { insecure: true } },
      credentials: async (h) => (h === reg.host ? { username: 'bob', password: 'pa55' } : undefined),
      retryBaseMs: 20,
    });
    const byToken = new RegistryClient({
      hosts: { [reg.host]: { insecure: true } },
      credentials: async (h) =>
        h === reg.host ? { username: 'bob', password: '', identityToken: 'refresh-bob' } : undefined,
      retryBaseMs: 20,
    });
    try {
      await push(name, { ...src, client: bob });
      // A token that grants nothing goes into bob's cache (the registry refuses it: 401)…
      tokens.grantNothing = true;
      await assert.rejects(bob.resolve(parseReference(name)), errCode(ErrorCode.FailedPrecondition));
      assert.equal(bob.cachedTokens, 2, 'the push token and the bad pull token');
      tokens.grantNothing = false;
      // …and the next request, refused with it, gets a fresh one instead of failing again.
      const asked = tokens.requests.length;
      assert.equal((await bob.resolve(parseReference(name))).mediaType.includes('manifest'), true);
      assert.equal(tokens.requests.length, asked + 1, 'one fresh token');
      // docker's identity token (an OAuth refresh token) pulls as its user.
      const dst = await env();
      await pull(name, { ...dst, client: byToken });
      assert.ok(tokens.requests.at(-1)?.user === 'bob', JSON.stringify(tokens.requests.at(-1)));
    } finally {
      await Promise.all([bob.close(), byToken.close()]);
    }
  });
});

describe('TLS with a test CA', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ tls: true });
  });
  after(async () => reg?.stop());

  it('trusts the registry only with its CA configured', async () => {
    const src = await env();
    const name = `${reg.host}/tls/busybox:1`;
    const built = await busyboxImage(src.content, src.images, name);
    const untrusting = new RegistryClient({ retries: 0 });
    const trusting = new RegistryClient({ hosts: { [reg.host]: { ca: reg.ca!.caPem } }, retryBaseMs: 20 });
    try {
      await assert.rejects(
        push(name, { ...src, client: untrusting }),
        errCode(ErrorCode.Unavailable, /cannot reach 127\.0\.0\.1:\d+.*(certificate|self.signed|issuer)/i),
      );
      await push(name, { ...src, client: trusting });
      const dst = await env();
      assert.equal((await pull(name, { ...dst, client: trusting })).target.digest, built.manifest.digest);
    } finally {
      await Promise.all([untrusting.close(), trusting.close()]);
    }
  });
});

describe('pull with unpack (the unpack helper’s applyLayer and NativeSnapshotter)', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  before(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } }, retryBaseMs: 20 });
  });
  after(async () => {
    await client?.close();
    await reg?.stop();
  });

  it('unpacks layers into snapshots named by chain ID, skips them on re-pull, and gc removes them after rmi, also while another gc does', async () => {
    const src = await env();
    const name = `${reg.host}/unpack/multi:1`;
    const { images: built } = await multiArchImage(src.content, src.images, name, [parsePlatform('linux/amd64')]);
    await push(name, { ...src, client });

    const dst = await env();
    const snapshotter = new NativeSnapshotter(join(dst.root, 'snapshots'));
    try {
      const r = await pull(name, {
        ...dst,
        client,
        platform: parsePlatform('linux/amd64'),
        unpack: { snapshotter, applyLayer },
      });
      const chain = chainIds(built[0]!.diffIds);
      assert.equal(r.chainId, chain.at(-1));
      for (const c of chain) assert.equal((await snapshotter.stat(c)).kind, 'committed');
      const [m] = await snapshotter.view('check', r.chainId);
      assert.equal(await readFile(join(m!.source, 'etc', 'arch'), 'utf8'), 'amd64\n');
      assert.equal(await readFile(join(m!.source, 'etc', 'os-release'), 'utf8'), 'ID=berth-test\n');
      await snapshotter.remove('check');

      const events: string[] = [];
      await pull(name, {
        ...dst,
        client,
        unpack: { snapshotter, applyLayer },
        progress: (e) => e.kind === 'unpack' && events.push(e.state),
      });
      assert.deepEqual(events, ['exists', 'exists']);

      const kept = await gcImages({ ...dst, snapshotter });
      assert.deepEqual(kept.removed, []);
      assert.deepEqual(kept.removedSnapshots, []);
      await dst.images.delete(name);
      // Another gc at the same time removes the top layer between this one's listing and removal.
      let raced = false;
      const racing = {
        list: async () => {
          const l = await snapshotter.list();
          if (!raced) {
            raced = true;
            await snapshotter.remove(chain.at(-1)!);
          }
          return l;
        },
        remove: (key: string) => snapshotter.remove(key),
      };
      const gone = await gcImages({ ...dst, snapshotter: racing });
      assert.equal(gone.removed.length, 5, 'index, manifest, config and two layers');
      assert.deepEqual(gone.removedSnapshots, chain.slice(0, -1), 'what this gc removed; the other took the top layer');
      assert.deepEqual(await snapshotter.list(), []);
      assert.deepEqual(await dst.content.list(), []);
    } finally {
      snapshotter.close();
    }
  });
});
