import { describe, expect, it } from 'vitest';
import { createServiceClient, isKaryonError, systemClock } from 'karyon-ts';
import { resolveServiceClientOptions, serviceClientOptionKeys } from '../../src/http/ServiceClientOptions.js';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { ServiceRegistry } from 'karyon-ts';

describe('service client options', () => {
  it('names the rule `rule`, as the balancer, the configuration and setRule() do; `balancer` is its deprecated alias', () => {
    expect(resolveServiceClientOptions({ rule: 'random' }).balancer.rule).toBe('random');
    expect(resolveServiceClientOptions({ balancer: 'round-robin' }).balancer.rule).toBe('round-robin');
    expect(resolveServiceClientOptions({ rule: 'random', balancer: 'round-robin' }).balancer.rule).toBe('random');
    expect(() => resolveServiceClientOptions({ rule: 'fastest' as never })).toThrow(/rule/);
    expect(serviceClientOptionKeys).toMatchObject({ rule: 'value', balancer: 'value' });
  });

  it('takes the balancer options as the balancer declares them (one declaration, no copy to drift)', () => {
    const resolved = resolveServiceClientOptions({ outOfServiceBackoffMs: 750, latency: { decayMs: 2000 }, zoneAffinity: false, outlierDetection: false });
    expect(resolved.balancer).toMatchObject({ outOfServiceBackoffMs: 750 });
    expect(() => resolveServiceClientOptions({ outOfServiceBackoffMs: -1 })).toThrow(/outOfServiceBackoffMs/);
  });

  it('fills the documented defaults', () => {
    const resolved = resolveServiceClientOptions();
    expect(resolved).toMatchObject({
      connectTimeoutMs: 2000,
      timeoutMs: 5000,
      deadlineMs: 10_000,
      transport: undefined,
      connections: undefined,
      keepAliveTimeoutMs: 4000,
      address: 'ip',
      closeTimeoutMs: 5000,
      clock: systemClock,
      hedging: undefined,
    });
    expect(resolved.balancer.rule).toBe('p2c-ewma');
    expect(resolved.balancer.latency).toMatchObject({ decayMs: 1000, priorMs: 30 });
    expect(resolved.balancer.outOfServiceBackoffMs).toBe(5000);
    expect(resolved.balancer.outlierDetection).toMatchObject({
      enabled: true,
      consecutiveFailures: 5,
      ejectOnConnectFailure: true,
      baseEjectionMs: 30_000,
      maxEjectionMs: 300_000,
      maxEjectedPercent: 10,
      panicThresholdPercent: 50,
    });
    expect(resolved.balancer.zoneAffinity).toMatchObject({ zone: undefined, maxEjectedPercent: 80, maxLoadPerInstance: 0.6, minAvailable: 2 });
    expect(resolved.retries?.maxRetries).toBe(2);
    expect(resolved.retries?.budget).toEqual({ ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 });
    expect([...(resolved.retries?.retryOnStatus ?? [])]).toEqual([502, 503, 504]);
    expect(resolveServiceClientOptions({ hedging: true }).hedging).toEqual({ quantile: 0.95, minSamples: 20, minDelayMs: 1 });
    expect(resolveServiceClientOptions({}, 'east').balancer.zoneAffinity.zone).toBe('east');
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('does not touch the caller object', () => {
    const options = Object.freeze({ retries: Object.freeze({ maxRetries: 1 }), balancer: 'random' as const });
    expect(() => resolveServiceClientOptions(options)).not.toThrow();
  });

  it.each([
    [{ balancer: 'fastest' }, /option 'balancer' must be one of/],
    [{ timeoutMs: -1 }, /option 'timeoutMs' must be a non-negative number of milliseconds \(got -1\)/],
    [{ deadlineMs: 0 }, /option 'deadlineMs' must be a positive number of milliseconds \(got 0\)/],
    [{ retries: { maxRetries: 1.5 } }, /option 'retries.maxRetries' must be a non-negative integer \(got 1.5\)/],
    [{ retries: { retryOnStatus: [700] } }, /option 'retries.retryOnStatus' must be an array of HTTP statuses/],
    [{ hedging: { quantile: 1 } }, /option 'hedging.quantile' must be a number between 0 and 1 \(got 1\)/],
    [{ transport: 'undici' }, /option 'transport' must be a fetch-compatible function \(got "undici"\)/],
    [{ address: 'dns' }, /option 'address' must be 'ip' or 'hostname' \(got "dns"\)/],
    [{ pool: { connections: 0 } }, /option 'pool.connections' must be a positive integer \(got 0\)/],
    [{ zoneAffinity: { maxLoadPerInstance: 0 } }, /option 'zoneAffinity.maxLoadPerInstance' must be a positive number/],
    [{ latency: { decayMs: 0 } }, /option 'latency.decayMs' must be a positive number of milliseconds/],
    [{ pool: true }, /option 'pool' must be an object \(got true\)/],
    [{ latency: 30 }, /option 'latency' must be an object \(got 30\)/],
    [{ breaker: 'on' }, /option 'breaker' must be an object or false \(got "on"\)/],
    [{ breaker: [] }, /option 'breaker' must be an object or false \(got an array\)/],
  ])('refuses %j with a message naming the option', (options, message) => {
    try {
      resolveServiceClientOptions(options as never);
      expect.unreachable();
    } catch (error) {
      expect(isKaryonError(error, 'ERR_INVALID_OPTION')).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('refuses a missing registry or VIP', () => {
    expect(() => createServiceClient({ registry: {} as ServiceRegistry, vip: 'x' })).toThrow(/option 'registry' must be a ServiceRegistry/);
    expect(() => createServiceClient({ registry: new InMemoryRegistry(), vip: ' ' })).toThrow(/option 'vip' must be a non-empty string/);
  });

  it('refuses a request without a path starting with a slash, before sending anything', async () => {
    const client = createServiceClient({ registry: new InMemoryRegistry(), vip: 'greeter' });
    await expect(client.request({ path: 'hello' })).rejects.toThrow(/option 'path' must be a string starting with '\/' \(got "hello"\)/);
    await expect(client.request({ path: '/hello', method: 'GE T' })).rejects.toThrow(/option 'method' must be an HTTP method token \(got "GE T"\)/);
    await expect(client.request({ path: '/hello' })).rejects.toMatchObject({ code: 'ERR_NO_INSTANCES', service: 'greeter' });
    await client.close();
    await client.close();
    await expect(client.request({ path: '/hello' })).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});
