// `update`: new resource limits and restart policy of an existing container (docker update, the
// CRI's UpdateContainerResources). The values are checked by the create rules (buildSpec on a
// throwaway request), applied to the running task's cgroup through its runtime, then recorded in
// the container's row (request, spec and restart policy in one write) so inspect shows them and the
// next start uses them.
// Must never: record a value the runtime refused (the row is written after the cgroup change).
import { invalidArgument } from '../errors/errors.ts';
import type { LinuxResources } from '../oci/runtime-spec.ts';
import { mergeResources } from '../runtime/runtime.ts';
import type { ContainerContext } from './container-context.ts';
import { parseRestartPolicy } from './restart-policy.ts';
import { buildSpec } from './spec-builder.ts';
import type { CreateRequest, UpdateRequest } from './types.ts';

const RESOURCE_FIELDS = ['memory', 'memorySwap', 'cpus', 'cpuShares', 'cpusetCpus', 'cpusetMems', 'pidsLimit'] as const;

export async function updateContainer(ctx: ContainerContext, id: string, u: UpdateRequest): Promise<void> {
  const given: Partial<CreateRequest> = {};
  for (const k of RESOURCE_FIELDS) if (u[k] !== undefined) (given as Record<string, unknown>)[k] = u[k];
  // A swap limit is checked against the memory limit: the recorded one when this update keeps it.
  if (given.memorySwap !== undefined && given.memory === undefined)
    given.memory = ctx.store.getContainer(id).config.request.memory;
  // A throwaway spec built by the create rules: the same validation and the same OCI shapes.
  const change: LinuxResources = Object.keys(given).length
    ? (buildSpec({ id, request: { image: '-', cmd: ['-'], ...given }, image: {} }).linux!.resources ?? {})
    : {};
  const restart = u.restart === undefined ? undefined : parseRestartPolicy(u.restart);
  await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    if (restart && restart.name !== 'no' && c.config.request.autoRemove)
      throw invalidArgument(
        `update: --restart ${u.restart} conflicts with --rm: a removed container cannot be restarted`,
      );
    if (Object.keys(change).length && (c.status === 'running' || c.status === 'paused'))
      await ctx.runtime(c.runtime).update(id, change);
    const spec = structuredClone(c.config.spec);
    if (spec.linux) spec.linux.resources = mergeResources(spec.linux.resources ?? {}, change);
    const request = { ...c.config.request, ...given, ...(u.restart !== undefined ? { restart: u.restart } : {}) };
    ctx.store.reconfigureContainer(
      id,
      { ...c.config, request, spec },
      restart ? { name: restart.name, max: restart.max } : undefined,
    );
  });
  ctx.o.events.publish('container', 'update', id, {});
}
