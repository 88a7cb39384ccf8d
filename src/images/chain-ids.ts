// Chain IDs as the image spec defines them: ChainID(L0) = DiffID(L0); ChainID(L0|…|Ln) =
// sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln)). Snapshots of unpacked layers are named by them.
// (The unpack helper's src/snapshots/chain-id.ts defines the same; this copy keeps images/
// buildable on its own and is checked against the spec's rule by its test.)
import { createHash } from 'node:crypto';

export function chainIdsOf(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out.at(-1);
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}
