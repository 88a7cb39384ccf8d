import { serveLazily } from '../engine/api-socket.ts';
import type { Engine } from '../engine/engine.ts';
import { fixAuthority } from './authority-fix.ts';
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
  // The gRPC server takes each connection paused (nothing read and lost meanwhile), read through the
  // :authority rewriter (authority-fix.ts: kubelets before 1.26 send the socket's path).
  return serveLazily(
    socketPath,
    gid,
    'the CRI server',
    log,
    async () => {
      const grpc: CriServer = (await import('./grpc-server.ts')).createCriServer(engine, log, o);
      return {
        take(socket) {
          grpc.inject(fixAuthority(socket));
          socket.resume();
        },
        close: () => grpc.close(),
      };
    },
    false,
  );
}
