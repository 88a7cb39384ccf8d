// Setting and reading extended attributes without following symlinks.
//
// Node has no xattr calls and berth's addon (src/sys/native.ts) does not offer them yet, so this
// module runs setfattr/getfattr from Debian's `attr` package, with -h (no dereference) and values
// hex-encoded so that any bytes survive. It is the one place to switch to the addon's
// lsetxattr/lgetxattr once they exist; callers only see lsetxattr/lgetxattr.
//
// Must never: follow a symlink, or pass a value through a shell.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SETFATTR = '/usr/bin/setfattr';
const GETFATTR = '/usr/bin/getfattr';

/** A failure of the underlying call, with the errno name when the tool reported one. */
export class XattrError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'XattrError';
    this.code = code;
  }
}

// setfattr prints strerror(3); map back the ones callers act on.
const STRERROR_CODES: [RegExp, string][] = [
  [/Operation not supported/, 'EOPNOTSUPP'],
  [/Operation not permitted/, 'EPERM'],
  [/No such file or directory/, 'ENOENT'],
  [/Permission denied/, 'EACCES'],
  [/No space left on device/, 'ENOSPC'],
  [/Numerical result out of range|Argument list too long/, 'E2BIG'],
  [/No such attribute|No data available/, 'ENODATA'],
];

function codeOf(stderr: string): string | undefined {
  for (const [re, code] of STRERROR_CODES) if (re.test(stderr)) return code;
  return undefined;
}

export async function lsetxattr(path: string, name: string, value: Uint8Array): Promise<void> {
  const hex = `0x${Buffer.from(value).toString('hex')}`;
  try {
    // An empty value is legal; setfattr wants "" for it, not "0x".
    await run(SETFATTR, ['-h', '-n', name, '-v', value.length === 0 ? '""' : hex, '--', path]);
  } catch (e) {
    const err = e as { stderr?: string; code?: string | number };
    if (err.code === 'ENOENT' && err.stderr === undefined) {
      throw new XattrError(`${SETFATTR} is missing: install Debian's 'attr' package (scripts/setup.sh does)`, 'ENOSYS');
    }
    const stderr = String(err.stderr ?? '').trim();
    throw new XattrError(`setting xattr ${name} on ${path}: ${stderr || String(e)}`, codeOf(stderr));
  }
}

/** The value of one xattr, or undefined when the file does not have it. */
export async function lgetxattr(path: string, name: string): Promise<Buffer | undefined> {
  try {
    const { stdout } = await run(GETFATTR, ['-h', '--absolute-names', '-e', 'hex', '-n', name, '--', path]);
    const line = stdout.split('\n').find((l) => l.startsWith(`${name}=`));
    if (line === undefined) return undefined;
    const v = line.slice(name.length + 1);
    if (v === '""' || v === '') return Buffer.alloc(0);
    return Buffer.from(v.replace(/^0x/, ''), 'hex');
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? '');
    if (codeOf(stderr) === 'ENODATA') return undefined;
    throw new XattrError(`reading xattr ${name} of ${path}: ${stderr.trim() || String(e)}`, codeOf(stderr));
  }
}
