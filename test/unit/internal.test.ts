import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { runWithTimeout, sleep } from '../../src/internal/async.js';
import { HttpError, requestUrl } from '../../src/internal/http.js';
import { RepeatingTask } from '../../src/internal/RepeatingTask.js';
import { ManualClock } from 'karyon-ts/testing';

describe('runWithTimeout', () => {
  it('settles at the deadline even when the work ignores its signal', async () => {
    const clock = new ManualClock();
    const result = runWithTimeout(() => new Promise(() => undefined), {
      clock,
      timeoutMs: 100,
      onTimeout: () => new Error('too slow'),
    }).catch((error: Error) => error.message);
    await clock.advanceAsync(100);
    expect(await result).toBe('too slow');
  });

  it('rejects with the parent signal reason when it aborts', async () => {
    const clock = new ManualClock();
    const parent = new AbortController();
    let innerAborted = false;
    const result = runWithTimeout(
      (signal) => new Promise(() => signal.addEventListener('abort', () => (innerAborted = true))),
      { clock, timeoutMs: 0, signal: parent.signal, onTimeout: () => new Error('never') },
    ).catch((error: Error) => error.message);
    parent.abort(new Error('stopping'));
    expect(await result).toBe('stopping');
    expect(innerAborted).toBe(true);
  });

  it('passes values and synchronous throws through, and clears its timer', async () => {
    const clock = new ManualClock();
    await expect(runWithTimeout(() => 42, { clock, timeoutMs: 10, onTimeout: () => new Error('x') })).resolves.toBe(42);
    await expect(
      runWithTimeout(() => {
        throw new Error('sync');
      }, { clock, timeoutMs: 10, onTimeout: () => new Error('x') }),
    ).rejects.toThrow('sync');
    expect(clock.pendingTimers).toBe(0);
  });

  it('sleep resolves on the clock and rejects on abort', async () => {
    const clock = new ManualClock();
    let done = false;
    const slept = sleep(clock, 50).then(() => (done = true));
    await clock.advanceAsync(49);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    await slept;
    expect(done).toBe(true);
    const controller = new AbortController();
    const aborted = sleep(clock, 50, controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(aborted).rejects.toThrow('cancelled');
  });
});

describe('RepeatingTask', () => {
  it('runs at the delay each run returns, never twice at once, and stops on close', async () => {
    const clock = new ManualClock();
    const runsAt: number[] = [];
    const start = clock.now();
    const task = new RepeatingTask({
      clock,
      initialDelayMs: 100,
      run: async () => {
        runsAt.push(clock.now() - start);
        return runsAt.length * 100; // back off: 100, 200, 300...
      },
    });
    await clock.advanceAsync(1000);
    expect(runsAt).toEqual([100, 200, 400, 700]);
    await task.close();
    await clock.advanceAsync(5000);
    expect(runsAt).toHaveLength(4);
    expect(task.closed).toBe(true);
  });

  it('trigger() runs at once, or right after a run in progress', async () => {
    const clock = new ManualClock();
    let runs = 0;
    let release!: () => void;
    const task = new RepeatingTask({
      clock,
      initialDelayMs: 10_000,
      run: async () => {
        runs++;
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
        return 10_000;
      },
    });
    task.trigger();
    expect(runs).toBe(1);
    task.trigger(); // while running: queued
    release();
    await clock.advanceAsync(0);
    expect(runs).toBe(2);
    await task.close();
  });

  it('close() waits for the run in progress and aborts its signal', async () => {
    const clock = new ManualClock();
    let sawAbort = false;
    let release!: () => void;
    const task = new RepeatingTask({
      clock,
      initialDelayMs: 0,
      run: async (signal) => {
        await new Promise<void>((resolve) => (release = resolve));
        sawAbort = signal.aborted;
        return 1000;
      },
    });
    await clock.advanceAsync(0);
    let closed = false;
    const closing = task.close().then(() => (closed = true));
    await clock.advanceAsync(0);
    expect(closed).toBe(false);
    release();
    await closing;
    expect(sawAbort).toBe(true);
  });
});

describe('requestUrl', () => {
  const target = (url: string | undefined) => ({ url }) as IncomingMessage;

  it('parses an origin-form target against the base', () => {
    const url = requestUrl(target('/status?limit=2'), 'http://admin.invalid');
    expect([url.pathname, url.searchParams.get('limit')]).toEqual(['/status', '2']);
    expect(requestUrl(target(undefined), 'http://admin.invalid').pathname).toBe('/');
  });

  it('throws a 400 naming a target URL parsing refuses, never a TypeError', () => {
    for (const bad of ['//a:b/status', '//[', '//x:-1/']) {
      let thrown: unknown;
      try {
        requestUrl(target(bad), 'http://admin.invalid');
      } catch (error) {
        thrown = error;
      }
      expect(thrown, bad).toBeInstanceOf(HttpError);
      expect(thrown, bad).toMatchObject({ status: 400, message: `malformed request target ${JSON.stringify(bad)}` });
    }
  });
});
