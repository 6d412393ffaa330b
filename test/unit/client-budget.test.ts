import { describe, expect, it } from 'vitest';
import { RetryBudget, resolveRetryBudgetOptions } from '../../src/http/RetryBudget.js';

const T0 = 1_700_000_000_000;

function drain(budget: RetryBudget, now: number): number {
  let granted = 0;
  while (budget.tryWithdraw(now)) granted++;
  return granted;
}

describe('RetryBudget', () => {
  it('holds a reserve of 10 retries per second over the 10 s window, with no requests at all', () => {
    const budget = new RetryBudget(resolveRetryBudgetOptions(), T0);
    expect(budget.available(T0)).toBe(100);
    expect(drain(budget, T0)).toBe(100);
    expect(budget.tryWithdraw(T0)).toBe(false);
  });

  it('adds 20% of the requests on top of the reserve', () => {
    const budget = new RetryBudget(resolveRetryBudgetOptions({ minRetriesPerSecond: 0 }), T0);
    for (let i = 0; i < 1000; i++) budget.deposit(T0);
    expect(drain(budget, T0)).toBe(200);
    const withReserve = new RetryBudget(resolveRetryBudgetOptions(), T0);
    for (let i = 0; i < 1000; i++) withReserve.deposit(T0);
    expect(drain(withReserve, T0)).toBe(300);
  });

  it('lets retries spent more than 10 s ago count no more', () => {
    const budget = new RetryBudget(resolveRetryBudgetOptions(), T0);
    expect(drain(budget, T0)).toBe(100);
    expect(budget.tryWithdraw(T0 + 9_000)).toBe(false);
    expect(budget.available(T0 + 10_000)).toBe(100);
  });

  it('lets deposits expire too, so a burst of requests long ago buys no retries now', () => {
    const budget = new RetryBudget(resolveRetryBudgetOptions({ minRetriesPerSecond: 0 }), T0);
    for (let i = 0; i < 500; i++) budget.deposit(T0);
    expect(budget.available(T0 + 5_000)).toBe(100);
    expect(budget.available(T0 + 10_000)).toBe(0);
    expect(budget.tryWithdraw(T0 + 60_000)).toBe(false);
  });

  it('slides over one-second slices: half of the deposits are gone after half the window', () => {
    const budget = new RetryBudget(resolveRetryBudgetOptions({ minRetriesPerSecond: 0 }), T0);
    for (let second = 0; second < 10; second++) for (let i = 0; i < 50; i++) budget.deposit(T0 + second * 1000);
    expect(budget.available(T0 + 9_000)).toBe(100);
    expect(budget.available(T0 + 14_000)).toBe(50);
  });

  it('rejects bad options with the option named', () => {
    expect(() => resolveRetryBudgetOptions({ ratio: -1 })).toThrow(/option 'retries.budget.ratio' must be a number between 0 and 1000 \(got -1\)/);
    expect(() => resolveRetryBudgetOptions({ ttlMs: 100 })).toThrow(/retries.budget.ttlMs/);
    expect(() => resolveRetryBudgetOptions({ minRetriesPerSecond: Number.NaN })).toThrow(/minRetriesPerSecond/);
  });
});
