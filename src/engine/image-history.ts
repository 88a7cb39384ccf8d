// `history`: an image's history from its config, newest first, as docker's shows it: each entry of
// config.history, the layer it made (empty_layer entries made none) with that layer's size, and
// the image's id and names on the newest. A config without history (an import) gives one entry
// per layer, with what is known.
// Must never: read layers (sizes are the manifest's).
import type { ImageService } from '../images/image-service.ts';
import type { History } from '../oci/image-spec.ts';

export type HistoryEntry = {
  id: string;
  created: string;
  createdBy: string;
  size: number;
  comment: string;
  author: string;
  emptyLayer: boolean;
  tags: string[];
};

export async function imageHistory(images: ImageService, word: string): Promise<HistoryEntry[]> {
  const d = await images.inspect(word);
  const layers = d.manifest.layers;
  const hist: History[] = d.config.history?.length
    ? d.config.history
    : layers.map(() => ({ ...(d.config.created ? { created: d.config.created } : {}) }));
  const out: HistoryEntry[] = [];
  let li = 0;
  for (const h of hist) {
    const empty = h.empty_layer === true;
    const layer = empty ? undefined : layers[li++];
    out.push({
      id: '<missing>',
      created: h.created ?? '',
      createdBy: h.created_by ?? '',
      size: layer?.size ?? 0,
      comment: h.comment ?? '',
      author: h.author ?? '',
      emptyLayer: empty,
      tags: [],
    });
  }
  out.reverse();
  if (out[0]) {
    out[0].id = d.target.digest;
    out[0].tags = (await images.list())
      .filter((i) => i.digest === d.target.digest)
      .map((i) => `${i.repository}:${i.tag}`);
  }
  return out;
}
