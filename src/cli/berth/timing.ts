// Opt-in timing trace of the berth CLI (BERTH_TRACE_TIMING=1, as berthd's and berth-runtime's):
// `berth timing: <step> <ms since the process began>ms` on stderr, the first line splitting Node's
// own start-up from the loading of berth's modules (docs/engine.md, "Timing trace").
// Unset, `cliMark` is an empty function chosen at load. Must never: change behaviour.

const ON = process.env.BERTH_TRACE_TIMING === '1';

function on(): (step: string) => void {
  let first = true;
  return (step) => {
    const ms = process.uptime() * 1000;
    if (first) {
      first = false;
      // perf_hooks costs a few ms to load: only when the trace is on.
      const perf = process.getBuiltinModule('node:perf_hooks') as typeof import('node:perf_hooks');
      const t = perf.performance.nodeTiming;
      process.stderr.write(
        `berth timing: node bootstrap done ${t.bootstrapComplete.toFixed(2)}ms, berth's modules loaded by ${ms.toFixed(2)}ms\n`,
      );
    }
    process.stderr.write(`berth timing: ${step} ${(process.uptime() * 1000).toFixed(2)}ms\n`);
  };
}

/** Prints the step just done with the time since the process began; a no-op unless BERTH_TRACE_TIMING=1. */
export const cliMark: (step: string) => void = ON ? on() : () => {};

if (ON) process.on('exit', () => cliMark('exit'));
