// Invokes CNI plugins as the CNI 1.0 spec says a runtime must: one process per plugin, the
// operation in CNI_* environment variables, the plugin's configuration on stdin, the result or an
// error object on stdout. For a configuration list, `name` and `cniVersion` come from the list,
// `runtimeConfig` carries only the capabilities a plugin declares, ADD chains each plugin's result
// into the next one's `prevResult`, CHECK and DEL give every plugin the cached ADD result, and DEL
// runs the plugins in reverse order. It keeps no state: caching the ADD result is the caller's job.
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, ErrorCode, notFound } from '../errors/errors.ts';
import {
  type CniConfList,
  type CniErrorBody,
  type CniPluginConf,
  type CniResult,
  validateResult,
} from './cni-types.ts';
import { type CommandResult, runCommand } from './run-command.ts';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

export interface CniRuntimeConf {
  containerId: string;
  /** Path of the network namespace; empty on a DEL whose namespace is gone. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs. */
  args?: ReadonlyArray<readonly [string, string]>;
  /** Values for capabilities (portMappings, …), passed only to plugins that declare them. */
  capabilityArgs?: Readonly<Record<string, unknown>>;
}

/** The configuration one plugin of `list` gets on stdin. */
export function pluginConfig(
  list: CniConfList,
  plugin: CniPluginConf,
  rt: CniRuntimeConf,
  prevResult?: CniResult,
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && rt.capabilityArgs && cap in rt.capabilityArgs) runtimeConfig[cap] = rt.capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  else delete conf.runtimeConfig;
  if (prevResult !== undefined) conf.prevResult = prevResult;
  else delete conf.prevResult;
  return conf;
}

export class CniExecutor {
  readonly pluginDirs: readonly string[];
  readonly timeoutMs: number;

  constructor(pluginDirs: readonly string[], timeoutMs = 60_000) {
    this.pluginDirs = pluginDirs;
    this.timeoutMs = timeoutMs;
  }

  async findPlugin(type: string): Promise<string> {
    for (const dir of this.pluginDirs) {
      const p = join(dir, type);
      try {
        await access(p, constants.X_OK);
        return p;
      } catch {
        // try the next directory, as CNI_PATH is searched
      }
    }
    throw notFound(
      `CNI plugin "${type}": no executable in ${this.pluginDirs.join(':')} (install Debian's containernetworking-plugins)`,
    );
  }

  env(command: CniCommand, rt: CniRuntimeConf): NodeJS.ProcessEnv {
    return {
      // The plugins run iptables and friends: they need the host's PATH.
      ...process.env,
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netns,
      CNI_IFNAME: rt.ifName,
      CNI_ARGS: (rt.args ?? []).map(([k, v]) => `${k}=${v}`).join(';'),
      CNI_PATH: this.pluginDirs.join(':'),
    };
  }

  /** One plugin, one command. Resolves with its parsed stdout (a result on ADD, usually nothing otherwise). */
  async invoke(command: CniCommand, conf: Record<string, unknown>, rt: CniRuntimeConf): Promise<unknown> {
    const type = String(conf.type);
    const path = await this.findPlugin(type);
    const r = await runCommand(path, [], {
      input: JSON.stringify(conf),
      env: this.env(command, rt),
      timeoutMs: this.timeoutMs,
    });
    if (r.code !== 0) throw pluginError(command, type, conf, rt, r);
    const text = r.stdout.trim();
    if (text === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new BerthError(
        ErrorCode.Internal,
        `CNI ${command} of plugin "${type}" (network ${String(conf.name)}, container ${rt.containerId}): stdout is not JSON: ${text.slice(0, 200)}`,
        { cause: e },
      );
    }
  }

  /** ADD through every plugin in order; the last plugin's result is the list's. Stops at the first error (the caller runs DEL). */
  async addList(list: CniConfList, rt: CniRuntimeConf): Promise<CniResult> {
    let prev: CniResult | undefined;
    for (const plugin of list.plugins) {
      const out = await this.invoke('ADD', pluginConfig(list, plugin, rt, prev), rt);
      prev = validateResult(out, `CNI ADD result of plugin "${plugin.type}" (network ${list.name})`);
    }
    return prev!;
  }

  /** DEL through every plugin in reverse order, each given the cached ADD result (omitted when there is none). */
  async delList(list: CniConfList, rt: CniRuntimeConf, cached?: CniResult): Promise<void> {
    for (const plugin of [...list.plugins].reverse())
      await this.invoke('DEL', pluginConfig(list, plugin, rt, cached), rt);
  }

  /**
   * CHECK through every plugin in order, each given the cached ADD result. A list with disableCheck
   * is not checked; plugins whose type is in `skip` are left to the caller to verify otherwise.
   */
  async checkList(
    list: CniConfList,
    rt: CniRuntimeConf,
    cached: CniResult,
    skip: ReadonlySet<string> = new Set(),
  ): Promise<void> {
    if (list.disableCheck === true || String(list.disableCheck) === 'true') return;
    for (const plugin of list.plugins) {
      if (!skip.has(plugin.type)) await this.invoke('CHECK', pluginConfig(list, plugin, rt, cached), rt);
    }
  }
}

function pluginError(
  command: CniCommand,
  type: string,
  conf: Record<string, unknown>,
  rt: CniRuntimeConf,
  r: CommandResult,
): BerthError {
  let body: CniErrorBody | undefined;
  try {
    const parsed = JSON.parse(r.stdout) as CniErrorBody;
    if (parsed && typeof parsed.msg === 'string') body = parsed;
  } catch {
    // not the spec's error object: fall back to stderr below
  }
  const status = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  const what = body
    ? `error ${body.code}: ${body.msg}${body.details ? ` (${body.details})` : ''}`
    : r.stderr.trim().split('\n').slice(-3).join(' | ') || r.stdout.trim().slice(0, 300) || 'no output';
  // CNI well-known code 11: "try again later".
  const code = body?.code === 11 ? ErrorCode.Unavailable : ErrorCode.Internal;
  return new BerthError(
    code,
    `CNI ${command} of plugin "${type}" (network ${String(conf.name)}, container ${rt.containerId}, ${status}): ${what}`,
  );
}
