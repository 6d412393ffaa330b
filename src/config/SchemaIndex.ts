import convict from 'convict';
import type { ConfigSchema } from './ConfigSchema.js';
import { KaryonError } from '../common/KaryonError.js';
import type { ConfigIssue } from './types.js';
import { MASK, isPlainObject, isSafeSegment, parseFlag, preview } from './values.js';

/** One key of the schema that holds a value (a convict "property"). */
export interface SchemaLeaf {
  readonly key: string;
  readonly segments: readonly string[];
  /** convict's format name after normalisation (`'port'`, `'number'`, `'array'`...), or undefined. */
  readonly format: string | undefined;
  /** The enum of allowed values when the format is a list. */
  readonly choices: readonly unknown[] | undefined;
  readonly env: string | undefined;
  readonly arg: string | undefined;
  readonly sensitive: boolean;
  readonly nullable: boolean;
  readonly doc: string | undefined;
  /** True when the key may hold an object (convict treats it as one value, not as a group). */
  readonly holdsObjects: boolean;
}

/** The flattened values an origin sets, each coerced to the schema's type, with the problems found. */
export interface FlatValues {
  readonly entries: Map<string, unknown>;
  readonly issues: ConfigIssue[];
}

/** Limits applied to every value, whatever its layer. */
export interface ValueLimits {
  /** Largest string (UTF-8 bytes) or serialised list/object a key may hold. */
  readonly maxValueBytes: number;
}

interface RawSchemaNode {
  readonly _cvtProperties?: Record<string, RawSchemaNode>;
  readonly format?: unknown;
  readonly default?: unknown;
  readonly env?: unknown;
  readonly arg?: unknown;
  readonly sensitive?: unknown;
  readonly nullable?: unknown;
  readonly doc?: unknown;
}

const INTEGER = /^[-+]?\d+$/;
const DECIMAL = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const INTEGER_FORMATS = new Set(['int', 'integer', 'nat', 'port']);

/**
 * The shape of a convict schema, computed once: every leaf key with its format, environment variable,
 * argument and sensitivity, and every branch. Turns the raw values of one origin into flat, type-coerced
 * leaf values, reporting unknown keys and malformed values instead of letting convict guess.
 */
export class SchemaIndex {
  readonly schema: ConfigSchema<unknown>;
  readonly leaves: ReadonlyMap<string, SchemaLeaf>;
  readonly #branches: ReadonlySet<string>;

  constructor(schema: ConfigSchema<unknown>) {
    let probe: convict.Config<unknown>;
    try {
      probe = convict(schema, { env: {}, args: [] });
    } catch (error) {
      throw new KaryonError('ERR_INVALID_OPTION', `option 'schema' is not a valid convict schema: ${(error as Error).message}`, { cause: error });
    }
    this.schema = schema;
    const leaves = new Map<string, SchemaLeaf>();
    const branches = new Set<string>();
    const visit = (node: RawSchemaNode, segments: string[]): void => {
      const children = node._cvtProperties;
      if (children !== undefined) {
        if (segments.length > 0) branches.add(segments.join('.'));
        for (const [name, child] of Object.entries(children)) visit(child, [...segments, name]);
        return;
      }
      const key = segments.join('.');
      const format = node.format;
      leaves.set(key, {
        key,
        segments,
        // convict coerces strings by the declared format name, or by the type of the default when none.
        format: typeof format === 'string' ? format : node.default != null ? (Array.isArray(node.default) ? 'array' : typeof node.default) : undefined,
        choices: Array.isArray(format) ? (format as unknown[]) : undefined,
        env: typeof node.env === 'string' ? node.env : undefined,
        arg: typeof node.arg === 'string' ? node.arg : undefined,
        sensitive: node.sensitive === true,
        nullable: node.nullable === true,
        doc: typeof node.doc === 'string' ? node.doc : undefined,
        // convict's own rule: an object value is walked into as a group unless the format is 'object' or the
        // default is an object (null and lists included).
        holdsObjects: format === 'object' || typeof node.default === 'object',
      });
    };
    visit(probe.getSchema(), []);
    this.leaves = leaves;
    this.#branches = branches;
  }

  /** True when `key` is a leaf or a branch of the schema. */
  has(key: string): boolean {
    return this.leaves.has(key) || this.#branches.has(key);
  }

  /** True when `key` is sensitive, or is a branch holding a sensitive leaf. */
  isSensitive(key: string): boolean {
    const leaf = this.leaves.get(key);
    if (leaf !== undefined) return leaf.sensitive;
    for (const candidate of this.leaves.values()) {
      if (candidate.sensitive && candidate.key.startsWith(`${key}.`)) return true;
    }
    return false;
  }

  /** `value` as it may be shown for `key`: masked when sensitive. */
  mask(key: string, value: unknown): unknown {
    if (value === undefined) return undefined;
    if (this.isSensitive(key)) return this.leaves.has(key) ? MASK : maskTree(key, value, this);
    return value;
  }

  /**
   * Flattens the raw values of one origin (a nested object whose keys may also be dotted) into leaf values
   * coerced to the schema's types. Unknown keys, groups given as values and malformed values become issues.
   */
  flatten(raw: unknown, origin: string, limits: ValueLimits, unknownKeys: 'reject' | 'ignore' = 'reject'): FlatValues {
    const entries = new Map<string, unknown>();
    const issues: ConfigIssue[] = [];
    if (!isPlainObject(raw)) {
      issues.push({ key: undefined, origin, message: `${origin} must hold an object of settings (got ${describeType(raw)})` });
      return { entries, issues };
    }
    const visit = (object: Record<string, unknown>, prefix: readonly string[]): void => {
      for (const [name, value] of Object.entries(object)) {
        const parts = name.split('.');
        const segments = [...prefix, ...parts];
        const key = segments.join('.');
        if (!parts.every(isSafeSegment)) {
          issues.push({ key, origin, message: `'${key}' is not a valid key` });
          continue;
        }
        // A dotted key may stop inside an object-valued leaf (`labels.team` with `labels` a free-form object).
        let leafDepth = -1;
        for (let i = 1; i <= segments.length; i++) {
          const candidate = this.leaves.get(segments.slice(0, i).join('.'));
          if (candidate !== undefined) {
            leafDepth = i;
            break;
          }
        }
        if (leafDepth === segments.length) {
          const leaf = this.leaves.get(key) as SchemaLeaf;
          this.#accept(leaf, value, origin, limits, entries, issues);
        } else if (leafDepth > 0) {
          const leaf = this.leaves.get(segments.slice(0, leafDepth).join('.')) as SchemaLeaf;
          if (leaf.format !== 'object') {
            issues.push({ key, origin, message: `'${key}' is not a key: '${leaf.key}' holds a single value` });
            continue;
          }
          const inner = (entries.get(leaf.key) as Record<string, unknown> | undefined) ?? {};
          const merged = isPlainObject(inner) ? { ...inner } : {};
          setPath(merged, segments.slice(leafDepth), value);
          entries.delete(leaf.key);
          this.#accept(leaf, merged, origin, limits, entries, issues);
        } else if (this.#branches.has(key)) {
          if (!isPlainObject(value)) {
            issues.push({ key, origin, message: `'${key}' is a group of settings; expected an object (got ${describeType(value)})` });
            continue;
          }
          visit(value, segments);
        } else if (unknownKeys === 'reject') {
          issues.push({ key, origin, message: `unknown key '${key}': not declared in the schema` });
        }
      }
    };
    visit(raw, []);
    return { entries, issues };
  }

  /** Coerces a string from a text source (env, argv, `.properties`) or a JSON value to the leaf's type. */
  coerce(leaf: SchemaLeaf, value: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
    const shown = leaf.sensitive ? '' : ` (got ${preview(value)})`;
    if (leaf.nullable && (value === null || value === '')) return { ok: true, value: null };
    const format = leaf.format;
    if (format !== undefined && INTEGER_FORMATS.has(format)) {
      if (typeof value === 'string') {
        const trimmed = value.trim();
        if (!INTEGER.test(trimmed)) return { ok: false, message: `'${leaf.key}' must be an integer${shown}` };
        value = Number(trimmed);
      }
      if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
        return { ok: false, message: `'${leaf.key}' must be an integer within ±2^53${shown}` };
      }
      return { ok: true, value };
    }
    if (format === 'number' && typeof value === 'string') {
      const trimmed = value.trim();
      if (!DECIMAL.test(trimmed)) return { ok: false, message: `'${leaf.key}' must be a number${shown}` };
      return { ok: true, value: Number(trimmed) };
    }
    if (format === 'number' && typeof value === 'number' && !Number.isFinite(value)) {
      return { ok: false, message: `'${leaf.key}' must be a finite number${shown}` };
    }
    if (format === 'boolean' && typeof value === 'string') {
      const lower = value.trim().toLowerCase();
      if (lower !== 'true' && lower !== 'false') return { ok: false, message: `'${leaf.key}' must be true or false${shown}` };
      return { ok: true, value: lower === 'true' };
    }
    if (format === 'flag') {
      // The settings schema's switches: true or false, also 1 or 0 as text.
      const flag = parseFlag(value);
      return flag === undefined ? { ok: false, message: `'${leaf.key}' must be true or false${shown}` } : { ok: true, value: flag };
    }
    if (format === 'array' && typeof value === 'string') {
      return {
        ok: true,
        value: value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== ''),
      };
    }
    if (format === 'object' && typeof value === 'string') {
      try {
        const parsed = JSON.parse(value) as unknown;
        if (isPlainObject(parsed)) return { ok: true, value: parsed };
      } catch {
        // fall through to the message below
      }
      return { ok: false, message: `'${leaf.key}' must be an object (a JSON object when given as text)${shown}` };
    }
    if (leaf.choices !== undefined && typeof value === 'string' && !leaf.choices.includes(value)) {
      // An enum of numbers or booleans given as text (env, .properties): match the text of a choice.
      const match = leaf.choices.find((choice) => typeof choice !== 'string' && String(choice) === value.trim());
      if (match !== undefined) return { ok: true, value: match };
    }
    return { ok: true, value };
  }

  #accept(leaf: SchemaLeaf, value: unknown, origin: string, limits: ValueLimits, entries: Map<string, unknown>, issues: ConfigIssue[]): void {
    if (isPlainObject(value) && Object.keys(value).length > 0 && !leaf.holdsObjects) {
      issues.push({ key: leaf.key, origin, message: `'${leaf.key}' holds a single value, not a group of settings (got an object)` });
      return;
    }
    const size = sizeOf(value);
    if (size > limits.maxValueBytes) {
      issues.push({ key: leaf.key, origin, message: `'${leaf.key}' is ${size} bytes, more than the limit of ${limits.maxValueBytes}` });
      return;
    }
    const coerced = this.coerce(leaf, value);
    if (!coerced.ok) {
      issues.push({ key: leaf.key, origin, message: coerced.message });
      return;
    }
    entries.set(leaf.key, coerced.value);
  }
}

function maskTree(key: string, value: unknown, index: SchemaIndex): unknown {
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [name, child] of Object.entries(value)) out[name] = index.mask(`${key}.${name}`, child);
  return out;
}

function setPath(target: Record<string, unknown>, segments: readonly string[], value: unknown): void {
  let node = target;
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i] as string;
    const child = node[segment];
    const next = isPlainObject(child) ? { ...child } : {};
    node[segment] = next;
    node = next;
  }
  node[segments[segments.length - 1] as string] = value;
}

function sizeOf(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return Buffer.byteLength(JSON.stringify(value));
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }
  return 0;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${preview(value, 40)}`;
}
