// Chain IDs as the OCI image spec defines them (config.md, "Layer ChainID"): the identity of a
// stack of layers, used as the name of the committed snapshot holding that stack.
//   ChainID(L0) = DiffID(L0)
//   ChainID(L0|…|Ln) = sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln))
// Must never: accept something that is not a digest (it would name a snapshot).
import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors/errors.ts';

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The chain ID of every prefix of `diffIds`: result[i] names the stack of layers 0..i. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  diffIds.forEach((d, i) => {
    if (!DIGEST.test(d))
      throw invalidArgument(`diff_ids[${i}]: ${JSON.stringify(d)} is not a digest (expected algorithm:hex)`);
    const prev = out[i - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  });
  return out;
}
