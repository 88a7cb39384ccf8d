// Disk usage of a directory tree as du(1) and containerd count it: allocated blocks (st_blocks ×
// 512) and inodes, each inode once however many hardlinks reach it. Symlinks are not followed.
// Must never: follow a symlink or cross into another tree through one.
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';

export async function diskUsage(dir: string): Promise<{ size: number; inodes: number }> {
  const seen = new Set<string>();
  let size = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const path = stack.pop()!;
    const st = await fsp.lstat(path, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    size += Number(st.blocks) * 512;
    if (st.isDirectory()) for (const name of await fsp.readdir(path)) stack.push(join(path, name));
  }
  return { size, inodes: seen.size };
}
