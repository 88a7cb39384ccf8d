// `rename`: a container's new name, checked as create checks one, under the container's lock (a
// removal never interleaves). The hosts files of running containers on its networks name it by its
// old name until they are next written (docker's embedded DNS has the same lag for links).
// Must never: give two containers one name (the store refuses it in the same statement's check).
import { invalidArgument } from '../errors/errors.ts';
import type { ContainerContext } from './container-context.ts';
import { CONTAINER_NAME } from './container-names.ts';

export async function renameContainer(ctx: ContainerContext, id: string, newName: string): Promise<void> {
  const name = newName.startsWith('/') ? newName.slice(1) : newName;
  if (!CONTAINER_NAME.test(name))
    throw invalidArgument(
      `rename: invalid container name ${JSON.stringify(newName)}: expected [a-zA-Z0-9][a-zA-Z0-9_.-]*`,
    );
  await ctx.lock.run(id, async () => {
    const c = ctx.store.getContainer(id);
    if (c.name === name) throw invalidArgument(`rename: the container is already named ${JSON.stringify(name)}`);
    ctx.store.renameContainer(id, name);
    ctx.o.events.publish('container', 'rename', id, { name, oldName: c.name });
  });
}
