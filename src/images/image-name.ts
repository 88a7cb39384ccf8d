// Image names as the image store keeps them: what a user types (busybox) made whole
// (docker.io/library/busybox:latest), by the distribution reference rules.
import { formatReference, parseReference } from '../distribution/reference.ts';

/** A user-typed name (busybox) as stored (docker.io/library/busybox:latest); a stored name as is. */
export function resolveName(name: string): string {
  return formatReference(parseReference(name));
}
