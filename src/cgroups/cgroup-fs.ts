// The only door from src/cgroups to the filesystem. The managers do all I/O through CgroupFs so
// that the v2 manager can be tested against a fixture tree that mimics the kernel (see
// fixture-cgroup-fs.ts) on hosts without usable v2 controllers.
// Owns: how a cgroup file is written: O_WRONLY without O_CREAT (Node adds O_CLOEXEC itself) (cgroupfs files cannot be created,
// and some are write-only), one write(2) per value, since the kernel parses each write on its own.
// Never: policy. Errors are the raw Node errors (with .code); the callers name the field and value.

import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  constants,
  writeSync,
} from 'node:fs';

export interface CgroupFs {
  exists(path: string): boolean;
  /** One directory level; the parent must exist. */
  mkdir(path: string): void;
  rmdir(path: string): void;
  read(path: string): string;
  /** Write the whole value with one write(2) to an existing file. */
  write(path: string, value: string): void;
  /** Names of the subdirectories (child cgroups). */
  subdirs(path: string): string[];
}

export const nodeCgroupFs: CgroupFs = {
  exists: (p) => existsSync(p),
  mkdir: (p) => mkdirSync(p),
  rmdir: (p) => rmdirSync(p),
  read: (p) => readFileSync(p, 'utf8'),
  write: (p, value) => {
    const fd = openSync(p, constants.O_WRONLY);
    try {
      const buf = Buffer.from(value);
      const n = writeSync(fd, buf, 0, buf.length);
      // Shaped as node:fs's own errors (CgroupFs's contract): write-executor turns the errno into a BerthError naming the field.
      if (n !== buf.length) throw Object.assign(new Error(`short write to ${p}`), { code: 'EIO' });
    } finally {
      closeSync(fd);
    }
  },
  subdirs: (p) =>
    readdirSync(p, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
};
