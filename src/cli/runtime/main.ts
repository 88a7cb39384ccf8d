// berth-runtime: the runc-compatible command line over src/runtime. A thin adapter: parse flags,
// call the library, print what runc prints, exit with runc's codes (1 on error; `run` exits with
// the container's status). Errors go to stderr and, with --log, to the log file in runc's format
// (--log-format json: {"level","msg","time"}), which containerd and podman read back.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, invalidArgument, unsupported } from '../../errors/errors.ts';
import { defaultSpec } from '../../oci/runtime-default-spec.ts';
import { type LinuxResources, OCI_VERSION, type Process } from '../../oci/runtime-spec.ts';
import { parseRuntimeConfig } from '../../oci/runtime-validate.ts';
import { featuresDocument } from '../../runtime/features.ts';
import { parseDuration, resourcesFromFlags } from './update-flags.ts';
import { execProcess } from '../../runtime/exec-process.ts';
import { cgroupfsDriver } from '../../runtime/cgroups.ts';
import { Runtime } from '../../runtime/runtime.ts';
import { readMountInfo } from '../../sys/mountinfo.ts';
import { GLOBAL_FLAGS, parseFlags, VERB_FLAGS } from './args.ts';
import { type CommandIO, HandBack, SERVED_VERBS, type ServedLaunch, servePlans, type Then } from './plan-server.ts';

const VERSION = '0.1.0';
// node:child_process only for the verbs that run a program (ps, checkpoint): not loaded by the rest.
const spawnSyncText = (cmd: string, args: string[], timeout?: number) =>
  (process.getBuiltinModule('node:child_process') as typeof import('node:child_process')).spawnSync(cmd, args, {
    encoding: 'utf8',
    ...(timeout ? { timeout } : {}),
  });
// hrtime, not `performance`: the global `performance` loads perf_hooks, a few ms of start-up.
const timing = process.env.BERTH_TRACE_TIMING === '1';
/** BERTH_TRACE_TIMING's lines to `err`, in ms from now (and the process's uptime). */
function marker(err: (text: string) => void): (what: string) => void {
  const t0 = process.hrtime.bigint();
  return (what) => {
    if (!timing) return;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    err(
      `berth-runtime timing: ${what} ${ms.toFixed(2)}ms (process uptime ${(process.uptime() * 1000).toFixed(1)}ms)\n`,
    );
  };
}
// The CLI's: from this module's loading. A served command has its own, to its caller's stderr.
const cliMark = marker((text) => process.stderr.write(text));

type Level = 'debug' | 'info' | 'warning' | 'error';

export class Logger {
  private readonly file: string | undefined;
  private readonly json: boolean;
  private readonly err: (text: string) => void;
  readonly debugOn: boolean;
  constructor(file: string | undefined, format: string, debug: boolean, err: (text: string) => void) {
    this.file = file;
    this.json = format === 'json';
    this.debugOn = debug;
    this.err = err;
  }
  log(level: Level, msg: string): void {
    if (level === 'debug' && !this.debugOn) return;
    const time = new Date().toISOString();
    const line = this.json
      ? `${JSON.stringify({ level, msg, time })}\n`
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    if (this.file) {
      try {
        appendFileSync(this.file, line);
        return;
      } catch {}
    }
    if (level !== 'error') this.err(line);
  }
}

const USAGE = `berth-runtime: an OCI runtime (runc-compatible command line)

usage: berth-runtime [global options] command [command options] [arguments...]

commands:
  create   create a container                     start    run the user process of a created container
  run      create and start a container           state    output the state of a container
  kill     send a signal to the init process      delete   delete a container and its resources
  list     list containers                        spec     create a new specification file
  exec     run a process in a container           ps       list the container's processes
  pause    freeze every process (freezer)         resume   thaw a paused container
  update   change resource limits live            events   stats and OOM notifications
  features the runtime spec's features document

global options:
  --root value        state directory (default: /run/berth-runtime)
  --log value         log file (default: stderr)
  --log-format value  text or json (default: text)
  --debug             debug logging
`;

/**
 * One berth-runtime command. Errors are thrown (reportFailure words them); `onLogger` gets the
 * command's logger as soon as the global flags made it.
 */
export async function runtimeCommand(
  argv: string[],
  io: CommandIO,
  onLogger: (log: Logger) => void = () => {},
): Promise<number> {
  const mark = io.served ? marker(io.err) : cliMark;
  const g = parseFlags(argv, GLOBAL_FLAGS, true);
  const logFormat = String(g.flags['log-format'] ?? 'text');
  if (logFormat !== 'text' && logFormat !== 'json')
    throw invalidArgument(`--log-format: expected text or json, got ${JSON.stringify(logFormat)}`);
  const logFile = g.flags.log === undefined ? undefined : resolve(io.cwd, String(g.flags.log));
  const log = new Logger(logFile, logFormat, g.flags.debug === true, io.err);
  onLogger(log);
  const [verb, ...rest] = g.rest;
  // The server runs create and run only; everything else (help and version too) is the Node verb's.
  if (io.served && (g.flags.version || g.flags.help || verb === undefined || !SERVED_VERBS.has(verb)))
    throw new HandBack();
  if (g.flags.version) {
    io.out(`berth-runtime version ${VERSION}\nspec: ${OCI_VERSION}\n`);
    return 0;
  }
  if (!verb || g.flags.help || verb === 'help') {
    io.out(USAGE);
    return verb || g.flags.help ? 0 : 1;
  }
  const specs = VERB_FLAGS[verb];
  if (!specs) throw invalidArgument(`unknown command ${JSON.stringify(verb)} (see berth-runtime --help)`);
  if (g.flags['systemd-cgroup']) {
    throw unsupported(
      '--systemd-cgroup: the systemd cgroup driver is not supported (there is no systemd on this host); use the cgroupfs driver',
    );
  }
  // exec's command keeps its own flags: stop at the first positional (the id), as runc does.
  const { flags, rest: args } = parseFlags(rest, specs, verb === 'exec');
  if (flags.help) {
    if (io.served) throw new HandBack();
    io.out(USAGE);
    return 0;
  }
  const root = resolve(io.cwd, String(g.flags.root ?? '/run/berth-runtime'));
  const rt = new Runtime({
    root,
    warn: (m) => log.log('warning', m),
    debug: (m) => log.log('debug', m),
    mark,
    cgroups: cgroupfsDriver(io.served?.callerCgroup),
  });
  mark('ready');
  const needId = (): string => {
    const id = args[0];
    if (!id) throw invalidArgument(`"${verb}" requires a container id`);
    return id;
  };
  const createOpts = () => ({
    bundle: resolve(io.cwd, String(flags.bundle ?? '.')),
    pidFile: flags['pid-file'] === undefined ? undefined : resolve(io.cwd, String(flags['pid-file'])),
    consoleSocket: flags['console-socket'] as string | undefined,
    noPivot: flags['no-pivot'] === true,
    preserveFds: (flags['preserve-fds'] as number | undefined) ?? 0,
  });

  const served = (launcher: ServedLaunch, then: Then) =>
    launcher.launch(rt, root, needId(), createOpts(), then, () =>
      log.log('debug', `${verb} through the plan server (pid ${process.pid})`),
    );

  switch (verb) {
    case 'create':
      if (io.served) return await served(io.served, 'exit');
      await rt.create(needId(), createOpts());
      mark('created');
      return 0;
    case 'start':
      await rt.start(needId());
      return 0;
    case 'run': {
      const id = needId();
      if (io.served) return await served(io.served, flags.detach ? 'start' : 'run');
      if (flags.detach) {
        await rt.runDetached(id, createOpts());
        return 0;
      }
      return await rt.run(id, createOpts());
    }
    case 'state':
      io.out(`${JSON.stringify(rt.state(needId()), null, '  ')}\n`);
      return 0;
    case 'kill':
      await rt.kill(needId(), args[1] ?? 'SIGTERM', flags.all === true);
      return 0;
    case 'pause':
      await rt.pause(needId());
      return 0;
    case 'resume':
      await rt.resume(needId());
      return 0;
    case 'ps': {
      const pids = rt.pids(needId());
      const format = String(flags.format ?? 'table');
      if (format === 'json') {
        io.out(`${JSON.stringify(pids)}\n`);
        return 0;
      }
      if (format !== 'table') throw invalidArgument(`--format: expected table or json, got ${JSON.stringify(format)}`);
      io.out(psTable(pids, args.slice(1)));
      return 0;
    }
    case 'update': {
      const id = needId();
      let resources: LinuxResources;
      if (flags.resources !== undefined) {
        const file = String(flags.resources);
        const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
        try {
          resources = JSON.parse(text) as LinuxResources;
        } catch (e) {
          throw invalidArgument(`--resources ${file}: ${errorMessage(e)}`);
        }
        parseRuntimeConfig({ ociVersion: OCI_VERSION, linux: { resources } }, `--resources ${file}`);
      } else resources = resourcesFromFlags(flags);
      await rt.update(id, resources);
      return 0;
    }
    case 'events': {
      const id = needId();
      const interval = parseDuration(String(flags.interval ?? '5s'), 'interval');
      const emit = (type: string, data?: unknown) =>
        io.out(`${JSON.stringify(data === undefined ? { type, id } : { type, id, data })}\n`);
      if (flags.stats) {
        emit('stats', rt.stats(id));
        return 0;
      }
      let ooms = rt.oomKills(id);
      for (;;) {
        const st = rt.state(id).status;
        if (st === 'stopped') return 0;
        const now = rt.oomKills(id);
        if (now > ooms) emit('oom');
        ooms = now;
        emit('stats', rt.stats(id));
        await new Promise((r) => setTimeout(r, interval));
      }
    }
    case 'features':
      io.out(`${JSON.stringify(featuresDocument({ cgroup: hostCgroupVersions() }), null, '    ')}\n`);
      return 0;
    case 'checkpoint':
    case 'restore':
      throw unsupported(`${verb}: ${criuStatus()}`);
    case 'delete':
      await rt.delete(needId(), { force: flags.force === true });
      return 0;
    case 'list': {
      const format = String(flags.format ?? 'table');
      const states = rt.list();
      if (flags.quiet) {
        for (const s of states) io.out(`${s.id}\n`);
      } else if (format === 'json') {
        io.out(`${JSON.stringify(states)}\n`);
      } else if (format === 'table') {
        const rows = [
          ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
          ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner]),
        ];
        const widths = rows[0]!.map((_, c) => Math.max(12, ...rows.map((r) => r[c]!.length + 3)));
        for (const r of rows)
          io.out(`${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('')}\n`);
      } else throw invalidArgument(`--format: expected table or json, got ${JSON.stringify(format)}`);
      return 0;
    }
    case 'exec': {
      const [id, ...command] = args;
      if (!id) throw invalidArgument('"exec" requires a container id');
      const proc = flags.process
        ? readProcessFile(resolve(io.cwd, String(flags.process)))
        : execProcess(rt.store.load(id).config.process ?? { user: { uid: 0, gid: 0 }, cwd: '/' }, {
            args: command,
            env: flags.env as string[] | undefined,
            cwd: flags.cwd as string | undefined,
            tty: flags.tty === true,
            user: flags.user as string | undefined,
            additionalGids: flags['additional-gids'] as string[] | undefined,
            caps: flags.cap as string[] | undefined,
            noNewPrivs: flags['no-new-privs'] === true,
            apparmor: flags.apparmor as string | undefined,
            processLabel: flags['process-label'] as string | undefined,
          });
      if (flags.cgroup) throw unsupported('--cgroup: exec into a sub-cgroup is not supported by berth-runtime yet');
      const execOpts = {
        detach: flags.detach === true,
        pidFile: flags['pid-file'] === undefined ? undefined : resolve(io.cwd, String(flags['pid-file'])),
        consoleSocket: flags['console-socket'] as string | undefined,
        preserveFds: (flags['preserve-fds'] as number | undefined) ?? 0,
      };
      if (io.served)
        return await io.served.exec(rt, root, id, proc, execOpts, () =>
          log.log('debug', `exec through the plan server (pid ${process.pid})`),
        );
      return await rt.exec(id, proc, execOpts);
    }
    case 'spec': {
      const dir = resolve(String(flags.bundle ?? '.'));
      const file = join(dir, 'config.json');
      if (existsSync(file)) throw invalidArgument('File config.json exists. Remove it first');
      writeFileSync(file, `${JSON.stringify(defaultSpec({ rootless: flags.rootless === true }), null, '\t')}\n`);
      return 0;
    }
  }
  return 1;
}

/** runc's ps: the host's `ps` output (default `ps -ef`), keeping the header and the container's processes. */
function psTable(pids: number[], psArgs: string[]): string {
  const r = spawnSyncText('ps', psArgs.length > 0 ? psArgs : ['-ef']);
  if (r.status !== 0) throw invalidArgument(`ps ${psArgs.join(' ')}: ${r.stderr || r.error?.message}`);
  const [header = '', ...lines] = r.stdout.split('\n');
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw invalidArgument('ps: no PID column in its output');
  const want = new Set(pids.map(String));
  return [header, ...lines.filter((l) => want.has(l.trim().split(/\s+/)[col] ?? ''))].join('\n') + '\n';
}

/** Why checkpoint/restore cannot run here: CRIU missing, CRIU refusing this kernel, or berth not driving it yet. */
function criuStatus(): string {
  const r = spawnSyncText('criu', ['check'], 30_000);
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    return 'checkpoint and restore need CRIU, which is not installed (apt-get install criu)';
  if (r.status !== 0) {
    const why =
      `${r.stdout}${r.stderr}`
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('Error'))
        .slice(-1)[0] ?? `criu check exited ${r.status}`;
    return `CRIU cannot work on this kernel (criu check: ${why})`;
  }
  return 'checkpoint and restore through CRIU are not implemented by berth-runtime yet';
}

function hostCgroupVersions(): { v1: boolean; v2: boolean } {
  const mounts = readMountInfo();
  return { v1: mounts.some((m) => m.fsType === 'cgroup'), v2: mounts.some((m) => m.fsType === 'cgroup2') };
}

function readProcessFile(path: string): Process {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw invalidArgument(`--process ${path}: ${errorMessage(e)}`);
  }
  return json as Process;
}

/** A failed command, as runc reports it: logged (to --log when given), then `berth-runtime: <msg>` on stderr; status 1. */
export function reportFailure(e: unknown, log: Logger | undefined, err: (text: string) => void): number {
  const msg = errorMessage(e);
  log?.log('error', msg);
  if (log?.debugOn && e instanceof Error && e.stack) err(`${e.stack}\n`);
  err(`berth-runtime: ${msg}\n`);
  return 1;
}

if (process.argv[2] === '--plan-server') {
  servePlans(process.argv[3] ?? '', runtimeCommand, reportFailure);
} else {
  let logger: Logger | undefined;
  const err = (text: string) => process.stderr.write(text);
  runtimeCommand(
    process.argv.slice(2),
    { out: (text) => process.stdout.write(text), err, cwd: process.cwd() },
    (log) => {
      logger = log;
    },
  ).then(
    (code) => {
      cliMark('exit');
      process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportFailure(e, logger, err);
    },
  );
}
