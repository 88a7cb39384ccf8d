// A parsed Dockerfile's nodes as typed instructions, grouped into stages, as moby/buildkit's
// frontend/dockerfile/instructions does (read for the rules). Arguments stay as written: variables
// are substituted by the builder at each step, with the ARG/ENV environment in force there
// (expand.ts), since that environment changes from step to step.
// Which instructions substitute (Docker's list): ADD, COPY, ENV, EXPOSE, FROM (global ARGs only),
// LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG, and ONBUILD's trigger when it runs. RUN, CMD and
// ENTRYPOINT do not (the shell does, in the shell form).
// Must never: read files or the environment.
import {
  type DockerfileNode,
  dockerfileError,
  type Heredoc,
  type ParsedDockerfile,
  parseDockerfile,
} from './dockerfile-parser.ts';

export type Loc = { line: number; endLine: number; original: string };
/** A command in the shell form (a string for SHELL's shell) or the exec form (argv as written). */
export type CommandForm = { shell: string } | { exec: string[] };
export type KeyValue = { key: string; value: string };

export type Instruction = Loc &
  (
    | { kind: 'arg'; args: { name: string; value?: string }[] }
    | { kind: 'env'; pairs: KeyValue[] }
    | { kind: 'label'; pairs: KeyValue[] }
    | { kind: 'run'; command: CommandForm; heredocs: Heredoc[]; network: 'default' | 'none' | 'host'; mounts: string[] }
    | { kind: 'cmd'; command: CommandForm }
    | { kind: 'entrypoint'; command: CommandForm }
    | { kind: 'shell'; shell: string[] }
    | { kind: 'workdir'; path: string }
    | { kind: 'user'; user: string }
    | { kind: 'stopsignal'; signal: string }
    | { kind: 'maintainer'; maintainer: string }
    | { kind: 'expose'; ports: string[] }
    | { kind: 'volume'; paths: string[] }
    | {
        kind: 'copy' | 'add';
        sources: string[];
        dest: string;
        heredocs: Heredoc[];
        from?: string;
        chown?: string;
        chmod?: string;
        link: boolean;
        checksum?: string;
      }
    | { kind: 'healthcheck'; none: true }
    | {
        kind: 'healthcheck';
        none: false;
        test: string[];
        interval?: number;
        timeout?: number;
        startPeriod?: number;
        startInterval?: number;
        retries?: number;
      }
    | { kind: 'onbuild'; trigger: string }
  );

export type Stage = Loc & {
  /** 0-based position; stages are named by it too. */
  index: number;
  /** `AS name`, lower-cased (Docker's stage names are case-insensitive). */
  name?: string;
  /** The base as written (variables from the global ARGs substituted by the builder). */
  base: string;
  platform?: string;
  instructions: Instruction[];
};

export type Dockerfile = {
  file: string;
  escape: string;
  /** ARGs before the first FROM: only FROM lines and stages' re-declarations see them. */
  globalArgs: { name: string; value?: string; line: number }[];
  stages: Stage[];
};

const ALLOWED_FLAGS: Record<string, string[]> = {
  from: ['platform'],
  run: ['network', 'mount', 'security'],
  copy: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  add: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir'],
  healthcheck: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

const KNOWN = new Set([
  'from',
  'arg',
  'env',
  'label',
  'run',
  'cmd',
  'entrypoint',
  'shell',
  'workdir',
  'user',
  'stopsignal',
  'maintainer',
  'expose',
  'volume',
  'copy',
  'add',
  'healthcheck',
  'onbuild',
]);

const STAGE_NAME = /^[a-z][a-z0-9_.-]*$/;

export function parseInstructions(text: string, file = 'Dockerfile'): Dockerfile {
  return toInstructions(parseDockerfile(text, file));
}

export function toInstructions(parsed: ParsedDockerfile): Dockerfile {
  const { file, escape: esc } = parsed;
  const globalArgs: Dockerfile['globalArgs'] = [];
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const n of parsed.nodes) {
    const err = (msg: string) => dockerfileError(file, n.startLine, msg);
    if (!KNOWN.has(n.keyword))
      throw err(
        `unknown instruction ${n.keyword.toUpperCase()} (expected one of ${[...KNOWN].map((k) => k.toUpperCase()).join(', ')})`,
      );
    if (n.keyword === 'from') {
      const flags = parseFlags(n, file);
      const words = n.rest.split(/\s+/).filter((w) => w !== '');
      if (!(words.length === 1 || (words.length === 3 && words[1]!.toLowerCase() === 'as')))
        throw err(
          `FROM requires either one argument, or three: FROM <image> AS <name> (got ${JSON.stringify(n.rest)})`,
        );
      const stage: Stage = {
        index: stages.length,
        base: words[0]!,
        instructions: [],
        line: n.startLine,
        endLine: n.endLine,
        original: n.original,
      };
      if (words.length === 3) {
        const name = words[2]!.toLowerCase();
        if (!STAGE_NAME.test(name))
          throw err(
            `invalid stage name ${JSON.stringify(words[2])}: expected a letter then letters, digits, '_', '.' or '-'`,
          );
        if (names.has(name)) throw err(`duplicate stage name ${JSON.stringify(name)}`);
        names.add(name);
        stage.name = name;
      }
      if (flags.platform !== undefined) stage.platform = flags.platform;
      stages.push(stage);
      continue;
    }
    const ins = toInstruction(n, file, esc);
    const stage = stages.at(-1);
    if (!stage) {
      if (ins.kind !== 'arg')
        throw err(`${n.keyword.toUpperCase()} before the first FROM: only ARG may come before FROM`);
      for (const a of ins.args) globalArgs.push({ ...a, line: n.startLine });
      continue;
    }
    stage.instructions.push(ins);
  }
  if (stages.length === 0)
    throw dockerfileError(
      file,
      parsed.nodes.at(-1)?.endLine ?? 1,
      'the Dockerfile has no FROM instruction: expected at least one build stage',
    );
  return { file, escape: esc, globalArgs, stages };
}

function parseFlags(n: DockerfileNode, file: string): Record<string, string> {
  const allowed = ALLOWED_FLAGS[n.keyword] ?? [];
  const out: Record<string, string> = {};
  for (const f of n.flags) {
    const m = /^--([a-z-]+)(?:=([\s\S]*))?$/.exec(f);
    const name = m?.[1];
    if (!m || !name || !allowed.includes(name))
      throw dockerfileError(
        file,
        n.startLine,
        `unknown flag ${f.split('=')[0]} for ${n.keyword.toUpperCase()}${allowed.length ? ` (expected ${allowed.map((a) => `--${a}`).join(', ')})` : ' (it takes none)'}`,
      );
    const value = unquote(m[2] ?? 'true');
    if (name !== 'mount' && name in out) throw dockerfileError(file, n.startLine, `flag --${name} given twice`);
    out[name] = name === 'mount' && out.mount !== undefined ? `${out.mount}\n${value}` : value;
  }
  return out;
}

function unquote(v: string): string {
  return /^(["']).*\1$/s.test(v) ? v.slice(1, -1) : v;
}

/** Words split on blanks outside quotes, quotes and escapes kept for the lexer (buildkit's parseWords). */
export function splitKeepingQuotes(text: string, esc: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === esc && i + 1 < text.length && quote !== "'") {
      cur += c + text[i + 1];
      i++;
      continue;
    }
    if (quote) {
      if (c === quote) quote = undefined;
      cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (/\s/.test(c)) {
      if (cur !== '') words.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') words.push(cur);
  return words;
}

/** A JSON array of strings (the exec form), else undefined (then the text is the shell form). */
export function parseJsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

const GO_DURATION = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration ("30s", "1m30s") in nanoseconds, as HEALTHCHECK's flags and the image config take them. */
export function parseDuration(v: string): number | undefined {
  if (v === '0') return 0;
  if (!/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(v)) return undefined;
  let ns = 0;
  for (const m of v.matchAll(GO_DURATION)) ns += Number(m[1]) * UNIT_NS[m[2]!]!;
  return Math.round(ns);
}

function toInstruction(n: DockerfileNode, file: string, esc: string): Instruction {
  const loc: Loc = { line: n.startLine, endLine: n.endLine, original: n.original };
  const err = (msg: string) => dockerfileError(file, n.startLine, msg);
  const K = n.keyword.toUpperCase();
  const flags = parseFlags(n, file);
  const rest = n.rest;
  const command = (): CommandForm => {
    const exec = parseJsonArray(rest);
    return exec ? { exec } : { shell: rest };
  };
  const list = (): string[] => parseJsonArray(rest) ?? rest.split(/\s+/).filter((w) => w !== '');
  const one = (what: string): string => {
    if (rest === '') throw err(`${K} requires exactly one argument: ${what}`);
    return rest;
  };
  switch (n.keyword) {
    case 'arg': {
      const words = splitKeepingQuotes(rest, esc);
      if (words.length === 0) throw err('ARG requires at least one argument: ARG <name>[=<default value>]');
      return {
        ...loc,
        kind: 'arg',
        args: words.map((w) => {
          const eq = w.indexOf('=');
          const name = eq < 0 ? w : w.slice(0, eq);
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
            throw err(`ARG name ${JSON.stringify(name)}: expected a letter or '_' then letters, digits or '_'`);
          return eq < 0 ? { name } : { name, value: w.slice(eq + 1) };
        }),
      };
    }
    case 'env':
    case 'label':
      return { ...loc, kind: n.keyword, pairs: nameValues(rest, K, esc, err) };
    case 'run': {
      if (rest === '' && n.heredocs.length === 0)
        throw err('RUN requires a command: RUN <command> or RUN ["executable", "arg", …]');
      const network = flags.network ?? 'default';
      if (network !== 'default' && network !== 'none' && network !== 'host')
        throw err(`RUN --network=${network}: expected default, none or host`);
      return {
        ...loc,
        kind: 'run',
        command: command(),
        heredocs: n.heredocs,
        network,
        mounts: flags.mount ? flags.mount.split('\n') : [],
      };
    }
    case 'cmd':
    case 'entrypoint':
      if (rest === '') throw err(`${K} requires a command: ${K} <command> or ${K} ["executable", "arg", …]`);
      return { ...loc, kind: n.keyword, command: command() };
    case 'shell': {
      const exec = parseJsonArray(rest);
      if (!exec || exec.length === 0)
        throw err('SHELL requires the arguments to be in JSON form: SHELL ["executable", "parameters"]');
      return { ...loc, kind: 'shell', shell: exec };
    }
    case 'workdir':
      return { ...loc, kind: 'workdir', path: one('WORKDIR <path>') };
    case 'user':
      return { ...loc, kind: 'user', user: one('USER <user>[:<group>]') };
    case 'stopsignal':
      return { ...loc, kind: 'stopsignal', signal: one('STOPSIGNAL <signal>') };
    case 'maintainer':
      return { ...loc, kind: 'maintainer', maintainer: one('MAINTAINER <name>') };
    case 'expose': {
      const ports = rest.split(/\s+/).filter((w) => w !== '');
      if (ports.length === 0) throw err('EXPOSE requires at least one argument: EXPOSE <port>[/<protocol>]…');
      return { ...loc, kind: 'expose', ports };
    }
    case 'volume': {
      const paths = list();
      if (paths.length === 0 || paths.some((p) => p.trim() === ''))
        throw err('VOLUME requires at least one non-empty path: VOLUME <path>… or VOLUME ["<path>", …]');
      return { ...loc, kind: 'volume', paths };
    }
    case 'copy':
    case 'add': {
      const words = list();
      const heredocNames = new Set(n.heredocs.map((h) => h.name));
      // A here-document is a source: its `<<NAME` word stands for a file NAME holding the body.
      const sources = words.slice(0, -1).map((w) => {
        const m = /^<<-?(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\1$/.exec(w);
        return m && heredocNames.has(m[2]!) ? `<<${m[2]}` : w;
      });
      if (words.length < 2) throw err(`${K} requires at least two arguments: ${K} <source>… <destination>`);
      if (n.keyword === 'add' && flags.link === undefined && flags.from !== undefined)
        throw err('ADD does not take --from (COPY does)');
      const ins: Instruction = {
        ...loc,
        kind: n.keyword,
        sources,
        dest: words.at(-1)!,
        heredocs: n.heredocs,
        link: flags.link !== undefined && flags.link !== 'false',
      };
      if (flags.from !== undefined) ins.from = flags.from;
      if (flags.chown !== undefined) ins.chown = flags.chown;
      if (flags.chmod !== undefined) {
        if (!/^[0-7]{3,4}$/.test(flags.chmod))
          throw err(`${K} --chmod=${flags.chmod}: expected an octal mode such as 755 or 0644`);
        ins.chmod = flags.chmod;
      }
      if (flags.checksum !== undefined) ins.checksum = flags.checksum;
      return ins;
    }
    case 'healthcheck': {
      const words = rest.split(/\s+/);
      const type = words[0]?.toUpperCase();
      if (type === 'NONE') {
        if (rest.trim().toUpperCase() !== 'NONE' || n.flags.length > 0)
          throw err('HEALTHCHECK NONE takes no other arguments');
        return { ...loc, kind: 'healthcheck', none: true };
      }
      if (type !== 'CMD')
        throw err(`HEALTHCHECK: expected NONE or CMD <command>, got ${JSON.stringify(words[0] ?? '')}`);
      const cmdText = rest.slice(3).trim();
      if (cmdText === '') throw err('HEALTHCHECK CMD requires a command');
      const exec = parseJsonArray(cmdText);
      const ins: Instruction = {
        ...loc,
        kind: 'healthcheck',
        none: false,
        test: exec ? ['CMD', ...exec] : ['CMD-SHELL', cmdText],
      };
      for (const [flag, key] of [
        ['interval', 'interval'],
        ['timeout', 'timeout'],
        ['start-period', 'startPeriod'],
        ['start-interval', 'startInterval'],
      ] as const) {
        const v = flags[flag];
        if (v === undefined) continue;
        const d = parseDuration(v);
        if (d === undefined) throw err(`HEALTHCHECK --${flag}=${v}: expected a duration such as 30s or 1m30s`);
        ins[key] = d;
      }
      if (flags.retries !== undefined) {
        if (!/^\d+$/.test(flags.retries)) throw err(`HEALTHCHECK --retries=${flags.retries}: expected a whole number`);
        ins.retries = Number(flags.retries);
      }
      return ins;
    }
    case 'onbuild': {
      const m = /^(\S+)/.exec(rest);
      const inner = m?.[1]?.toLowerCase();
      if (!inner) throw err('ONBUILD requires an instruction: ONBUILD <INSTRUCTION> …');
      if (inner === 'onbuild' || inner === 'from' || inner === 'maintainer')
        throw err(`ONBUILD ${inner.toUpperCase()} is not allowed`);
      if (!KNOWN.has(inner)) throw err(`ONBUILD: unknown instruction ${inner.toUpperCase()}`);
      // The trigger is checked now, as Docker does, so a bad one fails the build that stores it.
      try {
        toInstructions(parseDockerfile(`FROM scratch\n${rest}`, file));
      } catch (e) {
        throw err(`ONBUILD: ${(e as Error).message.replace(/^[^:]*:\d+: /, '')}`);
      }
      return { ...loc, kind: 'onbuild', trigger: rest };
    }
    default:
      throw err(`unknown instruction ${K}`);
  }
}

function nameValues(rest: string, K: string, esc: string, err: (m: string) => Error): KeyValue[] {
  const words = splitKeepingQuotes(rest, esc);
  if (words.length === 0) throw err(`${K} requires at least one argument: ${K} <key>=<value> …`);
  if (!words[0]!.includes('=')) {
    // The old form, one pair: `ENV KEY some value`.
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m || m[2]!.trim() === '') throw err(`${K} ${words[0]}: expected ${K} <key>=<value> … or ${K} <key> <value>`);
    return [{ key: m[1]!, value: m[2]!.trim() }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw err(`syntax error - can't find = in ${JSON.stringify(w)}: expected the form name=value`);
    if (eq === 0) throw err(`${K} names can not be blank (in ${JSON.stringify(w)})`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}
