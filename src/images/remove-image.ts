// rmi: remove an image name. Content and snapshots stay until gc (gcImages), since another name
// may share them. Must never delete content itself.
import type { ImageStore } from './image-store.ts';
import { resolveName } from './tag-image.ts';

export async function removeImage(images: ImageStore, name: string): Promise<void> {
  await images.delete(resolveName(name));
}
