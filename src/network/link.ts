// The host interfaces berth's networks own: asking whether a name is taken, and deleting a
// network's bridge (the bridge plugin creates it on the first ADD and never deletes it). Deletes
// only an interface that is a bridge and whose name the caller's network recorded.
import { unavailable } from '../errors/errors.ts';
import { describeFailure, runCommand } from './run-command.ts';

export interface LinkInfo {
  name: string;
  /** "bridge", "veth", … ; undefined for a plain device. */
  kind: string | undefined;
}

export async function linkInfo(name: string): Promise<LinkInfo | undefined> {
  const args = ['-j', '-d', 'link', 'show', 'dev', name];
  const r = await runCommand('ip', args);
  if (r.code !== 0) {
    if (/does not exist|Cannot find device/.test(r.stderr)) return undefined;
    throw unavailable(`looking up interface ${name}: ${describeFailure('ip', args, r)}`);
  }
  const [l] = JSON.parse(r.stdout) as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>;
  return l ? { name: l.ifname, kind: l.linkinfo?.info_kind } : undefined;
}

/** Deletes bridge `name` if it exists; refuses an interface of another kind. */
export async function deleteBridge(name: string): Promise<boolean> {
  const info = await linkInfo(name);
  if (!info) return false;
  if (info.kind !== 'bridge') throw unavailable(`interface ${name} is a ${info.kind ?? 'device'}, not the network's bridge: left alone`);
  const args = ['link', 'del', 'dev', name];
  const r = await runCommand('ip', args);
  if (r.code !== 0 && !/Cannot find device/.test(r.stderr)) throw unavailable(`deleting bridge ${name}: ${describeFailure('ip', args, r)}`);
  return true;
}
