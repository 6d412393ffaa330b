import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandRegistry, EurekaRegistry } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { memoryLogger } from '../support/logger.js';
import { descriptorFor, waitUntil } from './support.js';

// The wall clock steps (an operator, NTP after a long suspend) by minutes, forward and back, under a registry, a
// client heartbeating to it and an open breaker, all on the system clock. Durations are measured on a monotonic
// clock, so a step expires no lease, fires no timer early and stalls none. The step is made where JavaScript
// reads the wall clock, Date.now(), which every duration used to be measured with.

const MINUTES = 60_000;
const realNow = Date.now.bind(Date);
let offsetMs = 0;
beforeEach(() => {
  offsetMs = 0;
  Date.now = () => realNow() + offsetMs;
});
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  Date.now = realNow;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('wall clock steps', () => {
  it('expire no lease and neither hurry nor stall heartbeats, forward or back by minutes', async () => {
    const serverLog = memoryLogger();
    const server = new EurekaServer({ port: 0, host: '127.0.0.1', leaseDurationMs: 1500, evictionIntervalMs: 100, logger: serverLog });
    cleanups.push(() => server.close());
    await server.listen();
    const client = new EurekaRegistry({ serviceUrls: [server.url], fetchRegistry: false, heartbeatIntervalMs: 300, jitterRatio: 0 });
    cleanups.push(() => client.close());
    const beats: number[] = [];
    client.on('heartbeat', (event) => {
      if (event.ok) beats.push(performance.now());
    });
    const descriptor = descriptorFor('clocked', '127.0.0.1', 9200, { leaseDurationMs: 1500, leaseRenewalIntervalMs: 300 });
    await client.register(descriptor, 'UP');
    await waitUntil(() => beats.length >= 3, 'three heartbeats', 5000, 10);

    const steps = [+5 * MINUTES, -10 * MINUTES, +2 * MINUTES];
    for (const step of steps) {
      const before = beats.length;
      offsetMs += step;
      // A stalled heartbeat (waiting out the step) would time out here; an expired lease shows on the server.
      await waitUntil(() => beats.length >= before + 4, `four heartbeats after a step of ${step / MINUTES} min`, 5000, 10);
      expect(server.instance('CLOCKED', descriptor.instanceId)?.instance.status, `after a step of ${step / MINUTES} min`).toBe('UP');
    }
    expect(serverLog.lines.filter((line) => line.includes('evicted'))).toEqual([]);
    const gaps = beats.slice(1).map((at, i) => at - beats[i]!);
    // Never early (a forward step used to make the next one due at once), never late by the step.
    expect(Math.min(...gaps), gaps.map(Math.round).join(', ')).toBeGreaterThanOrEqual(250);
    expect(Math.max(...gaps), gaps.map(Math.round).join(', ')).toBeLessThan(1200);
  }, 30_000);

  it('neither shorten nor lengthen an open breaker sleep window', async () => {
    const commands = new CommandRegistry({ group: 'clock' });
    cleanups.push(() => commands.close());
    let failing = true;
    const call = commands.command('flaky', () => (failing ? Promise.reject(new Error('down')) : Promise.resolve('ok')), {
      requestVolumeThreshold: 2,
      errorThresholdPercentage: 50,
      sleepWindowMs: 600,
      timeoutMs: 1000,
    });
    for (let i = 0; i < 3; i++) await call().catch(() => undefined);
    await waitUntil(() => call.state === 'OPEN', 'the breaker to open', 2000, 5);
    const openedAt = performance.now();
    failing = false;
    offsetMs += 10 * MINUTES;
    // Forward: the sleep window has not passed, whatever the wall clock says.
    await expect(call()).rejects.toMatchObject({ code: 'ERR_BREAKER_OPEN' });
    offsetMs -= 20 * MINUTES;
    // Back: it still ends after 600 ms of real time.
    await waitUntil(
      async () => {
        try {
          return (await call()) === 'ok';
        } catch {
          return false;
        }
      },
      'the trial call after the sleep window',
      3000,
      20,
    );
    const closedAfter = performance.now() - openedAt;
    expect(closedAfter).toBeGreaterThanOrEqual(550);
    expect(closedAfter).toBeLessThan(2500);
    expect(call.state).toBe('CLOSED');
  }, 15_000);
});
