// `commit`: a container's writable layer (its overlay upper directory, read as a layer tar by the
// builder's overlayDiffEntries) as a new image on top of the container's image: the layer, a config
// with a history entry (author, message) and `changes` applied (docker's commit --change: CMD,
// ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL, ONBUILD), a manifest, the
// name, and the layer unpacked so the image runs at once. A running container is paused for the
// time of the diff (docker's default; `pause: false` reads it live).
// Must never: leave a container paused that was running; pin anything after it returns (the lease goes).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseInstructions } from '../build/instructions.ts';
import { overlayDiffEntries, storeLayer } from '../build/layer-tar.ts';
import { writeBlob } from '../content/write-blob.ts';
import { invalidArgument } from '../errors/errors.ts';
import { PARENT_LABEL, UNNAMED_REPOSITORY } from '../images/image-service.ts';
import { resolveName } from '../images/image-name.ts';
import { type ImageConfig, type ImageManifest, MediaType } from '../oci/image-spec.ts';
import { selfIdentity } from '../sys/procfs.ts';
import type { ContainerContext } from './container-context.ts';
import { overlayLayers } from './container-changes.ts';
import { pauseContainer, unpauseContainer } from './container-pause.ts';

export type CommitRequest = {
  /** The new image's name (repository[:tag]); an unnamed image without it. */
  ref?: string;
  /** The history entry's comment (docker's -m). */
  comment?: string;
  author?: string;
  /** Dockerfile instructions applied to the config (docker's -c). */
  changes?: string[];
  /** Pause a running container while its layer is read. Default true. */
  pause?: boolean;
};

export type CommitResult = { id: string; name: string };

type RunConfig = NonNullable<ImageConfig['config']> & Record<string, unknown>;

/** docker's --change: the config instructions only, each as a one-line Dockerfile instruction. */
export function applyChanges(config: ImageConfig, changes: string[]): void {
  config.config ??= {};
  const c = config.config as RunConfig;
  for (const change of changes) {
    let ins: ReturnType<typeof parseInstructions>['stages'][number]['instructions'][number] | undefined;
    try {
      ins = parseInstructions(`FROM scratch\n${change}\n`, 'change').stages[0]!.instructions[0];
    } catch (e) {
      throw invalidArgument(`change ${JSON.stringify(change)}: ${(e as Error).message}`, e);
    }
    if (!ins)
      throw invalidArgument(
        `change ${JSON.stringify(change)}: expected a Dockerfile instruction such as CMD ["sh"] or ENV K=V`,
      );
    const shell = (s: string) => [...(((c as { Shell?: string[] }).Shell ?? ['/bin/sh', '-c']) as string[]), s];
    switch (ins.kind) {
      case 'cmd':
        c.Cmd = 'exec' in ins.command ? ins.command.exec : shell(ins.command.shell);
        break;
      case 'entrypoint':
        c.Entrypoint = 'exec' in ins.command ? ins.command.exec : shell(ins.command.shell);
        break;
      case 'env': {
        const list = [...(c.Env ?? [])];
        for (const { key, value } of ins.pairs) {
          const i = list.findIndex((e) => e.startsWith(`${key}=`));
          if (i >= 0) list[i] = `${key}=${value}`;
          else list.push(`${key}=${value}`);
        }
        c.Env = list;
        break;
      }
      case 'label':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(ins.pairs.map((p) => [p.key, p.value])) };
        break;
      case 'expose':
        c.ExposedPorts = {
          ...(c.ExposedPorts ?? {}),
          ...Object.fromEntries(ins.ports.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])),
        };
        break;
      case 'user':
        c.User = ins.user;
        break;
      case 'workdir':
        c.WorkingDir = ins.path.startsWith('/') ? ins.path : join(c.WorkingDir || '/', ins.path);
        break;
      case 'volume':
        c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries(ins.paths.map((p) => [p, {}])) };
        break;
      case 'stopsignal':
        c.StopSignal = ins.signal;
        break;
      case 'onbuild':
        c.OnBuild = [...((c.OnBuild as string[] | undefined) ?? []), ins.trigger];
        break;
      default:
        throw invalidArgument(
          `change ${JSON.stringify(change)}: ${ins.kind.toUpperCase()} cannot be applied by commit (expected CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR)`,
        );
    }
  }
}

export async function commitContainer(ctx: ContainerContext, id: string, req: CommitRequest): Promise<CommitResult> {
  const name = req.ref ? resolveName(req.ref) : undefined;
  // Checked before anything is paused or written: a bad change fails the commit with nothing done.
  const images = ctx.o.images;
  const c = ctx.store.getContainer(id);
  const base = await images.inspect(c.imageId);
  const config = structuredClone(base.config);
  if (req.changes?.length) applyChanges(config, req.changes);
  const { upper, skip } = await overlayLayers(ctx, id);

  const tmp = join(ctx.o.root, 'tmp');
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  const staging = await mkdtemp(join(tmp, 'commit-'));
  const leaseId = `commit-${process.pid}-${randomBytes(6).toString('hex')}`;
  await images.content.createLease(leaseId, {
    expiresAt: new Date(Date.now() + 6 * 3600 * 1000),
    labels: { what: 'commit', container: id },
    kind: 'build',
    owner: selfIdentity(),
  });
  try {
    for (const l of base.manifest.layers) await images.content.addResource(leaseId, l.digest);
    const paused = req.pause !== false && ctx.store.getContainer(id).status === 'running';
    if (paused) await pauseContainer(ctx, id);
    let layer: Awaited<ReturnType<typeof storeLayer>>;
    try {
      layer = await storeLayer(images.content, leaseId, staging, overlayDiffEntries(upper, skip));
    } finally {
      if (paused)
        await unpauseContainer(ctx, id).catch((e: Error) => ctx.log(`unpause ${id} after commit: ${e.message}`));
    }
    const created = new Date().toISOString();
    config.created = created;
    if (req.author !== undefined) config.author = req.author;
    config.rootfs = { type: 'layers', diff_ids: [...config.rootfs.diff_ids, layer.diffId] };
    config.history = [
      ...(config.history ?? []),
      {
        created,
        ...(req.author ? { author: req.author } : {}),
        created_by: containerCommand(c.config.spec),
        ...(req.comment ? { comment: req.comment } : {}),
      },
    ];
    const cfg = await writeBlob(images.content, JSON.stringify(config));
    await images.content.addResource(leaseId, cfg.digest);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, ...cfg },
      layers: [...base.manifest.layers, layer.descriptor],
    };
    const m = await writeBlob(images.content, JSON.stringify(manifest));
    await images.content.addResource(leaseId, m.digest);
    const target = { mediaType: MediaType.ImageManifest, ...m };
    const [{ unpackStored }, { applyLayer }] = await Promise.all([
      import('../images/unpack-stored.ts'),
      import('../archive/apply-layer.ts'),
    ]);
    await unpackStored(`commit of ${id}`, manifest.layers, config.rootfs.diff_ids, images.content, {
      snapshotter: images.snapshotter,
      applyLayer,
    });
    const finalName = name ?? `${UNNAMED_REPOSITORY}@${target.digest}`;
    // docker's Parent: the image the container was made from.
    await images.images.put(finalName, target, { [PARENT_LABEL]: base.id });
    ctx.o.events.publish('container', 'commit', id, { name: c.name, image: finalName });
    return { id: target.digest, name: finalName };
  } finally {
    await images.content.deleteLease(leaseId).catch(() => {});
    await rm(staging, { recursive: true, force: true });
  }
}

/** What docker's history shows as CREATED BY for a commit: the container's command. */
function containerCommand(spec: unknown): string {
  const args = (spec as { process?: { args?: string[] } } | undefined)?.process?.args ?? [];
  return args.join(' ');
}
