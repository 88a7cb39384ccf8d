// Container names: what a user may choose, and docker-style "adjective_noun" names drawn for a
// container without one. Pure: the caller says which names are taken.
import { randomBytes } from 'node:crypto';

export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const ADJ = [
  'brave',
  'calm',
  'eager',
  'fond',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'quiet',
  'sharp',
  'swift',
  'witty',
  'bold',
  'clever',
  'gentle',
  'happy',
];
const NOUN = [
  'otter',
  'heron',
  'lynx',
  'puffin',
  'marten',
  'ibis',
  'wren',
  'gecko',
  'tern',
  'vole',
  'kestrel',
  'newt',
  'stoat',
  'plover',
  'dunlin',
  'skua',
];

/**
 * A name `taken` says is free: adjective_noun, with a number after ten tries (16 × 16 names: 50
 * creates at once collided), and after a hundred a random hex one.
 */
export function generateName(taken: (name: string) => boolean, random: () => number = Math.random): string {
  for (let i = 0; i < 100; i++) {
    const n = `${ADJ[Math.floor(random() * ADJ.length)]}_${NOUN[Math.floor(random() * NOUN.length)]}${i > 10 ? `_${i}` : ''}`;
    if (!taken(n)) return n;
  }
  return `berth_${randomBytes(4).toString('hex')}`;
}

/**
 * The names a container has on a user network, in dockerd's order (its DNSNames, the embedded DNS
 * server's answers): its name, the endpoint's aliases, its short ID, its hostname; each once.
 */
export function endpointDnsNames(
  c: { id: string; name: string; hostname?: string | undefined },
  aliases: readonly string[],
): string[] {
  return [...new Set([c.name, ...aliases, c.id.slice(0, 12), ...(c.hostname ? [c.hostname] : [])])];
}
