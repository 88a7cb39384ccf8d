// docker's registry credentials on the wire: X-Registry-Auth (one AuthConfig, on pull and push),
// X-Registry-Config (a map of them, on build), and their AuthConfig entries (username/password,
// `auth` = base64 "user:pass", or an `identitytoken` a token service gave at login). They are this
// request's only: handed to the engine for it and never stored.
// Must never: put a secret in an error message.
import { invalidArgument } from '../errors/errors.ts';

/** What the engine's pull and push take (the registry client's Credentials). */
export type Credentials = { username: string; password: string; identityToken?: string };

/** base64 JSON as the CLI writes it (the URL alphabet, padded or not); the standard alphabet is taken too. */
function decodeJson(header: string, what: string, expected: string): unknown {
  try {
    return JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw invalidArgument(`${what}: not base64 of JSON (expected ${expected})`);
  }
}

/** One AuthConfig's credentials; undefined when it carries none (the CLI sends `{}` for anonymous pulls). */
export function authConfigCredentials(v: unknown, what: string): Credentials | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw invalidArgument(`${what}: expected an auth config object`);
  const a = v as { username?: unknown; password?: unknown; auth?: unknown; identitytoken?: unknown };
  let username = typeof a.username === 'string' ? a.username : '';
  let password = typeof a.password === 'string' ? a.password : '';
  if ((!username || !password) && typeof a.auth === 'string' && a.auth !== '') {
    const plain = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i <= 0) throw invalidArgument(`${what}: auth is not base64 of "username:password"`);
    [username, password] = [plain.slice(0, i), plain.slice(i + 1)];
  }
  if (typeof a.identitytoken === 'string' && a.identitytoken !== '')
    return { username, password: '', identityToken: a.identitytoken };
  if (!username && !password) return undefined;
  if (!username || !password) throw invalidArgument(`${what}: username and password go together`);
  return { username, password };
}

/** X-Registry-Auth of POST /images/create and /images/{name}/push. */
export function registryAuthHeader(header: string | string[] | undefined): Credentials | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  const v = decodeJson(header, 'X-Registry-Auth', 'an auth config: {username, password}, {auth} or {identitytoken}');
  return authConfigCredentials(v, 'X-Registry-Auth');
}

/**
 * X-Registry-Config of POST /build: a map from registry address to AuthConfig, for FROM pulls,
 * keyed by the host references use (docker names Docker Hub https://index.docker.io/v1/).
 */
export function registryConfigHeader(header: string | string[] | undefined): Record<string, Credentials> | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  const map = decodeJson(
    header,
    'X-Registry-Config',
    'a map of registry address to {username, password}, {auth} or {identitytoken}',
  );
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw invalidArgument('X-Registry-Config: expected a JSON object of registry address to auth config');
  const out: Record<string, Credentials> = {};
  for (const [addr, v] of Object.entries(map as Record<string, unknown>)) {
    const creds = authConfigCredentials(v, `X-Registry-Config ${JSON.stringify(addr)}`);
    if (!creds) continue;
    let host = addr.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
    if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = 'docker.io';
    out[host] = creds;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
