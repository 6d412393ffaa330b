import { invalidOption } from '../../internal/validate.js';

/**
 * One step of a field path: an object key or an array index. Paths start at `status`, `headers.<name>` or
 * `body`, so one namespace covers everything a comparison looks at.
 */
export type PathSegment = string | number;

/** A key written bare in a path (`body.user.name`); others are quoted (`body["a.b"]`). Header names have dashes. */
const BARE_KEY = /^[A-Za-z_$][\w$-]*$/;

/** Writes a path as `body.items[2].price`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) out += formatSegment(segment, out === '');
  return out;
}

/**
 * Writes a path with every array index as `[*]`: the form noise is learned in, so a field that differs in
 * every element of a list is learned once, not once per index.
 */
export function normalizePath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) out += typeof segment === 'number' ? '[*]' : formatSegment(segment, out === '');
  return out;
}

function formatSegment(segment: PathSegment, first: boolean): string {
  if (typeof segment === 'number') return `[${segment}]`;
  if (BARE_KEY.test(segment)) return first ? segment : `.${segment}`;
  return `[${JSON.stringify(segment)}]`;
}

type PatternSegment =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'index'; readonly index: number }
  /** `*`: any key or index. */
  | { readonly kind: 'any' }
  /** `[*]`: any index. */
  | { readonly kind: 'anyIndex' };

/**
 * A field pattern of `compare.ignore`: a path where `*` stands for any key or index and `[*]` for any index
 * (`body.items[*].updatedAt`, `headers.date`, `body.*.etag`). It matches the field and everything under it.
 */
export class FieldPattern {
  /** The pattern as written. */
  readonly source: string;
  readonly #segments: readonly PatternSegment[];

  /**
   * @param source - the pattern
   * @param option - the option name for error messages
   * @throws KaryonError `ERR_INVALID_OPTION` when the pattern cannot be parsed
   */
  constructor(source: string, option = 'pattern') {
    if (typeof source !== 'string' || source.trim() === '') invalidOption(option, 'a non-empty field path such as "body.items[*].id"', source);
    this.source = source;
    this.#segments = parsePattern(source, option);
  }

  /** True when `path` is the field or lies under it. */
  matches(path: readonly PathSegment[]): boolean {
    const segments = this.#segments;
    if (segments.length > path.length) return false;
    for (let i = 0; i < segments.length; i++) {
      const pattern = segments[i] as PatternSegment;
      const segment = path[i] as PathSegment;
      switch (pattern.kind) {
        case 'any':
          break;
        case 'anyIndex':
          if (typeof segment !== 'number') return false;
          break;
        case 'index':
          if (segment !== pattern.index) return false;
          break;
        case 'key':
          if (segment !== pattern.key) return false;
          break;
      }
    }
    return true;
  }
}

function parsePattern(source: string, option: string): PatternSegment[] {
  const segments: PatternSegment[] = [];
  const fail = (why: string): never => invalidOption(option, `a field path such as "body.items[*].id" (${why})`, source);
  let i = 0;
  let expectKey = true; // at the start and after a dot, a bare key (or `*`) comes next
  while (i < source.length) {
    const char = source[i];
    if (char === '[') {
      const close = source.indexOf(']', i);
      if (close < 0) fail(`unclosed '[' at ${i}`);
      const inside = source.slice(i + 1, close);
      if (inside === '*') segments.push({ kind: 'anyIndex' });
      else if (/^\d+$/.test(inside)) segments.push({ kind: 'index', index: Number(inside) });
      else if (inside.startsWith('"')) {
        let key: unknown;
        try {
          key = JSON.parse(inside);
        } catch {
          fail(`bad quoted key ${inside}`);
        }
        if (typeof key !== 'string') fail(`bad quoted key ${inside}`);
        segments.push({ kind: 'key', key: key as string });
      } else fail(`'[${inside}]' is neither an index, [*] nor a quoted key`);
      i = close + 1;
      expectKey = false;
      continue;
    }
    if (char === '.') {
      if (expectKey) fail(`unexpected '.' at ${i}`);
      i++;
      expectKey = true;
      continue;
    }
    if (!expectKey) fail(`expected '.' or '[' at ${i}`);
    let end = i;
    while (end < source.length && source[end] !== '.' && source[end] !== '[') end++;
    const key = source.slice(i, end);
    if (key === '*') segments.push({ kind: 'any' });
    else if (/^\d+$/.test(key)) segments.push({ kind: 'index', index: Number(key) });
    else if (BARE_KEY.test(key)) segments.push({ kind: 'key', key });
    else fail(`'${key}' is not a bare key; quote it as ["${key}"]`);
    i = end;
    expectKey = false;
  }
  if (expectKey) fail('it ends with a dot');
  return segments;
}
