// Registry host configuration: mirrors (tried first for pulls), insecure registries (plain HTTP)
// and custom CAs, resolved into the endpoints a request is sent to. Must never send credentials of
// one registry to another host.
import type { Agent } from 'undici';
import { DOCKER_HUB } from './reference.ts';
import { loadUndici } from './undici.ts';

export type RegistryHostConfig = {
  /** Pull-through mirrors, as URLs (http://127.0.0.1:5001) or host[:port] (https assumed). */
  mirrors?: string[];
  /** Use plain HTTP for this registry. */
  insecure?: boolean;
  /** PEM of extra trusted CAs for this registry. */
  ca?: string;
};
export type RegistriesConfig = Record<string, RegistryHostConfig>;

export type Endpoint = {
  /** Host[:port] credentials and tokens are keyed by. */
  host: string;
  /** https://host or http://host, without a trailing slash. */
  baseUrl: string;
  isMirror: boolean;
  /** The connection pool for this host (undici is loaded by the first request, not before). */
  dispatcher: () => Promise<Agent>;
};

export class RegistryHosts {
  readonly #config: RegistriesConfig;
  readonly #agents = new Map<string, Agent>();
  readonly #connect: Agent.Options;

  constructor(config: RegistriesConfig = {}, agentOptions: Agent.Options = {}) {
    this.#config = config;
    this.#connect = agentOptions;
  }

  #agent(host: string, ca?: string): () => Promise<Agent> {
    const key = `${host}\0${ca ?? ''}`;
    return async () => {
      const { Agent } = await loadUndici();
      let a = this.#agents.get(key);
      if (!a) {
        a = new Agent(ca ? { ...this.#connect, connect: { ca } } : this.#connect);
        this.#agents.set(key, a);
      }
      return a;
    };
  }

  #endpoint(hostOrUrl: string, isMirror: boolean): Endpoint {
    const m = /^(https?):\/\/([^/]+)/.exec(hostOrUrl);
    const host = m ? m[2]! : hostOrUrl.replace(/\/+$/, '');
    const cfg = this.#config[host] ?? {};
    const scheme = m ? m[1]! : cfg.insecure ? 'http' : 'https';
    // docker.io is a name; its API lives at registry-1.docker.io.
    const apiHost = host === DOCKER_HUB ? 'registry-1.docker.io' : host;
    return { host, baseUrl: `${scheme}://${apiHost}`, isMirror, dispatcher: this.#agent(host, cfg.ca) };
  }

  /** Endpoints for pulling from `registry`: its mirrors first, then the registry itself. */
  pullEndpoints(registry: string): Endpoint[] {
    const mirrors = this.#config[registry]?.mirrors ?? [];
    return [...mirrors.map((m) => this.#endpoint(m, true)), this.#endpoint(registry, false)];
  }

  /** The endpoint for pushing: never a mirror. */
  pushEndpoint(registry: string): Endpoint {
    return this.#endpoint(registry, false);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
    this.#agents.clear();
  }
}
