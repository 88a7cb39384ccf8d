// The builder's StepRunner over the engine's container service: a RUN step is a container made,
// started and waited for as any other (same runtime, mounts and default network; `--network=none`
// honoured), whose overlay upper directory is handed to the builder after a zero exit, and which is
// removed in every case, so that a failed build leaves no container and no snapshot.
// Must never: touch the container service's internals (it is used only through its public methods).
import type { Duplex } from 'node:stream';
import type { RunStepRequest, StepRunner } from '../build/builder.ts';
import { TMP_REPOSITORY } from '../build/tmp-repository.ts';

export type { BuildEvent, BuildOptions, BuildResult } from '../build/builder.ts';
import { unsupported } from '../errors/errors.ts';
import type { ImageService } from '../images/image-service.ts';
import type { MetadataStore } from '../metadata/metadata-store.ts';
import { FrameDecoder, FrameType } from '../shim/frames.ts';
import type { ContainerService } from './container-service.ts';

export class ContainerStepRunner implements StepRunner {
  readonly #containers: ContainerService;
  readonly #store: MetadataStore;
  readonly #images: ImageService;

  constructor(containers: ContainerService, store: MetadataStore, images: ImageService) {
    this.#containers = containers;
    this.#store = store;
    this.#images = images;
  }

  async run<T>(
    req: RunStepRequest,
    collect: (diff: { upperDir: string; skip: Set<string> }) => Promise<T>,
  ): Promise<{ exitCode: number; result?: T }> {
    // A copying snapshotter's directory is the whole root filesystem, not a diff: deletions would be lost.
    if (this.#images.snapshotterName !== 'overlay')
      throw unsupported(
        `RUN needs the overlay snapshotter (this root uses ${this.#images.snapshotterName}): its upper directory is the step's filesystem diff`,
      );
    const { id } = await this.#containers.create({
      image: req.image,
      cmd: req.argv,
      entrypoint: [],
      env: req.env,
      labels: { 'berth.build': 'run' },
      // A step is not probed: an image's HEALTHCHECK is for the containers run from the result.
      healthcheck: { test: ['NONE'] },
      ...(req.mounts && req.mounts.length > 0 ? { mounts: req.mounts } : {}),
      // Given explicitly: the engine resolves a user name of the request at start (and only a numeric one of the image's config).
      ...(req.user ? { user: req.user } : {}),
      ...(req.network === 'default' ? {} : { network: req.network }),
    });
    try {
      const stream = await this.#containers.startAttached(id);
      const output = drain(stream, req.onOutput);
      const exit = await this.#containers.wait(id);
      await output;
      stream.destroy();
      if (exit.exitCode !== 0) return { exitCode: exit.exitCode };
      const rec = this.#store.getContainer(id);
      const upperDir = await this.#images.snapshotter.upperDir(rec.snapshotKey);
      // The runtime's mount points (/proc, /dev, /etc/hosts…) are not the command's changes.
      const spec = this.#containers.inspect(id).spec as { mounts?: { destination: string }[] };
      const skip = new Set(
        (spec.mounts ?? []).map((m) => m.destination.replace(/^\/+/, '').replace(/\/+$/, '')).filter((d) => d !== ''),
      );
      return { exitCode: 0, result: await collect({ upperDir, skip }) };
    } finally {
      await this.#containers.remove(id, { force: true }).catch(() => {});
    }
  }
}

/** Passes stdout and stderr frames on until the shim closes the stream (the process exited). */
function drain(stream: Duplex, onOutput: (chunk: Buffer) => void): Promise<void> {
  const dec = new FrameDecoder();
  return new Promise<void>((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      for (const f of dec.push(chunk)) {
        if (f.type === FrameType.Stdout || f.type === FrameType.Stderr) onOutput(Buffer.from(f.payload));
        // The shim sends Exit after the last output: everything the step printed has come.
        if (f.type === FrameType.Exit) resolve();
      }
    });
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
    // The supervisor hands the socket over paused (the ATTACHED frame put back): a listener alone does not resume it.
    stream.resume();
  });
}

/**
 * What a build under way when berthd died left: its RUN container (labelled berth.build) and its
 * temporary image names. Its blobs are under a lease of a dead process, which recovery releases.
 */
export async function removeBuildLeftovers(containers: ContainerService, images: ImageService): Promise<string[]> {
  const removed: string[] = [];
  for (const c of containers.list({ all: true })) {
    if (c.labels['berth.build'] === undefined) continue;
    await containers.remove(c.id, { force: true });
    removed.push(`container ${c.id.slice(0, 12)}`);
  }
  for (const r of await images.images.list()) {
    if (!r.name.startsWith(`${TMP_REPOSITORY}:`)) continue;
    await images.images.delete(r.name);
    removed.push(`image name ${r.name}`);
  }
  return removed;
}
