// Docker's word processing for Dockerfile arguments: quotes, the escape character and variable
// substitution ($VAR, ${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word}, ${VAR:?msg},
// ${VAR?msg}), as moby/buildkit's frontend/dockerfile/shell lexer defines them (read for the rules;
// this is berth's own code, since no npm package implements Docker's dialect, which is not POSIX sh).
//
// Rules: outside quotes the escape character takes the next character literally; '…' is literal;
// in "…" only $ expands and the escape character escapes only ", $ and itself; an unset variable
// is empty; `$` not followed by a name or `{` stays a `$`.
// Must never: run a shell, or read the process's environment (the caller passes the one in force).

export class LexError extends Error {}

export type LexEnv = ReadonlyMap<string, string>;

type Result = { words: string[]; matched: Set<string> };

class Lexer {
  readonly #s: string;
  #i = 0;
  readonly #esc: string;
  readonly #env: LexEnv;
  readonly matched = new Set<string>();

  constructor(s: string, esc: string, env: LexEnv) {
    this.#s = s;
    this.#esc = esc;
    this.#env = env;
  }

  #peek(): string | undefined {
    return this.#s[this.#i];
  }

  /** Processes until `stop` (not consumed) or the end; `split` breaks words on unquoted whitespace. */
  process(stop: string | undefined, split: boolean): string[] {
    const words: string[] = [];
    let cur = '';
    let inWord = false;
    for (;;) {
      const ch = this.#peek();
      if (ch === undefined) break;
      if (stop !== undefined && ch === stop) break;
      if (split && /\s/.test(ch)) {
        this.#i++;
        if (inWord) words.push(cur);
        cur = '';
        inWord = false;
        continue;
      }
      inWord = true;
      if (ch === "'") cur += this.#single();
      else if (ch === '"') cur += this.#double();
      else if (ch === '$') cur += this.#dollar();
      else if (ch === this.#esc) {
        this.#i++;
        const next = this.#peek();
        if (next === undefined) break;
        cur += next;
        this.#i++;
      } else {
        cur += ch;
        this.#i++;
      }
    }
    if (inWord || !split) words.push(cur);
    return words;
  }

  #single(): string {
    const start = ++this.#i;
    const end = this.#s.indexOf("'", start);
    if (end < 0) throw new LexError('unexpected end of statement while looking for matching single-quote');
    this.#i = end + 1;
    return this.#s.slice(start, end);
  }

  #double(): string {
    this.#i++;
    let out = '';
    for (;;) {
      const ch = this.#peek();
      if (ch === undefined) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.#i++;
        return out;
      }
      if (ch === '$') {
        out += this.#dollar();
        continue;
      }
      if (ch === this.#esc) {
        const next = this.#s[this.#i + 1];
        if (next === '"' || next === '$' || next === this.#esc) {
          out += next;
          this.#i += 2;
          continue;
        }
      }
      out += ch;
      this.#i++;
    }
  }

  #name(): string {
    const m = /^[A-Za-z0-9_]+/.exec(this.#s.slice(this.#i));
    if (!m) return '';
    this.#i += m[0].length;
    return m[0];
  }

  #lookup(name: string): string | undefined {
    this.matched.add(name);
    return this.#env.get(name);
  }

  #dollar(): string {
    this.#i++;
    if (this.#peek() !== '{') {
      const name = this.#name();
      return name === '' ? '$' : (this.#lookup(name) ?? '');
    }
    this.#i++;
    const name = this.#name();
    if (name === '')
      throw new LexError(
        `bad substitution: expected a variable name after \${ at "${this.#s.slice(this.#i - 2, this.#i + 8)}"`,
      );
    const ch = this.#peek();
    if (ch === '}') {
      this.#i++;
      return this.#lookup(name) ?? '';
    }
    let colon = false;
    let op = ch;
    if (ch === ':') {
      colon = true;
      this.#i++;
      op = this.#peek();
    }
    if (op === undefined) throw new LexError(`missing '}' in substitution of ${name}`);
    if (op !== '-' && op !== '+' && op !== '?')
      throw new LexError(
        `unsupported modifier (${colon ? ':' : ''}${op}) in substitution of ${name}: expected }, -, +, ?, :-, :+ or :?`,
      );
    this.#i++;
    const word = this.process('}', false).join('');
    if (this.#peek() !== '}') throw new LexError(`missing '}' in substitution of ${name}`);
    this.#i++;
    const value = this.#lookup(name);
    const set = colon ? value !== undefined && value !== '' : value !== undefined;
    if (op === '-') return set ? (value as string) : word;
    if (op === '+') return set ? word : '';
    if (!set) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
    return value as string;
  }
}

/** One word: quotes removed, variables substituted (WORKDIR, USER, FROM, STOPSIGNAL, a COPY source). */
export function processWord(word: string, env: LexEnv, esc = '\\'): string {
  return run(word, env, esc, false).words[0] ?? '';
}

/** Whitespace-separated words, each processed as processWord does (EXPOSE, VOLUME's list). */
export function processWords(text: string, env: LexEnv, esc = '\\'): string[] {
  return run(text, env, esc, true).words;
}

/** processWord plus the names of the variables it consulted (a cache key takes the build args a step saw). */
export function processWordMatches(word: string, env: LexEnv, esc = '\\'): { word: string; matched: Set<string> } {
  const r = run(word, env, esc, false);
  return { word: r.words[0] ?? '', matched: r.matched };
}

function run(s: string, env: LexEnv, esc: string, split: boolean): Result {
  const l = new Lexer(s, esc, env);
  const words = l.process(undefined, split);
  return { words, matched: l.matched };
}
