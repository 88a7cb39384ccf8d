// The CRI's gRPC server (grpc-js), loaded on the first connection to berthd's CRI socket
// (cri-socket.ts). It registers runtime.v1 and runtime.v1alpha2's RuntimeService and ImageService
// over one implementation: the v1 descriptor's methods, served again under the v1alpha2 paths
// (services.ts). Connections are handed to it by cri-socket.ts; it never listens itself.
// Every handler is a unary call of CriRuntimeService or CriImageService; errors become gRPC statuses
// in status.ts only. A method berth does not implement answers Unimplemented, naming it.
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.ts';
import { errorMessage } from '../errors/errors.ts';
import { CRI_DESCRIPTOR_JSON } from './cri-api-descriptor.ts';
import { CriImageService } from './image-service.ts';
import { CriRuntimeService } from './runtime-service.ts';
import { CRI_VERSIONS, type CriVersion, offeredIn, pathIn } from './services.ts';
import { GrpcStatus, grpcErrorOf } from './status.ts';
import { DEFAULT_STREAM_ADDRESS, type StreamAddress } from './stream-requests.ts';
import { CriStreaming } from './streaming.ts';

export type CriServer = {
  inject(socket: Duplex): void;
  close(): Promise<void> /** Exec, Attach and PortForward's streaming server (tests). */;
  streaming: CriStreaming;
};

export type CriServerOptions = { streamAddress?: StreamAddress };

type Impl = Record<string, (req: Record<string, unknown>) => Promise<unknown>>;

/** Descriptor options: field names as the .proto spells them, int64 as strings (nanosecond times exceed 2^53), enums by name. */
const LOAD_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

function loadDefinitions(): { runtime: grpc.ServiceDefinition; image: grpc.ServiceDefinition } {
  const pkg = fromJSON(JSON.parse(CRI_DESCRIPTOR_JSON), LOAD_OPTIONS);
  const def = (name: string) => pkg[`runtime.v1.${name}`] as unknown as grpc.ServiceDefinition;
  return { runtime: def('RuntimeService'), image: def('ImageService') };
}

/** The v1 definition as served under `version`: the same codecs at that version's paths, its methods only. */
function definitionFor(v1: grpc.ServiceDefinition, version: CriVersion): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(v1)
      .filter(([name]) => offeredIn(version, name))
      .map(([name, m]) => [name, { ...m, path: pathIn(version, m.path) }]),
  );
}

function handlers(
  def: grpc.ServiceDefinition,
  impl: Impl,
  service: string,
  log: (m: string) => void,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, m] of Object.entries(def)) {
    const fn = impl[name];
    if (m.responseStream) {
      // A server stream (GetContainerEvents): the implementation is an async generator, ended by the client going away.
      out[name] = (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
        const gen = fn as unknown as
          | ((req: Record<string, unknown>, signal: AbortSignal) => AsyncGenerator<unknown>)
          | undefined;
        if (!gen) {
          call.destroy(
            Object.assign(new Error(`${service}/${name} is not implemented by berthd`), {
              code: GrpcStatus.Unimplemented,
            }),
          );
          return;
        }
        const ac = new AbortController();
        call.on('cancelled', () => ac.abort());
        call.on('close', () => ac.abort());
        const it = gen.call(impl, call.request, ac.signal);
        // The generator's first step subscribes synchronously: from the headers on, the client
        // misses nothing (a test, or a kubelet, may wait for them before acting).
        let step = it.next();
        call.sendMetadata(new grpc.Metadata());
        (async () => {
          for (let r = await step; !r.done; r = await step) {
            if (!call.write(r.value)) await once(call, 'drain', { signal: ac.signal });
            step = it.next();
          }
          call.end();
        })().catch((e: unknown) => {
          if (ac.signal.aborted) return;
          log(`CRI ${service}/${name}: ${errorMessage(e)}`);
          call.destroy(Object.assign(new Error(grpcErrorOf(e).details), { code: grpcErrorOf(e).code }));
        });
      };
      continue;
    }
    out[name] = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      if (!fn) {
        cb({ code: GrpcStatus.Unimplemented, details: `${service}/${name} is not implemented by berthd` });
        return;
      }
      fn.call(impl, call.request).then(
        (res) => cb(null, res),
        (e: unknown) => {
          const err = grpcErrorOf(e);
          if (err.code === GrpcStatus.Unknown || err.code === GrpcStatus.Internal)
            log(`CRI ${service}/${name}: ${errorMessage(e)}`);
          cb(err);
        },
      );
    };
  }
  return out;
}

export function createCriServer(engine: Engine, log: (m: string) => void, o: CriServerOptions = {}): CriServer {
  const defs = loadDefinitions();
  // Channelz keeps per-call statistics for a debugging service berthd does not offer.
  const server = new grpc.Server({ 'grpc.enable_channelz': 0, 'grpc.max_receive_message_length': 16 << 20 });
  const images = new CriImageService(engine);
  const streaming = new CriStreaming(engine, o.streamAddress ?? DEFAULT_STREAM_ADDRESS, log);
  for (const version of CRI_VERSIONS) {
    const runtime = new CriRuntimeService(engine, version, streaming);
    server.addService(
      definitionFor(defs.runtime, version),
      handlers(
        definitionFor(defs.runtime, version),
        runtime as unknown as Impl,
        `runtime.${version}.RuntimeService`,
        log,
      ),
    );
    server.addService(
      definitionFor(defs.image, version),
      handlers(definitionFor(defs.image, version), images as unknown as Impl, `runtime.${version}.ImageService`, log),
    );
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    inject: (socket) => injector.injectConnection(socket),
    close: async () => {
      injector.destroy();
      server.forceShutdown();
      await streaming.close();
    },
    streaming,
  };
}
