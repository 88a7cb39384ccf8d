// Unpacks an image whose layers are already in the content store (load, import) into snapshots
// named by chain ID, bottom-up; a stack already unpacked is skipped. A layer is committed only
// after its DiffID matches config.rootfs.diff_ids[i]; a refused layer leaves no snapshot behind.
// (pull has its own unpacker that works while downloading.) Must never mount anything.
import { randomBytes } from 'node:crypto';
import { checkLayerTypes } from '../archive/decompress.ts';
import { relocateImplicitDirs } from '../archive/lower-symlinks.ts';
import type { ContentStore } from '../content/content-store.ts';
import { failedPrecondition } from '../errors/errors.ts';
import type { Descriptor } from '../oci/image-spec.ts';
import { chainIds } from '../snapshots/chain-id.ts';
import type { ApplyLayerFn, UnpackSnapshotter } from './pull.ts';

export async function unpackStored(
  name: string,
  layers: Descriptor[],
  diffIds: string[],
  content: ContentStore,
  unpack: { snapshotter: UnpackSnapshotter; applyLayer: ApplyLayerFn },
): Promise<string | undefined> {
  const { snapshotter, applyLayer } = unpack;
  checkLayerTypes(name, layers);
  const chain = chainIds(diffIds);
  const exists = (k: string) =>
    snapshotter.stat(k).then(
      () => true,
      () => false,
    );
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const chainId = chain[i]!;
    if (await exists(chainId)) continue;
    const key = `extract-${randomBytes(6).toString('hex')}-${chainId}`;
    await snapshotter.prepare(key, i > 0 ? chain[i - 1] : undefined, { labels: { 'berth.io/layer': layer.digest } });
    try {
      const context = `image ${name} layer ${layer.digest}`;
      const targetDir = await snapshotter.upperDir(key);
      const { diffId, implicitDirs } = await applyLayer(await content.read(layer.digest), {
        mediaType: layer.mediaType,
        targetDir,
        format: snapshotter.applyFormat ?? 'overlay',
        context,
      });
      if (diffId !== diffIds[i])
        throw failedPrecondition(
          `${context}: uncompressed digest ${diffId} does not match config.rootfs.diff_ids[${i}] ${diffIds[i]}`,
        );
      // Overlay format: directories made in passing where a lower layer has a symlink move to its target.
      if (i > 0 && implicitDirs && snapshotter.lowerDirs)
        await relocateImplicitDirs(targetDir, implicitDirs, await snapshotter.lowerDirs(chain[i - 1]!), context);
      await snapshotter.commit(chainId, key, { labels: { 'berth.io/layer': layer.digest } });
    } catch (e) {
      await snapshotter.remove(key).catch(() => {});
      // Another unpack of the same layers may have committed this chain ID meanwhile.
      if (!(await exists(chainId))) throw e;
    }
  }
  return chain.at(-1);
}
