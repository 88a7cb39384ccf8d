// Setting and reading extended attributes without following symlinks, for layer unpacking.
//
// A thin layer over the addon's lsetxattr/lgetxattr/llistxattr (src/sys/native.ts) that turns its
// system errors into XattrError, the one error type layer-applier.ts acts on (EOPNOTSUPP, EPERM and
// EACCES become warnings there). Each call is one synchronous system call; the async forms are for
// callers on an event loop, which need not change if a call ever moves off it.
//
// Must never: follow a symlink (a layer's symlink has its own xattrs, and its target may be
// outside the layer).
import {
  isSyscallError,
  lgetxattr as nativeGet,
  llistxattr as nativeList,
  lsetxattr as nativeSet,
} from '../sys/native.ts';

/** A failure of the underlying call, with the errno name (e.g. 'EOPNOTSUPP'). */
export class XattrError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, cause?: unknown) {
    super(message, { cause });
    this.name = 'XattrError';
    this.code = code;
  }
}

function wrap(what: string, e: unknown): unknown {
  if (!isSyscallError(e)) return e;
  return new XattrError(`${what}: ${e.message}`, e.code, e);
}

export async function lsetxattr(path: string, name: string, value: Uint8Array): Promise<void> {
  lsetxattrSync(path, name, value);
}

/** The same, for the synchronous layer applier (layer-applier.ts). */
export function lsetxattrSync(path: string, name: string, value: Uint8Array): void {
  try {
    nativeSet(path, name, value);
  } catch (e) {
    throw wrap(`setting xattr ${name} on ${path}`, e);
  }
}

/** The value of one xattr, or undefined when the file does not have it. */
export async function lgetxattr(path: string, name: string): Promise<Buffer | undefined> {
  try {
    return nativeGet(path, name);
  } catch (e) {
    throw wrap(`reading xattr ${name} of ${path}`, e);
  }
}

/** The names of the xattrs the caller can see on `path` itself. */
export async function llistxattr(path: string): Promise<string[]> {
  try {
    return nativeList(path);
  } catch (e) {
    throw wrap(`listing xattrs of ${path}`, e);
  }
}
