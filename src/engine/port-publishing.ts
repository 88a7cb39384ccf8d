// Published ports: which host port a `-p CONTAINER_PORT` (host port 0) gets at start, and how the
// mappings look while the container runs (ps's PORTS, inspect's NetworkSettings.Ports).
import { allocateHostPort, hostPortFree } from '../network/port-allocator.ts';
import type { Container, ContainerContext } from './container-context.ts';
import type { PortBindings, PortMapping } from './types.ts';

/**
 * The mappings to publish now. Host port 0 (`-p 80`, `-P`) becomes the port this container was
 * given before, while it is still free on the host (restarts keep their port), else a new one from
 * the ephemeral range; a host port range (`-p 8000-8010:80`) likewise, from the range. The choice is
 * recorded in the metadata database before it is published (claimPort: one container per host
 * port, even against a concurrent start). The rows go with the container.
 */
export async function allocatePorts(ctx: ContainerContext, c: Container, ports: PortMapping[]): Promise<PortMapping[]> {
  const picked = (p: PortMapping) => p.hostPort === 0 || p.hostPortEnd !== undefined;
  if (!ports.some(picked)) return ports;
  const mine = ctx.store.portAllocations(c.id);
  const out: PortMapping[] = [];
  for (const p of ports) {
    if (!picked(p)) {
      out.push(p);
      continue;
    }
    const { hostPortEnd, ...base } = p;
    const range: [number, number] | undefined = hostPortEnd === undefined ? undefined : [p.hostPort, hostPortEnd];
    const inRange = (x: number) => !range || (x >= range[0] && x <= range[1]);
    const prev = mine.find(
      (a) =>
        a.containerPort === p.containerPort &&
        a.protocol === p.protocol &&
        a.hostIP === p.hostIP &&
        inRange(a.hostPort),
    );
    if (prev && (await hostPortFree(p.hostIP, prev.hostPort, p.protocol))) {
      out.push({ ...base, hostPort: prev.hostPort });
      continue;
    }
    for (;;) {
      const taken = takenPorts(ctx, p.protocol, out);
      const hostPort = await allocateHostPort({
        taken: (x) => taken.has(x),
        free: (x) => hostPortFree(p.hostIP, x, p.protocol),
        // docker takes the first free port of a range; the ephemeral range is scanned from a random point.
        ...(range ? { range, start: range[0], rangeName: `the host port range ${range[0]}-${range[1]} of -p` } : {}),
      });
      if (
        ctx.store.claimPort({
          containerId: c.id,
          containerPort: p.containerPort,
          protocol: p.protocol,
          hostIP: p.hostIP,
          hostPort,
        })
      ) {
        out.push({ ...base, hostPort });
        break;
      }
    }
  }
  return out;
}

/** Host ports of `protocol` berth already hands out: allocations, and every container's explicit -p H:C. */
function takenPorts(ctx: ContainerContext, protocol: string, alsoThese: PortMapping[]): Set<number> {
  const taken = new Set(
    ctx.store
      .portAllocations()
      .filter((a) => a.protocol === protocol)
      .map((a) => a.hostPort),
  );
  for (const c of ctx.store.listContainers()) {
    for (const p of c.config.request.ports ?? [])
      if (p.hostPort !== 0 && p.hostPortEnd === undefined && p.protocol === protocol) taken.add(p.hostPort);
  }
  for (const p of alsoThese) if (p.protocol === protocol) taken.add(p.hostPort);
  return taken;
}

/** The mappings the container's attachments published (allocated host ports filled in). */
export function livePorts(ctx: ContainerContext, id: string): PortMapping[] {
  return ctx.store.attachments(id).flatMap((a) =>
    ((a.result as { portMappings?: PortMapping[] }).portMappings ?? []).map((p) => ({
      ...p,
      hostIP: p.hostIP === '' ? '0.0.0.0' : p.hostIP,
    })),
  );
}

/** docker's NetworkSettings.Ports: every requested port, with its host bindings as published. Pure. */
export function portBindings(requested: readonly PortMapping[], live: readonly PortMapping[]): PortBindings {
  const out: PortBindings = {};
  for (const p of requested) out[`${p.containerPort}/${p.protocol}`] ??= null;
  for (const p of live) {
    const k = `${p.containerPort}/${p.protocol}`;
    out[k] = [...(out[k] ?? []), { hostIp: p.hostIP, hostPort: String(p.hostPort) }];
  }
  return out;
}
