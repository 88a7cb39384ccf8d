// docker's detach key specs (`--detach-keys`, the attach's `detachKeys`, an exec's DetachKeys): a
// comma-separated list whose items are one character (its byte), `ctrl-@`, `ctrl-a`…`ctrl-z`,
// `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_` (bytes 0 to 31) or `DEL` (127), as moby/term's
// ToBytes reads them. dockerd watches only a terminal's input, and with none given uses ctrl-p,ctrl-q.
// The engine takes the bytes (AttachOptions.detachKeys); the words of the errors are dockerd's.
import { DETACH_KEYS_MAX } from '../engine/detach-keys.ts';
import { invalidArgument } from '../errors/errors.ts';

/** ctrl-p, ctrl-q: dockerd's sequence when a client names none. */
export const DEFAULT_DETACH_KEYS = Uint8Array.from([16, 17]);

const CTRL_NAMES = '@abcdefghijklmnopqrstuvwxyz[\\]^_';

/** The bytes of a spec; throws an Error worded as moby/term's (`Unknown character: 'x'`). */
export function detachKeyBytes(spec: string): Uint8Array {
  const out: number[] = [];
  for (const key of spec.split(',')) {
    if (Buffer.byteLength(key, 'utf8') === 1) out.push(key.charCodeAt(0));
    else if (key.startsWith('ctrl-') && key.length === 6 && CTRL_NAMES.includes(key[5]!))
      out.push(CTRL_NAMES.indexOf(key[5]!));
    else if (key === 'DEL') out.push(127);
    else throw new Error(`Unknown character: '${key}'`);
  }
  if (out.length > DETACH_KEYS_MAX) throw new Error(`${out.length} keys, at most ${DETACH_KEYS_MAX}`);
  return Uint8Array.from(out);
}

/**
 * The sequence an attach of a container watches for: none without a terminal (its input is not
 * keys), the spec's, or the default. `what` words the 400 as dockerd does: `detach` for an attach
 * (`Invalid detach keys (x) provided`), `escape` for an exec (`Invalid escape keys (x) provided`).
 */
export function attachDetachKeys(
  spec: string | null | undefined,
  tty: boolean,
  what: 'detach' | 'escape',
): Uint8Array | undefined {
  let keys: Uint8Array = DEFAULT_DETACH_KEYS;
  if (spec) {
    try {
      keys = detachKeyBytes(spec);
    } catch (e) {
      throw invalidArgument(`Invalid ${what} keys (${spec}) provided`, e);
    }
  }
  return tty ? keys : undefined;
}
