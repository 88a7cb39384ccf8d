// Builds an OCI bundle from Debian's busybox-static (see test/lib/bundle.ts):
//   node scripts/make-bundle.ts <dir> [--runtime-spec default|minimal] [--terminal] [--writable] [-- args...]
// Nothing is downloaded. The bundle can then be run with `berth-runtime run -b <dir> <id>`.
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeBundle } from '../test/lib/bundle.ts';

function usage(msg: string): never {
  process.stderr.write(
    `make-bundle: ${msg}\nusage: node scripts/make-bundle.ts <dir> [--runtime-spec default|minimal] [--terminal] [--writable] [-- args...]\n`,
  );
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      'runtime-spec': { type: 'string', default: 'default' },
      terminal: { type: 'boolean', default: false },
      writable: { type: 'boolean', default: false },
    },
  });
}
try {
  parsed = parse();
} catch (err) {
  usage((err as Error).message);
}

// parseArgs drops the `--` separator and lists what follows it as positionals, after the dir.
const [dir, ...args] = parsed.positionals;
if (dir === undefined) usage('missing <dir>');
const kind = parsed.values['runtime-spec'];
if (kind !== 'default' && kind !== 'minimal') usage(`--runtime-spec: expected default or minimal, got ${kind}`);
const target = resolve(dir);
if (existsSync(target) && readdirSync(target).length > 0) usage(`${target} exists and is not empty`);

const bundle = makeBundle(target, {
  runtimeSpec: kind,
  ...(args.length > 0 ? { args } : {}),
  terminal: parsed.values.terminal,
  ...(parsed.values.writable ? { readonlyRoot: false } : {}),
});
process.stdout.write(`${bundle.dir}\n`);
