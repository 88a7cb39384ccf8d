import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { MediaType } from './image-spec.ts';
import {
  digestOf,
  normalizePlatform,
  parseDigest,
  parseManifestDocument,
  parsePlatform,
  platformMatches,
  selectPlatform,
  validateDescriptor,
  validateImageConfig,
  validateIndex,
  validateManifest,
  verifyDigest,
} from './image-validate.ts';

const hex64 = 'a'.repeat(64);
const d = (over: Record<string, unknown> = {}) => ({
  mediaType: MediaType.LayerGzip,
  digest: `sha256:${hex64}`,
  size: 3,
  ...over,
});

function rejects(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isBerthError(e, ErrorCode.InvalidArgument), `expected InvalidArgument, got ${e}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

describe('digests', () => {
  it('parses sha256 and sha512', () => {
    assert.deepEqual(parseDigest(`sha256:${hex64}`), { algorithm: 'sha256', encoded: hex64 });
    assert.equal(parseDigest(`sha512:${'0'.repeat(128)}`).algorithm, 'sha512');
  });
  const bad: [string, RegExp][] = [
    ['sha256', /not a digest/],
    [`sha256:${hex64.slice(1)}`, /64 lowercase hex/],
    [`sha256:${hex64.toUpperCase()}`, /64 lowercase hex/],
    [`sha512:${hex64}`, /128 lowercase hex/],
    [`md5:${hex64}`, /not supported/],
    [`:${hex64}`, /not a digest/],
    [`SHA256:${hex64}`, /not a digest/],
  ];
  for (const [s, re] of bad) it(`rejects ${s.slice(0, 20)}`, () => rejects(() => parseDigest(s), re));
  it('verifies content', () => {
    verifyDigest('hello', digestOf('hello'));
    verifyDigest('hello', digestOf('hello', 'sha512'));
    rejects(() => verifyDigest('hellO', digestOf('hello'), 'blob x'), /blob x: digest mismatch/);
  });
});

describe('documents', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: d({ mediaType: MediaType.ImageConfig }),
    layers: [d()],
  };
  it('accepts a manifest with subject, artifactType, annotations and unknown fields', () => {
    validateManifest({
      ...manifest,
      subject: d(),
      artifactType: 'application/x.test',
      annotations: { a: 'b' },
      extra: 1,
    });
  });
  const badManifests: [unknown, RegExp][] = [
    [{ ...manifest, schemaVersion: 1 }, /manifest\.schemaVersion: expected 2/],
    [{ ...manifest, layers: {} }, /manifest\.layers: expected an array/],
    [{ ...manifest, layers: [d({ size: -1 })] }, /manifest\.layers\[0\]\.size: expected a non-negative integer/],
    [{ ...manifest, layers: [d({ digest: 'sha256:zz' })] }, /manifest\.layers\[0\]\.digest/],
    [{ ...manifest, config: d({ mediaType: 'nope' }) }, /manifest\.config\.mediaType: "nope" is not a media type/],
    [{ ...manifest, annotations: { a: 1 } }, /manifest\.annotations\["a"\]: expected a string/],
    [{ ...manifest, mediaType: MediaType.ImageIndex }, /manifest\.mediaType: expected/],
  ];
  for (const [i, [m, re]] of badManifests.entries())
    it(`rejects bad manifest #${i}`, () => rejects(() => validateManifest(m), re));

  it('checks embedded data against digest and size', () => {
    const data = Buffer.from('abc');
    validateDescriptor(d({ data: data.toString('base64'), digest: digestOf(data) }));
    rejects(() => validateDescriptor(d({ data: data.toString('base64') })), /descriptor\.data: digest mismatch/);
    rejects(() => validateDescriptor(d({ data: 'YWJj', size: 4, digest: digestOf(data) })), /decodes to 3 bytes/);
  });

  it('validates an index with platforms', () => {
    validateIndex({
      schemaVersion: 2,
      manifests: [d({ mediaType: MediaType.ImageManifest, platform: { os: 'linux', architecture: 'amd64' } })],
    });
    rejects(
      () => validateIndex({ schemaVersion: 2, manifests: [d({ platform: { os: 'linux' } })] }),
      /index\.manifests\[0\]\.platform\.architecture: expected a string/,
    );
  });

  it('validates image configs', () => {
    const cfg = {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${hex64}`] },
      config: { Env: ['A=1'] },
      history: [{ created_by: 'x', empty_layer: true }],
    };
    validateImageConfig(cfg);
    rejects(() => validateImageConfig({ ...cfg, rootfs: { type: 'x', diff_ids: [] } }), /config\.rootfs\.type/);
    rejects(
      () => validateImageConfig({ ...cfg, rootfs: { type: 'layers', diff_ids: ['x'] } }),
      /config\.rootfs\.diff_ids\[0\]/,
    );
    rejects(() => validateImageConfig({ ...cfg, config: { Env: 'A=1' } }), /config\.config\.Env: expected an array/);
    rejects(
      () => validateImageConfig({ ...cfg, history: [{ empty_layer: 'yes' }] }),
      /config\.history\[0\]\.empty_layer/,
    );
  });

  it('parses documents by descriptor media type, declared type, or shape', () => {
    assert.equal(parseManifestDocument(JSON.stringify(manifest)).kind, 'manifest');
    assert.equal(parseManifestDocument(JSON.stringify({ schemaVersion: 2, manifests: [] })).kind, 'index');
    const docker = { ...manifest, mediaType: MediaType.DockerManifest };
    assert.equal(parseManifestDocument(JSON.stringify(docker), MediaType.DockerManifest).kind, 'manifest');
    rejects(() => parseManifestDocument(JSON.stringify(docker), MediaType.ImageIndex), /does not match/);
    rejects(() => parseManifestDocument('{', undefined, 'manifest busybox'), /manifest busybox: not valid JSON/);
  });
});

describe('platforms', () => {
  it('normalises aliases', () => {
    assert.deepEqual(normalizePlatform({ os: 'Linux', architecture: 'x86_64' }), {
      os: 'linux',
      architecture: 'amd64',
    });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' }), {
      os: 'linux',
      architecture: 'arm64',
    });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armhf' }), {
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
    });
    assert.deepEqual(parsePlatform('linux/arm/6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
    rejects(() => parsePlatform('linux'), /expected os\/architecture/);
    rejects(() => parsePlatform('linux//v7'), /malformed/);
  });
  it('matches and selects', () => {
    assert.ok(
      platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'aarch64' }),
    );
    assert.ok(
      platformMatches(
        { os: 'linux', architecture: 'arm', variant: 'v7' },
        { os: 'linux', architecture: 'arm', variant: 'v6' },
      ),
    );
    assert.ok(
      !platformMatches(
        { os: 'linux', architecture: 'arm', variant: 'v6' },
        { os: 'linux', architecture: 'arm', variant: 'v7' },
      ),
    );
    assert.ok(!platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'windows', architecture: 'amd64' }));
    const m = (architecture: string, variant?: string, n = 'a') => ({
      mediaType: MediaType.ImageManifest,
      digest: `sha256:${n.repeat(64)}`,
      size: 1,
      platform: variant ? { os: 'linux', architecture, variant } : { os: 'linux', architecture },
    });
    const list = [m('amd64', undefined, 'a'), m('arm', 'v6', 'b'), m('arm', 'v7', 'c'), m('arm64', 'v8', 'd')];
    assert.equal(selectPlatform(list, parsePlatform('linux/arm/v7'))?.digest, list[2]?.digest);
    assert.equal(selectPlatform(list, parsePlatform('linux/arm64'))?.digest, list[3]?.digest);
    assert.equal(selectPlatform(list, parsePlatform('linux/x86_64'))?.digest, list[0]?.digest);
    assert.equal(selectPlatform(list, parsePlatform('linux/s390x')), undefined);
  });
});
