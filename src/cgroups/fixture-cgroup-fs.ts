// A cgroup2 fixture: a temp directory with cgroup2's file layout and a CgroupFs over it that behaves
// like the kernel where berth depends on it (files appear in a child only for controllers its parent
// enabled in cgroup.subtree_control; enabling an unavailable controller fails; files cannot be
// created; rmdir of a busy cgroup fails; cgroup.freeze, cgroup.kill and io.max behave as documented).
// Used by the v2 tests on hosts without usable v2 controllers (like the v1 CI machine).
// Never: used outside tests.

import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { CgroupFs } from './cgroup-fs.ts';

const CONTROLLER_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.max': 'max',
    'memory.low': '0',
    'memory.high': 'max',
    'memory.swap.max': 'max',
    'memory.current': '0',
    'memory.peak': '0',
    'memory.swap.current': '0',
    'memory.stat': 'anon 0\nfile 0\n',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  },
  cpu: { 'cpu.weight': '100', 'cpu.max': 'max 100000', 'cpu.max.burst': '0', 'cpu.idle': '0' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '', 'cpuset.cpus.effective': '0-1' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  io: { 'io.max': '', 'io.weight': 'default 100', 'io.stat': '' },
  hugetlb: { 'hugetlb.2MB.max': 'max', 'hugetlb.2MB.rsvd.max': 'max', 'hugetlb.1GB.max': 'max' },
  rdma: { 'rdma.max': '' },
};

const NUMERIC = /^(max|[0-9]+)( [0-9]+)?$/;

/** As node:fs fails (CgroupFs's contract), so the code under test maps the errno exactly as on a real host. */
function errno(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

export interface V2Fixture {
  root: string;
  fs: CgroupFs;
  mountinfo: string;
  /** Every successful write, in order, with paths relative to root. */
  log: Array<{ path: string; value: string }>;
  /** Controllers whose enabling in cgroup.subtree_control fails with EBUSY (to test the one-by-one path). */
  refuse: Set<string>;
}

export function makeV2Fixture(root: string, controllers: string[]): V2Fixture {
  mkdirSync(root, { recursive: true });
  const files: Record<string, string> = {
    'cgroup.controllers': controllers.join(' '),
    'cgroup.subtree_control': '',
    'cgroup.procs': '',
    'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
  };
  for (const [f, v] of Object.entries(files)) writeFileSync(`${root}/${f}`, v);
  const log: V2Fixture['log'] = [];
  const refuse = new Set<string>();
  const words = (p: string) => readFileSync(p, 'utf8').trim().split(/\s+/).filter(Boolean);
  const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/'));
  const childDirs = (p: string) =>
    readdirSync(p, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => `${p}/${d.name}`);

  const populate = (dir: string) => {
    for (const c of words(`${dir}/cgroup.controllers`)) {
      for (const [f, v] of Object.entries(CONTROLLER_FILES[c] ?? {}))
        if (!existsSync(`${dir}/${f}`)) writeFileSync(`${dir}/${f}`, v);
    }
  };
  const clearProcs = (dir: string) => {
    for (const c of childDirs(dir)) clearProcs(c);
    writeFileSync(`${dir}/cgroup.procs`, '');
  };

  const fs: CgroupFs = {
    exists: (p) => existsSync(p),
    subdirs: (p) => childDirs(p).map((c) => c.slice(c.lastIndexOf('/') + 1)),
    read: (p) => {
      if (!existsSync(p)) throw errno('ENOENT', p);
      return readFileSync(p, 'utf8');
    },
    mkdir: (p) => {
      if (existsSync(p)) throw errno('EEXIST', p);
      if (!existsSync(parentOf(p))) throw errno('ENOENT', p);
      mkdirSync(p);
      const core: Record<string, string> = {
        'cgroup.controllers': readFileSync(`${parentOf(p)}/cgroup.subtree_control`, 'utf8'),
        'cgroup.subtree_control': '',
        'cgroup.procs': '',
        'cgroup.events': 'populated 0\nfrozen 0\n',
        'cgroup.freeze': '0',
        'cgroup.kill': '',
        'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
      };
      for (const [f, v] of Object.entries(core)) writeFileSync(`${p}/${f}`, v);
      populate(p);
    },
    rmdir: (p) => {
      if (!existsSync(p)) throw errno('ENOENT', p);
      if (childDirs(p).length > 0 || readFileSync(`${p}/cgroup.procs`, 'utf8').trim() !== '') throw errno('EBUSY', p);
      rmSync(p, { recursive: true });
    },
    write: (p, value) => {
      if (!existsSync(p)) throw errno('ENOENT', p);
      const dir = parentOf(p);
      const name = p.slice(dir.length + 1);
      if (name === 'cgroup.subtree_control') {
        const available = new Set(words(`${dir}/cgroup.controllers`));
        const enabled = new Set(words(p));
        for (const tok of value.split(/\s+/).filter(Boolean)) {
          const c = tok.slice(1);
          if (!available.has(c)) throw errno('ENOENT', p);
          if (refuse.has(c)) throw errno('EBUSY', p);
          if (tok[0] === '+') enabled.add(c);
          else enabled.delete(c);
        }
        writeFileSync(p, [...enabled].join(' '));
        for (const child of childDirs(dir)) {
          writeFileSync(`${child}/cgroup.controllers`, [...enabled].join(' '));
          populate(child);
        }
      } else if (name === 'cgroup.procs') {
        if (!/^[0-9]+$/.test(value)) throw errno('EINVAL', p);
        appendFileSync(p, `${value}\n`);
      } else if (name === 'cgroup.freeze') {
        if (value !== '0' && value !== '1') throw errno('EINVAL', p);
        writeFileSync(p, value);
        writeFileSync(`${dir}/cgroup.events`, `populated 0\nfrozen ${value}\n`);
      } else if (name === 'cgroup.kill') {
        if (value !== '1') throw errno('EINVAL', p);
        clearProcs(dir);
      } else if (name === 'io.max' || name === 'io.bfq.weight' || name === 'io.weight' || name === 'rdma.max') {
        // Per-device files keep one line per device and merge new keys into it.
        // A bare number in io.weight is the default weight.
        const [key = '', ...rest] =
          name === 'io.weight' && /^[0-9]+$/.test(value) ? ['default', value] : value.split(' ');
        const lines = readFileSync(p, 'utf8').split('\n').filter(Boolean);
        const i = lines.findIndex((l) => l.split(' ')[0] === key);
        const merged = new Map(
          (i >= 0 ? lines[i]!.split(' ').slice(1) : []).map(
            (kv) => [kv.includes('=') ? kv.split('=')[0] : '', kv] as const,
          ),
        );
        for (const kv of rest) merged.set(kv.includes('=') ? kv.split('=')[0] : '', kv);
        const line = [key, ...merged.values()].join(' ');
        if (i >= 0) lines[i] = line;
        else lines.push(line);
        writeFileSync(p, `${lines.join('\n')}\n`);
      } else {
        const numeric =
          /^(memory\.(max|low|high|swap\.max)|pids\.max|cpu\.(weight|max|max\.burst|idle)|hugetlb\..*)$/.test(name);
        if (numeric && !NUMERIC.test(value)) throw errno('EINVAL', p);
        writeFileSync(p, value);
      }
      log.push({ path: p.slice(root.length), value });
    },
  };
  return {
    root,
    fs,
    mountinfo: `30 23 0:26 / ${root} rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n`,
    log,
    refuse,
  };
}
