// The Docker Engine API versions berthd serves, and how a request names one: a `/v1.NN` path prefix,
// or none (then the newest served, as dockerd does). Shapes that changed between versions ask
// `atLeast(v, '1.44')` where they build a response.
import { invalidArgument } from '../errors/errors.ts';

/** Debian's docker.io 20.10 client speaks 1.41. */
export const MIN_API_VERSION = '1.41';
/** The docker 28 client speaks 1.50. */
export const MAX_API_VERSION = '1.50';

function parts(v: string): [number, number] {
  const [a, b] = v.split('.');
  return [Number(a), Number(b)];
}

export function compareVersions(a: string, b: string): number {
  const [a1, a2] = parts(a);
  const [b1, b2] = parts(b);
  return a1 - b1 || a2 - b2;
}

export const atLeast = (v: string, min: string) => compareVersions(v, min) >= 0;

/** Splits `/v1.44/containers/json` into the version and the route path; refuses versions not served. */
export function splitVersion(pathname: string): { version: string; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(pathname);
  if (!m) return { version: MAX_API_VERSION, path: pathname };
  const version = m[1]!;
  if (compareVersions(version, MAX_API_VERSION) > 0)
    throw invalidArgument(`client version ${version} is too new. Maximum supported API version is ${MAX_API_VERSION}`);
  if (compareVersions(version, MIN_API_VERSION) < 0)
    throw invalidArgument(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  return { version, path: m[2]! };
}
