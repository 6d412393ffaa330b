import { describe, expect, it } from 'vitest';
import { createMetrics } from 'karyon-ts';
import { StatsdRelay } from '../../src/sidecar/StatsdRelay.js';
import { parseStatsdLine } from '../../src/sidecar/statsdLine.js';
import { ManualClock } from 'karyon-ts/testing';
import { memoryLogger } from '../support/logger.js';

describe('parseStatsdLine', () => {
  it('reads plain, sampled and tagged lines in both tag formats', () => {
    expect(parseStatsdLine('jobs:1|c')).toEqual({ name: 'jobs', type: 'c', value: '1', rate: 1, tags: {}, seriesKey: 'jobs|c|' });
    expect(parseStatsdLine('jobs:3|c|@0.1|#env:prod,canary')).toMatchObject({ rate: 0.1, tags: { env: 'prod', canary: 'true' }, seriesKey: 'jobs|c|#env:prod,canary' });
    expect(parseStatsdLine('lat,route=/a,code=200:12.5|ms')).toMatchObject({ name: 'lat', type: 'ms', value: '12.5', tags: { route: '/a', code: '200' } });
    expect(parseStatsdLine('queue:-2|g')).toMatchObject({ type: 'g', value: '-2' });
    expect(parseStatsdLine('users:alice|s')).toMatchObject({ type: 's', value: 'alice' });
    expect(parseStatsdLine('x:1|d|#a:b|c:container|T1700000000')).toMatchObject({ type: 'd', tags: { a: 'b' } });
  });

  it('says why a line is not a metric', () => {
    expect(parseStatsdLine('_e{5,4}:title|text')).toBe('DogStatsD events and service checks are not relayed');
    expect(parseStatsdLine('_sc|check|0')).toBe('DogStatsD events and service checks are not relayed');
    expect(parseStatsdLine('novalue')).toBe("no ':' after the metric name");
    expect(parseStatsdLine('x:1')).toBe("no '|type' after the value");
    expect(parseStatsdLine('x:1|q')).toBe("unknown metric type 'q'");
    expect(parseStatsdLine('x:abc|c')).toBe("value 'abc' is not a number");
    expect(parseStatsdLine('x:+1|c')).toBe("a '+' value is only meaningful for a gauge");
    expect(parseStatsdLine('x:1|c|@2')).toBe("sample rate '@2' is not in (0, 1]");
    expect(parseStatsdLine('x,bad:1|c')).toBe("Telegraf tag 'bad' is not key=value");
  });
});

describe('StatsdRelay', () => {
  function relayInto() {
    const clock = new ManualClock();
    const metrics = createMetrics({ prometheus: true, globalTags: { app: 'hello', instance: 'i-1', zone: 'z' }, clock });
    const logger = memoryLogger();
    const relay = new StatsdRelay({ metrics, reservedTags: ['app', 'instance', 'zone'], clock, logger });
    return { relay, metrics, logger, clock };
  }

  it('forwards every metric type through the metrics, with the standard tags winning over the application\'s', () => {
    const { relay, metrics } = relayInto();
    relay.receive('jobs:2|c|@0.5\njobs:1|c\nqueue:5|g\nqueue:-2|g\nlatency:12|ms|#route:/a,app:spoofed\nusers:alice|s\nsize:3|h\r\n');
    const text = metrics.prometheus!.render();
    expect(text).toMatch(/^jobs_total\{app="hello",instance="i-1",zone="z"\} 5$/m);
    expect(text).toMatch(/^queue\{app="hello",instance="i-1",zone="z"\} 3$/m);
    expect(text).toMatch(/^latency_seconds_count\{app="hello",instance="i-1",route="\/a",zone="z"\} 1$/m);
    expect(text).toMatch(/^users\{app="hello",instance="i-1",zone="z"\} 1$/m);
    expect(text).toMatch(/^size_count\{[^}]*\} 1$/m);
    expect(relay.stats()).toEqual({ datagrams: 1, relayed: 7, rejected: 0 });
  });

  it('drops what is not a metric, reporting at most one line a minute', () => {
    const { relay, logger, clock } = relayInto();
    relay.receive('broken\n_e{1,1}:a|b');
    relay.receive('x:y|c');
    expect(relay.stats()).toEqual({ datagrams: 2, relayed: 0, rejected: 3 });
    expect(logger.lines).toEqual(["warn statsd relay dropped 'broken': no ':' after the metric name"]);
    clock.advance(60_000);
    relay.receive('again');
    expect(logger.lines[1]).toBe("warn statsd relay dropped 'again': no ':' after the metric name (2 more since the last report)");
  });

  it('listens on UDP and closes idempotently', async () => {
    const { relay } = relayInto();
    const port = await relay.listen(0, '127.0.0.1');
    expect(port).toBeGreaterThan(0);
    await relay.close();
    await relay.close();
  });
});
