// Registry credentials stored as docker's config.json does: { "auths": { "<host>": { "auth":
// base64("user:pass") } } }, mode 0600, written atomically (temp, fsync, rename) and preserving
// every other field. `login` verifies credentials against the registry before storing them.
// Must never log or put a secret in an error message.
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { invalidArgument, notFound } from '../errors/errors.ts';
import { atomicWriteFile } from '../sys/atomic-file.ts';
import { DOCKER_HUB } from './reference.ts';

/**
 * A registry login: a username and password, or an OAuth refresh token (docker's `identitytoken`,
 * what a registry's token service gave at login) that the token service exchanges for access tokens.
 */
export type Credentials = { username: string; password: string; identityToken?: string };
export type CredentialsFn = (registry: string) => Promise<Credentials | undefined>;

type DockerConfig = {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  [k: string]: unknown;
};

export function defaultDockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

// docker keys docker.io as https://index.docker.io/v1/; others as host[:port], sometimes with a scheme.
function keyHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}
const storeKey = (registry: string) => (registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry);

async function load(path: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidArgument('expected a JSON object');
    return v as DockerConfig;
  } catch (e) {
    throw invalidArgument(`${path}: not a docker config.json (${(e as Error).message})`);
  }
}

async function save(path: string, cfg: DockerConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Credentials: readable by the owner only, written so that a crash never leaves a torn file.
  await atomicWriteFile(path, `${JSON.stringify(cfg, null, '\t')}\n`, 0o600);
}

export async function getCredentials(
  registry: string,
  configPath = defaultDockerConfigPath(),
): Promise<Credentials | undefined> {
  const cfg = await load(configPath);
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (keyHost(key) !== registry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i < 0) throw invalidArgument(`${configPath}: auths["${key}"].auth: expected base64 of user:password`);
      return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
    }
    if (entry.username !== undefined && entry.password !== undefined)
      return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** A CredentialsFn reading the docker config at `configPath` on each use (logins take effect at once). */
export function dockerConfigCredentials(configPath = defaultDockerConfigPath()): CredentialsFn {
  return (registry) => getCredentials(registry, configPath);
}

/**
 * Stores credentials for `registry`. With `verify`, calls it first (e.g. RegistryClient.ping with
 * these credentials) so that a wrong password is reported and never stored.
 */
export async function login(
  registry: string,
  creds: Credentials,
  opts: { configPath?: string; verify?: (creds: Credentials) => Promise<void> } = {},
): Promise<void> {
  if (!creds.username || creds.username.includes(':'))
    throw invalidArgument(`login ${registry}: username must be non-empty and contain no ":"`);
  if (opts.verify) await opts.verify(creds);
  const path = opts.configPath ?? defaultDockerConfigPath();
  const cfg = await load(path);
  const auths = { ...(cfg.auths ?? {}) };
  for (const k of Object.keys(auths)) if (keyHost(k) === registry) delete auths[k];
  auths[storeKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  await save(path, { ...cfg, auths });
}

export async function logout(registry: string, opts: { configPath?: string } = {}): Promise<void> {
  const path = opts.configPath ?? defaultDockerConfigPath();
  const cfg = await load(path);
  const auths = { ...(cfg.auths ?? {}) };
  const keys = Object.keys(auths).filter((k) => keyHost(k) === registry);
  if (keys.length === 0) throw notFound(`logout ${registry}: not logged in (no entry in ${path})`);
  for (const k of keys) delete auths[k];
  await save(path, { ...cfg, auths });
}
