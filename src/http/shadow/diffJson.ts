import type { PathSegment } from './FieldPattern.js';

type Kind = 'null' | 'array' | 'object' | 'string' | 'number' | 'boolean' | 'other';

function kindOf(value: unknown): Kind {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'object':
      return 'object';
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return 'other';
  }
}

const hasOwn = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key);

/**
 * The fields in which two JSON values differ, as paths under `base`, at most `max` of them. A field present
 * on one side only, or of another type, is one difference at that field (its children are not listed).
 * Arrays are compared element by element, as Diffy does for ordered collections; an element only one side
 * has is a difference at its index.
 */
export function diffJson(a: unknown, b: unknown, base: readonly PathSegment[], max: number): PathSegment[][] {
  const out: PathSegment[][] = [];
  const path: PathSegment[] = [...base];
  walk(a, b, path, out, max);
  return out;
}

function walk(a: unknown, b: unknown, path: PathSegment[], out: PathSegment[][], max: number): void {
  if (out.length >= max || a === b) return;
  const kind = kindOf(a);
  if (kind !== kindOf(b)) {
    out.push([...path]);
    return;
  }
  if (kind === 'array') {
    const left = a as readonly unknown[];
    const right = b as readonly unknown[];
    const length = Math.max(left.length, right.length);
    for (let i = 0; i < length && out.length < max; i++) {
      path.push(i);
      if (i >= left.length || i >= right.length) out.push([...path]);
      else walk(left[i], right[i], path, out, max);
      path.pop();
    }
    return;
  }
  if (kind === 'object') {
    const left = a as Readonly<Record<string, unknown>>;
    const right = b as Readonly<Record<string, unknown>>;
    for (const key of Object.keys(left)) {
      if (out.length >= max) return;
      path.push(key);
      if (!hasOwn(right, key)) out.push([...path]);
      else walk(left[key], right[key], path, out, max);
      path.pop();
    }
    for (const key of Object.keys(right)) {
      if (out.length >= max) return;
      if (!hasOwn(left, key)) out.push([...path, key]);
    }
    return;
  }
  // Two primitives of the same kind that are not identical (JSON has no NaN, so !== is exact).
  out.push([...path]);
}
