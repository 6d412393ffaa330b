import { MAX_TIMER_MS } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** Throws ERR_INVALID_OPTION naming the option, what was expected and what was given. */
export function invalidOption(name: string, expected: string, given: unknown): never {
  throw new KaryonError('ERR_INVALID_OPTION', `option '${name}' must be ${expected} (got ${describe(given)})`);
}

/** A number of milliseconds from 0 to `MAX_TIMER_MS` (a duration a timer can wait), or the fallback when undefined. */
export function durationMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    return invalidOption(name, 'a non-negative number of milliseconds', value);
  }
  if (value > MAX_TIMER_MS) return invalidOption(name, `at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a timer waits)`, value);
  return value;
}

/**
 * The `Basic` authorization of the user name and password in `url`, or undefined when it has none.
 * @throws KaryonError ERR_INVALID_OPTION naming `name` when they are not valid percent-encoding.
 */
export function basicAuthorization(name: string, url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  let credentials: string;
  try {
    credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  } catch {
    return invalidOption(name, 'a URL whose user name and password are valid percent-encoding', `${url.protocol}//…@${url.host}`);
  }
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}

/** A positive integer, or the fallback when undefined. */
export function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    return invalidOption(name, 'a positive integer', value);
  }
  return value;
}

/** A TCP port (0..65535), or the fallback when undefined. */
export function port(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    return invalidOption(name, 'an integer port between 0 and 65535', value);
  }
  return value;
}

/** A non-empty string, or the fallback when undefined. */
export function nonEmptyString(name: string, value: string | undefined, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value.trim() === '') return invalidOption(name, 'a non-empty string', value);
  return value;
}

/** One of the allowed string values, or the fallback when undefined. */
export function oneOf<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) return invalidOption(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return value;
}
