// Value helpers shared by the configuration modules: nesting flat keys, freezing, comparing and masking.

/** What a sensitive value is shown as. */
export const MASK = '[Sensitive]';

// Keys that would reach Object.prototype if assigned into a plain object.
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** True when `name` may be used as a key segment. */
export function isSafeSegment(name: string): boolean {
  return name !== '' && !FORBIDDEN.has(name);
}

/** A plain object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type Step = { readonly kind: 'key'; readonly name: string } | { readonly kind: 'index'; readonly index: number };

// `servers[0].host` -> key servers, index 0, key host. Spring Boot and .properties files spell lists this way.
function steps(flatKey: string): Step[] {
  const out: Step[] = [];
  for (const part of flatKey.split('.')) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (match === null) throw new Error(`key '${flatKey}' has a malformed segment '${part}'`);
    const name = match[1] ?? '';
    if (name !== '') {
      if (!isSafeSegment(name)) throw new Error(`key '${flatKey}' uses the reserved name '${name}'`);
      out.push({ kind: 'key', name });
    } else if (out.length === 0 || match[2] === '') {
      throw new Error(`key '${flatKey}' has an empty segment`);
    }
    for (const index of (match[2] ?? '').matchAll(/\[(\d+)\]/g)) {
      const n = Number(index[1]);
      if (n > 10_000) throw new Error(`key '${flatKey}' has a list index above 10000`);
      out.push({ kind: 'index', index: n });
    }
  }
  return out;
}

/**
 * Turns flat dotted keys (`a.b.c`, `list[0]`) into a nested object. Throws naming the key when one key is
 * both a value and a group, or a list has a gap.
 */
export function unflatten(flat: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const sparse = new Set<unknown[]>();
  for (const [flatKey, value] of flat) {
    const path = steps(flatKey);
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < path.length; i++) {
      const step = path[i] as Step;
      const last = i === path.length - 1;
      const next = path[i + 1];
      const slot = step.kind === 'key' ? step.name : step.index;
      if (Array.isArray(node) !== (step.kind === 'index')) {
        throw new Error(`key '${flatKey}' mixes a list and a group at the same place`);
      }
      const holder = node as Record<string | number, unknown>;
      if (last) {
        if (holder[slot] !== undefined && typeof holder[slot] === 'object' && holder[slot] !== null) {
          throw new Error(`key '${flatKey}' is both a value and a group of values`);
        }
        holder[slot] = value;
        break;
      }
      let child = holder[slot];
      if (child === undefined) {
        child = next?.kind === 'index' ? [] : {};
        holder[slot] = child;
        if (Array.isArray(child)) sparse.add(child);
      } else if (typeof child !== 'object' || child === null) {
        throw new Error(`key '${flatKey}' is both a value and a group of values`);
      }
      node = child as Record<string, unknown> | unknown[];
    }
  }
  for (const list of sparse) {
    for (let i = 0; i < list.length; i++) {
      if (!(i in list)) throw new Error(`a list has no item [${i}] but has later items`);
    }
  }
  return root;
}

/** Freezes `value` and everything in it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Structural equality for JSON-like values. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof RegExp || b instanceof RegExp) return a instanceof RegExp && b instanceof RegExp && a.source === b.source && a.flags === b.flags;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const key of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, key)) return false;
    if (!sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/**
 * Returns `next` with every subtree equal to the same place in `previous` replaced by `previous`'s object, so
 * unchanged branches keep their identity across snapshots (a reference check tells whether a branch changed).
 */
export function shareUnchanged(next: unknown, previous: unknown): unknown {
  if (sameValue(next, previous)) return previous;
  if (isPlainObject(next) && isPlainObject(previous)) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(next)) out[key] = shareUnchanged(value, previous[key]);
    return out;
  }
  return next;
}

/** The value at `segments` of `root`, or undefined when a step is missing. */
export function walk(root: unknown, segments: readonly string[]): unknown {
  let node = root;
  for (const segment of segments) {
    if (typeof node !== 'object' || node === null || !Object.prototype.hasOwnProperty.call(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** A short description of a value for an error message: quoted and cut when long. */
export function preview(value: unknown, max = 80): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}... (${text.length} characters)` : text;
}

/** A switch read from a value or text: true or false, also written 1 or 0; undefined for anything else. */
export function parseFlag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim().toLowerCase();
  return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : undefined;
}
