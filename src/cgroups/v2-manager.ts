// CgroupManager for cgroup v2: one directory in the unified hierarchy.
// Owns: enabling controllers in cgroup.subtree_control along the path, the device filter hand-off,
// cgroup.freeze and cgroup.kill.
// Never: loads BPF itself (that needs bpf(2), i.e. native code): device rules go through the
// DeviceFilterLoader it was given, or are refused.

import { BerthError, ErrorCode, failedPrecondition, internal, unsupported } from '../errors/errors.ts';
import type { LinuxResources } from '../oci/runtime-spec.ts';
import type { CgroupFs } from './cgroup-fs.ts';
import {
  KILL_WAIT_MS,
  mkdirs,
  pollUntil,
  readKeyValues,
  readNumber,
  readPids,
  removeSubtrees,
  signalAll,
  signalNumber,
} from './common.ts';
import { deviceFilterProgram } from './device-filter.ts';
import { planWrites } from './plan-writes.ts';
import type {
  CgroupJoin,
  CgroupManager,
  CgroupMechanism,
  CgroupStats,
  DeviceFilterLoader,
  FreezerState,
} from './types.ts';
import { executeWrites, writeError } from './write-executor.ts';

export class V2CgroupManager implements CgroupManager {
  readonly mode = 'v2' as const;
  readonly #dir: string;
  readonly #mountpoint: string | undefined;
  readonly #fs: CgroupFs;
  readonly #loader: DeviceFilterLoader | undefined;

  /** `mountpoint` (the cgroup2 mount the directory lies under) is needed only by create(). */
  constructor(dir: string, mountpoint: string | undefined, fs: CgroupFs, loader?: DeviceFilterLoader) {
    this.#dir = dir;
    this.#mountpoint = mountpoint?.replace(/\/+$/, '');
    this.#fs = fs;
    this.#loader = loader;
  }

  paths(): Record<string, string> {
    return { unified: this.#dir };
  }

  #write(file: string, value: string, field: string): void {
    const path = `${this.#dir}/${file}`;
    try {
      this.#fs.write(path, value);
    } catch (err) {
      throw writeError({ controller: 'cgroup', file, value, field }, path, value, err);
    }
  }

  #requireLoader(resources: LinuxResources | undefined): void {
    if ((resources?.devices ?? []).length > 0 && this.#loader === undefined) {
      throw unsupported(
        'linux.resources.devices on cgroup v2 needs an eBPF device filter, and this berth build cannot load one ' +
          '(bpf(2) is not in the native addon yet; the program itself is built by deviceFilterProgram)',
      );
    }
  }

  async #applyDevices(resources: LinuxResources | undefined): Promise<void> {
    const rules = resources?.devices ?? [];
    if (rules.length === 0 || this.#loader === undefined) return;
    await this.#loader(this.#dir, deviceFilterProgram(rules));
  }

  async create(resources?: LinuxResources): Promise<void> {
    const writes = planWrites(resources, 'v2');
    this.#requireLoader(resources);
    const mp = this.#mountpoint;
    if (mp === undefined || !this.#dir.startsWith(`${mp}/`)) {
      throw internal(`cgroup ${this.#dir} is not below a known cgroup2 mountpoint (${mp ?? 'none'})`);
    }
    const made = mkdirs(this.#fs, this.#dir);
    try {
      const needed = new Map<string, string>();
      for (const w of writes)
        if (w.controller !== 'cgroup' && !needed.has(w.controller)) needed.set(w.controller, w.field);
      // Every ancestor delegates all it can, as runc does, so that a later `update` or a unified
      // key for another controller finds it enabled.
      const rel = this.#dir.slice(mp.length + 1).split('/');
      let ancestor = mp;
      for (const part of rel) {
        this.#enableAll(ancestor, needed);
        ancestor = `${ancestor}/${part}`;
      }
      const available = new Set(this.#fs.read(`${this.#dir}/cgroup.controllers`).trim().split(/\s+/));
      for (const [c, field] of needed) {
        if (!available.has(c)) {
          throw unsupported(
            `${field} needs the cgroup v2 "${c}" controller, which is not available in ${this.#dir}/cgroup.controllers`,
          );
        }
      }
      executeWrites(this.#fs, () => this.#dir, writes);
      await this.#applyDevices(resources);
    } catch (err) {
      for (const m of made.reverse()) {
        try {
          this.#fs.rmdir(m);
        } catch {
          // best effort: the error that matters is the one being thrown
        }
      }
      throw err;
    }
  }

  #enableAll(dir: string, needed: Map<string, string>): void {
    const words = (f: string) => this.#fs.read(`${dir}/${f}`).trim().split(/\s+/).filter(Boolean);
    const enabled = new Set(words('cgroup.subtree_control'));
    const todo = words('cgroup.controllers').filter((c) => !enabled.has(c));
    if (todo.length === 0) return;
    const file = `${dir}/cgroup.subtree_control`;
    try {
      this.#fs.write(file, todo.map((c) => `+${c}`).join(' '));
      return;
    } catch {
      // One controller can refuse (a threaded subtree, a busy parent): enable the rest one by one.
    }
    for (const c of todo) {
      try {
        this.#fs.write(file, `+${c}`);
      } catch (err) {
        const field = needed.get(c);
        if (field !== undefined) {
          throw writeError(
            { controller: 'cgroup', file: 'cgroup.subtree_control', value: `+${c}`, field },
            file,
            `+${c}`,
            err,
          );
        }
      }
    }
  }

  joinFiles(): string[] {
    return [`${this.#dir}/cgroup.procs`];
  }

  join(): CgroupJoin {
    return { writeZero: [], cloneInto: this.#dir };
  }

  async apply(pid: number): Promise<void> {
    this.#write('cgroup.procs', String(pid), `joining pid ${pid}`);
  }

  async update(resources: LinuxResources): Promise<void> {
    const writes = planWrites(resources, 'v2');
    this.#requireLoader(resources);
    const m = resources.memory;
    // v1's kernel refuses a limit below usage; v2 would OOM-kill instead, so check first when asked.
    if (m?.checkBeforeUpdate === true && m.limit !== undefined && m.limit > 0) {
      const current = readNumber(this.#fs, `${this.#dir}/memory.current`) ?? 0;
      if (current > m.limit) {
        throw failedPrecondition(
          `linux.resources.memory.limit ${m.limit} is below the current usage ${current} of ${this.#dir} (checkBeforeUpdate is set)`,
        );
      }
    }
    const available = new Set(this.#fs.read(`${this.#dir}/cgroup.controllers`).trim().split(/\s+/));
    for (const w of writes) {
      if (w.controller !== 'cgroup' && !available.has(w.controller)) {
        throw unsupported(
          `${w.field} needs the cgroup v2 "${w.controller}" controller, which is not enabled for ${this.#dir}`,
        );
      }
    }
    executeWrites(this.#fs, () => this.#dir, writes);
    await this.#applyDevices(resources);
  }

  #requireFreeze(what: string): void {
    if (!this.#fs.exists(`${this.#dir}/cgroup.freeze`)) {
      throw unsupported(`${what} needs ${this.#dir}/cgroup.freeze (cgroup v2 freezer, Linux 5.2 or later)`);
    }
  }

  async freeze(): Promise<void> {
    this.#requireFreeze('freeze');
    this.#write('cgroup.freeze', '1', 'freeze');
    if (!(await pollUntil(() => this.state() === 'frozen', 5_000))) {
      await this.thaw();
      throw failedPrecondition(
        `freeze: ${this.#dir} did not report "frozen 1" in cgroup.events within 5 s; thawed again`,
      );
    }
  }

  async thaw(): Promise<void> {
    this.#requireFreeze('thaw');
    this.#write('cgroup.freeze', '0', 'thaw');
  }

  state(): FreezerState {
    if (!this.#fs.exists(`${this.#dir}/cgroup.freeze`)) return 'thawed';
    if (this.#fs.read(`${this.#dir}/cgroup.freeze`).trim() !== '1') return 'thawed';
    return readKeyValues(this.#fs, `${this.#dir}/cgroup.events`)['frozen'] === 1 ? 'frozen' : 'freezing';
  }

  pids(): number[] {
    return readPids(this.#fs, [this.#dir]);
  }

  stats(): CgroupStats {
    const fs = this.#fs;
    const d = this.#dir;
    const out: CgroupStats = {};
    if (fs.exists(`${d}/memory.current`)) {
      const raw = readKeyValues(fs, `${d}/memory.stat`);
      const events = readKeyValues(fs, `${d}/memory.events`);
      out.memory = {
        cache: raw['file'] ?? 0,
        usage: {
          limit: readNumber(fs, `${d}/memory.max`) ?? 0,
          usage: readNumber(fs, `${d}/memory.current`) ?? 0,
          max: readNumber(fs, `${d}/memory.peak`) ?? 0,
          failcnt: events['max'] ?? 0,
        },
        raw,
      };
      if (fs.exists(`${d}/memory.swap.current`)) {
        out.memory.swap = {
          limit: readNumber(fs, `${d}/memory.swap.max`) ?? 0,
          usage: readNumber(fs, `${d}/memory.swap.current`) ?? 0,
          failcnt: readKeyValues(fs, `${d}/memory.swap.events`)['max'] ?? 0,
        };
      }
    }
    const cpu = readKeyValues(fs, `${d}/cpu.stat`);
    if (cpu['usage_usec'] !== undefined) {
      out.cpu = {
        usage: {
          total: cpu['usage_usec'] * 1000,
          kernel: (cpu['system_usec'] ?? 0) * 1000,
          user: (cpu['user_usec'] ?? 0) * 1000,
        },
        throttling: {
          periods: cpu['nr_periods'] ?? 0,
          throttledPeriods: cpu['nr_throttled'] ?? 0,
          throttledTime: (cpu['throttled_usec'] ?? 0) * 1000,
        },
      };
    }
    if (fs.exists(`${d}/pids.current`)) {
      out.pids = { current: readNumber(fs, `${d}/pids.current`) ?? 0, limit: readNumber(fs, `${d}/pids.max`) ?? 0 };
    }
    return out;
  }

  async killAll(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> {
    const sig = signalNumber(signal);
    const sigkill = sig === signalNumber('SIGKILL');
    if (sigkill && this.#fs.exists(`${this.#dir}/cgroup.kill`)) {
      // Linux 5.14+: the kernel kills the whole subtree atomically, forks included.
      this.#write('cgroup.kill', '1', 'killAll');
    } else {
      const canFreeze = this.#fs.exists(`${this.#dir}/cgroup.freeze`);
      if (canFreeze) await this.freeze();
      try {
        signalAll(this.pids(), sig);
      } finally {
        if (canFreeze) await this.thaw();
      }
    }
    if (!sigkill) return;
    if (!(await pollUntil(() => this.pids().length === 0, KILL_WAIT_MS))) {
      throw new BerthError(
        ErrorCode.FailedPrecondition,
        `killAll: processes ${this.pids().join(', ')} are still in ${this.#dir} ${KILL_WAIT_MS / 1000} s after SIGKILL`,
      );
    }
  }

  async destroy(): Promise<void> {
    await removeSubtrees(this.#fs, [this.#dir]);
  }

  mechanism(): CgroupMechanism {
    return { dirs: [this.#dir], freezer: { version: 2, dir: this.#dir }, killFile: `${this.#dir}/cgroup.kill` };
  }
}
