// Hugepage limits of a container (the CRI's hugepage_limits), checked against berthd's host at
// create: the page size must be one the kernel offers (/sys/kernel/mm/hugepages) and the hugetlb
// cgroup controller must be one berth drives (a v1 hierarchy on v1 and hybrid hosts, the cgroup2
// root's controllers on v2). A limit of 0 means nothing (a kubelet sends one per page size) and is
// dropped. Must never: write a cgroup (the runtime does).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument, unsupported } from '../errors/errors.ts';
import { detectCgroupMode, parseCgroupMounts, v1Mounts, v2Mount } from '../cgroups/mounts.ts';
import type { HugepageLimit } from './types.ts';

const SIZE_RE = /^(\d+)(KB|MB|GB)$/;

/** The huge page sizes of this host's kernel, as the cgroup files name them ("2MB", "1GB"). */
export function hostHugepageSizes(dir = '/sys/kernel/mm/hugepages'): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const kb = Number(/^hugepages-(\d+)kB$/.exec(n)?.[1]);
    if (!kb) return [];
    if (kb % (1024 * 1024) === 0) return [`${kb / (1024 * 1024)}GB`];
    if (kb % 1024 === 0) return [`${kb / 1024}MB`];
    return [`${kb}KB`];
  });
}

/** Why berth cannot limit huge pages on this host, or undefined when it can. */
export function hugetlbMissing(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string | undefined {
  const mounts = parseCgroupMounts(mountinfo);
  if (detectCgroupMode(mountinfo) !== 'v2')
    return v1Mounts(mounts).has('hugetlb')
      ? undefined
      : 'the hugetlb cgroup controller is not mounted as a cgroup v1 hierarchy on this host (berth drives v1 and hybrid hosts through v1)';
  const root = v2Mount(mounts)!.mountpoint;
  let controllers = '';
  try {
    controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8');
  } catch {}
  return controllers.split(/\s+/).includes('hugetlb')
    ? undefined
    : `the hugetlb controller is not in ${join(root, 'cgroup.controllers')} on this host`;
}

/** The limits to apply: zeros dropped, the rest checked against the host, each error naming its field. */
export function checkHugepageLimits(limits: HugepageLimit[] | undefined): HugepageLimit[] {
  const out: HugepageLimit[] = [];
  for (const [i, h] of (limits ?? []).entries()) {
    const field = h.field ?? `hugepageLimits[${i}]`;
    if (!Number.isSafeInteger(h.limit) || h.limit < 0)
      throw invalidArgument(`${field}: limit ${JSON.stringify(h.limit)} (expected bytes, 0 for none)`);
    if (h.limit === 0) continue;
    if (typeof h.pageSize !== 'string' || !SIZE_RE.test(h.pageSize))
      throw invalidArgument(`${field}: page size ${JSON.stringify(h.pageSize)} (expected a size like "2MB" or "1GB")`);
    const why = hugetlbMissing();
    if (why) throw unsupported(`${field}: hugepage limits cannot be applied: ${why}`);
    const sizes = hostHugepageSizes();
    if (!sizes.includes(h.pageSize))
      throw unsupported(
        `${field}: this host's kernel has no ${h.pageSize} huge pages (it has ${sizes.length ? sizes.join(', ') : 'none'}: /sys/kernel/mm/hugepages)`,
      );
    if (out.some((o) => o.pageSize === h.pageSize))
      throw invalidArgument(`${field}: page size ${h.pageSize} is limited twice`);
    out.push({ pageSize: h.pageSize, limit: h.limit });
  }
  return out;
}
