import type { Clock } from '../common/Clock.js';

/** Options of {@link runWithTimeout}. */
export interface TimeoutOptions {
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Aborting it aborts the work and rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Builds the rejection when the time runs out. */
  readonly onTimeout: () => Error;
}

/**
 * Runs `work` with a signal that aborts when `timeoutMs` passes or the parent signal aborts, and settles
 * as soon as either happens, even if `work` ignores its signal. `timeoutMs <= 0` or `Infinity` means no limit.
 */
export function runWithTimeout<T>(
  work: (signal: AbortSignal) => T | PromiseLike<T>,
  options: TimeoutOptions,
): Promise<T> {
  const { clock, timeoutMs, signal: parent, onTimeout } = options;
  const controller = new AbortController();
  if (parent?.aborted) return Promise.reject(abortReason(parent));
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      timer?.clear();
      parent?.removeEventListener('abort', onParentAbort);
      return true;
    };
    const fail = (error: unknown): void => {
      if (!finish()) return;
      controller.abort(error);
      reject(error instanceof Error ? error : new Error(errorMessage(error)));
    };
    const onParentAbort = (): void => fail(abortReason(parent));
    const timer = Number.isFinite(timeoutMs) && timeoutMs > 0 ? clock.setTimeout(() => fail(onTimeout()), timeoutMs) : undefined;
    parent?.addEventListener('abort', onParentAbort, { once: true });
    let pending: T | PromiseLike<T>;
    try {
      pending = work(controller.signal);
    } catch (error) {
      fail(error);
      return;
    }
    Promise.resolve(pending).then(
      (value) => {
        if (finish()) resolve(value);
      },
      (error: unknown) => fail(error),
    );
  });
}

/** Lets the event loop run what waits (I/O, timers) before the next slice of work: resolves in the next task. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Resolves after `delayMs` on `clock`; rejects with the signal's reason if it aborts first. */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal, options: { unref?: boolean } = {}): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  if (delayMs <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timer.clear();
      reject(abortReason(signal));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    if (options.unref === true) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The reason a signal aborted, as an Error. */
export function abortReason(signal: { readonly reason: unknown } | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const error = new Error(reason === undefined ? 'The operation was aborted' : errorMessage(reason));
  error.name = 'AbortError';
  return error;
}

/** Spreads `delayMs` by up to `ratio` either way, so many instances do not act in lockstep. */
export function jitter(delayMs: number, ratio: number, random: () => number = Math.random): number {
  if (ratio <= 0) return delayMs;
  return Math.max(0, Math.round(delayMs * (1 + ratio * (2 * random() - 1))));
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
}
