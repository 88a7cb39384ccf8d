// Image references as docker spells them: `busybox` is docker.io/library/busybox:latest,
// `localhost:5000/x/y:tag`, `name@sha256:…`, `name:tag@sha256:…`. Parsing only; must never do I/O.
import { invalidArgument } from '../errors/errors.ts';
import { parseDigest } from '../oci/image-validate.ts';

export type Reference = {
  /** Registry host as named (docker.io, localhost:5000), never the API endpoint. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
};

export const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

export function parseReference(input: string): Reference {
  const bad = (why: string) => invalidArgument(`image reference "${input}": ${why}`);
  if (typeof input !== 'string' || input.length === 0) throw bad('empty');
  if (/\s/.test(input)) throw bad('contains whitespace');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest, 'digest');
    } catch (e) {
      throw bad((e as Error).message);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`tag "${tag}" is invalid (expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})`);
  }
  if (rest === '') throw bad('missing repository name');
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      repository = rest.slice(slash + 1);
      if (!HOST.test(registry)) throw bad(`registry "${registry}" is not a valid host[:port]`);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  for (const c of repository.split('/')) {
    if (c !== c.toLowerCase()) throw bad(`repository name must be lowercase ("${repository}")`);
    if (!COMPONENT.test(c))
      throw bad(`repository component "${c}" is invalid (expected [a-z0-9] separated by ".", "_", "__" or "-")`);
  }
  if (registry.length + 1 + repository.length > 255) throw bad('name longer than 255 characters');
  const ref: Reference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (tag === undefined && digest === undefined) ref.tag = 'latest';
  return ref;
}

/** The full name: registry/repository[:tag][@digest]. */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The name docker users type: `busybox:latest` for docker.io/library/busybox:latest. */
export function familiarReference(ref: Reference): string {
  let name = `${ref.registry}/${ref.repository}`;
  if (ref.registry === DOCKER_HUB)
    name = ref.repository.startsWith('library/') ? ref.repository.slice(8) : ref.repository;
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The same repository at another tag or digest. */
export function withTarget(ref: Reference, target: { tag?: string; digest?: string }): Reference {
  const out: Reference = { registry: ref.registry, repository: ref.repository };
  if (target.tag) out.tag = target.tag;
  if (target.digest) out.digest = target.digest;
  return out;
}
