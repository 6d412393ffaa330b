import { describe, expect, it } from 'vitest';
import { resolveEurekaRegistryOptions } from '../../src/registry/eureka/EurekaRegistryOptions.js';
import type { EurekaRegistryOptions } from 'karyon-ts';
import { retryDelayMs } from '../../src/registry/eureka/retryDelay.js';
import { systemClock } from 'karyon-ts';

describe('resolveEurekaRegistryOptions', () => {
  it('fills in the documented defaults and freezes the result without touching the input', () => {
    const input = { serviceUrls: ['http://eureka:8761/eureka/'] };
    const resolved = resolveEurekaRegistryOptions(input);
    expect(resolved).toMatchObject({
      serviceUrls: [{ url: 'http://eureka:8761/eureka', authorization: undefined }],
      heartbeatIntervalMs: 30_000,
      registryFetchIntervalMs: 30_000,
      fetchRegistry: true,
      fetchDeltas: true,
      connectTimeoutMs: 5000,
      requestTimeoutMs: 8000,
      retryInitialDelayMs: 1000,
      retryMaxDelayMs: 60_000,
      retryMultiplier: 2,
      jitterRatio: 0.1,
      headers: {},
      maxResponseBytes: 256 * 1024 * 1024,
      dispatcher: undefined,
      clock: systemClock,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(input.serviceUrls).toEqual(['http://eureka:8761/eureka/']);
  });

  it('normalizes service URLs of both shapes, drops duplicates and turns credentials into basic auth', () => {
    const resolved = resolveEurekaRegistryOptions({
      serviceUrls: ['http://a:8761/eureka///', ' https://b/eureka/v2 ', 'http://a:8761/eureka', 'http://u:p%3Ax@c/eureka'],
    });
    expect(resolved.serviceUrls).toEqual([
      { url: 'http://a:8761/eureka', authorization: undefined },
      { url: 'https://b/eureka/v2', authorization: undefined },
      { url: 'http://c/eureka', authorization: `Basic ${Buffer.from('u:p:x').toString('base64')}` },
    ]);
  });

  it.each<[string, Partial<EurekaRegistryOptions>, RegExp]>([
    ['no URLs', { serviceUrls: [] }, /option 'serviceUrls' must be a non-empty array/],
    ['a URL that is not one', { serviceUrls: ['eureka:8761'] }, /option 'serviceUrls\[0\]' must be an http\(s\) URL \(got "eureka:8761"\)/],
    ['another scheme', { serviceUrls: ['http://ok/eureka', 'ftp://x/eureka'] }, /'serviceUrls\[1\]' must be an http\(s\) URL/],
    ['a query', { serviceUrls: ['http://x/eureka?a=1'] }, /without query or fragment/],
    ['a zero interval', { heartbeatIntervalMs: 0 }, /'heartbeatIntervalMs' must be a positive number of milliseconds \(got 0\)/],
    ['a negative timeout', { requestTimeoutMs: -1 }, /'requestTimeoutMs' must be a non-negative number/],
    ['a max below the initial delay', { retryInitialDelayMs: 5000, retryMaxDelayMs: 1000 }, /'retryMaxDelayMs' must be at least retryInitialDelayMs \(5000\)/],
    ['a shrinking multiplier', { retryMultiplier: 0.5 }, /'retryMultiplier' must be a number >= 1/],
    ['a jitter above 1', { jitterRatio: 2 }, /'jitterRatio' must be a number between 0 and 1/],
    ['a protocol header', { headers: { Accept: 'text/xml' } }, /'headers.Accept' must be a header the protocol does not set itself/],
    ['the peers\' replication header', { headers: { 'X-Netflix-Discovery-Replication': 'true' } }, /'headers.X-Netflix-Discovery-Replication' must be a header other than x-netflix-discovery-replication, which only Eureka peers send/],
    ['the replication header as token header', { token: 't', tokenHeader: 'x-netflix-discovery-replication' }, /'tokenHeader' must be a header other than x-netflix-discovery-replication/],
    ['a header that is not a string', { headers: { 'x-a': 1 as unknown as string } }, /'headers.x-a' must be a string/],
    ['a flag that is not a boolean', { fetchRegistry: 'no' as unknown as boolean }, /'fetchRegistry' must be true or false/],
    ['no backoff for failed writes', { retryInitialDelayMs: 0 }, /'retryInitialDelayMs' must be at least 1 ms \(got 0\)/],
    ['an interval longer than a timer can wait', { heartbeatIntervalMs: 3e9 }, /'heartbeatIntervalMs' must be at most 2147483647 ms \(about 24.8 days, the longest a timer waits\) \(got 3000000000\)/],
    ['credentials that are not percent-encoding', { serviceUrls: ['http://user:p%zz@eureka/eureka'] }, /'serviceUrls\[0\]' must be a URL whose user name and password are valid percent-encoding/],
  ])('rejects %s, naming the option and what was given', (_what, options, message) => {
    expect(() => resolveEurekaRegistryOptions({ serviceUrls: ['http://eureka/eureka'], ...options })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(message) }),
    );
  });

  it("decides 'auto' by the VIPs named, and refuses a bad mode or VIP list", () => {
    const base = { serviceUrls: ['http://127.0.0.1:1/eureka'] };
    expect(resolveEurekaRegistryOptions({ ...base, fetchMode: 'auto', fetchVips: ['a', 'b', 'c'] }).fetchMode).toBe('vips');
    expect(resolveEurekaRegistryOptions({ ...base, fetchMode: 'auto' }).fetchMode).toBe('full');
    expect(resolveEurekaRegistryOptions({ ...base, fetchMode: 'auto', fetchVips: Array.from({ length: 17 }, (_, i) => `v${i}`) }).fetchMode).toBe('full');
    expect(resolveEurekaRegistryOptions(base).fetchMode).toBe('full');
    expect(() => resolveEurekaRegistryOptions({ ...base, fetchMode: 'vips' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/fetchVips/) }));
    expect(() => resolveEurekaRegistryOptions({ ...base, fetchMode: 'some' as 'full' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/fetchMode/) }));
    expect(() => resolveEurekaRegistryOptions({ ...base, fetchVips: ['a,b'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  it("decodes at 'low' priority unless told 'idle', and refuses any other", () => {
    const base = { serviceUrls: ['http://127.0.0.1:1/eureka'] };
    expect(resolveEurekaRegistryOptions(base).decodePriority).toBe('low');
    expect(resolveEurekaRegistryOptions({ ...base, decodePriority: 'idle' }).decodePriority).toBe('idle');
    expect(() => resolveEurekaRegistryOptions({ ...base, decodePriority: 'high' as 'low' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/decodePriority.*'low' or 'idle'.*high/s) }),
    );
  });
});

describe('retryDelayMs', () => {
  const options = { retryInitialDelayMs: 1000, retryMaxDelayMs: 60_000, retryMultiplier: 2, jitterRatio: 0 };

  it('doubles from the initial delay up to the cap', () => {
    expect([1, 2, 3, 4, 7, 8, 30].map((failures) => retryDelayMs(failures, options))).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  });

  it('spreads the delay by the jitter ratio without passing the cap', () => {
    const jittered = { ...options, jitterRatio: 0.5 };
    expect(retryDelayMs(1, jittered, undefined, () => 0)).toBe(500);
    expect(retryDelayMs(1, jittered, undefined, () => 1)).toBe(1500);
    expect(retryDelayMs(10, jittered, undefined, () => 1)).toBe(60_000);
  });

  it('stops growing at the interval of the work that failed, jittered both ways around it', () => {
    expect([1, 2, 3, 10].map((failures) => retryDelayMs(failures, options, 2500))).toEqual([1000, 2000, 2500, 2500]);
    // A heartbeat interval shorter than the initial delay: retried at the interval.
    expect(retryDelayMs(1, options, 400)).toBe(400);
    const jittered = { ...options, jitterRatio: 0.1 };
    expect(retryDelayMs(10, jittered, 30_000, () => 0)).toBe(27_000);
    expect(retryDelayMs(10, jittered, 30_000, () => 1)).toBe(33_000);
  });
});
