// The second half of metadata migration 7 (src/metadata/migrations.ts): containers made before it
// recorded their image's manifest digest as image_id; the image ID is the config digest, which only
// the content store knows. Run at every start; it touches only rows not yet backfilled, each in its
// own statement, so a crash part-way leaves the rest for the next start.
import type { ImageService } from '../images/image-service.ts';
import type { MetadataStore } from '../metadata/metadata-store.ts';

/** Backfills each row whose content is still stored; returns the ids of the containers updated. */
export async function backfillImageIds(store: MetadataStore, images: ImageService): Promise<string[]> {
  const done: string[] = [];
  for (const row of store.imageIdsToBackfill()) {
    const id = await images.imageIdOf(row.imageDigest);
    if (!id) continue; // the image's manifest is gone: the row keeps the manifest digest
    store.setImageId(row.id, id);
    done.push(row.id);
  }
  return done;
}
