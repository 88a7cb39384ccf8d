// The tests' CRI client: grpc-js over berthd's CRI socket, with messages from the repository's own
// proto/cri-api.proto (loaded from the text here, so the server's pre-parsed descriptor is checked
// against the .proto by every call). `version` picks runtime.v1 or runtime.v1alpha2: the same
// messages at that version's method paths, as a kubelet of either generation calls them.
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const PROTO = join(import.meta.dirname, '../../proto/cri-api.proto');

// biome-ignore lint/suspicious/noExplicitAny: decoded CRI messages; their shapes are proto/cri-api.proto's
type Msg = Record<string, any>;
export type CriCall = (req?: Msg, opts?: { deadlineMs?: number }) => Promise<Msg>;
export type CriError = Error & { code: number; details: string };

let defs: { runtime: grpc.ServiceDefinition; image: grpc.ServiceDefinition } | undefined;

function definitions() {
  if (!defs) {
    const pkg = loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    defs = {
      runtime: pkg['runtime.v1.RuntimeService'] as unknown as grpc.ServiceDefinition,
      image: pkg['runtime.v1.ImageService'] as unknown as grpc.ServiceDefinition,
    };
  }
  return defs;
}

function at(def: grpc.ServiceDefinition, version: string): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(def).map(([n, m]) => [
      n,
      { ...m, path: m.path.replace(/^\/runtime\.v1\./, `/runtime.${version}.`) },
    ]),
  );
}

export class CriClient {
  readonly runtime: Record<string, CriCall>;
  readonly image: Record<string, CriCall>;
  readonly #clients: grpc.Client[] = [];
  /** Server-streaming methods (GetContainerEvents): the stream of answers; cancel() ends it. */
  readonly streams: Record<string, (req?: Msg) => grpc.ClientReadableStream<Msg>> = {};

  /** `options`: grpc-js channel options (e.g. `grpc.default_authority`, the :authority sent). */
  constructor(socket: string, version: 'v1' | 'v1alpha2' = 'v1', options: grpc.ChannelOptions = {}) {
    const d = definitions();
    this.runtime = this.#bind(at(d.runtime, version), socket, options);
    this.image = this.#bind(at(d.image, version), socket, options);
  }

  #bind(def: grpc.ServiceDefinition, socket: string, options: grpc.ChannelOptions): Record<string, CriCall> {
    const Ctor = grpc.makeGenericClientConstructor(def, 'cri');
    const client = new Ctor(`unix://${socket}`, grpc.credentials.createInsecure(), options);
    this.#clients.push(client);
    const out: Record<string, CriCall> = {};
    for (const name of Object.keys(def)) {
      if (def[name]!.responseStream) {
        this.streams[name] = (req = {}) =>
          (client as unknown as Record<string, (r: Msg) => grpc.ClientReadableStream<Msg>>)[name]!.call(client, req);
        continue;
      }
      out[name] = (req = {}, opts = {}) =>
        new Promise((resolve, reject) => {
          const deadline = new Date(Date.now() + (opts.deadlineMs ?? 60_000));
          (client as unknown as Record<string, (...a: unknown[]) => void>)[name]!.call(
            client,
            req,
            { deadline },
            (err: grpc.ServiceError | null, res: Msg) => (err ? reject(err) : resolve(res)),
          );
        });
    }
    return out;
  }

  close(): void {
    for (const c of this.#clients) c.close();
  }
}

/** A ContainerConfig of busybox:latest running `sh -c ARGS`, with `extra` fields over it. */
export const shContainer = (name: string, args: string[], extra: Msg = {}): Msg => ({
  metadata: { name, attempt: 0 },
  image: { image: 'busybox:latest' },
  command: ['sh', '-c'],
  args,
  ...extra,
});

/** Removes every pod a CRI runtime at `socket` has (a test file's clean-up before its daemon stops). */
export async function removeAllPods(socket: string): Promise<void> {
  const cri = new CriClient(socket);
  try {
    for (const p of (await cri.runtime.ListPodSandbox!().catch(() => ({ items: [] }))).items)
      await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: p.id }).catch(() => {});
  } finally {
    cri.close();
  }
}

/** Resolves to the gRPC error a call failed with; fails if it succeeded. */
export async function criError(p: Promise<unknown>): Promise<CriError> {
  try {
    await p;
  } catch (e) {
    return e as CriError;
  }
  throw new Error('expected the call to fail');
}

export const Status = {
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  FailedPrecondition: 9,
  Unimplemented: 12,
} as const;

/** The CRI server the CRI suite drives: BERTH_TEST_CRI=berthd (the default) or containerd (containerd 1.6's CRI plugin, the oracle). */
export function criUnderTest(): 'berthd' | 'containerd' {
  const raw = (process.env['BERTH_TEST_CRI'] ?? 'berthd').trim();
  if (raw === '' || raw === 'berthd') return 'berthd';
  if (raw === 'containerd') return 'containerd';
  throw new Error(`BERTH_TEST_CRI=${raw}: expected "berthd" or "containerd"`);
}

/** What a CRI test file needs before it starts a berthd (`repo`: the checkout): root, the CNI plugins, a built berth-pause. */
export function criPrerequisites(repo: string): void {
  if (process.getuid?.() !== 0) throw new Error('CRI integration tests need root');
  if (!existsSync('/usr/lib/cni/bridge'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  if (!existsSync(join(repo, 'native/build/berth-pause')))
    throw new Error('native/build/berth-pause is missing: run scripts/build.sh');
}
