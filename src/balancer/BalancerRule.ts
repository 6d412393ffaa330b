/**
 * What a balancing rule may read about one instance. The balancer owns and updates these values; a rule only
 * reads them, so a pick stays a few field reads and allocates nothing.
 */
export interface BalancerInstance {
  /** The instance id, unique within the client. */
  readonly id: string;
  /** The instance's availability zone. */
  readonly zone: string;
  /** Requests sent to the instance whose response headers have not arrived yet. */
  readonly pending: number;
  /** Position of the instance in the candidate array being picked from (stable until the array changes). */
  readonly slot: number;
  /**
   * The peak-EWMA latency estimate at `now`, in ms: it jumps up to a slower sample at once and decays
   * towards faster ones (and towards zero while nothing is in flight to it, so an instance that has not been
   * tried lately is tried again, one request at a time).
   */
  latencyMs(now: number): number;
  /** A plain decaying average of the latency at its last sample, in ms (no peak), as weighted rules want. */
  readonly averageLatencyMs: number;
}

/**
 * A balancing rule: picks one instance among the candidates the balancer has already filtered (UP in the
 * registry, not ejected, not out of service, in the preferred zone when zone affinity holds).
 *
 * A rule must not allocate or scan every candidate on each pick when it can help it: picks are on the hot path.
 *
 * @example
 * ```ts
 * // Always the first candidate, unless the balancer asks to avoid it (a retry goes elsewhere).
 * const first: BalancerRule = {
 *   name: 'first',
 *   pick: (candidates, _now, avoid) => (candidates[0] === avoid ? candidates[1] : candidates[0]),
 * };
 * client.setRule(first);
 * ```
 */
export interface BalancerRule {
  /** The name shown by `stats()` and the admin API. */
  readonly name: string;
  /**
   * Picks one of `candidates` (never empty), or returns undefined when none suits. Should not return `avoid`
   * (the instance the previous try of this request went to) when another candidate exists; the balancer
   * substitutes the next candidate if it does.
   *
   * @param candidates - the instances to choose from; the same array until the candidate set changes
   * @param now - the current time in ms, from the client's clock
   * @param avoid - an instance to avoid, or undefined
   */
  pick<I extends BalancerInstance>(candidates: readonly I[], now: number, avoid: I | undefined): I | undefined;
  /**
   * What the rule thinks sending one more request to `instance` costs now (lower is better), for the admin
   * view and the metrics; rules that compare no cost leave it out.
   */
  cost?(instance: BalancerInstance, now: number): number;
}

/** The names of the built-in rules, selectable by name and changeable live with `setRule`. */
export const balancerRuleNames = [
  'round-robin',
  'random',
  'weighted-response-time',
  'least-loaded',
  'p2c-ewma',
  'zone-avoidance',
] as const;

/** The name of a built-in rule. */
export type BalancerRuleName = (typeof balancerRuleNames)[number];

/** A random number source in [0, 1), injectable so tests can make picks reproducible. */
export type RandomSource = () => number;

/**
 * Picks two distinct random slots out of `n` (n >= 2) and returns them packed as `first * n + second`, so
 * power-of-two-choices rules draw without allocating a pair.
 */
export function twoDistinct(n: number, random: RandomSource): number {
  const first = Math.floor(random() * n);
  let second = Math.floor(random() * (n - 1));
  if (second >= first) second++;
  return first * n + second;
}

/**
 * The shared skeleton of power-of-two-choices rules: draws two distinct candidates, never returns `avoid`
 * when another exists, and keeps the cheaper by `cost` (a module-level function, so nothing is allocated).
 */
export function pickTwo<I extends BalancerInstance>(
  candidates: readonly I[],
  now: number,
  avoid: I | undefined,
  random: RandomSource,
  cost: (instance: BalancerInstance, now: number) => number,
): I | undefined {
  const n = candidates.length;
  if (n === 1) {
    const only = candidates[0];
    return only === avoid ? undefined : only;
  }
  const packed = twoDistinct(n, random);
  const a = candidates[Math.floor(packed / n)] as I;
  const b = candidates[packed % n] as I;
  if (a === avoid) return b;
  if (b === avoid) return a;
  return cost(b, now) < cost(a, now) ? b : a;
}
