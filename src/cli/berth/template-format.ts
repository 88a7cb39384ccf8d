// `--format` as docker's CLI reads it: `table` (the verb's default table), `json` (berth's JSON),
// `table TEMPLATE` (a header row from the verb's column names, then a row per item, aligned as
// docker's tabwriter aligns `\t`-separated cells), or any other Go template (one line per item).
// Pure: returns the text; must never print.
import { invalidArgument } from '../../errors/errors.ts';
import { GoTemplate, goMap } from './go-template.ts';

export type FormatChoice = { kind: 'table' } | { kind: 'json' } | { kind: 'template'; table: boolean; tpl: GoTemplate };

/** What `--format` asks for; a template is parsed now, so a bad one is an error before any request. */
export function formatChoice(v: string | undefined): FormatChoice {
  if (v === undefined || v === '' || v === 'table') return { kind: 'table' };
  if (v === 'json') return { kind: 'json' };
  // A word without any action is almost surely a mistyped format name (`--format yaml`), not a
  // template meant to print itself on every line: refused, naming what is expected.
  if (!v.includes('{{'))
    throw invalidArgument(
      `--format: expected table or json or a Go template such as '{{.ID}}', got ${JSON.stringify(v)}`,
    );
  // As docker's formatter: the words `\t` and `\n` typed in a shell's double quotes are a tab and a
  // newline (`--format "table {{.ID}}\t{{.Names}}"`), and the spaces around the template go.
  const prep = (t: string) =>
    t
      .replace(/^ +| +$/g, '')
      .replaceAll('\\t', '\t')
      .replaceAll('\\n', '\n');
  const m = /^table\s+([\s\S]*)$/.exec(v);
  if (m) return { kind: 'template', table: true, tpl: GoTemplate.parse(prep(m[1]!)) };
  return { kind: 'template', table: false, tpl: GoTemplate.parse(prep(v)) };
}

/** Rows through a template choice: a header line from `headers` (a field's column name) for `table`. */
export function renderTemplate(
  choice: Extract<FormatChoice, { kind: 'template' }>,
  rows: unknown[],
  headers: Record<string, string> = {},
): string {
  const lines = rows.map((r) => choice.tpl.execute(r));
  if (!choice.table) return lines.map((l) => `${l}\n`).join('');
  const header = choice.tpl.execute(headerContext(headers));
  return tabwrite([header, ...lines].join('\n'));
}

/**
 * The data a `table` template's header row is rendered with: every field docker's column names, as
 * a map, so that a field the verb does not have renders as nothing rather than failing the header.
 */
function headerContext(headers: Record<string, string>): unknown {
  const h: Record<string, unknown> = { ...headers };
  // A method in the rows ({{.Label "x"}}) is a function here too: its header is the label's name.
  h.Label = (k: unknown) => String(k).toUpperCase();
  return goMap(h);
}

/**
 * Go's text/tabwriter as docker's formatter sets it up (minwidth 10, padding 3, spaces): a cell
 * ended by `\t` is padded to its column's width; a line's last cell is not aligned.
 */
export function tabwrite(text: string): string {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const cells = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const row of cells) {
    for (let i = 0; i < row.length - 1; i++)
      widths[i] = Math.max(widths[i] ?? 0, Math.max([...row[i]!].length + 3, 10));
  }
  return cells
    .map(
      (row) =>
        `${row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i]! + (c.length - [...c].length)) : c)).join('')}\n`,
    )
    .join('');
}

/** Labels as docker's formatter shows them: `k=v,k2=v2`, sorted. */
export const labelsText = (labels: Record<string, string> | undefined) =>
  Object.keys(labels ?? {})
    .sort()
    .map((k) => `${k}=${labels![k]}`)
    .join(',');

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/**
 * A listing verb's output by `--format`: berth's JSON of `native`, a template over docker's fields
 * (`rows`, with the verb's column names as `headers`), or the verb's own table.
 */
export function listOutput(
  format: unknown,
  native: unknown,
  rows: () => unknown[],
  headers: Record<string, string>,
  table: () => string,
): string {
  const c = formatChoice(format as string | undefined);
  if (c.kind === 'json') return json(native);
  if (c.kind === 'template') return renderTemplate(c, rows(), headers);
  return table();
}

/** An inspecting verb's output: the JSON array of `items`, or the template once per item (docker's shape, from `shape`). */
export function inspectOutput<T>(format: unknown, items: T[], shape: (item: T) => unknown): string {
  const c = formatChoice(format as string | undefined);
  if (c.kind !== 'template') return json(items);
  if (c.table) return renderTemplate(c, items.map(shape));
  return items.map((i) => `${c.tpl.execute(shape(i))}\n`).join('');
}
