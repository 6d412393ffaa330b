// Text formats a source may read: JSON, Java .properties, and the Spring Cloud Config Server's environment.
import { errorMessage } from '../internal/async.js';
import { parseProperties } from './parseProperties.js';
import { isPlainObject, unflatten } from './values.js';

/** A text format of configuration values. */
export type TextFormat = 'json' | 'properties';

/** The values of one text, or why it cannot be used. */
export type Parsed = { readonly ok: true; readonly values: Record<string, unknown> } | { readonly ok: false; readonly error: string };

/** Parses JSON (an object) or `.properties` text into nested values. */
export function parseText(text: string, format: TextFormat): Parsed {
  const body = text.replace(/^\uFEFF/, '');
  if (format === 'properties') {
    try {
      return { ok: true, values: unflatten(parseProperties(body)) };
    } catch (error) {
      return { ok: false, error: `invalid .properties: ${errorMessage(error)}` };
    }
  }
  // An empty JSON file is refused rather than read as "no settings": an editor or a copy that truncates the
  // file before writing it would otherwise wipe the layer for a moment.
  if (body.trim() === '') return { ok: false, error: 'is empty; write {} for no settings' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    return { ok: false, error: `invalid JSON: ${errorMessage(error)}` };
  }
  if (!isPlainObject(parsed)) return { ok: false, error: `must hold a JSON object (got ${Array.isArray(parsed) ? 'a list' : parsed === null ? 'null' : typeof parsed})` };
  return { ok: true, values: parsed };
}

/** What the Spring Cloud Config Server answers on `GET /{application}/{profile}[/{label}]`. */
export interface SpringEnvironment {
  /** The application. */
  readonly name: string;
  /** The active profiles. */
  readonly profiles: readonly string[];
  /** The label (branch, tag, commit). */
  readonly label: string | null;
  /** The version of the backing repository (a commit id). */
  readonly version: string | null;
  /** The property sources, highest priority first. */
  readonly propertySources: readonly { readonly name: string; readonly source: Readonly<Record<string, unknown>> }[];
}

/**
 * Decodes a Spring Cloud Config environment into nested values: the first property source wins over later
 * ones, flat dotted keys (`a.b[0].c`) become nested objects and lists.
 */
export function decodeSpringEnvironment(text: string): Parsed & { readonly environment?: SpringEnvironment } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `invalid JSON from the config server: ${errorMessage(error)}` };
  }
  if (!isPlainObject(parsed)) return { ok: false, error: 'the config server answered something other than an environment object' };
  const sources = parsed.propertySources;
  if (!Array.isArray(sources)) return { ok: false, error: "the config server's answer has no propertySources list" };
  const flat = new Map<string, unknown>();
  // Walk from the lowest priority (last) to the highest (first) so the first source's values are set last.
  for (let i = sources.length - 1; i >= 0; i--) {
    const source: unknown = sources[i];
    if (!isPlainObject(source) || !isPlainObject(source.source)) {
      return { ok: false, error: `propertySources[${i}] must be {name, source: {...}}` };
    }
    const entries = Object.entries(source.source);
    const keys = entries.map(([key]) => key);
    // As Spring Boot binds them: a higher source replaces a whole list (not item by item), and a value and a
    // group at the same place do not mix (the higher source's spelling wins).
    const listBases = new Set(keys.filter((key) => key.includes('[')).map((key) => key.slice(0, key.indexOf('['))));
    for (const existing of [...flat.keys()]) {
      const bracket = existing.indexOf('[');
      if (bracket >= 0 && listBases.has(existing.slice(0, bracket))) {
        flat.delete(existing);
        continue;
      }
      if (keys.some((key) => nests(existing, key) || nests(key, existing))) flat.delete(existing);
    }
    for (const [key, value] of entries) flat.set(key, value);
  }
  let values: Record<string, unknown>;
  try {
    values = unflatten(flat);
  } catch (error) {
    return { ok: false, error: `the config server's properties do not nest: ${errorMessage(error)}` };
  }
  const environment: SpringEnvironment = {
    name: typeof parsed.name === 'string' ? parsed.name : '',
    profiles: Array.isArray(parsed.profiles) ? parsed.profiles.filter((p): p is string => typeof p === 'string') : [],
    label: typeof parsed.label === 'string' ? parsed.label : null,
    version: typeof parsed.version === 'string' ? parsed.version : null,
    propertySources: sources as SpringEnvironment['propertySources'],
  };
  return { ok: true, values, environment };
}

/** True when flat key `inner` lies inside flat key `outer` (`a.b` inside `a`, `a[0]` inside `a`). */
function nests(inner: string, outer: string): boolean {
  return inner.length > outer.length && inner.startsWith(outer) && (inner[outer.length] === '.' || inner[outer.length] === '[');
}
