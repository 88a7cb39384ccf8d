// tag: give an existing image another name (same target). Must never copy content.
import { formatReference, parseReference } from '../distribution/reference.ts';
import type { ImageRecord, ImageStore } from './image-store.ts';

export async function tagImage(images: ImageStore, source: string, target: string): Promise<ImageRecord> {
  const src = await images.get(resolveName(source));
  return images.put(resolveName(target), src.target, src.labels);
}

/** A user-typed name (busybox) as stored (docker.io/library/busybox:latest); a stored name as is. */
export function resolveName(name: string): string {
  return formatReference(parseReference(name));
}
