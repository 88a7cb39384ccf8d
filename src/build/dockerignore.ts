// .dockerignore: which context paths the build never sees, by Docker's rules (moby/patternmatcher,
// read for the rules; written here because no npm package follows them exactly):
// - one pattern a line; `#` at the start of a line is a comment; blanks around a line are trimmed;
// - `!` makes an exception; patterns apply in order and the last one that matches a path decides;
// - a pattern is cleaned as Go's filepath.Clean does (`./a` → `a`, `a//b/` → `a/b`), and a leading
//   `/` dropped: patterns are relative to the context root;
// - `*` is any run of characters but `/`, `?` one such character, `[…]` a class, `\` escapes,
//   `**` any number of directories (zero too);
// - a path is ignored too when a pattern matches one of its parent directories.
// Must never: touch the file system (the context walks, asking isIgnored()).

type Pattern = { text: string; exclusion: boolean; re: RegExp };

export class DockerIgnore {
  readonly #patterns: Pattern[];

  constructor(lines: string[]) {
    this.#patterns = [];
    for (const raw of lines) {
      let line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      let exclusion = false;
      if (line.startsWith('!')) {
        exclusion = true;
        line = line.slice(1).trim();
      }
      let text = cleanPath(line);
      if (text.startsWith('/') && text.length > 1) text = text.slice(1);
      if (text === '' || text === '.') continue;
      this.#patterns.push({ text, exclusion, re: compile(text) });
    }
  }

  static parse(text: string): DockerIgnore {
    return new DockerIgnore(text.split(/\r?\n/));
  }

  get empty(): boolean {
    return this.#patterns.length === 0;
  }

  /** Whether some `!` pattern exists: then an ignored directory must still be walked for exceptions. */
  get hasExceptions(): boolean {
    return this.#patterns.some((p) => p.exclusion);
  }

  /** `path` relative to the context root, with '/' separators. */
  isIgnored(path: string): boolean {
    const file = cleanPath(path).replace(/^\/+/, '');
    const parents = file.split('/').slice(0, -1);
    let ignored = false;
    for (const p of this.#patterns) {
      let match = p.re.test(file);
      for (let i = 1; !match && i <= parents.length; i++) match = p.re.test(parents.slice(0, i).join('/'));
      if (match) ignored = !p.exclusion;
    }
    return ignored;
  }
}

/** Go's path.Clean for '/'-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  return rooted ? `/${s}` : s || '.';
}

function compile(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) re += '\\\\';
      else {
        re += escapeRe(n);
        i++;
      }
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`, 's');
}

function escapeRe(c: string): string {
  return /[.*?+^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** Go's filepath.Match for one path (COPY's source globs): `*` and `?` never cross '/'. */
export function globMatch(pattern: string, path: string): boolean {
  return compileGlob(pattern).test(path);
}

export function compileGlob(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`, 's');
}

export const hasGlob = (p: string): boolean => /[*?[]/.test(p);
