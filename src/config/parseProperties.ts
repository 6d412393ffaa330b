/**
 * Parses the text of a Java `.properties` file into its key/value pairs, in file order (a key given twice
 * keeps the last value). Follows `java.util.Properties.load`: `=`, `:` or whitespace separate key and
 * value; `#` and `!` start comment lines; a line ending in an odd number of backslashes continues on the next
 * line (leading whitespace of the continuation is dropped); `\t \n \r \f \\ \uXXXX` are escapes and a
 * backslash before any other character keeps that character (so `\=`, `\:` and `\ ` can be part of a key).
 * Unlike Java it reads UTF-8 text, so no `\u` escapes are needed for non-Latin-1 characters.
 *
 * @throws Error naming the line of a malformed `\u` escape.
 *
 * @example
 * ```ts
 * parseProperties('client.greeter.rule = p2c-ewma\n# comment\nmessage: hello \\\n  world');
 * // Map { 'client.greeter.rule' => 'p2c-ewma', 'message' => 'hello world' }
 * ```
 */
export function parseProperties(text: string): Map<string, string> {
  const result = new Map<string, string>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let line = stripLeading(lines[i] as string);
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    // Join continuation lines: an odd count of trailing backslashes escapes the line break.
    while (trailingBackslashes(line) % 2 === 1 && i + 1 < lines.length) {
      i++;
      line = line.slice(0, -1) + stripLeading(lines[i] as string);
    }
    if (trailingBackslashes(line) % 2 === 1) line = line.slice(0, -1);
    const { key, value } = splitKeyValue(line);
    result.set(unescape(key, startLine), unescape(value, startLine));
  }
  return result;
}

function stripLeading(line: string): string {
  return line.replace(/^[ \t\f]+/, '');
}

function trailingBackslashes(line: string): number {
  let count = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) count++;
  return count;
}

function splitKeyValue(line: string): { key: string; value: string } {
  let end = 0;
  while (end < line.length) {
    const c = line[end];
    if (c === '\\') {
      end += 2;
      continue;
    }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    end++;
  }
  const key = line.slice(0, Math.min(end, line.length));
  let rest = line.slice(Math.min(end, line.length));
  // The separator is whitespace, optionally followed by one '=' or ':', optionally followed by whitespace.
  rest = stripLeading(rest);
  if (rest.startsWith('=') || rest.startsWith(':')) rest = stripLeading(rest.slice(1));
  return { key, value: rest };
}

const ESCAPES: Readonly<Record<string, string>> = { t: '\t', n: '\n', r: '\r', f: '\f' };

function unescape(text: string, line: number): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) break;
    if (next === 'u') {
      const hex = text.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Error(`line ${line}: malformed \\uXXXX escape '\\u${hex}'`);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 5;
      continue;
    }
    out += ESCAPES[next] ?? next;
    i++;
  }
  return out;
}
