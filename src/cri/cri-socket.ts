// berthd's CRI socket: listens at start, but loads the gRPC server (grpc-js, protobufjs and the CRI
// descriptor: ~120 ms and ~35 MB, docs/cri.md) only when the first client connects, so a berthd
// that no kubelet or crictl talks to pays nothing for the CRI. Connections that arrive while it
// loads wait, paused, and are handed to it in order.
// Must never: answer a request itself (src/cri/grpc-server.ts does), or load grpc-js eagerly.
import { rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
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
  const sockets = new Set<Socket>();
  const load = (): Promise<CriServer> => {
    loading ??= import('./grpc-server.ts').then((m) => {
      grpc = m.createCriServer(engine, log, o);
      return grpc;
    });
    return loading;
  };
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
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
  await listenApiSocket(server, socketPath, gid);
  return {
    loaded: () => grpc !== undefined,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await grpc?.close();
      await rm(socketPath, { force: true });
    },
  };
}
