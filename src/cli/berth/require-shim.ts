// Gives the bundled binary (dist/bin/berth, an ES module) a `require` for the CommonJS packages it
// carries: tar-stream's streamx requires Node built-ins ('events') at load time, and esbuild's ESM
// output can only forward such a require to a global one. Imported first by main.ts so that it runs
// before any bundled CommonJS module initialises. Harmless when running from source.
// (The general fix is a createRequire banner in scripts/bundle.ts; see the images-cli report.)
import { createRequire } from 'node:module';

const g = globalThis as { require?: NodeJS.Require };
g.require ??= createRequire(import.meta.url);
