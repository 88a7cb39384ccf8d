// Garbage collection across the image stores: content not reachable from an image record (or an
// active lease) is removed, then committed layer snapshots (named by chain ID) that no image needs
// and that no other snapshot builds on. Must never remove a snapshot with children (a container's
// active snapshot keeps its image's layers).
import type { ContentStore, GcResult } from '../content/content-store.ts';
import { parseJSON, parseManifestDocument, validateImageConfig } from '../oci/image-validate.ts';
import { chainIds as chainIdsOf } from '../snapshots/chain-id.ts';
import type { ImageStore } from './image-store.ts';

export type GcSnapshotter = {
  list(): Promise<{ name: string; parent?: string; kind: string }[]>;
  remove(key: string): Promise<void>;
};

export type ImageGcResult = GcResult & { removedSnapshots: string[] };

export async function gcImages(opts: { images: ImageStore; content: ContentStore; snapshotter?: GcSnapshotter }): Promise<ImageGcResult> {
  const records = await opts.images.list();
  const result = await opts.content.gc(records.map((r) => r.target));
  const removedSnapshots: string[] = [];
  if (opts.snapshotter) {
    const keep = new Set<string>();
    for (const digest of await opts.content.reachable(records.map((r) => r.target))) {
      const bytes = await opts.content.readAll(digest).catch(() => undefined);
      if (bytes?.[0] !== 0x7b) continue;
      try {
        const doc = parseManifestDocument(bytes);
        if (doc.kind !== 'manifest') continue;
        const cfg = validateImageConfig(parseJSON(await opts.content.readAll(doc.manifest.config.digest), 'config'));
        for (const c of chainIdsOf(cfg.rootfs.diff_ids)) keep.add(c);
      } catch {
        // Not a manifest (a config or a JSON layer): nothing to keep for it.
      }
    }
    // Children first: repeat until no removable leaf is left.
    for (;;) {
      const snaps = await opts.snapshotter.list();
      const parents = new Set(snaps.map((s) => s.parent).filter((p): p is string => p !== undefined));
      const victims = snaps.filter((s) => s.kind === 'committed' && s.name.startsWith('sha256:') && !keep.has(s.name) && !parents.has(s.name));
      if (victims.length === 0) break;
      for (const v of victims) {
        await opts.snapshotter.remove(v.name);
        removedSnapshots.push(v.name);
      }
    }
  }
  return { ...result, removedSnapshots };
}
