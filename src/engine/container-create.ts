// Creating a container: a create request becomes an overlay snapshot of its image, a bundle
// directory (config.json, the /etc files) and a row. Nothing runs yet (container-start.ts).
// Must never: leave a snapshot or a directory without a row (on failure both go; a crash leaves
// orphans recovery removes).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition, invalidArgument, isBerthError, notFound, unsupported } from '../errors/errors.ts';
import type { ImageService } from '../images/image-service.ts';
import { type ContainerContext, SNAPSHOT_PREFIX } from './container-context.ts';
import { resolveDevices } from './container-devices.ts';
import { checkEndpoint } from './container-connect.ts';
import { resolveMounts } from './container-mounts.ts';
import { generateName } from './container-names.ts';
import { fromImageHealthcheck, mergeHealthConfig } from './healthcheck.ts';
import { checkCreateRequest, checkMacAddress, publishedPorts } from './container-request.ts';
import { writeEtcFiles } from './etc-files.ts';
import { checkNamespaceModes } from './namespace-modes.ts';
import { faultPoint } from './fault-points.ts';
import { checkHugepageLimits } from './hugepages.ts';
import { MODES } from './owned-modes.ts';
import { ownBoundingCaps } from './security-options.ts';
import { buildSpec } from './spec-builder.ts';
import { timingSpan } from './timing.ts';
import type { CreateRequest } from './types.ts';
import type { EndpointRecord } from '../metadata/metadata-store.ts';

/** berthd's own hard RLIMIT_NOFILE: raising a container above it needs CAP_SYS_RESOURCE, which berthd may lack. */
function hostNofile(): number {
  try {
    const m = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m?.[1] === 'unlimited' || !m ? 1048576 : Math.min(1048576, Number(m[1]));
  } catch {
    return 1048576;
  }
}

/** Where docker's packages put their static tini (docker-init), then tini-static; BERTH_INIT_BINARY first. */
const INIT_CANDIDATES = [
  '/usr/bin/docker-init',
  '/usr/libexec/docker/docker-init',
  '/usr/local/bin/docker-init',
  '/usr/bin/tini-static',
  '/usr/local/bin/tini-static',
];

/**
 * The init `--init` bind-mounts into the container: statically linked, since the image may have no
 * libc (a dynamic tini would fail to start in busybox). Unsupported, naming what was looked for,
 * when berthd's host has none.
 */
function initBinary(): string {
  const candidates = [...(process.env.BERTH_INIT_BINARY ? [process.env.BERTH_INIT_BINARY] : []), ...INIT_CANDIDATES];
  for (const p of candidates) if (existsSync(p) && isStaticElf(p)) return p;
  throw unsupported(
    `--init: no statically linked init on berthd's host (looked for ${candidates.join(', ')}; install tini-static, or set BERTH_INIT_BINARY)`,
  );
}

/** An ELF executable without a PT_INTERP program header (no dynamic loader needed). */
function isStaticElf(path: string): boolean {
  try {
    const b = readFileSync(path);
    if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
    const phoff = Number(b.readBigUInt64LE(32));
    const phentsize = b.readUInt16LE(54);
    const phnum = b.readUInt16LE(56);
    for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return false;
    return true;
  } catch {
    return false;
  }
}

export async function createContainer(
  ctx: ContainerContext,
  req: CreateRequest,
): Promise<{ id: string; name: string; warnings: string[] }> {
  const restart = checkCreateRequest(req);
  checkNamespaceModes(req);
  const runtimeName = req.runtime ?? ctx.o.defaultRuntime;
  const rt = ctx.runtime(runtimeName);
  if (!existsSync(rt.binary)) throw failedPrecondition(`runtime ${runtimeName}: binary ${rt.binary} does not exist`);
  if (req.network && req.network !== 'host' && req.network !== 'none') await ctx.o.network.inspect(req.network);
  await checkFirstEndpoint(ctx, req);
  await checkMoreNetworks(ctx, req);

  const span = timingSpan('create', req.name ?? req.image);
  let image: Awaited<ReturnType<ImageService['inspect']>>;
  try {
    image = await ctx.o.images.inspect(req.image);
  } catch (e) {
    if (isBerthError(e, 'BERTH_ERR_NOT_FOUND'))
      throw notFound(`no such image: ${req.image} (pull or load it first)`, e);
    throw e;
  }
  if (!image.unpacked)
    throw failedPrecondition(`image ${image.name} is not unpacked; pull it again to unpack its layers`);
  const ports = publishedPorts(req, image.config.config?.ExposedPorts);
  // Until the row exists, nothing else holds the image: a lease keeps an rmi -f plus prune from
  // collecting its content (its layers are kept by the snapshot prepared on them).
  const release = await ctx.o.images.lease('create', [image.target.digest]);
  span.mark('image resolved');

  const id = randomBytes(32).toString('hex');
  const name = req.name ?? generateName((n) => ctx.namesInFlight.has(n) || nameTaken(ctx, n));
  // A generated name is free in the store but not yet in it: other creates under way must not
  // draw it too.
  ctx.namesInFlight.add(name);
  const dir = ctx.dir(id);
  const snapshotKey = `${SNAPSHOT_PREFIX}${id}`;
  // An anonymous volume (-v /path) gets its name now, so that the row says which volume it is.
  const mounts = req.mounts?.map((m) =>
    m.type === 'volume' && !m.source ? { ...m, source: randomBytes(32).toString('hex'), anonymous: true } : m,
  );
  // The image's USER, when it names a user, is resolved in the rootfs at start like -u: the
  // request carries it so that start and exec see it (as docker's Config.User shows it).
  const imageUser = image.config.config?.User;
  const user = req.user === undefined && imageUser ? { user: imageUser } : {};
  const hugepageLimits = checkHugepageLimits(req.hugepageLimits);
  const { hugepageLimits: _asked, healthcheck: _own, ...rest } = req;
  // The image's HEALTHCHECK fills what the request leaves unset; the row keeps the merged one, which runs.
  const healthcheck = mergeHealthConfig(
    req.healthcheck,
    fromImageHealthcheck((image.config.config as { Healthcheck?: unknown } | undefined)?.Healthcheck),
  );
  // berthd's default IPC mode is recorded, as dockerd's: a later default does not change the container.
  const ipcMode = !req.sandbox && !req.ipcMode && ctx.o.defaultIpcMode === 'shareable' ? { ipcMode: 'shareable' } : {};
  const request: CreateRequest = {
    ...rest,
    ...ipcMode,
    ...(hugepageLimits.length ? { hugepageLimits } : {}),
    name,
    ...user,
    ...(ports.length ? { ports } : {}),
    ...(mounts ? { mounts } : {}),
    ...(healthcheck ? { healthcheck } : {}),
  };
  let prepared = false;
  try {
    await mkdir(join(dir, 'rootfs'), { recursive: true, mode: MODES.containerDir });
    faultPoint('create.dir-made');
    // The bundle's files and the snapshot are independent: made at once (a crash leaves either or
    // both without a row, which recovery removes).
    const snapshot = ctx.o.images.snapshotter
      .prepare(snapshotKey, image.chainId, { labels: { 'berth.container': id } })
      .then(() => {
        prepared = true;
        faultPoint('create.snapshot-prepared');
        span.mark('snapshot prepared');
      });
    const bundle = (async () => {
      const etcFiles = await writeEtcFiles(
        dir,
        req.hostname ?? id.slice(0, 12),
        req.network,
        req.extraHosts ?? [],
        req.dns ?? {},
      );
      const resolved = await resolveMounts(
        request.mounts ?? [],
        async (v) => (await ctx.o.volumes.ensure(v)).mountpoint,
      );
      const devices =
        req.devices?.length || req.cdiDevices?.length || req.security?.privileged
          ? await resolveDevices(req, ctx.o.cdiSpecDirs)
          : undefined;
      // CDI's additional groups join the request's, which start adds to the user's own.
      if (devices?.additionalGids.length)
        request.security = {
          ...request.security,
          groups: [...new Set([...(request.security?.groups ?? []), ...devices.additionalGids])],
        };
      const spec = buildSpec({
        id,
        request,
        ...(devices ? { devices } : {}),
        image: image.config.config ?? {},
        etcFiles,
        mounts: resolved,
        nofile: hostNofile(),
        boundingCaps: ownBoundingCaps(),
        ...(req.init ? { initBinary: initBinary() } : {}),
      });
      await writeFile(join(dir, 'config.json'), JSON.stringify(spec, null, 2), { mode: MODES.spec });
      faultPoint('create.config-written');
      span.mark('dir, etc files, spec, config.json');
      return spec;
    })();
    const [snap, made] = await Promise.allSettled([snapshot, bundle]);
    if (made.status === 'rejected') throw made.reason;
    if (snap.status === 'rejected') throw snap.reason;
    ctx.store.insertContainer(
      {
        id,
        name,
        imageRef: req.image,
        imageId: image.id,
        imageDigest: image.target.digest,
        config: { request, spec: made.value },
        labels: req.labels ?? {},
        runtime: runtimeName,
        snapshotKey,
        createdAt: new Date().toISOString(),
        restartPolicy: restart.name,
        restartMax: restart.max,
      },
      initialEndpoints(ctx, req),
    );
  } catch (e) {
    if (prepared) await ctx.o.images.snapshotter.remove(snapshotKey).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw e;
  } finally {
    ctx.namesInFlight.delete(name);
    await release();
  }
  faultPoint('create.recorded');
  span.mark(`row inserted (id ${id.slice(0, 12)})`);
  ctx.o.events.publish('container', 'create', id, { name, image: req.image, ...(req.labels ?? {}) });
  return { id, name, warnings: [] };
}

/**
 * The first network's endpoint, checked as a connect to it is (the others are in checkMoreNetworks):
 * the default network takes no --network-alias and no --ip, a user network's --ip lies in its subnet.
 */
async function checkFirstEndpoint(ctx: ContainerContext, req: CreateRequest): Promise<void> {
  const network = req.network ?? ctx.o.network.defaultNetwork;
  if (req.sandbox || network === 'host' || network === 'none' || ctx.o.network.name === 'none') return;
  await checkEndpoint(
    ctx,
    network,
    {
      ...(req.aliases?.length ? { aliases: req.aliases } : {}),
      ...(req.ipv4Address !== undefined ? { ipv4Address: req.ipv4Address } : {}),
    },
    'create',
    {
      aliases: '--network-alias (aliases)',
      ipv4Address: '--ip (ipv4Address)',
      macAddress: '--mac-address (macAddress)',
    },
  );
}

/**
 * The networks of a create beyond its first (`req.networks`): each exists and takes its aliases and
 * address as a connect's would; none is named twice, and none joins a container on host or none
 * (docker's words for a connect, its CLI's for a name given twice).
 */
async function checkMoreNetworks(ctx: ContainerContext, req: CreateRequest): Promise<void> {
  if (req.networks === undefined) return;
  if (!Array.isArray(req.networks))
    throw invalidArgument('networks: expected a list of {network, aliases?, ipv4Address?}');
  if (req.networks.length === 0) return;
  const first = req.network ?? ctx.o.network.defaultNetwork;
  if (req.sandbox || first === 'host')
    throw invalidArgument(
      'container sharing network namespace with another container or host cannot be connected to any other network',
    );
  const seen = new Set([first]);
  for (const [i, ep] of req.networks.entries()) {
    if (typeof ep?.network !== 'string' || ep.network === '')
      throw invalidArgument(`networks[${i}].network: expected a network name`);
    if (ep.network === 'host')
      throw invalidArgument(
        'cannot connect container to host network - container must be created in host network mode',
      );
    if (first === 'none' || ep.network === 'none')
      throw invalidArgument(
        'container cannot be connected to multiple networks with one of the networks in private (none) mode',
      );
    if (seen.has(ep.network)) throw invalidArgument(`network "${ep.network}" is specified multiple times`);
    seen.add(ep.network);
    if (ep.aliases !== undefined && !Array.isArray(ep.aliases))
      throw invalidArgument(`networks[${i}].aliases: expected a list of names`);
    await checkEndpoint(
      ctx,
      ep.network,
      {
        ...(ep.aliases?.length ? { aliases: ep.aliases } : {}),
        ...(ep.ipv4Address ? { ipv4Address: ep.ipv4Address } : {}),
      },
      'create: networks',
      {
        aliases: `--network name=${ep.network},alias (networks[${i}].aliases)`,
        ipv4Address: `--network name=${ep.network},ip (networks[${i}].ipv4Address)`,
        macAddress: `--network name=${ep.network},mac-address (networks[${i}].macAddress)`,
      },
    );
  }
}

/**
 * The networks a container joins at create, in order: its network (the default one when none is
 * named), then `networks`; none on host, none or in a pod. `network connect` adds more later.
 */
function initialEndpoints(ctx: ContainerContext, req: CreateRequest): EndpointRecord[] {
  const network = req.network ?? ctx.o.network.defaultNetwork;
  if (req.sandbox || network === 'host' || network === 'none' || ctx.o.network.name === 'none') return [];
  return [
    {
      network,
      aliases: [...new Set(req.aliases ?? [])],
      ipv4Address: req.ipv4Address ?? '',
      ...(req.macAddress ? { macAddress: checkMacAddress(req.macAddress, '--mac-address (macAddress)') } : {}),
    },
    ...(req.networks ?? []).map((ep, i) => ({
      network: ep.network,
      aliases: [...new Set(ep.aliases ?? [])],
      ipv4Address: ep.ipv4Address ?? '',
      ...(ep.macAddress ? { macAddress: checkMacAddress(ep.macAddress, `networks[${i}].macAddress`) } : {}),
    })),
  ];
}

function nameTaken(ctx: ContainerContext, name: string): boolean {
  try {
    ctx.store.findContainer(name);
    return true;
  } catch {
    return false;
  }
}
