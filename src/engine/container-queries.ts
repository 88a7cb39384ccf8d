// What berthd answers about containers without changing them: resolve a word to a row, list (ps,
// with filters), inspect, and the ports a container publishes. Data only: the words a person
// reads ("Up 3 minutes") are the CLI's (src/cli/berth/format.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLive } from '../metadata/container-status.ts';
import type { RuntimeConfig } from '../oci/runtime-spec.ts';
import type { Container, ContainerContext } from './container-context.ts';
import { matchesFilters } from './container-filters.ts';
import { probeCommand } from './healthcheck.ts';
import { livePorts, portBindings } from './port-publishing.ts';
import type { ContainerDetails, ContainerFilter, ContainerSummary } from './types.ts';

/** By full id, exact name, or unique id prefix. */
export function resolveContainer(ctx: ContainerContext, word: string): Container {
  return ctx.store.findContainer(word);
}

function summary(ctx: ContainerContext, c: Container): ContainerSummary {
  return {
    id: c.id,
    name: c.name,
    image: c.imageRef,
    imageId: c.imageId,
    command: (c.config.spec.process?.args ?? []).join(' '),
    createdAt: c.createdAt,
    status: c.status,
    restarting: ctx.restartTimers.has(c.id),
    startedAt: c.startedAt,
    finishedAt: c.finishedAt,
    exitCode: c.exitCode,
    labels: c.labels,
    ports: isLive(c.status) ? livePorts(ctx, c.id) : [],
    runtime: c.runtime,
    ...(c.config.request.sandbox ? { pod: c.config.request.sandbox.podId } : {}),
    ...(c.health && probeCommand(c.config.request.healthcheck) ? { health: c.health.status } : {}),
  };
}

/** ps: live containers (all with `all`, or when a status filter is given), newest first. */
export function listContainers(ctx: ContainerContext, f: ContainerFilter = {}): ContainerSummary[] {
  const filters = f.filters ?? {};
  const out: ContainerSummary[] = [];
  for (const c of ctx.store.listContainers()) {
    if (!f.all && !isLive(c.status) && !filters.status) continue;
    if (!matchesFilters(c, filters)) continue;
    out.push(summary(ctx, c));
  }
  return out;
}

export function inspectContainer(ctx: ContainerContext, word: string): ContainerDetails {
  const c = resolveContainer(ctx, word);
  const { request: req, spec } = c.config;
  const networks: Record<string, unknown> = {};
  for (const a of ctx.store.attachments(c.id)) networks[a.network] = a.result;
  return {
    ...summary(ctx, c),
    state: {
      status: c.status,
      running: isLive(c.status),
      paused: c.status === 'paused',
      restarting: ctx.restartTimers.has(c.id),
      oomKilled: c.oomKilled,
      pid: c.pid,
      shimPid: c.shimPid,
      exitCode: c.exitCode,
      error: c.error,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      ...(c.health && probeCommand(req.healthcheck) ? { health: c.health } : {}),
    },
    restartPolicy: { name: c.restartPolicy, maximumRetryCount: c.restartMax },
    restartCount: c.restartCount,
    request: req,
    spec,
    bundle: ctx.dir(c.id),
    rootfs: ctx.rootfs(c.id),
    logPath: ctx.logPath(c.id),
    networks,
    endpoints: ctx.store.endpoints(c.id),
    // Bindings only while the container runs (docker shows none for a stopped one).
    networkSettings: { ports: isLive(c.status) ? portBindings(req.ports ?? [], livePorts(ctx, c.id)) : {} },
    mounts: (req.mounts ?? []).map((m) => ({
      type: m.type,
      source: m.source ?? '',
      destination: m.target,
      readOnly: m.readOnly === true,
      ...(m.propagation ? { propagation: m.propagation } : {}),
      ...(m.recursiveReadOnly ? { recursiveReadOnly: true } : {}),
    })),
  };
}

/**
 * The identity the container's process runs with: uid, gid and supplementary groups as its task's
 * config.json (written at start, after the user was resolved in the image) gives them; undefined
 * before its first start. The CRI's ContainerStatus.user.
 */
export function processUser(
  ctx: ContainerContext,
  word: string,
): { uid: number; gid: number; additionalGids: number[] } | undefined {
  const c = resolveContainer(ctx, word);
  if (c.status === 'created') return undefined;
  let spec: RuntimeConfig;
  try {
    spec = JSON.parse(readFileSync(join(ctx.dir(c.id), 'config.json'), 'utf8')) as RuntimeConfig;
  } catch {
    return undefined;
  }
  const u = spec.process?.user;
  return u ? { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids ?? [] } : undefined;
}
