// Every route of berthd's Docker Engine API, by area. docs/docker-api.md lists what is served and
// what is refused.
import { buildRoutes } from './build.ts';
import { containerFileRoutes } from './container-files.ts';
import { refused } from './errors.ts';
import { containerRoutes } from './containers.ts';
import { execRoutes } from './exec.ts';
import { imageTransferRoutes } from './image-transfer.ts';
import { imageRoutes } from './images.ts';
import { DockerRouter } from './server.ts';
import { statsRoutes } from './stats.ts';
import { systemRoutes } from './system.ts';
import { systemDfRoutes } from './system-df.ts';
import { volumeNetworkRoutes } from './volumes-networks.ts';

/** Endpoints berthd knows and does not serve: refused naming why, rather than a bare 404. */
const REFUSED: [string, string, string, string][] = [
  ['POST', '/swarm/init', 'swarm', 'berth has no swarm'],
  ['GET', '/swarm', 'swarm', 'berth has no swarm'],
  ['GET', '/services', 'swarm services', 'berth has no swarm'],
  ['GET', '/nodes', 'swarm nodes', 'berth has no swarm'],
  ['GET', '/secrets', 'swarm secrets', 'berth has no swarm'],
  ['GET', '/configs', 'swarm configs', 'berth has no swarm'],
  ['GET', '/plugins', 'plugins', 'berth has no plugin system'],
  ['POST', '/session', 'BuildKit sessions', 'berth has no BuildKit'],
];

export function dockerRouter(): DockerRouter {
  const r = new DockerRouter();
  for (const [method, path, what, why] of REFUSED) {
    r.on(method, path, async () => {
      throw refused(what, why);
    });
  }
  systemRoutes(r);
  containerRoutes(r);
  containerFileRoutes(r);
  statsRoutes(r);
  execRoutes(r);
  imageRoutes(r);
  imageTransferRoutes(r);
  volumeNetworkRoutes(r);
  systemDfRoutes(r);
  buildRoutes(r);
  return r;
}
