// RegistryClient: the OCI distribution 1.1 / Docker registry v2 HTTP API over undici — resolve,
// manifests, blobs (Range), existence checks, uploads (monolithic, chunked, cross-repository
// mount), manifest PUT — with bearer/basic auth from WWW-Authenticate challenges, retries with
// exponential backoff on 5xx/429/connection errors, redirects, mirrors and custom CAs.
// It verifies every digest it knows. It must never store anything (callers own the content store)
// and never send credentials to a host they were not configured for.
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, ErrorCode, failedPrecondition, invalidArgument, notFound, unavailable } from '../errors/errors.ts';
import { type Descriptor, ManifestMediaTypes, type ManifestDocument } from '../oci/image-spec.ts';
import { digestOf, parseDigest, parseManifestDocument } from '../oci/image-validate.ts';
import type { Credentials, CredentialsFn } from './auth-config.ts';
import { formatReference, type Reference } from './reference.ts';
import { type Endpoint, type RegistriesConfig, RegistryHosts } from './registry-hosts.ts';
import type { Dispatcher } from 'undici';
import { loadUndici } from './undici.ts';
import { type Challenge, parseWwwAuthenticate } from './www-authenticate.ts';

export type RegistryClientOptions = {
  hosts?: RegistriesConfig;
  credentials?: CredentialsFn;
  /** Attempts after the first on 5xx, 429 and connection errors. */
  retries?: number;
  /** First backoff delay; doubled each attempt. */
  retryBaseMs?: number;
  userAgent?: string;
};

export type FetchedManifest = { bytes: Buffer; descriptor: Descriptor; document: ManifestDocument };
export type BlobResponse = {
  body: Readable /** Offset of the first byte of body (0 when the server ignored Range). */;
  start: number;
};
export type PushBlobResult = 'exists' | 'mounted' | 'uploaded';

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';
type Req = {
  method: Method;
  url: string;
  headers?: Record<string, string>;
  body?: () => Buffer | Readable | Promise<Buffer | Readable>;
  scopes: string[];
  what: string;
  expect: number[];
  creds?: Credentials;
};
type Res = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(): Promise<void>; text(): Promise<string>; arrayBuffer(): Promise<ArrayBuffer> };
  url: string;
};

const MAX_MANIFEST = 4 * 1024 * 1024;
const CONNECTION_ERRORS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CLOSED',
]);

const header = (h: Res['headers'], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

export function isTransient(e: unknown): boolean {
  if (e instanceof BerthError) return e.code === ErrorCode.Unavailable;
  const code = (e as { code?: string })?.code;
  return code !== undefined && CONNECTION_ERRORS.has(code);
}

export class RegistryClient {
  readonly hosts: RegistryHosts;
  readonly #credentials: CredentialsFn;
  readonly #retries: number;
  readonly #retryBaseMs: number;
  readonly #userAgent: string;
  readonly #challenges = new Map<string, Challenge>();
  readonly #tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(opts: RegistryClientOptions = {}) {
    this.hosts = new RegistryHosts(opts.hosts ?? {});
    this.#credentials = opts.credentials ?? (async () => undefined);
    this.#retries = opts.retries ?? 4;
    this.#retryBaseMs = opts.retryBaseMs ?? 250;
    this.#userAgent = opts.userAgent ?? 'berth/0.1';
  }

  async close(): Promise<void> {
    await this.hosts.close();
  }

  // ---------------------------------------------------------------- pull side

  /** Checks the registry answers the v2 API and that `creds` (or the stored credentials) are accepted. */
  async ping(registry: string, creds?: Credentials): Promise<void> {
    const ep = this.hosts.pushEndpoint(registry);
    const res = await this.#send(ep, {
      method: 'GET',
      url: `${ep.baseUrl}/v2/`,
      scopes: [],
      what: `registry ${registry}`,
      expect: [200],
      ...(creds ? { creds } : {}),
    });
    await res.body.dump();
  }

  /** The descriptor a tag or digest points at (HEAD, falling back to GET). */
  async resolve(ref: Reference): Promise<Descriptor> {
    return this.#onPullEndpoints(ref, async (ep) => {
      const url = this.#manifestUrl(ep, ref, ref.digest ?? ref.tag!);
      const what = `resolve ${formatReference(ref)}`;
      let res: Res;
      try {
        res = await this.#send(ep, {
          method: 'HEAD',
          url,
          headers: { accept: ManifestMediaTypes.join(', ') },
          scopes: [pullScope(ref)],
          what,
          expect: [200],
        });
      } catch (e) {
        // A HEAD answer has no body: GET again so the error carries the registry's own message.
        if (e instanceof BerthError && e.code !== ErrorCode.Unavailable)
          return (await this.#getManifest(ep, ref)).descriptor;
        throw e;
      }
      await res.body.dump();
      const digest = header(res.headers, 'docker-content-digest');
      const mediaType = header(res.headers, 'content-type')?.split(';')[0]?.trim();
      const size = Number(header(res.headers, 'content-length'));
      if (digest && mediaType && Number.isSafeInteger(size) && (ManifestMediaTypes as string[]).includes(mediaType)) {
        parseDigest(digest, `${what}: Docker-Content-Digest`);
        if (ref.digest && digest !== ref.digest)
          throw invalidArgument(`${what}: registry ${ep.host} answered digest ${digest} for ${ref.digest}`);
        return { mediaType, digest, size };
      }
      return (await this.#getManifest(ep, ref)).descriptor;
    });
  }

  /** A manifest or index, by `desc` (verified against its digest) or by the reference's tag/digest. */
  async fetchManifest(ref: Reference, desc?: Descriptor): Promise<FetchedManifest> {
    return this.#onPullEndpoints(ref, (ep) => this.#getManifest(ep, ref, desc));
  }

  async #getManifest(ep: Endpoint, ref: Reference, desc?: Descriptor): Promise<FetchedManifest> {
    const target = desc?.digest ?? ref.digest ?? ref.tag!;
    const what = `manifest ${formatReference(ref)}${desc ? ` (${desc.digest})` : ''}`;
    const res = await this.#send(ep, {
      method: 'GET',
      url: this.#manifestUrl(ep, ref, target),
      headers: { accept: ManifestMediaTypes.join(', ') },
      scopes: [pullScope(ref)],
      what,
      expect: [200],
    });
    const declared = Number(header(res.headers, 'content-length'));
    if (declared > MAX_MANIFEST) {
      res.body.destroy();
      throw invalidArgument(`${what}: ${declared} bytes is larger than the ${MAX_MANIFEST}-byte manifest limit`);
    }
    const bytes = Buffer.from(await res.body.arrayBuffer());
    if (bytes.length > MAX_MANIFEST)
      throw invalidArgument(`${what}: larger than the ${MAX_MANIFEST}-byte manifest limit`);
    const expected = desc?.digest ?? ref.digest ?? header(res.headers, 'docker-content-digest');
    let digest: string;
    if (expected) {
      const { algorithm } = parseDigest(expected, `${what}: digest`);
      digest = digestOf(bytes, algorithm);
      if (digest !== expected)
        throw invalidArgument(`${what}: digest mismatch from ${ep.host}: expected ${expected}, got ${digest}`);
    } else digest = digestOf(bytes);
    if (desc && bytes.length !== desc.size)
      throw invalidArgument(`${what}: size mismatch from ${ep.host}: expected ${desc.size}, got ${bytes.length}`);
    const ct = header(res.headers, 'content-type')?.split(';')[0]?.trim();
    const mediaType = desc?.mediaType ?? ((ManifestMediaTypes as string[]).includes(ct ?? '') ? ct : undefined);
    const document = parseManifestDocument(bytes, mediaType, what);
    const docType = document.kind === 'index' ? document.index.mediaType : document.manifest.mediaType;
    const finalType =
      mediaType ?? docType ?? (document.kind === 'index' ? ManifestMediaTypes[0]! : ManifestMediaTypes[1]!);
    return { bytes, descriptor: { mediaType: finalType, digest, size: bytes.length }, document };
  }

  /**
   * Opens a blob from `offset` (Range). The body is raw: the caller verifies the digest over the
   * whole content (the content store's writer does, while streaming). `start` says where the body
   * really begins, since a server may ignore Range and send everything.
   */
  async fetchBlob(
    ref: Reference,
    desc: Pick<Descriptor, 'digest' | 'size'>,
    opts: { offset?: number } = {},
  ): Promise<BlobResponse> {
    const offset = opts.offset ?? 0;
    return this.#onPullEndpoints(ref, async (ep) => {
      const what = `blob ${desc.digest} of ${formatReference(ref)}`;
      const headers: Record<string, string> = {};
      if (offset > 0) headers.range = `bytes=${offset}-`;
      const res = await this.#send(ep, {
        method: 'GET',
        url: `${ep.baseUrl}/v2/${ref.repository}/blobs/${desc.digest}`,
        headers,
        scopes: [pullScope(ref)],
        what,
        expect: [200, 206],
      });
      if (res.status === 206) {
        const m = /^bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '');
        if (!m || Number(m[1]) !== offset) {
          res.body.destroy();
          throw unavailable(
            `${what}: ${ep.host} answered Range ${offset}- with Content-Range "${header(res.headers, 'content-range')}"`,
          );
        }
        return { body: res.body, start: offset };
      }
      return { body: res.body, start: 0 };
    });
  }

  /** A blob stream that fails at its end unless size and digest match `desc`. */
  async openBlob(ref: Reference, desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    const { body } = await this.fetchBlob(ref, desc);
    const { algorithm } = parseDigest(desc.digest);
    const hash = createHash(algorithm);
    let size = 0;
    const verify = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
      flush(cb) {
        const got = `${algorithm}:${hash.digest('hex')}`;
        if (got !== desc.digest || size !== desc.size)
          cb(
            invalidArgument(
              `blob ${desc.digest} of ${formatReference(ref)}: content does not match: got ${got} (${size} bytes, expected ${desc.size})`,
            ),
          );
        else cb();
      },
    });
    body.on('error', (e) => verify.destroy(e));
    return body.pipe(verify);
  }

  // ---------------------------------------------------------------- push side

  async blobExists(ref: Reference, digest: string, opts: { forPush?: boolean } = {}): Promise<boolean> {
    const ep = opts.forPush ? this.hosts.pushEndpoint(ref.registry) : this.hosts.pullEndpoints(ref.registry).at(-1)!;
    const res = await this.#send(ep, {
      method: 'HEAD',
      url: `${ep.baseUrl}/v2/${ref.repository}/blobs/${digest}`,
      scopes: [opts.forPush ? pushScope(ref) : pullScope(ref)],
      what: `blob ${digest} of ${formatReference(ref)}`,
      expect: [200, 404],
    });
    await res.body.dump();
    return res.status === 200;
  }

  /**
   * Uploads a blob unless the repository has it. `source` is called for each attempt (a stream
   * cannot be replayed). With `mountFrom` (a repository on the same registry), asks for a
   * cross-repository mount first. With `chunkSize`, uploads in PATCH chunks.
   */
  async pushBlob(
    ref: Reference,
    desc: Pick<Descriptor, 'digest' | 'size'>,
    source: () => Readable | Buffer | Promise<Readable | Buffer>,
    opts: { mountFrom?: string; chunkSize?: number; onProgress?: (bytes: number) => void } = {},
  ): Promise<PushBlobResult> {
    const ep = this.hosts.pushEndpoint(ref.registry);
    const what = `push blob ${desc.digest} to ${formatReference(ref)}`;
    const scopes = [pushScope(ref)];
    if (opts.mountFrom) scopes.push(`repository:${opts.mountFrom}:pull`);
    if (await this.blobExists(ref, desc.digest, { forPush: true })) return 'exists';
    const uploads = `${ep.baseUrl}/v2/${ref.repository}/blobs/uploads/`;
    const start = opts.mountFrom
      ? `${uploads}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(opts.mountFrom)}`
      : uploads;
    const post = await this.#send(ep, {
      method: 'POST',
      url: start,
      headers: { 'content-length': '0' },
      scopes,
      what,
      expect: [201, 202],
    });
    await post.body.dump();
    if (post.status === 201) return 'mounted';
    let location = this.#location(post, what);
    const withDigest = (loc: string) => {
      const u = new URL(loc);
      u.searchParams.set('digest', desc.digest);
      return u.toString();
    };
    if (!opts.chunkSize) {
      const put = await this.#send(ep, {
        method: 'PUT',
        url: withDigest(location),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
        body: async () => {
          const s = await source();
          if (!opts.onProgress || Buffer.isBuffer(s)) return s;
          // Counting through a Transform: a 'data' listener on the source would start it flowing
          // before undici reads it, and the bytes would be lost.
          const counted = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              opts.onProgress!(chunk.length);
              cb(null, chunk);
            },
          });
          s.on('error', (e) => counted.destroy(e));
          return s.pipe(counted);
        },
        scopes,
        what,
        expect: [201],
      });
      await put.body.dump();
      return 'uploaded';
    }
    let offset = 0;
    for await (const chunk of chunks(await source(), opts.chunkSize)) {
      const res = await this.#send(ep, {
        method: 'PATCH',
        url: location,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(chunk.length),
          'content-range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: () => chunk,
        scopes,
        what: `${what} (chunk at ${offset})`,
        expect: [202],
      });
      await res.body.dump();
      location = this.#location(res, what);
      offset += chunk.length;
      opts.onProgress?.(chunk.length);
    }
    if (offset !== desc.size) throw invalidArgument(`${what}: source gave ${offset} bytes, expected ${desc.size}`);
    const put = await this.#send(ep, {
      method: 'PUT',
      url: withDigest(location),
      headers: { 'content-length': '0' },
      scopes,
      what,
      expect: [201],
    });
    await put.body.dump();
    return 'uploaded';
  }

  /** PUTs a manifest or index at the reference's tag (or digest); returns its digest. */
  async putManifest(ref: Reference, bytes: Buffer, mediaType: string): Promise<string> {
    const ep = this.hosts.pushEndpoint(ref.registry);
    const digest = digestOf(bytes);
    const target = ref.tag ?? ref.digest ?? digest;
    const res = await this.#send(ep, {
      method: 'PUT',
      url: this.#manifestUrl(ep, ref, target),
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: () => bytes,
      scopes: [pushScope(ref)],
      what: `push manifest ${formatReference(ref)}`,
      expect: [201],
    });
    await res.body.dump();
    const answered = header(res.headers, 'docker-content-digest');
    if (answered && answered !== digest)
      throw invalidArgument(`push manifest ${formatReference(ref)}: registry stored ${answered}, expected ${digest}`);
    return digest;
  }

  // ---------------------------------------------------------------- plumbing

  #manifestUrl(ep: Endpoint, ref: Reference, target: string): string {
    return `${ep.baseUrl}/v2/${ref.repository}/manifests/${target}`;
  }

  #location(res: Res, what: string): string {
    const loc = header(res.headers, 'location');
    if (!loc) throw unavailable(`${what}: registry answered ${res.status} without a Location header`);
    return new URL(loc, res.url).toString();
  }

  /** Tries mirrors first; a mirror that lacks the content or is down falls through to the next endpoint. */
  async #onPullEndpoints<T>(ref: Reference, fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    const eps = this.hosts.pullEndpoints(ref.registry);
    let lastErr: unknown;
    for (const ep of eps) {
      try {
        return await fn(ep);
      } catch (e) {
        lastErr = e;
        if (!ep.isMirror) throw e;
      }
    }
    throw lastErr;
  }

  async #send(ep: Endpoint, req: Req): Promise<Res> {
    let url = req.url;
    let authTried = false;
    let redirects = 0;
    let attempt = 0;
    for (;;) {
      const sameOrigin = new URL(url).origin === new URL(ep.baseUrl).origin;
      const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...req.headers };
      let tokenKey: string | undefined;
      if (sameOrigin) {
        const auth = await this.#authorization(ep, req.scopes, req.creds, req.what);
        if (auth) headers.authorization = auth.header;
        tokenKey = auth?.tokenKey;
      }
      let res: Res;
      try {
        const r = await (await loadUndici()).request(url, {
          method: req.method,
          headers,
          body: await req.body?.(),
          dispatcher: await ep.dispatcher(),
        });
        res = { status: r.statusCode, headers: r.headers, body: r.body as unknown as Res['body'], url };
      } catch (e) {
        if (isTransient(e) && attempt < this.#retries) {
          await this.#backoff(attempt++);
          continue;
        }
        throw unavailable(`${req.what}: cannot reach ${ep.host} (${url}): ${(e as Error).message}`, e);
      }
      if (res.status === 401 && sameOrigin && !authTried) {
        // A token the registry no longer takes (revoked, expired early, scope changed): the retry,
        // once, gets a fresh one rather than the cached one again.
        if (tokenKey !== undefined) this.#tokens.delete(tokenKey);
        const challenges = parseWwwAuthenticate(header(res.headers, 'www-authenticate') ?? '');
        const ch = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
        await res.body.dump();
        if (!ch)
          throw failedPrecondition(
            `${req.what}: ${ep.host} requires authentication but sent no Bearer or Basic challenge`,
          );
        this.#challenges.set(ep.host, ch);
        authTried = true;
        continue;
      }
      if ([301, 302, 303, 307, 308].includes(res.status) && (req.method === 'GET' || req.method === 'HEAD')) {
        const loc = header(res.headers, 'location');
        await res.body.dump();
        if (!loc || ++redirects > 5)
          throw unavailable(`${req.what}: too many redirects or redirect without Location from ${ep.host}`);
        url = new URL(loc, url).toString();
        continue;
      }
      if ((res.status >= 500 || res.status === 429) && attempt < this.#retries) {
        await res.body.dump();
        await this.#backoff(attempt++);
        continue;
      }
      if (req.expect.includes(res.status)) return res;
      throw await registryError(res, ep, req.what);
    }
  }

  async #backoff(attempt: number): Promise<void> {
    const base = this.#retryBaseMs * 2 ** attempt;
    await sleep(base / 2 + Math.random() * (base / 2));
  }

  /** Cached bearer tokens (tests: the cache drops what has expired). */
  get cachedTokens(): number {
    this.#dropExpiredTokens();
    return this.#tokens.size;
  }

  #dropExpiredTokens(now = Date.now()): void {
    for (const [k, t] of this.#tokens) if (t.expiresAt <= now) this.#tokens.delete(k);
  }

  async #authorization(
    ep: Endpoint,
    scopes: string[],
    override: Credentials | undefined,
    what: string,
  ): Promise<{ header: string; tokenKey?: string } | undefined> {
    const ch = this.#challenges.get(ep.host);
    if (!ch) return undefined;
    const creds = override ?? (await this.#credentials(ep.host));
    if (ch.scheme === 'basic') {
      if (creds?.identityToken)
        throw failedPrecondition(
          `${what}: ${ep.host} asks for Basic authentication, which an identity token cannot answer (log in with a username and password)`,
        );
      return creds ? { header: basic(creds) } : undefined;
    }
    const who = override ? `${override.username}\0${override.identityToken ? 'identity' : ''}\0` : '';
    const tokenKey = `${ep.host}\0${who}${[...scopes].sort().join(' ')}`;
    this.#dropExpiredTokens();
    const cached = this.#tokens.get(tokenKey);
    if (cached) return { header: `Bearer ${cached.token}`, tokenKey };
    const realm = ch.params.realm;
    if (!realm) throw failedPrecondition(`${what}: ${ep.host} sent a Bearer challenge without a realm`);
    const u = new URL(realm);
    const headers: Record<string, string> = { 'user-agent': this.#userAgent };
    let method: 'GET' | 'POST' = 'GET';
    let body: string | undefined;
    if (creds?.identityToken) {
      // docker's OAuth flow: the refresh token is exchanged for an access token (POST, a form).
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'berth',
        ...(ch.params.service ? { service: ch.params.service } : {}),
      });
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      method = 'POST';
      body = form.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (ch.params.service) u.searchParams.set('service', ch.params.service);
      for (const s of scopes) u.searchParams.append('scope', s);
      if (creds) headers.authorization = basic(creds);
    }
    let r: Dispatcher.ResponseData;
    try {
      r = await (await loadUndici()).request(u, { method, headers, body, dispatcher: await ep.dispatcher() });
    } catch (e) {
      throw unavailable(`${what}: cannot reach the token server ${u.origin} of ${ep.host}: ${(e as Error).message}`, e);
    }
    const text = await r.body.text();
    if (r.statusCode !== 200) {
      const msg = registryMessages(text) ?? text.slice(0, 200);
      const whose = creds?.identityToken
        ? 'the identity token'
        : creds
          ? `credentials of ${creds.username}`
          : 'anonymous access';
      throw failedPrecondition(
        `${what}: token server ${u.origin} of ${ep.host} refused ${whose} (${r.statusCode}${msg ? `: ${msg}` : ''})`,
      );
    }
    let answer: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      answer = JSON.parse(text);
    } catch {
      throw unavailable(`${what}: token server ${u.origin} answered with non-JSON`);
    }
    const token = answer.token ?? answer.access_token;
    if (!token) throw unavailable(`${what}: token server ${u.origin} answered without a token`);
    const expiresAt = tokenExpiry(answer, Date.now());
    if (expiresAt > Date.now()) this.#tokens.set(tokenKey, { token, expiresAt });
    return { header: `Bearer ${token}`, tokenKey };
  }
}

/**
 * When a token stops being used: `issued_at` (RFC 3339; else now) plus `expires_in` seconds (the
 * spec's default 60), 5 s early so a token never expires between use and arrival. A token already
 * past that is used once and never cached.
 */
export function tokenExpiry(answer: { expires_in?: unknown; issued_at?: unknown }, now: number): number {
  const ttl = typeof answer.expires_in === 'number' && answer.expires_in > 0 ? answer.expires_in : 60;
  const issued = typeof answer.issued_at === 'string' ? Date.parse(answer.issued_at) : Number.NaN;
  const from = Number.isFinite(issued) ? Math.min(issued, now) : now;
  return from + (ttl - 5) * 1000;
}

const pullScope = (ref: Reference) => `repository:${ref.repository}:pull`;
const pushScope = (ref: Reference) => `repository:${ref.repository}:pull,push`;
const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

function registryMessages(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (!Array.isArray(v.errors) || v.errors.length === 0) return undefined;
    return v.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    return undefined;
  }
}

/** The registry's own error message (errors[].message), with the status and what was asked. */
async function registryError(res: Res, ep: Endpoint, what: string): Promise<BerthError> {
  const text = res.status === 204 ? '' : await res.body.text().catch(() => '');
  const msg = registryMessages(text) ?? (text.trim().slice(0, 200) || `HTTP ${res.status}`);
  const full = `${what}: ${ep.host} answered ${res.status}: ${msg}`;
  if (res.status === 404) return notFound(full);
  if (res.status === 401 || res.status === 403) return failedPrecondition(full);
  if (res.status >= 500 || res.status === 429) return unavailable(full);
  return failedPrecondition(full);
}

/** Re-chunks a stream or buffer into pieces of exactly `size` bytes (the last may be shorter). */
async function* chunks(source: Readable | Buffer, size: number): AsyncGenerator<Buffer> {
  const input = Buffer.isBuffer(source) ? Readable.from([source]) : source;
  let pending: Buffer[] = [];
  let n = 0;
  for await (const c of input as AsyncIterable<Buffer>) {
    let buf = Buffer.from(c);
    while (n + buf.length >= size) {
      const take = size - n;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      n = 0;
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      pending.push(buf);
      n += buf.length;
    }
  }
  if (n > 0) yield Buffer.concat(pending);
}
