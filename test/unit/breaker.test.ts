import { describe, expect, it } from 'vitest';
import { CommandError, CommandRegistry, commandSettingLimits, hystrixDefaults, isKaryonError } from 'karyon-ts';
import type { CommandSettingsOptions, CommandStateChange } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';

/** A registry on a manual clock, and a switchable dependency. */
function setup(defaults = {}) {
  const clock = new ManualClock();
  const registry = new CommandRegistry({ clock, defaults, group: 'svc' });
  const dep = { fail: false, calls: 0 };
  const fn = async (n: number): Promise<number> => {
    dep.calls++;
    if (dep.fail) throw new Error(`boom ${n}`);
    return n;
  };
  return { clock, registry, dep, fn };
}

/** Calls `cmd` n times in sequence, collecting errors instead of throwing. */
async function callMany(cmd: (n: number) => Promise<unknown>, n: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(await cmd(i).catch((error: unknown) => error));
  return out;
}

/** A promise that never settles unless told to, and knows whether its signal was aborted. */
function pending<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('command defaults', () => {
  it("are Hystrix's: timeout 1000 ms, volume 20, 50%, sleep 5000 ms, 10 s in 10 buckets, semaphore 10", () => {
    const { registry, fn } = setup();
    const cmd = registry.command('defaults', fn);
    expect(cmd.settings).toEqual(hystrixDefaults);
    expect(hystrixDefaults).toMatchObject({
      timeoutMs: 1000,
      requestVolumeThreshold: 20,
      errorThresholdPercentage: 50,
      sleepWindowMs: 5000,
      rollingWindowMs: 10_000,
      rollingBuckets: 10,
      maxConcurrent: 10,
      fallbackMaxConcurrent: 10,
    });
    expect(cmd.name).toBe('defaults');
    expect(cmd.group).toBe('svc');
    expect(cmd.state).toBe('CLOSED');
  });

  it('pass the arguments and this through and resolve with the result', async () => {
    const { registry } = setup();
    const target = {
      base: 10,
      add: registry.command('add', function (this: { base: number }, a: number, b: number) {
        return Promise.resolve(this.base + a + b);
      }),
    };
    await expect(target.add(1, 2)).resolves.toBe(13);
    const sync = registry.command('sync', (s: string) => s.toUpperCase());
    await expect(sync('ok')).resolves.toBe('OK');
    const throwsSync = registry.command('throwsSync', () => {
      throw new Error('sync failure');
    });
    await expect(throwsSync()).rejects.toThrow('sync failure');
    expect(throwsSync.snapshot().rolling.failure).toBe(1);
  });
});

describe('tripping', () => {
  it('opens once the volume is met and the error percentage is >= the threshold (50% of 20 trips)', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('trip', fn);
    await callMany(cmd, 10); // 10 successes
    dep.fail = true;
    await callMany(cmd, 9); // 9 failures: 19 requests, below the volume
    expect(cmd.state).toBe('CLOSED');
    await callMany(cmd, 1); // 20 requests, 10 errors = 50%
    expect(cmd.state).toBe('OPEN');
    expect(cmd.snapshot().health).toEqual({ requestCount: 20, errorCount: 10, errorPercentage: 50 });
  });

  it('does not open below the volume threshold, even at 100% errors', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('volume', fn);
    dep.fail = true;
    await callMany(cmd, 19);
    expect(cmd.state).toBe('CLOSED');
    expect(cmd.snapshot().health).toEqual({ requestCount: 19, errorCount: 19, errorPercentage: 100 });
  });

  it('rounds the error percentage down as Hystrix does: 49.x% does not trip a 50% threshold', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('rounding', fn, { requestVolumeThreshold: 0 });
    await callMany(cmd, 51);
    dep.fail = true;
    await callMany(cmd, 49); // 49 of 100 = 49%
    await callMany(cmd, 0);
    expect(cmd.state).toBe('CLOSED');
    dep.fail = false;
    await callMany(cmd, 1); // 49 of 101 = 48.5%
    dep.fail = true;
    await callMany(cmd, 1); // 50 of 102 = 49.02% -> 49
    expect(cmd.snapshot().health.errorPercentage).toBe(49);
    expect(cmd.state).toBe('CLOSED');
    await callMany(cmd, 2); // 52 of 104 = 50%
    expect(cmd.state).toBe('OPEN');
  });

  it('opens when successes bring the volume up while the error percentage is already high', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('late-volume', fn);
    dep.fail = true;
    await callMany(cmd, 10);
    dep.fail = false;
    await callMany(cmd, 9);
    expect(cmd.state).toBe('CLOSED');
    await callMany(cmd, 1); // 20 requests, 10 errors
    expect(cmd.state).toBe('OPEN');
  });

  it('forgets errors older than the rolling window', async () => {
    const { clock, registry, dep, fn } = setup();
    const cmd = registry.command('window', fn);
    dep.fail = true;
    await callMany(cmd, 15);
    await clock.advanceAsync(10_000); // every bucket has rolled over
    expect(cmd.snapshot().health.requestCount).toBe(0);
    await callMany(cmd, 15);
    expect(cmd.state).toBe('CLOSED'); // 15 requests in the window, below 20
    await clock.advanceAsync(5000);
    await callMany(cmd, 5); // the 15 from 5 s ago are still in the 10 s window: 20 requests
    expect(cmd.state).toBe('OPEN');
  });

  it('half the window later, only the newer half of the buckets counts', async () => {
    const { clock, registry, dep, fn } = setup();
    const cmd = registry.command('buckets', fn);
    dep.fail = true;
    await callMany(cmd, 10);
    await clock.advanceAsync(6000);
    dep.fail = false;
    await callMany(cmd, 9);
    expect(cmd.snapshot().health).toEqual({ requestCount: 19, errorCount: 10, errorPercentage: 52 });
    await clock.advanceAsync(4000); // the failures' bucket (t=0..1 s) leaves the window at t=10 s
    expect(cmd.snapshot().health).toEqual({ requestCount: 9, errorCount: 0, errorPercentage: 0 });
    expect(cmd.snapshot().rolling.failure).toBe(0);
    expect(cmd.snapshot().cumulative.failure).toBe(10);
  });
});

describe('open circuit', () => {
  it('short-circuits with ERR_BREAKER_OPEN naming the command, without calling the function or counting a request', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('open', fn);
    dep.fail = true;
    await callMany(cmd, 20);
    expect(cmd.state).toBe('OPEN');
    const callsBefore = dep.calls;
    const error = await cmd(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ code: 'ERR_BREAKER_OPEN', command: 'open', group: 'svc', retryable: false });
    expect(isKaryonError(error, 'ERR_BREAKER_OPEN')).toBe(true);
    expect(dep.calls).toBe(callsBefore);
    const snap = cmd.snapshot();
    expect(snap.rolling.shortCircuited).toBe(1);
    expect(snap.health).toEqual({ requestCount: 20, errorCount: 20, errorPercentage: 100 });
    expect(snap.rolling.fallbackMissing).toBe(21);
    expect(snap.rolling.exceptionsThrown).toBe(21);
    expect(snap.circuitOpen).toBe(true);
  });

  it('lets exactly one trial through after the sleep window; success closes and clears the window', async () => {
    const { clock, registry, dep } = setup();
    const gate = pending<string>();
    let mode: 'fail' | 'gate' = 'fail';
    const cmd = registry.command('half-open', () => {
      dep.calls++;
      return mode === 'fail' ? Promise.reject(new Error('down')) : gate.promise;
    });
    await callMany(cmd, 20);
    expect(cmd.state).toBe('OPEN');
    await clock.advanceAsync(4999);
    await expect(cmd()).rejects.toMatchObject({ code: 'ERR_BREAKER_OPEN' });
    await clock.advanceAsync(1);
    mode = 'gate';
    const calls = dep.calls;
    const trial = cmd();
    expect(cmd.state).toBe('HALF_OPEN');
    await expect(cmd()).rejects.toMatchObject({ code: 'ERR_BREAKER_OPEN' }); // only one trial
    expect(dep.calls).toBe(calls + 1);
    gate.resolve('fine');
    await expect(trial).resolves.toBe('fine');
    expect(cmd.state).toBe('CLOSED');
    expect(cmd.snapshot().health).toEqual({ requestCount: 0, errorCount: 0, errorPercentage: 0 });
    // The event counts the dashboard shows are kept; only the breaker's health counts start over.
    expect(cmd.snapshot().rolling.failure).toBe(20);
  });

  it('a failed trial re-opens the circuit for a whole new sleep window', async () => {
    const { clock, registry, dep, fn } = setup();
    const cmd = registry.command('retrip', fn);
    dep.fail = true;
    await callMany(cmd, 20);
    await clock.advanceAsync(5000);
    await expect(cmd(1)).rejects.toThrow('boom 1');
    expect(cmd.state).toBe('OPEN');
    await clock.advanceAsync(4999);
    await expect(cmd(2)).rejects.toMatchObject({ code: 'ERR_BREAKER_OPEN' });
    await clock.advanceAsync(1);
    dep.fail = false;
    await expect(cmd(3)).resolves.toBe(3);
    expect(cmd.state).toBe('CLOSED');
  });

  it('a trial that times out re-opens the circuit, counted once as a timeout', async () => {
    const { clock, registry, dep, fn } = setup();
    let hang = false;
    const cmd = registry.command('trial-timeout', (n: number) => (hang ? new Promise<number>(() => undefined) : fn(n)), { timeoutMs: 100 });
    dep.fail = true;
    await callMany(cmd, 20);
    await clock.advanceAsync(5000);
    hang = true;
    const trial = cmd(1).catch((e: unknown) => e);
    expect(cmd.state).toBe('HALF_OPEN');
    await clock.advanceAsync(100);
    expect(await trial).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT', command: 'trial-timeout' });
    expect(cmd.state).toBe('OPEN');
    const rolling = cmd.snapshot().rolling;
    expect(rolling.timeout).toBe(1);
    expect(rolling.failure).toBe(20);
  });
});

describe('timeouts', () => {
  it('count once, as a timeout (an error), not also as a failure; the late result is ignored', async () => {
    const { clock, registry } = setup();
    const gate = pending<string>();
    const cmd = registry.command('slow', () => gate.promise, { timeoutMs: 250 });
    const call = cmd().catch((e: unknown) => e);
    await clock.advanceAsync(249);
    expect(cmd.snapshot().bulkhead.running).toBe(1);
    await clock.advanceAsync(1);
    const error = await call;
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT', command: 'slow', retryable: true });
    expect((error as Error).message).toContain('250 ms');
    gate.resolve('late');
    await clock.advanceAsync(0);
    const snap = cmd.snapshot();
    expect(snap.rolling).toMatchObject({ timeout: 1, failure: 0, success: 0, exceptionsThrown: 1 });
    expect(snap.health).toEqual({ requestCount: 1, errorCount: 1, errorPercentage: 100 });
    expect(snap.bulkhead.running).toBe(0);
    expect(snap.latency.execute.percentiles['100']).toBe(250);
  });

  it('abort the signal of execute() work and of an abortable command', async () => {
    const { clock, registry } = setup();
    const seen: AbortSignal[] = [];
    const hang = (signal: AbortSignal) => {
      seen.push(signal);
      return new Promise<never>(() => undefined);
    };
    const executor = registry.executor('exec', { timeoutMs: 50 });
    const a = executor.execute(hang).catch((e: unknown) => e);
    const abortable = registry.abortableCommand('abortable', (signal: AbortSignal, id: string) => hang(signal).then(() => id), { timeoutMs: 50 });
    const b = abortable('x').catch((e: unknown) => e);
    expect(seen.map((s) => s.aborted)).toEqual([false, false]);
    await clock.advanceAsync(50);
    expect(await a).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT', command: 'exec' });
    expect(await b).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT', command: 'abortable' });
    expect(seen.map((s) => s.aborted)).toEqual([true, true]);
    expect(seen[0]!.reason).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT' });
  });

  it('call run()\'s onAbandon on timeout and on close (for callers with their own cancellation), never after success', async () => {
    const { clock, registry } = setup();
    const abandoned: string[] = [];
    const executor = registry.executor('run', { timeoutMs: 50 });
    const quick = executor.run(() => 'fast', { onAbandon: (r) => abandoned.push(`quick ${r.message}`) });
    await expect(quick).resolves.toBe('fast');
    const slow = executor.run(() => new Promise<never>(() => undefined), { onAbandon: (r) => abandoned.push((r as CommandError).code) }).catch((e: unknown) => e);
    await clock.advanceAsync(50);
    expect(await slow).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT' });
    const atClose = executor.run(() => new Promise<never>(() => undefined), { onAbandon: (r) => abandoned.push(`close: ${r.message}`) }).catch((e: unknown) => e);
    await registry.close();
    expect(await atClose).toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(abandoned).toEqual(['ERR_COMMAND_TIMEOUT', "close: command 'run' was closed while the call was in flight"]);
  });

  it('leave the signal alone when interruptOnTimeout is off', async () => {
    const { clock, registry } = setup();
    let signal: AbortSignal | undefined;
    const executor = registry.executor('no-interrupt', { timeoutMs: 10, interruptOnTimeout: false });
    const call = executor.execute((s) => {
      signal = s;
      return new Promise<never>(() => undefined);
    });
    const settled = call.catch((e: unknown) => e);
    await clock.advanceAsync(10);
    expect(await settled).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT' });
    expect(signal?.aborted).toBe(false);
  });

  it('use one timer for many calls, not one each', async () => {
    const { clock, registry } = setup();
    const cmd = registry.command('many', () => new Promise<never>(() => undefined), { timeoutMs: 100, maxConcurrent: 1000 });
    const calls = Array.from({ length: 500 }, () => cmd().catch((e: unknown) => e));
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(100);
    const results = await Promise.all(calls);
    expect(results.every((r) => isKaryonError(r, 'ERR_COMMAND_TIMEOUT'))).toBe(true);
    expect(cmd.snapshot().rolling.timeout).toBe(500);
  });

  it('timeoutMs 0 turns the timeout off', async () => {
    const { clock, registry } = setup();
    const gate = pending<number>();
    const cmd = registry.command('untimed', () => gate.promise, { timeoutMs: 0 });
    const call = cmd();
    await clock.advanceAsync(60_000);
    gate.resolve(7);
    await expect(call).resolves.toBe(7);
  });
});

describe('bulkhead', () => {
  it('rejects beyond maxConcurrent with ERR_BULKHEAD_FULL, counted as semaphoreRejected and as an error', async () => {
    const { registry } = setup();
    const gates = [pending<number>(), pending<number>()];
    let i = 0;
    const cmd = registry.command('bulk', () => gates[i++]!.promise, { maxConcurrent: 2 });
    const a = cmd();
    const b = cmd();
    const error = await cmd().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ code: 'ERR_BULKHEAD_FULL', command: 'bulk', retryable: false });
    const snap = cmd.snapshot();
    expect(snap.rolling.semaphoreRejected).toBe(1);
    expect(snap.bulkhead).toMatchObject({ running: 2, queued: 0, rollingRejected: 1, rollingMaxRunning: 2 });
    // Hystrix's HealthCounts add SEMAPHORE_REJECTED to both the total and the errors.
    expect(snap.health).toEqual({ requestCount: 1, errorCount: 1, errorPercentage: 100 });
    gates[0]!.resolve(1);
    gates[1]!.resolve(2);
    await expect(Promise.all([a, b])).resolves.toEqual([1, 2]);
    expect(cmd.snapshot().bulkhead).toMatchObject({ running: 0, completed: 2, largestRunning: 2 });
  });

  it('with rejectionsCountAsErrors off, rejections do not feed the error percentage', async () => {
    const { registry } = setup();
    const cmd = registry.command('bulk-quiet', () => new Promise<never>(() => undefined), {
      maxConcurrent: 1,
      rejectionsCountAsErrors: false,
      timeoutMs: 0,
      requestVolumeThreshold: 1,
    });
    void cmd();
    await callMany(cmd, 30);
    const snap = cmd.snapshot();
    expect(snap.rolling.semaphoreRejected).toBe(30);
    expect(snap.health.requestCount).toBe(0);
    expect(cmd.state).toBe('CLOSED');
  });

  it('by default a saturated bulkhead can open the circuit, as in Hystrix', async () => {
    const { registry } = setup();
    const cmd = registry.command('bulk-trip', () => new Promise<never>(() => undefined), { maxConcurrent: 1, timeoutMs: 0 });
    void cmd();
    await callMany(cmd, 20);
    expect(cmd.state).toBe('OPEN');
  });

  it('queues up to maxQueued calls and runs them in order as permits free up', async () => {
    const { registry } = setup();
    const gates = [pending<string>(), pending<string>(), pending<string>()];
    const order: number[] = [];
    let i = 0;
    const cmd = registry.command(
      'queue',
      () => {
        const n = i++;
        order.push(n);
        return gates[n]!.promise;
      },
      { maxConcurrent: 1, maxQueued: 2 },
    );
    const a = cmd();
    const b = cmd();
    const c = cmd();
    await expect(cmd()).rejects.toMatchObject({ code: 'ERR_BULKHEAD_FULL' });
    expect(cmd.snapshot().bulkhead).toMatchObject({ running: 1, queued: 2 });
    expect(order).toEqual([0]);
    gates[0]!.resolve('a');
    await expect(a).resolves.toBe('a');
    expect(order).toEqual([0, 1]);
    gates[1]!.resolve('b');
    gates[2]!.resolve('c');
    await expect(Promise.all([b, c])).resolves.toEqual(['b', 'c']);
  });

  it('a call that times out while queued leaves the queue and counts as a timeout', async () => {
    const { clock, registry } = setup();
    const first = pending<string>();
    let calls = 0;
    const cmd = registry.command('queue-timeout', () => (calls++ === 0 ? first.promise : Promise.resolve('second')), {
      maxConcurrent: 1,
      maxQueued: 1,
      timeoutMs: 100,
    });
    const a = cmd().catch((e: unknown) => e);
    await clock.advanceAsync(50);
    const b = cmd().catch((e: unknown) => e);
    expect(cmd.snapshot().bulkhead.queued).toBe(1);
    await clock.advanceAsync(50); // a times out and frees the permit, b runs
    expect(await a).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT' });
    expect(await b).toBe('second');
    const c = cmd().catch((e: unknown) => e); // runs: nothing else holds the permit
    expect(await c).toBe('second');
    expect(calls).toBe(3);
    const blocker = registry.command('queue-timeout-2', () => new Promise<never>(() => undefined), {
      maxConcurrent: 1,
      maxQueued: 1,
      timeoutMs: 100,
    });
    const d = blocker().catch((e: unknown) => e);
    await clock.advanceAsync(60);
    const queued = blocker().catch((e: unknown) => e);
    await clock.advanceAsync(40); // d times out; the queued call starts and hangs
    await clock.advanceAsync(60); // the queued call times out 100 ms after it was made
    expect(await d).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT' });
    expect(await queued).toMatchObject({ code: 'ERR_COMMAND_TIMEOUT' });
    expect(blocker.snapshot().rolling.timeout).toBe(2);
  });

  it('a larger maxConcurrent set live admits queued calls at once', async () => {
    const { registry } = setup();
    const gate = pending<string>();
    const cmd = registry.command('grow', () => gate.promise, { maxConcurrent: 1, maxQueued: 5, timeoutMs: 0 });
    void cmd();
    void cmd();
    void cmd();
    expect(cmd.snapshot().bulkhead).toMatchObject({ running: 1, queued: 2 });
    cmd.setOptions({ maxConcurrent: 3 });
    expect(cmd.snapshot().bulkhead).toMatchObject({ running: 3, queued: 0 });
  });
});

describe('fallbacks', () => {
  it('answer failures with the arguments and the error, counted as fallbackSuccess', async () => {
    const { registry, dep, fn } = setup();
    const seen: unknown[][] = [];
    const cmd = registry.command('fb', fn, {
      fallback: (n, error) => {
        seen.push([n, (error as Error).message]);
        return -n;
      },
    });
    dep.fail = true;
    await expect(cmd(5)).resolves.toBe(-5);
    expect(seen).toEqual([[5, 'boom 5']]);
    expect(cmd.snapshot().rolling).toMatchObject({ failure: 1, fallbackSuccess: 1, exceptionsThrown: 0, fallbackMissing: 0 });
  });

  it('answer short-circuits, timeouts and bulkhead rejections too', async () => {
    const { clock, registry } = setup();
    const causes: string[] = [];
    const cmd = registry.command('fb-all', () => new Promise<string>(() => undefined), {
      timeoutMs: 10,
      maxConcurrent: 1,
      fallback: (error) => {
        causes.push((error as CommandError).code);
        return 'fallback';
      },
    });
    const first = cmd();
    await expect(cmd()).resolves.toBe('fallback');
    await clock.advanceAsync(10);
    await expect(first).resolves.toBe('fallback');
    cmd.forceOpen();
    await expect(cmd()).resolves.toBe('fallback');
    expect(causes).toEqual(['ERR_BULKHEAD_FULL', 'ERR_COMMAND_TIMEOUT', 'ERR_BREAKER_OPEN']);
    expect(cmd.snapshot().rolling).toMatchObject({ fallbackSuccess: 3, semaphoreRejected: 1, timeout: 1, shortCircuited: 1 });
  });

  it('a failing fallback counts fallbackFailure and the call rejects with the primary error', async () => {
    const { registry, dep, fn } = setup();
    const events: unknown[] = [];
    const cmd = registry.command('fb-fail', fn, {
      fallback: () => Promise.reject(new Error('fallback broke')),
    });
    cmd.on('fallback', (event) => events.push(event));
    dep.fail = true;
    await expect(cmd(1)).rejects.toThrow('boom 1');
    expect(cmd.snapshot().rolling).toMatchObject({ failure: 1, fallbackFailure: 1, exceptionsThrown: 1 });
    expect(events).toEqual([
      expect.objectContaining({ command: 'fb-fail', outcome: 'failure', cause: expect.objectContaining({ message: 'boom 1' }), error: expect.objectContaining({ message: 'fallback broke' }) }),
    ]);
  });

  it('are rejected beyond fallbackMaxConcurrent, counted as fallbackRejection', async () => {
    const { registry, dep, fn } = setup();
    const gate = pending<number>();
    const cmd = registry.command('fb-limit', fn, { fallbackMaxConcurrent: 1, fallback: () => gate.promise });
    dep.fail = true;
    const first = cmd(1);
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    await expect(cmd(2)).rejects.toThrow('boom 2');
    gate.resolve(99);
    await expect(first).resolves.toBe(99);
    expect(cmd.snapshot().rolling).toMatchObject({ fallbackRejection: 1, fallbackSuccess: 1, exceptionsThrown: 1 });
  });

  it('can be another command, called with the same arguments, with its own metrics', async () => {
    const { registry, dep, fn } = setup();
    const cache = registry.command('cache', (n: number) => Promise.resolve(n * 100));
    const cmd = registry.command('primary', fn, { fallback: cache });
    dep.fail = true;
    await expect(cmd(3)).resolves.toBe(300);
    expect(cmd.snapshot().rolling.fallbackSuccess).toBe(1);
    expect(cache.snapshot().rolling.success).toBe(1);
  });

  it('are skipped when fallbackEnabled is off, and missing ones are counted', async () => {
    const { registry, dep, fn } = setup();
    const off = registry.command('fb-off', fn, { fallbackEnabled: false, fallback: () => 1 });
    const none = registry.command('fb-none', fn);
    dep.fail = true;
    await expect(off(1)).rejects.toThrow('boom 1');
    await expect(none(1)).rejects.toThrow('boom 1');
    expect(off.snapshot().rolling).toMatchObject({ fallbackSuccess: 0, fallbackMissing: 0, exceptionsThrown: 1 });
    expect(none.snapshot().rolling).toMatchObject({ fallbackMissing: 1, exceptionsThrown: 1 });
  });

  it('execute() takes a per-call fallback', async () => {
    const { registry } = setup();
    const executor = registry.executor('exec-fb');
    await expect(executor.execute(() => Promise.reject(new Error('x')), { fallback: (e) => `fell back after ${(e as Error).message}` })).resolves.toBe(
      'fell back after x',
    );
  });
});

describe('bad requests', () => {
  it('are neither failures nor requests, skip the fallback and never open the circuit', async () => {
    const { registry } = setup();
    class NotFound extends Error {}
    let fallbacks = 0;
    const cmd = registry.command('bad', (): Promise<string> => Promise.reject(new NotFound('404')), {
      isBadRequest: (e) => e instanceof NotFound,
      fallback: () => {
        fallbacks++;
        return 'x';
      },
    });
    await callMany(cmd, 30);
    const snap = cmd.snapshot();
    expect(snap.rolling).toMatchObject({ badRequest: 30, failure: 0, exceptionsThrown: 0 });
    expect(snap.health.requestCount).toBe(0);
    expect(fallbacks).toBe(0);
    expect(cmd.state).toBe('CLOSED');
  });
});

describe('answers counted as failures (isFailure)', () => {
  it('count for the circuit and open it, while each call still answers its value, with no fallback', async () => {
    const { registry } = setup();
    const executor = registry.executor('status');
    let fallbacks = 0;
    const options = {
      isFailure: (res: { status: number }) => res.status >= 500,
      fallback: () => {
        fallbacks++;
        return { status: 0 };
      },
    };
    const answers: unknown[] = [];
    for (let i = 0; i < 20; i++) answers.push(await executor.run(() => Promise.resolve({ status: i % 2 === 0 ? 503 : 200 }), options));
    expect(answers.slice(0, 4)).toEqual([{ status: 503 }, { status: 200 }, { status: 503 }, { status: 200 }]);
    expect(fallbacks).toBe(0);
    expect(executor.snapshot().rolling).toMatchObject({ success: 10, failure: 10, exceptionsThrown: 0, fallbackMissing: 0 });
    expect(executor.state).toBe('OPEN');
    await expect(executor.run(() => ({ status: 200 }), options)).resolves.toEqual({ status: 0 });
  });

  it('apply to execute() and to synchronous answers too', async () => {
    const { registry } = setup({ requestVolumeThreshold: 4 });
    const executor = registry.executor('sync');
    for (let i = 0; i < 4; i++) expect(await executor.execute(() => 'bad', { isFailure: (v) => v === 'bad' })).toBe('bad');
    expect(executor.state).toBe('OPEN');
  });

  it('decide a trial: a failing answer re-opens the circuit, a good one closes it', async () => {
    const { clock, registry } = setup({ requestVolumeThreshold: 2 });
    const executor = registry.executor('trial');
    const isFailure = (code: number): boolean => code >= 500;
    await executor.run(() => 500, { isFailure });
    await executor.run(() => 500, { isFailure });
    expect(executor.state).toBe('OPEN');
    await clock.advanceAsync(5000);
    expect(await executor.run(() => 502, { isFailure })).toBe(502);
    expect(executor.state).toBe('OPEN');
    await clock.advanceAsync(5000);
    expect(await executor.run(() => 204, { isFailure })).toBe(204);
    expect(executor.state).toBe('CLOSED');
  });

  it('a predicate that throws counts a success and is logged', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} };
    const registry = new CommandRegistry({ clock: new ManualClock(), logger, defaults: { requestVolumeThreshold: 2 } });
    const executor = registry.executor('broken-predicate');
    const isFailure = (): boolean => {
      throw new Error('oops');
    };
    for (let i = 0; i < 3; i++) expect(await executor.run(() => i, { isFailure })).toBe(i);
    expect(executor.snapshot().rolling).toMatchObject({ success: 3, failure: 0 });
    expect(executor.state).toBe('CLOSED');
    expect(warnings[0]).toContain("isFailure of a call of command 'broken-predicate' threw");
  });
});

describe('forced states and reset', () => {
  it('forceOpen short-circuits a healthy command; forceClosed runs a failing one; reset restores normal operation', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('forced', fn);
    cmd.forceOpen();
    expect(cmd.state).toBe('FORCED_OPEN');
    await expect(cmd(1)).rejects.toMatchObject({ code: 'ERR_BREAKER_OPEN' });
    expect(((await cmd(1).catch((e: unknown) => e)) as Error).message).toContain('forced open');
    cmd.forceClosed();
    expect(cmd.state).toBe('FORCED_CLOSED');
    dep.fail = true;
    const results = await callMany(cmd, 40);
    expect(results.every((r) => (r as Error).message.startsWith('boom'))).toBe(true);
    expect(cmd.state).toBe('FORCED_CLOSED');
    expect(cmd.settings).toMatchObject({ forceOpen: false, forceClosed: true });
    cmd.reset();
    expect(cmd.state).toBe('CLOSED');
    expect(cmd.settings).toMatchObject({ forceOpen: false, forceClosed: false });
    expect(cmd.snapshot().health.requestCount).toBe(0);
    await callMany(cmd, 20);
    expect(cmd.state).toBe('OPEN');
    cmd.reset();
    expect(cmd.state).toBe('CLOSED');
  });

  it('breakerEnabled off never short-circuits but still counts', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('disabled', fn, { breakerEnabled: false });
    dep.fail = true;
    await callMany(cmd, 30);
    expect(cmd.state).toBe('DISABLED');
    expect(cmd.snapshot().rolling.failure).toBe(30);
    expect(cmd.snapshot().circuitOpen).toBe(false);
  });
});

describe('events', () => {
  it('emit open, halfOpen, close, reject, timeout and fallback with typed payloads', async () => {
    const { clock, registry, dep, fn } = setup();
    let hang = false;
    const cmd = registry.command('events', (n: number) => (hang ? new Promise<number>(() => undefined) : fn(n)), {
      timeoutMs: 100,
      fallback: () => -1,
    });
    const log: string[] = [];
    const changes: CommandStateChange[] = [];
    const registryChanges: CommandStateChange[] = [];
    registry.on('stateChange', (change) => registryChanges.push(change));
    cmd.on('open', (c) => log.push(`open:${c.reason}`))
      .on('halfOpen', (c) => log.push(`halfOpen:${c.reason}`))
      .on('close', (c) => log.push(`close:${c.reason}`))
      .on('reject', (e) => log.push(`reject:${e.reason}:${e.error.code}`))
      .on('timeout', (e) => log.push(`timeout:${e.timeoutMs}:${String(e.whileQueued)}`))
      .on('fallback', (e) => log.push(`fallback:${e.outcome}`))
      .on('stateChange', (c) => changes.push(c));
    dep.fail = true;
    await callMany(cmd, 20);
    expect(log.filter((l) => l === 'fallback:success')).toHaveLength(20);
    // The circuit opens on the failure that tips it, before that call's fallback answers.
    expect(log.slice(-2)).toEqual(['open:tripped', 'fallback:success']);
    await cmd(1);
    expect(log.slice(-2)).toEqual(['reject:shortCircuited:ERR_BREAKER_OPEN', 'fallback:success']);
    await clock.advanceAsync(5000);
    hang = true;
    const trial = cmd(2);
    await clock.advanceAsync(100);
    await trial;
    await clock.advanceAsync(5000);
    hang = false;
    dep.fail = false;
    await cmd(3);
    expect(log.slice(-6)).toEqual([
      'halfOpen:sleep window passed',
      'timeout:100:false',
      'open:trial failed',
      'fallback:success',
      'halfOpen:sleep window passed',
      'close:trial succeeded',
    ]);
    expect(changes.map((c) => `${c.from}>${c.to}`)).toEqual([
      'CLOSED>OPEN',
      'OPEN>HALF_OPEN',
      'HALF_OPEN>OPEN',
      'OPEN>HALF_OPEN',
      'HALF_OPEN>CLOSED',
    ]);
    expect(changes[0]).toMatchObject({ command: 'events', group: 'svc', health: { requestCount: 20, errorCount: 20, errorPercentage: 100 } });
    expect(registryChanges).toEqual(changes);
  });
});

describe('cancellation', () => {
  it("the caller's signal abandons the call without fallback, aborts the work's signal and counts cancelled", async () => {
    const { registry } = setup();
    let workSignal: AbortSignal | undefined;
    const executor = registry.executor('cancel');
    const controller = new AbortController();
    const call = executor.execute(
      (signal) => {
        workSignal = signal;
        return new Promise<never>(() => undefined);
      },
      { signal: controller.signal, fallback: () => 'never' },
    );
    controller.abort(new Error('caller left'));
    await expect(call).rejects.toThrow('caller left');
    expect(workSignal?.aborted).toBe(true);
    expect(executor.snapshot().rolling).toMatchObject({ cancelled: 1, fallbackSuccess: 0 });
    expect(executor.snapshot().bulkhead.running).toBe(0);
    await expect(executor.execute(() => 1, { signal: controller.signal })).rejects.toThrow('caller left');
  });
});

describe('settings', () => {
  it('change live with setOptions; null removes an override; invalid changes change nothing', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('live', fn, { requestVolumeThreshold: 5 });
    cmd.setOptions({ errorThresholdPercentage: 90 });
    dep.fail = true;
    await callMany(cmd, 4);
    dep.fail = false;
    await callMany(cmd, 1); // 80% of 5 < 90%
    expect(cmd.state).toBe('CLOSED');
    expect(() => cmd.setOptions({ errorThresholdPercentage: 101 })).toThrow(/setting 'errorThresholdPercentage' of command 'live' must be an integer from 0 to 100 \(got 101\)/);
    expect(() => cmd.setOptions({ timeout: 5 } as never)).toThrow(/command 'live' has no setting 'timeout'/);
    expect(() => cmd.setOptions({ rollingBuckets: 7 })).toThrow(/rollingWindowMs.*multiple of 'rollingBuckets'/);
    expect(cmd.settings.errorThresholdPercentage).toBe(90);
    cmd.setOptions({ errorThresholdPercentage: null });
    expect(cmd.settings.errorThresholdPercentage).toBe(50);
    expect(cmd.overrides).toEqual({ requestVolumeThreshold: 5 });
    dep.fail = true;
    await callMany(cmd, 1);
    expect(cmd.state).toBe('OPEN');
  });

  it('registry defaults layer between Hystrix and the command, and change live', () => {
    const { registry, fn } = setup({ timeoutMs: 2000 });
    const a = registry.command('a', fn);
    const b = registry.command('b', fn, { timeoutMs: 300 });
    expect([a.settings.timeoutMs, b.settings.timeoutMs]).toEqual([2000, 300]);
    registry.setDefaults({ timeoutMs: 700, maxConcurrent: 50 });
    expect([a.settings.timeoutMs, b.settings.timeoutMs, b.settings.maxConcurrent]).toEqual([700, 300, 50]);
    registry.setDefaults({ timeoutMs: null });
    expect(a.settings.timeoutMs).toBe(1000);
    expect(() => registry.setDefaults({ maxConcurrent: 0 })).toThrow(/maxConcurrent.*integer from 1 to 1000000/);
    expect(() => new CommandRegistry({ defaults: { sleepWindowMs: -1 } })).toThrow(/sleepWindowMs/);
  });

  it('are checked when a command is made, naming the command and the setting', () => {
    const { registry, fn } = setup();
    expect(() => registry.command('bad', fn, { timeoutMs: -5 })).toThrow("setting 'timeoutMs' of command 'bad' must be an integer from 0 to 2147483647 (got -5)");
    expect(() => registry.command('bad', fn, { maxQueued: 1.5 })).toThrow(/maxQueued/);
    expect(() => registry.command('', fn)).toThrow(/command name must be a non-empty string/);
    expect(() => registry.command('nofn', 'x' as never)).toThrow(/needs a function/);
    expect(() => registry.command('badfb', fn, { fallback: 42 as never })).toThrow(/fallback/);
    expect(() => registry.executor('exec', { fallback: () => 1 } as never)).toThrow(/takes no fallback/);
  });
});

describe('setting limits', () => {
  const MAX_MS = 2_147_483_647; // 2^31 - 1: the longest delay a Node timer takes
  const none = (): CommandSettingsOptions => ({});
  /**
   * Each numeric setting: its range, and the other settings a value needs to divide evenly (a window and its
   * bucket count must), so only the setting under test is ever at fault.
   */
  const limits: [keyof typeof commandSettingLimits, number, number, (value: number) => CommandSettingsOptions][] = [
    ['timeoutMs', 0, MAX_MS, none],
    ['requestVolumeThreshold', 0, MAX_MS, none],
    ['errorThresholdPercentage', 0, 100, none],
    ['sleepWindowMs', 1, MAX_MS, none],
    ['rollingWindowMs', 1, MAX_MS, () => ({ rollingBuckets: 1 })],
    ['rollingBuckets', 1, 1000, (value) => ({ rollingWindowMs: Math.max(value, 1) * 10 })],
    ['percentileWindowMs', 1, MAX_MS, () => ({ percentileBuckets: 1 })],
    ['percentileBuckets', 1, 100, (value) => ({ percentileWindowMs: Math.max(value, 1) * 600 })],
    ['maxConcurrent', 1, 1_000_000, none],
    ['maxQueued', 0, 1_000_000, none],
    ['fallbackMaxConcurrent', 1, 1_000_000, none],
  ];

  it('cover every numeric setting, as documented', () => {
    expect(Object.fromEntries(limits.map(([key, min, max]) => [key, { min, max }]))).toEqual(commandSettingLimits);
    const numeric = Object.entries(hystrixDefaults).filter(([, value]) => typeof value === 'number').map(([key]) => key);
    expect(Object.keys(commandSettingLimits).sort()).toEqual(numeric.sort());
  });

  it.each(limits)('%s: %d to %d; the ends and the values just inside pass, one beyond either end is refused, naming the setting, the range and the value', (key, min, max, companions) => {
    const { registry, fn } = setup();
    const cmd = registry.command('live', fn, companions(min));
    for (const value of [min, min + 1, max - 1, max]) {
      const made = registry.command(`made-${value}`, fn, { ...companions(value), [key]: value });
      expect(made.settings[key]).toBe(value);
      cmd.setOptions({ ...companions(value), [key]: value });
      expect(cmd.settings[key]).toBe(value);
      registry.setDefaults({ ...companions(value), [key]: value });
      expect(registry.defaults).toEqual({ ...companions(value), [key]: value });
    }
    const overrides = cmd.overrides;
    const defaults = registry.defaults;
    for (const value of [min - 1, max + 1]) {
      const update = { ...companions(value), [key]: value };
      const message = (where: string) => `setting '${key}' of ${where} must be an integer from ${min} to ${max} (got ${value})`;
      expect(() => registry.command('bad', fn, update)).toThrow(message("command 'bad'"));
      expect(() => cmd.setOptions(update)).toThrow(message("command 'live'"));
      expect(() => registry.setDefaults(update)).toThrow(message('the command defaults'));
      expect(() => new CommandRegistry({ defaults: update })).toThrow(message('the command defaults'));
    }
    expect(registry.has('bad')).toBe(false);
    expect(cmd.overrides).toBe(overrides);
    expect(registry.defaults).toBe(defaults);
  });

  it('refuse a huge timeout: Node would fire a timer of more than 2^31 - 1 ms after 1 ms, again and again', async () => {
    const { registry, fn } = setup();
    expect(() => registry.command('huge', fn, { timeoutMs: 3e9 })).toThrow(
      "setting 'timeoutMs' of command 'huge' must be an integer from 0 to 2147483647 (got 3000000000)",
    );
    const cmd = registry.command('longest', fn, { timeoutMs: 1000 });
    expect(() => cmd.setOptions({ timeoutMs: 2 ** 31 })).toThrow(/must be an integer from 0 to 2147483647 \(got 2147483648\)/);
    expect(() => registry.setDefaults({ timeoutMs: 3e9 })).toThrow(/'timeoutMs' of the command defaults .* \(got 3000000000\)/);
    expect(cmd.settings.timeoutMs).toBe(1000);

    // The longest timeout allowed waits on a real timer without Node's overflow warning, and is not hit early.
    const real = new CommandRegistry();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const slow = real.executor('slow', { timeoutMs: 2_147_483_647 });
      const call = slow.execute(() => new Promise<never>(() => undefined)).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(slow.snapshot().cumulative.timeout).toBe(0);
      await real.close();
      expect(await call).toMatchObject({ code: 'ERR_INVALID_STATE' });
      expect(warnings.map((w) => w.name)).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
      await real.close();
    }
  });

  it('refuse windows too large to hold with ERR_INVALID_OPTION, not a RangeError, leaving the command as it was', async () => {
    const { registry, dep, fn } = setup();
    const cmd = registry.command('windows', fn, { timeoutMs: 200 });
    dep.fail = true;
    await callMany(cmd, 3);
    const before = cmd.snapshot();
    const settings = cmd.settings;
    const refused: [CommandSettingsOptions, RegExp][] = [
      [{ rollingWindowMs: 2 ** 40, rollingBuckets: 2 ** 40 }, /'rollingWindowMs' of command 'windows' must be an integer from 1 to 2147483647 \(got 1099511627776\)/],
      [{ rollingBuckets: 2 ** 40 }, /'rollingBuckets' of command 'windows' must be an integer from 1 to 1000 \(got 1099511627776\)/],
      [{ percentileBuckets: 50_000, percentileWindowMs: 50_000 }, /'percentileBuckets' of command 'windows' must be an integer from 1 to 100 \(got 50000\)/],
      [{ percentileBuckets: 1_000_000 }, /'percentileBuckets'.*\(got 1000000\)/],
      // The first setting is fine; the whole update is refused all the same.
      [{ timeoutMs: 50, maxConcurrent: 2_000_000 }, /'maxConcurrent' of command 'windows' must be an integer from 1 to 1000000 \(got 2000000\)/],
      [{ timeoutMs: 50, rollingBuckets: 7 }, /'rollingWindowMs' of command 'windows' must be a multiple of 'rollingBuckets' \(got 10000 ms in 7 buckets\)/],
    ];
    for (const [update, reason] of refused) {
      let error: unknown;
      try {
        cmd.setOptions(update);
      } catch (e) {
        error = e;
      }
      expect(isKaryonError(error, 'ERR_INVALID_OPTION')).toBe(true);
      expect((error as Error).message).toMatch(reason);
    }
    expect(cmd.settings).toBe(settings);
    expect(cmd.overrides).toEqual({ timeoutMs: 200 });
    expect(cmd.snapshot()).toEqual(before); // same window: the failures are still counted
  });
});

describe('registry defaults', () => {
  it('a default refused for any command changes no command and not the defaults', async () => {
    const { registry, dep, fn } = setup({ sleepWindowMs: 4000 });
    const a = registry.command('a', fn);
    const b = registry.command('b', fn, { rollingWindowMs: 1100 }); // 10 buckets of 110 ms
    dep.fail = true;
    await callMany(a, 2);
    await callMany(b, 2);
    const before = [a.snapshot(), b.snapshot()];
    // 8 buckets divide the defaults' 10000 ms and a's, but not b's 1100 ms: prepared for a, refused for b.
    expect(() => registry.setDefaults({ timeoutMs: 700, rollingBuckets: 8 })).toThrow(
      "setting 'rollingWindowMs' of command 'b' must be a multiple of 'rollingBuckets' (got 1100 ms in 8 buckets)",
    );
    expect(() => registry.setDefaults({ timeoutMs: 700, percentileBuckets: 1000 })).toThrow(/'percentileBuckets' of the command defaults must be an integer from 1 to 100/);
    expect(registry.defaults).toEqual({ sleepWindowMs: 4000 });
    expect([a.snapshot(), b.snapshot()]).toEqual(before);
    expect(a.settings.timeoutMs).toBe(1000);
    registry.setDefaults({ timeoutMs: 700, rollingBuckets: 5 });
    expect([a.settings.timeoutMs, b.settings.timeoutMs, a.settings.rollingBuckets]).toEqual([700, 700, 5]);
    expect(a.snapshot().rolling.failure).toBe(0); // a new window shape starts a fresh window
  });

  it('a state-change listener that throws does not leave later commands on the old defaults', () => {
    const { registry, fn } = setup();
    const a = registry.command('a', fn);
    const b = registry.command('b', fn);
    a.on('open', () => {
      throw new Error('listener bug');
    });
    expect(() => registry.setDefaults({ forceOpen: true })).toThrow('listener bug');
    expect([a.state, b.state]).toEqual(['FORCED_OPEN', 'FORCED_OPEN']);
    expect(registry.defaults).toEqual({ forceOpen: true });
  });
});

describe('commands of one name', () => {
  it('share circuit, bulkhead, metrics and settings, each with its own function', async () => {
    const { registry } = setup();
    const a = registry.command('shared', () => Promise.reject(new Error('a')), { requestVolumeThreshold: 4 });
    const b = registry.command('shared', () => Promise.resolve('b'), { requestVolumeThreshold: 4 });
    await callMany(a, 4);
    expect(b.state).toBe('OPEN');
    await expect(b()).rejects.toMatchObject({ code: 'ERR_BREAKER_OPEN' });
    expect(registry.size).toBe(1);
    expect(registry.get('shared')?.snapshot().rolling.shortCircuited).toBe(1);
    a.setOptions({ timeoutMs: 5 });
    expect(b.settings.timeoutMs).toBe(5);
    // The settings a command was made with still match after live changes.
    expect(() => registry.command('shared', () => 1, { requestVolumeThreshold: 4 })).not.toThrow();
    expect(() => registry.command('shared', () => 1, { requestVolumeThreshold: 5 })).toThrow(/made with requestVolumeThreshold = 4 \(got 5\)/);
    expect(() => registry.command('shared', () => 1, { group: 'other' })).toThrow(/already exists in group 'svc'/);
    expect(registry.executor('shared')).toBe(registry.get('shared'));
  });
});

describe('close', () => {
  it('rejects calls waiting on a timeout or the bulkhead, clears the timer, refuses new calls; idempotent', async () => {
    const { clock, registry } = setup();
    let signal: AbortSignal | undefined;
    const slow = registry.executor('closing', { timeoutMs: 1000, maxConcurrent: 1, maxQueued: 1 });
    const running = slow
      .execute((s) => {
        signal = s;
        return new Promise<never>(() => undefined);
      })
      .catch((e: unknown) => e);
    const queued = slow.execute(() => 'never ran').catch((e: unknown) => e);
    expect(clock.pendingTimers).toBe(1);
    await registry.close();
    await registry.close();
    expect(await running).toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(await queued).toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(signal?.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    await expect(slow.execute(() => 1)).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(() => registry.command('after', () => 1)).toThrow(/closed/);
  });

  it('works with await using', async () => {
    const clock = new ManualClock();
    let cmdRef: ReturnType<CommandRegistry['executor']> | undefined;
    {
      await using registry = new CommandRegistry({ clock });
      cmdRef = registry.executor('scoped');
    }
    await expect(cmdRef.execute(() => 1)).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});
