// The image manifest of an index for one platform, for pull (fetching) and for stored images
// (reading the content store). The OCI image-spec lets an index list another index (a nested
// index, "SHOULD support"); berth follows nesting MAX_INDEX_DEPTH level(s) deep, which is what
// tools that nest produce (an index per variant under a top-level one), and stops there so that a
// hostile chain of indexes cannot make it fetch without end.
// Owns: the choice and its messages. Never: fetches or reads anything itself (the caller's `open`).
import { ErrorCode, invalidArgument, isBerthError, notFound } from '../errors/errors.ts';
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  isIndexMediaType,
  type ManifestDocument,
  type Platform,
} from '../oci/image-spec.ts';
import { formatPlatform, platformMatches, selectPlatform } from '../oci/image-validate.ts';

/** How many levels of nested indexes below the top-level one are followed. */
export const MAX_INDEX_DEPTH = 1;

export type PlatformManifestOptions = {
  /** The document a descriptor names (fetched, or read from the store). */
  open: (d: Descriptor) => Promise<ManifestDocument>;
  /** Only entries for which this resolves true are candidates (a stored image: those present). */
  available?: (d: Descriptor) => Promise<boolean>;
};

export type PlatformManifest = { descriptor: Descriptor; manifest: ImageManifest };

/**
 * The manifest for `want` in `index` (whose digest is `indexDigest`); `what` starts every message
 * ("pull x", "image x"). NotFound lists what the index has, saying which entries are nested indexes.
 */
export async function platformManifest(
  index: ImageIndex,
  indexDigest: string,
  want: Platform,
  what: string,
  opts: PlatformManifestOptions,
): Promise<PlatformManifest> {
  return choose(index, indexDigest, want, what, opts, 0);
}

async function choose(
  index: ImageIndex,
  indexDigest: string,
  want: Platform,
  what: string,
  opts: PlatformManifestOptions,
  depth: number,
): Promise<PlatformManifest> {
  const entries: Descriptor[] = [];
  for (const d of index.manifests) if (!opts.available || (await opts.available(d))) entries.push(d);
  const chosen = selectPlatform(entries, want);
  if (chosen) {
    const doc = await opts.open(chosen);
    if (doc.kind !== 'manifest')
      throw invalidArgument(
        `${what}: ${chosen.digest} is declared as an image manifest (${chosen.mediaType}) but holds an index`,
      );
    return { descriptor: chosen, manifest: doc.manifest };
  }
  // A nested index without a platform may hold any; one with a platform only that one.
  const nested = entries.filter(
    (d) => isIndexMediaType(d.mediaType) && (!d.platform || platformMatches(want, d.platform)),
  );
  const inner = new Map<string, string>();
  for (const d of nested) {
    if (depth >= MAX_INDEX_DEPTH) {
      throw invalidArgument(
        `${what}: index ${indexDigest} lists the nested index ${d.digest} for ${d.platform ? formatPlatform(d.platform) : 'any platform'}, which is itself nested; berth follows nested indexes ${MAX_INDEX_DEPTH} level deep`,
      );
    }
    const doc = await opts.open(d);
    if (doc.kind !== 'index')
      throw invalidArgument(
        `${what}: ${d.digest} is declared as an index (${d.mediaType}) but holds an image manifest`,
      );
    try {
      return await choose(doc.index, d.digest, want, what, opts, depth + 1);
    } catch (e) {
      if (!isBerthError(e, ErrorCode.NotFound)) throw e;
      inner.set(d.digest, listing(doc.index.manifests, new Map()));
    }
  }
  throw notFound(
    `${what}: no image manifest for platform ${formatPlatform(want)} in index ${indexDigest} (it has: ${listing(index.manifests, inner) || 'nothing'})`,
  );
}

/** "linux/amd64, linux/arm64/v8 (a nested index with: linux/arm64/v8)". */
function listing(manifests: Descriptor[], inner: Map<string, string>): string {
  return manifests
    .map((d) => {
      const p = d.platform ? formatPlatform(d.platform) : 'no platform';
      if (!isIndexMediaType(d.mediaType)) return p;
      const has = inner.get(d.digest);
      return `${p} (a nested index${has === undefined ? '' : ` with: ${has || 'nothing'}`})`;
    })
    .join(', ');
}
