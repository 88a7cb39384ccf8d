// Docker's image ID is the digest of the image config; berth's records name the manifest (or
// index) digest. The mapping of one to the other never changes for a digest, so it is kept once
// learnt. A user's word that is an image ID (docker's `sha256:…` or a hex prefix) is turned back
// into a name the engine resolves.
import type { Engine } from '../engine/engine.ts';
import { invalidArgument, isBerthError } from '../errors/errors.ts';

const configIds = new Map<string, string>();

/** The config digest (docker's image ID) of the image a record's target digest names, or undefined if it is gone. */
export async function imageIdOf(
  engine: Engine,
  nameOrTarget: string,
  targetDigest?: string,
): Promise<string | undefined> {
  const known = targetDigest ? configIds.get(targetDigest) : undefined;
  if (known) return known;
  try {
    const d = await engine.images.inspect(nameOrTarget);
    configIds.set(d.target.digest, d.configDescriptor.digest);
    return d.configDescriptor.digest;
  } catch (e) {
    if (isBerthError(e, 'BERTH_ERR_NOT_FOUND')) return undefined;
    throw e;
  }
}

const HEX_ID = /^(?:sha256:)?([0-9a-f]{4,64})$/;

/**
 * The engine's word for a user's image word: a name stays a name; an image ID (config digest or a
 * prefix of it) becomes a name that image carries. Words that match nothing are left to the engine
 * (which also knows its own manifest-digest IDs).
 */
export async function engineImageWord(engine: Engine, word: string): Promise<string> {
  const m = HEX_ID.exec(word);
  if (!m) return word;
  const hits = new Set<string>();
  let name: string | undefined;
  for (const s of await engine.images.list()) {
    const id = await imageIdOf(engine, s.name, s.digest);
    if (id?.startsWith(`sha256:${m[1]}`)) {
      hits.add(id);
      name ??= s.name;
    }
  }
  if (hits.size > 1) throw invalidArgument(`multiple IDs found with provided prefix: ${word}`);
  return name ?? word;
}
