import { describe, expect, it } from 'vitest';
import { HealthCheck, resolveHealthCheckOptions } from '../../src/health/HealthCheck.js';
import { HealthMonitor } from 'karyon-ts/extend';
import type { CheckChange } from 'karyon-ts/extend';
import { ManualClock } from 'karyon-ts/testing';

function monitor() {
  const clock = new ManualClock();
  const changes: CheckChange[] = [];
  const verdicts: { ready: boolean; live: boolean }[] = [];
  const m = new HealthMonitor({ clock, onCheckChange: (c) => changes.push(c), onVerdictChange: (v) => verdicts.push(v) });
  return { clock, m, changes, verdicts };
}

describe('HealthMonitor', () => {
  it('takes the first result at once, then needs consecutive results to change', async () => {
    const { m } = monitor();
    const results: boolean[] = [true, false, false, false, true, true];
    m.add('db', () => results.shift() ?? true, { failuresBeforeCritical: 3, successBeforePassing: 2 });
    const statuses: string[] = [];
    for (let i = 0; i < 6; i++) {
      await m.runAll();
      statuses.push(m.report().checks.db!.status);
    }
    expect(statuses).toEqual(['PASSING', 'PASSING', 'PASSING', 'CRITICAL', 'CRITICAL', 'PASSING']);
  });

  it('a check that throws or returns garbage is DOWN with the reason kept', async () => {
    const { m } = monitor();
    m.add('throws', () => {
      throw new Error('connection refused');
    });
    m.add('garbage', () => 'yes' as unknown as boolean);
    await m.runAll();
    const report = m.report();
    expect(report.checks.throws).toMatchObject({ status: 'CRITICAL', lastError: 'connection refused' });
    expect(report.checks.garbage!.status).toBe('CRITICAL');
    expect(report.checks.garbage!.lastError).toMatch(/expected a boolean or/);
    expect(report.ready).toBe(false);
  });

  it('a check that hangs times out as DOWN', async () => {
    const { clock, m } = monitor();
    let aborted = false;
    m.add('hangs', (signal) => new Promise(() => signal.addEventListener('abort', () => (aborted = true))), { timeoutMs: 500 });
    const run = m.runAll();
    await clock.advanceAsync(500);
    await run;
    expect(m.report().checks.hangs).toMatchObject({ status: 'CRITICAL', lastError: "health check 'hangs' timed out after 500 ms" });
    expect(aborted).toBe(true);
  });

  it('WARN keeps the service ready but shows WARNING', async () => {
    const { m } = monitor();
    m.add('disk', () => ({ status: 'WARN', details: { freeGb: 3 } }));
    await m.runAll();
    expect(m.report()).toMatchObject({ ready: true, checks: { disk: { status: 'WARNING', lastResult: { details: { freeGb: 3 } } } } });
  });

  it('liveness and readiness are separate verdicts', async () => {
    const { m, verdicts } = monitor();
    m.add('ready', () => true);
    m.add('alive', () => false, { kind: 'liveness' });
    await m.runAll();
    expect(m.ready).toBe(true);
    expect(m.live).toBe(false);
    expect(verdicts).toEqual([{ ready: true, live: false }]);
  });

  it('runs in the background at its interval once started, and stops on close', async () => {
    const { clock, m } = monitor();
    let runs = 0;
    m.add('counted', () => {
      runs++;
      return true;
    }, { intervalMs: 1000 });
    m.start();
    await clock.advanceAsync(10_500);
    expect(runs).toBeGreaterThanOrEqual(9);
    expect(runs).toBeLessThanOrEqual(11);
    await m.close();
    const before = runs;
    await clock.advanceAsync(10_000);
    expect(runs).toBe(before);
  });

  it('evaluate() reuses results younger than cacheMs and never runs a check twice at once', async () => {
    const { clock, m } = monitor();
    let runs = 0;
    m.add('cached', async () => {
      runs++;
      await Promise.resolve();
      return true;
    }, { cacheMs: 1000 });
    await Promise.all([m.evaluate(), m.evaluate(), m.evaluate()]);
    expect(runs).toBe(1);
    await m.evaluate();
    expect(runs).toBe(1);
    clock.advance(1000);
    await m.evaluate();
    expect(runs).toBe(2);
  });

  it('rejects duplicate names and bad options, naming them', () => {
    const { m } = monitor();
    m.add('db', () => true);
    expect(() => m.add('db', () => true)).toThrow(/already registered/);
    expect(() => m.add('x', () => true, { timeoutMs: 0 })).toThrow(/'timeoutMs' of health check 'x'/);
    expect(() => m.add('y', () => true, { successBeforePassing: 1.5 })).toThrow(/successBeforePassing/);
    expect(() => m.add('z', () => true, { kind: 'both' as 'readiness' })).toThrow(/'kind'/);
  });

  it('keeps a bounded history of runs', async () => {
    const { m } = monitor();
    m.add('h', () => true);
    for (let i = 0; i < 30; i++) await m.runAll();
    expect(m.report().checks.h!.history).toHaveLength(20);
  });
});

describe('HealthCheck run by a readiness wait', () => {
  it('counts UP and WARN runs in a row, DOWN starting over, and an aborted run records nothing', async () => {
    const results: ('UP' | 'WARN' | 'DOWN')[] = ['UP', 'WARN', 'DOWN', 'WARN'];
    const check = new HealthCheck('db', () => ({ status: results.shift() ?? 'UP' }), resolveHealthCheckOptions('db', { successBeforePassing: 2 }), new ManualClock());
    const streaks: number[] = [];
    for (let i = 0; i < 4; i++) {
      await check.run();
      streaks.push(check.passedInARow);
    }
    expect(streaks).toEqual([1, 2, 0, 1]);
    const abort = new AbortController();
    const hanging = new HealthCheck('slow', () => new Promise<never>(() => undefined), resolveHealthCheckOptions('slow', {}), new ManualClock());
    const run = hanging.run(abort.signal);
    abort.abort(new Error('stopping'));
    await expect(run).rejects.toThrow('stopping');
    expect(hanging.report().lastResult).toBeUndefined();
    expect(hanging.passedInARow).toBe(0);
  });
});
