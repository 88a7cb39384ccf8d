// The image service as berthd wires it, for image verbs that run in-process (no berthd answering):
// leases in <root>/berthd.db and that root's containers as gc roots, so `berth rmi` and `image
// prune` without a daemon keep what a stopped container needs, as berthd would.
// Must never: start containers or hold the database past close().
import { join, resolve } from 'node:path';
import { DEFAULT_ROOT, ImageService, type ImageServiceOptions } from '../images/image-service.ts';
import { MetadataStore } from '../metadata/metadata-store.ts';
import { MODES } from './owned-modes.ts';

export async function openImageService(
  opts: Omit<ImageServiceOptions, 'metadata'> = {},
): Promise<{ service: ImageService; close: () => Promise<void> }> {
  const root = resolve(opts.root ?? process.env.BERTH_ROOT_DIR ?? DEFAULT_ROOT);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(root, { recursive: true, mode: MODES.root });
  const metadata = new MetadataStore(join(root, 'berthd.db'));
  try {
    const service = await ImageService.open({ ...opts, root, metadata });
    return {
      service,
      close: async () => {
        await service.close();
        metadata.close();
      },
    };
  } catch (e) {
    metadata.close();
    throw e;
  }
}
