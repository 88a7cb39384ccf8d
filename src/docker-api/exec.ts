// Exec routes of the Docker API. Docker makes an exec instance first and starts it later; the
// engine starts one when asked, so an instance lives here (state.ts) until its start, which runs
// the engine's exec and carries its output (hijacked, with or without an Upgrade header, or detached).
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Engine } from '../engine/engine.ts';
import { failedPrecondition, invalidArgument } from '../errors/errors.ts';
import { attachDetachKeys, DEFAULT_DETACH_KEYS } from './detach-keys.ts';
import { noSuch, orNoSuch, refused } from './errors.ts';
import { int } from './query.ts';
import { Created, type DockerRouter, EMPTY_OK, NO_CONTENT, parseJsonBody, readJsonBody } from './server.ts';
import type { DockerExec, DockerState, ExecConfig } from './state.ts';
import { bridge, muxFrame, STDERR, streamContentType } from './streams.ts';

function execOf(state: DockerState, id: string): DockerExec {
  const x = state.execs.get(id);
  if (!x) throw noSuch('exec instance', id);
  return x;
}

/** Runs the engine's exec for `x`; records its exit code when known. */
async function startExec(e: Engine, state: DockerState, x: DockerExec, tty: boolean): Promise<string> {
  if (x.engineExecId) throw failedPrecondition(`Error: Exec command ${x.id} has already run`);
  const rec = e.containers.resolve(x.containerId);
  if (rec.status !== 'running') throw failedPrecondition(`container ${x.containerId} is not running`);
  const { execId } = await e.containers.exec(x.containerId, {
    cmd: x.config.Cmd,
    ...(x.config.Env?.length ? { env: x.config.Env } : {}),
    ...(x.config.WorkingDir ? { workdir: x.config.WorkingDir } : {}),
    ...(x.config.User ? { user: x.config.User } : {}),
    tty,
    openStdin: x.config.AttachStdin === true,
    attach: true,
  });
  x.engineExecId = execId;
  x.running = true;
  x.exited = e.containers.execWait(execId).then(
    (r) => {
      x.exitCode = r.exitCode;
      x.running = false;
      state.forgetLater(x.id);
    },
    () => {
      x.exitCode = 126;
      x.running = false;
      state.forgetLater(x.id);
    },
  );
  return execId;
}

export function execRoutes(r: DockerRouter): void {
  r.on('POST', '/containers/{id}/exec', async (c) => {
    const body = await readJsonBody<ExecConfig & { ConsoleSize?: number[] | null }>(c.req, 'exec create');
    const rec = await orNoSuch('container', c.params.id!, () => c.engine.containers.resolve(c.params.id!));
    if (!Array.isArray(body.Cmd) || body.Cmd.length === 0) throw invalidArgument('No exec command specified');
    if (body.Privileged) throw refused('exec --privileged', 'the berth engine does not honour it yet');
    // dockerd parses the keys at create (its words for an exec's are "escape keys").
    const keys = body.DetachKeys
      ? (attachDetachKeys(body.DetachKeys, true, 'escape') ?? new Uint8Array())
      : new Uint8Array();
    if (rec.status === 'paused')
      throw failedPrecondition(`Container ${rec.id} is paused, unpause the container before exec`);
    if (rec.status !== 'running') throw failedPrecondition(`container ${rec.id} is not running`);
    const id = randomBytes(32).toString('hex');
    c.state.execs.set(id, { id, containerId: rec.id, config: body, detachKeys: keys, running: false, exitCode: null });
    return new Created({ Id: id });
  });

  r.on('GET', '/exec/{id}/json', async (c) => {
    const x = execOf(c.state, c.params.id!);
    const [entrypoint = '', ...args] = x.config.Cmd;
    return {
      ID: x.id,
      Running: x.running,
      ExitCode: x.exitCode,
      ProcessConfig: {
        tty: x.config.Tty === true,
        entrypoint,
        arguments: args,
        privileged: false,
        user: x.config.User ?? '',
      },
      OpenStdin: x.config.AttachStdin === true,
      OpenStderr: x.config.AttachStderr === true,
      OpenStdout: x.config.AttachStdout === true,
      CanRemove: false,
      ContainerID: x.containerId,
      // dockerd's []byte: base64 in JSON, empty when the create named none.
      DetachKeys: Buffer.from(x.detachKeys).toString('base64'),
      Pid: 0,
    };
  });

  r.on('POST', '/exec/{id}/resize', async (c) => {
    const x = execOf(c.state, c.params.id!);
    if (!x.engineExecId || !x.running) throw failedPrecondition(`Exec ${x.id} is not running`);
    await c.engine.containers.execResize(x.engineExecId, int(c.query, 'h') ?? 0, int(c.query, 'w') ?? 0);
    return NO_CONTENT;
  });

  r.hijack('POST', '/exec/{id}/start', async (c) => {
    const x = execOf(c.state, c.params.id!);
    const body = parseJsonBody<{ Detach?: boolean; Tty?: boolean }>(await c.body(), 'exec start');
    const tty = body.Tty ?? x.config.Tty === true;
    if (body.Detach) {
      // The process runs on and its output goes nowhere; dockerd answers 200 with no body (and
      // takes no stream), Upgrade header or not.
      const execId = await startExec(c.engine, c.state, x, tty);
      // Drain the output the engine holds for an attach, so the process never blocks on it.
      c.engine.containers.execAttach(execId).then(
        (s) => {
          s.resume();
          s.on('error', () => {});
        },
        () => {},
      );
      return EMPTY_OK;
    }
    let execId: string | undefined;
    let failure: string | undefined;
    try {
      execId = await startExec(c.engine, c.state, x, tty);
    } catch (e) {
      if (x.engineExecId) throw e;
      // dockerd answers the upgrade and then says why the process did not start, with 126 as its exit code.
      failure = e instanceof Error ? e.message : String(e);
      x.exitCode = 126;
    }
    const stdin = x.config.AttachStdin === true;
    const keys = tty && stdin ? (x.detachKeys.length ? x.detachKeys : DEFAULT_DETACH_KEYS) : undefined;
    const attach = execId ? await c.engine.containers.execAttach(execId, keys ? { detachKeys: keys } : {}) : undefined;
    return {
      contentType: streamContentType(c.version, tty),
      run: (socket: Socket, rest: Buffer) => {
        if (!attach) {
          const msg = Buffer.from(`${failure}\n`);
          socket.end(tty ? msg : muxFrame(STDERR, msg));
          return;
        }
        bridge(
          socket,
          attach,
          {
            tty,
            stdin,
            stdout: x.config.AttachStdout !== false,
            stderr: x.config.AttachStderr !== false,
            onExit: (json) => {
              try {
                x.exitCode = (JSON.parse(json) as { exitCode: number }).exitCode;
                x.running = false;
              } catch {
                // The engine's wait records it.
              }
            },
          },
          rest,
        );
      },
    };
  });
}
