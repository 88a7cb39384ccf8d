// A container's place on its networks beyond the attach itself: leaving them (detach, attachment
// rows, the netns) and the hosts file every container on a user network shares names through.
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerContext } from './container-context.ts';
import { stopDns } from './container-dns.ts';

/**
 * Name resolution on a user network: every container attached to it gets, in its bind-mounted
 * hosts file, the names of all of them (and of the containers of its other networks). The file is
 * rewritten in place (same inode), so running containers see a newcomer at once; a container
 * without hosts.base (made before) is left alone.
 */
export async function refreshHosts(ctx: ContainerContext, network: string): Promise<void> {
  const names = hostsOfNetworks(ctx);
  for (const cid of ctx.store.containersOnNetwork(network)) await rewriteHosts(ctx, cid, names);
}

/** The container's hosts file: its own part, then the names of every network it is attached to. */
export async function rewriteHosts(
  ctx: ContainerContext,
  id: string,
  names: (network: string) => Promise<string> = hostsOfNetworks(ctx),
): Promise<void> {
  try {
    const base = await readFile(join(ctx.dir(id), 'hosts.base'), 'utf8').catch(() => undefined);
    if (base === undefined) return;
    const seen = new Set(base.split('\n'));
    let text = base;
    for (const a of ctx.store.attachments(id))
      for (const line of (await names(a.network)).split('\n'))
        if (line && !seen.has(line)) {
          seen.add(line);
          text += `${line}\n`;
        }
    // Opened without O_CREAT: a container being removed meanwhile (its directory emptied, as when
    // `docker rm -f a b` removes a peer and it at once) must not get its file back, which made the
    // directory's removal fail with ENOTEMPTY.
    const fh = await open(join(ctx.dir(id), 'hosts'), 'r+').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!fh) return;
    try {
      await fh.truncate(0);
      await fh.write(text, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    ctx.log(`hosts of ${id}: ${(e as Error).message}`);
  }
}

/** Each network's hosts lines, read once per refresh. */
function hostsOfNetworks(ctx: ContainerContext): (network: string) => Promise<string> {
  const cache = new Map<string, Promise<string>>();
  return (n) => {
    let p = cache.get(n);
    if (!p) {
      p = ctx.o.network.hostsFile(n).catch(() => '');
      cache.set(n, p);
    }
    return p;
  };
}

/** Detaches the container from `networks` (each logged, never thrown) and removes its netns with `netns`. */
export async function releaseNetwork(
  ctx: ContainerContext,
  id: string,
  networks: string[],
  netns: boolean,
): Promise<void> {
  const nsPath = join(ctx.o.runRoot, 'netns', id);
  for (const n of networks) {
    await ctx.o.network.detach(id, nsPath, n).catch((e) => ctx.log(`detach ${id} from ${n}: ${(e as Error).message}`));
    ctx.store.removeAttachment(id, n);
    await refreshHosts(ctx, n);
  }
  if (netns)
    await ctx.o.network.removeNetns(id).catch((e) => ctx.log(`remove netns of ${id}: ${(e as Error).message}`));
}

/** Every network the container is recorded on, left, its embedded DNS server closed and its netns removed. */
export function releaseAllNetworks(ctx: ContainerContext, id: string): Promise<void> {
  stopDns(ctx, id);
  return releaseNetwork(
    ctx,
    id,
    ctx.store.attachments(id).map((a) => a.network),
    true,
  );
}
