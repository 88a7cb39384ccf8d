// The CRI's ImageService as calls of the engine's image service: one image store shared with the
// native API and the berth CLI (an image pulled or loaded with berth is the kubelet's too). An
// image's CRI id is its image ID, the config digest (as containerd's CRI answers, and what `berth
// images` abbreviates as IMAGE ID); its repo_tags are every name that points at it, its repo_digests
// `repository@<manifest digest>` per repository. RemoveImage of an image that is not there succeeds, as the CRI asks.
// Must never: keep image state of its own.
import type { Engine } from '../engine/engine.ts';
import { invalidArgument, unsupported } from '../errors/errors.ts';
import { nanos, required } from './convert.ts';
import { isNotFound } from './status.ts';

// biome-ignore lint/suspicious/noExplicitAny: decoded CRI messages; their shapes are proto/cri-api.proto's
type Msg = Record<string, any>;

/** AuthConfig → credentials for this pull (basic, and bearer-token registries through their token service). */
function credentialsOf(auth: Msg | null | undefined): { credentials?: { username: string; password: string } } {
  if (!auth) return {};
  if (auth.identity_token)
    throw unsupported(
      'auth.identity_token: OAuth identity tokens are not supported by berth yet (expected username and password, or auth)',
    );
  if (auth.registry_token)
    throw unsupported(
      'auth.registry_token: registry tokens are not supported by berth yet (expected username and password, or auth)',
    );
  if (auth.auth) {
    const text = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) throw invalidArgument('auth.auth: expected base64 of "username:password"');
    return { credentials: { username: text.slice(0, colon), password: text.slice(colon + 1) } };
  }
  if (auth.username || auth.password) {
    if (!auth.username) throw invalidArgument('auth.username: required with auth.password');
    return { credentials: { username: auth.username, password: auth.password ?? '' } };
  }
  return {};
}

export class CriImageService {
  readonly #e: Engine;

  constructor(engine: Engine) {
    this.#e = engine;
  }

  /** The CRI Image of the record `word` names, with every name that shares its digest; undefined if none. */
  async #image(word: string): Promise<Msg | undefined> {
    let d: Awaited<ReturnType<Engine['images']['inspect']>>;
    try {
      d = await this.#e.images.inspect(word);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const all = (await this.#e.images.list()).filter((s) => s.digest === d.target.digest);
    const user = d.config.config?.User ?? '';
    const uid = /^\d+/.exec(user)?.[0];
    return {
      id: d.id,
      repo_tags: all.map((s) => s.name),
      repo_digests: [...new Set(all.map((s) => `${s.repository}@${d.target.digest}`))],
      size: String(d.size),
      ...(uid !== undefined ? { uid: { value: uid } } : { username: user.split(':')[0] ?? '' }),
      spec: { image: d.id },
      pinned: false,
    };
  }

  async ListImages(req: Msg): Promise<Msg> {
    const want: string | undefined = req.filter?.image?.image || undefined;
    if (want) {
      const one = await this.#image(want);
      return { images: one ? [one] : [] };
    }
    const byId = new Map<string, Msg>();
    for (const s of await this.#e.images.list()) {
      const img = byId.get(s.id) ?? {
        id: s.id,
        repo_tags: [],
        repo_digests: [],
        size: String(s.size),
        spec: { image: s.id },
        pinned: false,
      };
      img.repo_tags.push(s.name);
      const rd = `${s.repository}@${s.digest}`;
      if (!img.repo_digests.includes(rd)) img.repo_digests.push(rd);
      byId.set(s.id, img);
    }
    return { images: [...byId.values()] };
  }

  async ImageStatus(req: Msg): Promise<Msg> {
    const word = required(req.image?.image, 'image.image');
    const image = await this.#image(word);
    // A missing image is not an error here: the answer has no image (the kubelet then pulls).
    if (!image) return { info: {} };
    return { image, info: req.verbose ? { info: JSON.stringify(await this.#e.images.inspect(word)) } : {} };
  }

  async PullImage(req: Msg): Promise<Msg> {
    const ref = required(req.image?.image, 'image.image');
    const r = await this.#e.images.pull(ref, credentialsOf(req.auth));
    return { image_ref: (await this.#e.images.imageIdOf(r.target)) ?? r.target.digest };
  }

  async RemoveImage(req: Msg): Promise<Msg> {
    const word = required(req.image?.image, 'image.image');
    let names: string[];
    try {
      const d = await this.#e.images.inspect(word);
      names = (await this.#e.images.list()).filter((s) => s.id === d.id).map((s) => s.name);
    } catch (e) {
      if (isNotFound(e)) return {};
      throw e;
    }
    await this.#e.images.remove(names);
    return {};
  }

  async ImageFsInfo(): Promise<Msg> {
    const du = await this.#e.images.diskUsage();
    const now = nanos(new Date().toISOString());
    // inodes_used is left out: berth's stores do not count inodes yet (an absent value, not a made-up one).
    const fs = (mountpoint: string, used: number) => ({
      timestamp: now,
      fs_id: { mountpoint },
      used_bytes: { value: String(used) },
    });
    return {
      image_filesystems: [fs(this.#e.root, du.images.size)],
      container_filesystems: [fs(this.#e.root, du.containers.size)],
    };
  }
}
