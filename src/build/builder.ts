// The builder: a Dockerfile and a context into an OCI image in berth's store (docs/build.md).
// Each step's result is an image state (config + layers); metadata steps change the config (an
// empty_layer history entry), COPY/ADD write a layer from the sources, RUN runs in a container the
// engine makes (through StepRunner) and commits its overlay diff. Every step is cached by a key of
// its parent's key, the instruction as it ran and its inputs (build-cache.ts).
// Crash and failure: every blob is written under the build's lease; a RUN's temporary image name
// and container are removed whatever happens; names (-t) are written last. A failed build leaves
// only leased blobs, which gc takes once the lease is gone.
// Must never: parse a wire format or print (callers get BuildEvents); reach the engine other than
// through StepRunner.
import { randomBytes } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { writeBlob } from '../content/write-blob.ts';
import {
  BerthError,
  failedPrecondition,
  invalidArgument,
  isBerthError,
  notFound,
  unsupported,
} from '../errors/errors.ts';
import { resolveName } from '../images/image-name.ts';
import { mapLimit } from '../images/limit.ts';
import { type ImageService, PARENT_LABEL, UNNAMED_REPOSITORY } from '../images/image-service.ts';
import {
  type Descriptor,
  type History,
  type ImageConfig,
  type ImageManifest,
  type ImageRuntimeConfig,
  MediaType,
} from '../oci/image-spec.ts';
import type { Platform } from '../oci/image-spec.ts';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches } from '../oci/image-validate.ts';
import { chainIds } from '../snapshots/chain-id.ts';
import { mountAll, unmountAll } from '../snapshots/mount.ts';
import { selfIdentity } from '../sys/procfs.ts';
import { type ArchiveCompression, addArchive, decompressFile } from './add-archive.ts';
import { BuildCache, type CachedState, cacheKey } from './build-cache.ts';
import { dockerfileError, heredocBody } from './dockerfile-parser.ts';
import { DockerIgnore } from './dockerignore.ts';
import { type Dockerfile, type Instruction, parseInstructions, type Stage } from './instructions.ts';
import {
  canWriteDirectly,
  cloneOverlayDiff,
  entryOf,
  type LayerEntry,
  overlayDiffEntries,
  storeLayer,
  writeLayerEntries,
} from './layer-tar.ts';
import { LexError, processWord, processWords } from './shell-lex.ts';
import { DigestMemo, SourceTree } from './source-tree.ts';
import { TMP_REPOSITORY } from './tmp-repository.ts';

/** Docker's config plus the fields berth's OCI type leaves out (Docker's image config has them). */
export type RuntimeConfig = ImageRuntimeConfig & {
  Healthcheck?: {
    Test: string[];
    Interval?: number;
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  };
  OnBuild?: string[] | null;
  Shell?: string[];
};

export type BuildOptions = {
  /** The Dockerfile's path in the context (default "Dockerfile"), unless `dockerfileText` is given. */
  dockerfile?: string;
  /** The Dockerfile's text, when it is not in the context (`-f` elsewhere, stdin). */
  dockerfileText?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  /** Pull every FROM image, even one stored here. */
  pull?: boolean;
  labels?: Record<string, string>;
  /** The network of a RUN step without `--network` (docker build's --network); default: the engine's default network. */
  network?: 'default' | 'none' | 'host';
  /**
   * The platform of stages without `FROM --platform` (berth build --platform; default: this host's):
   * a base image's manifest for it is taken from its index (pulled when not stored); a stage of a
   * platform this host cannot run may COPY and set config, and its RUN steps are refused.
   */
  platform?: string;
  /** Credentials for FROM pulls by registry host (docker build's X-Registry-Config); berthd's stored logins otherwise. */
  registryAuth?: Record<string, { username: string; password: string }>;
};

export type BuildEvent =
  | { kind: 'step'; stage: string; step: number; total: number; instruction: string; line: number; cached: boolean }
  /** The step has finished (a cached one finishes as it starts); a failed step gets none. */
  | { kind: 'step-done'; step: number }
  /** A RUN's output (`step`: which one; absent for the builder's own lines, such as a pull). */
  | { kind: 'output'; text: string; step?: number }
  | { kind: 'warning'; text: string }
  | { kind: 'done'; id: string; names: string[] };

export type BuildResult = { id: string; names: string[]; target: Descriptor; config: ImageConfig };

/** The directory of a context, or a tar stream of one (the API's request body). */
export type ContextSource = { dir: string } | { tar: Readable | AsyncIterable<Uint8Array> };

/** A mount of a RUN step: a host directory (cache, context) bound in, or a tmpfs. */
export type RunMount = {
  type: 'bind' | 'tmpfs';
  source?: string;
  target: string;
  readOnly?: boolean;
  options?: string[];
};

export type RunStepRequest = {
  mounts?: RunMount[];
  /** A name in the image store: the state the step runs on. */
  image: string;
  argv: string[];
  /** Added to the image's Env (the build args the step sees). */
  env: string[];
  network: 'default' | 'none' | 'host';
  /** The stage's USER (a name is resolved in the step's root filesystem when it starts). */
  user?: string;
  onOutput: (chunk: Buffer) => void;
};

/**
 * What the builder needs of the engine: run `argv` in a container on `image`, and, if it exits 0,
 * hand its filesystem diff (an overlay upper directory, and the paths in it that are the runtime's
 * mount points) to `collect` before the container goes. The container is removed in every case.
 */
export interface StepRunner {
  run<T>(
    req: RunStepRequest,
    collect: (diff: { upperDir: string; skip: Set<string> }) => Promise<T>,
  ): Promise<{ exitCode: number; result?: T }>;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Docker's predefined ARGs: usable without a declaration, and kept out of history and cache keys. */
const PROXY_ARGS = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);

type State = CachedState & { key: string };

/** Stages built at once, at most (each RUN is a container; the machine may have 2 cores). */
const MAX_PARALLEL_STAGES = 2;

/** One stage under way: its state, its ARGs, the shell. */
type StageRun = {
  stage: Stage;
  label: string;
  state: State;
  args: Map<string, string | undefined>;
};

class Build {
  readonly #b: Builder;
  readonly #o: BuildOptions;
  readonly #progress: (ev: BuildEvent) => void;
  readonly #df: Dockerfile;
  readonly #context: SourceTree;
  readonly leaseId: string;
  readonly staging: string;
  readonly #id = randomBytes(6).toString('hex');
  #tmpCount = 0;
  readonly #stageResults = new Map<number, State>();
  /** The stored image a FROM state was read from (its image ID), and each stage's base image ID. */
  readonly #fromImageIds = new WeakMap<State, string>();
  readonly #baseIds = new Map<number, string>();
  readonly #usedArgs = new Set<string>();
  readonly #globalArgs = new Map<string, string | undefined>();
  #step = 0;
  /** The first failure of a stage: the other stages stop at their next step. */
  #failed: unknown;
  readonly #total: number;
  readonly #epoch: Date | undefined;
  /** The build's target platform (--platform, else this host's). */
  readonly #platform: Platform;
  /** BuildKit's automatic platform ARGs (TARGETPLATFORM, BUILDARCH, …): global, and in a stage once declared. */
  readonly #platformArgs: Map<string, string>;

  constructor(
    b: Builder,
    df: Dockerfile,
    context: SourceTree,
    o: BuildOptions,
    progress: (ev: BuildEvent) => void,
    leaseId: string,
    staging: string,
    total: number,
  ) {
    this.#b = b;
    this.#df = df;
    this.#context = context;
    this.#o = o;
    this.#progress = progress;
    this.leaseId = leaseId;
    this.staging = staging;
    this.#total = total;
    const sde = o.buildArgs?.SOURCE_DATE_EPOCH;
    this.#epoch = sde !== undefined && /^\d+$/.test(sde) ? new Date(Number(sde) * 1000) : undefined;
    try {
      this.#platform = o.platform ? parsePlatform(o.platform) : hostPlatform();
    } catch (e) {
      throw invalidArgument(`--platform ${o.platform}: ${(e as Error).message}`, e);
    }
    this.#platformArgs = new Map();
    for (const [prefix, p] of [
      ['TARGET', this.#platform],
      ['BUILD', hostPlatform()],
    ] as const) {
      this.#platformArgs.set(`${prefix}PLATFORM`, formatPlatform(p));
      this.#platformArgs.set(`${prefix}OS`, p.os);
      this.#platformArgs.set(`${prefix}ARCH`, p.architecture);
      this.#platformArgs.set(`${prefix}VARIANT`, p.variant ?? '');
    }
    for (const a of df.globalArgs) {
      const given = o.buildArgs?.[a.name];
      if (given !== undefined) this.#usedArgs.add(a.name);
      this.#globalArgs.set(
        a.name,
        given ?? (a.value === undefined ? undefined : this.#expand(a.value, this.#globalEnv(), a.line)),
      );
    }
  }

  #err(line: number, msg: string): Error {
    return dockerfileError(this.#df.file, line, msg);
  }

  #globalEnv(): Map<string, string> {
    const m = new Map<string, string>(this.#platformArgs);
    for (const [k, v] of this.#globalArgs) if (v !== undefined) m.set(k, v);
    return m;
  }

  #expand(word: string, env: Map<string, string>, line: number): string {
    try {
      return processWord(word, env, this.#df.escape);
    } catch (e) {
      if (e instanceof LexError) throw this.#err(line, e.message);
      throw e;
    }
  }

  #expandWords(text: string, env: Map<string, string>, line: number): string[] {
    try {
      return processWords(text, env, this.#df.escape);
    } catch (e) {
      if (e instanceof LexError) throw this.#err(line, e.message);
      throw e;
    }
  }

  /** The environment words are expanded with: the stage's ARGs, then ENV over them. */
  #env(s: StageRun): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of s.args) if (v !== undefined) m.set(k, v);
    for (const e of rc(s.state).Env ?? []) {
      const i = e.indexOf('=');
      if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
    }
    return m;
  }

  /** The build args a RUN sees as environment: declared ones not shadowed by ENV, and the proxy args given. */
  #runArgs(s: StageRun): string[] {
    const envNames = new Set((rc(s.state).Env ?? []).map((e) => e.slice(0, e.indexOf('='))));
    const out: string[] = [];
    for (const [k, v] of s.args) if (v !== undefined && !envNames.has(k)) out.push(`${k}=${v}`);
    for (const [k, v] of Object.entries(this.#o.buildArgs ?? {}))
      if (PROXY_ARGS.has(k) && !s.args.has(k) && !envNames.has(k)) out.push(`${k}=${v}`);
    return out;
  }

  async run(): Promise<BuildResult> {
    const target = this.#targetStage();
    const needed = this.#neededStages(target);
    // Independent stages build at once, at most MAX_PARALLEL_STAGES; a stage starts its steps once
    // the stages it needs are built (they come earlier, so they were taken first and hold their own
    // slots). A failure stops the others at their next step.
    const done = new Map<number, Promise<State>>();
    const resolvers = new Map<number, (s: Promise<State>) => void>();
    for (const i of needed) done.set(i, new Promise<State>((r) => resolvers.set(i, (p) => r(p))));
    for (const p of done.values()) p.catch(() => {});
    const order = this.#df.stages.filter((st) => needed.has(st.index));
    await mapLimit(order, MAX_PARALLEL_STAGES, async (stage) => {
      const run = (async () => {
        await Promise.all([...this.#dependencies(stage)].map((i) => done.get(i)!));
        const st = await this.#runStage(stage);
        this.#stageResults.set(stage.index, st);
        return st;
      })();
      resolvers.get(stage.index)!(run);
      try {
        return await run;
      } catch (e) {
        this.#failed ??= e;
        throw e;
      }
    });
    const unused = Object.keys(this.#o.buildArgs ?? {}).filter(
      (k) => !this.#usedArgs.has(k) && !PROXY_ARGS.has(k) && k !== 'SOURCE_DATE_EPOCH',
    );
    if (unused.length > 0)
      this.#progress({
        kind: 'warning',
        text: `one or more build args were not consumed: ${unused.sort().join(', ')}`,
      });
    let state = this.#stageResults.get(target.index)!;
    if (this.#o.labels && Object.keys(this.#o.labels).length > 0) {
      state = await this.#metaStep(
        state,
        ['label', this.#o.labels],
        (c) => {
          c.Labels = { ...(c.Labels ?? {}), ...this.#o.labels };
        },
        `LABEL ${Object.entries(this.#o.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    }
    return this.#commit(state, this.#baseIds.get(target.index));
  }

  #targetStage(): Stage {
    const stages = this.#df.stages;
    if (this.#o.target === undefined) return stages.at(-1)!;
    const t = this.#o.target.toLowerCase();
    const s = stages.find((x) => x.name === t);
    if (!s)
      throw invalidArgument(
        `--target ${this.#o.target}: no such stage in ${this.#df.file} (stages: ${stages.map((x) => x.name ?? String(x.index)).join(', ')})`,
      );
    return s;
  }

  #stageByRef(ref: string, before: number): Stage | undefined {
    const r = ref.toLowerCase();
    const named = this.#df.stages.find((s) => s.name === r && s.index < before);
    if (named) return named;
    if (/^\d+$/.test(ref) && Number(ref) < before) return this.#df.stages[Number(ref)];
    return undefined;
  }

  /** The stages `s` needs built first: its base, and those it copies from. */
  #dependencies(s: Stage): Set<number> {
    const deps = new Set<number>();
    const base = this.#stageByRef(this.#expand(s.base, this.#globalEnv(), s.line), s.index);
    if (base) deps.add(base.index);
    for (const i of s.instructions) {
      if ((i.kind === 'copy' || i.kind === 'add') && i.from !== undefined) {
        const dep = this.#stageByRef(i.from, s.index);
        if (dep) deps.add(dep.index);
      }
    }
    return deps;
  }

  /** The stages `target` needs (FROM an earlier stage, COPY --from one); others are skipped. */
  #neededStages(target: Stage): Set<number> {
    const needed = new Set<number>();
    const visit = (s: Stage) => {
      if (needed.has(s.index)) return;
      needed.add(s.index);
      for (const d of this.#dependencies(s)) visit(this.#df.stages[d]!);
    };
    visit(target);
    return needed;
  }

  /** A step starts; its number. A cached step is done at once. */
  #announce(s: StageRun, ins: { original: string; line: number }, cached: boolean): number {
    const step = ++this.#step;
    this.#progress({
      kind: 'step',
      stage: s.label,
      step,
      total: this.#total,
      instruction: ins.original,
      line: ins.line,
      cached,
    });
    if (cached) this.#progress({ kind: 'step-done', step });
    return step;
  }

  /** A step that only changes the config or the build's state: it starts and is done. */
  #instant(s: StageRun, ins: { original: string; line: number }, cached: boolean): void {
    const step = this.#announce(s, ins, cached);
    if (!cached) this.#progress({ kind: 'step-done', step });
  }

  async #runStage(stage: Stage): Promise<State> {
    const label = stage.name ?? String(stage.index);
    const baseRef = this.#expand(stage.base, this.#globalEnv(), stage.line);
    const s: StageRun = { stage, label, state: await this.#from(stage, baseRef), args: new Map() };
    // The image ID the stage stands on (a FROM of an earlier stage: that stage's), the built image's parent.
    const earlier = this.#stageByRef(baseRef, stage.index);
    const baseId = earlier ? this.#baseIds.get(earlier.index) : this.#fromImageIds.get(s.state);
    if (baseId) this.#baseIds.set(stage.index, baseId);
    this.#instant(s, stage, false);
    // ONBUILD triggers of the base image run first, as Docker does, and are not inherited further.
    const triggers = rc(s.state).OnBuild ?? [];
    if (triggers.length > 0) {
      const cfg = structuredClone(s.state.config);
      delete (cfg.config as RuntimeConfig).OnBuild;
      s.state = { ...s.state, config: cfg };
      for (const t of triggers) {
        let parsed: Instruction[];
        try {
          parsed = parseInstructions(`FROM scratch\n${t}`, `${baseRef} ONBUILD`).stages[0]!.instructions;
        } catch (e) {
          throw this.#err(stage.line, `ONBUILD trigger of ${baseRef}: ${(e as Error).message}`);
        }
        for (const ins of parsed)
          await this.#instruction(s, {
            ...ins,
            line: stage.line,
            endLine: stage.line,
            original: `ONBUILD ${ins.original}`,
          });
      }
    }
    for (const ins of stage.instructions) await this.#instruction(s, ins);
    return s.state;
  }

  async #from(stage: Stage, ref: string): Promise<State> {
    if (ref === '') throw this.#err(stage.line, `FROM ${stage.base}: the image name is empty after substitution`);
    // FROM --platform (substituted with the global ARGs: $BUILDPLATFORM, $TARGETPLATFORM), else the build's.
    let asked: Platform | undefined;
    if (stage.platform !== undefined) {
      const p = this.#expand(stage.platform, this.#globalEnv(), stage.line);
      try {
        asked = parsePlatform(p);
      } catch (e) {
        throw this.#err(stage.line, `FROM --platform=${p}: ${(e as Error).message}`);
      }
    } else if (this.#o.platform) asked = this.#platform;
    const want = asked ?? this.#platform;
    if (ref.toLowerCase() === 'scratch') {
      const config: ImageConfig = {
        architecture: want.architecture,
        os: want.os,
        ...(want.variant ? { variant: want.variant } : {}),
        config: { Env: [DEFAULT_PATH] },
        rootfs: { type: 'layers', diff_ids: [] },
        history: [],
      };
      return { config, layers: [], key: cacheKey('scratch', want) };
    }
    const earlier = this.#stageByRef(ref, stage.index);
    if (earlier) {
      const st = this.#stageResults.get(earlier.index);
      if (!st) throw this.#err(stage.line, `FROM ${ref}: stage ${ref} was not built`);
      return st;
    }
    const images = this.#b.images;
    let name: string;
    try {
      name = resolveName(ref);
    } catch (e) {
      throw this.#err(stage.line, `FROM ${ref}: ${(e as Error).message}`);
    }
    const forPlatform = asked ? ` for ${formatPlatform(want)}` : '';
    const pullIt = async () => {
      this.#progress({ kind: 'output', text: `pulling ${name}${forPlatform}\n` });
      // A resolved name always starts with its registry host.
      const credentials = this.#o.registryAuth?.[name.slice(0, name.indexOf('/'))];
      await images.pull(name, {
        ...(asked ? { platform: formatPlatform(want) } : {}),
        ...(credentials ? { credentials } : {}),
      });
    };
    // The stored image's manifest for the platform: an index's entry, or a single manifest whose
    // config says that platform (checked only when a platform was asked for, as before for the host's).
    const lookup = async () => {
      if (!asked) {
        const d = await images.inspect(name);
        return { target: d.target, manifestDescriptor: d.manifestDescriptor, manifest: d.manifest, config: d.config };
      }
      const record = (await images.find(name))[0]!;
      const r = await images.resolveManifest(record.name, record.target, want);
      const have = {
        os: r.config.os,
        architecture: r.config.architecture,
        ...(r.config.variant ? { variant: r.config.variant } : {}),
      };
      if (!platformMatches(want, have))
        throw notFound(`the image stored as ${record.name} is ${formatPlatform(have)}, not ${formatPlatform(want)}`);
      return { target: record.target, ...r };
    };
    let details: Awaited<ReturnType<typeof lookup>>;
    try {
      if (this.#o.pull) await pullIt();
      details = await lookup();
    } catch (e) {
      if (!isBerthError(e, 'BERTH_ERR_NOT_FOUND') || this.#o.pull)
        throw this.#err(stage.line, `FROM ${ref}: ${(e as Error).message}`);
      try {
        await pullIt();
        details = await lookup();
      } catch (e2) {
        throw this.#err(
          stage.line,
          `FROM ${ref}: not stored here${asked ? `${forPlatform} (${(e as Error).message})` : ''}, and pulling it failed: ${(e2 as Error).message}`,
        );
      }
    }
    await this.#b.images.content.addResource(this.leaseId, details.target.digest);
    await this.#b.images.content.addResource(this.leaseId, details.manifestDescriptor.digest);
    const config = structuredClone(details.config);
    config.history ??= [];
    const state = {
      config,
      layers: details.manifest.layers,
      key: cacheKey('image', details.manifestDescriptor.digest),
    };
    this.#fromImageIds.set(state, details.manifest.config.digest);
    return state;
  }

  /** A config-only step: cached like every step, so a rebuild gives the same image. */
  async #metaStep(
    state: State,
    keyParts: unknown,
    change: (c: RuntimeConfig, config: ImageConfig) => void,
    createdBy: string,
  ): Promise<State & { hit?: boolean }> {
    const key = cacheKey(state.key, keyParts);
    const hit = this.#o.noCache ? undefined : await this.#cacheGet(key);
    if (hit) return { ...hit, key, hit: true };
    const config = structuredClone(state.config);
    config.config ??= {};
    change(config.config as RuntimeConfig, config);
    const created = this.#now();
    config.created = created;
    config.history = [
      ...(config.history ?? []),
      { created, created_by: createdBy, comment: 'berth build', empty_layer: true },
    ];
    const next: State = { config, layers: state.layers, key };
    await this.#b.cache.put(key, { config, layers: next.layers });
    return next;
  }

  #now(): string {
    return (this.#epoch ?? new Date()).toISOString();
  }

  async #cacheGet(key: string): Promise<CachedState | undefined> {
    const hit = await this.#b.cache.get(key, (d) => this.#b.images.content.exists(d));
    if (hit) for (const l of hit.layers) await this.#b.images.content.addResource(this.leaseId, l.digest);
    return hit;
  }

  async #instruction(s: StageRun, ins: Instruction): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    const env = this.#env(s);
    const x = (w: string) => this.#expand(w, env, ins.line);
    const meta = async (
      parts: unknown,
      change: (c: RuntimeConfig, config: ImageConfig) => void,
      createdBy = ins.original,
    ) => {
      const { hit, ...next } = await this.#metaStep(s.state, parts, change, createdBy);
      s.state = next;
      this.#instant(s, ins, hit === true);
    };
    switch (ins.kind) {
      case 'arg': {
        for (const a of ins.args) {
          const given = this.#o.buildArgs?.[a.name];
          if (given !== undefined) this.#usedArgs.add(a.name);
          const value =
            given ??
            (a.value !== undefined
              ? x(a.value)
              : this.#globalArgs.has(a.name)
                ? this.#globalArgs.get(a.name)
                : this.#platformArgs.get(a.name));
          s.args.set(a.name, value);
        }
        // As Docker: declaring an ARG is no cache miss, its first use is (a RUN's key has the args it
        // sees; other steps' keys have their words after substitution).
        s.state = {
          ...s.state,
          key: cacheKey(
            s.state.key,
            'arg',
            ins.args.map((a) => a.name),
          ),
        };
        this.#instant(s, ins, false);
        return;
      }
      case 'env': {
        const pairs = ins.pairs.map((p) => [x(p.key), x(p.value)] as const);
        return meta(
          ['env', pairs],
          (c) => {
            const list = [...(c.Env ?? [])];
            for (const [k, v] of pairs) {
              const i = list.findIndex((e) => e.startsWith(`${k}=`));
              if (i >= 0) list[i] = `${k}=${v}`;
              else list.push(`${k}=${v}`);
            }
            c.Env = list;
          },
          `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`,
        );
      }
      case 'label': {
        const pairs = ins.pairs.map((p) => [x(p.key), x(p.value)] as const);
        return meta(
          ['label', pairs],
          (c) => {
            c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs) };
          },
          `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`,
        );
      }
      case 'cmd':
      case 'entrypoint': {
        const argv =
          'exec' in ins.command ? ins.command.exec : [...(rc(s.state).Shell ?? DEFAULT_SHELL), ins.command.shell];
        return meta(
          [ins.kind, argv],
          (c) => {
            if (ins.kind === 'cmd') c.Cmd = argv;
            else {
              c.Entrypoint = argv;
              // Docker: an ENTRYPOINT resets the Cmd inherited from the base image.
              if (!s.stage.instructions.some((i) => i.kind === 'cmd' && i.line < ins.line)) c.Cmd = null;
            }
          },
          `${ins.kind.toUpperCase()} ${JSON.stringify(argv)}`,
        );
      }
      case 'shell':
        return meta(
          ['shell', ins.shell],
          (c) => {
            c.Shell = ins.shell;
          },
          `SHELL ${JSON.stringify(ins.shell)}`,
        );
      case 'workdir': {
        const p = x(ins.path);
        const abs = posix.resolve(rc(s.state).WorkingDir || '/', p);
        return meta(
          ['workdir', abs],
          (c) => {
            c.WorkingDir = abs;
          },
          `WORKDIR ${abs}`,
        );
      }
      case 'user': {
        const u = x(ins.user);
        return meta(
          ['user', u],
          (c) => {
            c.User = u;
          },
          `USER ${u}`,
        );
      }
      case 'stopsignal': {
        const sig = x(ins.signal);
        if (!/^(SIG)?[A-Z0-9+-]+$|^\d+$/.test(sig))
          throw this.#err(ins.line, `STOPSIGNAL ${sig}: expected a signal name (SIGTERM) or number`);
        return meta(
          ['stopsignal', sig],
          (c) => {
            c.StopSignal = sig;
          },
          `STOPSIGNAL ${sig}`,
        );
      }
      case 'maintainer': {
        const m = x(ins.maintainer);
        return meta(['maintainer', m], (_c, config) => {
          config.author = m;
        });
      }
      case 'expose': {
        const ports = ins.ports.flatMap((p) => this.#expandWords(p, env, ins.line));
        const keys = ports.map((p) => {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!m)
            throw this.#err(ins.line, `EXPOSE ${p}: expected <port>[/tcp|udp|sctp] or a range <from>-<to>[/proto]`);
          const proto = (m[3] ?? 'tcp').toLowerCase();
          const from = Number(m[1]);
          const to = m[2] ? Number(m[2]) : from;
          if (from < 1 || to > 65535 || to < from) throw this.#err(ins.line, `EXPOSE ${p}: ports must be in 1-65535`);
          return Array.from({ length: to - from + 1 }, (_, i) => `${from + i}/${proto}`);
        });
        const all = keys.flat();
        return meta(
          ['expose', all],
          (c) => {
            c.ExposedPorts = { ...(c.ExposedPorts ?? {}), ...Object.fromEntries(all.map((k) => [k, {}])) };
          },
          `EXPOSE ${all.join(' ')}`,
        );
      }
      case 'volume': {
        const paths = ins.paths.flatMap((p) => this.#expandWords(p, env, ins.line));
        for (const p of paths) if (p === '') throw this.#err(ins.line, 'VOLUME: a path is empty after substitution');
        return meta(
          ['volume', paths],
          (c) => {
            c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries(paths.map((p) => [p, {}])) };
          },
          `VOLUME ${JSON.stringify(paths)}`,
        );
      }
      case 'healthcheck': {
        const hc: RuntimeConfig['Healthcheck'] = ins.none
          ? { Test: ['NONE'] }
          : {
              Test: ins.test,
              ...(ins.interval !== undefined ? { Interval: ins.interval } : {}),
              ...(ins.timeout !== undefined ? { Timeout: ins.timeout } : {}),
              ...(ins.startPeriod !== undefined ? { StartPeriod: ins.startPeriod } : {}),
              ...(ins.startInterval !== undefined ? { StartInterval: ins.startInterval } : {}),
              ...(ins.retries !== undefined ? { Retries: ins.retries } : {}),
            };
        return meta(['healthcheck', hc], (c) => {
          c.Healthcheck = hc;
        });
      }
      case 'onbuild':
        return meta(['onbuild', ins.trigger], (c) => {
          c.OnBuild = [...(c.OnBuild ?? []), ins.trigger];
        });
      case 'run':
        return this.#run(s, ins);
      case 'copy':
      case 'add':
        return this.#copy(s, ins);
    }
  }

  /** A layer step: the cache, else `make`; the layer added with its history entry. */
  async #layerStep(
    s: StageRun,
    ins: Instruction,
    keyParts: unknown,
    createdBy: string,
    make: (step: number) => Promise<{ descriptor: Descriptor; diffId: string }>,
  ): Promise<void> {
    const key = cacheKey(s.state.key, keyParts);
    const hit = this.#o.noCache ? undefined : await this.#cacheGet(key);
    if (hit) {
      s.state = { ...hit, key };
      this.#announce(s, ins, true);
      return;
    }
    const step = this.#announce(s, ins, false);
    const layer = await make(step);
    const config = structuredClone(s.state.config);
    const created = this.#now();
    config.created = created;
    config.rootfs = { type: 'layers', diff_ids: [...config.rootfs.diff_ids, layer.diffId] };
    config.history = [
      ...(config.history ?? []),
      { created, created_by: createdBy, comment: 'berth build' } satisfies History,
    ];
    s.state = { config, layers: [...s.state.layers, layer.descriptor], key };
    await this.#b.cache.put(key, { config, layers: s.state.layers });
    this.#progress({ kind: 'step-done', step });
  }

  async #run(s: StageRun, ins: Instruction & { kind: 'run' }): Promise<void> {
    const c = s.state.config;
    const platform = { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) };
    if (!platformMatches(hostPlatform(), platform))
      throw unsupported(
        `${this.#df.file}:${ins.line}: RUN in stage ${s.label}, whose platform is ${formatPlatform(platform)}: this host runs ${formatPlatform(hostPlatform())} programs and berth does not emulate other architectures; build the stage for ${formatPlatform(hostPlatform())} (FROM --platform=$BUILDPLATFORM) or keep RUN out of it (COPY, ADD and config steps work on any platform)`,
      );
    const shell = rc(s.state).Shell ?? DEFAULT_SHELL;
    let argv: string[];
    if ('exec' in ins.command) argv = ins.command.exec;
    else {
      const text = ins.command.shell;
      const only = ins.heredocs.length === 1 && /^<<-?(["']?)[A-Za-z_][A-Za-z0-9_.-]*\1$/.test(text.trim());
      if (only) argv = [...shell, heredocBody(ins.heredocs[0]!)];
      else if (ins.heredocs.length > 0)
        argv = [...shell, `${text}\n${ins.heredocs.map((h) => `${h.content}${h.name}\n`).join('')}`];
      else argv = [...shell, text];
    }
    const argEnv = this.#runArgs(s);
    const keyArgs = argEnv.filter((e) => !PROXY_ARGS.has(e.slice(0, e.indexOf('='))));
    const createdBy = `RUN ${keyArgs.length > 0 ? `|${keyArgs.length} ${keyArgs.join(' ')} ` : ''}${argv.join(' ')}`;
    const { mounts, key: mountKey } = await this.#runMounts(s, ins);
    const network = ins.network === 'default' ? (this.#o.network ?? 'default') : ins.network;
    await this.#layerStep(
      s,
      ins,
      ['run', argv, keyArgs, network, ...(mounts.length > 0 ? [mountKey] : [])],
      createdBy,
      async (step) => {
        const tmp = await this.#temporaryImage(s.state);
        let out = '';
        try {
          const r = await this.#b.runner.run(
            {
              image: tmp,
              argv,
              env: argEnv,
              network,
              mounts,
              ...(rc(s.state).User ? { user: rc(s.state).User } : {}),
              onOutput: (c) => {
                const t = c.toString();
                out = (out + t).slice(-4096);
                this.#progress({ kind: 'output', text: t, step });
              },
            },
            async ({ upperDir, skip }) => {
              const layer = await storeLayer(
                this.#b.images.content,
                this.leaseId,
                this.staging,
                overlayDiffEntries(upperDir, skip),
                this.#epoch,
              );
              await this.#commitSnapshot(s.state, layer, (upper) => cloneOverlayDiff(upperDir, upper, skip));
              return layer;
            },
          );
          if (r.exitCode !== 0 || !r.result) {
            const tail = out.trimEnd().split('\n').slice(-10).join('\n');
            throw failedPrecondition(
              `${this.#df.file}:${ins.line}: step ${step}/${this.#total} (stage ${s.label}) ${ins.original}: the command returned a non-zero code: ${r.exitCode}${tail ? `\n${tail}` : ''}`,
            );
          }
          return r.result;
        } finally {
          await this.#b.images.images.delete(tmp).catch(() => {});
        }
      },
    );
  }

  /**
   * `RUN --mount=…`: type=cache (a directory of the builder's that outlives builds, by id, default
   * the target), type=bind (a read-only path of the context, resolved inside it), type=tmpfs.
   * secret and ssh mounts need a credential store berth does not have: refused. What is mounted is
   * never part of the layer (the runner leaves mount points out of the diff). The key has the mounts
   * and, for a bind, the content digests of what it shows, as a COPY's has.
   */
  async #runMounts(s: StageRun, ins: Instruction & { kind: 'run' }): Promise<{ mounts: RunMount[]; key: unknown[] }> {
    const mounts: RunMount[] = [];
    const key: unknown[] = [];
    const where = `${this.#df.file}:${ins.line}: RUN --mount`;
    const env = this.#env(s);
    for (const spec of ins.mounts) {
      const o: Record<string, string> = {};
      for (const part of spec.split(',')) {
        const i = part.indexOf('=');
        const k = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
        o[k] = i < 0 ? 'true' : this.#expand(part.slice(i + 1), env, ins.line);
      }
      const type = o.type ?? 'bind';
      if (type === 'secret' || type === 'ssh')
        throw unsupported(`${where}=${spec}: ${type} mounts are not supported (berth has no build secrets store)`);
      const target0 = o.target ?? o.dst ?? o.destination;
      if (!target0) throw this.#err(ins.line, `RUN --mount=${spec}: target= is required`);
      const target = posix.resolve(rc(s.state).WorkingDir || '/', target0);
      if (type === 'cache') {
        const id = o.id ?? target;
        const dir = join(
          this.#b.root,
          'build',
          'cache-mounts',
          cacheKey(id).slice('sha256:'.length, 'sha256:'.length + 32),
        );
        await mkdir(dir, { recursive: true, mode: o.mode ? Number.parseInt(o.mode, 8) : 0o755 });
        if (o.uid !== undefined || o.gid !== undefined) {
          const { chown } = await import('node:fs/promises');
          await chown(dir, Number(o.uid ?? 0), Number(o.gid ?? 0));
        }
        mounts.push({ type: 'bind', source: dir, target, readOnly: o.readonly === 'true' || o.ro === 'true' });
        key.push(['cache', id, target]);
      } else if (type === 'bind') {
        if (o.from !== undefined)
          throw unsupported(
            `${where}=${spec}: from= is not supported (bind mounts show the build context; COPY --from a stage instead)`,
          );
        if (o.rw === 'true' || o.readwrite === 'true')
          throw unsupported(
            `${where}=${spec}: a writable bind mount of the context is not supported (it would write into the context)`,
          );
        const src = await this.#context.sources(o.source ?? o.src ?? '.', `${where}=${spec}`);
        const rel = src[0]!;
        const digests: unknown[] = [];
        const st = rel === '' ? undefined : await this.#context.stat(rel);
        if (st?.isFile()) digests.push(await this.#context.digest(rel));
        else
          for (const e of await this.#context.walk(rel))
            digests.push([e.rel, e.stat.isFile() ? await this.#context.digest(e.rel) : (e.link ?? e.stat.mode)]);
        mounts.push({ type: 'bind', source: join(this.#context.root, rel), target, readOnly: true });
        key.push(['bind', rel, target, digests]);
      } else if (type === 'tmpfs') {
        mounts.push({ type: 'tmpfs', target, ...(o.size ? { options: [`size=${o.size}`] } : {}) });
        key.push(['tmpfs', target, o.size ?? null]);
      } else throw this.#err(ins.line, `RUN --mount=${spec}: type ${type}: expected cache, bind or tmpfs`);
    }
    return { mounts, key };
  }

  /**
   * The snapshot of a step's layer, made by `fill` in the upper directory of a snapshot prepared on
   * the parent's chain rather than by extracting the layer's tar again (which costs a hardened
   * applier's work per file): the next step, a view of the stage, or the result finds its chain
   * unpacked. A RUN's is hard-linked from the container's upper directory (cloneOverlayDiff), a
   * COPY's written from the entries its tar was written from (writeLayerEntries). Where that cannot
   * be done, unpackStored extracts the tar later, as for any layer.
   */
  async #commitSnapshot(
    state: State,
    layer: { descriptor: Descriptor; diffId: string },
    fill: (upper: string) => Promise<void>,
  ): Promise<void> {
    const snap = this.#b.images.snapshotter;
    if (snap.applyFormat !== 'overlay') return;
    const chain = chainIds([...state.config.rootfs.diff_ids, layer.diffId]);
    const name = chain.at(-1)!;
    const exists = () =>
      snap.stat(name).then(
        () => true,
        () => false,
      );
    if (await exists()) return;
    const key = `build-commit-${this.#id}-${randomBytes(4).toString('hex')}`;
    const labels = { 'berth.io/layer': layer.descriptor.digest };
    await snap.prepare(key, chain.at(-2), { labels });
    try {
      await fill(await snap.upperDir(key));
      await snap.commit(name, key, { labels });
    } catch (e) {
      await snap.remove(key).catch(() => {});
      // Another build may have committed the same chain meanwhile; else the tar is extracted later.
      if (!(await exists()))
        this.#progress({
          kind: 'warning',
          text: `the snapshot of ${layer.diffId} will be extracted from its tar: ${(e as Error).message}`,
        });
    }
  }

  /**
   * The file of a view's snapshot directory that `e` (taken from `tree`, a view of a stage or an
   * image) is, when it already has the entry's owner and mode: hard-linking it into the new snapshot
   * costs one call instead of a copy (its mtime stays to the nanosecond, where an extracted tar's is
   * to the second). It is the same file only when its device and inode are what the view shows (an
   * overlay of layers on one filesystem shows a file's own inode); a path through a symlinked parent
   * that leads elsewhere fails that test. Snapshots are never written in place (a container's
   * overlay copies up), so the shared inode stays as it is.
   */
  #sameFile(tree: SourceTree, e: LayerEntry): string | undefined {
    if (tree.layerDirs.length === 0 || !e.source?.startsWith(`${tree.root}/`)) return undefined;
    if (this.#epoch !== undefined && e.mtime > this.#epoch) return undefined;
    const rel = e.source.slice(tree.root.length + 1);
    const shown = lstatSync(e.source, { throwIfNoEntry: false });
    if (!shown?.isFile()) return undefined;
    for (const d of tree.layerDirs) {
      const real = join(d, rel);
      const st = lstatSync(real, { throwIfNoEntry: false });
      if (!st) continue;
      const same =
        st.isFile() &&
        st.ino === shown.ino &&
        st.dev === lstatSync(d).dev &&
        st.size === shown.size &&
        st.uid === e.uid &&
        st.gid === e.gid &&
        (st.mode & 0o7777) === (e.mode & 0o7777);
      return same ? real : undefined;
    }
    return undefined;
  }

  /** The state as an image named in the store (its layers unpacked), for a RUN's container. */
  async #temporaryImage(state: State): Promise<string> {
    const target = await this.#writeManifest(state);
    await this.#unpack(state);
    const name = `${TMP_REPOSITORY}:${this.#id}-${++this.#tmpCount}`;
    await this.#b.images.images.put(name, target);
    return name;
  }

  async #writeManifest(state: State): Promise<Descriptor> {
    const content = this.#b.images.content;
    const cfgBytes = JSON.stringify(state.config);
    const cfg = await writeBlob(content, cfgBytes);
    await content.addResource(this.leaseId, cfg.digest);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, ...cfg },
      layers: state.layers,
    };
    const m = await writeBlob(content, JSON.stringify(manifest));
    await content.addResource(this.leaseId, m.digest);
    return { mediaType: MediaType.ImageManifest, ...m };
  }

  async #unpack(state: State): Promise<string | undefined> {
    if (state.layers.length === 0) return undefined;
    const [{ unpackStored }, { applyLayer }] = await Promise.all([
      import('../images/unpack-stored.ts'),
      import('../archive/apply-layer.ts'),
    ]);
    return unpackStored('build', state.layers, state.config.rootfs.diff_ids, this.#b.images.content, {
      snapshotter: this.#b.images.snapshotter,
      applyLayer,
    });
  }

  /** A read-only view of the state's root filesystem for `fn`; undefined for an empty one. */
  async #withRootfs<T>(state: State, label: string, fn: (tree: SourceTree | undefined) => Promise<T>): Promise<T> {
    // A manifest under the build's lease keeps its layer chain from gc (image-gc keeps the chains of
    // leased manifests) between the unpack and the view: a concurrent rmi cannot take it.
    if (state.layers.length > 0) await this.#writeManifest(state);
    const chain = await this.#unpack(state);
    if (!chain) return fn(undefined);
    const snap = this.#b.images.snapshotter;
    const key = `build-view-${this.#id}-${randomBytes(4).toString('hex')}`;
    const dir = await mkdtemp(join(this.staging, 'view-'));
    const mounts = await snap.view(key, chain, { labels: { 'berth.build': this.#id } });
    try {
      await mountAll(mounts, dir);
      try {
        const tree = new SourceTree(dir, label);
        // A view is a read-only bind of one layer's directory or an overlay of several (topmost first).
        const m = mounts[0];
        if (mounts.length === 1 && m)
          tree.layerDirs =
            m.type === 'bind'
              ? [m.source]
              : (m.options
                  .find((o) => o.startsWith('lowerdir='))
                  ?.slice('lowerdir='.length)
                  .split(':') ?? []);
        return await fn(tree);
      } finally {
        unmountAll(dir, { detach: true });
      }
    } finally {
      await snap.remove(key).catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  async #copy(s: StageRun, ins: Instruction & { kind: 'copy' | 'add' }): Promise<void> {
    const env = this.#env(s);
    const x = (w: string) => this.#expand(w, env, ins.line);
    const K = ins.kind.toUpperCase();
    const where = `${this.#df.file}:${ins.line}: ${K}`;
    const dest0 = x(ins.dest);
    const workdir = rc(s.state).WorkingDir || '/';
    const destIsDirSyntax = dest0.endsWith('/') || dest0 === '.' || dest0.endsWith('/.');
    const dest = posix.resolve(workdir, dest0).replace(/^\/+/, '');
    const sources = ins.sources.map((src) => (src.startsWith('<<') ? src : x(src)));
    if (ins.kind === 'add' && ins.checksum !== undefined) {
      // BuildKit's rules (dockerfile2llb): one source, and only a URL or a Git source, whose bytes
      // the checksum pins; a local file is the context's own. berth fetches neither (below).
      const sum = x(ins.checksum);
      if (!/^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/.test(sum))
        throw this.#err(
          ins.line,
          `ADD --checksum=${sum}: invalid checksum digest format (expected sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>)`,
        );
      if (sources.length !== 1)
        throw this.#err(ins.line, "ADD --checksum: checksum can't be specified for multiple sources");
      if (!/^(https?|git|ssh):\/\/|^git@/i.test(sources[0]!))
        throw this.#err(
          ins.line,
          `ADD --checksum ${sources[0]}: checksum requires HTTP(S) or Git sources (a local file is taken from the build context as it is; BuildKit refuses this too)`,
        );
    }
    for (const src of sources) {
      if (ins.kind === 'add' && /^(https?|git|ssh):\/\/|^git@/i.test(src))
        throw unsupported(
          `${where} ${src}: fetching URLs is not supported (berth builds without network access to the source); download the file into the build context and COPY it`,
        );
    }
    const chown = ins.chown === undefined ? undefined : x(ins.chown);
    const chmod = ins.chmod === undefined ? undefined : Number.parseInt(ins.chmod, 8);
    const heredocs = new Map<string, Buffer>();
    for (const h of ins.heredocs) {
      const body = heredocBody(h);
      heredocs.set(h.name, Buffer.from(h.expand ? x(body) : body));
    }
    // The key first, with nothing mounted (a hit then costs only reading the context): the parent's
    // key, the instruction as it runs, and what the sources are: for the context their content
    // (never mtimes), for a stage or an image its key, from which its content follows.
    let from: { state: State; label: string } | undefined;
    const keyParts: unknown[] = [ins.kind, dest0, workdir, chown ?? null, chmod ?? null];
    if (ins.from !== undefined) {
      const ref = x(ins.from);
      const st = this.#stageByRef(ref, s.stage.index);
      if (st) from = { state: this.#stageResults.get(st.index)!, label: `stage ${st.name ?? st.index}` };
      else {
        const { platform: _platform, ...rest } = s.stage;
        from = { state: await this.#from({ ...rest, base: ref }, ref), label: `image ${ref}` };
      }
      keyParts.push(['from', from.state.key, sources.filter((src) => !src.startsWith('<<'))]);
    } else {
      for (const src of sources) {
        if (src.startsWith('<<')) continue;
        for (const rel of await this.#context.sources(src, `${where} ${src}`))
          keyParts.push(await treeKey(this.#context, rel));
      }
    }
    for (const [name, body] of heredocs) keyParts.push(['heredoc', name, body.toString()]);
    const createdBy = `${K} ${[...(ins.from ? [`--from=${ins.from}`] : []), ...(chown ? [`--chown=${chown}`] : []), ...(ins.chmod ? [`--chmod=${ins.chmod}`] : []), ...sources, dest0].join(' ')}`;
    const withSource = <T>(fn: (tree: SourceTree | undefined) => Promise<T>): Promise<T> =>
      from ? this.#withRootfs(from.state, from.label, fn) : fn(this.#context);
    await this.#layerStep(s, ins, keyParts, createdBy, () =>
      withSource(async (tree) =>
        this.#withRootfs(s.state, `stage ${s.label}`, async (rootfs) => {
          const owner = chown === undefined ? { uid: 0, gid: 0 } : await resolveOwner(chown, rootfs, where);
          type Item = { src: string; rel: string; isDir: boolean; heredoc?: Buffer };
          const items: Item[] = [];
          for (const src of sources) {
            if (src.startsWith('<<')) {
              items.push({ src, rel: src.slice(2), isDir: false, heredoc: heredocs.get(src.slice(2))! });
              continue;
            }
            if (!tree) throw invalidArgument(`${where} ${src}: not found (the source's root filesystem is empty)`);
            for (const rel of await tree.sources(src, `${where} ${src}`))
              items.push({ src, rel, isDir: rel === '' || (await tree.stat(rel)).isDirectory() });
          }
          const multiple = items.length > 1 || sources.some((x2) => /[*?[]/.test(x2));
          if (items.length > 1 && !destIsDirSyntax)
            throw invalidArgument(
              `${where}: with more than one source file, the destination must be a directory and end with a / (got ${JSON.stringify(dest0)})`,
            );
          const destExistingDir = rootfs
            ? await rootfs.resolve(dest).then(async (r) => r !== undefined && (await rootfs.stat(r)).isDirectory())
            : false;
          const destDir = destIsDirSyntax || multiple || destExistingDir || (items.length === 1 && items[0]!.isDir);
          const entries: LayerEntry[] = [];
          const made = new Set<string>();
          const mkdirs = async (path: string) => {
            const parts = path.split('/').filter((p) => p !== '' && p !== '.');
            for (let i = 1; i <= parts.length; i++) {
              const p = parts.slice(0, i).join('/');
              if (made.has(p)) continue;
              made.add(p);
              if (rootfs && (await rootfs.resolve(p)) !== undefined) continue;
              entries.push({
                name: p,
                type: 'directory',
                mode: 0o755,
                uid: owner.uid,
                gid: owner.gid,
                mtime: this.#epoch ?? new Date(0),
              });
            }
          };
          const mode = (m: number) => (chmod === undefined ? m : (m & ~0o7777) | chmod);
          for (const it of items) {
            if (it.heredoc) {
              const name = destDir ? posix.join(dest, it.rel) : dest;
              await mkdirs(posix.dirname(name));
              entries.push({
                name,
                type: 'file',
                mode: mode(0o644),
                uid: owner.uid,
                gid: owner.gid,
                mtime: this.#epoch ?? new Date(0),
                data: it.heredoc,
                size: it.heredoc.length,
              });
              continue;
            }
            const t = tree!;
            if (it.isDir) {
              await mkdirs(dest);
              for (const e of await t.walk(it.rel)) {
                const rel = it.rel === '' ? e.rel : e.rel.slice(it.rel.length + 1);
                const name = posix.join(dest, rel);
                const le = { ...entryOf(name, e.stat, e.abs, e.link), uid: owner.uid, gid: owner.gid };
                if (le.type !== 'symlink') le.mode = mode(le.mode);
                made.add(name);
                entries.push(le);
              }
              continue;
            }
            const st = await t.stat(it.rel);
            const name = destDir ? posix.join(dest, posix.basename(it.rel)) : dest;
            const compression =
              ins.kind === 'add' && st.isFile()
                ? await addArchive(join(t.root, it.rel), `${where} ${it.src}`)
                : undefined;
            if (compression !== undefined) {
              const into = destDir ? dest : posix.dirname(dest);
              await mkdirs(into);
              const added = await this.#extractArchive(join(t.root, it.rel), compression, `${where} ${it.src}`);
              for (const e of await added.walk(''))
                entries.push(entryOf(posix.join(into, e.rel), e.stat, e.abs, e.link));
              continue;
            }
            await mkdirs(posix.dirname(name));
            const link = st.isSymbolicLink() ? await readlink(join(t.root, it.rel)) : undefined;
            const le = { ...entryOf(name, st, join(t.root, it.rel), link), uid: owner.uid, gid: owner.gid };
            if (le.type !== 'symlink') le.mode = mode(le.mode);
            entries.push(le);
          }
          const layer = await storeLayer(this.#b.images.content, this.leaseId, this.staging, entries, this.#epoch);
          // While the sources are still mounted: the snapshot written from the same entries.
          if (canWriteDirectly(entries))
            await this.#commitSnapshot(s.state, layer, (upper) =>
              writeLayerEntries(entries, upper, this.#epoch, tree ? (e) => this.#sameFile(tree, e) : undefined),
            );
          return layer;
        }),
      ),
    );
  }

  /** A local archive ADD extracts: unpacked (hardened, as a layer is) into a staging directory. */
  async #extractArchive(path: string, compression: ArchiveCompression, what: string): Promise<SourceTree> {
    const dir = await mkdtemp(join(this.staging, 'add-'));
    const { applyLayer } = await import('../archive/apply-layer.ts');
    await applyLayer(decompressFile(path, compression, what), {
      mediaType: MediaType.Layer,
      targetDir: dir,
      format: 'plain',
      context: what,
    });
    return new SourceTree(dir, what);
  }

  async #commit(state: State, parent: string | undefined): Promise<BuildResult> {
    const target = await this.#writeManifest(state);
    await this.#unpack(state);
    const names = (this.#o.tags ?? []).map((t) => resolveName(t));
    if (names.length === 0) names.push(`${UNNAMED_REPOSITORY}@${target.digest}`);
    const labels: Record<string, string> = parent ? { [PARENT_LABEL]: parent } : {};
    for (const n of names) await this.#b.images.images.put(n, target, labels);
    this.#progress({ kind: 'done', id: target.digest, names });
    return { id: target.digest, names, target, config: state.config };
  }
}

const rc = (s: CachedState): RuntimeConfig => (s.config.config ?? {}) as RuntimeConfig;

/** A context path's part of a COPY key: its type, mode and content digest, and those of everything below it. */
async function treeKey(tree: SourceTree, rel: string): Promise<unknown[]> {
  const one = async (r: string, st: import('node:fs').Stats, link?: string) => [
    r,
    st.mode,
    st.isFile() ? await tree.digest(r) : (link ?? (st.isSymbolicLink() ? await readlink(join(tree.root, r)) : null)),
  ];
  const st = await tree.stat(rel);
  if (!st.isDirectory()) return [await one(rel, st)];
  const out: unknown[] = [[rel, st.mode]];
  for (const e of await tree.walk(rel)) out.push(await one(e.rel, e.stat, e.link));
  return out;
}

/** `--chown=user[:group]`: numbers as given, names from the stage's /etc/passwd and /etc/group. */
async function resolveOwner(
  spec: string,
  rootfs: SourceTree | undefined,
  where: string,
): Promise<{ uid: number; gid: number }> {
  const [u = '', g] = spec.split(':');
  const read = async (file: string): Promise<string[][]> => {
    if (!rootfs) return [];
    const r = await rootfs.resolve(file);
    if (r === undefined) return [];
    return (await readFile(join(rootfs.root, r), 'utf8')).split('\n').map((l) => l.split(':'));
  };
  let uid: number;
  let primary: number | undefined;
  if (/^\d+$/.test(u)) uid = Number(u);
  else {
    const row = (await read('etc/passwd')).find((r) => r[0] === u);
    if (!row)
      throw invalidArgument(`${where} --chown=${spec}: no user ${JSON.stringify(u)} in the image's /etc/passwd`);
    uid = Number(row[2]);
    primary = Number(row[3]);
  }
  let gid: number;
  if (g === undefined) gid = primary ?? uid;
  else if (/^\d+$/.test(g)) gid = Number(g);
  else {
    const row = (await read('etc/group')).find((r) => r[0] === g);
    if (!row)
      throw invalidArgument(`${where} --chown=${spec}: no group ${JSON.stringify(g)} in the image's /etc/group`);
    gid = Number(row[2]);
  }
  return { uid, gid };
}

export class Builder {
  readonly images: ImageService;
  readonly runner: StepRunner;
  readonly cache: BuildCache;
  /** berthd's root: build/cache.json, build/cache-mounts/, tmp/. */
  readonly root: string;
  readonly #digests = new DigestMemo();

  constructor(o: { images: ImageService; runner: StepRunner; root: string }) {
    this.images = o.images;
    this.runner = o.runner;
    this.root = o.root;
    this.cache = new BuildCache(join(o.root, 'build'));
  }

  /** Builds the image; `progress` hears each step, RUN output and the result. */
  async build(
    source: ContextSource,
    opts: BuildOptions = {},
    progress: (ev: BuildEvent) => void = () => {},
  ): Promise<BuildResult> {
    for (const t of opts.tags ?? []) resolveName(t);
    const tmp = join(this.root, 'tmp');
    await mkdir(tmp, { recursive: true, mode: 0o700 });
    const staging = await mkdtemp(join(tmp, 'build-'));
    const leaseId = `build-${process.pid}-${randomBytes(6).toString('hex')}`;
    await this.images.content.createLease(leaseId, {
      expiresAt: new Date(Date.now() + 24 * 3600 * 1000),
      labels: { what: 'build' },
      kind: 'build',
      owner: selfIdentity(),
    });
    try {
      let dir: string;
      if ('dir' in source) dir = source.dir;
      else {
        dir = join(staging, 'context');
        await mkdir(dir);
        const [{ applyLayer }, { decompressed }] = await Promise.all([
          import('../archive/apply-layer.ts'),
          import('../images/layer-stream.ts'),
        ]);
        // Clients may compress the context (docker build --compress sends gzip): its first bytes say how.
        const { stream } = await decompressed(source.tar as Readable, undefined, 'build context');
        await applyLayer(stream, {
          mediaType: MediaType.Layer,
          targetDir: dir,
          format: 'plain',
          context: 'build context',
        }).catch((e: Error) => {
          throw invalidArgument(`build context: not a tar archive: ${e.message}`, e);
        });
      }
      const dfName = opts.dockerfile ?? 'Dockerfile';
      const contextTree = new SourceTree(dir, 'build context');
      let text = opts.dockerfileText;
      if (text === undefined) {
        const r = await contextTree.resolve(dfName);
        if (r === undefined)
          throw notFound(`${dfName}: no such file in the build context ${'dir' in source ? source.dir : ''}`.trim());
        text = await readFile(join(dir, r), 'utf8');
      }
      // <Dockerfile>.dockerignore beside the Dockerfile wins over the context's .dockerignore (BuildKit's rule).
      let ignoreText: string | undefined;
      for (const name of [`${dfName}.dockerignore`, '.dockerignore']) {
        const r = await contextTree.resolve(name);
        if (r !== undefined) {
          ignoreText = await readFile(join(dir, r), 'utf8').catch(() => undefined);
          if (ignoreText !== undefined) break;
        }
      }
      const df = parseInstructions(text, posix.basename(dfName));
      // Only a directory context is remembered across builds: a tar's staging directory is new each time.
      const context = new SourceTree(
        dir,
        'build context',
        ignoreText ? DockerIgnore.parse(ignoreText) : undefined,
        'dir' in source ? this.#digests : undefined,
      );
      const total = df.stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
      return await new Build(this, df, context, opts, progress, leaseId, staging, total).run();
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw failedPrecondition(`build: ${(e as Error).message}`, e);
    } finally {
      await this.images.content.deleteLease(leaseId).catch(() => {});
      await rm(staging, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** `builder prune`: forgets the cache and the cache mounts (the layers go with the next gc unless an image uses them). */
  async prune(): Promise<{ entries: number }> {
    // RUN --mount=type=cache directories are build cache too (docker's builder prune removes them).
    await rm(join(this.root, 'build', 'cache-mounts'), { recursive: true, force: true });
    return { entries: await this.cache.clear() };
  }
}
