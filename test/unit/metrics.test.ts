import { describe, expect, it } from 'vitest';
import { KaryonError, createMetrics, noopMetrics } from 'karyon-ts';
import { resolveMetricsOptions } from '../../src/metrics/MetricsOptions.js';
import type { MetricsOptions } from 'karyon-ts';
import { sanitizeSetMember, statsdLineParts } from '../../src/metrics/statsdWire.js';
import { ManualClock } from 'karyon-ts/testing';

function invalid(options: unknown): string {
  try {
    resolveMetricsOptions(options as MetricsOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(KaryonError);
    expect((error as KaryonError).code).toBe('ERR_INVALID_OPTION');
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be rejected`);
}

describe('resolveMetricsOptions', () => {
  it('fills the documented defaults and freezes the result', () => {
    const resolved = resolveMetricsOptions({ host: 'statsd.local' });
    expect(resolved).toMatchObject({
      statsd: { kind: 'udp', host: 'statsd.local', port: 8125 },
      prefix: '',
      globalTags: {},
      tagFormat: 'dogstatsd',
      maxBufferSize: 1400,
      flushIntervalMs: 1000,
      prometheus: undefined,
      lookupTimeoutMs: 5000,
      lookupRetryMs: 1000,
      lookupRetryMaxMs: 60_000,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(resolveMetricsOptions({ path: '/tmp/dsd.socket' })).toMatchObject({ statsd: { kind: 'uds', path: '/tmp/dsd.socket' }, maxBufferSize: 8192 });
    expect(resolveMetricsOptions({}).statsd).toBeUndefined();
    expect(resolveMetricsOptions({ port: 9125 }).statsd).toBeUndefined();
    expect(resolveMetricsOptions({ host: '[::1]' }).statsd).toEqual({ kind: 'udp', host: '::1', port: 8125 });
    expect(resolveMetricsOptions({ prefix: '.app.' }).prefix).toBe('app');
    expect(resolveMetricsOptions({ prometheus: true }).prometheus).toMatchObject({ maxSeries: 10_000, setWindowMs: 60_000 });
  });

  it('does not keep a reference to the caller objects', () => {
    const globalTags: Record<string, string> = { app: 'a' };
    const resolved = resolveMetricsOptions({ globalTags });
    globalTags['app'] = 'changed';
    expect(resolved.globalTags).toEqual({ app: 'a' });
  });

  it('rejects bad options with a message naming the option, what was expected and what was given', () => {
    expect(invalid({ host: 'a', path: '/x' })).toMatch(/'metrics.path'.*not both/);
    expect(invalid({ port: -1 })).toMatch(/'metrics.port' must be an integer port between 0 and 65535 \(got -1\)/);
    expect(invalid({ path: '/x', port: 1 })).toMatch(/'metrics.port'/);
    expect(invalid({ host: '' })).toMatch(/'metrics.host' must be a non-empty string/);
    expect(invalid({ host: 'bad host!' })).toMatch(/'metrics.host' must be a host name or an IP address \(got "bad host!"\)/);
    expect(invalid({ host: 'h', port: 70000 })).toMatch(/'metrics.port'/);
    expect(invalid({ host: 'h', port: 0 })).toMatch(/'metrics.port' must be a port between 1 and 65535/);
    expect(invalid({ tagFormat: 'influx' })).toMatch(/'metrics.tagFormat' must be one of 'dogstatsd', 'telegraf', 'none' \(got "influx"\)/);
    expect(invalid({ maxBufferSize: -1 })).toMatch(/'metrics.maxBufferSize' must be an integer number of bytes/);
    expect(invalid({ maxBufferSize: 70_000 })).toMatch(/'metrics.maxBufferSize'/);
    expect(invalid({ flushIntervalMs: 0 })).toMatch(/'metrics.flushIntervalMs' must be at least 1 millisecond/);
    expect(invalid({ globalTags: { app: { nested: true } } })).toMatch(/'metrics.globalTags.app' must be a string, number or boolean/);
    expect(invalid({ globalTags: ['a:b'] })).toMatch(/'metrics.globalTags' must be an object of tag values/);
    expect(invalid({ prometheus: { timerBuckets: [1, 1] } })).toMatch(/'metrics.prometheus.timerBuckets' must be strictly increasing bounds/);
    expect(invalid({ prometheus: { histogramBuckets: [] } })).toMatch(/histogramBuckets' must be a non-empty array/);
    expect(invalid({ prometheus: { histogramBuckets: [1, Number.NaN] } })).toMatch(/histogramBuckets\[1\]' must be a finite number/);
    expect(invalid({ prometheus: { maxSeries: 0 } })).toMatch(/'metrics.prometheus.maxSeries' must be a positive integer/);
    expect(invalid({ errorHandler: 'log' })).toMatch(/'metrics.errorHandler' must be a function/);
    expect(invalid({ lookupRetryMs: 5000, lookupRetryMaxMs: 1000 })).toMatch(/'metrics.lookupRetryMaxMs' must be at least lookupRetryMs/);
    expect(invalid(null)).toMatch(/'metrics' must be an options object/);
  });
});

describe('statsd line format', () => {
  const tags = { app: 'greeter', route: '/hello', ok: true };

  it('writes DogStatsD tags after the type, Telegraf tags after the name, and none for plain statsd', () => {
    const dog = statsdLineParts('greeter.requests', 'counter', tags, 'dogstatsd');
    expect(dog.head + 1 + dog.tail).toBe('greeter.requests:1|c|#app:greeter,route:/hello,ok:true');
    const telegraf = statsdLineParts('greeter.requests', 'timer', tags, 'telegraf');
    expect(telegraf.head + 2.5 + telegraf.tail).toBe('greeter.requests,app=greeter,route=/hello,ok=true:2.5|ms');
    const plain = statsdLineParts('greeter.requests', 'gauge', tags, 'none');
    expect(plain.head + 3 + plain.tail).toBe('greeter.requests:3|g');
    const untagged = statsdLineParts('x', 'histogram', {}, 'dogstatsd');
    expect(untagged.head + 4 + untagged.tail).toBe('x:4|h');
    expect(statsdLineParts('x', 'distribution', {}, 'dogstatsd').tail).toBe('|d');
    expect(statsdLineParts('x', 'set', {}, 'dogstatsd').tail).toBe('|s');
  });

  it('replaces the characters that would break a line, per format, and leaves out empty tag values', () => {
    const dog = statsdLineParts('a:b|c\nd', 'counter', { 'k:e|y': 'v|a,l#u@e\n:ok', empty: '' }, 'dogstatsd');
    expect(dog.head + 1 + dog.tail).toBe('a_b_c_d:1|c|#k_e_y:v_a_l_u_e_:ok');
    const telegraf = statsdLineParts('a b,c=d', 'counter', { 'k y': 'v=a:l,u e\\' }, 'telegraf');
    expect(telegraf.head + 1 + telegraf.tail).toBe('a_b_c_d,k_y=v_a_l_u_e_:1|c');
    expect(sanitizeSetMember('bob:1|x\ny')).toBe('bob_1_x_y');
    expect(sanitizeSetMember(42)).toBe('42');
  });
});

describe('no-op metrics', () => {
  it('is what createMetrics returns when neither statsd nor Prometheus is configured', async () => {
    const metrics = createMetrics({ prefix: 'app', globalTags: { zone: 'a' } });
    expect(metrics).toBe(noopMetrics);
    expect(metrics.enabled).toBe(false);
    expect(metrics.prometheus).toBeUndefined();
    expect(metrics.scope('db')).toBe(noopMetrics);
    expect(metrics.counter('a')).toBe(metrics.counter('b', { x: 1 }));
    expect(metrics.gauge('g', 3)).toBeUndefined();
    expect(typeof metrics.gauge('g').set).toBe('function');
    expect(metrics.histogram('h', 3)).toBeUndefined();
    expect(metrics.distribution('d', 3)).toBeUndefined();
    metrics.increment('a');
    metrics.timing('t', 1);
    metrics.unique('u', 'x');
    metrics.set('s').add('x');
    expect(metrics.time('t', () => 7)).toBe(7);
    expect(await metrics.timeAsync('t', async () => 8)).toBe(8);
    expect(metrics.timer('t').time(() => 9)).toBe(9);
    expect(await metrics.timer('t').timeAsync(async () => 10)).toBe(10);
    expect(metrics.timer('t').start()()).toBe(0);
    await expect(metrics.timeAsync('t', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(metrics.stats()).toEqual({ sent: 0, dropped: 0, errors: 0, prometheusSeries: 0, prometheusDropped: 0 });
    await metrics.flush();
    await metrics.close();
    await metrics[Symbol.asyncDispose]();
  });
});

describe('handles (Prometheus only, no socket)', () => {
  function prom(extra: MetricsOptions = {}) {
    return createMetrics({ prometheus: true, clock: new ManualClock(), ...extra });
  }

  it('time(), timeAsync() and start() record the elapsed time of the injected monotonic source, also on failure', async () => {
    let now = 100;
    const metrics = prom({ now: () => now });
    const timer = metrics.timer('op');
    expect(
      timer.time(() => {
        now += 250;
        return 'done';
      }),
    ).toBe('done');
    expect(() =>
      timer.time(() => {
        now += 5;
        throw new Error('sync failure');
      }),
    ).toThrow('sync failure');
    await expect(
      timer.timeAsync(async () => {
        now += 2000;
        await Promise.resolve();
        throw new Error('async failure');
      }),
    ).rejects.toThrow('async failure');
    const stop = timer.start();
    now += 40;
    expect(stop()).toBe(40);
    expect(
      await metrics.timeAsync('op', async () => {
        now += 1;
        return 5;
      }),
    ).toBe(5);
    const text = metrics.prometheus!.render();
    expect(text).toContain('op_seconds_count 5\n');
    expect(text).toContain('op_seconds_sum 2.296\n');
    expect(text).toContain('op_seconds_bucket{le="0.005"} 2\n');
    expect(text).toContain('op_seconds_bucket{le="0.05"} 3\n');
    expect(text).toContain('op_seconds_bucket{le="0.25"} 4\n');
    expect(text).toContain('op_seconds_bucket{le="2.5"} 5\n');
  });

  it('drops values that are not finite numbers instead of recording them', () => {
    const metrics = prom();
    metrics.counter('c').increment(Number.NaN);
    metrics.gauge('g').set(Number.POSITIVE_INFINITY);
    metrics.timing('t', Number.NaN);
    metrics.counter('c').increment(2);
    const text = metrics.prometheus!.render();
    expect(text).toContain('c_total 2\n');
    expect(text).toContain('g 0\n');
    expect(text).toContain('t_seconds_count 0\n');
  });

  it('scopes join prefixes with dots and merge tags, later ones overriding', () => {
    const metrics = prom({ prefix: 'app', globalTags: { zone: 'a', team: 'x' } });
    const db = metrics.scope('db', { pool: 'main', team: 'y' });
    db.scope('.reads.', { replica: 2 }).increment('queries', 3);
    db.gauge('connections', 4, { pool: 'other' });
    const text = metrics.prometheus!.render();
    expect(text).toContain('app_db_reads_queries_total{pool="main",replica="2",team="y",zone="a"} 3\n');
    expect(text).toContain('app_db_connections{pool="other",team="y",zone="a"} 4\n');
  });

  it('rejects a bad handle definition at once but never throws from a one-shot call', () => {
    const metrics = prom();
    expect(() => metrics.counter('')).toThrow(/'counter name' must be a non-empty string/);
    expect(() => metrics.counter('c', { bad: {} as unknown as string })).toThrow(/tags of counter 'c'.bad' must be a string/);
    metrics.counter('shared');
    expect(() => metrics.gauge('shared_total')).toThrow(KaryonError);
    expect(() => metrics.gauge('shared_total')).toThrow(/already a counter/);
    metrics.gauge('shared_total', 1);
    metrics.increment('', 1);
    expect(metrics.stats().prometheusDropped).toBe(2);
  });

  it('caches the handle of an untagged one-shot call, so repeated calls land in one series', () => {
    const metrics = prom();
    for (let i = 0; i < 5; i++) metrics.increment('hits');
    metrics.increment('hits', 2, { a: 'b' });
    metrics.increment('hits', 2, { a: 'b' });
    const text = metrics.prometheus!.render();
    expect(text).toContain('hits_total 5\n');
    expect(text).toContain('hits_total{a="b"} 4\n');
    expect(metrics.stats().prometheusSeries).toBe(2);
  });

  it('a scope close() only flushes; the root stays usable until its own close()', async () => {
    const metrics = prom();
    const child = metrics.scope('child');
    await child.close();
    child.increment('after');
    expect(metrics.prometheus!.render()).toContain('child_after_total 1\n');
    await metrics.close();
    await metrics.close();
  });
});
