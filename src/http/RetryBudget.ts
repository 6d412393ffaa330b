import { durationMs, invalidOption } from '../internal/validate.js';

/** Options of a retry budget (Finagle's and Linkerd's): how many retries a client may add on top of its requests. */
export interface RetryBudgetOptions {
  /**
   * Retries allowed per request, over the window: 0.2 lets retries add at most 20% to the load.
   * @default 0.2
   */
  readonly ratio?: number;
  /**
   * Retries allowed per second whatever the request rate, so a client with little traffic can still retry.
   * @default 10
   */
  readonly minRetriesPerSecond?: number;
  /**
   * How long a request's deposit (and a retry's withdrawal) counts, in ms.
   * @default 10000
   */
  readonly ttlMs?: number;
}

/** {@link RetryBudgetOptions} with defaults filled and values checked. */
export interface ResolvedRetryBudgetOptions {
  /** Retries allowed per request. */
  readonly ratio: number;
  /** Retries allowed per second whatever the rate. */
  readonly minRetriesPerSecond: number;
  /** How long deposits and withdrawals count, in ms. */
  readonly ttlMs: number;
}

/**
 * Fills the defaults of {@link RetryBudgetOptions} and validates them.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the option that is wrong
 */
export function resolveRetryBudgetOptions(options: RetryBudgetOptions = {}): ResolvedRetryBudgetOptions {
  const ratio = options.ratio ?? 0.2;
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1000)) invalidOption('retries.budget.ratio', 'a number between 0 and 1000', ratio);
  const minRetriesPerSecond = options.minRetriesPerSecond ?? 10;
  if (typeof minRetriesPerSecond !== 'number' || !(minRetriesPerSecond >= 0) || !Number.isFinite(minRetriesPerSecond)) {
    invalidOption('retries.budget.minRetriesPerSecond', 'a non-negative number', minRetriesPerSecond);
  }
  const ttlMs = durationMs('retries.budget.ttlMs', options.ttlMs, 10_000);
  if (ttlMs < 1000 || ttlMs > 60_000) invalidOption('retries.budget.ttlMs', 'between 1000 and 60000 milliseconds', ttlMs);
  return Object.freeze({ ratio, minRetriesPerSecond, ttlMs });
}

/** Amounts are kept in thousandths of a retry so a 0.2 deposit adds up exactly. */
const SCALE = 1000;
const SLICES = 10;

/**
 * A retry budget as Finagle's: every request deposits `ratio` of a retry, every retry (or hedge) withdraws a
 * whole one, and a reserve of `minRetriesPerSecond x ttl` is always there. Deposits and withdrawals expire
 * after `ttlMs`, counted in ten slices. Time is read lazily on each call: no timers.
 *
 * With the defaults, retries add at most 20% to the requests of the last 10 s, plus 100, so a failing
 * dependency cannot have its load multiplied by its callers' retries.
 */
export class RetryBudget {
  readonly #deposit: number;
  readonly #reserve: number;
  readonly #sliceMs: number;
  readonly #slices = new Int32Array(SLICES);
  #slice: number;
  #sum = 0;

  /**
   * @param options - resolved options
   * @param now - the current time, in ms
   */
  constructor(options: ResolvedRetryBudgetOptions, now: number) {
    this.#deposit = Math.round(options.ratio * SCALE);
    this.#reserve = Math.round(options.minRetriesPerSecond * (options.ttlMs / 1000) * SCALE);
    this.#sliceMs = options.ttlMs / SLICES;
    this.#slice = Math.floor(now / this.#sliceMs);
  }

  /** Records a request (not a retry). */
  deposit(now: number): void {
    this.#advance(now);
    this.#add(this.#deposit);
  }

  /** Takes one retry from the budget; false (and nothing taken) when the budget is spent. */
  tryWithdraw(now: number): boolean {
    this.#advance(now);
    if (this.#reserve + this.#sum < SCALE) return false;
    this.#add(-SCALE);
    return true;
  }

  /** Retries available now (whole ones). */
  available(now: number): number {
    this.#advance(now);
    return Math.floor((this.#reserve + this.#sum) / SCALE);
  }

  #add(amount: number): void {
    const index = this.#slice % SLICES;
    this.#slices[index] = (this.#slices[index] as number) + amount;
    this.#sum += amount;
  }

  #advance(now: number): void {
    const slice = Math.floor(now / this.#sliceMs);
    if (slice <= this.#slice) return;
    const steps = Math.min(slice - this.#slice, SLICES);
    for (let i = 1; i <= steps; i++) {
      const index = (this.#slice + i) % SLICES;
      this.#sum -= this.#slices[index] as number;
      this.#slices[index] = 0;
    }
    this.#slice = slice;
  }
}
