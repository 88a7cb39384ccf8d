// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Dockerfile text, whose ${VAR} is the subject
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { heredocBody, parseDockerfile } from './dockerfile-parser.ts';
import { parseDuration, parseInstructions } from './instructions.ts';
import { processWord, processWords } from './shell-lex.ts';

const env = (o: Record<string, string>) => new Map(Object.entries(o));

describe('Dockerfile parser: good files', () => {
  it('directives, comments, continuations, case-insensitive keywords, line spans', () => {
    const df = parseInstructions(
      [
        '# syntax=docker/dockerfile:1',
        '# escape=`',
        '',
        '# a comment',
        'from busybox AS Base',
        'RUN echo a `',
        '  # a comment inside',
        '',
        '  && echo b',
        'ENV A=1 B="two words" C=\'x y\'',
        'ENV OLD some value',
        'LABEL "com.x"="y z" k=v',
        'ARG X Y=2',
        'EXPOSE 80 443/udp',
        'VOLUME ["/data", "/logs"]',
        'VOLUME /a /b',
        'CMD ["sh", "-c", "echo hi"]',
        'ENTRYPOINT exec top -b',
        'SHELL ["/bin/sh", "-ec"]',
        'WORKDIR /app',
        'USER 1000:1000',
        'STOPSIGNAL SIGTERM',
        'HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost',
        'ONBUILD RUN echo triggered',
        'COPY --chown=1:2 --chmod=640 a b /dst/',
        'ADD ["x y", "/z"]',
      ].join('\n'),
    );
    assert.equal(df.escape, '`');
    assert.equal(df.stages.length, 1);
    const s = df.stages[0]!;
    assert.equal(s.name, 'base');
    assert.equal(s.base, 'busybox');
    const kinds = s.instructions.map((i) => i.kind);
    assert.deepEqual(kinds, [
      'run',
      'env',
      'env',
      'label',
      'arg',
      'expose',
      'volume',
      'volume',
      'cmd',
      'entrypoint',
      'shell',
      'workdir',
      'user',
      'stopsignal',
      'healthcheck',
      'onbuild',
      'copy',
      'add',
    ]);
    const run = s.instructions[0]!;
    assert.equal(run.kind, 'run');
    assert.deepEqual(run.kind === 'run' && run.command, { shell: 'echo a   && echo b' });
    assert.equal(run.line, 6);
    assert.equal(run.endLine, 9);
    const env1 = s.instructions[1]!;
    assert.deepEqual(env1.kind === 'env' && env1.pairs, [
      { key: 'A', value: '1' },
      { key: 'B', value: '"two words"' },
      { key: 'C', value: "'x y'" },
    ]);
    const env2 = s.instructions[2]!;
    assert.deepEqual(env2.kind === 'env' && env2.pairs, [{ key: 'OLD', value: 'some value' }]);
    const arg = s.instructions[4]!;
    assert.deepEqual(arg.kind === 'arg' && arg.args, [{ name: 'X' }, { name: 'Y', value: '2' }]);
    const vol = s.instructions[6]!;
    assert.deepEqual(vol.kind === 'volume' && vol.paths, ['/data', '/logs']);
    const cmd = s.instructions[8]!;
    assert.deepEqual(cmd.kind === 'cmd' && cmd.command, { exec: ['sh', '-c', 'echo hi'] });
    const hc = s.instructions[14]!;
    assert.ok(hc.kind === 'healthcheck' && !hc.none);
    assert.deepEqual(hc.kind === 'healthcheck' && !hc.none && [hc.test, hc.interval, hc.retries], [
      ['CMD-SHELL', 'wget -q localhost'],
      5e9,
      3,
    ]);
    const copy = s.instructions[16]!;
    assert.ok(copy.kind === 'copy');
    assert.deepEqual([copy.sources, copy.dest, copy.chown, copy.chmod], [['a', 'b'], '/dst/', '1:2', '640']);
    const add = s.instructions[17]!;
    assert.deepEqual(add.kind === 'add' && add.sources, ['x y']);
  });

  it('global ARGs, several stages, --platform, a CRLF file with a BOM', () => {
    const df = parseInstructions(
      '\uFEFFARG BASE=busybox\r\nARG V\r\nFROM --platform=linux/amd64 $BASE AS one\r\nFROM one\r\nRUN true\r\n',
    );
    assert.deepEqual(
      df.globalArgs.map((a) => [a.name, a.value, a.line]),
      [
        ['BASE', 'busybox', 1],
        ['V', undefined, 2],
      ],
    );
    assert.equal(df.stages.length, 2);
    assert.equal(df.stages[0]!.platform, 'linux/amd64');
    assert.equal(df.stages[1]!.base, 'one');
    assert.equal(df.stages[1]!.instructions.length, 1);
  });

  it('here-documents: RUN and COPY, <<- strips tabs, quoted names, several on one line', () => {
    const df = parseInstructions(
      [
        'FROM scratch',
        'RUN <<EOF',
        'echo $HOME',
        '# not a comment',
        'EOF',
        'COPY <<-"A" <<B /dst/',
        '\tone',
        '\tA',
        'two',
        'B',
        'RUN cat <<X > /f',
        'x',
        'X',
      ].join('\n'),
    );
    const [r, c, r2] = df.stages[0]!.instructions;
    assert.ok(r?.kind === 'run' && c?.kind === 'copy' && r2?.kind === 'run');
    assert.equal(r.heredocs[0]!.content, 'echo $HOME\n# not a comment\n');
    assert.equal(r.endLine, 5);
    assert.deepEqual(c.sources, ['<<A', '<<B']);
    assert.equal(c.dest, '/dst/');
    assert.equal(heredocBody(c.heredocs[0]!), 'one\n');
    assert.equal(c.heredocs[0]!.expand, false);
    assert.equal(c.heredocs[1]!.expand, true);
    assert.equal(c.heredocs[1]!.content, 'two\n');
    assert.equal(r2.heredocs[0]!.content, 'x\n');
    assert.equal(r2.line, 11);
  });

  it('a directive after a comment is a comment; unknown directives end the directives', () => {
    assert.equal(parseDockerfile('# hello\n# escape=`\nFROM a').escape, '\\');
    assert.equal(parseDockerfile('# foo=bar\n# escape=`\nFROM a').escape, '\\');
    assert.equal(parseDockerfile('#syntax=x\n#ESCAPE = `\nFROM a').escape, '`');
  });
});

describe('Dockerfile parser: bad files name the line and what was expected', () => {
  const bad: [string, string, number, RegExp][] = [
    ['no FROM', 'RUN true', 1, /only ARG may come before FROM/],
    ['empty', '# nothing\n', 1, /no FROM instruction/],
    ['unknown instruction', 'FROM a\nFORM b', 2, /unknown instruction FORM/],
    ['FROM arity', 'FROM a b', 1, /FROM requires either one argument, or three/],
    ['stage name', 'FROM a AS 1x', 1, /invalid stage name/],
    ['duplicate stage', 'FROM a AS x\nFROM b AS X', 2, /duplicate stage name "x"/],
    ['unknown flag', 'FROM a\nCOPY --frm=x a b', 2, /unknown flag --frm for COPY/],
    ['flag on WORKDIR', 'FROM a\nWORKDIR --x=1 /a', 2, /it takes none/],
    ['ENV no =', 'FROM a\nENV A=1 B', 2, /can't find = in "B"/],
    ['ENV old form without value', 'FROM a\nENV A', 2, /expected ENV <key>=<value>/],
    ['COPY one arg', 'FROM a\nCOPY x', 2, /COPY requires at least two arguments/],
    ['chmod not octal', 'FROM a\nCOPY --chmod=rwx a b', 2, /expected an octal mode/],
    ['SHELL not JSON', 'FROM a\nSHELL /bin/sh -c', 2, /JSON form/],
    ['WORKDIR empty', 'FROM a\nWORKDIR', 2, /WORKDIR requires exactly one argument/],
    ['heredoc unterminated', 'FROM a\nRUN <<EOF\necho', 2, /here-document EOF is not terminated/],
    ['two escapes', '# escape=`\n# escape=\\\nFROM a', 2, /only one escape parser directive/],
    ['bad escape', '# escape=x\nFROM a', 1, /invalid escape token/],
    ['healthcheck duration', 'FROM a\nHEALTHCHECK --interval=5 CMD true', 2, /expected a duration/],
    ['healthcheck type', 'FROM a\nHEALTHCHECK RUN true', 2, /expected NONE or CMD/],
    ['ONBUILD ONBUILD', 'FROM a\nONBUILD ONBUILD RUN x', 2, /ONBUILD ONBUILD is not allowed/],
    ['ONBUILD bad trigger', 'FROM a\nONBUILD COPY x', 2, /ONBUILD: COPY requires at least two/],
    ['RUN network', 'FROM a\nRUN --network=bridge true', 2, /expected default, none or host/],
    ['ARG name', 'FROM a\nARG 1x=2', 2, /ARG name "1x"/],
    ['continuation line numbers', 'FROM a\nRUN a \\\n b\nBAD x', 4, /unknown instruction BAD/],
  ];
  for (const [what, text, line, re] of bad) {
    it(what, () => {
      assert.throws(
        () => parseInstructions(text, 'Dockerfile'),
        (e: unknown) => {
          assert.ok(isBerthError(e, ErrorCode.InvalidArgument), String(e));
          assert.match(e.message, new RegExp(`^Dockerfile:${line}: `));
          assert.match(e.message, re);
          return true;
        },
      );
    });
  }
});

describe('word processing and substitution', () => {
  const e = env({ A: 'a', EMPTY: '', SP: 'x y' });
  const cases: [string, string][] = [
    ['$A', 'a'],
    ['${A}b', 'ab'],
    ['$Ab', ''],
    ['${UNSET:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${A:+alt}', 'alt'],
    ['${UNSET:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ["'$A'", '$A'],
    ['"$A b"', 'a b'],
    ['\\$A', '$A'],
    ['"\\$A \\q"', '$A \\q'],
    ['$', '$'],
    ['a$-b', 'a$-b'],
    ['${UNSET:-${A}x}', 'ax'],
    ['$SP', 'x y'],
  ];
  for (const [input, want] of cases)
    it(`${input} → ${JSON.stringify(want)}`, () => assert.equal(processWord(input, e), want));

  it('splits words outside quotes only; a substituted value is not split again', () => {
    assert.deepEqual(processWords('80 "$SP" 90/udp', e), ['80', 'x y', '90/udp']);
    assert.deepEqual(processWords('$SP', e), ['x y']);
  });
  it('refuses bad substitutions and unterminated quotes', () => {
    assert.throws(() => processWord('${A', e), /missing '}'/);
    assert.throws(() => processWord('${A%x}', e), /unsupported modifier/);
    assert.throws(() => processWord('"abc', e), /double-quote/);
    assert.throws(() => processWord('${UNSET:?must be set}', e), /UNSET: must be set/);
  });
  it('the backtick escape', () => assert.equal(processWord('`$A', e, '`'), '$A'));
  it('durations', () => {
    assert.equal(parseDuration('1m30s'), 90e9);
    assert.equal(parseDuration('250ms'), 250e6);
    assert.equal(parseDuration('x'), undefined);
  });
});
