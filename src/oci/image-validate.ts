// Validation of OCI image documents (descriptor, manifest, index, image config), digest parsing and
// verification, and platform normalisation/matching. Errors name the JSON path and what was
// expected. Unknown fields are accepted (the spec requires it). Must never do I/O beyond hashing.
import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors/errors.ts';
import {
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  isIndexMediaType,
  isManifestMediaType,
  type ManifestDocument,
  MediaType,
  type Platform,
} from './image-spec.ts';

// ---------------------------------------------------------------- digests

export type DigestAlgorithm = 'sha256' | 'sha512';
export type ParsedDigest = { algorithm: DigestAlgorithm; encoded: string };

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// The grammar of the spec; registered algorithms are then checked for their exact encoding.
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function parseDigest(digest: unknown, where = 'digest'): ParsedDigest {
  if (typeof digest !== 'string') throw invalidArgument(`${where}: expected a digest string, got ${typeName(digest)}`);
  if (!DIGEST_GRAMMAR.test(digest))
    throw invalidArgument(`${where}: "${digest}" is not a digest (expected algorithm:hex)`);
  const i = digest.indexOf(':');
  const algorithm = digest.slice(0, i);
  const encoded = digest.slice(i + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512')
    throw invalidArgument(`${where}: digest algorithm "${algorithm}" is not supported (expected sha256 or sha512)`);
  if (encoded.length !== ENCODED_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(encoded))
    throw invalidArgument(
      `${where}: "${digest}" is malformed (expected ${ENCODED_LENGTH[algorithm]} lowercase hex characters after ${algorithm}:)`,
    );
  return { algorithm, encoded };
}

export function isDigest(s: unknown): s is string {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Throws InvalidArgument naming `what` when `data` does not hash to `digest`. */
export function verifyDigest(data: Uint8Array | string, digest: string, what = 'content'): void {
  const { algorithm } = parseDigest(digest, what);
  const actual = digestOf(data, algorithm);
  if (actual !== digest) throw invalidArgument(`${what}: digest mismatch: expected ${digest}, got ${actual}`);
}

// ---------------------------------------------------------------- structural checks

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function expectObject(v: unknown, path: string): Record<string, unknown> {
  if (!isObject(v)) throw invalidArgument(`${path}: expected an object, got ${typeName(v)}`);
  return v;
}
function expectString(v: unknown, path: string): string {
  if (typeof v !== 'string') throw invalidArgument(`${path}: expected a string, got ${typeName(v)}`);
  return v;
}
function optString(o: Record<string, unknown>, key: string, path: string): void {
  if (o[key] !== undefined) expectString(o[key], `${path}.${key}`);
}
function optStringArray(o: Record<string, unknown>, key: string, path: string): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  if (!Array.isArray(v)) throw invalidArgument(`${path}.${key}: expected an array of strings, got ${typeName(v)}`);
  v.forEach((s, i) => {
    expectString(s, `${path}.${key}[${i}]`);
  });
}
function optStringMap(o: Record<string, unknown>, key: string, path: string): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  const m = expectObject(v, `${path}.${key}`);
  for (const [k, s] of Object.entries(m)) expectString(s, `${path}.${key}["${k}"]`);
}
// The spec's media type grammar (RFC 6838 type/subtype, with +suffix and parameters tolerated).
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:\s*;.*)?$/;
function expectMediaType(v: unknown, path: string): string {
  const s = expectString(v, path);
  if (!MEDIA_TYPE.test(s)) throw invalidArgument(`${path}: "${s}" is not a media type (expected type/subtype)`);
  return s;
}

export function validatePlatform(v: unknown, path = 'platform'): Platform {
  const o = expectObject(v, path);
  expectString(o.architecture, `${path}.architecture`);
  expectString(o.os, `${path}.os`);
  optString(o, 'os.version', path);
  optString(o, 'variant', path);
  optStringArray(o, 'os.features', path);
  optStringArray(o, 'features', path);
  return o as unknown as Platform;
}

export function validateDescriptor(v: unknown, path = 'descriptor'): Descriptor {
  const o = expectObject(v, path);
  expectMediaType(o.mediaType, `${path}.mediaType`);
  parseDigest(o.digest, `${path}.digest`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    throw invalidArgument(`${path}.size: expected a non-negative integer, got ${JSON.stringify(o.size)}`);
  optStringArray(o, 'urls', path);
  optStringMap(o, 'annotations', path);
  if (o.artifactType !== undefined) expectMediaType(o.artifactType, `${path}.artifactType`);
  if (o.platform !== undefined) validatePlatform(o.platform, `${path}.platform`);
  if (o.data !== undefined) {
    const data = expectString(o.data, `${path}.data`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0)
      throw invalidArgument(`${path}.data: expected base64`);
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length !== o.size)
      throw invalidArgument(`${path}.data: decodes to ${bytes.length} bytes but size is ${o.size}`);
    verifyDigest(bytes, o.digest as string, `${path}.data`);
  }
  return o as unknown as Descriptor;
}

function expectSchemaVersion2(o: Record<string, unknown>, path: string): void {
  if (o.schemaVersion !== 2)
    throw invalidArgument(`${path}.schemaVersion: expected 2, got ${JSON.stringify(o.schemaVersion)}`);
}

export function validateManifest(v: unknown, path = 'manifest'): ImageManifest {
  const o = expectObject(v, path);
  expectSchemaVersion2(o, path);
  if (o.mediaType !== undefined) {
    const mt = expectMediaType(o.mediaType, `${path}.mediaType`);
    if (!isManifestMediaType(mt))
      throw invalidArgument(
        `${path}.mediaType: expected ${MediaType.ImageManifest} or ${MediaType.DockerManifest}, got ${mt}`,
      );
  }
  if (o.artifactType !== undefined) expectMediaType(o.artifactType, `${path}.artifactType`);
  validateDescriptor(o.config, `${path}.config`);
  if (!Array.isArray(o.layers)) throw invalidArgument(`${path}.layers: expected an array, got ${typeName(o.layers)}`);
  o.layers.forEach((l, i) => {
    validateDescriptor(l, `${path}.layers[${i}]`);
  });
  if (o.subject !== undefined) validateDescriptor(o.subject, `${path}.subject`);
  optStringMap(o, 'annotations', path);
  return o as unknown as ImageManifest;
}

export function validateIndex(v: unknown, path = 'index'): ImageIndex {
  const o = expectObject(v, path);
  expectSchemaVersion2(o, path);
  if (o.mediaType !== undefined) {
    const mt = expectMediaType(o.mediaType, `${path}.mediaType`);
    if (!isIndexMediaType(mt))
      throw invalidArgument(
        `${path}.mediaType: expected ${MediaType.ImageIndex} or ${MediaType.DockerManifestList}, got ${mt}`,
      );
  }
  if (o.artifactType !== undefined) expectMediaType(o.artifactType, `${path}.artifactType`);
  if (!Array.isArray(o.manifests))
    throw invalidArgument(`${path}.manifests: expected an array, got ${typeName(o.manifests)}`);
  o.manifests.forEach((m, i) => {
    validateDescriptor(m, `${path}.manifests[${i}]`);
  });
  if (o.subject !== undefined) validateDescriptor(o.subject, `${path}.subject`);
  optStringMap(o, 'annotations', path);
  return o as unknown as ImageIndex;
}

export function validateImageConfig(v: unknown, path = 'config'): ImageConfig {
  const o = expectObject(v, path);
  expectString(o.architecture, `${path}.architecture`);
  expectString(o.os, `${path}.os`);
  optString(o, 'created', path);
  optString(o, 'author', path);
  optString(o, 'variant', path);
  const rootfs = expectObject(o.rootfs, `${path}.rootfs`);
  if (rootfs.type !== 'layers')
    throw invalidArgument(`${path}.rootfs.type: expected "layers", got ${JSON.stringify(rootfs.type)}`);
  if (!Array.isArray(rootfs.diff_ids))
    throw invalidArgument(`${path}.rootfs.diff_ids: expected an array, got ${typeName(rootfs.diff_ids)}`);
  rootfs.diff_ids.forEach((d, i) => {
    parseDigest(d, `${path}.rootfs.diff_ids[${i}]`);
  });
  if (o.config !== undefined && o.config !== null) {
    const c = expectObject(o.config, `${path}.config`);
    optString(c, 'User', `${path}.config`);
    optString(c, 'WorkingDir', `${path}.config`);
    optString(c, 'StopSignal', `${path}.config`);
    optStringArray(c, 'Env', `${path}.config`);
    optStringArray(c, 'Entrypoint', `${path}.config`);
    optStringArray(c, 'Cmd', `${path}.config`);
    optStringMap(c, 'Labels', `${path}.config`);
  }
  if (o.history !== undefined) {
    if (!Array.isArray(o.history))
      throw invalidArgument(`${path}.history: expected an array, got ${typeName(o.history)}`);
    o.history.forEach((h, i) => {
      const ho = expectObject(h, `${path}.history[${i}]`);
      for (const k of ['created', 'author', 'created_by', 'comment']) optString(ho, k, `${path}.history[${i}]`);
      if (ho.empty_layer !== undefined && typeof ho.empty_layer !== 'boolean')
        throw invalidArgument(`${path}.history[${i}].empty_layer: expected a boolean, got ${typeName(ho.empty_layer)}`);
    });
  }
  return o as unknown as ImageConfig;
}

/** Parses JSON bytes, naming `what` when they are not JSON. */
export function parseJSON(bytes: Uint8Array | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw invalidArgument(`${what}: not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Parses a manifest or index. The media type comes from the descriptor or Content-Type when known,
 * else from the document's own mediaType field, else from its shape (manifests vs layers).
 */
export function parseManifestDocument(
  bytes: Uint8Array | string,
  mediaType?: string,
  what = 'manifest',
): ManifestDocument {
  const v = parseJSON(bytes, what);
  const o = expectObject(v, what);
  const declared = typeof o.mediaType === 'string' ? o.mediaType : undefined;
  if (mediaType && declared && mediaType !== declared && isKnown(mediaType))
    throw invalidArgument(`${what}.mediaType: "${declared}" does not match the descriptor's media type "${mediaType}"`);
  const mt =
    (mediaType && isKnown(mediaType) ? mediaType : declared) ??
    (Array.isArray(o.manifests) ? MediaType.ImageIndex : MediaType.ImageManifest);
  if (isIndexMediaType(mt)) return { kind: 'index', index: validateIndex(o, what) };
  if (isManifestMediaType(mt)) return { kind: 'manifest', manifest: validateManifest(o, what) };
  throw invalidArgument(`${what}: media type "${mt}" is not an image manifest or index`);
}
const isKnown = (mt: string) => isIndexMediaType(mt) || isManifestMediaType(mt);

// ---------------------------------------------------------------- platforms

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  x64: 'amd64',
  i386: '386',
  i686: '386',
  ia32: '386',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
};

/** Normalises a platform the way registries and runtimes spell it (containerd's rules). */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  const rawArch = p.architecture.toLowerCase();
  const architecture = ARCH_ALIASES[rawArch] ?? rawArch;
  let variant = p.variant?.toLowerCase();
  if (variant && /^[0-9]+$/.test(variant)) variant = `v${variant}`;
  if (rawArch === 'armhf' && !variant) variant = 'v7';
  if (rawArch === 'armel' && !variant) variant = 'v6';
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  if (architecture === 'arm' && !variant) variant = 'v7';
  const out: Platform = { os, architecture };
  if (variant) out.variant = variant;
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  return out;
}

/** "linux/arm64/v8" or "linux/amd64" → Platform. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((x) => x === '' || !/^[A-Za-z0-9_.-]+$/.test(x)))
    throw invalidArgument(`platform: "${s}" is malformed (expected os/architecture[/variant], e.g. linux/arm64/v8)`);
  const [os, architecture, variant] = parts as [string, string, string?];
  return normalizePlatform(variant ? { os, architecture, variant } : { os, architecture });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** The platform of this host, normalised. */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: process.platform, architecture: process.arch });
}

// An arm host of variant vN runs images of variants ≤ vN; arm64 hosts also run arm v8.
const ARM_ORDER = ['v5', 'v6', 'v7', 'v8'];

/**
 * Does an image of platform `have` run on `want`? An unspecified wanted variant accepts any; a
 * wanted arm variant accepts older arm variants. Returns a rank (0 = exact, higher = worse) or -1.
 */
export function platformRank(want: Platform, have: Platform): number {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return -1;
  if (w.variant === h.variant) return 0;
  if (w.variant === undefined) return 1;
  if (w.architecture === 'arm' && h.variant) {
    const wi = ARM_ORDER.indexOf(w.variant);
    const hi = ARM_ORDER.indexOf(h.variant);
    if (wi >= 0 && hi >= 0 && hi <= wi) return 1 + wi - hi;
  }
  return -1;
}

export const platformMatches = (want: Platform, have: Platform): boolean => platformRank(want, have) >= 0;

/** The best descriptor of an index for `want`; descriptors without a platform never match. */
export function selectPlatform(manifests: Descriptor[], want: Platform): Descriptor | undefined {
  let best: Descriptor | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const d of manifests) {
    if (!d.platform || !isManifestMediaType(d.mediaType)) continue;
    const r = platformRank(want, d.platform);
    if (r >= 0 && r < bestRank) {
      best = d;
      bestRank = r;
    }
  }
  return best;
}
