// Enforces docs/architecture.md: every import in src/ points down the layer graph, and no module
// cycle exists. Run in CI by scripts/test.sh. Test files (*.test.ts, *.contract.ts) are exempt from
// the layer rule (a contract suite may sit beside its interface) but not from cycle detection.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

/** Each layer and the layers it may import. Keep in step with docs/architecture.md. */
export const ALLOWED: Record<string, string[]> = {
  errors: [],
  oci: ['errors'],
  sys: ['errors', 'oci'],
  cgroups: ['errors', 'oci', 'sys'],
  seccomp: ['errors', 'oci', 'sys'],
  content: ['errors', 'oci', 'sys'],
  archive: ['errors', 'oci', 'sys'],
  snapshots: ['errors', 'oci', 'sys'],
  distribution: ['errors', 'oci', 'sys', 'content'],
  runtime: ['errors', 'oci', 'sys', 'cgroups', 'seccomp'],
  images: ['errors', 'oci', 'sys', 'content', 'distribution', 'archive', 'snapshots'],
  metadata: ['errors', 'oci', 'sys'],
  shim: ['errors', 'oci', 'sys'],
  network: ['errors', 'oci', 'sys'],
  build: ['errors', 'oci', 'sys', 'content', 'archive', 'snapshots', 'images'],
  engine: [
    'errors',
    'oci',
    'sys',
    'cgroups',
    'seccomp',
    'content',
    'archive',
    'snapshots',
    'distribution',
    'runtime',
    'images',
    'metadata',
    'shim',
    'network',
    'build',
  ],
  api: ['errors', 'oci', 'engine'],
  cri: ['errors', 'oci', 'engine'],
  'docker-api': ['errors', 'oci', 'engine'],
  client: ['errors', 'oci', 'api'],
  cli: [
    'errors',
    'oci',
    'sys',
    'runtime',
    'cgroups',
    'content',
    'archive',
    'snapshots',
    'distribution',
    'images',
    'client',
    'api',
    'cri',
    'docker-api',
    'engine',
  ],
};

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const importRe =
  /^\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

const files = walk(src);
const graph = new Map<string, string[]>();
const problems: string[] = [];
for (const f of files) {
  const rel = relative(src, f);
  const layer = rel.split('/')[0]!;
  const isTest = /\.(test|contract)\.ts$/.test(f);
  if (!(layer in ALLOWED))
    problems.push(
      `${rel}: layer "${layer}" is not in docs/architecture.md (add it to ALLOWED in scripts/check-arch.ts)`,
    );
  const text = readFileSync(f, 'utf8');
  const edges: string[] = [];
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(f), spec);
    const trel = relative(src, target);
    if (trel.startsWith('..')) {
      if (!isTest) problems.push(`${rel}: imports ${spec}, outside src/`);
      continue;
    }
    edges.push(target);
    const tlayer = trel.split('/')[0]!;
    if (isTest || tlayer === layer) continue;
    if (!(ALLOWED[layer] ?? []).includes(tlayer)) {
      problems.push(
        `${rel}: imports ${trel}: layer "${layer}" may not depend on "${tlayer}" (allowed: ${(ALLOWED[layer] ?? []).join(', ') || 'nothing'})`,
      );
    }
  }
  graph.set(f, edges);
}

// Cycle detection: iterative DFS with colours.
const colour = new Map<string, 0 | 1 | 2>();
for (const start of graph.keys()) {
  if (colour.get(start)) continue;
  const stack: Array<{ node: string; i: number }> = [{ node: start, i: 0 }];
  const path: string[] = [start];
  colour.set(start, 1);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const edges = graph.get(top.node) ?? [];
    if (top.i >= edges.length) {
      colour.set(top.node, 2);
      stack.pop();
      path.pop();
      continue;
    }
    const next = edges[top.i++]!;
    const c = colour.get(next) ?? 0;
    if (c === 1) {
      const cycle = [...path.slice(path.indexOf(next)), next].map((p) => relative(src, p));
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (c === 0 && graph.has(next)) {
      colour.set(next, 1);
      stack.push({ node: next, i: 0 });
      path.push(next);
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(`check-arch: ${p}`);
  process.exit(1);
}
console.log(`check-arch: ${files.length} modules, imports point down the layers, no cycles`);
