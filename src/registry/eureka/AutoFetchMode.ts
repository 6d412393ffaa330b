// `fetchMode: 'auto'`: which of the two ways of keeping the view costs this service less, decided by what each
// cost when it was last measured, and decided again as the registry changes.
//
// A refresh costs bytes (as received) and the event loop's time to parse and decode them. In `vips` mode each
// refresh fetches the VIPs named, whole; in `full` mode a refresh is a delta (every change of the whole fleet's
// last ~3 minutes), after one full fetch that costs as much as the whole registry. So over a horizon of H
// refreshes, `full` costs F + H x delta and `vips` H x vips. The mode in force is measured at every refresh;
// the other one is probed every few refreshes (a delta parsed and decoded but not applied, or each VIP fetched
// and decoded), so a change of the registry (a fleet that grows, a VIP that grows, churn that comes and goes)
// changes the choice. F is the last full fetch when there was one (its bytes and event-loop time), and is
// never taken lower than the registry's size (read from the delta's `apps__hashcode`) times what a VIP fetch
// cost per instance: the worker's share of a full fetch is not seen by the event loop's clock.

/** What one refresh (or probe) cost. */
export interface FetchCost {
  /** Body bytes as received (compressed when the server gzipped them). */
  readonly bytes: number;
  /**
   * Time the event loop spent parsing and decoding them, in ms. In the costs `auto` keeps, the average of the
   * recent readings of that mode (a new one weighs 1/4).
   */
  readonly cpuMs: number;
  /** Instances in the answer(s). */
  readonly instances: number;
}

/** Why the mode in force was chosen. */
export type AutoFetchReason =
  /** No cost measured yet: `vips` when up to 16 VIPs are named (the cheapest start), `full` otherwise. */
  | 'initial'
  /** Measured: fetching the VIPs costs less than a full registry and its deltas over the horizon. */
  | 'vipsCheaper'
  /** Measured: the deltas, with a full fetch paid over the horizon, cost less than fetching the VIPs. */
  | 'fullCheaper';

/** The state of an `auto` fetch mode, as the admin view shows it. */
export interface AutoFetchState {
  /** Why the mode in force is the cheaper one. */
  readonly reason: AutoFetchReason;
  /** Cost of the last refresh of the VIPs (in `vips` mode, or probed in `full` mode). */
  readonly vips: FetchCost | undefined;
  /** Cost of the last delta (applied in `full` mode, or probed in `vips` mode). */
  readonly delta: FetchCost | undefined;
  /** Cost of the last full fetch, or its estimate from the registry's size when none was made. */
  readonly full: FetchCost | undefined;
  /** The refreshes a full fetch is paid over. */
  readonly horizon: number;
}

/** Refreshes between two probes of the mode not in force. */
export const AUTO_PROBE_EVERY = 10;
/** Refreshes a full fetch is paid over (an hour at the default 30 s interval). */
export const AUTO_HORIZON = 120;
/** Bytes counted as one ms of event-loop time (about what parsing them costs), to weigh bytes and time together. */
export const AUTO_BYTES_PER_MS = 64 * 1024;
/**
 * Weight of a new CPU reading in the average kept per mode. The thread's CPU clock advances at scheduler ticks
 * and switches, so one reading of a refresh that took a fraction of a ms is 0 or a whole tick; the average of
 * the last few readings is close to the true cost, and one tick does not flip the mode.
 */
export const AUTO_CPU_WEIGHT = 0.25;
/** The other mode must be this much cheaper before the mode changes, so that noise does not flip it. */
const MARGIN = 1.25;
/** With more VIPs than this, `auto` starts with a full fetch (each VIP is a request per refresh). */
export const AUTO_MAX_INITIAL_VIPS = 16;

/** One number per cost: ms of event loop, bytes weighed at {@link AUTO_BYTES_PER_MS}. */
export function costScore(cost: FetchCost): number {
  return cost.cpuMs + cost.bytes / AUTO_BYTES_PER_MS;
}

/** Instances counted by an `apps__hashcode` (`DOWN_1_UP_3_`): the size of the registry. */
export function instancesOfHashcode(hashcode: string): number {
  let total = 0;
  const parts = hashcode.split('_');
  for (let i = 1; i < parts.length; i += 2) {
    const n = Number(parts[i]);
    if (Number.isFinite(n)) total += n;
  }
  return total;
}

/** The new cost, its CPU time averaged with the readings before it (bytes and instances are the last ones). */
function averaged(previous: FetchCost | undefined, cost: FetchCost): FetchCost {
  if (previous === undefined) return cost;
  return { ...cost, cpuMs: previous.cpuMs + (cost.cpuMs - previous.cpuMs) * AUTO_CPU_WEIGHT };
}

/** Keeps the costs measured and decides the mode. */
export class AutoFetchMode {
  #mode: 'full' | 'vips';
  #reason: AutoFetchReason = 'initial';
  #vips: FetchCost | undefined;
  #delta: FetchCost | undefined;
  #full: FetchCost | undefined;
  /** Instances in the registry, from the last delta's hash. */
  #registrySize = 0;
  #sinceProbe = 0;

  /** @param initial - the mode to start with */
  constructor(initial: 'full' | 'vips') {
    this.#mode = initial;
  }

  /** The mode in force. */
  get mode(): 'full' | 'vips' {
    return this.#mode;
  }

  /** What the admin view shows. */
  get state(): AutoFetchState {
    return { reason: this.#reason, vips: this.#vips, delta: this.#delta, full: this.#fullCost(), horizon: AUTO_HORIZON };
  }

  /** A refresh of the VIPs was made (in force or probed). */
  recordVips(cost: FetchCost): void {
    this.#vips = averaged(this.#vips, cost);
  }

  /** A delta was fetched (applied or probed); `hashcode` is its `apps__hashcode`. */
  recordDelta(cost: FetchCost, hashcode: string): void {
    this.#delta = averaged(this.#delta, cost);
    const size = instancesOfHashcode(hashcode);
    if (size > 0) this.#registrySize = size;
  }

  /** A full fetch was made. */
  recordFull(cost: FetchCost): void {
    this.#full = cost;
    this.#registrySize = Math.max(this.#registrySize, cost.instances);
  }

  /** After a refresh in the mode in force: true when the other mode is due to be probed now. */
  probeDue(): boolean {
    // The first probe follows the first refresh, then one every AUTO_PROBE_EVERY.
    const due = this.#sinceProbe === 0 || this.#sinceProbe >= AUTO_PROBE_EVERY;
    this.#sinceProbe++;
    if (due) this.#sinceProbe = 1;
    return due;
  }

  /** Decides the mode from the costs measured; returns it (changed when the other is cheaper by a margin). */
  decide(): 'full' | 'vips' {
    const vips = this.#vips;
    const delta = this.#delta;
    const full = this.#fullCost();
    if (vips === undefined || delta === undefined || full === undefined) return this.#mode;
    const vipsCost = AUTO_HORIZON * costScore(vips);
    // In `full` mode the full fetch is paid already: going on costs the deltas; coming back would cost it again.
    const fullCost = AUTO_HORIZON * costScore(delta) + (this.#mode === 'full' ? 0 : costScore(full));
    if (this.#mode === 'vips' && fullCost * MARGIN < vipsCost) {
      this.#mode = 'full';
      this.#reason = 'fullCheaper';
    } else if (this.#mode === 'full' && vipsCost * MARGIN < fullCost) {
      this.#mode = 'vips';
      this.#reason = 'vipsCheaper';
    } else if (this.#reason === 'initial') {
      this.#reason = this.#mode === 'vips' ? 'vipsCheaper' : 'fullCheaper';
    }
    return this.#mode;
  }

  /** The last full fetch, never less than the registry's size at the VIPs' cost per instance. */
  #fullCost(): FetchCost | undefined {
    const vips = this.#vips;
    const estimate =
      vips !== undefined && vips.instances > 0 && this.#registrySize > 0
        ? {
            bytes: Math.round((vips.bytes / vips.instances) * this.#registrySize),
            cpuMs: (vips.cpuMs / vips.instances) * this.#registrySize,
            instances: this.#registrySize,
          }
        : undefined;
    const measured = this.#full;
    if (measured === undefined) return estimate;
    if (estimate === undefined) return measured;
    return {
      bytes: Math.max(measured.bytes, estimate.bytes),
      cpuMs: Math.max(measured.cpuMs, estimate.cpuMs),
      instances: Math.max(measured.instances, estimate.instances),
    };
  }
}
