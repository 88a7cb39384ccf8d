// undici, loaded on first use. Loading it loads node:http2, tls, crypto, zlib, worker_threads and
// web streams with it: ~25 MB of a daemon's resident memory and milliseconds of every start-up,
// which berthd and the berth CLI pay only when they talk to a registry.
import type * as Undici from 'undici';

let loading: Promise<typeof Undici> | undefined;

export function loadUndici(): Promise<typeof Undici> {
  // undici is CommonJS: from source Node's ESM wrapper names its exports, but in the bundle its
  // chunk exports only `default` (module.exports), so take that where it is there.
  loading ??= import('undici').then((m) => (m as unknown as { default?: typeof Undici }).default ?? m);
  return loading;
}
