import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import CircuitBreaker from 'opossum';
import { CommandRegistry, createService, systemClock, createMetrics } from 'karyon-ts';
import type { Service } from 'karyon-ts';
import { BreakerMetricsReporter } from '../../src/metrics/BreakerMetricsReporter.js';
import { hystrixCommandIntegerKeys } from '../support/hystrix.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function breaker(name: string, fn: (fail: boolean) => Promise<string>, options: CircuitBreaker.Options = {}): CircuitBreaker<[boolean], string> {
  const b = new CircuitBreaker(fn, { name, group: 'deps', timeout: 1000, resetTimeout: 60_000, volumeThreshold: 4, errorThresholdPercentage: 50, ...options });
  cleanups.push(() => b.shutdown());
  return b;
}

const work = (fail: boolean) => (fail ? Promise.reject(new Error('boom')) : Promise.resolve('ok'));

async function started(): Promise<Service> {
  const service = createService({ name: 'adopter', admin: { port: 0, host: '127.0.0.1' }, lifecycle: { deregistrationDelayMs: 0 }, metrics: { prometheus: true } });
  cleanups.push(() => service.stop());
  await service.start();
  return service;
}

async function json(url: string, init?: { method: 'PUT'; body: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, init === undefined ? {} : { ...init, headers: { 'content-type': 'application/json' } });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

/** Reads `hystrix.stream` until a HystrixCommand object named `name` arrives. */
function streamedCommand(url: string, name: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          if (!frame.startsWith('data:')) continue;
          const object = JSON.parse(frame.slice(5)) as Record<string, unknown>;
          if (object.type === 'HystrixCommand' && object.name === name) {
            req.destroy();
            resolve(object);
          }
        }
      });
    });
    req.on('error', reject);
  });
}

describe('an adopted opossum 9 breaker', () => {
  it('shows in GET /breakers with opossum\'s window mapped to Hystrix\'s counts, and in the Prometheus state gauge', async () => {
    const service = await started();
    const b = breaker('pricing', work);
    const adopted = service.adoptBreaker(b);
    expect(adopted.state).toBe('CLOSED');
    await b.fire(false);
    await b.fire(false);
    await expect(b.fire(true)).rejects.toThrow('boom');
    const { status, body } = await json(`${service.adminUrl}/breakers/pricing`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: 'pricing',
      group: 'deps',
      adopted: 'opossum',
      state: 'CLOSED',
      rolling: { success: 2, failure: 1, timeout: 0, shortCircuited: 0 },
      cumulative: { success: 2, failure: 1 },
      health: { requestCount: 3, errorCount: 1, errorPercentage: 33 },
      settings: { timeoutMs: 1000, sleepWindowMs: 60_000, requestVolumeThreshold: 4, errorThresholdPercentage: 50 },
    });
    // One more failure: 2 of 4 fires is 50%, not above opossum's threshold; a third opens it.
    await expect(b.fire(true)).rejects.toThrow('boom');
    expect(b.opened).toBe(false);
    await expect(b.fire(true)).rejects.toThrow('boom');
    expect(b.opened).toBe(true);
    const list = await json(`${service.adminUrl}/breakers`);
    const shown = (list.body.commands as { name: string; state: string; circuitOpen: boolean }[]).find((c) => c.name === 'pricing');
    expect(shown).toMatchObject({ state: 'OPEN', circuitOpen: true });
    await expect(b.fire(false)).rejects.toThrow('Breaker is open');
    const metrics = await (await request(`${service.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/karyon_breaker_state\{[^}]*breaker="pricing"[^}]*state="open"[^}]*\} 1\n/);
  });

  it('the admin API forces it open, closed and resets it through opossum\'s own open() and close()', async () => {
    const service = await started();
    let calls = 0;
    const b = breaker('inventory', (fail) => {
      calls++;
      return work(fail);
    });
    b.fallback(() => 'cached');
    service.adoptBreaker(b);
    const url = `${service.adminUrl}/breakers/inventory`;

    const forcedOpen = await json(url, { method: 'PUT', body: '{"action":"forceOpen"}' });
    expect(forcedOpen).toMatchObject({ status: 200, body: { state: 'FORCED_OPEN', circuitOpen: true, settings: { forceOpen: true } } });
    expect(b.opened).toBe(true);
    expect(await b.fire(false)).toBe('cached'); // short-circuited to opossum's fallback
    expect(calls).toBe(0);

    const forcedClosed = await json(url, { method: 'PUT', body: '{"action":"forceClosed"}' });
    expect(forcedClosed).toMatchObject({ status: 200, body: { state: 'FORCED_CLOSED', settings: { forceClosed: true, forceOpen: false } } });
    expect(b.closed).toBe(true);
    // Failures that would trip it: opossum opens the circuit, the forced state closes it again at once.
    for (let i = 0; i < 6; i++) expect(await b.fire(true)).toBe('cached');
    expect(calls).toBe(6);
    expect(b.closed).toBe(true);
    expect(await b.fire(false)).toBe('ok');

    const reset = await json(url, { method: 'PUT', body: '{"action":"reset"}' });
    expect(reset).toMatchObject({ status: 200, body: { state: 'CLOSED', settings: { forceClosed: false, forceOpen: false } } });
    // Back to opossum's own rule: the window is still mostly failures, so the next failure opens it.
    expect(await b.fire(true)).toBe('cached');
    expect(b.opened).toBe(true);

    const settings = await json(url, { method: 'PUT', body: '{"settings":{"timeoutMs":5}}' });
    expect(settings.status).toBe(400);
    expect(String(settings.body.error)).toContain('adopted opossum breaker');
  });

  it('stays forced open when opossum\'s reset timer turns it half-open', async () => {
    const registry = new CommandRegistry();
    cleanups.push(() => registry.close());
    const b = breaker('search', work, { resetTimeout: 20 });
    const adopted = registry.adopt(b);
    const changes: string[] = [];
    registry.on('stateChange', (change) => changes.push(`${change.from}>${change.to}`));
    adopted.forceOpen();
    // opossum's own timer turns the circuit half-open after 20 ms; the forced state puts it back at once.
    await new Promise<void>((resolve) => b.once('halfOpen', () => setImmediate(resolve)));
    expect(b.opened).toBe(true);
    expect(adopted.state).toBe('FORCED_OPEN');
    await expect(b.fire(false)).rejects.toThrow('Breaker is open');
    adopted.reset();
    expect(await b.fire(false)).toBe('ok');
    expect(changes).toEqual(['CLOSED>FORCED_OPEN', 'FORCED_OPEN>CLOSED']);
  });

  it('shows in hystrix.stream with every key the dashboard reads, as integers', async () => {
    const service = await started();
    const b = breaker('ledger', work);
    service.adoptBreaker(b);
    await b.fire(false);
    await expect(b.fire(true)).rejects.toThrow();
    const event = await streamedCommand(`${service.adminUrl}/hystrix.stream?delay=50`, 'ledger');
    for (const key of hystrixCommandIntegerKeys) expect(Number.isInteger(event[key]), key).toBe(true);
    expect(event).toMatchObject({
      type: 'HystrixCommand',
      group: 'deps',
      isCircuitBreakerOpen: false,
      requestCount: 2,
      errorCount: 1,
      errorPercentage: 50,
      rollingCountSuccess: 1,
      rollingCountFailure: 1,
      propertyValue_executionTimeoutInMilliseconds: 1000,
      propertyValue_circuitBreakerSleepWindowInMilliseconds: 60_000,
    });
    for (const key of ['0', '50', '99.5', '100']) expect(Number.isInteger((event.latencyExecute as Record<string, unknown>)[key])).toBe(true);
  });

  it('counts calls by outcome in the built-in breaker metrics, timeouts and rejections once each', async () => {
    const registry = new CommandRegistry();
    const metrics = createMetrics({ prometheus: true });
    const reporter = new BreakerMetricsReporter(registry, metrics, systemClock, 60_000);
    cleanups.push(() => registry.close());
    const b = breaker('slow', (fail) => (fail ? new Promise<string>(() => {}) : Promise.resolve('ok')), { timeout: 10, volumeThreshold: 100 });
    b.fallback(() => 'late');
    registry.adopt(b);
    await b.fire(false);
    expect(await b.fire(true)).toBe('late');
    await reporter.close();
    const text = metrics.prometheus!.render();
    expect(text).toContain('karyon_breaker_calls_total{breaker="slow",outcome="success"} 1');
    expect(text).toContain('karyon_breaker_calls_total{breaker="slow",outcome="timeout"} 1');
    expect(text).toContain('karyon_breaker_calls_total{breaker="slow",outcome="fallback_success"} 1');
    expect(text).not.toContain('karyon_breaker_calls_total{breaker="slow",outcome="failure"}');
  });

  it('refuses what is not an opossum breaker, a shut-down one, and a name already taken', async () => {
    const service = await started();
    service.command('taken', () => 1);
    expect(() => service.adoptBreaker({} as never)).toThrow(/opossum 9 CircuitBreaker/);
    expect(() => service.adoptBreaker(breaker('taken', work))).toThrow(/already exists/);
    const down = breaker('down', work);
    down.shutdown();
    expect(() => service.adoptBreaker(down)).toThrow(/shut down/);
    service.adoptBreaker(breaker('mine', work));
    expect(() => service.command('mine', () => 1)).toThrow(/adopted opossum breaker/);
  });
});
