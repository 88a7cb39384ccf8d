// berthd's runtime classes: the OCI runtimes a container may name (`berth run --runtime NAME`), each
// a binary and whether berthd may run its start, kill, pause, resume and delete through the runtime
// library in its own process instead of exec'ing the binary (src/engine/runtime-cli.ts). That choice
// is a property of the class, set here or in berthd's config, never guessed from the binary's name.
// Owns: the built-in classes and the reading of the config's `runtimes`. Never: runs a runtime.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument } from '../errors/errors.ts';
import { berthRoot } from '../sys/paths.ts';
import { RuntimeCli } from './runtime-cli.ts';

export type RuntimeClass = {
  /** The runtime's CLI (runc-compatible verbs and flags); the shim execs its create and exec. */
  path: string;
  /**
   * berthd calls the berth-runtime library in-process for start, kill, pause, resume and delete:
   * only right for a binary that *is* this checkout's berth-runtime (the library is berthd's own
   * copy, and both keep their state the same way under the class's root).
   */
  inProcess: boolean;
};

/** As berthd's config gives a class: a path, or the path and the in-process switch. */
export type RuntimeClassConfig = string | { path: string; inProcess?: boolean };

/** Where the berth binaries are: the checkout's dist/bin (the bundles and the sources agree on it). */
export function berthBinDir(): string {
  return join(berthRoot(), 'dist/bin');
}

/** The built-in classes: berth-runtime (in-process), runc and crun (exec'd) at their usual paths. */
export function defaultRuntimeClasses(): Record<string, RuntimeClass> {
  const which = (names: string[]) => names.find((p) => existsSync(p)) ?? names[0]!;
  return {
    'berth-runtime': { path: process.env.BERTH_RUNTIME_BIN ?? join(berthBinDir(), 'berth-runtime'), inProcess: true },
    runc: { path: which(['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc']), inProcess: false },
    crun: { path: which(['/usr/bin/crun', '/usr/local/bin/crun']), inProcess: false },
  };
}

/**
 * The built-in classes with the config's over them. An entry naming a built-in class changes only
 * what it gives (a path alone keeps berth-runtime in-process); a new class is exec'd unless it says
 * `inProcess: true`. A malformed entry is refused naming it.
 */
export function resolveRuntimeClasses(config: Record<string, RuntimeClassConfig> = {}): Record<string, RuntimeClass> {
  const out = defaultRuntimeClasses();
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw invalidArgument(
      `runtimes: expected an object of name → path or {path, inProcess}, got ${JSON.stringify(config)}`,
    );
  for (const [name, c] of Object.entries(config)) {
    const where = `runtimes.${JSON.stringify(name)}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
      throw invalidArgument(`${where}: a class name is letters, digits, "_", "." and "-", first a letter or digit`);
    const entry = typeof c === 'string' ? { path: c } : c;
    if (typeof entry !== 'object' || entry === null || typeof entry.path !== 'string' || entry.path === '')
      throw invalidArgument(`${where}: expected a path or {path, inProcess}, got ${JSON.stringify(c)}`);
    if (entry.inProcess !== undefined && typeof entry.inProcess !== 'boolean')
      throw invalidArgument(`${where}.inProcess: expected true or false, got ${JSON.stringify(entry.inProcess)}`);
    out[name] = { path: entry.path, inProcess: entry.inProcess ?? out[name]?.inProcess ?? false };
  }
  return out;
}

/**
 * The CLI of class `name`, keeping its state under <run root>/runtime/<name>. An unknown name is
 * refused naming the classes there are; `word` is what the caller's client calls a class (the CRI
 * says "runtime handler").
 */
export function runtimeOfClass(
  classes: Record<string, RuntimeClass>,
  runRoot: string,
  name: string,
  word = 'runtime',
): RuntimeCli {
  const cls = classes[name];
  if (!cls)
    throw invalidArgument(
      `${word} ${JSON.stringify(name)}: unknown; expected one of ${Object.keys(classes).join(', ')}`,
    );
  return new RuntimeCli(cls.path, join(runRoot, 'runtime', name), { inProcess: cls.inProcess });
}
