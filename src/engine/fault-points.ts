// TEST-ONLY fault injection: named points in berthd's create/start/stop/exit/remove paths, the
// metadata writes, shim start and network attach, where berthd SIGKILLs itself when the environment
// asks it to (test/integration/engine-faults.test.ts). `BERTH_FAULT_POINT=<name>` kills at the first
// time <name> is reached, `<name>@<n>` at the n-th. Unset (always, outside that test), faultPoint is
// an empty function chosen once at load: no lookup, no allocation per call.
// Owns: the point names' meaning (a point is reached *after* the step it names is done).
// Must never: be set in production, change behaviour in any other way, or be read by anything but berthd.

export type FaultPointName =
  | 'create.dir-made'
  | 'create.config-written'
  | 'create.snapshot-prepared'
  | 'create.recorded'
  | 'start.rootfs-mounted'
  | 'start.netns-created'
  | 'start.network-attached'
  | 'start.config-written'
  | 'runtime.cgroups-made'
  | 'runtime.init-ready'
  | 'runtime.state-recorded'
  | 'shim.init-recorded'
  | 'shim.started'
  | 'start.runtime-started'
  | 'start.recorded'
  | 'stop.marked'
  | 'stop.signalled'
  | 'exit.runtime-deleted'
  | 'exit.shim-stopped'
  | 'exit.network-released'
  | 'exit.unmounted'
  | 'exit.recorded'
  | 'remove.killed'
  | 'remove.runtime-deleted'
  | 'remove.snapshot-removed'
  | 'remove.dir-removed'
  | 'remove.recorded'
  | 'metadata.insert'
  | 'metadata.update'
  | 'metadata.delete'
  | 'network.attached'
  | 'network.detached'
  | 'connect.recorded'
  | 'connect.attached'
  | 'disconnect.recorded'
  | 'disconnect.detached'
  | 'pod.recorded'
  | 'pod.netns-created'
  | 'pod.network-attached'
  | 'pod.pause-started'
  | 'pod.ready';

function parse(spec: string): { name: string; at: number } {
  const m = /^(.+?)(?:@(\d+))?$/.exec(spec.trim());
  return { name: m?.[1] ?? spec, at: Math.max(1, Number(m?.[2] ?? 1)) };
}

function armed(spec: string): (name: FaultPointName) => void {
  const target = parse(spec);
  let hits = 0;
  return (name) => {
    if (name !== target.name || ++hits < target.at) return;
    process.stderr.write(`berthd[${process.pid}]: fault point ${name}@${hits} reached: SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}

const SPEC = process.env.BERTH_FAULT_POINT;

/** True only under the fault test: callers that would build a name per call check it first. */
export const faultPointsArmed = SPEC !== undefined && SPEC !== '';

/** Test-only: SIGKILLs berthd here when BERTH_FAULT_POINT names this point; nothing otherwise. */
export const faultPoint: (name: FaultPointName) => void = SPEC ? armed(SPEC) : () => {};
