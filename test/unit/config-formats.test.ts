import { describe, expect, it } from 'vitest';
import { parseProperties } from '../../src/config/parseProperties.js';
import { decodeSpringEnvironment, parseText } from '../../src/config/formats.js';
import { parseTemplate } from '../../src/config/TemplateRenderer.js';
import { unflatten } from '../../src/config/values.js';

describe('parseProperties', () => {
  it('reads =, : and whitespace separators, comments and blank lines', () => {
    const text = ['# comment', '! also a comment', '', 'a=1', 'b : 2', 'c 3', '  d\t=\t4  ', 'e', 'f=', 'g==x', 'h:=y'].join('\n');
    expect(Object.fromEntries(parseProperties(text))).toEqual({ a: '1', b: '2', c: '3', d: '4  ', e: '', f: '', g: '=x', h: '=y' });
  });

  it('joins continuation lines, dropping the leading whitespace of each', () => {
    const text = 'fruits = apple, \\\n         banana, \\\n    pear\nnext=1\ntrail=a\\';
    expect(Object.fromEntries(parseProperties(text))).toEqual({ fruits: 'apple, banana, pear', next: '1', trail: 'a' });
  });

  it('keeps an even number of trailing backslashes as escaped backslashes, not a continuation', () => {
    expect(Object.fromEntries(parseProperties('path=C:\\\\\nnext=1'))).toEqual({ path: 'C:\\', next: '1' });
  });

  it('handles escapes in keys and values, and \\u escapes', () => {
    const text = 'key\\ with\\=odd\\:chars = v\\tal\\nue\\u00e9\\q\ngreeting=caf\\u00E9 \u2603\r\ncrlf=yes\rcr=also';
    expect(Object.fromEntries(parseProperties(text))).toEqual({
      'key with=odd:chars': 'v\tal\nue\u00e9q',
      greeting: 'caf\u00e9 \u2603',
      crlf: 'yes',
      cr: 'also',
    });
  });

  it('keeps the last of duplicate keys and ignores a BOM', () => {
    expect(Object.fromEntries(parseProperties('\uFEFFa=1\na=2'))).toEqual({ a: '2' });
  });

  it('does not continue a comment line, but continues into a line starting with #', () => {
    expect(Object.fromEntries(parseProperties('# comment \\\nreal=1\nv=a\\\n#b'))).toEqual({ real: '1', v: 'a#b' });
  });

  it('fails on a malformed \\u escape naming the line', () => {
    expect(() => parseProperties('ok=1\nbad=\\u12G4')).toThrow(/line 2: malformed \\uXXXX escape/);
    expect(() => parseProperties('bad=\\u12')).toThrow(/line 1/);
  });
});

describe('unflatten', () => {
  it('nests dotted keys and builds lists from [n] indices', () => {
    expect(
      unflatten([
        ['a.b.c', 1],
        ['a.d', 2],
        ['list[0]', 'x'],
        ['list[1]', 'y'],
        ['servers[0].host', 'h0'],
        ['servers[0].port', 80],
        ['servers[1].host', 'h1'],
        ['matrix[0][1]', 'm01'],
        ['matrix[0][0]', 'm00'],
      ]),
    ).toEqual({ a: { b: { c: 1 }, d: 2 }, list: ['x', 'y'], servers: [{ host: 'h0', port: 80 }, { host: 'h1' }], matrix: [['m00', 'm01']] });
  });

  it('refuses a key that is both a value and a group, gaps in lists, and reserved names', () => {
    expect(() => unflatten([['a', 1], ['a.b', 2]])).toThrow(/both a value and a group/);
    expect(() => unflatten([['a.b', 2], ['a', 1]])).toThrow(/both a value and a group/);
    expect(() => unflatten([['l[0]', 1], ['l[2]', 2]])).toThrow(/no item \[1\]/);
    expect(() => unflatten([['l[0]', 1], ['l.x', 2]])).toThrow(/mixes a list and a group/);
    expect(() => unflatten([['__proto__.polluted', 1]])).toThrow(/reserved name/);
    expect(() => unflatten([['a..b', 1]])).toThrow(/empty segment/);
    expect(() => unflatten([['l[99999]', 1]])).toThrow(/above 10000/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseText', () => {
  it('parses JSON objects and .properties into nested values', () => {
    expect(parseText('{"a":{"b":1}}', 'json')).toEqual({ ok: true, values: { a: { b: 1 } } });
    expect(parseText('a.b=1\na.c[0]=x', 'properties')).toEqual({ ok: true, values: { a: { b: '1', c: ['x'] } } });
    expect(parseText('', 'properties')).toEqual({ ok: true, values: {} });
  });

  it('refuses broken JSON, non-objects and an empty JSON file with a reason', () => {
    expect(parseText('{"a":', 'json')).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid JSON: /) as string });
    expect(parseText('[1]', 'json')).toEqual({ ok: false, error: 'must hold a JSON object (got a list)' });
    expect(parseText('null', 'json')).toEqual({ ok: false, error: 'must hold a JSON object (got null)' });
    expect(parseText('  \n', 'json')).toEqual({ ok: false, error: 'is empty; write {} for no settings' });
    expect(parseText('a=1\na.b=2', 'properties')).toMatchObject({ ok: false, error: expect.stringMatching(/both a value and a group/) as string });
  });
});

describe('decodeSpringEnvironment', () => {
  const environment = (propertySources: unknown) =>
    JSON.stringify({ name: 'greeter', profiles: ['prod'], label: 'main', version: 'abc123', state: null, propertySources });

  it('lets the first property source win and nests flat keys', () => {
    const decoded = decodeSpringEnvironment(
      environment([
        { name: 'git:greeter-prod.yml', source: { 'client.greeter.rule': 'p2c-ewma', 'app.port': 9090, 'app.tags[0]': 'prod' } },
        { name: 'git:greeter.yml', source: { 'client.greeter.rule': 'round-robin', 'client.greeter.timeoutMs': 500, 'app.tags[0]': 'a', 'app.tags[1]': 'b' } },
        { name: 'git:application.yml', source: { 'app.zone': 'z1', 'app.port': 80 } },
      ]),
    );
    expect(decoded).toMatchObject({
      ok: true,
      values: { client: { greeter: { rule: 'p2c-ewma', timeoutMs: 500 } }, app: { port: 9090, zone: 'z1', tags: ['prod'] } },
      environment: { name: 'greeter', version: 'abc123', label: 'main' },
    });
  });

  it('lets a higher source replace a lower group with a value and the other way round', () => {
    expect(decodeSpringEnvironment(environment([{ name: 'hi', source: { a: 'scalar' } }, { name: 'lo', source: { 'a.b': 1 } }]))).toMatchObject({ ok: true, values: { a: 'scalar' } });
    expect(decodeSpringEnvironment(environment([{ name: 'hi', source: { 'a.b': 1 } }, { name: 'lo', source: { a: 'scalar' } }]))).toMatchObject({ ok: true, values: { a: { b: 1 } } });
  });

  it('reads an environment with no property sources as empty, and refuses malformed answers', () => {
    expect(decodeSpringEnvironment(environment([]))).toMatchObject({ ok: true, values: {} });
    expect(decodeSpringEnvironment('<html>')).toMatchObject({ ok: false, error: expect.stringMatching(/invalid JSON/) as string });
    expect(decodeSpringEnvironment('{"name":"x"}')).toMatchObject({ ok: false, error: expect.stringMatching(/no propertySources/) as string });
    expect(decodeSpringEnvironment(environment([{ name: 'x' }]))).toMatchObject({ ok: false, error: expect.stringMatching(/propertySources\[0\]/) as string });
  });
});

describe('parseTemplate', () => {
  it('finds placeholders with defaults, and $${ as a literal', () => {
    const { pieces, keys } = parseTemplate('port=${app.port}\nrule=${client.rule:round-robin}\nliteral=$${not.a.key}\n');
    expect([...keys]).toEqual([
      ['app.port', 1],
      ['client.rule', 2],
    ]);
    expect(pieces).toEqual([
      { text: 'port=' },
      { key: 'app.port', segments: ['app', 'port'], fallback: undefined },
      { text: '\nrule=' },
      { key: 'client.rule', segments: ['client', 'rule'], fallback: 'round-robin' },
      { text: '\nliteral=${not.a.key}\n' },
    ]);
  });

  it('refuses an unterminated or empty placeholder naming the line', () => {
    expect(() => parseTemplate('a=1\nb=${app.port\n')).toThrow(/line 2: unterminated placeholder/);
    expect(() => parseTemplate('a=${}')).toThrow(/line 1: empty placeholder/);
  });
});
