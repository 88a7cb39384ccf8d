// `ps --filter`: docker's keys for containers, over a row. Pure.
import { invalidArgument } from '../errors/errors.ts';
import type { Container } from './container-context.ts';

export const FILTER_KEYS = ['id', 'name', 'status', 'label', 'ancestor', 'exited', 'runtime', 'health'] as const;

/** docker's values of `health`: none is a container without a healthcheck. */
const HEALTH_VALUES = ['starting', 'healthy', 'unhealthy', 'none'];

type Row = Pick<Container, 'id' | 'name' | 'status' | 'labels' | 'imageRef' | 'imageId' | 'exitCode' | 'runtime'> & {
  health?: { status: string } | null;
  config?: { request: { healthcheck?: { test?: string[] } } };
};

/** Each key's values are alternatives; keys must all hold. An unknown key is an error. */
export function matchesFilters(c: Row, filters: Record<string, string[]>): boolean {
  for (const [k, vals] of Object.entries(filters)) {
    if (vals.length === 0) continue;
    if (!vals.some((v) => matchesOne(c, k, v))) return false;
  }
  return true;
}

function matchesOne(c: Row, key: string, v: string): boolean {
  switch (key) {
    case 'id':
      return c.id.startsWith(v);
    case 'name':
      return c.name.includes(v);
    case 'status':
      // docker's word for a stopped container.
      return v === c.status || (v === 'exited' && c.status === 'stopped');
    case 'label': {
      const eq = v.indexOf('=');
      return eq < 0 ? v in c.labels : c.labels[v.slice(0, eq)] === v.slice(eq + 1);
    }
    case 'ancestor':
      // A name, or the image ID (config digest) or a prefix of it, with or without sha256:.
      return (
        c.imageRef === v ||
        (v.startsWith('sha256:') && c.imageId.startsWith(v)) ||
        (/^[0-9a-f]{4,64}$/.test(v) && c.imageId.startsWith(`sha256:${v}`))
      );
    case 'exited':
      return c.status === 'stopped' && String(c.exitCode) === v;
    case 'runtime':
      return c.runtime === v;
    case 'health': {
      if (!HEALTH_VALUES.includes(v))
        throw invalidArgument(
          `Unrecognised filter value for health: ${v} (expected one of ${HEALTH_VALUES.join(', ')})`,
        );
      const hc = c.config?.request.healthcheck?.test;
      const on = hc !== undefined && hc.length > 0 && hc[0] !== 'NONE';
      return on ? (c.health?.status ?? 'starting') === v : v === 'none';
    }
    default:
      throw invalidArgument(`filter ${JSON.stringify(key)}: expected one of ${FILTER_KEYS.join(', ')}`);
  }
}
