// Executes a list of CgroupWrite (from planWrites) against cgroup directories, turning the kernel's
// errno into an error that names the config field, the file and the value.
// Owns: fallbacks and optional files (a file the kernel lacks), and error wording.
// Never: decides what to write.

import { BerthError, ErrorCode } from '../errors/errors.ts';
import type { CgroupFs } from './cgroup-fs.ts';
import type { CgroupWrite } from './plan-writes.ts';

const ERRNO: Record<string, number> = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EACCES: 13,
  EBUSY: 16,
  EINVAL: 22,
  ENOSPC: 28,
  EOPNOTSUPP: 95,
};

// Why a file can be missing, for the errors a user is most likely to meet.
const MISSING_HINTS: Record<string, string> = {
  'memory.memsw.limit_in_bytes': 'swap accounting is off in this kernel (boot with swapaccount=1)',
  'blkio.weight': 'no proportional-weight I/O scheduler (CFQ or BFQ) is active for the devices',
  'blkio.leaf_weight': 'leaf weights need the CFQ I/O scheduler, which this kernel lacks',
  'blkio.leaf_weight_device': 'leaf weights need the CFQ I/O scheduler, which this kernel lacks',
  'blkio.weight_device': 'no proportional-weight I/O scheduler (CFQ or BFQ) is active for the devices',
  'cpu.rt_runtime_us': 'the kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED)',
  'cpu.rt_period_us': 'the kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED)',
};

export function writeError(w: CgroupWrite, path: string, value: string, err: unknown): BerthError {
  const code = (err as NodeJS.ErrnoException)?.code ?? 'EIO';
  const errno = ERRNO[code] ?? (err as NodeJS.ErrnoException)?.errno;
  if (code === 'ENOENT') {
    const hint = MISSING_HINTS[w.file] ?? 'the kernel does not provide this cgroup file';
    return new BerthError(ErrorCode.Unsupported, `cannot apply ${w.field}: ${path} does not exist (${hint})`, {
      cause: err,
      errno: 2,
    });
  }
  const category =
    code === 'EINVAL' || code === 'ERANGE'
      ? ErrorCode.InvalidArgument
      : code === 'EBUSY' || code === 'EPERM' || code === 'EACCES' || code === 'ENOSPC'
        ? ErrorCode.FailedPrecondition
        : ErrorCode.Internal;
  return new BerthError(
    category,
    `cannot apply ${w.field}: writing ${JSON.stringify(value)} to ${path} failed with ${code}`,
    { cause: err, ...(errno === undefined ? {} : { errno: Math.abs(errno) }) },
  );
}

/** Apply the writes in order; `dirOf` gives the cgroup directory for a write's controller. */
export function executeWrites(fs: CgroupFs, dirOf: (controller: string) => string, writes: CgroupWrite[]): void {
  for (const w of writes) {
    const dir = dirOf(w.controller);
    let file = w.file;
    let value = w.value;
    if (!fs.exists(`${dir}/${file}`)) {
      if (w.optional) continue;
      if (w.fallback && fs.exists(`${dir}/${w.fallback.file}`)) ({ file, value } = w.fallback);
    }
    const path = `${dir}/${file}`;
    try {
      fs.write(path, value);
    } catch (err) {
      throw writeError(w, path, value, err);
    }
  }
}
