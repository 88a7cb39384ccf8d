import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { type Descriptor, type ImageIndex, MediaType, type ManifestDocument } from '../oci/image-spec.ts';
import { parsePlatform } from '../oci/image-validate.ts';
import { platformManifest } from './platform-manifest.ts';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const manifestDoc: ManifestDocument = {
  kind: 'manifest',
  manifest: {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: { mediaType: MediaType.ImageConfig, digest: digest('c'), size: 2 },
    layers: [],
  },
};
const amd64: Descriptor = {
  mediaType: MediaType.ImageManifest,
  digest: digest('1'),
  size: 1,
  platform: parsePlatform('linux/amd64'),
};
const arm64: Descriptor = {
  mediaType: MediaType.ImageManifest,
  digest: digest('2'),
  size: 1,
  platform: parsePlatform('linux/arm64'),
};
const innerIndex: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [amd64, arm64] };
const inner: Descriptor = { mediaType: MediaType.ImageIndex, digest: digest('9'), size: 1 };
const outer: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [inner] };

/** Opens from a map of documents, recording what was opened. */
function store(docs: Record<string, ManifestDocument>, opened: string[] = []) {
  return async (d: Descriptor) => {
    opened.push(d.digest);
    const doc = docs[d.digest];
    if (!doc) throw new Error(`not stored: ${d.digest}`);
    return doc;
  };
}

test('a stored image: a nested index is followed to the platform manifest that is present', async () => {
  const opened: string[] = [];
  const docs = {
    [inner.digest]: { kind: 'index', index: innerIndex } as ManifestDocument,
    [arm64.digest]: manifestDoc,
  };
  const present = new Set([inner.digest, arm64.digest]);
  const r = await platformManifest(outer, digest('0'), parsePlatform('linux/arm64'), 'image x', {
    open: store(docs, opened),
    available: async (d) => present.has(d.digest),
  });
  assert.equal(r.descriptor.digest, arm64.digest);
  assert.deepEqual(opened, [inner.digest, arm64.digest]);
  // amd64 is listed by the inner index but was never pulled: not found, and the listing says what the index has.
  await assert.rejects(
    platformManifest(outer, digest('0'), parsePlatform('linux/amd64'), 'image x', {
      open: store(docs),
      available: async (d) => present.has(d.digest),
    }),
    (e: unknown) =>
      isBerthError(e, ErrorCode.NotFound) &&
      e.message ===
        `image x: no image manifest for platform linux/amd64 in index ${digest('0')} (it has: no platform (a nested index with: linux/amd64, linux/arm64))`,
  );
});

test('a descriptor whose document is of the other kind is refused, naming it', async () => {
  const docs = { [inner.digest]: manifestDoc };
  await assert.rejects(
    platformManifest(outer, digest('0'), parsePlatform('linux/arm64'), 'pull y', { open: store(docs) }),
    (e: unknown) =>
      isBerthError(e, ErrorCode.InvalidArgument) &&
      e.message.startsWith(`pull y: ${inner.digest} is declared as an index`),
  );
});
