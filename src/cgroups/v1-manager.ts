// CgroupManager for cgroup v1 (and hybrid hosts, where v1 controls resources and the cgroup2
// hierarchy beside it is joined too, so /proc/<pid>/cgroup's "0::" line names the container).
// Owns: one directory per mounted controller, cpuset seeding, memory/swap write order, the freezer.
// Never: writes anything planWrites did not plan, except cpuset seeding and freezer.state.

import { failedPrecondition, unsupported } from '../errors/errors.ts';
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
import { hierarchyDir, type ResolvedCgroupsPath } from './cgroups-path.ts';
import { type CgroupMode, type CgroupMount, v1Mounts, v2Mount } from './mounts.ts';
import { type CgroupWrite, planWrites } from './plan-writes.ts';
import type { CgroupJoin, CgroupManager, CgroupMechanism, CgroupStats, FreezerState } from './types.ts';
import { executeWrites, writeError } from './write-executor.ts';

/** The directory of every mounted v1 controller (and "unified" on hybrid hosts). */
export function v1Paths(
  mounts: CgroupMount[],
  resolved: ResolvedCgroupsPath,
  own: Map<string, string>,
  hybrid: boolean,
): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const [controller, mount] of v1Mounts(mounts)) {
    // Of the named hierarchies only systemd's is joined (tools read it to find a container).
    if (controller.startsWith('name=') && controller !== 'name=systemd') continue;
    paths[controller] = hierarchyDir(mount, resolved, own.get(controller));
  }
  const v2 = v2Mount(mounts);
  if (hybrid && v2) paths['unified'] = hierarchyDir(v2, resolved, own.get(''));
  return paths;
}

const USER_HZ_NS = 10_000_000; // cpuacct.stat counts USER_HZ (100 Hz) ticks

export class V1CgroupManager implements CgroupManager {
  readonly mode: CgroupMode;
  readonly #paths: Record<string, string>;
  readonly #fs: CgroupFs;

  constructor(mode: 'v1' | 'hybrid', paths: Record<string, string>, fs: CgroupFs) {
    this.mode = mode;
    this.#paths = { ...paths };
    this.#fs = fs;
  }

  paths(): Record<string, string> {
    return { ...this.#paths };
  }

  // Co-mounted controllers ("cpu,cpuacct") share a directory: each directory once.
  #dirs(): string[] {
    return [...new Set(Object.values(this.#paths))];
  }

  #dirOf = (controller: string): string => {
    const dir = this.#paths[controller];
    if (dir === undefined) throw unsupported(`cgroup v1 controller "${controller}" is not mounted on this host`);
    return dir;
  };

  #check(writes: CgroupWrite[]): void {
    for (const w of writes) {
      if (this.#paths[w.controller] === undefined) {
        throw unsupported(
          `${w.field} needs the cgroup v1 "${w.controller}" controller, which is not mounted on this host (see /proc/self/mountinfo)`,
        );
      }
    }
  }

  async create(resources?: LinuxResources): Promise<void> {
    const writes = planWrites(resources, 'v1');
    this.#check(writes);
    const made: string[] = [];
    try {
      // cpuset first: if it shares a directory with another controller, that directory is still seeded.
      const entries = Object.entries(this.#paths).sort(([a], [b]) => Number(b === 'cpuset') - Number(a === 'cpuset'));
      for (const [controller, dir] of entries) {
        made.push(
          ...mkdirs(this.#fs, dir, (m) => {
            // A new v1 cpuset is empty, and nothing can join an empty cpuset: seed it from its parent.
            if (controller === 'cpuset') this.#seedCpuset(m);
          }),
        );
      }
      executeWrites(this.#fs, this.#dirOf, writes);
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

  #seedCpuset(dir: string): void {
    const parent = dir.slice(0, dir.lastIndexOf('/'));
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (this.#fs.read(`${dir}/${file}`).trim() !== '') continue;
      let value = this.#fs.read(`${parent}/${file}`).trim();
      if (value === '') {
        // The parent is new too, made by another create at the same moment (two containers under
        // /berth) that has not seeded it yet: seed it here. The hierarchy's root is never empty.
        this.#seedCpuset(parent);
        value = this.#fs.read(`${parent}/${file}`).trim();
      }
      const w: CgroupWrite = { controller: 'cpuset', file, value, field: `cpuset seeding of ${dir}` };
      try {
        this.#fs.write(`${dir}/${file}`, value);
      } catch (err) {
        throw writeError(w, `${dir}/${file}`, value, err);
      }
    }
  }

  joinFiles(): string[] {
    return this.#dirs().map((d) => `${d}/cgroup.procs`);
  }

  join(): CgroupJoin {
    const unified = this.#paths['unified'];
    return {
      writeZero: this.#dirs()
        .filter((d) => d !== unified)
        .map((d) => `${d}/tasks`),
      ...(unified !== undefined ? { cloneInto: unified } : {}),
    };
  }

  async apply(pid: number): Promise<void> {
    for (const file of this.joinFiles()) {
      const w: CgroupWrite = { controller: '', file: 'cgroup.procs', value: String(pid), field: `joining pid ${pid}` };
      try {
        this.#fs.write(file, String(pid));
      } catch (err) {
        throw writeError(w, file, String(pid), err);
      }
    }
  }

  async update(resources: LinuxResources): Promise<void> {
    const writes = planWrites(resources, 'v1');
    this.#check(writes);
    executeWrites(this.#fs, this.#dirOf, this.#orderMemory(writes));
  }

  // memory.memsw.limit_in_bytes may never be below memory.limit_in_bytes. Raising the limit must
  // therefore raise memsw first; lowering it must lower the limit first (planWrites' order).
  #orderMemory(writes: CgroupWrite[]): CgroupWrite[] {
    const limit = writes.find((w) => w.file === 'memory.limit_in_bytes');
    const memsw = writes.find((w) => w.file === 'memory.memsw.limit_in_bytes');
    if (!limit || !memsw) return writes;
    const current = readNumber(this.#fs, `${this.#dirOf('memory')}/memory.limit_in_bytes`);
    const next = Number(limit.value);
    const raising = next === -1 || (current !== undefined && next > current);
    if (!raising) return writes;
    const rest = writes.filter((w) => w !== limit && w !== memsw);
    return [memsw, limit, ...rest];
  }

  #freezer(what: string): string {
    const dir = this.#paths['freezer'];
    if (dir === undefined)
      throw unsupported(`${what} needs the cgroup v1 "freezer" controller, which is not mounted on this host`);
    return dir;
  }

  async freeze(): Promise<void> {
    const file = `${this.#freezer('freeze')}/freezer.state`;
    const w: CgroupWrite = { controller: 'freezer', file: 'freezer.state', value: 'FROZEN', field: 'freeze' };
    // A cgroup can stay FREEZING while a task is in an uninterruptible sleep; writing FROZEN again retries.
    const ok = await pollUntil(() => {
      try {
        this.#fs.write(file, 'FROZEN');
      } catch (err) {
        throw writeError(w, file, 'FROZEN', err);
      }
      return this.state() === 'frozen';
    }, 5_000);
    if (!ok) {
      await this.thaw();
      throw failedPrecondition(`freeze: ${file} did not reach FROZEN within 5 s; thawed again`);
    }
  }

  async thaw(): Promise<void> {
    const file = `${this.#freezer('thaw')}/freezer.state`;
    try {
      this.#fs.write(file, 'THAWED');
    } catch (err) {
      throw writeError(
        { controller: 'freezer', file: 'freezer.state', value: 'THAWED', field: 'thaw' },
        file,
        'THAWED',
        err,
      );
    }
  }

  state(): FreezerState {
    const dir = this.#paths['freezer'];
    if (dir === undefined || !this.#fs.exists(`${dir}/freezer.state`)) return 'thawed';
    const s = this.#fs.read(`${dir}/freezer.state`).trim();
    return s === 'FROZEN' ? 'frozen' : s === 'FREEZING' ? 'freezing' : 'thawed';
  }

  pids(): number[] {
    return readPids(this.#fs, this.#dirs());
  }

  stats(): CgroupStats {
    const fs = this.#fs;
    const out: CgroupStats = {};
    const mem = this.#paths['memory'];
    if (mem !== undefined && fs.exists(`${mem}/memory.usage_in_bytes`)) {
      const n = (f: string) => readNumber(fs, `${mem}/${f}`) ?? 0;
      const raw = readKeyValues(fs, `${mem}/memory.stat`);
      out.memory = {
        cache: raw['cache'] ?? 0,
        usage: {
          limit: n('memory.limit_in_bytes'),
          usage: n('memory.usage_in_bytes'),
          max: n('memory.max_usage_in_bytes'),
          failcnt: n('memory.failcnt'),
        },
        raw,
      };
      if (fs.exists(`${mem}/memory.memsw.usage_in_bytes`)) {
        out.memory.swap = {
          limit: n('memory.memsw.limit_in_bytes'),
          usage: n('memory.memsw.usage_in_bytes'),
          max: n('memory.memsw.max_usage_in_bytes'),
          failcnt: n('memory.memsw.failcnt'),
        };
      }
    }
    const acct = this.#paths['cpuacct'];
    const cpu = this.#paths['cpu'];
    if (acct !== undefined && fs.exists(`${acct}/cpuacct.usage`)) {
      const st = readKeyValues(fs, `${acct}/cpuacct.stat`);
      const percpu = fs.read(`${acct}/cpuacct.usage_percpu`).trim().split(/\s+/).filter(Boolean).map(Number);
      const thr = cpu !== undefined ? readKeyValues(fs, `${cpu}/cpu.stat`) : {};
      out.cpu = {
        usage: {
          total: readNumber(fs, `${acct}/cpuacct.usage`) ?? 0,
          percpu,
          kernel: (st['system'] ?? 0) * USER_HZ_NS,
          user: (st['user'] ?? 0) * USER_HZ_NS,
        },
        throttling: {
          periods: thr['nr_periods'] ?? 0,
          throttledPeriods: thr['nr_throttled'] ?? 0,
          throttledTime: thr['throttled_time'] ?? 0,
        },
      };
    }
    const pids = this.#paths['pids'];
    if (pids !== undefined && fs.exists(`${pids}/pids.current`)) {
      out.pids = {
        current: readNumber(fs, `${pids}/pids.current`) ?? 0,
        limit: readNumber(fs, `${pids}/pids.max`) ?? 0,
      };
    }
    return out;
  }

  async killAll(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> {
    const sig = signalNumber(signal);
    // An empty cgroup (the usual case at delete) needs no freeze/thaw round trip.
    if (this.pids().length === 0) return;
    const canFreeze =
      this.#paths['freezer'] !== undefined && this.#fs.exists(`${this.#paths['freezer']}/freezer.state`);
    // Frozen, no process can fork a child that escapes the signal.
    if (canFreeze) await this.freeze();
    try {
      signalAll(this.pids(), sig);
    } finally {
      if (canFreeze) await this.thaw();
    }
    if (sig !== signalNumber('SIGKILL')) return;
    if (!(await pollUntil(() => this.pids().length === 0, KILL_WAIT_MS))) {
      throw failedPrecondition(
        `killAll: processes ${this.pids().join(', ')} are still in the cgroup ${KILL_WAIT_MS / 1000} s after SIGKILL`,
      );
    }
  }

  async destroy(): Promise<void> {
    await removeSubtrees(this.#fs, this.#dirs());
  }

  mechanism(): CgroupMechanism {
    const freezer = this.#paths['freezer'];
    return { dirs: this.#dirs(), freezer: freezer === undefined ? { version: 1 } : { version: 1, dir: freezer } };
  }
}
