// Docker's image ID is the digest of the image config, and so is the engine's (ImageSummary.id,
// ImageDetails.id; the engine resolves an ID or a prefix of it as a word like a name).
import type { Engine } from '../engine/engine.ts';
import { isBerthError } from '../errors/errors.ts';

/** The image ID (config digest) of the image `name` names, or undefined if it is gone. */
export async function imageIdOf(engine: Engine, name: string): Promise<string | undefined> {
  try {
    return (await engine.images.inspect(name)).id;
  } catch (e) {
    if (isBerthError(e, 'BERTH_ERR_NOT_FOUND')) return undefined;
    throw e;
  }
}
