import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GoTemplate, goMap, goString } from './go-template.ts';
import { formatChoice, renderTemplate, tabwrite } from './template-format.ts';

const run = (src: string, data: unknown) => GoTemplate.parse(src).execute(data);

test('fields, nested fields, variables and the root', () => {
  const d = { ID: 'abc', State: { Status: 'running', Pid: 42 }, Names: ['a', 'b'] };
  assert.equal(run('{{.ID}} {{.State.Status}} {{.State.Pid}}', d), 'abc running 42');
  assert.equal(run('{{$s := .State}}{{$s.Status}}', d), 'running');
  assert.equal(run('{{with .State}}{{.Pid}} {{$.ID}}{{end}}', d), '42 abc');
  assert.equal(run('{{.}}', 'x'), 'x');
  assert.equal(run('{{.Names}}', d), '[a b]');
  assert.equal(run('{{$x := 1}}{{$x = 2}}{{$x}}', d), '2');
});

test('a missing struct field is an error naming it; a missing map key is <no value>', () => {
  assert.throws(
    () => run('{{.Nope}}', { ID: 'x' }),
    /template: :1:0: executing at <\.Nope>: can't evaluate field Nope/,
  );
  assert.throws(() => run('{{.State.Nope}}', { State: {} }), /can't evaluate field Nope/);
  assert.equal(run('{{.Labels.foo}}|{{index .Labels "a"}}', { Labels: goMap({ a: '1' }) }), '<no value>|1');
  assert.equal(run('{{.k}}', new Map([['k', 'v']])), 'v');
  assert.throws(() => run('{{.A.B}}', { A: null }), /nil pointer evaluating \.B/);
});

test('syntax errors name line and column and are never ignored', () => {
  assert.throws(() => GoTemplate.parse('{{.ID'), /unclosed action/);
  assert.throws(() => GoTemplate.parse('{{if .A}}x'), /without \{\{end\}\}/);
  assert.throws(() => GoTemplate.parse('x\n{{end}}'), /template: :2:0: unexpected \{\{end\}\}/);
  assert.throws(() => GoTemplate.parse('{{nosuch .A}}').execute({ A: 1 }), /function "nosuch" not defined/);
  assert.throws(() => GoTemplate.parse('{{template "x"}}'), /not supported/);
  assert.throws(() => GoTemplate.parse('{{"abc}}'), /unterminated quoted string/);
  assert.throws(() => GoTemplate.parse('{{(.A}}'), /unclosed left paren/);
  assert.throws(() => GoTemplate.parse('{{.A |}}'), /missing command/);
});

test('if / else if / else, with / else, comparisons and logic', () => {
  const t = '{{if eq .S "running"}}up{{else if eq .S "paused"}}paused{{else}}down{{end}}';
  assert.equal(run(t, { S: 'running' }), 'up');
  assert.equal(run(t, { S: 'paused' }), 'paused');
  assert.equal(run(t, { S: 'stopped' }), 'down');
  assert.equal(run('{{with .X}}has {{.}}{{else}}none{{end}}', { X: '' }), 'none');
  assert.equal(run('{{if and .A (not .B)}}y{{end}}', { A: 1, B: 0 }), 'y');
  assert.equal(run('{{or .A .B "d"}}', { A: '', B: '' }), 'd');
  assert.equal(run('{{and .A .B}}', { A: 0, B: 'never evaluated' }), '0');
  assert.equal(run('{{if lt .N 3}}small{{end}}{{if ge .N 3}}big{{end}}', { N: 5 }), 'big');
  assert.equal(run('{{eq .S "a" "b" "c"}}', { S: 'c' }), 'true');
  assert.equal(run('{{ne 1 2}} {{le 2 2}} {{gt "b" "a"}}', {}), 'true true true');
  assert.throws(() => run('{{lt .A 1}}', { A: 'x' }), /invalid type for comparison|incompatible/);
  // Go's truth: empty list, empty map, 0, "" and nil are false.
  assert.equal(run('{{if .L}}y{{else}}n{{end}}{{if .M}}y{{else}}n{{end}}', { L: [], M: goMap({}) }), 'nn');
});

test('range over lists and maps (sorted keys), with variables and else', () => {
  assert.equal(run('{{range .}}[{{.}}]{{end}}', ['a', 'b']), '[a][b]');
  assert.equal(run('{{range $i, $v := .}}{{$i}}={{$v}} {{end}}', ['a', 'b']), '0=a 1=b ');
  assert.equal(run('{{range $k, $v := .L}}{{$k}}:{{$v}};{{end}}', { L: goMap({ z: '1', a: '2' }) }), 'a:2;z:1;');
  assert.equal(run('{{range .L}}x{{else}}empty{{end}}', { L: [] }), 'empty');
  assert.equal(
    run('{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}', { Mounts: [{ Source: '/a', Destination: '/b' }] }),
    '/a:/b ',
  );
  assert.throws(() => run('{{range .S}}{{end}}', { S: { A: 1 } }), /range can't iterate/);
});

test('pipelines, parentheses and the builtins', () => {
  assert.equal(run('{{.N | printf "%05d"}}', { N: 42 }), '00042');
  assert.equal(run('{{printf "%s-%v-%q-%.2f-%t-%x" "a" 1 "q" 3.14159 true 255}}', {}), 'a-1-"q"-3.14-true-ff');
  assert.equal(run('{{printf "%-6s|%6s|" "ab" "cd"}}', {}), 'ab    |    cd|');
  assert.equal(run('{{printf "%d"}}', {}), '%!d(MISSING)');
  assert.equal(run('{{len .L}} {{len .S}} {{len .M}}', { L: [1, 2], S: 'héllo', M: goMap({ a: 1 }) }), '2 6 1');
  assert.equal(run('{{index .L 1}} {{index .M "k"}}', { L: ['a', 'b'], M: goMap({ k: 'v' }) }), 'b v');
  assert.throws(() => run('{{index .L 5}}', { L: [] }), /index out of range/);
  assert.equal(run('{{(index .L 0).Name}}', { L: [{ Name: 'n' }] }), 'n');
  assert.equal(run('{{slice .S 1 3}}', { S: 'abcd' }), 'bc');
  assert.equal(run('{{print "a" 1 2 "b"}}', {}), 'a1 2b');
  assert.equal(run('{{println "a" 1}}', {}), 'a 1\n');
  assert.equal(run('{{"a" | printf "%s%s" "b"}}', {}), 'ba');
});

test("docker's functions: json, join, split, lower, upper, title, truncate, pad", () => {
  const d = { Names: ['web', 'db'], ID: '0123456789abcdef', Cfg: { A: 1, B: '<x>' }, Name: 'hello world' };
  assert.equal(run('{{json .Cfg}}', d), '{"A":1,"B":"\\u003cx\\u003e"}');
  assert.equal(run('{{json .Names}}', d), '["web","db"]');
  assert.equal(run('{{join .Names ","}}', d), 'web,db');
  assert.equal(run('{{range split "a:b" ":"}}<{{.}}>{{end}}', d), '<a><b>');
  assert.equal(run('{{upper .Name}} {{lower "AbC"}} {{title .Name}}', d), 'HELLO WORLD abc Hello World');
  assert.equal(run('{{truncate .ID 12}}', d), '0123456789ab');
  // As docker's: the string comes first, so piping it into truncate is a type error, not ignored.
  assert.throws(() => run('{{.ID | truncate 4}}', d), /error calling truncate: expected a string, got int 4/);
  assert.equal(run('[{{pad "x" 1 2}}]', d), '[ x  ]');
  assert.equal(run('{{json .}}', { a: [1], m: new Map([['k', 'v']]) }), '{"a":[1],"m":{"k":"v"}}');
});

test('methods: a function-valued field takes the arguments', () => {
  const d = { Labels: 'a=1', Label: (k: unknown) => ({ a: '1' })[k as 'a'] ?? '' };
  assert.equal(run('{{.Label "a"}}|{{.Label "b"}}', d), '1|');
  assert.throws(() => run('{{.Labels "a"}}', d), /can't give argument to non-function/);
});

test('trim markers and comments', () => {
  assert.equal(run('a  {{- .X -}}  b', { X: 1 }), 'a1b');
  assert.equal(run('a {{/* note */}} b', {}), 'a  b');
  assert.equal(run('a {{- /* note */ -}} b', {}), 'ab');
  assert.equal(run('{{range .}}\n  {{- .}}\n{{- end}}', ['x', 'y']), 'xy');
});

test('values print as Go prints them', () => {
  assert.equal(goString(null), '<nil>');
  assert.equal(goString(1.5), '1.5');
  assert.equal(goString(1e21), '1e+21');
  assert.equal(goString(goMap({ b: 2, a: 1 })), 'map[a:1 b:2]');
  assert.equal(goString({ X: 1, Y: 'z' }), '{1 z}');
  assert.equal(run("{{3}} {{1.5}} {{true}} {{nil}} {{0x10}} {{'a'}}", {}), '3 1.5 true <nil> 16 97');
  assert.equal(run('{{`raw\\n`}}', {}), 'raw\\n');
  assert.equal(run('{{"tab\\there"}}', {}), 'tab\there');
});

test('--format: table, json, table TEMPLATE with a header row, and a plain template', () => {
  assert.deepEqual(formatChoice(undefined), { kind: 'table' });
  assert.deepEqual(formatChoice('table'), { kind: 'table' });
  assert.deepEqual(formatChoice('json'), { kind: 'json' });
  const rows = [
    { ID: 'a1', Names: 'web', Label: () => 'x' },
    { ID: 'b2222222222222', Names: 'db', Label: () => 'y' },
  ];
  const t = formatChoice('table {{.ID}}\t{{.Names}}\t{{.Label "k"}}');
  assert.equal(t.kind, 'template');
  assert.equal(
    renderTemplate(t as Extract<typeof t, { kind: 'template' }>, rows, { ID: 'CONTAINER ID', Names: 'NAMES' }),
    'CONTAINER ID     NAMES     K\na1               web       x\nb2222222222222   db        y\n',
  );
  const p = formatChoice('{{.ID}}:{{.Names}}');
  assert.equal(renderTemplate(p as Extract<typeof p, { kind: 'template' }>, rows), 'a1:web\nb2222222222222:db\n');
  assert.throws(() => formatChoice('{{.ID'), /unclosed action/);
  assert.throws(() => formatChoice('yaml'), /--format: expected table or json or a Go template/);
  // docker's: a typed backslash-t is a tab, backslash-n a newline; surrounding spaces go.
  const typed = formatChoice('table {{.ID}}\\t{{.Names}}  ');
  assert.equal(
    renderTemplate(typed as Extract<typeof typed, { kind: 'template' }>, rows, { ID: 'CONTAINER ID', Names: 'NAMES' }),
    'CONTAINER ID     NAMES\na1               web\nb2222222222222   db\n',
  );
  const q = formatChoice('{{printf "%s\\t%s" .ID .Names}}\\n');
  assert.equal(renderTemplate(q as Extract<typeof q, { kind: 'template' }>, rows.slice(0, 1)), 'a1\tweb\n\n');
});

test('tabwrite pads tab-ended cells to the column (at least 10 wide, 3 apart), not the last cell', () => {
  assert.equal(
    tabwrite('a\tb\tc\nlonger-than-ten\tx\ty\n'),
    'a                 b         c\nlonger-than-ten   x         y\n',
  );
});
