// A create request checked before anything is made: every field the engine itself reads (the spec
// builder checks the rest), with an error naming the field and what was expected; and the ports it
// publishes once `-P` has added the image's exposed ports. Pure.
import { checkHealthConfig } from './healthcheck.ts';
import { isIP } from 'node:net';
import { invalidArgument } from '../errors/errors.ts';
import type { RestartPolicyName } from '../metadata/metadata-store.ts';
import { CONTAINER_NAME } from './container-names.ts';
import { checkDeviceCgroupRules } from './devices.ts';
import { parseRestartPolicy } from './restart-policy.ts';
import type { CreateRequest, PortMapping } from './types.ts';

/**
 * A MAC address an endpoint asks for, in its canonical form (lower case, colons): six hex pairs
 * (`:` or `-` between them), unicast (the first octet's lowest bit clear) and not all zero, else
 * an error naming `field`.
 */
export function checkMacAddress(mac: unknown, field: string): string {
  const text = typeof mac === 'string' ? mac.trim() : '';
  const m = /^([0-9a-fA-F]{2})([:-])[0-9a-fA-F]{2}(?:\2[0-9a-fA-F]{2}){4}$/.exec(text);
  if (!m)
    throw invalidArgument(
      `${field} ${JSON.stringify(mac)}: expected a MAC address of six hex pairs, such as 02:42:ac:11:00:02`,
    );
  const norm = text.toLowerCase().replaceAll('-', ':');
  if (Number.parseInt(m[1]!, 16) & 1)
    throw invalidArgument(
      `${field} ${norm}: a multicast address (the first octet's lowest bit is set); expected a unicast one, such as 02:42:ac:11:00:02`,
    );
  if (norm === '00:00:00:00:00:00')
    throw invalidArgument(`${field} ${norm}: the all-zero address; expected a unicast one, such as 02:42:ac:11:00:02`);
  return norm;
}

/** Throws on the first field that is wrong; returns the parsed restart policy. */
export function checkCreateRequest(req: CreateRequest): { name: RestartPolicyName; max: number } {
  if (!req || typeof req.image !== 'string' || req.image === '')
    throw invalidArgument('create: "image" is required (expected an image reference)');
  const restart = parseRestartPolicy(req.restart);
  if (req.autoRemove && restart.name !== 'no')
    throw invalidArgument(`--rm and --restart ${req.restart} conflict: a removed container cannot be restarted`);
  if (req.name !== undefined && !CONTAINER_NAME.test(req.name))
    throw invalidArgument(`container name ${JSON.stringify(req.name)}: expected [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
  if ((req.ports?.length || req.publishAll) && (req.network === 'host' || req.network === 'none'))
    throw invalidArgument(`-p/-P: ports cannot be published on network ${req.network}`);
  // Each message names the CLI's flag (berth's and docker's) beside the request's field.
  for (const [i, a] of (req.aliases ?? []).entries())
    if (typeof a !== 'string' || !CONTAINER_NAME.test(a))
      throw invalidArgument(
        `--network-alias (aliases[${i}]) ${JSON.stringify(a)}: expected a name such as web or db.internal ([a-zA-Z0-9][a-zA-Z0-9_.-]*)`,
      );
  if (req.aliases?.length && (req.network === 'host' || req.network === 'none'))
    throw invalidArgument(`--network-alias (aliases): network ${req.network} has no names to resolve`);
  checkDeviceCgroupRules(req.deviceCgroupRules);
  checkHealthConfig(req.healthcheck);
  if (req.macAddress !== undefined) {
    checkMacAddress(req.macAddress, '--mac-address (macAddress)');
    if (req.network === 'host' || req.network === 'none' || req.sandbox)
      throw invalidArgument('conflicting options: mac-address and the network mode');
  }
  for (const [i, ep] of (Array.isArray(req.networks) ? req.networks : []).entries())
    if (ep?.macAddress !== undefined)
      checkMacAddress(ep.macAddress, `--network name=${ep.network},mac-address (networks[${i}].macAddress)`);
  if (req.ipv4Address !== undefined) {
    if (typeof req.ipv4Address !== 'string' || isIP(req.ipv4Address) !== 4 || req.ipv4Address === '0.0.0.0')
      throw invalidArgument(
        `--ip (ipv4Address) ${JSON.stringify(req.ipv4Address)}: expected an IPv4 address such as 172.30.100.104`,
      );
    if (!req.network || req.network === 'host' || req.network === 'none')
      throw invalidArgument('--ip (ipv4Address): user specified IP address is supported on user defined networks only');
  }
  for (const p of req.ports ?? []) {
    if (!(p.containerPort > 0 && p.containerPort < 65536) || !(p.hostPort >= 0 && p.hostPort < 65536))
      throw invalidArgument(`port mapping ${JSON.stringify(p)}: expected ports in 1-65535`);
    if (p.hostPortEnd !== undefined && !(p.hostPort > 0 && p.hostPortEnd >= p.hostPort && p.hostPortEnd < 65536))
      throw invalidArgument(
        `port mapping ${JSON.stringify(p)}: hostPortEnd: expected a host port range hostPort-hostPortEnd within 1-65535`,
      );
  }
  return restart;
}

/**
 * The request's ports, and with `-P` every port the image exposes ("80", "53/udp") not already
 * mapped, on a host port picked at start (as hostPort 0 always is). Keys that are not a port are
 * skipped, as docker does.
 */
export function publishedPorts(
  req: Pick<CreateRequest, 'ports' | 'publishAll'>,
  exposedPorts: Record<string, unknown> | undefined,
): PortMapping[] {
  const ports = [...(req.ports ?? [])];
  if (!req.publishAll) return ports;
  for (const k of Object.keys(exposedPorts ?? {})) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(k);
    if (!m) continue;
    const containerPort = Number(m[1]);
    const protocol = (m[2] ?? 'tcp') as 'tcp' | 'udp';
    if (!ports.some((p) => p.containerPort === containerPort && p.protocol === protocol))
      ports.push({ hostIP: '127.0.0.1', hostPort: 0, containerPort, protocol });
  }
  return ports;
}
