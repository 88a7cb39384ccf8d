// `docker system df` and the prunes: GET /system/df (docker's lists, which the CLI sums), and
// POST /containers/prune, /images/prune, /build/prune (what `docker system prune` calls besides the
// network and volume prunes). Each prune is the engine's own removal.
import { containerSizes, volumeSizes } from '../engine/disk-sizes.ts';
import { pruneContainers } from '../engine/system-prune.ts';
import { containerListEntries } from './containers.ts';
import { refused } from './errors.ts';
import { familiar, imageListEntries } from './images.ts';
import { filters } from './query.ts';
import type { DockerRouter } from './server.ts';

export function systemDfRoutes(r: DockerRouter): void {
  r.on('GET', '/system/df', async (c) => {
    const images = await imageListEntries(c.engine, c.version, {});
    const containers = await containerListEntries(c.engine, { all: true, filters: {} });
    const [imageSizes, sizes, volumeSize] = await Promise.all([
      c.engine.images.imageSizes(),
      containerSizes(
        c.engine,
        containers.map((x) => String(x.Id)),
      ),
      volumeSizes(c.engine),
    ]);
    for (const img of images) {
      img.Containers = containers.filter((x) => x.ImageID === img.Id).length;
      const s = imageSizes.get(String(img.Id));
      // Content bytes, as `images` counts them; SharedSize: the part another image ID reaches too.
      if (s) [img.Size, img.SharedSize] = [s.size, s.shared];
    }
    const usage = await c.engine.images.diskUsage();
    return {
      LayersSize: usage.content.bytes,
      Images: images,
      Containers: containers.map((x) => ({
        ...x,
        SizeRw: sizes.get(String(x.Id))?.rw ?? 0,
        SizeRootFs: sizes.get(String(x.Id))?.rootFs ?? 0,
      })),
      Volumes: c.engine.volumes.list().map((v) => ({
        Name: v.name,
        Driver: v.driver,
        Mountpoint: v.mountpoint,
        CreatedAt: v.createdAt,
        Labels: v.labels,
        Scope: 'local',
        Options: {},
        UsageData: { Size: volumeSize.get(v.name) ?? -1, RefCount: v.usedBy.length },
      })),
      BuildCache: [],
    };
  });

  r.on('POST', '/containers/prune', async (c) => ({
    ContainersDeleted: await pruneContainers(c.engine, filters(c.query)),
    SpaceReclaimed: 0,
  }));

  r.on('POST', '/images/prune', async (c) => {
    // dangling, until, label, label!: the engine's (src/images/prune-filter.ts), in dockerd's words.
    const res = await c.engine.images.prune({ filters: filters(c.query) });
    for (const n of res.untagged) c.engine.events.publish('image', 'untag', n, {});
    return {
      ImagesDeleted: [
        ...res.untagged.map((n) => ({ Untagged: familiar(n) })),
        ...res.removed.map((d) => ({ Deleted: d })),
      ],
      SpaceReclaimed: res.freedBytes,
    };
  });

  r.on('POST', '/build/prune', async (c) => {
    const f = filters(c.query);
    if (Object.keys(f).length) throw refused('builder prune --filter', 'berthd forgets the whole build cache');
    const res = await c.engine.builder.prune();
    return { CachesDeleted: res.entries ? [`${res.entries} cache entries`] : [], SpaceReclaimed: 0 };
  });
}
