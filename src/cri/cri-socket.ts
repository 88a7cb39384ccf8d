import { createServer } from 'node:net';
import { listenApiSocket } from '../engine/api-socket.ts';
import type { Engine } from '../engine/engine.ts';
import type { CriServer, CriServerOptions } from './grpc-server.ts';

export type CriSocket = {
  close(): Promise<void> /** Whether the gRPC server has been loaded (tests, measurements). */;
  loaded(): boolean;
};

/** Listens at `socketPath` (mode 0660, group `gid`: src/engine/api-socket.ts, docs/security.md). */
export async function serveCriSocket(
  engine: Engine,
  socketPath: string,
  log: (m: string) => void,
  gid = 0,
  o: CriServerOptions = {},
): Promise<CriSocket> {
  let grpc: CriServer | undefined;
  let loading: Promise<CriServer> | undefined;
  const load = (): Promise<CriServer> => {
    loading ??= import('./grpc-server.ts').then((m) => {
      grpc = m.createCriServer(engine, log, o);
      return grpc;
    });
    return loading;
  };
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    // Paused until the gRPC server owns it (nothing is read and lost meanwhile); the HTTP/2 session
    // reads through the socket's handle once it is resumed.
    const hand = (g: CriServer) => {
      g.inject(socket);
      socket.resume();
    };
    if (grpc) {
      hand(grpc);
      return;
    }
    load().then(hand, (e: Error) => {
      log(`CRI server failed to load: ${e.message}`);
      socket.destroy();
    });
  });
  const closeSocket = await listenApiSocket(server, socketPath, gid);
  return {
    loaded: () => grpc !== undefined,
    close: async () => {
      await closeSocket();
      await grpc?.close();
    },
  };
}
