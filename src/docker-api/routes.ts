// Every route of berthd's Docker Engine API, by area. docs/docker-api.md lists what is served and
// what is refused.
import { containerFileRoutes } from './container-files.ts';
import { containerRoutes } from './containers.ts';
import { execRoutes } from './exec.ts';
import { imageTransferRoutes } from './image-transfer.ts';
import { imageRoutes } from './images.ts';
import { DockerRouter } from './server.ts';
import { statsRoutes } from './stats.ts';
import { systemRoutes } from './system.ts';
import { systemDfRoutes } from './system-df.ts';
import { volumeNetworkRoutes } from './volumes-networks.ts';

export function dockerRouter(): DockerRouter {
  const r = new DockerRouter();
  systemRoutes(r);
  containerRoutes(r);
  containerFileRoutes(r);
  statsRoutes(r);
  execRoutes(r);
  imageRoutes(r);
  imageTransferRoutes(r);
  volumeNetworkRoutes(r);
  systemDfRoutes(r);
  return r;
}
