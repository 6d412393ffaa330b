import { durationMs, invalidOption, positiveInt } from '../internal/validate.js';

/** Options of zone affinity: prefer instances in the caller's zone, with Ribbon's overrides. */
export interface ZoneAffinityOptions {
  /**
   * The caller's zone. Without one, there is no affinity.
   * @default the client's zone
   */
  readonly zone?: string;
  /**
   * Leave the zone when at least this share of its instances is ejected, in percent.
   * @default 80
   */
  readonly maxEjectedPercent?: number;
  /**
   * Leave the zone when its instances have at least this many requests in flight each, on average.
   * @default 0.6
   */
  readonly maxLoadPerInstance?: number;
  /**
   * Leave the zone when fewer than this many of its instances are available.
   * @default 2
   */
  readonly minAvailable?: number;
  /**
   * How often the load override is re-evaluated, in ms (load changes with every request, so it is sampled
   * lazily on a pick rather than on each one).
   * @default 1000
   */
  readonly recheckMs?: number;
}

/** {@link ZoneAffinityOptions} with defaults filled and values checked. */
export interface ResolvedZoneAffinityOptions {
  /** The preferred zone, or undefined for no affinity. */
  readonly zone: string | undefined;
  /** Ejected share that makes the client leave the zone, in percent. */
  readonly maxEjectedPercent: number;
  /** Requests in flight per instance that make the client leave the zone. */
  readonly maxLoadPerInstance: number;
  /** Fewest available instances to stay in the zone. */
  readonly minAvailable: number;
  /** How often the load override is re-evaluated, in ms. */
  readonly recheckMs: number;
}

/**
 * Fills the defaults of {@link ZoneAffinityOptions} and validates them. `false` turns affinity off;
 * `defaultZone` is the client's own zone.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the option that is wrong
 */
export function resolveZoneAffinityOptions(options: ZoneAffinityOptions | boolean = true, defaultZone?: string): ResolvedZoneAffinityOptions {
  const given = typeof options === 'boolean' ? {} : options;
  if (options !== true && options !== false && (typeof options !== 'object' || options === null)) {
    invalidOption('zoneAffinity', 'a boolean or an object', options);
  }
  const zone = options === false ? undefined : (given.zone ?? defaultZone);
  if (zone !== undefined && (typeof zone !== 'string' || zone === '')) invalidOption('zoneAffinity.zone', 'a non-empty string', zone);
  const maxEjectedPercent = given.maxEjectedPercent ?? 80;
  if (typeof maxEjectedPercent !== 'number' || !(maxEjectedPercent >= 0 && maxEjectedPercent <= 100)) {
    invalidOption('zoneAffinity.maxEjectedPercent', 'a percentage between 0 and 100', maxEjectedPercent);
  }
  const maxLoadPerInstance = given.maxLoadPerInstance ?? 0.6;
  if (typeof maxLoadPerInstance !== 'number' || !(maxLoadPerInstance > 0) || !Number.isFinite(maxLoadPerInstance)) {
    invalidOption('zoneAffinity.maxLoadPerInstance', 'a positive number', maxLoadPerInstance);
  }
  return Object.freeze({
    zone,
    maxEjectedPercent,
    maxLoadPerInstance,
    minAvailable: positiveInt('zoneAffinity.minAvailable', given.minAvailable, 2),
    recheckMs: durationMs('zoneAffinity.recheckMs', given.recheckMs, 1000),
  });
}
