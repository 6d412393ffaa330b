import type { BalancerInstance, BalancerRule } from './BalancerRule.js';
import { invalidOption } from '../internal/validate.js';

/** Options of {@link ZoneAvoidanceRule}. */
export interface ZoneAvoidanceOptions {
  /**
   * Requests in flight per instance of the busiest zone from which that zone is avoided (Ribbon's
   * `triggeringLoadPerServerThreshold`).
   * @default 0.2
   */
  readonly triggeringLoadPerInstance?: number;
  /**
   * How often the zone statistics are recomputed, in ms.
   * @default 1000
   */
  readonly refreshMs?: number;
}

interface ZoneLoad {
  instances: number;
  pending: number;
}

/**
 * `zone-avoidance`: Ribbon's ZoneAvoidanceRule (Spring Cloud's default). Zones with no available instance
 * are gone already (ejected instances are not candidates); when the busiest zone carries at least
 * `triggeringLoadPerInstance` requests in flight per instance and is busier than another zone, it is
 * avoided; the rest are taken in turn. Unlike Ribbon, zones tied for the heaviest load are all kept rather
 * than one dropped at random, so equal zones do not flap.
 */
export class ZoneAvoidanceRule implements BalancerRule {
  /** The rule's name. */
  readonly name = 'zone-avoidance';
  readonly #triggeringLoad: number;
  readonly #refreshMs: number;
  #source: readonly BalancerInstance[] | undefined;
  #builtAt = Number.NEGATIVE_INFINITY;
  #filtered: BalancerInstance[] = [];
  #next = 0;
  #avoidedZone: string | undefined;

  /** @param options - thresholds */
  constructor(options: ZoneAvoidanceOptions = {}) {
    this.#triggeringLoad = options.triggeringLoadPerInstance ?? 0.2;
    this.#refreshMs = options.refreshMs ?? 1000;
    if (typeof this.#triggeringLoad !== 'number' || !(this.#triggeringLoad > 0)) {
      invalidOption('zoneAvoidance.triggeringLoadPerInstance', 'a positive number', this.#triggeringLoad);
    }
    if (typeof this.#refreshMs !== 'number' || !(this.#refreshMs >= 0)) {
      invalidOption('zoneAvoidance.refreshMs', 'a non-negative number of milliseconds', this.#refreshMs);
    }
  }

  /** The zone avoided at the last refresh, if any. */
  get avoidedZone(): string | undefined {
    return this.#avoidedZone;
  }

  pick<I extends BalancerInstance>(candidates: readonly I[], now: number, avoid: I | undefined): I | undefined {
    if (candidates !== this.#source || now - this.#builtAt >= this.#refreshMs) this.#build(candidates, now);
    const pool = this.#filtered as unknown as readonly I[];
    const n = pool.length;
    if (this.#next >= n) this.#next = 0;
    let chosen = pool[this.#next++] as I;
    if (chosen === avoid) {
      if (n > 1) {
        if (this.#next >= n) this.#next = 0;
        chosen = pool[this.#next++] as I;
      } else {
        // The only instance of the kept zones is the one to avoid: look in the avoided zone rather than fail.
        chosen = candidates[(avoid.slot + 1) % candidates.length] as I;
        if (chosen === avoid) return undefined;
      }
    }
    return chosen;
  }

  #build(candidates: readonly BalancerInstance[], now: number): void {
    this.#source = candidates;
    this.#builtAt = now;
    this.#avoidedZone = undefined;
    const zones = new Map<string, ZoneLoad>();
    for (const instance of candidates) {
      const load = zones.get(instance.zone);
      if (load === undefined) zones.set(instance.zone, { instances: 1, pending: instance.pending });
      else {
        load.instances++;
        load.pending += instance.pending;
      }
    }
    if (zones.size > 1) {
      let worst: string | undefined;
      let maxLoad = -1;
      let minLoad = Number.POSITIVE_INFINITY;
      for (const [zone, load] of zones) {
        const perInstance = load.pending / load.instances;
        if (perInstance > maxLoad) {
          maxLoad = perInstance;
          worst = zone;
        }
        if (perInstance < minLoad) minLoad = perInstance;
      }
      if (maxLoad >= this.#triggeringLoad && maxLoad > minLoad) this.#avoidedZone = worst;
    }
    const avoided = this.#avoidedZone;
    this.#filtered = avoided === undefined ? [...candidates] : candidates.filter((instance) => instance.zone !== avoided);
  }
}
