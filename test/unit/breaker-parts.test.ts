import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommandRegistry } from 'karyon-ts';
import { resolveCommandSettings } from '../../src/breaker/CommandSettings.js';
import { toHystrixCommand, toHystrixThreadPool } from '../../src/breaker/hystrixEvents.js';
import { Bulkhead } from '../../src/breaker/Bulkhead.js';
import { CommandEventType, CommandMetrics } from '../../src/breaker/CommandMetrics.js';
import { DeadlineQueue } from '../../src/internal/DeadlineQueue.js';
import type { Deadline } from '../../src/internal/DeadlineQueue.js';
import { LogLinearHistogram } from '../../src/breaker/LogLinearHistogram.js';
import { ManualClock } from 'karyon-ts/testing';
import { hystrixCommandIntegerKeys } from '../support/hystrix.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('LogLinearHistogram', () => {
  it('is exact below 16 ms and within 1/16 above, with an exact maximum', () => {
    const h = new LogLinearHistogram();
    for (let v = 1; v <= 100; v++) h.record(v);
    // 50 shares a counter with 51, 90 with 88..91: each reports the top of its counter.
    expect(h.percentiles([0, 50, 90, 99, 100])).toEqual([1, 51, 91, 99, 100]);
    const exact = new LogLinearHistogram();
    for (let v = 0; v < 16; v++) exact.record(v);
    expect(exact.percentiles([0, 25, 50, 100])).toEqual([0, 3, 7, 15]);
    const wide = new LogLinearHistogram();
    for (const v of [1000, 5000, 123_456]) wide.record(v);
    const [p0, p50, p100] = wide.percentiles([0, 50, 100]);
    expect(p0! >= 1000 && p0! <= 1000 * (1 + 1 / 16)).toBe(true);
    expect(p50! >= 5000 && p50! <= 5000 * (1 + 1 / 16)).toBe(true);
    expect(p100).toBe(123_456);
    expect(wide.count).toBe(3);
    expect(wide.max).toBe(123_456);
  });

  it('reports 0 for every percentile when empty, clamps negatives and fractions, and sums histograms', () => {
    const h = new LogLinearHistogram();
    expect(h.percentiles([0, 50, 100])).toEqual([0, 0, 0]);
    h.record(-3);
    h.record(2.9);
    expect(h.percentiles([0, 100])).toEqual([0, 2]);
    const sum = new LogLinearHistogram();
    h.addTo(sum);
    h.addTo(sum);
    expect(sum.count).toBe(4);
    expect(sum.sum).toBe(4);
    h.clear();
    expect(h.count).toBe(0);
    h.record(2 ** 40);
    expect(h.max).toBe(2 ** 32 - 1);
  });
});

describe('CommandMetrics', () => {
  it('rolls buckets lazily on the clock it is given, with no timer', () => {
    const m = new CommandMetrics(1000, 10, 6000, 6, 0);
    m.countRequest(CommandEventType.FAILURE, true, 0);
    m.countRequest(CommandEventType.SUCCESS, false, 550);
    expect(m.healthCounts(999)).toEqual({ requestCount: 2, errorCount: 1, errorPercentage: 50 });
    expect(m.healthCounts(1000)).toEqual({ requestCount: 1, errorCount: 0, errorPercentage: 0 });
    expect(m.healthCounts(1600)).toEqual({ requestCount: 0, errorCount: 0, errorPercentage: 0 });
    expect(m.cumulativeCounts()).toMatchObject({ failure: 1, success: 1 });
    // A long quiet spell clears every bucket at once.
    m.count(CommandEventType.SHORT_CIRCUITED, 1_000_000);
    expect(m.rollingCounts(1_000_000)).toMatchObject({ shortCircuited: 1, failure: 0 });
  });

  it('keeps latency over its own (longer) window and computes percentiles only when asked', () => {
    const spy = vi.spyOn(LogLinearHistogram.prototype, 'percentiles');
    const m = new CommandMetrics(10_000, 10, 60_000, 6, 0);
    for (let i = 1; i <= 1000; i++) m.latency(i % 100, i % 200, i);
    expect(spy).not.toHaveBeenCalled();
    const { execute, total } = m.latencies(1000);
    expect(spy).toHaveBeenCalledTimes(2);
    expect(execute.count).toBe(1000);
    expect(execute.percentiles['100']).toBe(99);
    expect(total.percentiles['100']).toBe(199);
    expect(execute.mean).toBe(49);
    expect(m.latencies(70_000).execute.count).toBe(0);
  });

  it('prepares a new window shape without touching the old one; a shape it cannot allocate changes nothing', () => {
    const m = new CommandMetrics(1000, 10, 6000, 6, 0);
    m.countRequest(CommandEventType.FAILURE, true, 10);
    m.latency(5, 5, 10);
    const counted = { health: m.healthCounts(20), rolling: m.rollingCounts(20), latency: m.latencies(20) };
    expect(() => m.prepareReshape(2 ** 40, 2 ** 40, 6000, 6, 20)).toThrow(RangeError);
    const commit = m.prepareReshape(2000, 4, 12_000, 3, 20);
    expect({ health: m.healthCounts(20), rolling: m.rollingCounts(20), latency: m.latencies(20) }).toEqual(counted);
    commit();
    expect(m.healthCounts(20)).toEqual({ requestCount: 0, errorCount: 0, errorPercentage: 0 });
    expect(m.latencies(20).execute.count).toBe(0);
    expect(m.cumulativeCounts()).toMatchObject({ failure: 1 });
    // The same shape again keeps the window.
    m.countRequest(CommandEventType.SUCCESS, false, 30);
    m.prepareReshape(2000, 4, 12_000, 3, 40)();
    expect(m.healthCounts(40).requestCount).toBe(1);
  });
});

describe('DeadlineQueue', () => {
  function entry(deadline: number, log: number[]): Deadline {
    return {
      deadline,
      prevDeadline: undefined,
      nextDeadline: undefined,
      queued: false,
      expire: () => log.push(deadline),
    };
  }

  it('expires entries in deadline order on one timer, even when added out of order', async () => {
    const clock = new ManualClock(0);
    const queue = new DeadlineQueue(clock);
    const log: number[] = [];
    queue.add(entry(100, log));
    queue.add(entry(300, log));
    queue.add(entry(50, log));
    const removed = entry(75, log);
    queue.add(removed);
    queue.add(entry(200, log));
    queue.remove(removed);
    queue.remove(removed);
    expect(queue.size).toBe(4);
    await clock.advanceAsync(60);
    expect(log).toEqual([50]);
    await clock.advanceAsync(150);
    expect(log).toEqual([50, 100, 200]);
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(100);
    expect(log).toEqual([50, 100, 200, 300]);
    expect(queue.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('drain() hands back every entry and clears the timer', () => {
    const clock = new ManualClock(0);
    const queue = new DeadlineQueue(clock);
    const log: number[] = [];
    queue.add(entry(10, log));
    queue.add(entry(5, log));
    expect(queue.drain().map((e) => e.deadline)).toEqual([5, 10]);
    expect(clock.pendingTimers).toBe(0);
    expect(log).toEqual([]);
  });
});

describe('Bulkhead', () => {
  it('admits waiters in order, skips cancelled ones and keeps its queue small', () => {
    const b = new Bulkhead();
    const admitted: string[] = [];
    const waiter = (name: string) => ({ admit: () => admitted.push(name) });
    expect(b.tryAcquire(1)).toBe(true);
    expect(b.tryAcquire(1)).toBe(false);
    const w1 = waiter('w1');
    expect(b.enqueue(w1, 2)).toBe(true);
    expect(b.enqueue(waiter('w2'), 2)).toBe(true);
    expect(b.enqueue(waiter('w3'), 2)).toBe(false);
    expect(b.cancel(w1)).toBe(true);
    expect(b.cancel(w1)).toBe(false);
    b.release(1);
    expect(admitted).toEqual(['w2']);
    expect(b.running).toBe(1);
    for (let i = 0; i < 1000; i++) {
      const w = waiter(`x${i}`);
      b.enqueue(w, 5);
      b.cancel(w);
    }
    expect(b.queued).toBe(0);
    b.release(1);
    expect(b.running).toBe(0);
    expect(b.completed).toBe(2);
  });
});

describe('settings', () => {
  it('layer over Hystrix defaults and require windows that divide into their buckets', () => {
    expect(resolveCommandSettings("command 'x'", { timeoutMs: 5 }, { timeoutMs: 7 }).timeoutMs).toBe(7);
    expect(() => resolveCommandSettings("command 'x'", { rollingWindowMs: 1001 })).toThrow(
      "setting 'rollingWindowMs' of command 'x' must be a multiple of 'rollingBuckets' (got 1001 ms in 10 buckets)",
    );
    expect(() => resolveCommandSettings("command 'x'", { percentileBuckets: 7 })).toThrow(/percentileWindowMs/);
    expect(() => resolveCommandSettings("command 'x'", { forceOpen: 'yes' } as never)).toThrow(
      "setting 'forceOpen' of command 'x' must be a boolean (got \"yes\")",
    );
    expect(() => resolveCommandSettings("command 'x'", { toString: 1 } as never)).toThrow(/has no setting 'toString'/);
  });
});


describe('Hystrix stream objects', () => {
  it('map a snapshot to a HystrixCommand and a HystrixThreadPool with the counts where Hystrix puts them', async () => {
    const clock = new ManualClock();
    const registry = new CommandRegistry({ clock, group: 'users' });
    let n = 0;
    const cmd = registry.command(
      'getUser',
      async () => {
        const mine = ++n;
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 7));
        if (mine % 2 === 0) throw new Error('even failure');
        return 'ok';
      },
      { maxConcurrent: 2, timeoutMs: 500, fallback: () => 'cached' },
    );
    const calls = [cmd(), cmd(), cmd()]; // the third is rejected by the bulkhead
    await clock.advanceAsync(7);
    await Promise.all(calls);
    const event = toHystrixCommand(cmd.snapshot());
    expect(event).toMatchObject({
      type: 'HystrixCommand',
      name: 'getUser',
      group: 'users',
      isCircuitBreakerOpen: false,
      rollingCountSuccess: 1,
      rollingCountFailure: 1,
      rollingCountSemaphoreRejected: 1,
      rollingCountFallbackSuccess: 2,
      requestCount: 3,
      errorCount: 2,
      errorPercentage: 66,
      rollingMaxConcurrentExecutionCount: 2,
      propertyValue_executionIsolationStrategy: 'SEMAPHORE',
      propertyValue_executionTimeoutInMilliseconds: 500,
      propertyValue_executionIsolationSemaphoreMaxConcurrentRequests: 2,
      reportingHosts: 1,
      threadPool: 'getUser',
    });
    expect(event.latencyExecute['100']).toBe(7);
    for (const key of hystrixCommandIntegerKeys) {
      const value = (event as unknown as Record<string, unknown>)[key];
      expect(Number.isInteger(value), key).toBe(true);
    }
    for (const value of Object.values(event)) expect(value).not.toBeNull();
    const pool = toHystrixThreadPool(cmd.snapshot());
    expect(pool).toMatchObject({
      type: 'HystrixThreadPool',
      name: 'getUser',
      currentActiveCount: 0,
      currentCompletedTaskCount: 2,
      currentCorePoolSize: 2,
      currentLargestPoolSize: 2,
      rollingCountThreadsExecuted: 2,
      rollingCountCommandRejections: 1,
      rollingMaxActiveThreads: 2,
      reportingHosts: 1,
    });
    await registry.close();
  });
});
