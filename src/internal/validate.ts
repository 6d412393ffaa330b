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

/** A non-negative finite number of milliseconds, or the fallback when undefined. */
export function durationMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    return invalidOption(name, 'a non-negative number of milliseconds', value);
  }
  return value;
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
