import type { Logger } from '../../common/Logger.js';
import type { ProtectedApp, RegistryInstance } from '../types.js';

// Declared with the registry seam, which shows the protected apps.
export type { ProtectedApp };

// Envoy's panic threshold, applied to membership: a full fetch that would leave an application with much less
// than the client held for it is more likely a registry that lost its state (restarted empty, or answering
// before its instances have registered again) than a fleet that vanished at once. Trading a working view for an
// empty one fails every call (ERR_NO_INSTANCES) although the instances are alive; keeping the last good records
// costs at worst a few calls to instances that really left, which retries and outlier ejection already handle.
// So the held records of such an application are kept, and the view follows the registry again once it lists
// every one of them (or after `maxMs`, so an instance that really left is not shown for ever); meanwhile new and
// changed records are applied as they come.
// Deltas are not guarded: their DELETED entries are the registry saying, one by one, that an instance left.

/** Why an application's protection began or ended. */
export type ViewProtectionReason =
  /** A full fetch listed fewer than `ratio` of the held instances: the held ones are kept. */
  | 'shrunk'
  /** The registry lists every held instance again: the view follows it once more. */
  | 'converged'
  /** `maxMs` passed without the registry listing them again: its view is accepted. */
  | 'expired';

/** An application's view began or stopped being protected. */
export interface ViewProtectionEvent {
  /** The application. */
  readonly app: string;
  /** True when the protection began, false when it ended. */
  readonly protecting: boolean;
  /** Why. */
  readonly reason: ViewProtectionReason;
  /** Instances held when the protection began. */
  readonly held: number;
  /** Instances the registry listed in this full fetch. */
  readonly listed: number;
}

/** What {@link ViewGuard} needs. */
export interface ViewGuardOptions {
  /** Below this share of the held instances an application's view is kept; 0 turns the guard off. */
  readonly ratio: number;
  /** Longest an application's view is kept, in ms. */
  readonly maxMs: number;
  /** Where the guard says what it does. */
  readonly logger: Logger;
  /** Told when an application's protection begins or ends. */
  readonly onChange: (event: ViewProtectionEvent) => void;
}

/** Decides, at each full fetch, which held records to keep because the registry lists too few of their app. */
export class ViewGuard {
  readonly #options: () => ViewGuardOptions;
  readonly #protected = new Map<string, ProtectedApp>();

  /** @param options - read at each fetch, so a registry whose options change passes the current ones */
  constructor(options: () => ViewGuardOptions) {
    this.#options = options;
  }

  /** True while some application's last good view is kept (only full fetches can tell when to stop). */
  get protecting(): boolean {
    return this.#protected.size > 0;
  }

  /** The applications whose last good view is kept now. */
  get protectedApps(): readonly ProtectedApp[] {
    return [...this.#protected.values()];
  }

  /**
   * The held records to keep beside the `incoming` ones of a full fetch made at `now` (both by app, then id):
   * those of every application the registry lists too few instances of. Empty when nothing needs keeping. Its
   * work grows with the applications, not the instances, while no application shrinks.
   */
  keep(
    held: ReadonlyMap<string, ReadonlyMap<string, RegistryInstance>>,
    incoming: ReadonlyMap<string, ReadonlyMap<string, RegistryInstance>>,
    now: number,
  ): RegistryInstance[] {
    const { ratio, maxMs, logger, onChange } = this.#options();
    if (ratio <= 0) {
      this.#protected.clear();
      return [];
    }
    const kept: RegistryInstance[] = [];
    for (const [app, heldRecords] of held) {
      const ids = incoming.get(app);
      const count = ids?.size ?? 0;
      const current = this.#protected.get(app);
      // The common case, an application listed in full: no walk over its instances.
      if (current === undefined && count >= ratio * heldRecords.size) continue;
      const missing: RegistryInstance[] = [];
      for (const [id, record] of heldRecords) if (ids?.has(id) !== true) missing.push(record);
      if (current === undefined) {
        this.#protected.set(app, { app, held: heldRecords.size, listed: count, since: now });
        logger.warn(
          `eureka lists ${count} of the ${heldRecords.size} instance(s) of ${app} held: keeping the last good view until it lists them again (at most ${maxMs} ms)`,
        );
        onChange({ app, protecting: true, reason: 'shrunk', held: heldRecords.size, listed: count });
      } else if (missing.length === 0 || now - current.since >= maxMs) {
        this.#protected.delete(app);
        const converged = missing.length === 0;
        if (converged) logger.info(`eureka view of ${app}: the registry lists every instance held again (${count}); following it`);
        else logger.warn(`eureka view of ${app}: accepting after ${maxMs} ms that the registry lists only ${count} of the ${current.held} instance(s) held`);
        onChange({ app, protecting: false, reason: converged ? 'converged' : 'expired', held: current.held, listed: count });
        continue;
      } else {
        this.#protected.set(app, { ...current, listed: count });
      }
      kept.push(...missing);
    }
    // An application no longer held at all (removed by a delta) needs no protection.
    for (const app of this.#protected.keys()) if (!held.has(app)) this.#protected.delete(app);
    return kept;
  }
}
