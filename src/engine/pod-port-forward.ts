// CRI port-forward's engine half: a TCP connection to 127.0.0.1:PORT inside a pod's network
// namespace, made by berthd itself (the socket is created in the namespace by the addon's
// netnsSocket, src/sys/native.ts) — no socat or nsenter process on the host, nothing left behind
// when the connection ends. A host-network pod's loopback is the host's.
// Must never: keep a connection open after its caller has closed it.
import { Socket } from 'node:net';
import { failedPrecondition, invalidArgument } from '../errors/errors.ts';
import { netnsSocket } from '../sys/native.ts';
import type { PodService } from './pod-service.ts';

export async function connectInPod(pods: PodService, podId: string, port: number): Promise<Socket> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`port: ${port} (expected 1-65535)`);
  const p = pods.inspect(podId);
  if (p.state !== 'ready')
    throw failedPrecondition(`pod ${p.name} (${p.id.slice(0, 12)}) is not ready: port-forward needs a running pod`);
  const sock =
    p.namespaces.network === 'node' || !p.netns
      ? new Socket()
      : new Socket({ fd: netnsSocket(p.netns), readable: true, writable: true });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => {
      sock.destroy();
      reject(
        failedPrecondition(
          `connect to 127.0.0.1:${port} in pod ${p.name}: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
          e,
        ),
      );
    };
    sock.once('error', fail);
    sock.connect(port, '127.0.0.1', () => {
      sock.off('error', fail);
      resolve();
    });
  });
  return sock;
}
