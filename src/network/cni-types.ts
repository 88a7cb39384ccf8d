// The CNI 1.0 shapes berth reads and writes: a network configuration list (what a .conflist file
// holds), one plugin's configuration, a plugin's result and its error. Types only, plus the
// validation of what berth reads back from disk or from a plugin's stdout.
import { internal, invalidArgument } from '../errors/errors.ts';

export const CNI_VERSION = '1.0.0';

export interface CniPluginConf {
  type: string;
  /** Capabilities the plugin takes through `runtimeConfig` (CNI CONVENTIONS.md), e.g. portMappings. */
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: CniPluginConf[];
  [key: string]: unknown;
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: Array<{ dst: string; gw?: string }>;
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** What a plugin prints on stdout when it fails (CNI spec, "Error"). */
export interface CniErrorBody {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A network name as the CNI spec allows it (also a file name under networks/). */
export function validateNetworkName(name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > 64) {
    throw invalidArgument(
      `network name "${name}": expected 1-64 characters, alphanumeric first, then alphanumerics, "_", "." or "-"`,
    );
  }
}

/** A conflist read from `where`: the fields CNI requires, with their types. */
export function validateConfList(v: unknown, where: string): CniConfList {
  const o = v as Partial<CniConfList> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw internal(`${where}: expected a JSON object (a CNI network configuration list)`);
  if (typeof o.cniVersion !== 'string') throw internal(`${where}: "cniVersion" must be a string`);
  if (typeof o.name !== 'string') throw internal(`${where}: "name" must be a string`);
  if (!Array.isArray(o.plugins) || o.plugins.length === 0)
    throw internal(`${where}: "plugins" must be a non-empty array`);
  o.plugins.forEach((p, i) => {
    if (!p || typeof p !== 'object' || typeof p.type !== 'string' || !/^[a-zA-Z0-9_.-]+$/.test(p.type)) {
      throw internal(`${where}: plugins[${i}].type must be a plugin file name (no "/")`);
    }
  });
  return o as CniConfList;
}

/** A plugin's ADD result: an object with the arrays the spec defines, if present. */
export function validateResult(v: unknown, where: string): CniResult {
  const o = v as Partial<CniResult> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw internal(`${where}: expected a JSON object (a CNI result)`);
  if (typeof o.cniVersion !== 'string') throw internal(`${where}: result has no "cniVersion" string`);
  for (const k of ['interfaces', 'ips', 'routes'] as const) {
    if (o[k] !== undefined && !Array.isArray(o[k])) throw internal(`${where}: result "${k}" must be an array`);
  }
  return o as CniResult;
}
