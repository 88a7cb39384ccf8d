// The one rule for a container id, for every layer that takes one (berth-runtime's CLI and state
// store, the network namespaces and CNI calls, berthd). Owns: that rule and its error.
//
// Why this rule: an id is a path component (the runtime's <root>/<id>, the netns file
// <run-root>/netns/<id>) and CNI's CNI_CONTAINERID, whose spec allows an alphanumeric first and
// then alphanumerics, "_", "." and "-" (libcni's ValidateContainerID); runc also accepts "+" and any
// first character, but such an id could not be given to CNI, and a first "-" or "." reads as a flag
// or a hidden file. Why 128: CNI plugins write `name: "<network>" id: "<id>"` into iptables comments,
// which the kernel caps at 255 bytes, so the id leaves room for the network name; docker's,
// containerd's and CRI's ids are 64 hex digits.
import { invalidArgument } from '../errors/errors.ts';

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isValidContainerId(id: unknown): id is string {
  return typeof id === 'string' && CONTAINER_ID.test(id);
}

/** InvalidArgument naming the id and the rule, for an id that breaks it. */
export function validateContainerId(id: unknown): asserts id is string {
  if (isValidContainerId(id)) return;
  if (id === '') throw invalidArgument('container id: empty; expected 1-128 characters');
  throw invalidArgument(
    `container id ${JSON.stringify(id)}: expected 1-128 characters, an alphanumeric first, then alphanumerics, "_", "." or "-"`,
  );
}
